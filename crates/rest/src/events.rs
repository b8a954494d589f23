//! `GET /v1/events` (issue 13): the ordered event feed, with long polling.

use accountd_domain::{EventPage, EventQueryInput, FieldError};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::audit::AuditEventBody;
use crate::extract::{Caller, Query};
use crate::problem::{ApiError, Problem};

/// The feed's path, which the request timeout gives the longest wait on top
/// ([`crate::with_timeouts`]).
pub(crate) const EVENTS_PATH: &str = "/v1/events";

pub fn routes() -> Router<AppState> {
    Router::new().route(EVENTS_PATH, get(list_events))
}

/// Where to start, what to follow and how long to wait.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventParams {
    /// A `cursor` or `next_cursor` of an earlier answer; without it, the oldest event kept.
    pub after: Option<String>,
    /// Only this account's events (`audit:read` on it).
    #[param(value_type = Option<String>, format = Uuid)]
    pub account_id: Option<String>,
    /// Comma-separated event types (`alias.create,member.update`); all when absent.
    pub types: Option<String>,
    /// Events per answer, 1–1000 (default 100).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 1000)]
    pub limit: Option<String>,
    /// Long poll: when nothing follows `after` yet, wait up to this long (`30s`, `500ms`,
    /// `1m`; at most 60 s) and answer as soon as something does.
    pub wait: Option<String>,
}

/// One event of the feed: the audit event and where it stands.
#[derive(Debug, Serialize, ToSchema)]
pub struct FeedEventBody {
    #[serde(flatten)]
    pub event: AuditEventBody,
    /// Resume after this event by passing it as `after`.
    pub cursor: String,
}

/// One answer of the feed.
#[derive(Debug, Serialize, ToSchema)]
pub struct EventFeedPage {
    /// In commit order; possibly empty.
    pub events: Vec<FeedEventBody>,
    /// Pass as `after` next, also when `events` is empty.
    pub next_cursor: String,
}

impl From<&EventPage> for EventFeedPage {
    fn from(page: &EventPage) -> Self {
        Self {
            events: page
                .events
                .iter()
                .map(|(cursor, event)| FeedEventBody { event: AuditEventBody::from(event), cursor: cursor.encode() })
                .collect(),
            next_cursor: page.next_cursor.encode(),
        }
    }
}

/// Events the caller may see (root `events:read`: all; otherwise those of accounts where
/// it holds `audit:read`), after a cursor, in commit order; never one skipped or repeated.
#[utoipa::path(get, path = "/v1/events", tag = "events",
    params(EventParams),
    responses((status = 200, body = EventFeedPage),
        (status = 410, description = "The cursor is older than the feed's retention: resynchronize", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn list_events(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(params): Query<EventParams>,
) -> Result<Json<EventFeedPage>, ApiError> {
    let limit = match params.limit.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(text.parse::<i64>().map_err(|_| {
            ApiError::invalid(
                &FieldError::new("limit", "not_an_integer", "must be an integer between 1 and 1000").into(),
            )
        })?),
    };
    let query = EventQueryInput {
        after: params.after,
        account_id: params.account_id,
        types: params.types.map(|t| t.split(',').map(str::to_owned).collect()).unwrap_or_default(),
        limit,
        wait: params.wait,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let page = state.services.events.list(&caller, query).await?;
    Ok(Json(EventFeedPage::from(&page)))
}
