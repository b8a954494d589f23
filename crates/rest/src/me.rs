//! `/v1/me`: the caller itself, its permissions (`ListMyPermissions`, seed 003) and its
//! answers to invitations.

use accountd_domain::{FieldError, ValidationErrors};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, put};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller, Path, path_id};
use crate::openapi::AccountTypeSchema;
use crate::problem::ApiError;
use crate::views::{MemberBody, MfaBody, UserBody};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me", get(me))
        .route("/v1/me/permissions", get(my_permissions))
        .route("/v1/me/memberships/{account_id}", put(respond))
}

/// An account with what the caller holds on it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountPermissions {
    pub account_id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(value_type = AccountTypeSchema)]
    pub account_type: &'static str,
    pub permissions: Vec<&'static str>,
}

/// The caller's permissions (seed 003 `ListMyPermissions`).
#[derive(Debug, Serialize, ToSchema)]
pub struct MyPermissionsBody {
    pub user_id: String,
    pub accounts: Vec<AccountPermissions>,
    pub root_permissions: Vec<&'static str>,
}

/// An answer to an invitation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MembershipResponse {
    /// `accepted` or `rejected`.
    #[schema(value_type = crate::openapi::MembershipAnswerSchema)]
    pub status: String,
}

/// The calling user with its MFA state (factor ids, never secrets).
#[derive(Debug, Serialize, ToSchema)]
pub struct MeBody {
    #[serde(flatten)]
    pub user: UserBody,
    #[serde(flatten)]
    pub mfa: MfaBody,
}

/// The calling user.
#[utoipa::path(get, path = "/v1/me", tag = "me", responses((status = 200, body = MeBody)))]
pub async fn me(State(state): State<AppState>, Caller(caller): Caller) -> Result<Json<MeBody>, ApiError> {
    let user = state.services.users.me(&caller).await?;
    let mfa = state.services.mfa.status(&caller).await?;
    Ok(Json(MeBody { user: UserBody::from(&user), mfa: MfaBody::from(&mfa) }))
}

/// The accounts the caller can see, with its permissions on each, and its root permissions.
#[utoipa::path(get, path = "/v1/me/permissions", tag = "me", responses((status = 200, body = MyPermissionsBody)))]
pub async fn my_permissions(
    State(state): State<AppState>,
    Caller(caller): Caller,
) -> Result<Json<MyPermissionsBody>, ApiError> {
    let mine = state.services.users.my_permissions(&caller).await?;
    Ok(Json(MyPermissionsBody {
        user_id: mine.user_id.to_string(),
        accounts: mine
            .accounts
            .iter()
            .map(|(a, held)| AccountPermissions {
                account_id: a.id.to_string(),
                name: a.name.to_string(),
                account_type: a.account_type.as_str(),
                permissions: held.names(),
            })
            .collect(),
        root_permissions: mine.root_permissions.names(),
    }))
}

/// Accepts or rejects an invitation to an account.
#[utoipa::path(put, path = "/v1/me/memberships/{account_id}", tag = "me", params(("account_id" = String, Path)),
    request_body = MembershipResponse, responses((status = 200, body = MemberBody), (status = 204, description = "rejected")))]
pub async fn respond(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Body(body): Body<MembershipResponse>,
) -> Result<Response, ApiError> {
    let accept = match body.status.as_str() {
        "accepted" => true,
        "rejected" => false,
        _ => {
            return Err(ApiError::invalid(&ValidationErrors::from(FieldError::new(
                "status",
                "unknown_value",
                "must be one of accepted, rejected",
            ))));
        }
    };
    match state.services.members.respond(&caller, path_id(&id)?, accept).await? {
        Some(member) => Ok(Json(MemberBody::from(&member)).into_response()),
        None => Ok(axum::http::StatusCode::NO_CONTENT.into_response()),
    }
}
