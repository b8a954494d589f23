-- What idempotent creations remember: the first request's fingerprint and the resource it made.
CREATE TABLE idempotency_keys (
    scope         TEXT NOT NULL,
    key           TEXT NOT NULL,
    fingerprint   TEXT NOT NULL,
    resource_type TEXT NOT NULL,
    resource_id   TEXT NOT NULL,
    created_at    TEXT NOT NULL,
    CONSTRAINT idempotency_keys_pk PRIMARY KEY (scope, key)
) STRICT;

-- Expired keys are purged by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
