//! Rate plans and subscriptions: the [`SubscriptionRepository`] reads and the
//! [`SubscriptionWrites`] of a transaction.

use accountd_domain::{AccountId, Page, PageRequest, RatePlan, Subscription, SubscriptionId, Version};
use accountd_domain::{SubscriptionRepository, SubscriptionWrites};
use async_trait::async_trait;
use const_format::concatcp;

use super::dialect::ROW_LOCK;
use super::{SqlStore, SqlTransaction};
use crate::Context as _;
use crate::rows::{RatePlanRow, SELECT_RATE_PLANS, SELECT_SUBSCRIPTIONS, SubscriptionRow};

#[async_trait]
impl SubscriptionRepository for SqlStore {
    async fn list_rate_plans(&self) -> anyhow::Result<Vec<RatePlan>> {
        let rows: Vec<RatePlanRow> = sqlx::query_as(concatcp!(SELECT_RATE_PLANS, "ORDER BY id"))
            .fetch_all(&self.pool)
            .await
            .context("listing rate plans")?;
        Ok(rows.into_iter().map(RatePlan::from).collect())
    }

    async fn get_rate_plan(&self, id: &str) -> anyhow::Result<Option<RatePlan>> {
        let row: Option<RatePlanRow> = sqlx::query_as(concatcp!(SELECT_RATE_PLANS, "WHERE id = $1"))
            .bind(id)
            .fetch_optional(&self.pool)
            .await
            .context("reading a rate plan")?;
        Ok(row.map(RatePlan::from))
    }

    async fn list_subscriptions(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Subscription>> {
        self.page_under::<SubscriptionRow, _>(
            concatcp!(SELECT_SUBSCRIPTIONS, "WHERE s.account_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3"),
            account.as_uuid(),
            page,
            "listing subscriptions",
            |s: &Subscription| s.id.as_uuid(),
        )
        .await
    }

    async fn get_subscription(&self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(concatcp!(SELECT_SUBSCRIPTIONS, "WHERE s.id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .context("reading a subscription")?;
        row.map(Subscription::try_from).transpose()
    }
}

#[async_trait]
impl SubscriptionWrites for SqlTransaction {
    async fn find_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>> {
        let row: Option<SubscriptionRow> = sqlx::query_as(concatcp!(SELECT_SUBSCRIPTIONS, "WHERE s.id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading a subscription")?;
        row.map(Subscription::try_from).transpose()
    }

    async fn insert_subscription(&mut self, s: &Subscription) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO subscriptions (id, account_id, rate_plan_id, frequency, state, price, currency, \
             current_period_start, current_period_end, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
        )
        .bind(s.id.as_uuid())
        .bind(s.account_id.as_uuid())
        .bind(&s.rate_plan.id)
        .bind(s.frequency.as_str())
        .bind(s.state.as_str())
        .bind(s.price)
        .bind(&s.currency)
        .bind(s.current_period_start)
        .bind(s.current_period_end)
        .bind(s.version.get())
        .bind(s.created_at)
        .bind(s.updated_at)
        .execute(&mut *self.tx)
        .await
        .context("inserting a subscription")?;
        Ok(())
    }

    async fn update_subscription(&mut self, s: &Subscription, expected: Version) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE subscriptions SET rate_plan_id = $1, frequency = $2, state = $3, price = $4, currency = $5, \
             current_period_start = $6, current_period_end = $7, version = $8, updated_at = $9 \
             WHERE id = $10 AND version = $11",
        )
        .bind(&s.rate_plan.id)
        .bind(s.frequency.as_str())
        .bind(s.state.as_str())
        .bind(s.price)
        .bind(&s.currency)
        .bind(s.current_period_start)
        .bind(s.current_period_end)
        .bind(s.version.get())
        .bind(s.updated_at)
        .bind(s.id.as_uuid())
        .bind(expected.get())
        .execute(&mut *self.tx)
        .await
        .context("updating a subscription")?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .context("deleting a subscription")?;
        Ok(done.rows_affected() == 1)
    }
}
