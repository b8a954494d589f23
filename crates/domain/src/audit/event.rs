//! The append-only audit trail: one [`AuditEvent`] per mutation, written by the service in
//! the same transaction as the change it records.

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};

use crate::text::{self, Lines};
use crate::{AccountId, AuditEventId, Collector, FieldError, PageRequest, RequestInfo, ValidationErrors};

/// What kind of caller made a change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActorKind {
    User,
    Token,
    System,
    /// A root user acting through a token (recorded with its token id and email, which
    /// only platform readers see), or, as tenants see it, any platform actor.
    Platform,
}

impl ActorKind {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Token => "token",
            Self::System => "system",
            Self::Platform => "platform",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "user" => Some(Self::User),
            "token" => Some(Self::Token),
            "system" => Some(Self::System),
            "platform" => Some(Self::Platform),
            _ => None,
        }
    }
}

/// Who made a change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    pub kind: ActorKind,
    pub id: Option<String>,
    pub email: Option<String>,
}

impl Actor {
    /// The actor as a tenant (a caller without root `users:read`) sees it: root users and
    /// the system are `platform`, without id or email.
    pub fn shown_to_tenant(self) -> Self {
        match self.kind {
            ActorKind::Platform | ActorKind::System => Self { kind: ActorKind::Platform, id: None, email: None },
            _ => self,
        }
    }
}

/// A value in a [`Snapshot`]; deliberately small so that the domain stays free of any
/// serialization crate while adapters can store it as JSON.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AuditValue {
    Null,
    Bool(bool),
    Int(i64),
    Text(String),
    List(Vec<AuditValue>),
}

impl From<&str> for AuditValue {
    fn from(value: &str) -> Self {
        Self::Text(value.to_owned())
    }
}

impl From<String> for AuditValue {
    fn from(value: String) -> Self {
        Self::Text(value)
    }
}

impl From<bool> for AuditValue {
    fn from(value: bool) -> Self {
        Self::Bool(value)
    }
}

impl From<i64> for AuditValue {
    fn from(value: i64) -> Self {
        Self::Int(value)
    }
}

impl<T: Into<AuditValue>> From<Option<T>> for AuditValue {
    fn from(value: Option<T>) -> Self {
        value.map_or(Self::Null, Into::into)
    }
}

/// The audited fields of a resource at one moment. Secrets never appear in one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Snapshot(BTreeMap<String, AuditValue>);

impl Snapshot {
    pub fn with(mut self, field: &str, value: impl Into<AuditValue>) -> Self {
        self.0.insert(field.to_owned(), value.into());
        self
    }

    pub fn fields(&self) -> &BTreeMap<String, AuditValue> {
        &self.0
    }

    pub fn from_fields(fields: BTreeMap<String, AuditValue>) -> Self {
        Self(fields)
    }
}

/// The snapshot fields that name a user.
const USER_FIELDS: [&str; 3] = ["owner_id", "user_id", "invited_by"];

/// Before and after images of a change. An update keeps only the fields that changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Changes {
    pub before: Option<Snapshot>,
    pub after: Option<Snapshot>,
}

impl Changes {
    pub fn created(after: Snapshot) -> Self {
        Self { before: None, after: Some(after) }
    }

    pub fn deleted(before: Snapshot) -> Self {
        Self { before: Some(before), after: None }
    }

    /// The fields whose value differs between `before` and `after`, on both sides.
    pub fn updated(before: Snapshot, after: Snapshot) -> Self {
        let mut old = BTreeMap::new();
        let mut new = BTreeMap::new();
        for (field, value) in after.0 {
            let previous = before.0.get(&field).cloned().unwrap_or(AuditValue::Null);
            if previous != value {
                old.insert(field.clone(), previous);
                new.insert(field, value);
            }
        }
        Self { before: Some(Snapshot(old)), after: Some(Snapshot(new)) }
    }

    /// The user ids the snapshots name (`owner_id`, `user_id`, `invited_by`).
    pub fn user_ids(&self) -> Vec<String> {
        let sides = [&self.before, &self.after];
        sides
            .into_iter()
            .flatten()
            .flat_map(|s| USER_FIELDS.iter().filter_map(|f| s.0.get(*f)))
            .filter_map(|v| match v {
                AuditValue::Text(id) => Some(id.clone()),
                _ => None,
            })
            .collect()
    }

    /// The changes with every user id of `hidden` (the platform's, for a tenant) shown as null.
    pub fn without_users(mut self, hidden: &[String]) -> Self {
        for side in [&mut self.before, &mut self.after].into_iter().flatten() {
            for field in USER_FIELDS {
                if let Some(value) = side.0.get_mut(field)
                    && matches!(value, AuditValue::Text(id) if hidden.contains(id))
                {
                    *value = AuditValue::Null;
                }
            }
        }
        self
    }

    /// True when an update changed nothing.
    pub fn is_empty(&self) -> bool {
        let empty = |s: &Option<Snapshot>| s.as_ref().is_none_or(|s| s.0.is_empty());
        empty(&self.before) && empty(&self.after)
    }
}

/// How an audited action ended. Events are written with the change itself, so every stored
/// event today records a success; the field exists because the wire format (seed 004) has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditOutcome {
    Success,
    Failure,
}

impl AuditOutcome {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Success => "success",
            Self::Failure => "failure",
        }
    }

    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "success" => Some(Self::Success),
            "failure" => Some(Self::Failure),
            _ => None,
        }
    }
}

/// One recorded change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEvent {
    pub id: AuditEventId,
    /// The account the change concerns; `None` for platform-wide resources.
    pub account_id: Option<AccountId>,
    pub actor: Actor,
    /// Dotted `resource.verb`, e.g. `account.update`.
    pub action: String,
    pub outcome: AuditOutcome,
    pub resource_type: String,
    pub resource_id: String,
    pub changes: Changes,
    pub request: RequestInfo,
    pub occurred_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_update_records_only_the_fields_that_changed() {
        let before = Snapshot::default().with("name", "Old").with("status", "pending");
        let after = Snapshot::default().with("name", "New").with("status", "pending");
        let changes = Changes::updated(before, after);
        assert_eq!(changes.before, Some(Snapshot::default().with("name", "Old")));
        assert_eq!(changes.after, Some(Snapshot::default().with("name", "New")));
    }

    #[test]
    fn an_update_that_changes_nothing_is_empty() {
        let same = Snapshot::default().with("name", "Same");
        assert!(Changes::updated(same.clone(), same).is_empty());
        assert!(!Changes::created(Snapshot::default().with("name", "x")).is_empty());
    }
}

named_enum!(
    /// Which way a listing runs: oldest first or newest first.
    Direction, "direction" {
        Asc => "asc",
        Desc => "desc",
    }
);

/// A validated audit-log query (seed 004 "Get account audit logs").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditQuery {
    /// The account whose events to list; `None` lists platform events (users and the like).
    pub account_id: Option<AccountId>,
    /// Events at or after this instant.
    pub since: Option<DateTime<Utc>>,
    /// Events strictly before this instant.
    pub before: Option<DateTime<Utc>>,
    pub action: Option<String>,
    pub actor_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub direction: Direction,
    /// The cursor continues after (asc) or before (desc) the event it names.
    pub page: PageRequest,
}

impl AuditQuery {
    /// Every event of `account_id`, oldest first.
    pub fn all_of(account_id: Option<AccountId>, page: PageRequest) -> Self {
        Self {
            account_id,
            since: None,
            before: None,
            action: None,
            actor_id: None,
            resource_type: None,
            resource_id: None,
            direction: Direction::Asc,
            page,
        }
    }
}

/// Raw audit-log query input as the wire adapters receive it.
#[derive(Debug, Clone, Default)]
pub struct AuditQueryInput {
    pub since: Option<String>,
    pub before: Option<String>,
    pub action_type: Option<String>,
    pub actor_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    pub direction: Option<String>,
    pub page_size: Option<i64>,
    pub cursor: Option<String>,
}

impl AuditQueryInput {
    pub fn validate(self, account_id: AccountId) -> Result<AuditQuery, ValidationErrors> {
        let mut errors = Collector::default();
        let time = |value: Option<String>, field: &'static str| {
            value.filter(|v| !v.trim().is_empty()).map(|v| {
                DateTime::parse_from_rfc3339(v.trim())
                    .map(|t| t.with_timezone(&Utc))
                    .map_err(|_| FieldError::new(field, "invalid_time", "must be an RFC 3339 timestamp"))
            })
        };
        let since = errors.take_opt(time(self.since, "since"));
        let before = errors.take_opt(time(self.before, "before"));
        let direction = errors.take_opt(self.direction.filter(|d| !d.is_empty()).map(|d| Direction::parse(&d)));
        let page = match PageRequest::parse(self.page_size, self.cursor.as_deref()) {
            Ok(page) => Some(page),
            Err(e) => {
                // The cursor is called `cursor` here (seed 004), not `page_token`.
                for f in e.fields() {
                    let name = if f.field == "page_token" { "cursor" } else { f.field.as_str() };
                    errors.take::<()>(Err(f.clone().at(name)));
                }
                None
            }
        };
        let filter = |v: Option<String>, field: &'static str| text::clean_opt(v.as_deref(), field, 200, Lines::One);
        let action = errors.take_opt(filter(self.action_type, "action_type"));
        let actor_id = errors.take_opt(filter(self.actor_id, "actor_id"));
        let resource_type = errors.take_opt(filter(self.resource_type, "resource_type"));
        let resource_id = errors.take_opt(filter(self.resource_id, "resource_id"));
        errors.finish()?;
        Ok(AuditQuery {
            account_id: Some(account_id),
            since: since.flatten(),
            before: before.flatten(),
            action: action.flatten(),
            actor_id: actor_id.flatten(),
            resource_type: resource_type.flatten(),
            resource_id: resource_id.flatten(),
            direction: direction.flatten().unwrap_or(Direction::Asc),
            page: page.expect("checked by finish"),
        })
    }
}
