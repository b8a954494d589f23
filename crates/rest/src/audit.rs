//! `/v1/accounts/{account_id}/logs/audit` (seed 004): the account's audit trail, filtered,
//! in either direction, with a cursor.

use accountd_domain::{AuditEvent, AuditQueryInput, AuditValue, Snapshot};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::extract::{Caller, Path, Query, page_size, path_id};
use crate::problem::{ApiError, Problem};

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/accounts/{account_id}/logs/audit", get(list_audit_logs))
}

/// Filters and paging of the audit listing.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditParams {
    /// RFC 3339: events at or after this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub since: Option<String>,
    /// RFC 3339: events strictly before this instant.
    #[param(value_type = Option<String>, format = DateTime)]
    pub before: Option<String>,
    /// e.g. `account.update`.
    pub action_type: Option<String>,
    #[param(value_type = Option<String>, format = Uuid)]
    pub actor_id: Option<String>,
    pub resource_type: Option<String>,
    pub resource_id: Option<String>,
    /// `asc` (default, oldest first) or `desc`.
    #[param(value_type = Option<crate::openapi::DirectionSchema>)]
    pub direction: Option<String>,
    #[param(value_type = Option<i32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// One recorded change.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditEventBody {
    pub id: String,
    pub account_id: Option<String>,
    /// `{type, id, email}`: `type` is user, token, system or platform (a root user). Callers
    /// without root `users:read` see every platform actor and the system as
    /// `{"type": "platform", "id": null, "email": null}`.
    #[schema(value_type = Object)]
    pub actor: Value,
    /// `{type, result}`, e.g. `{"type": "account.update", "result": "success"}`.
    #[schema(value_type = Object)]
    pub action: Value,
    /// `{type, id}`.
    #[schema(value_type = Object)]
    pub resource: Value,
    /// `{before, after}`: the changed fields; never a secret.
    #[schema(value_type = Object)]
    pub changes: Value,
    /// `{ip, user_agent, request_id}`; all `null` on platform and system events read by a tenant.
    #[schema(value_type = Object)]
    pub request: Value,
    pub when: DateTime<Utc>,
}

fn value(v: &AuditValue) -> Value {
    match v {
        AuditValue::Null => Value::Null,
        AuditValue::Bool(b) => Value::Bool(*b),
        AuditValue::Int(n) => Value::from(*n),
        AuditValue::Text(s) => Value::String(s.clone()),
        AuditValue::List(items) => Value::Array(items.iter().map(value).collect()),
    }
}

fn snapshot(s: &Option<Snapshot>) -> Value {
    s.as_ref().map_or(Value::Null, |s| Value::Object(s.fields().iter().map(|(k, v)| (k.clone(), value(v))).collect()))
}

impl From<&AuditEvent> for AuditEventBody {
    fn from(e: &AuditEvent) -> Self {
        Self {
            id: e.id.to_string(),
            account_id: e.account_id.map(|a| a.to_string()),
            actor: serde_json::json!({"type": e.actor.kind.as_str(), "id": e.actor.id, "email": e.actor.email}),
            action: serde_json::json!({"type": e.action, "result": e.outcome.as_str()}),
            resource: serde_json::json!({"type": e.resource_type, "id": e.resource_id}),
            changes: serde_json::json!({"before": snapshot(&e.changes.before), "after": snapshot(&e.changes.after)}),
            request: serde_json::json!({
                "ip": e.request.ip.map(|ip| ip.to_string()),
                "user_agent": e.request.user_agent,
                "request_id": e.request.request_id,
            }),
            when: e.occurred_at,
        }
    }
}

/// One page of events.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuditLogPage {
    pub events: Vec<AuditEventBody>,
    /// Pass as `cursor` for the next page; empty at the end.
    pub next_cursor: String,
}

/// The account's audit trail (`audit:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/logs/audit", tag = "audit",
    params(("account_id" = String, Path), AuditParams),
    responses((status = 200, body = AuditLogPage), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_audit_logs(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<AuditParams>,
) -> Result<Json<AuditLogPage>, ApiError> {
    let account = path_id(&id)?;
    let page_size = page_size(params.page_size.as_deref())?;
    let query = AuditQueryInput {
        since: params.since,
        before: params.before,
        action_type: params.action_type,
        actor_id: params.actor_id,
        resource_type: params.resource_type,
        resource_id: params.resource_id,
        direction: params.direction,
        page_size,
        cursor: params.cursor,
    }
    .validate(account)
    .map_err(|e| ApiError::invalid(&e))?;
    let page = state.services.audit.list(&caller, query).await?;
    Ok(Json(AuditLogPage {
        next_cursor: page.next_page_token(),
        events: page.items.iter().map(AuditEventBody::from).collect(),
    }))
}
