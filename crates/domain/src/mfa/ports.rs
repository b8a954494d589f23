//! The ports of MFA and of the account-users view (seed 002): TOTP factors, the users of an
//! account with their MFA state, and the accounts that enforce two-factor authentication.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{AccountId, Factor, FactorId, Member, Page, PageRequest, User, UserId};

/// A member of an account with its user and whether the user has an active factor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUser {
    pub member: Member,
    pub user: User,
    pub mfa_enabled: bool,
}

/// Reads of factors and of the account-users view, outside a transaction.
#[async_trait]
pub trait MfaRepository: Send + Sync {
    /// The factors of `user`, pending ones included, in id (enrolment) order.
    async fn list_factors(&self, user: UserId) -> anyhow::Result<Vec<Factor>>;

    /// Whether `user` has at least one active factor.
    async fn has_active_factor(&self, user: UserId) -> anyhow::Result<bool>;

    /// The accounts with `settings.enforce_twofactor` set that are an account where `user`
    /// is an accepted member, or an ancestor or a descendant of one. One query.
    async fn twofactor_enforced_near(&self, user: UserId) -> anyhow::Result<Vec<AccountId>>;

    /// The member `user` of `account` with its user; `Ok(None)` when it is no member.
    async fn get_account_user(&self, account: AccountId, user: UserId) -> anyhow::Result<Option<AccountUser>>;

    /// Members of `account` with their users, in user-id order, paged like
    /// [`crate::IdentityRepository::list_members`].
    async fn list_account_users(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<AccountUser>>;
}

/// Factor writes, available only inside a [`crate::Transaction`].
#[async_trait]
pub trait MfaWrites: Send {
    /// Reads a factor and locks it like [`crate::AccountWrites::find_account`].
    async fn find_factor(&mut self, id: FactorId) -> anyhow::Result<Option<Factor>>;

    /// The factors of `user` in id order, read inside the transaction.
    async fn factors_of(&mut self, user: UserId) -> anyhow::Result<Vec<Factor>>;

    async fn insert_factor(&mut self, factor: &Factor) -> anyhow::Result<()>;

    /// Records that the code of time step `step` was accepted for factor `id`, and makes the
    /// factor active (its `activated_at` set to `at` when it was pending). MUST change
    /// nothing and return `Ok(false)` when the factor is gone or its `last_used_step` is
    /// `step` or later — including when a concurrent transaction recorded it first — so a
    /// code is accepted at most once.
    async fn record_factor_use(&mut self, id: FactorId, step: i64, at: DateTime<Utc>) -> anyhow::Result<bool>;

    /// `Ok(false)` when there was no such factor.
    async fn delete_factor(&mut self, id: FactorId) -> anyhow::Result<bool>;

    /// Deletes every factor of `user`; returns how many there were.
    async fn delete_factors_of(&mut self, user: UserId) -> anyhow::Result<u64>;
}
