//! The one way a service records an audit event: inside the transaction of its change.

use chrono::{DateTime, Utc};

use crate::Deps;
use crate::{
    Account, AccountId, AuditEvent, AuditEventId, AuditOutcome, AuditWrites, Changes, Member, Principal, Token, User,
};

/// The part of an audit event a service knows; [`Deps::record`] adds who, when and where.
pub(crate) struct AuditEntry {
    pub account_id: Option<AccountId>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub changes: Changes,
}

impl AuditEntry {
    pub fn user(user: &User, action: &'static str, changes: Changes) -> Self {
        Self { account_id: None, action, resource_type: "user", resource_id: user.id.to_string(), changes }
    }

    pub fn member(member: &Member, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(member.account_id),
            action,
            resource_type: "member",
            resource_id: member.user_id.to_string(),
            changes,
        }
    }

    pub fn token(token: &Token, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: token.account_id,
            action,
            resource_type: "token",
            resource_id: token.id.to_string(),
            changes,
        }
    }

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
