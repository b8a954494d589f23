-- Users, memberships and API tokens.

CREATE TABLE users (
    id               uuid        PRIMARY KEY,
    email            text        NOT NULL,
    first_name       text,
    last_name        text,
    status           text        NOT NULL,
    -- Platform-wide permission names, comma-separated; empty for ordinary users.
    root_permissions text        NOT NULL DEFAULT '',
    version          bigint      NOT NULL,
    created_at       timestamptz NOT NULL,
    updated_at       timestamptz NOT NULL,
    CONSTRAINT users_status_known CHECK (status IN ('active', 'disabled'))
);

CREATE UNIQUE INDEX users_email_key ON users (lower(email));
CREATE INDEX users_root_idx ON users (id) WHERE root_permissions <> '';

CREATE TABLE members (
    account_id uuid        NOT NULL CONSTRAINT members_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    user_id    uuid        NOT NULL CONSTRAINT members_user_fk REFERENCES users (id),
    -- Role ids, comma-separated, never empty.
    roles      text        NOT NULL,
    status     text        NOT NULL,
    invited_by uuid,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL,
    CONSTRAINT members_pk PRIMARY KEY (account_id, user_id),
    CONSTRAINT members_status_known CHECK (status IN ('member', 'invited')),
    CONSTRAINT members_roles_present CHECK (roles <> '')
);

CREATE INDEX members_user_idx ON members (user_id, account_id);

CREATE TABLE tokens (
    id           uuid        PRIMARY KEY,
    -- NULL for a platform token.
    account_id   uuid        CONSTRAINT tokens_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    user_id      uuid        NOT NULL CONSTRAINT tokens_user_fk REFERENCES users (id),
    name         text        NOT NULL,
    policies     jsonb       NOT NULL,
    ip_in        text        NOT NULL DEFAULT '',
    ip_not_in    text        NOT NULL DEFAULT '',
    not_before   timestamptz,
    expires_on   timestamptz,
    status       text        NOT NULL,
    hint         text        NOT NULL,
    -- SHA-256 of the secret; the secret itself is never stored.
    digest       bytea       NOT NULL,
    last_used_on timestamptz,
    created_at   timestamptz NOT NULL,
    updated_at   timestamptz NOT NULL,
    CONSTRAINT tokens_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT tokens_digest_length CHECK (octet_length(digest) = 32)
);

CREATE UNIQUE INDEX tokens_digest_key ON tokens (digest);
CREATE INDEX tokens_account_idx ON tokens (account_id, id);
