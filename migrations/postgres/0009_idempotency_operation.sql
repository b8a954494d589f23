-- Idempotency keys guard every POST create, not only account creation: the record names
-- the operation it guarded, so a key reused for another operation is refused. Records
-- written before this migration were all account creations.
ALTER TABLE idempotency_keys ADD COLUMN operation text NOT NULL DEFAULT 'account.create';
