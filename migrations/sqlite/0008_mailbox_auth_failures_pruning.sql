-- Mailbox authentication failures older than a streak's life are pruned as new ones are
-- counted (they would start over anyway); this index keeps that a range delete.

CREATE INDEX mailbox_auth_failures_last_idx ON mailbox_auth_failures (last_failure_at);
