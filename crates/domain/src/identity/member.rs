//! Members: a user's roles on an account.

use chrono::{DateTime, Utc};

use crate::{AccountId, AuditValue, Role, Snapshot, UserId};

named_enum!(
    /// `invited` members hold no rights until they accept (seed 004).
    MemberStatus, "status" {
        Member => "member",
        Invited => "invited",
    }
);

/// A user's membership of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub account_id: AccountId,
    pub user_id: UserId,
    /// Never empty; in catalogue order.
    pub roles: Vec<Role>,
    pub status: MemberStatus,
    pub invited_by: Option<UserId>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Member {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("user_id", self.user_id.to_string())
            .with("roles", AuditValue::List(self.roles.iter().map(|r| AuditValue::from(r.as_str())).collect()))
            .with("status", self.status.as_str())
    }
}
