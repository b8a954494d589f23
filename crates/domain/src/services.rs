//! What every service shares: its ports, and the one way an audit event is recorded.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::audit::{AuditEvent, AuditOutcome, Changes};
use crate::clock::{Clock, IdGenerator};
use crate::id::{AccountId, AuditEventId};
use crate::ports::{AuditWrites, Store};
use crate::principal::Principal;

/// The ports a service needs.
#[derive(Clone)]
pub(crate) struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// The part of an audit event a service knows; [`Deps::record`] adds who, when and where.
pub(crate) struct AuditEntry {
    pub account_id: Option<AccountId>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub changes: Changes,
}

impl AuditEntry {
    pub fn account(account: &Account, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(account.id),
            action,
            resource_type: "account",
            resource_id: account.id.to_string(),
            changes,
        }
    }
}

impl Deps {
    /// Appends the audit event for `entry` inside the caller's transaction; `now` is the
    /// operation's one instant, so the event's time equals the change's timestamps.
    pub async fn record(
        &self,
        tx: &mut dyn AuditWrites,
        principal: &Principal,
        entry: AuditEntry,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ids.next_id()),
            account_id: entry.account_id,
            actor: principal.actor(),
            action: entry.action.to_owned(),
            outcome: AuditOutcome::Success,
            resource_type: entry.resource_type.to_owned(),
            resource_id: entry.resource_id,
            changes: entry.changes,
            request: principal.request().clone(),
            occurred_at: now,
        };
        tx.append_audit_event(&event).await
    }
}
