-- What idempotent creations remember: the first request's fingerprint and the resource it made.
CREATE TABLE idempotency_keys (
    scope         text        NOT NULL,
    key           text        NOT NULL,
    fingerprint   text        NOT NULL,
    resource_type text        NOT NULL,
    resource_id   text        NOT NULL,
    created_at    timestamptz NOT NULL,
    CONSTRAINT idempotency_keys_pk PRIMARY KEY (scope, key)
);

-- Expired keys are purged by age.
CREATE INDEX idempotency_keys_created_idx ON idempotency_keys (created_at);
