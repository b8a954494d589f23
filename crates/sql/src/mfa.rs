//! The SQL of MFA factors and of the account-users view (seed 002), shared by both stores
//! through [`impl_mfa_store!`](crate::impl_mfa_store).

use accountd_domain::AccountUser;
use accountd_domain::Member;
use accountd_domain::{Factor, FactorStatus, SealedSecret};
use accountd_domain::{FactorId, UserId};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::rows::{JoinedUserRow, MemberRow, corrupt};

/// A row of `mfa_factors`.
#[derive(Debug, sqlx::FromRow)]
pub struct FactorRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub secret: Vec<u8>,
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl TryFrom<FactorRow> for Factor {
    type Error = anyhow::Error;

    fn try_from(row: FactorRow) -> anyhow::Result<Self> {
        Ok(Factor {
            id: FactorId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            status: FactorStatus::parse(&row.status).map_err(corrupt("factor status"))?,
            secret: SealedSecret(row.secret),
            last_used_step: row.last_used_step,
            created_at: row.created_at,
            activated_at: row.activated_at,
        })
    }
}

/// A membership joined with its user (`u_*`) and whether the user has an active factor.
#[derive(Debug, sqlx::FromRow)]
pub struct AccountUserRow {
    #[sqlx(flatten)]
    pub member: MemberRow,
    #[sqlx(flatten)]
    pub user: JoinedUserRow,
    pub mfa_enabled: bool,
}

impl TryFrom<AccountUserRow> for AccountUser {
    type Error = anyhow::Error;

    fn try_from(row: AccountUserRow) -> anyhow::Result<Self> {
        let user = row.user.into_user(row.member.user_id)?;
        Ok(AccountUser { member: Member::try_from(row.member)?, user, mfa_enabled: row.mfa_enabled })
    }
}

/// `SELECT` the columns [`FactorRow`] reads `FROM mfa_factors`, then the given clauses.
#[macro_export]
#[doc(hidden)]
macro_rules! select_factors {
    ($($tail:literal)*) => {
        concat!(
            "SELECT id, user_id, status, secret, last_used_step, created_at, activated_at FROM mfa_factors "
            $(, $tail)*
        )
    };
}

/// `SELECT` memberships joined with their users as [`AccountUserRow`] reads them, then the
/// given clauses (`m` is the membership, `u` the user).
#[macro_export]
#[doc(hidden)]
macro_rules! select_account_users {
    ($($tail:literal)*) => {
        concat!(
            "SELECT m.account_id, m.user_id, m.roles, m.status, m.invited_by, m.created_at, m.updated_at, ",
            $crate::joined_user_columns!(), ", EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id ",
            "AND f.status = 'active') AS mfa_enabled FROM members m JOIN users u ON u.id = m.user_id "
            $(, $tail)*
        )
    };
}

/// Implements [`MfaRepository`](accountd_domain::MfaRepository) for `$store` and
/// [`MfaWrites`](accountd_domain::MfaWrites) for `$tx`, the types
/// [`impl_store!`](crate::impl_store) defined with the same `lock` clause. Invoked next to
/// `impl_store!`, in the same module, so it reaches their pool and transaction.
#[macro_export]
macro_rules! impl_mfa_store {
    (store: $store:ident, transaction: $tx:ident, lock: $lock:literal $(,)?) => {
        const _: () = {
            use $crate::__private::anyhow;
            use $crate::__private::async_trait;
            use $crate::__private::chrono::{DateTime, Utc};
            use $crate::__private::domain::Factor;
            use $crate::__private::domain::{AccountId, FactorId, Page, PageRequest, UserId};
            use $crate::__private::domain::{AccountUser, MfaRepository, MfaWrites};
            use $crate::__private::sqlx;
            use $crate::__private::uuid;
            use $crate::Context as _;
            use $crate::{AccountUserRow, FactorRow};

            #[async_trait]
            impl MfaRepository for $store {
                async fn list_factors(&self, user: UserId) -> anyhow::Result<Vec<Factor>> {
                    let rows: Vec<FactorRow> =
                        sqlx::query_as($crate::select_factors!("WHERE user_id = $1 ORDER BY id"))
                            .bind(user.as_uuid())
                            .fetch_all(&self.pool)
                            .await
                            .context("listing MFA factors")?;
                    rows.into_iter().map(Factor::try_from).collect()
                }

                async fn has_active_factor(&self, user: UserId) -> anyhow::Result<bool> {
                    let row: Option<(uuid::Uuid,)> =
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
                    let rows: Vec<(uuid::Uuid,)> = sqlx::query_as(concat!(
                        "SELECT DISTINCT a.id FROM members m JOIN accounts ma ON ma.id = m.account_id ",
                        "JOIN accounts a ON a.enforce_twofactor AND ((a.path >= ma.path AND a.path < ma.path || '0') ",
                        "OR (ma.path >= a.path AND ma.path < a.path || '0')) ",
                        "WHERE m.user_id = $1 AND m.status = 'member'"
                    ))
                    .bind(user.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .context("finding accounts that enforce two-factor authentication")?;
                    Ok(rows.into_iter().map(|(id,)| AccountId::from_uuid(id)).collect())
                }

                async fn get_account_user(
                    &self,
                    account: AccountId,
                    user: UserId,
                ) -> anyhow::Result<Option<AccountUser>> {
                    let row: Option<AccountUserRow> =
                        sqlx::query_as($crate::select_account_users!("WHERE m.account_id = $1 AND m.user_id = $2"))
                            .bind(account.as_uuid())
                            .bind(user.as_uuid())
                            .fetch_optional(&self.pool)
                            .await
                            .context("reading an account user")?;
                    row.map(AccountUser::try_from).transpose()
                }

                async fn list_account_users(
                    &self,
                    account: AccountId,
                    page: PageRequest,
                ) -> anyhow::Result<Page<AccountUser>> {
                    let rows: Vec<AccountUserRow> = sqlx::query_as($crate::select_account_users!(
                        "WHERE m.account_id = $1 AND m.user_id > $2 ORDER BY m.user_id LIMIT $3"
                    ))
                    .bind(account.as_uuid())
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(i64::from(page.size.get()) + 1)
                    .fetch_all(&self.pool)
                    .await
                    .context("listing account users")?;
                    let users = rows.into_iter().map(AccountUser::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(users, page.size, |u| u.user.id.as_uuid()))
                }
            }

            #[async_trait]
            impl MfaWrites for $tx {
                async fn find_factor(&mut self, id: FactorId) -> anyhow::Result<Option<Factor>> {
                    let row: Option<FactorRow> = sqlx::query_as($crate::select_factors!("WHERE id = $1" $lock))
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .context("reading an MFA factor")?;
                    row.map(Factor::try_from).transpose()
                }

                async fn factors_of(&mut self, user: UserId) -> anyhow::Result<Vec<Factor>> {
                    let rows: Vec<FactorRow> =
                        sqlx::query_as($crate::select_factors!("WHERE user_id = $1 ORDER BY id" $lock))
                            .bind(user.as_uuid())
                            .fetch_all(&mut *self.tx)
                            .await
                            .context("reading a user's MFA factors")?;
                    rows.into_iter().map(Factor::try_from).collect()
                }

                async fn insert_factor(&mut self, factor: &Factor) -> anyhow::Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO mfa_factors (id, user_id, kind, status, secret, last_used_step, created_at, ",
                        "activated_at) VALUES ($1, $2, 'totp', $3, $4, $5, $6, $7)"
                    ))
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
                    Ok(())
                }

                async fn record_factor_use(
                    &mut self,
                    id: FactorId,
                    step: i64,
                    at: DateTime<Utc>,
                ) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "UPDATE mfa_factors SET last_used_step = $2, status = 'active', ",
                        "activated_at = COALESCE(activated_at, $3) ",
                        "WHERE id = $1 AND (last_used_step IS NULL OR last_used_step < $2)"
                    ))
                    .bind(id.as_uuid())
                    .bind(step)
                    .bind(at)
                    .execute(&mut *self.tx)
                    .await
                    .context("recording an MFA code")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_factor(&mut self, id: FactorId) -> anyhow::Result<bool> {
                    let done = sqlx::query("DELETE FROM mfa_factors WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await
                        .context("deleting an MFA factor")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_factors_of(&mut self, user: UserId) -> anyhow::Result<u64> {
                    let done = sqlx::query("DELETE FROM mfa_factors WHERE user_id = $1")
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await
                        .context("deleting a user's MFA factors")?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
