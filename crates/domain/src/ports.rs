//! Ports: the traits storage adapters implement. Each documents what it MUST return when,
//! and the shared conformance suite (`conformance` feature) holds every adapter to it.
//!
//! Reads go through [`Store`] on an autocommit connection; every write goes through a
//! [`Transaction`], which is also where the audit event of that write is appended, so a
//! change and its audit row commit or vanish together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AccountRepository, AccountWrites, AliasRepository, AliasWrites, AuditRepository, AuditWrites, ChangeHub, EventFeed,
    IdempotencyWrites, IdentityRepository, IdentityWrites, MfaRepository, MfaWrites, SubscriptionRepository,
    SubscriptionWrites,
};

/// One database transaction. Dropping it without [`Transaction::commit`] rolls back
/// everything written through it.
///
/// **Announcing changes.** A transaction MUST remember the [`Fact`](crate::Fact)s its writes alter and,
/// once it commits, hand them to the store's [`ChangeHub::committed`] before `commit`
/// returns (also when the commit's outcome is unknown: dropping a cache entry is never
/// wrong), and to the hub of every other process using the same database, which applies
/// them within the bound of docs/ARCHITECTURE.md or is marked [`ChangeHub::lost`]. Nothing is
/// announced on a rollback. The writes and their facts:
/// - `update_user` → [`Fact::User`](crate::Fact::User); `save_member`, `insert_member` (when it inserted),
///   `delete_member` → [`Fact::User`](crate::Fact::User) of the member;
/// - `update_token`, `delete_token` → [`Fact::Token`](crate::Fact::Token);
/// - `insert_factor`, `record_factor_use` (which activates), `delete_factor`, `delete_factors_of` →
///   [`Fact::User`](crate::Fact::User) of the factor's user;
/// - `update_account` → [`Fact::Account`](crate::Fact::Account); `move_subtree` → [`Fact::Account`](crate::Fact::Account) of every
///   account it moved; `delete_account` → [`Fact::AccountDeleted`](crate::Fact::AccountDeleted), and [`Fact::Account`](crate::Fact::Account)
///   of every account it detached;
/// - a transaction that appended an audit event is announced (with no fact, if it altered
///   none) so followers of the trail wake.
///
/// Other inserts alter nothing a cache holds (a new user, token or account has never been
/// read: the cache keeps no "not found"). More facts than an announcement carries MAY be sent as [`Fact::Everything`](crate::Fact::Everything).
#[async_trait]
pub trait Transaction:
    AccountWrites + AliasWrites + AuditWrites + IdempotencyWrites + IdentityWrites + MfaWrites + SubscriptionWrites + Send
{
    async fn commit(self: Box<Self>) -> anyhow::Result<()>;
}

/// Starts transactions. Implementations MUST serialize conflicting writers: an account read
/// with [`AccountWrites::find_account`] stays as read until the transaction ends (a row lock,
/// or a database-wide write lock), so a parent cannot move or vanish under a new child.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    async fn begin(&self) -> anyhow::Result<Box<dyn Transaction>>;
}

/// Everything a storage adapter provides, as one object the application picks at run time.
#[async_trait]
pub trait Store:
    UnitOfWork
    + AccountRepository
    + AliasRepository
    + AuditRepository
    + EventFeed
    + IdentityRepository
    + MfaRepository
    + SubscriptionRepository
    + std::fmt::Debug
{
    /// The hub through which this store announces committed changes (its own transactions'
    /// and, for a database other processes share, theirs): what keeps the decision cache
    /// true. See [`Transaction`] for what is announced when.
    fn changes(&self) -> &ChangeHub;

    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> anyhow::Result<()>;

    /// Deletes at most `limit` idempotency records created before `not_before`, in one
    /// short statement of its own (never inside a creation's transaction, so keyed creates
    /// of different callers do not queue behind one purge); returns how many it deleted.
    async fn purge_idempotency_records(&self, not_before: DateTime<Utc>, limit: u32) -> anyhow::Result<u64>;
}
