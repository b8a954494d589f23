-- The event feed (issue 13): the audit trail is the outbox, and every event gets its place in
-- commit order. PostgreSQL hands out sequence numbers in one order and commits in another, so
-- a reader following `seq > last_seen` alone would skip an event whose transaction commits
-- late. Each event therefore records the id of the transaction that wrote it (xact_id, from
-- pg_current_xact_id(), as bigint), and the feed returns only events whose transaction id is
-- below the oldest transaction still running (pg_snapshot_xmin of the reading statement's
-- snapshot): every such transaction has ended, so no event can still appear below that line.
-- Events are ordered by (xact_id, seq); seq orders the events of one transaction.
--
-- Existing events (all long committed) get xact_id 0 and a seq in the order they happened,
-- so they come first, as they did.
CREATE SEQUENCE audit_events_seq AS bigint;

ALTER TABLE audit_events ADD COLUMN xact_id bigint, ADD COLUMN seq bigint;

-- The trail is append-only; the backfill is the one update it ever gets.
ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
UPDATE audit_events e
SET xact_id = 0, seq = n.rn
FROM (SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS rn FROM audit_events) n
WHERE e.id = n.id;
ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only;

SELECT setval('audit_events_seq', coalesce((SELECT max(seq) FROM audit_events), 0) + 1, false);

ALTER TABLE audit_events
    ALTER COLUMN xact_id SET DEFAULT (pg_current_xact_id()::text::bigint),
    ALTER COLUMN xact_id SET NOT NULL,
    ALTER COLUMN seq SET DEFAULT nextval('audit_events_seq'),
    ALTER COLUMN seq SET NOT NULL;

ALTER SEQUENCE audit_events_seq OWNED BY audit_events.seq;

CREATE UNIQUE INDEX audit_events_feed_idx ON audit_events (xact_id, seq);
CREATE INDEX audit_events_feed_account_idx ON audit_events (account_id, xact_id, seq);

-- The root permission events:read (following every account's events), given like
-- authz:check in 0010 to every root user holding users:write.
UPDATE users
SET root_permissions = root_permissions || ',events:read',
    version = version + 1,
    updated_at = now()
WHERE (',' || root_permissions || ',') LIKE '%,users:write,%'
  AND (',' || root_permissions || ',') NOT LIKE '%,events:read,%';
