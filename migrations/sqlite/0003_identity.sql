-- Users, memberships and API tokens.

CREATE TABLE users (
    id               BLOB    PRIMARY KEY NOT NULL,
    email            TEXT    NOT NULL,
    first_name       TEXT,
    last_name        TEXT,
    status           TEXT    NOT NULL,
    -- Platform-wide permission names, comma-separated; empty for ordinary users.
    root_permissions TEXT    NOT NULL DEFAULT '',
    version          INTEGER NOT NULL,
    created_at       TEXT    NOT NULL,
    updated_at       TEXT    NOT NULL,
    CONSTRAINT users_status_known CHECK (status IN ('active', 'disabled'))
) STRICT;

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_root_idx ON users (id) WHERE root_permissions <> '';

CREATE TABLE members (
    account_id BLOB NOT NULL CONSTRAINT members_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    BLOB NOT NULL CONSTRAINT members_user_fk REFERENCES users (id),
    -- Role ids, comma-separated, never empty.
    roles      TEXT NOT NULL,
    status     TEXT NOT NULL,
    invited_by BLOB,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT members_pk PRIMARY KEY (account_id, user_id),
    CONSTRAINT members_status_known CHECK (status IN ('member', 'invited')),
    CONSTRAINT members_roles_present CHECK (roles <> '')
) STRICT;

CREATE INDEX members_user_idx ON members (user_id, account_id);

CREATE TABLE tokens (
    id           BLOB PRIMARY KEY NOT NULL,
    -- NULL for a platform token.
    account_id   BLOB CONSTRAINT tokens_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      BLOB NOT NULL CONSTRAINT tokens_user_fk REFERENCES users (id),
    name         TEXT NOT NULL,
    policies     TEXT NOT NULL,
    ip_in        TEXT NOT NULL DEFAULT '',
    ip_not_in    TEXT NOT NULL DEFAULT '',
    not_before   TEXT,
    expires_on   TEXT,
    status       TEXT NOT NULL,
    hint         TEXT NOT NULL,
    -- SHA-256 of the secret; the secret itself is never stored.
    digest       BLOB NOT NULL,
    last_used_on TEXT,
    created_at   TEXT NOT NULL,
    updated_at   TEXT NOT NULL,
    CONSTRAINT tokens_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT tokens_digest_length CHECK (length(digest) = 32)
) STRICT;

CREATE UNIQUE INDEX tokens_digest_key ON tokens (digest);
CREATE INDEX tokens_account_idx ON tokens (account_id, id);
