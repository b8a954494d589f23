//! The audit trail: the [`AuditRepository`] listing and the [`AuditWrites`] append of a
//! transaction.

use accountd_domain::{AuditEvent, AuditQuery, AuditRepository, AuditWrites, Direction, Page};
use async_trait::async_trait;
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::{SqlStore, SqlTransaction, dialect};
use crate::Context as _;
use crate::changes_to_json;
use crate::paging::{limit, page_of};
use crate::rows::{AuditRow, SELECT_AUDIT_EVENTS};

/// The listing's optional filters, after its account condition (`$1`): each is ignored when
/// bound to NULL.
const FILTERS: &str = " AND ($2 IS NULL OR occurred_at >= $2) AND ($3 IS NULL OR occurred_at < $3) \
    AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR actor_id = $5) \
    AND ($6 IS NULL OR resource_type = $6) AND ($7 IS NULL OR resource_id = $7)";

/// An account's events (`$1`), or with `$1` NULL the platform's (no account).
const ACCOUNT: &str = "WHERE account_id = $1";
const PLATFORM: &str = "WHERE $1 IS NULL AND account_id IS NULL";

/// The page: ids after (or, descending, before) `$8`, at most `$9` rows.
const ASC: &str = " AND id > $8 ORDER BY id ASC LIMIT $9";
const DESC: &str = " AND id < $8 ORDER BY id DESC LIMIT $9";

#[async_trait]
impl AuditRepository for SqlStore {
    async fn list_audit_events(&self, query: &AuditQuery) -> anyhow::Result<Page<AuditEvent>> {
        let sql = match (query.account_id.is_some(), query.direction) {
            (true, Direction::Asc) => concatcp!(SELECT_AUDIT_EVENTS, ACCOUNT, FILTERS, ASC),
            (true, Direction::Desc) => concatcp!(SELECT_AUDIT_EVENTS, ACCOUNT, FILTERS, DESC),
            (false, Direction::Asc) => concatcp!(SELECT_AUDIT_EVENTS, PLATFORM, FILTERS, ASC),
            (false, Direction::Desc) => concatcp!(SELECT_AUDIT_EVENTS, PLATFORM, FILTERS, DESC),
        };
        let start = match (query.page.after, query.direction) {
            (Some(cursor), _) => cursor.key(),
            (None, Direction::Asc) => Uuid::nil(),
            (None, Direction::Desc) => Uuid::max(),
        };
        let rows: Vec<AuditRow> = sqlx::query_as(sql)
            .bind(query.account_id.map(|a| a.as_uuid()))
            .bind(query.since)
            .bind(query.before)
            .bind(query.action.as_deref())
            .bind(query.actor_id.as_deref())
            .bind(query.resource_type.as_deref())
            .bind(query.resource_id.as_deref())
            .bind(start)
            .bind(limit(query.page))
            .fetch_all(&self.pool)
            .await
            .context("listing audit events")?;
        page_of(rows, query.page, |e: &AuditEvent| e.id.as_uuid())
    }
}

#[async_trait]
impl AuditWrites for SqlTransaction {
    async fn append_audit_event(&mut self, event: &AuditEvent) -> anyhow::Result<()> {
        // The event's place in the feed is the database's to give (see `dialect::FEED_XACT`).
        sqlx::query(concatcp!(
            "INSERT INTO audit_events (id, account_id, actor_type, actor_id, actor_email, action, outcome, \
             resource_type, resource_id, changes, request_ip, user_agent, request_id, occurred_at, xact_id, seq) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, ",
            dialect::FEED_XACT,
            ", ",
            dialect::FEED_SEQ,
            ")"
        ))
        .bind(event.id.as_uuid())
        .bind(event.account_id.map(|id| id.as_uuid()))
        .bind(event.actor.kind.as_str())
        .bind(event.actor.id.as_deref())
        .bind(event.actor.email.as_deref())
        .bind(event.action.as_str())
        .bind(event.outcome.as_str())
        .bind(event.resource_type.as_str())
        .bind(event.resource_id.as_str())
        .bind(Json(changes_to_json(&event.changes)))
        .bind(event.request.ip.map(|ip| ip.to_string()))
        .bind(event.request.user_agent.as_deref())
        .bind(event.request.request_id.as_deref())
        .bind(event.occurred_at)
        .execute(&mut *self.tx)
        .await
        .context("appending an audit event")?;
        self.audited = true;
        Ok(())
    }
}
