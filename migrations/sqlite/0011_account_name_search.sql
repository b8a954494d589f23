-- Account search by name (the console, issue 15): a case-insensitive prefix search paged by
-- (lowercased name, id). SQLite compares text bytewise, so a prefix is one contiguous range
-- of the index. Its lower() folds ASCII letters only.
CREATE INDEX accounts_name_search_idx ON accounts (lower(name), id);
