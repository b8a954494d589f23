//! The `audit_events` row and its conversion.

use accountd_domain::{
    AccountId, Actor, ActorKind, AuditEvent, AuditEventId, AuditOutcome, FeedEvent, FeedPosition, RequestInfo,
};
use anyhow::Context;
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// `SELECT` the columns [`AuditRow`] reads `FROM audit_events`; the clauses follow.
pub(crate) const SELECT_AUDIT_EVENTS: &str = "SELECT id, account_id, actor_type, actor_id, actor_email, action, \
    outcome, resource_type, resource_id, changes, request_ip, user_agent, request_id, occurred_at FROM audit_events ";

/// `SELECT` the columns [`FeedRow`] reads `FROM audit_events`: an audit row and its place
/// in the feed.
pub(crate) const SELECT_FEED_EVENTS: &str = "SELECT id, account_id, actor_type, actor_id, actor_email, action, \
    outcome, resource_type, resource_id, changes, request_ip, user_agent, request_id, occurred_at, xact_id, seq \
    FROM audit_events ";

/// A row of `audit_events` with its feed position.
#[derive(Debug, sqlx::FromRow)]
pub struct FeedRow {
    #[sqlx(flatten)]
    pub event: AuditRow,
    pub xact_id: i64,
    pub seq: i64,
}

impl TryFrom<FeedRow> for FeedEvent {
    type Error = anyhow::Error;

    fn try_from(row: FeedRow) -> anyhow::Result<Self> {
        Ok(FeedEvent { position: FeedPosition { xact: row.xact_id, seq: row.seq }, event: row.event.try_into()? })
    }
}

/// A row of `audit_events`.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub account_id: Option<Uuid>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub outcome: String,
    pub resource_type: String,
    pub resource_id: String,
    pub changes: Json<serde_json::Value>,
    pub request_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = anyhow::Error;

    fn try_from(row: AuditRow) -> anyhow::Result<Self> {
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(row.id),
            account_id: row.account_id.map(AccountId::from_uuid),
            actor: Actor {
                kind: ActorKind::parse(&row.actor_type)
                    .with_context(|| format!("unknown actor type {}", row.actor_type))?,
                id: row.actor_id,
                email: row.actor_email,
            },
            action: row.action,
            outcome: AuditOutcome::parse(&row.outcome).with_context(|| format!("unknown outcome {}", row.outcome))?,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            changes: crate::changes_from_json(row.changes.0)?,
            request: RequestInfo {
                ip: row.request_ip.as_deref().map(str::parse).transpose().context("stored request ip")?,
                user_agent: row.user_agent,
                request_id: row.request_id,
            },
            occurred_at: row.occurred_at,
        })
    }
}
