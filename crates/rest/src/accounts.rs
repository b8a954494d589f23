//! `/v1/accounts`: list, create, read, update (PATCH, `If-Match`) and delete accounts.

use accountd_domain::{
    Account, AccountCreated, AccountPatchInput, AccountProfile, AccountProfileInput, NewAccountInput,
};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::response::Response;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{
    Body, Caller, Idempotency, ListParams, Path, Precondition, Query, argument_id, mark_replayed, page_request,
    path_id, with_etag,
};
use crate::openapi::{AccountStatusSchema, AccountTypeSchema};
use crate::problem::{ApiError, Problem};
use crate::views::AliasBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts", get(list_accounts).post(create_account))
        .route("/v1/accounts/{account_id}", get(get_account).patch(update_account).delete(delete_account))
        .route("/v1/accounts/{account_id}/move", axum::routing::post(move_account))
        .route("/v1/accounts/{account_id}/profile", get(get_profile).put(update_profile))
}

/// An account (tenant).
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountBody {
    pub id: String,
    pub name: String,
    #[serde(rename = "type")]
    #[schema(value_type = AccountTypeSchema)]
    pub account_type: &'static str,
    #[schema(value_type = AccountStatusSchema)]
    pub status: &'static str,
    /// The owning user, once users exist; null for callers without root `users:read` when
    /// the owner is a root user (the platform).
    pub owner_id: Option<String>,
    /// The parent account, if any: the last entry of `hierarchy`.
    pub parent_id: Option<String>,
    /// Ancestor account ids, root first.
    pub hierarchy: Vec<String>,
    pub settings: SettingsBody,
    /// Increments with every change; the `ETag` header carries it quoted.
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Only in the response of a creation that asked for one: the primary alias.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_alias: Option<AliasBody>,
}

/// Account settings.
#[derive(Debug, Serialize, ToSchema)]
pub struct SettingsBody {
    pub abuse_contact_email: Option<String>,
    pub enforce_twofactor: bool,
}

impl From<&Account> for AccountBody {
    fn from(a: &Account) -> Self {
        Self {
            id: a.id.to_string(),
            name: a.name.to_string(),
            account_type: a.account_type.as_str(),
            status: a.status.as_str(),
            owner_id: a.owner_id.map(|id| id.to_string()),
            parent_id: a.parent_id().map(|id| id.to_string()),
            hierarchy: a.hierarchy.iter().map(ToString::to_string).collect(),
            settings: SettingsBody {
                abuse_contact_email: a.settings.abuse_contact_email.as_ref().map(ToString::to_string),
                enforce_twofactor: a.settings.enforce_twofactor,
            },
            version: a.version.get(),
            created_at: a.created_at,
            updated_at: a.updated_at,
            primary_alias: None,
        }
    }
}

/// One page of accounts.
#[derive(Debug, Serialize, ToSchema)]
pub struct AccountList {
    pub accounts: Vec<AccountBody>,
    /// Pass as `page_token` to get the next page; empty when there are no more pages.
    pub next_page_token: String,
}

/// Lists only the children of `parent_id`, when given.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ChildrenFilter {
    pub parent_id: Option<String>,
}

/// A new account.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAccountRequest {
    /// 1–100 characters after trimming.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// Defaults to `standard`.
    #[serde(rename = "type")]
    #[schema(value_type = Option<AccountTypeSchema>)]
    pub account_type: Option<String>,
    /// Creates the account under this container account (enterprise, business_manager, agency).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<String>,
    /// The owning user; the caller when absent. Naming another user needs a root caller.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub owner_id: Option<String>,
    pub settings: Option<SettingsRequest>,
    /// With `domain_id`: creates the primary alias `local_part@domain` in the same
    /// transaction (seed 000). If the alias is refused, no account is created.
    #[schema(min_length = 1, max_length = 64)]
    pub local_part: Option<String>,
    /// An active domain from `/v1/domains`.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub domain_id: Option<String>,
}

/// Settings to set; absent fields keep their value.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SettingsRequest {
    /// `null` or an empty string clears it.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>, max_length = 254, pattern = "^$|@")]
    pub abuse_contact_email: Option<Option<String>>,
    pub enforce_twofactor: Option<bool>,
}

/// The business behind an account (seed 004). On PUT the profile is replaced whole:
/// absent fields are cleared.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProfileBody {
    /// At most 100 characters.
    #[schema(max_length = 100)]
    pub business_name: Option<String>,
    /// At most 500 characters.
    #[schema(max_length = 500)]
    pub business_address: Option<String>,
    #[schema(max_length = 254, pattern = "^$|@")]
    pub business_email: Option<String>,
    /// Digits, spaces and `+ - ( ) .`; at most 32 characters.
    #[schema(max_length = 32, pattern = r"^[0-9 +\-().]*$")]
    pub business_phone: Option<String>,
    /// Free text for the product's own use; at most 4096 characters.
    #[schema(max_length = 4096)]
    pub external_metadata: Option<String>,
}

impl From<&AccountProfile> for ProfileBody {
    fn from(p: &AccountProfile) -> Self {
        Self {
            business_name: p.business_name.clone(),
            business_address: p.business_address.clone(),
            business_email: p.business_email.as_ref().map(ToString::to_string),
            business_phone: p.business_phone.clone(),
            external_metadata: p.external_metadata.clone(),
        }
    }
}

/// Where to move an account (seed 004 "Move account").
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveAccountRequest {
    /// The new parent, a container account; `null` or absent makes the account top-level.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub parent_id: Option<String>,
}

/// Changes to an account; absent fields keep their value. The type is fixed at creation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAccountRequest {
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = String, min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    #[schema(value_type = AccountStatusSchema)]
    pub status: Option<String>,
    pub settings: Option<SettingsRequest>,
}

/// Refuses `null` for a field that can be absent (keep) but not cleared.
fn not_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(deserializer)?
        .map(Some)
        .ok_or_else(|| serde::de::Error::custom("must not be null; leave the field out to keep its value"))
}

/// Tells a JSON `null` (clear) from an absent field (keep).
fn nullable<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<Option<String>>, D::Error> {
    Option::<String>::deserialize(deserializer).map(Some)
}

impl SettingsRequest {
    /// The wire form of "clear" (`null`) becomes the domain input's empty string.
    fn abuse_contact_email(&self) -> Option<String> {
        self.abuse_contact_email.clone().map(Option::unwrap_or_default)
    }
}

/// The account with its `ETag`.
fn account_answer(account: &Account) -> Response {
    with_etag(StatusCode::OK, account.version, AccountBody::from(account))
}

/// `body`, a new account's representation, with its `ETag` and `Location`.
fn created_answer(account: &Account, body: AccountBody) -> Response {
    let mut response = with_etag(StatusCode::CREATED, account.version, body);
    if let Ok(uri) = HeaderValue::from_str(&format!("/v1/accounts/{}", account.id)) {
        response.headers_mut().insert(LOCATION, uri);
    }
    response
}

/// Lists accounts in creation order.
#[utoipa::path(
    get,
    path = "/v1/accounts",
    tag = "accounts",
    params(ListParams, ChildrenFilter),
    responses(
        (status = 200, body = AccountList),
        (status = 422, description = "bad page_size or page_token", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_accounts(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(params): Query<ListParams>,
    Query(filter): Query<ChildrenFilter>,
) -> Result<Json<AccountList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = match filter.parent_id.filter(|p| !p.is_empty()) {
        None => state.services.accounts.list(&caller, page).await?,
        Some(parent) => {
            let parent = argument_id(&parent, "parent_id")?;
            state.services.accounts.list_children(&caller, parent, page).await?
        }
    };
    Ok(Json(AccountList {
        next_page_token: page.next_page_token(),
        accounts: page.items.iter().map(AccountBody::from).collect(),
    }))
}

/// Creates an account.
#[utoipa::path(
    post,
    path = "/v1/accounts",
    tag = "accounts",
    params(Idempotency),
    request_body = CreateAccountRequest,
    responses(
        (status = 201, body = AccountBody, headers(("ETag" = String), ("Location" = String), ("Idempotent-Replayed" = String, description = "true on a replay"))),
        (status = 422, description = "invalid input, or a parent that cannot take the account", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn create_account(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Body(body): Body<CreateAccountRequest>,
) -> Result<Response, ApiError> {
    let settings = body.settings.unwrap_or_default();
    let command = NewAccountInput {
        name: body.name,
        account_type: body.account_type,
        parent_id: body.parent_id,
        owner_id: body.owner_id,
        abuse_contact_email: settings.abuse_contact_email(),
        enforce_twofactor: settings.enforce_twofactor,
        local_part: body.local_part,
        domain_id: body.domain_id,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.accounts.create(&caller, command, key).await?;
    let AccountCreated { account, primary_alias } = &created.value;
    let body = AccountBody { primary_alias: primary_alias.as_ref().map(AliasBody::from), ..AccountBody::from(account) };
    Ok(mark_replayed(created_answer(account, body), created.replayed))
}

/// Reads an account.
#[utoipa::path(
    get,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = String, Path)),
    responses(
        (status = 200, body = AccountBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn get_account(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let account = state.services.accounts.get(&caller, path_id(&id)?).await?;
    Ok(account_answer(&account))
}

/// Changes an account's name, status or settings.
#[utoipa::path(
    patch,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag last read")),
    request_body = UpdateAccountRequest,
    responses(
        (status = 200, body = AccountBody, headers(("ETag" = String))),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn update_account(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Precondition(precondition): Precondition,
    Body(body): Body<UpdateAccountRequest>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let settings = body.settings.unwrap_or_default();
    let patch = AccountPatchInput {
        name: body.name,
        status: body.status,
        abuse_contact_email: settings.abuse_contact_email(),
        enforce_twofactor: settings.enforce_twofactor,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let account = state.services.accounts.update(&caller, id, patch, precondition).await?;
    Ok(account_answer(&account))
}

/// Deletes an account with its members and credentials; child accounts become top-level.
/// Its audit events remain.
#[utoipa::path(
    delete,
    path = "/v1/accounts/{account_id}",
    tag = "accounts",
    params(("account_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag last read")),
    responses(
        (status = 204, description = "deleted"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "If-Match does not match", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn delete_account(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Precondition(precondition): Precondition,
) -> Result<StatusCode, ApiError> {
    state.services.accounts.delete(&caller, path_id(&id)?, precondition).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Moves an account and its whole subtree under another container account, or to the top
/// level. Needs `accounts:write` on the account, its old parent and the new one.
#[utoipa::path(
    post,
    path = "/v1/accounts/{account_id}/move",
    tag = "accounts",
    params(("account_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the ETag last read")),
    request_body = MoveAccountRequest,
    responses(
        (status = 200, body = AccountBody, headers(("ETag" = String))),
        (status = 422, description = "a cycle, too deep, or not a container", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn move_account(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Precondition(precondition): Precondition,
    Body(body): Body<MoveAccountRequest>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let parent = match body.parent_id.filter(|p| !p.is_empty()) {
        None => None,
        Some(p) => Some(argument_id(&p, "parent_id")?),
    };
    let account = state.services.accounts.move_account(&caller, id, parent, precondition).await?;
    Ok(account_answer(&account))
}

/// The account's profile (`accounts:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/profile", tag = "accounts", params(("account_id" = String, Path)),
    responses((status = 200, body = ProfileBody), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_profile(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<ProfileBody>, ApiError> {
    let profile = state.services.accounts.get_profile(&caller, path_id(&id)?).await?;
    Ok(Json(ProfileBody::from(&profile)))
}

/// Replaces the account's profile (`accounts:write`).
#[utoipa::path(put, path = "/v1/accounts/{account_id}/profile", tag = "accounts",
    params(("account_id" = String, Path), ("If-Match" = Option<String>, Header, description = "the account's ETag")),
    request_body = ProfileBody,
    responses((status = 200, body = ProfileBody), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn update_profile(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Precondition(precondition): Precondition,
    Body(body): Body<ProfileBody>,
) -> Result<Response, ApiError> {
    let id = path_id(&id)?;
    let profile = AccountProfileInput {
        business_name: body.business_name,
        business_address: body.business_address,
        business_email: body.business_email,
        business_phone: body.business_phone,
        external_metadata: body.external_metadata,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let account = state.services.accounts.update_profile(&caller, id, profile, precondition).await?;
    Ok(with_etag(StatusCode::OK, account.version, ProfileBody::from(&account.profile)))
}
