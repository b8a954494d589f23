-- Accounts (tenants) and the append-only audit trail.
-- Ids are 16-byte UUID blobs and timestamps RFC 3339 text, as sqlx encodes them.

CREATE TABLE accounts (
    id                  BLOB    PRIMARY KEY NOT NULL,
    name                TEXT    NOT NULL,
    account_type        TEXT    NOT NULL,
    status              TEXT    NOT NULL,
    owner_id            BLOB,
    parent_id           BLOB    CONSTRAINT accounts_parent_fk REFERENCES accounts (id),
    -- Ancestor ids and the account's own id, '/'-separated, root first; BINARY collation
    -- compares bytewise, so a subtree is one index range.
    path                TEXT    NOT NULL,
    abuse_contact_email TEXT,
    enforce_twofactor   INTEGER NOT NULL DEFAULT 0,
    version             INTEGER NOT NULL,
    created_at          TEXT    NOT NULL,
    updated_at          TEXT    NOT NULL,
    CONSTRAINT accounts_name_length CHECK (length(name) BETWEEN 1 AND 100),
    CONSTRAINT accounts_type_known CHECK (account_type IN ('standard', 'enterprise', 'ad_account', 'business_manager', 'agency')),
    CONSTRAINT accounts_status_known CHECK (status IN ('unverified', 'pending', 'verified', 'suspended')),
    CONSTRAINT accounts_version_positive CHECK (version > 0)
) STRICT;

CREATE INDEX accounts_parent_idx ON accounts (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_path_idx ON accounts (path);

CREATE TABLE audit_events (
    id            BLOB PRIMARY KEY NOT NULL,
    -- No foreign key: events outlive the account they describe.
    account_id    BLOB,
    actor_type    TEXT NOT NULL,
    actor_id      TEXT,
    actor_email   TEXT,
    action        TEXT NOT NULL,
    outcome       TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    changes       TEXT NOT NULL,
    request_ip    TEXT,
    user_agent    TEXT,
    request_id    TEXT,
    occurred_at   TEXT NOT NULL
) STRICT;

CREATE INDEX audit_events_account_idx ON audit_events (account_id, id);

-- The trail is append-only for every client of the database, not only for accountd.
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;
