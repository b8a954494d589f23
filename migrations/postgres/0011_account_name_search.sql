-- Account search by name (the console, issue 15): a case-insensitive prefix search paged by
-- (lowercased name, id). The "C" collation makes a prefix one contiguous range of the index,
-- so a search reads only the rows it shows, however many accounts exist.
CREATE INDEX accounts_name_search_idx ON accounts ((lower(name) COLLATE "C"), id);
