-- The event feed (issue 13): the audit trail is the outbox, and every event gets its place in
-- commit order. SQLite has one writer at a time (every write transaction begins IMMEDIATE,
-- taking the database's write lock), so a sequence number taken under that lock is commit
-- order: each event's seq is one more than the largest stored, computed in its INSERT.
-- xact_id is 0 for every event here (PostgreSQL records its transaction id there), so both
-- stores order the feed by (xact_id, seq).
--
-- Existing events get a seq in the order they happened.
ALTER TABLE audit_events ADD COLUMN xact_id INTEGER NOT NULL DEFAULT 0;
ALTER TABLE audit_events ADD COLUMN seq INTEGER;

-- The trail is append-only; the backfill is the one update it ever gets.
DROP TRIGGER audit_events_no_update;
UPDATE audit_events
SET seq = n.rn
FROM (SELECT id, row_number() OVER (ORDER BY occurred_at, id) AS rn FROM audit_events) AS n
WHERE audit_events.id = n.id;
CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
BEGIN
    SELECT RAISE(ABORT, 'audit events are append-only');
END;

CREATE UNIQUE INDEX audit_events_feed_idx ON audit_events (xact_id, seq);
CREATE INDEX audit_events_feed_account_idx ON audit_events (account_id, xact_id, seq);
-- The next seq is max(seq) + 1: this index makes it one lookup.
CREATE INDEX audit_events_seq_idx ON audit_events (seq);

-- The root permission events:read (following every account's events), given like
-- authz:check in 0010 to every root user holding users:write.
UPDATE users
SET root_permissions = root_permissions || ',events:read',
    version = version + 1,
    updated_at = strftime('%Y-%m-%dT%H:%M:%fZ', 'now')
WHERE (',' || root_permissions || ',') LIKE '%,users:write,%'
  AND (',' || root_permissions || ',') NOT LIKE '%,events:read,%';
