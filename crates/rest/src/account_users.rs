//! `/v1/accounts/{account_id}/users` (seed 002): the owner and users of an account, adding a
//! user by email, removing one, and resetting a user's MFA.

use accountd_domain::AccountUser;
use accountd_domain::AccountUsers;
use accountd_domain::NewUserInput;
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller, Idempotency, ListParams, Path, Query, mark_replayed, page_request, path_id};
use crate::problem::{ApiError, Problem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts/{account_id}/users", get(list_account_users).post(create_account_user))
        .route("/v1/accounts/{account_id}/users/{user_id}", get(get_account_user).delete(delete_account_user))
        .route("/v1/accounts/{account_id}/users/{user_id}/reset-mfa", post(reset_account_user_mfa))
}

/// A user of an account (seed 002).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountUserBody {
    pub id: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub email_address: String,
    /// The user's roles on this account.
    pub group_memberships: Vec<&'static str>,
    /// `member`, or `invited` until the user accepts.
    pub status: &'static str,
    /// True when the user has an active MFA factor.
    pub mfa_enabled: bool,
}

impl From<&AccountUser> for AccountUserBody {
    fn from(u: &AccountUser) -> Self {
        let name = |n: &Option<accountd_domain::PersonName>| n.as_ref().map(|n| n.as_str().to_owned());
        Self {
            id: u.user.id.to_string(),
            first_name: name(&u.user.first_name),
            last_name: name(&u.user.last_name),
            email_address: u.user.email.to_string(),
            group_memberships: u.member.roles.iter().map(|r| r.as_str()).collect(),
            status: u.member.status.as_str(),
            mfa_enabled: u.mfa_enabled,
        }
    }
}

/// The owner, always apart, and one page of the other users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountUserList {
    /// Null only for an account without an owner.
    pub owner: Option<AccountUserBody>,
    pub users: Vec<AccountUserBody>,
    pub next_page_token: String,
}

impl From<&AccountUsers> for AccountUserList {
    fn from(list: &AccountUsers) -> Self {
        Self {
            owner: list.owner.as_ref().map(AccountUserBody::from),
            users: list.users.items.iter().map(AccountUserBody::from).collect(),
            next_page_token: list.users.next_page_token(),
        }
    }
}

/// A user to add: created when the email is new.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountUserRequest {
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub email_address: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub first_name: Option<String>,
    #[schema(min_length = 1, max_length = 100, pattern = r"\S")]
    pub last_name: Option<String>,
}

/// What a removal answers.
#[derive(Debug, Serialize, ToSchema)]
pub struct DeletedAccountUser {
    /// The removed user's id.
    pub id: String,
}

/// Lists the account's owner and users (`members:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/users", tag = "account users",
    params(("account_id" = String, Path), ListParams),
    responses((status = 200, body = AccountUserList), (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list_account_users(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<AccountUserList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let list = state.services.account_users.list(&caller, path_id(&id)?, page).await?;
    Ok(Json(AccountUserList::from(&list)))
}

/// Invites a user to the account with the default role `member` (`members:write`), creating
/// the user when the email is new: status `invited` until the user accepts (root callers add
/// at once), and the same answer whether the email was known — the email as typed, no names
/// or MFA state.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/users", tag = "account users",
    params(("account_id" = String, Path), Idempotency), request_body = CreateAccountUserRequest,
    responses((status = 201, body = AccountUserBody), (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_account_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(id): Path<String>,
    Body(body): Body<CreateAccountUserRequest>,
) -> Result<axum::response::Response, ApiError> {
    let account = path_id(&id)?;
    let command = NewUserInput {
        email: body.email_address,
        first_name: body.first_name,
        last_name: body.last_name,
        root_permissions: Vec::new(),
    }
    .validate("email_address", true)
    .map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.account_users.create(&caller, account, command, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(AccountUserBody::from(&created.value))), created.replayed))
}

/// Reads a user of the account, the owner included (`members:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/users/{user_id}", tag = "account users",
    params(("account_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = AccountUserBody), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_account_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
) -> Result<Json<AccountUserBody>, ApiError> {
    let user = state.services.account_users.get(&caller, path_id(&account)?, path_id(&user)?).await?;
    Ok(Json(AccountUserBody::from(&user)))
}

/// Removes a user from the account (`members:write`); the owner: 422.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/users/{user_id}", tag = "account users",
    params(("account_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 200, body = DeletedAccountUser), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_account_user(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
) -> Result<Json<DeletedAccountUser>, ApiError> {
    let user = path_id(&user)?;
    state.services.account_users.delete(&caller, path_id(&account)?, user).await?;
    Ok(Json(DeletedAccountUser { id: user.to_string() }))
}

/// Clears every MFA factor of a user of the account (`users:mfa_reset`); the owner: 422.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/users/{user_id}/reset-mfa", tag = "account users",
    params(("account_id" = String, Path), ("user_id" = String, Path)),
    responses((status = 204, description = "every factor removed"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn reset_account_user_mfa(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, user)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.account_users.reset_mfa(&caller, path_id(&account)?, path_id(&user)?).await?;
    Ok(StatusCode::NO_CONTENT)
}
