//! Subscriptions (seed 004): an account's plan from the rate-plan catalogue, its billing
//! frequency and price, its current period, and the state machine its life follows.

use chrono::{DateTime, Duration, Months, Utc};

use crate::text::{self, Lines};
use crate::{AccountId, Collector, Snapshot, ValidationErrors, Version};

named_enum!(
    /// How often a subscription renews.
    Frequency, "frequency" {
        Weekly => "weekly",
        Monthly => "monthly",
        Quarterly => "quarterly",
        Yearly => "yearly",
    }
);

impl Frequency {
    /// The end of a period that starts at `start`.
    pub fn period_end(&self, start: DateTime<Utc>) -> DateTime<Utc> {
        let months = |n| start.checked_add_months(Months::new(n)).unwrap_or(start + Duration::days(30 * i64::from(n)));
        match self {
            Self::Weekly => start + Duration::weeks(1),
            Self::Monthly => months(1),
            Self::Quarterly => months(3),
            Self::Yearly => months(12),
        }
    }

    /// The price of one period, from a plan's monthly price in minor units.
    pub fn price(&self, monthly: i64) -> i64 {
        match self {
            // 12 months over 52 weeks, rounded to the nearest minor unit.
            Self::Weekly => (monthly * 12 + 26) / 52,
            Self::Monthly => monthly,
            Self::Quarterly => monthly * 3,
            Self::Yearly => monthly * 12,
        }
    }
}

named_enum!(
    /// Where a subscription stands (seed 004).
    SubscriptionState, "state" {
        Trial => "trial",
        Provisioned => "provisioned",
        Paid => "paid",
        AwaitingPayment => "awaiting_payment",
        Cancelled => "cancelled",
        Failed => "failed",
        Expired => "expired",
    }
);

impl SubscriptionState {
    /// The states a subscription may be created in.
    pub fn is_initial(&self) -> bool {
        matches!(self, Self::Trial | Self::Provisioned | Self::AwaitingPayment)
    }

    /// Whether the state machine allows `self → next`. Cancelled and expired are final: a
    /// cancelled subscription is never paid again.
    pub fn can_become(&self, next: SubscriptionState) -> bool {
        use SubscriptionState::*;
        *self == next
            || matches!(
                (self, next),
                (Trial, Provisioned | Paid | AwaitingPayment | Cancelled | Expired)
                    | (Provisioned, Paid | AwaitingPayment | Cancelled | Failed)
                    | (AwaitingPayment, Paid | Failed | Cancelled)
                    | (Paid, AwaitingPayment | Cancelled | Expired)
                    | (Failed, AwaitingPayment | Paid | Cancelled)
            )
    }
}

/// A plan of the catalogue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RatePlan {
    pub id: String,
    pub public_name: String,
    /// ISO 4217, upper case.
    pub currency: String,
    /// The price of one month, in minor units (cents).
    pub monthly_price: i64,
}

/// A subscription of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    pub id: crate::SubscriptionId,
    pub account_id: AccountId,
    pub rate_plan: RatePlan,
    pub frequency: Frequency,
    pub state: SubscriptionState,
    /// The price of one period in minor units of `currency`.
    pub price: i64,
    pub currency: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Subscription {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("rate_plan", self.rate_plan.id.clone())
            .with("frequency", self.frequency.as_str())
            .with("state", self.state.as_str())
            .with("price", self.price)
            .with("currency", self.currency.clone())
    }
}

/// Validated subscription fields; `None` keeps (update) or defaults (create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SubscriptionFields {
    pub rate_plan: Option<String>,
    pub frequency: Option<Frequency>,
    pub state: Option<SubscriptionState>,
}

/// Raw subscription input.
#[derive(Debug, Clone, Default)]
pub struct SubscriptionInput {
    pub rate_plan: Option<String>,
    pub frequency: Option<String>,
    pub state: Option<String>,
}

impl SubscriptionInput {
    pub fn validate(self) -> Result<SubscriptionFields, ValidationErrors> {
        let mut errors = Collector::default();
        let rate_plan = errors.take_opt(text::clean_opt(self.rate_plan.as_deref(), "rate_plan", 64, Lines::One));
        let frequency = errors.take_opt(self.frequency.filter(|f| !f.is_empty()).map(|f| Frequency::parse(&f)));
        let state = errors.take_opt(self.state.filter(|s| !s.is_empty()).map(|s| SubscriptionState::parse(&s)));
        errors.finish()?;
        Ok(SubscriptionFields {
            rate_plan: rate_plan.flatten(),
            frequency: frequency.flatten(),
            state: state.flatten(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use SubscriptionState::*;

    #[test]
    fn a_cancelled_or_expired_subscription_never_changes_state_again() {
        for next in SubscriptionState::ALL {
            assert_eq!(Cancelled.can_become(*next), *next == Cancelled);
            assert_eq!(Expired.can_become(*next), *next == Expired);
        }
    }

    #[test]
    fn the_ordinary_life_of_a_subscription_is_allowed() {
        for (from, to) in [
            (Trial, Paid),
            (Paid, AwaitingPayment),
            (AwaitingPayment, Paid),
            (AwaitingPayment, Failed),
            (Failed, Cancelled),
        ] {
            assert!(from.can_become(to), "{from} -> {to}");
        }
        assert!(!Paid.can_become(Trial) && !Failed.can_become(Expired));
    }

    #[test]
    fn prices_and_periods_follow_the_frequency() {
        let start = DateTime::parse_from_rfc3339("2026-01-31T00:00:00Z").unwrap().with_timezone(&Utc);
        assert_eq!(Frequency::Monthly.period_end(start).to_rfc3339(), "2026-02-28T00:00:00+00:00");
        assert_eq!(Frequency::Yearly.price(1900), 22800);
        assert_eq!(Frequency::Weekly.price(1900), 438);
    }

    #[test]
    fn bad_subscription_input_names_each_field() {
        let err = SubscriptionInput {
            rate_plan: Some("p".repeat(65)),
            frequency: Some("daily".into()),
            state: Some("zombie".into()),
        }
        .validate()
        .unwrap_err();
        for field in ["rate_plan", "frequency", "state"] {
            assert!(err.mentions(field), "{field}");
        }
    }
}
