//! Ports: the traits storage adapters implement. Each documents what it MUST return when,
//! and the shared conformance suite (`conformance` feature) holds every adapter to it.
//!
//! Reads go through [`Store`] on an autocommit connection; every write goes through a
//! [`Transaction`], which is also where the audit event of that write is appended, so a
//! change and its audit row commit or vanish together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{Account, Version};
use crate::audit::AuditEvent;
use crate::id::AccountId;
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::page::{Page, PageRequest};

/// Reads of accounts outside a transaction.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// The account with `id`; `Ok(None)` when there is none. Errors only on storage failure.
    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Accounts in ascending id order (creation order), starting strictly after
    /// `page.after`: at most `page.size` items, and `next` set exactly when more follow.
    /// MUST cost the same however deep the cursor is (keyset, never OFFSET).
    async fn list_accounts(&self, page: PageRequest) -> anyhow::Result<Page<Account>>;
}

/// Reads of the audit trail.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Events recorded for `account_id`, oldest first, paged like [`AccountRepository::list_accounts`].
    /// Events outlive their account: they are returned after the account is deleted.
    async fn list_audit_events(&self, account_id: AccountId, page: PageRequest) -> anyhow::Result<Page<AuditEvent>>;
}

/// Why an account could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertAccountError {
    /// MUST be returned when the parent named by the account's hierarchy does not exist
    /// (for instance because it was deleted after the service read it).
    #[error("the parent account does not exist")]
    ParentMissing,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Account writes, available only inside a [`Transaction`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountWrites: Send {
    /// Reads an account inside the transaction and locks it against other writers until the
    /// transaction ends; `Ok(None)` when there is none.
    async fn find_account(&mut self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Inserts a new account exactly as given (id, hierarchy, version, timestamps).
    async fn insert_account(&mut self, account: &Account) -> Result<(), InsertAccountError>;

    /// Overwrites the mutable fields (name, status, owner, settings, version, updated_at) of
    /// the stored account whose version is `expected`. `Ok(false)` when no row has that id
    /// and version: the account is gone or a concurrent writer changed it first.
    async fn update_account(&mut self, account: &Account, expected: Version) -> anyhow::Result<bool>;

    /// Deletes the account whose version is `expected` and detaches its children: each child
    /// subtree becomes top-level, its accounts' hierarchy shortened accordingly, their version
    /// incremented and `updated_at` set to `now`. Returns those descendants as they are after
    /// the change, or `Ok(None)`, changing nothing, when no row has that id and version.
    async fn delete_account(
        &mut self,
        id: AccountId,
        expected: Version,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Vec<Account>>>;
}

/// Appending to the audit trail, available only inside a [`Transaction`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditWrites: Send {
    /// Appends `event`; it becomes visible when, and only if, the transaction commits.
    async fn append_audit_event(&mut self, event: &AuditEvent) -> anyhow::Result<()>;
}

/// Idempotency records, read and written inside the transaction of the creation they guard.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdempotencyWrites: Send {
    /// The record of `key` in `scope` created at or after `not_before`; `Ok(None)` when there
    /// is none or only an older one.
    async fn find_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<Option<IdempotencyRecord>>;

    /// Saves `record`, replacing a record of the same scope and key created before
    /// `not_before`. MUST return `Ok(false)`, writing nothing, when a newer record exists —
    /// including one a concurrent transaction committed after this one began — so that of
    /// two requests with one key exactly one creates the resource.
    async fn save_idempotency_record(
        &mut self,
        record: &IdempotencyRecord,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<bool>;
}

/// One database transaction. Dropping it without [`Transaction::commit`] rolls back
/// everything written through it.
#[async_trait]
pub trait Transaction: AccountWrites + AuditWrites + IdempotencyWrites + Send {
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
pub trait Store: UnitOfWork + AccountRepository + AuditRepository + std::fmt::Debug {
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> anyhow::Result<()>;
}
