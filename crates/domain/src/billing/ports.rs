//! The ports of the rate-plan catalogue and subscriptions.

use async_trait::async_trait;

use crate::{AccountId, Page, PageRequest, RatePlan, Subscription, SubscriptionId, Version};

/// Reads of the rate-plan catalogue and of subscriptions.
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// The catalogue, in id order.
    async fn list_rate_plans(&self) -> anyhow::Result<Vec<RatePlan>>;

    async fn get_rate_plan(&self, id: &str) -> anyhow::Result<Option<RatePlan>>;

    /// Subscriptions of `account` in id order, paged like accounts.
    async fn list_subscriptions(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Subscription>>;

    async fn get_subscription(&self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>>;
}

/// Subscription writes, available only inside a [`Transaction`](crate::Transaction).
#[async_trait]
pub trait SubscriptionWrites: Send {
    /// Reads a subscription and locks it like [`AccountWrites::find_account`](crate::AccountWrites::find_account).
    async fn find_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>>;

    async fn insert_subscription(&mut self, subscription: &Subscription) -> anyhow::Result<()>;

    /// Overwrites the subscription whose version is `expected`; `Ok(false)` when none matched.
    async fn update_subscription(&mut self, subscription: &Subscription, expected: Version) -> anyhow::Result<bool>;

    async fn delete_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<bool>;
}
