//! `/v1/accounts/{account_id}/members` and `/roles` (seeds 000 and 004).

use accountd_domain::{MemberRef, Role, parse_roles};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller, Idempotency, ListParams, Path, Query, mark_replayed, page_request, path_id};
use crate::problem::{ApiError, Problem};
use crate::views::MemberBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts/{account_id}/members", get(list_members).post(add_member))
        .route("/v1/accounts/{account_id}/members/{user_id}", get(get_member).put(put_member).delete(delete_member))
        .route("/v1/accounts/{account_id}/roles", get(list_roles))
        .route("/v1/accounts/{account_id}/roles/{role_id}", get(get_role))
}

/// One page of members.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberList {
    pub members: Vec<MemberBody>,
    pub next_page_token: String,
}

/// Whom to invite: `user_id` or `email` (an unknown email creates the user).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddMemberRequest {
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    #[schema(format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_items = 1, value_type = Vec<crate::openapi::RoleName>)]
    pub roles: Vec<String>,
}

/// The roles to set (seed 000 `PutAccountMember` sends one `role`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PutMemberRequest {
    #[schema(min_items = 1, value_type = Option<Vec<crate::openapi::RoleName>>)]
    pub roles: Option<Vec<String>>,
    #[schema(value_type = Option<crate::openapi::RoleName>)]
    pub role: Option<String>,
}

/// A built-in role.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleBody {
    pub id: &'static str,
    pub name: &'static str,
    pub description: &'static str,
    pub permissions: Vec<&'static str>,
}

impl From<Role> for RoleBody {
    fn from(r: Role) -> Self {
        Self { id: r.as_str(), name: r.as_str(), description: r.description(), permissions: r.permissions().names() }
    }
}

/// The built-in roles.
#[derive(Debug, Serialize, ToSchema)]
pub struct RoleList {
    pub roles: Vec<RoleBody>,
}

fn roles(names: &[String], role: Option<&str>) -> Result<Vec<Role>, ApiError> {
    parse_roles(names, role).map_err(|e| ApiError::invalid(&e))
}

/// Lists an account's members (`members:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/members", tag = "members",
    params(("account_id" = String, Path), ListParams), responses((status = 200, body = MemberList)))]
pub async fn list_members(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<MemberList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.members.list(&caller, path_id(&id)?, page).await?;
    Ok(Json(MemberList {
        next_page_token: page.next_page_token(),
        members: page.items.iter().map(MemberBody::from).collect(),
    }))
}

/// Invites a user (`members:write`); the membership is `invited` until accepted.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/members", tag = "members",
    params(("account_id" = String, Path), Idempotency), request_body = AddMemberRequest,
    responses((status = 201, body = MemberBody), (status = 409, body = Problem, content_type = "application/problem+json")))]
pub async fn add_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(id): Path<String>,
    Body(body): Body<AddMemberRequest>,
) -> Result<axum::response::Response, ApiError> {
    let account = path_id(&id)?;
    let who = MemberRef::parse(body.user_id.as_deref(), body.email.as_deref()).map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.members.add(&caller, account, who, roles(&body.roles, None)?, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(MemberBody::from(&created.value))), created.replayed))
}

/// Reads a membership (`members:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/members/{user_id}", tag = "members",
    params(("account_id" = String, Path), ("user_id" = String, Path)), responses((status = 200, body = MemberBody)))]
pub async fn get_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
) -> Result<Json<MemberBody>, ApiError> {
    let member = state.services.members.get(&caller, path_id(&account)?, path_id(&user)?).await?;
    Ok(Json(MemberBody::from(&member)))
}

/// Creates or updates a user's roles (`members:write`). A user not yet a member is invited
/// (status `invited` until it accepts; root callers add at once), and only a user the caller
/// already sees: any other id answers 404, like an unknown one.
#[utoipa::path(put, path = "/v1/accounts/{account_id}/members/{user_id}", tag = "members",
    params(("account_id" = String, Path), ("user_id" = String, Path)), request_body = PutMemberRequest,
    responses((status = 200, body = MemberBody), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn put_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
    Body(body): Body<PutMemberRequest>,
) -> Result<Json<MemberBody>, ApiError> {
    let roles = roles(&body.roles.unwrap_or_default(), body.role.as_deref())?;
    let member = state.services.members.put(&caller, path_id(&account)?, path_id(&user)?, roles).await?;
    Ok(Json(MemberBody::from(&member)))
}

/// Removes a user from an account (`members:write`); never the owner.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/members/{user_id}", tag = "members",
    params(("account_id" = String, Path), ("user_id" = String, Path)), responses((status = 204, description = "removed")))]
pub async fn delete_member(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.members.delete(&caller, path_id(&account)?, path_id(&user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The built-in roles.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/roles", tag = "members",
    params(("account_id" = String, Path)), responses((status = 200, body = RoleList)))]
pub async fn list_roles(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<RoleList>, ApiError> {
    let all = state.services.members.roles(&caller, path_id(&id)?).await?;
    Ok(Json(RoleList { roles: all.iter().copied().map(RoleBody::from).collect() }))
}

/// One built-in role.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/roles/{role_id}", tag = "members",
    params(("account_id" = String, Path), ("role_id" = String, Path)), responses((status = 200, body = RoleBody)))]
pub async fn get_role(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, role)): Path<(String, String)>,
) -> Result<Json<RoleBody>, ApiError> {
    let role = state.services.members.role(&caller, path_id(&account)?, &role).await?;
    Ok(Json(RoleBody::from(role)))
}
