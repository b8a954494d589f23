-- Accounts (tenants) and the append-only audit trail.
-- Constraints are named so that the adapter can tell them apart.

CREATE TABLE accounts (
    id                  uuid        PRIMARY KEY,
    name                text        NOT NULL,
    account_type        text        NOT NULL,
    status              text        NOT NULL,
    owner_id            uuid,
    parent_id           uuid        CONSTRAINT accounts_parent_fk REFERENCES accounts (id),
    -- Ancestor ids and the account's own id, '/'-separated, root first. Compared bytewise
    -- ("C" collation) so that a subtree is one index range.
    path                text        COLLATE "C" NOT NULL,
    abuse_contact_email text,
    enforce_twofactor   boolean     NOT NULL DEFAULT false,
    version             bigint      NOT NULL,
    created_at          timestamptz NOT NULL,
    updated_at          timestamptz NOT NULL,
    CONSTRAINT accounts_name_length CHECK (char_length(name) BETWEEN 1 AND 100),
    CONSTRAINT accounts_type_known CHECK (account_type IN ('standard', 'enterprise', 'ad_account', 'business_manager', 'agency')),
    CONSTRAINT accounts_status_known CHECK (status IN ('unverified', 'pending', 'verified', 'suspended')),
    CONSTRAINT accounts_version_positive CHECK (version > 0)
);

CREATE INDEX accounts_parent_idx ON accounts (parent_id, id) WHERE parent_id IS NOT NULL;
CREATE INDEX accounts_path_idx ON accounts (path);

CREATE TABLE audit_events (
    id            uuid        PRIMARY KEY,
    -- No foreign key: events outlive the account they describe.
    account_id    uuid,
    actor_type    text        NOT NULL,
    actor_id      text,
    actor_email   text,
    action        text        NOT NULL,
    outcome       text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    changes       jsonb       NOT NULL,
    request_ip    text,
    user_agent    text,
    request_id    text,
    occurred_at   timestamptz NOT NULL
);

CREATE INDEX audit_events_account_idx ON audit_events (account_id, id);

-- The trail is append-only for every client of the database, not only for accountd.
CREATE FUNCTION audit_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'audit events are append-only';
END;
$$;

CREATE TRIGGER audit_events_append_only
    BEFORE UPDATE OR DELETE ON audit_events
    FOR EACH ROW EXECUTE FUNCTION audit_events_append_only();
