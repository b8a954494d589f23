-- MFA factors (TOTP, RFC 6238). The secret is sealed by the service (XChaCha20-Poly1305
-- with the configured key) before it reaches this table; it is never stored in the clear.

CREATE TABLE mfa_factors (
    id             BLOB    PRIMARY KEY NOT NULL,
    user_id        BLOB    NOT NULL CONSTRAINT mfa_factors_user_fk REFERENCES users (id) ON DELETE CASCADE,
    kind           TEXT    NOT NULL DEFAULT 'totp',
    status         TEXT    NOT NULL,
    secret         BLOB    NOT NULL,
    -- The last time step whose code was accepted: no code of it or an earlier step again.
    last_used_step INTEGER,
    created_at     TEXT    NOT NULL,
    activated_at   TEXT,
    CONSTRAINT mfa_factors_kind_known CHECK (kind IN ('totp')),
    CONSTRAINT mfa_factors_status_known CHECK (status IN ('pending', 'active'))
) STRICT;

CREATE INDEX mfa_factors_user_idx ON mfa_factors (user_id, id);

-- The few accounts that enforce two-factor authentication, found on every authorization.
CREATE INDEX accounts_enforce_twofactor_idx ON accounts (path) WHERE enforce_twofactor <> 0;
