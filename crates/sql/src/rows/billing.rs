//! Rate plans and subscriptions: their rows and conversions.

use accountd_domain::{AccountId, Frequency, RatePlan, Subscription, SubscriptionId, SubscriptionState, Version};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::corrupt;

/// `SELECT` the columns [`RatePlanRow`] reads `FROM rate_plans`; the clauses follow.
pub(crate) const SELECT_RATE_PLANS: &str = "SELECT id, public_name, currency, monthly_price FROM rate_plans ";

/// `SELECT` a subscription joined with its plan, as [`SubscriptionRow`] reads it; the clauses
/// follow.
pub(crate) const SELECT_SUBSCRIPTIONS: &str = "SELECT s.id, s.account_id, s.rate_plan_id, \
    p.public_name AS plan_name, p.currency AS plan_currency, p.monthly_price AS plan_price, s.frequency, s.state, \
    s.price, s.currency, s.current_period_start, s.current_period_end, s.version, s.created_at, s.updated_at \
    FROM subscriptions s JOIN rate_plans p ON p.id = s.rate_plan_id ";

/// A row of `rate_plans`.
#[derive(Debug, sqlx::FromRow)]
pub struct RatePlanRow {
    pub id: String,
    pub public_name: String,
    pub currency: String,
    pub monthly_price: i64,
}

impl From<RatePlanRow> for RatePlan {
    fn from(row: RatePlanRow) -> Self {
        RatePlan { id: row.id, public_name: row.public_name, currency: row.currency, monthly_price: row.monthly_price }
    }
}

/// A row of `subscriptions` joined with its rate plan (`plan_*`).
#[derive(Debug, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub rate_plan_id: String,
    pub plan_name: String,
    pub plan_currency: String,
    pub plan_price: i64,
    pub frequency: String,
    pub state: String,
    pub price: i64,
    pub currency: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = anyhow::Error;

    fn try_from(row: SubscriptionRow) -> anyhow::Result<Self> {
        Ok(Subscription {
            id: SubscriptionId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            rate_plan: RatePlan {
                id: row.rate_plan_id,
                public_name: row.plan_name,
                currency: row.plan_currency,
                monthly_price: row.plan_price,
            },
            frequency: Frequency::parse(&row.frequency).map_err(corrupt("subscription frequency"))?,
            state: SubscriptionState::parse(&row.state).map_err(corrupt("subscription state"))?,
            price: row.price,
            currency: row.currency,
            current_period_start: row.current_period_start,
            current_period_end: row.current_period_end,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
