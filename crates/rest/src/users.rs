//! `/v1/users`: platform user management for root callers.

use accountd_domain::{NewUserInput, UserPatchInput};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{
    Body, Caller, Idempotency, ListParams, Path, Precondition, Query, mark_replayed, page_request, path_id,
};
use crate::problem::{ApiError, Problem};
use crate::views::UserBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/users", get(list_users).post(create_user))
        .route("/v1/users/{user_id}", get(get_user).patch(update_user))
}

/// One page of users.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserList {
    pub users: Vec<UserBody>,
    pub next_page_token: String,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateUserRequest {
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub email: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub last_name: Option<String>,
    /// Root permissions to grant; only ones the caller holds.
    #[serde(default)]
    #[schema(value_type = Vec<crate::openapi::PermissionName>)]
    pub root_permissions: Vec<String>,
}

/// Changes to a user; `status: disabled` stops its tokens at once.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub last_name: Option<String>,
    #[schema(value_type = Option<crate::openapi::UserStatusSchema>)]
    pub status: Option<String>,
    #[schema(value_type = Option<Vec<crate::openapi::PermissionName>>)]
    pub root_permissions: Option<Vec<String>>,
}

/// Lists users (root `users:read`).
#[utoipa::path(get, path = "/v1/users", tag = "users", params(ListParams),
    responses((status = 200, body = UserList), (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<UserList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.users.list(&caller, page).await?;
    Ok(Json(UserList {
        next_page_token: page.next_page_token(),
        users: page.items.iter().map(UserBody::from).collect(),
    }))
}

/// Creates a user (root `users:write`).
#[utoipa::path(post, path = "/v1/users", tag = "users", params(Idempotency), request_body = CreateUserRequest,
    responses((status = 201, body = UserBody), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Body(body): Body<CreateUserRequest>,
) -> Result<axum::response::Response, ApiError> {
    let command = NewUserInput {
        email: body.email,
        first_name: body.first_name,
        last_name: body.last_name,
        root_permissions: body.root_permissions,
    }
    .validate("email", false)
    .map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.users.create(&caller, command, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(UserBody::from(&created.value))), created.replayed))
}

/// Reads a user (root `users:read`, or the caller itself).
#[utoipa::path(get, path = "/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    responses((status = 200, body = UserBody), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<UserBody>, ApiError> {
    let user = state.services.users.get(&caller, path_id(&id)?).await?;
    Ok(Json(UserBody::from(&user)))
}

/// Changes a user (root `users:write`).
#[utoipa::path(patch, path = "/v1/users/{user_id}", tag = "users", params(("user_id" = String, Path)),
    request_body = UpdateUserRequest,
    responses((status = 200, body = UserBody), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, body = Problem, content_type = "application/problem+json")))]
pub async fn update_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Precondition(precondition): Precondition,
    Body(body): Body<UpdateUserRequest>,
) -> Result<Json<UserBody>, ApiError> {
    let id = path_id(&id)?;
    let patch = UserPatchInput {
        first_name: body.first_name,
        last_name: body.last_name,
        status: body.status,
        root_permissions: body.root_permissions,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let user = state.services.users.update(&caller, id, patch, precondition).await?;
    Ok(Json(UserBody::from(&user)))
}
