//! MFA factors and the account-users view: the [`MfaRepository`] reads and the
//! [`MfaWrites`] of a transaction.

use accountd_domain::UserId;
use accountd_domain::{AccountId, AccountUser, Fact, Factor, FactorId, MfaRepository, MfaWrites, Page, PageRequest};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::dialect::ROW_LOCK;
use super::{SqlStore, SqlTransaction};
use crate::Context as _;
use crate::rows::{AccountUserRow, FactorRow, SELECT_ACCOUNT_USERS, SELECT_FACTORS};

#[async_trait]
impl MfaRepository for SqlStore {
    async fn list_factors(&self, user: UserId) -> anyhow::Result<Vec<Factor>> {
        let rows: Vec<FactorRow> = sqlx::query_as(concatcp!(SELECT_FACTORS, "WHERE user_id = $1 ORDER BY id"))
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await
            .context("listing MFA factors")?;
        rows.into_iter().map(Factor::try_from).collect()
    }

    async fn has_active_factor(&self, user: UserId) -> anyhow::Result<bool> {
        let row: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM mfa_factors WHERE user_id = $1 AND status = 'active' LIMIT 1")
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .context("looking for an active MFA factor")?;
        Ok(row.is_some())
    }

    async fn twofactor_enforced_near(&self, user: UserId) -> anyhow::Result<Vec<AccountId>> {
        // An enforcing account in the subtree of a membership (itself included),
        // or above it: both are path ranges, as in list_accounts_of_member.
        let rows: Vec<(Uuid,)> = sqlx::query_as(
            "SELECT DISTINCT a.id FROM members m JOIN accounts ma ON ma.id = m.account_id \
             JOIN accounts a ON a.enforce_twofactor AND ((a.path >= ma.path AND a.path < ma.path || '0') \
             OR (ma.path >= a.path AND ma.path < a.path || '0')) \
             WHERE m.user_id = $1 AND m.status = 'member'",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .context("finding accounts that enforce two-factor authentication")?;
        Ok(rows.into_iter().map(|(id,)| AccountId::from_uuid(id)).collect())
    }

    async fn get_account_user(&self, account: AccountId, user: UserId) -> anyhow::Result<Option<AccountUser>> {
        let row: Option<AccountUserRow> =
            sqlx::query_as(concatcp!(SELECT_ACCOUNT_USERS, "WHERE m.account_id = $1 AND m.user_id = $2"))
                .bind(account.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .context("reading an account user")?;
        row.map(AccountUser::try_from).transpose()
    }

    async fn list_account_users(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<AccountUser>> {
        self.page_under::<AccountUserRow, _>(
            concatcp!(SELECT_ACCOUNT_USERS, "WHERE m.account_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"),
            account.as_uuid(),
            page,
            "listing account users",
            |u: &AccountUser| u.user.id.as_uuid(),
        )
        .await
    }
}

#[async_trait]
impl MfaWrites for SqlTransaction {
    async fn find_factor(&mut self, id: FactorId) -> anyhow::Result<Option<Factor>> {
        let row: Option<FactorRow> = sqlx::query_as(concatcp!(SELECT_FACTORS, "WHERE id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading an MFA factor")?;
        row.map(Factor::try_from).transpose()
    }

    async fn factors_of(&mut self, user: UserId) -> anyhow::Result<Vec<Factor>> {
        let rows: Vec<FactorRow> =
            sqlx::query_as(concatcp!(SELECT_FACTORS, "WHERE user_id = $1 ORDER BY id", ROW_LOCK))
                .bind(user.as_uuid())
                .fetch_all(&mut *self.tx)
                .await
                .context("reading a user's MFA factors")?;
        rows.into_iter().map(Factor::try_from).collect()
    }

    async fn insert_factor(&mut self, factor: &Factor) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO mfa_factors (id, user_id, kind, status, secret, last_used_step, created_at, activated_at) \
             VALUES ($1, $2, 'totp', $3, $4, $5, $6, $7)",
        )
        .bind(factor.id.as_uuid())
        .bind(factor.user_id.as_uuid())
        .bind(factor.status.as_str())
        .bind(&factor.secret.0[..])
        .bind(factor.last_used_step)
        .bind(factor.created_at)
        .bind(factor.activated_at)
        .execute(&mut *self.tx)
        .await
        .context("inserting an MFA factor")?;
        // An active one (a store may be handed one) changes the user's factor state.
        self.alters(Fact::User(factor.user_id));
        Ok(())
    }

    async fn record_factor_use(&mut self, id: FactorId, step: i64, at: DateTime<Utc>) -> anyhow::Result<bool> {
        // Only a later step than the last one used counts: a code is good once.
        let done: Option<(Uuid,)> = sqlx::query_as(
            "UPDATE mfa_factors SET last_used_step = $1, status = 'active', \
             activated_at = COALESCE(activated_at, $2) \
             WHERE id = $3 AND (last_used_step IS NULL OR last_used_step < $1) RETURNING user_id",
        )
        .bind(step)
        .bind(at)
        .bind(id.as_uuid())
        .fetch_optional(&mut *self.tx)
        .await
        .context("recording an MFA code")?;
        // The first accepted code activates the factor.
        if let Some((user,)) = done {
            self.alters(Fact::User(UserId::from_uuid(user)));
        }
        Ok(done.is_some())
    }

    async fn delete_factor(&mut self, id: FactorId) -> anyhow::Result<bool> {
        let done: Option<(Uuid,)> = sqlx::query_as("DELETE FROM mfa_factors WHERE id = $1 RETURNING user_id")
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("deleting an MFA factor")?;
        if let Some((user,)) = done {
            self.alters(Fact::User(UserId::from_uuid(user)));
        }
        Ok(done.is_some())
    }

    async fn delete_factors_of(&mut self, user: UserId) -> anyhow::Result<u64> {
        let done = sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1")
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await
            .context("deleting a user's MFA factors")?;
        self.alters(Fact::User(user));
        Ok(done.rows_affected())
    }
}
