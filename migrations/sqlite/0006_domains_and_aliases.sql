-- Managed mail domains, the email aliases accounts own on them, and the failure count of
-- mailbox authentication (seeds 000 and 001).

CREATE TABLE domains (
    id         BLOB PRIMARY KEY NOT NULL,
    -- A lower-case FQDN without a trailing dot.
    name       TEXT        NOT NULL,
    status     TEXT        NOT NULL,
    version    INTEGER     NOT NULL,
    created_at TEXT NOT NULL,
    updated_at TEXT NOT NULL,
    CONSTRAINT domains_status_known CHECK (status IN ('pending', 'active', 'disabled')),
    CONSTRAINT domains_name_lower CHECK (name = lower(name))
) STRICT;

CREATE UNIQUE INDEX domains_name_key ON domains (name);

CREATE TABLE aliases (
    id                  BLOB PRIMARY KEY NOT NULL,
    -- Deleting an account deletes its aliases and their credentials with it.
    account_id          BLOB        NOT NULL CONSTRAINT aliases_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    user_id             BLOB        CONSTRAINT aliases_user_fk REFERENCES users (id),
    -- No cascade: a domain cannot be deleted while aliases use it.
    domain_id           BLOB        NOT NULL CONSTRAINT aliases_domain_fk REFERENCES domains (id),
    local_part          TEXT        NOT NULL,
    display_name        TEXT,
    status              TEXT        NOT NULL,
    is_primary          INTEGER     NOT NULL,
    is_default          INTEGER     NOT NULL,
    -- argon2id PHC string; NULL while the alias has no mailbox password.
    password_hash       TEXT,
    password_changed_at TEXT,
    version             INTEGER     NOT NULL,
    created_at          TEXT NOT NULL,
    updated_at          TEXT NOT NULL,
    CONSTRAINT aliases_status_known CHECK (status IN ('active', 'disabled')),
    CONSTRAINT aliases_local_part_lower CHECK (local_part = lower(local_part)),
    CONSTRAINT aliases_password_consistent CHECK ((password_hash IS NULL) = (password_changed_at IS NULL))
) STRICT;

-- The address is unique across the service whatever its case: both parts are stored
-- lower-case, and this index makes two concurrent creations of one address conflict.
CREATE UNIQUE INDEX aliases_address_key ON aliases (domain_id, local_part);
CREATE UNIQUE INDEX aliases_primary_key ON aliases (account_id) WHERE is_primary = 1;
CREATE UNIQUE INDEX aliases_default_key ON aliases (account_id, user_id) WHERE is_default = 1;
CREATE INDEX aliases_account_idx ON aliases (account_id, id);
CREATE INDEX aliases_domain_idx ON aliases (domain_id, id);
CREATE INDEX aliases_user_idx ON aliases (user_id, id);

CREATE TABLE mailbox_auth_failures (
    -- The normalized address tried, known or not, so unknown addresses are throttled alike.
    address         TEXT PRIMARY KEY NOT NULL,
    failures        INTEGER NOT NULL,
    last_failure_at TEXT NOT NULL
) STRICT;
