//! `/v1/accounts/{account_id}/tokens` (seed 004): API tokens, their verification, permission
//! groups and rolling. Secrets appear only in the create and roll responses.

use accountd_domain::{Permission, WithSecret};
use accountd_domain::{PolicyInput, Token, TokenInput, TokenSecret};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, put};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller, Idempotency, ListParams, Path, Query, mark_replayed, page_request, path_id};
use crate::problem::{ApiError, Problem};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/accounts/{account_id}/tokens", get(list_tokens).post(create_token))
        .route("/v1/accounts/{account_id}/tokens/verify", get(verify_token))
        .route("/v1/accounts/{account_id}/tokens/permission_groups", get(permission_groups))
        .route("/v1/accounts/{account_id}/tokens/{token_id}", get(get_token).put(update_token).delete(delete_token))
        .route("/v1/accounts/{account_id}/tokens/{token_id}/value", put(roll_token))
        .route("/v1/users/{user_id}/tokens", get(list_platform_tokens).post(create_platform_token))
        .route("/v1/users/{user_id}/tokens/{token_id}", axum::routing::delete(delete_platform_token))
        .route("/v1/users/{user_id}/tokens/{token_id}/value", put(roll_platform_token))
}

/// A token policy.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct PolicyBody {
    /// `allow` (default) or `deny`.
    #[schema(value_type = Option<crate::openapi::PolicyEffectSchema>)]
    pub effect: Option<String>,
    /// Permission names, e.g. `accounts:read`.
    #[schema(min_items = 1, value_type = Vec<crate::openapi::PermissionName>)]
    pub permission_groups: Vec<String>,
    /// Account ids (each with its descendants); empty means the token's account.
    #[serde(default)]
    #[schema(max_items = 100)]
    pub resources: Vec<String>,
}

/// IP ranges a request must (`in`) or must not (`not_in`) come from.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct RequestIpBody {
    #[serde(rename = "in")]
    pub ip_in: Option<Vec<String>>,
    pub not_in: Option<Vec<String>>,
}

/// Request conditions.
#[derive(Debug, Default, Serialize, Deserialize, ToSchema)]
pub struct ConditionBody {
    pub request_ip: Option<RequestIpBody>,
}

/// An API token; never its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenBody {
    pub id: String,
    pub name: String,
    pub account_id: Option<String>,
    /// The user the token acts for; `null` when a tenant reads a root user's token (the
    /// platform's ids are not shown to tenants).
    pub user_id: Option<String>,
    /// `active`, `disabled` or `expired`.
    pub status: &'static str,
    pub policies: Vec<PolicyBody>,
    pub condition: ConditionBody,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_on: Option<DateTime<Utc>>,
    /// The prefix and last four characters, to recognise the token by.
    pub hint: String,
    pub last_used_on: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Token> for TokenBody {
    fn from(t: &Token) -> Self {
        let strings = |nets: &[ipnet::IpNet]| Some(nets.iter().map(ToString::to_string).collect());
        Self {
            id: t.id.to_string(),
            name: t.name.as_str().to_owned(),
            account_id: t.account_id.map(|a| a.to_string()),
            user_id: (!t.user_hidden).then(|| t.user_id.to_string()),
            status: t.status.as_str(),
            policies: t
                .policies
                .iter()
                .map(|p| PolicyBody {
                    effect: Some(p.effect.as_str().to_owned()),
                    permission_groups: p.permissions.names().into_iter().map(str::to_owned).collect(),
                    resources: p.resources.iter().map(ToString::to_string).collect(),
                })
                .collect(),
            condition: ConditionBody {
                request_ip: Some(RequestIpBody {
                    ip_in: strings(&t.condition.ip_in),
                    not_in: strings(&t.condition.ip_not_in),
                }),
            },
            not_before: t.not_before,
            expires_on: t.expires_on,
            hint: t.hint.clone(),
            last_used_on: t.last_used_on,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

/// A new token with its secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct CreatedToken {
    #[serde(flatten)]
    pub token: TokenBody,
    /// The secret. Save it now: it will not be shown again. `null` on an idempotent replay
    /// of the creation, which neither shows it again nor makes a new one (roll the token if
    /// the first answer was lost).
    pub value: Option<String>,
    /// True on an idempotent replay (`Idempotent-Replayed: true`): `value` is omitted.
    pub secret_omitted: bool,
}

impl From<&WithSecret<Token, TokenSecret>> for CreatedToken {
    fn from(created: &WithSecret<Token, TokenSecret>) -> Self {
        Self {
            token: TokenBody::from(&created.resource),
            value: created.secret.as_ref().map(|s| s.expose().to_owned()),
            secret_omitted: created.secret.is_none(),
        }
    }
}

/// A rolled token's new secret, shown this once.
#[derive(Serialize, ToSchema)]
pub struct TokenValue {
    pub value: String,
}

// The secrets are serialized for their one showing, and never printed in a log line.
impl std::fmt::Debug for CreatedToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CreatedToken").field("token", &self.token).field("value", &"***").finish()
    }
}

impl std::fmt::Debug for TokenValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenValue(***)")
    }
}

/// One page of tokens.
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenList {
    pub tokens: Vec<TokenBody>,
    pub next_page_token: String,
}

/// What `verify` says of the calling token.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedToken {
    pub id: String,
    pub status: &'static str,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_on: Option<DateTime<Utc>>,
}

/// A permission a policy can name.
#[derive(Debug, Serialize, ToSchema)]
pub struct PermissionGroup {
    pub id: &'static str,
    pub name: String,
    pub scopes: Vec<&'static str>,
}

/// A new token's fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenRequest {
    #[schema(value_type = String, required = true, min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// Whose token it is (create only; the caller by default; others need a root caller).
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    /// `active` or `disabled`.
    #[schema(value_type = Option<crate::openapi::TokenStatusSchema>)]
    pub status: Option<String>,
    pub policies: Option<Vec<PolicyBody>>,
    pub condition: Option<ConditionBody>,
    /// RFC 3339; an empty string clears.
    pub not_before: Option<String>,
    pub expires_on: Option<String>,
}

/// Token fields to change; absent fields keep their value (every field is optional).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TokenUpdate {
    #[schema(value_type = Option<String>, min_length = 1, max_length = 100, pattern = r"\S")]
    pub name: Option<String>,
    /// A token's user cannot change: when given, it must be the token's own user.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    /// `active` or `disabled`.
    #[schema(value_type = Option<crate::openapi::TokenStatusSchema>)]
    pub status: Option<String>,
    pub policies: Option<Vec<PolicyBody>>,
    pub condition: Option<ConditionBody>,
    /// RFC 3339; an empty string clears.
    pub not_before: Option<String>,
    pub expires_on: Option<String>,
}

impl From<TokenUpdate> for TokenRequest {
    fn from(u: TokenUpdate) -> Self {
        Self {
            name: u.name,
            user_id: u.user_id,
            status: u.status,
            policies: u.policies,
            condition: u.condition,
            not_before: u.not_before,
            expires_on: u.expires_on,
        }
    }
}

impl TokenRequest {
    fn into_input(self) -> TokenInput {
        let ip = self.condition.and_then(|c| c.request_ip).unwrap_or_default();
        TokenInput {
            name: self.name,
            user_id: self.user_id,
            status: self.status,
            policies: self.policies.map(|ps| {
                ps.into_iter()
                    .map(|p| PolicyInput {
                        effect: p.effect,
                        permission_groups: p.permission_groups,
                        resources: p.resources,
                    })
                    .collect()
            }),
            ip_in: ip.ip_in,
            ip_not_in: ip.not_in,
            not_before: self.not_before,
            expires_on: self.expires_on,
        }
    }
}

/// Lists tokens (`tokens:read`); callers without `members:write` see only their own.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/tokens", tag = "tokens",
    params(("account_id" = String, Path), ListParams), responses((status = 200, body = TokenList)))]
pub async fn list_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<TokenList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.tokens.list(&caller, path_id(&id)?, page).await?;
    Ok(Json(TokenList {
        next_page_token: page.next_page_token(),
        tokens: page.items.iter().map(TokenBody::from).collect(),
    }))
}

/// Creates a token (`tokens:write`); the response carries its secret, once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/tokens", tag = "tokens",
    params(("account_id" = String, Path), Idempotency), request_body = TokenRequest,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(id): Path<String>,
    Body(body): Body<TokenRequest>,
) -> Result<axum::response::Response, ApiError> {
    let account = path_id(&id)?;
    let fields = body.into_input().validate().map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.tokens.create(&caller, account, fields, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(CreatedToken::from(&created.value))), created.replayed))
}

/// Reads a token (`tokens:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/tokens/{token_id}", tag = "tokens",
    params(("account_id" = String, Path), ("token_id" = String, Path)), responses((status = 200, body = TokenBody)))]
pub async fn get_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, token)): Path<(String, String)>,
) -> Result<Json<TokenBody>, ApiError> {
    let token = state.services.tokens.get(&caller, path_id(&account)?, path_id(&token)?).await?;
    Ok(Json(TokenBody::from(&token)))
}

/// Changes a token (`tokens:write`).
#[utoipa::path(put, path = "/v1/accounts/{account_id}/tokens/{token_id}", tag = "tokens",
    params(("account_id" = String, Path), ("token_id" = String, Path)), request_body = TokenUpdate,
    responses((status = 200, body = TokenBody)))]
pub async fn update_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, token)): Path<(String, String)>,
    Body(body): Body<TokenUpdate>,
) -> Result<Json<TokenBody>, ApiError> {
    let (account, token) = (path_id(&account)?, path_id(&token)?);
    let fields = TokenRequest::from(body).into_input().validate().map_err(|e| ApiError::invalid(&e))?;
    let token = state.services.tokens.update(&caller, account, token, fields).await?;
    Ok(Json(TokenBody::from(&token)))
}

/// Deletes a token (`tokens:write`).
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/tokens/{token_id}", tag = "tokens",
    params(("account_id" = String, Path), ("token_id" = String, Path)), responses((status = 204, description = "deleted")))]
pub async fn delete_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.tokens.delete(&caller, path_id(&account)?, path_id(&token)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a token's secret (`tokens:write`); the old one stops working at once.
#[utoipa::path(put, path = "/v1/accounts/{account_id}/tokens/{token_id}/value", tag = "tokens",
    params(("account_id" = String, Path), ("token_id" = String, Path)), responses((status = 200, body = TokenValue)))]
pub async fn roll_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, token)): Path<(String, String)>,
) -> Result<Json<TokenValue>, ApiError> {
    let issued = state.services.tokens.roll(&caller, path_id(&account)?, path_id(&token)?).await?;
    Ok(Json(TokenValue { value: issued.secret.expose().to_owned() }))
}

/// The calling token's id, status and validity window.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/tokens/verify", tag = "tokens",
    params(("account_id" = String, Path)), responses((status = 200, body = VerifiedToken)))]
pub async fn verify_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<VerifiedToken>, ApiError> {
    let token = state.services.tokens.verify(&caller, path_id(&id)?).await?;
    Ok(Json(VerifiedToken {
        id: token.id.to_string(),
        status: token.status.as_str(),
        not_before: token.not_before,
        expires_on: token.expires_on,
    }))
}

/// The permissions a policy can name.
#[utoipa::path(get, path = "/v1/accounts/{account_id}/tokens/permission_groups", tag = "tokens",
    params(("account_id" = String, Path)), responses((status = 200, body = Vec<PermissionGroup>)))]
pub async fn permission_groups(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
) -> Result<Json<Vec<PermissionGroup>>, ApiError> {
    let groups = state.services.tokens.permission_groups(&caller, path_id(&id)?).await?;
    Ok(Json(
        groups
            .into_iter()
            .map(|p: Permission| PermissionGroup { id: p.as_str(), name: p.title(), scopes: vec!["account"] })
            .collect(),
    ))
}

/// A root user's platform tokens (root `users:write`).
#[utoipa::path(get, path = "/v1/users/{user_id}/tokens", tag = "tokens",
    params(("user_id" = String, Path), ListParams), responses((status = 200, body = TokenList)))]
pub async fn list_platform_tokens(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<ListParams>,
) -> Result<Json<TokenList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.tokens.list_platform(&caller, path_id(&id)?, page).await?;
    Ok(Json(TokenList {
        next_page_token: page.next_page_token(),
        tokens: page.items.iter().map(TokenBody::from).collect(),
    }))
}

/// A new platform token (bound to no account) for a root user; its secret is shown once.
#[utoipa::path(post, path = "/v1/users/{user_id}/tokens", tag = "tokens",
    params(("user_id" = String, Path), Idempotency), request_body = TokenRequest,
    responses((status = 201, body = CreatedToken), (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_platform_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(id): Path<String>,
    Body(body): Body<TokenRequest>,
) -> Result<axum::response::Response, ApiError> {
    let user = path_id(&id)?;
    let fields = body.into_input().validate().map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.tokens.create_platform(&caller, user, fields, key).await?;
    Ok(mark_replayed((StatusCode::CREATED, Json(CreatedToken::from(&created.value))), created.replayed))
}

/// Revokes a platform token, the bootstrap one included.
#[utoipa::path(delete, path = "/v1/users/{user_id}/tokens/{token_id}", tag = "tokens",
    params(("user_id" = String, Path), ("token_id" = String, Path)), responses((status = 204, description = "deleted")))]
pub async fn delete_platform_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((user, token)): Path<(String, String)>,
) -> Result<StatusCode, ApiError> {
    state.services.tokens.delete_platform(&caller, path_id(&user)?, path_id(&token)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces a platform token's secret; the old one stops working at once.
#[utoipa::path(put, path = "/v1/users/{user_id}/tokens/{token_id}/value", tag = "tokens",
    params(("user_id" = String, Path), ("token_id" = String, Path)), responses((status = 200, body = TokenValue)))]
pub async fn roll_platform_token(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((user, token)): Path<(String, String)>,
) -> Result<Json<TokenValue>, ApiError> {
    let issued = state.services.tokens.roll_platform(&caller, path_id(&user)?, path_id(&token)?).await?;
    Ok(Json(TokenValue { value: issued.secret.expose().to_owned() }))
}
