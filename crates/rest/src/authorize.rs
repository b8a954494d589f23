//! `POST /v1/authorize`: the decision API (issue 12). A product asks whether a token its
//! customer presented (or one of accountd's users) may do a permission on accounts, and gets
//! the decision accountd enforces on its own endpoints. The caller needs the root permission
//! `authz:check`.

use accountd_domain::{AuthorizeInput, CheckInput, Decision};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::routing::post;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller};
use crate::problem::ApiError;

pub fn routes() -> Router<AppState> {
    Router::new().route("/v1/authorize", post(authorize))
}

/// One question: may the subject do `permission` on `account_id`?
#[derive(Debug, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CheckBody {
    /// Ids are opaque: one that is not well formed names no account (`not_found`).
    pub account_id: String,
    /// An account permission of the catalogue, e.g. `aliases:write`.
    #[schema(value_type = crate::openapi::PermissionName)]
    pub permission: String,
}

/// A decision request: exactly one of `token` and `user_id`.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AuthorizeRequest {
    /// A token a customer presented to the product (`acd_…`). Never logged or audited.
    pub token: Option<String>,
    /// A user of accountd, decided on its own rights (no token narrows them).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    /// Where the token is used from; only with `token`. A token with IP conditions is
    /// refused (`ip_refused`) without it.
    pub client_ip: Option<String>,
    /// 1–100 checks.
    #[serde(default)]
    #[schema(min_items = 1, max_items = 100)]
    pub checks: Vec<CheckBody>,
}

/// Written by hand so that the presented token never reaches a log line: the fields are
/// shown once validated, by the domain's `AuthorizeInput`/`AuthorizeRequest`.
impl std::fmt::Debug for AuthorizeRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthorizeRequest").field("checks", &self.checks.len()).finish_non_exhaustive()
    }
}

impl From<AuthorizeRequest> for AuthorizeInput {
    fn from(body: AuthorizeRequest) -> Self {
        Self {
            token: body.token,
            user_id: body.user_id,
            client_ip: body.client_ip,
            checks: body
                .checks
                .into_iter()
                .map(|c| CheckInput { account_id: c.account_id, permission: c.permission })
                .collect(),
        }
    }
}

/// Whom the decision is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct SubjectBody {
    #[schema(format = Uuid)]
    pub user_id: String,
    /// `null` for a `user_id` subject.
    #[schema(format = Uuid)]
    pub token_id: Option<String>,
}

/// The answer to one check.
#[derive(Debug, Serialize, ToSchema)]
pub struct CheckResultBody {
    pub account_id: String,
    #[schema(value_type = crate::openapi::PermissionName)]
    pub permission: &'static str,
    pub allowed: bool,
    /// `granted`, `not_found`, `forbidden` or `two_factor_required`.
    #[schema(value_type = crate::openapi::CheckReasonSchema)]
    pub reason: &'static str,
}

/// The decision: whether the subject is usable (else `reason`, and no results), and one
/// result per check in the request's order.
#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorizeResponse {
    pub active: bool,
    /// Why the subject is not usable: `unknown`, `expired`, `not_yet_valid`, `disabled`,
    /// `ip_refused` or `malformed`; absent when active.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<crate::openapi::InactiveReasonSchema>)]
    pub reason: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subject: Option<SubjectBody>,
    pub results: Vec<CheckResultBody>,
}

impl From<Decision> for AuthorizeResponse {
    fn from(decision: Decision) -> Self {
        match decision {
            Decision::Inactive(reason) => {
                Self { active: false, reason: Some(reason.as_str()), subject: None, results: Vec::new() }
            }
            Decision::Active { user_id, token_id, results } => Self {
                active: true,
                reason: None,
                subject: Some(SubjectBody { user_id: user_id.to_string(), token_id: token_id.map(|t| t.to_string()) }),
                results: results
                    .into_iter()
                    .map(|r| CheckResultBody {
                        allowed: r.allowed(),
                        account_id: r.account_id,
                        permission: r.permission.as_str(),
                        reason: r.reason.as_str(),
                    })
                    .collect(),
            },
        }
    }
}

/// Decides whether a subject may do permissions on accounts (root `authz:check`): the same
/// decision accountd enforces on its own endpoints. 200 whenever the request is valid, even
/// when the subject is not usable (`active: false`).
#[utoipa::path(post, path = "/v1/authorize", tag = "authorization", request_body = AuthorizeRequest,
    responses((status = 200, body = AuthorizeResponse)))]
pub async fn authorize(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<AuthorizeRequest>,
) -> Result<Json<AuthorizeResponse>, ApiError> {
    let request = AuthorizeInput::from(body).validate().map_err(|e| ApiError::invalid(&e))?;
    let decision = state.services.authorization.check(&caller, request).await?;
    Ok(Json(decision.into()))
}
