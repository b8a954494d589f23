//! Ports: the traits storage adapters implement. Each documents what it MUST return when,
//! and the shared conformance suite (`conformance` feature) holds every adapter to it.
//!
//! Reads go through [`Store`] on an autocommit connection; every write goes through a
//! [`Transaction`], which is also where the audit event of that write is appended, so a
//! change and its audit row commit or vanish together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AccountRepository, AccountWrites, AliasRepository, AliasWrites, AuditRepository, AuditWrites, IdempotencyWrites,
    IdentityRepository, IdentityWrites, MfaRepository, MfaWrites, SubscriptionRepository, SubscriptionWrites,
};

/// One database transaction. Dropping it without [`Transaction::commit`] rolls back
/// everything written through it.
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
    + IdentityRepository
    + MfaRepository
    + SubscriptionRepository
    + std::fmt::Debug
{
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> anyhow::Result<()>;

    /// Deletes at most `limit` idempotency records created before `not_before`, in one
    /// short statement of its own (never inside a creation's transaction, so keyed creates
    /// of different callers do not queue behind one purge); returns how many it deleted.
    async fn purge_idempotency_records(&self, not_before: DateTime<Utc>, limit: u32) -> anyhow::Result<u64>;
}
