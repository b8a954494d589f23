//! The ports of the audit trail: reading it, and appending inside a transaction.

use async_trait::async_trait;

use crate::{AuditEvent, AuditQuery, Page};

/// Reads of the audit trail.
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Events matching every filter of `query`, in id order (`asc`: oldest first, starting
    /// after the cursor; `desc`: newest first, starting before it), paged like
    /// [`AccountRepository::list_accounts`](crate::AccountRepository::list_accounts). Events outlive their account.
    async fn list_audit_events(&self, query: &AuditQuery) -> anyhow::Result<Page<AuditEvent>>;
}

/// Appending to the audit trail, available only inside a [`Transaction`](crate::Transaction).
#[async_trait]
pub trait AuditWrites: Send {
    /// Appends `event`; it becomes visible when, and only if, the transaction commits.
    async fn append_audit_event(&mut self, event: &AuditEvent) -> anyhow::Result<()>;
}
