-- The rate-plan catalogue and subscriptions. The catalogue is a table: operators change
-- plans with SQL; accountd reads them. Prices are in minor units (cents) per month.

CREATE TABLE rate_plans (
    id            text    PRIMARY KEY,
    public_name   text    NOT NULL,
    currency      text    NOT NULL,
    monthly_price bigint  NOT NULL,
    CONSTRAINT rate_plans_currency_iso CHECK (currency ~ '^[A-Z]{3}$'),
    CONSTRAINT rate_plans_price_positive CHECK (monthly_price >= 0)
);

INSERT INTO rate_plans (id, public_name, currency, monthly_price) VALUES
    ('free', 'Free', 'USD', 0),
    ('pro', 'Pro', 'USD', 1900),
    ('business', 'Business', 'USD', 9900),
    ('enterprise', 'Enterprise', 'USD', 49900);

CREATE TABLE subscriptions (
    id                   uuid        PRIMARY KEY,
    account_id           uuid        NOT NULL CONSTRAINT subscriptions_account_fk REFERENCES accounts (id) ON DELETE CASCADE,
    rate_plan_id         text        NOT NULL CONSTRAINT subscriptions_rate_plan_fk REFERENCES rate_plans (id),
    frequency            text        NOT NULL,
    state                text        NOT NULL,
    price                bigint      NOT NULL,
    currency             text        NOT NULL,
    current_period_start timestamptz NOT NULL,
    current_period_end   timestamptz NOT NULL,
    version              bigint      NOT NULL,
    created_at           timestamptz NOT NULL,
    updated_at           timestamptz NOT NULL,
    CONSTRAINT subscriptions_frequency_known CHECK (frequency IN ('weekly', 'monthly', 'quarterly', 'yearly')),
    CONSTRAINT subscriptions_state_known CHECK (state IN ('trial', 'provisioned', 'paid', 'awaiting_payment', 'cancelled', 'failed', 'expired'))
);

CREATE INDEX subscriptions_account_idx ON subscriptions (account_id, id);
