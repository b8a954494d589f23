-- The business behind an account (seed 004 account profile).
ALTER TABLE accounts ADD COLUMN business_name TEXT;
ALTER TABLE accounts ADD COLUMN business_address TEXT;
ALTER TABLE accounts ADD COLUMN business_email TEXT;
ALTER TABLE accounts ADD COLUMN business_phone TEXT;
ALTER TABLE accounts ADD COLUMN external_metadata TEXT;
