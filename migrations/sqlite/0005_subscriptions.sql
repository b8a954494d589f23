-- The rate-plan catalogue and subscriptions. The catalogue is a table: operators change
-- plans with SQL; accountd reads them. Prices are in minor units (cents) per month.

CREATE TABLE rate_plans (
    id            TEXT PRIMARY KEY NOT NULL,
    public_name   TEXT    NOT NULL,
    currency      TEXT    NOT NULL,
    monthly_price INTEGER  NOT NULL,
    CONSTRAINT rate_plans_currency_iso CHECK (length(currency) = 3 AND currency = upper(currency)),
    CONSTRAINT rate_plans_price_positive CHECK (monthly_price >= 0)
) STRICT;

INSERT INTO rate_plans (id, public_name, currency, monthly_price) VALUES
    ('free', 'Free', 'USD', 0),
    ('pro', 'Pro', 'USD', 1900),
    ('business', 'Business', 'USD', 9900),
    ('enterprise', 'Enterprise', 'USD', 49900);

CREATE TABLE subscriptions (
    id                   BLOB        PRIMARY KEY NOT NULL,
    account_id           BLOB        NOT NULL CONSTRAINT subscriptions_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    rate_plan_id         TEXT        NOT NULL CONSTRAINT subscriptions_rate_plan_fk REFERENCES rate_plans (id),
    frequency            TEXT        NOT NULL,
    state                TEXT        NOT NULL,
    price                INTEGER      NOT NULL,
    currency             TEXT        NOT NULL,
    current_period_start TEXT NOT NULL,
    current_period_end   TEXT NOT NULL,
    version              INTEGER      NOT NULL,
    created_at           TEXT NOT NULL,
    updated_at           TEXT NOT NULL,
    CONSTRAINT subscriptions_frequency_known CHECK (frequency IN ('weekly', 'monthly', 'quarterly', 'yearly')),
    CONSTRAINT subscriptions_state_known CHECK (state IN ('trial', 'provisioned', 'paid', 'awaiting_payment', 'cancelled', 'failed', 'expired'))
) STRICT;

CREATE INDEX subscriptions_account_idx ON subscriptions (account_id, id);
