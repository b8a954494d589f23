-- MFA factors (TOTP, RFC 6238). The secret is sealed by the service (XChaCha20-Poly1305
-- with the configured key) before it reaches this table; it is never stored in the clear.

CREATE TABLE mfa_factors (
    id             uuid        PRIMARY KEY,
    user_id        uuid        NOT NULL CONSTRAINT mfa_factors_user_fk REFERENCES users (id) ON DELETE CASCADE,
    kind           text        NOT NULL DEFAULT 'totp',
    status         text        NOT NULL,
    secret         bytea       NOT NULL,
    -- The last time step whose code was accepted: no code of it or an earlier step again.
    last_used_step bigint,
    created_at     timestamptz NOT NULL,
    activated_at   timestamptz,
    CONSTRAINT mfa_factors_kind_known CHECK (kind IN ('totp')),
    CONSTRAINT mfa_factors_status_known CHECK (status IN ('pending', 'active'))
);

CREATE INDEX mfa_factors_user_idx ON mfa_factors (user_id, id);

-- The few accounts that enforce two-factor authentication, found on every authorization.
CREATE INDEX accounts_enforce_twofactor_idx ON accounts (path) WHERE enforce_twofactor;
