//! `/v1/domains`, `/v1/aliases`, `/v1/accounts/{account_id}/aliases` and
//! `/v1/mailbox-auth` (seeds 000 and 001): managed domains, email aliases with their
//! mailbox passwords, and mailbox authentication for mail servers.

use accountd_domain::{
    Alias, AliasPatchInput, AliasWithPassword, Domain, DomainRef, DomainStatus, FieldError, MailboxPassword,
    NewAliasInput, NewDomainInput, PASSWORD_NOTE, REPLAY_PASSWORD_NOTE, UserId, ValidationErrors, WithSecret,
};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use chrono::{DateTime, Utc};
use secrecy::SecretString;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::AppState;
use crate::extract::{
    Body, Caller, Idempotency, ListParams, Path, Precondition, Query, argument_id, mark_replayed, page_request,
    path_id, with_etag,
};
use crate::problem::{ApiError, Problem};
use crate::views::AliasBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/domains", get(list_domains).post(create_domain))
        .route("/v1/domains/{domain}", get(get_domain).patch(update_domain).delete(delete_domain))
        .route("/v1/domains/{domain}/aliases", get(list_domain_aliases))
        .route("/v1/aliases", get(list_aliases))
        .route("/v1/accounts/{account_id}/aliases", get(list_account_aliases).post(create_alias))
        .route(
            "/v1/accounts/{account_id}/aliases/{alias_id}",
            get(get_alias).patch(update_alias).put(update_alias).delete(delete_alias),
        )
        .route("/v1/accounts/{account_id}/aliases/{alias_id}/password/reset", post(reset_password))
        .route("/v1/mailbox-auth", post(mailbox_auth))
}

/// A managed domain.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainBody {
    pub id: String,
    /// Lower-case FQDN.
    pub name: String,
    /// pending, active or disabled; aliases are created only on active domains.
    pub status: &'static str,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Domain> for DomainBody {
    fn from(d: &Domain) -> Self {
        Self {
            id: d.id.to_string(),
            name: d.name.to_string(),
            status: d.status.as_str(),
            version: d.version.get(),
            created_at: d.created_at,
            updated_at: d.updated_at,
        }
    }
}

/// An alias with the mailbox password it was just given: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasWithPasswordBody {
    pub alias: AliasBody,
    /// The mailbox password; `null` on an idempotent replay of the creation, which does not
    /// show it again (reset the password if the first answer was lost).
    pub password: Option<String>,
    /// True on an idempotent replay (`Idempotent-Replayed: true`): `password` is omitted.
    pub secret_omitted: bool,
    /// "Save this password now. It will not be shown again." (on a replay: why it is omitted)
    pub note: &'static str,
}

impl AliasWithPasswordBody {
    fn new(alias: &Alias, password: Option<&MailboxPassword>) -> Self {
        Self {
            alias: AliasBody::from(alias),
            password: password.map(|p| p.expose().to_owned()),
            secret_omitted: password.is_none(),
            note: if password.is_some() { PASSWORD_NOTE } else { REPLAY_PASSWORD_NOTE },
        }
    }
}

impl From<&AliasWithPassword> for AliasWithPasswordBody {
    fn from(created: &AliasWithPassword) -> Self {
        Self::new(&created.alias, Some(&created.password))
    }
}

/// One page of domains.
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainList {
    pub domains: Vec<DomainBody>,
    pub next_page_token: String,
}

/// One page of aliases.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasList {
    pub aliases: Vec<AliasBody>,
    pub next_page_token: String,
}

/// One page of a domain's aliases, with the domain (seed 001).
#[derive(Debug, Serialize, ToSchema)]
pub struct DomainAliasList {
    pub domain: DomainBody,
    pub aliases: Vec<AliasBody>,
    pub next_page_token: String,
}

/// A new domain.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateDomainRequest {
    /// A fully qualified domain name; stored lower-case.
    #[schema(
        value_type = String,
        required = true,
        max_length = 253,
        pattern = r"^([A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.)+[A-Za-z]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?\.?$"
    )]
    pub name: Option<String>,
    /// pending (default), active or disabled.
    #[schema(value_type = Option<crate::openapi::DomainStatusSchema>)]
    pub status: Option<String>,
}

/// A domain's new status.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateDomainRequest {
    /// pending, active or disabled.
    #[schema(value_type = Option<crate::openapi::DomainStatusSchema>)]
    pub status: Option<String>,
}

/// A new alias.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CreateAliasRequest {
    /// RFC 5321 dot-atom, at most 64 characters; stored lower-case.
    #[schema(value_type = String, required = true, min_length = 1, max_length = 64)]
    pub local_part: Option<String>,
    /// The domain's name (seed 001); or give `domain_id`.
    pub domain: Option<String>,
    #[schema(value_type = Option<String>, format = Uuid)]
    pub domain_id: Option<String>,
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// A member of the account the alias is assigned to.
    #[schema(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    /// At least 12 characters mixing three character classes (or at least 20); generated
    /// when absent.
    #[schema(value_type = Option<String>, format = Password, min_length = 12, max_length = 128)]
    pub password: Option<SecretString>,
}

/// Alias fields to change; absent fields keep their value.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateAliasRequest {
    /// An empty string clears it.
    #[schema(max_length = 100)]
    pub display_name: Option<String>,
    /// active or disabled.
    #[schema(value_type = Option<crate::openapi::AliasStatusSchema>)]
    pub status: Option<String>,
}

/// A password reset: the new password, or none to have one generated.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ResetPasswordRequest {
    #[schema(value_type = Option<String>, format = Password, min_length = 12, max_length = 128)]
    pub password: Option<SecretString>,
}

/// Credentials a mail server checks.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MailboxAuthRequest {
    #[schema(value_type = String, required = true, format = Email, max_length = 254)]
    pub address: Option<String>,
    #[schema(value_type = String, required = true, format = Password)]
    pub password: Option<SecretString>,
}

/// A successful mailbox authentication.
#[derive(Debug, Serialize, ToSchema)]
pub struct MailboxAuthBody {
    pub ok: bool,
    pub alias_id: String,
    pub account_id: String,
    pub address: String,
}

/// Filters of alias listings.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AliasFilterParams {
    /// Only aliases assigned to this user.
    #[param(value_type = Option<String>, format = Uuid)]
    pub user_id: Option<String>,
    /// Only aliases on this domain (name or id).
    pub domain: Option<String>,
    #[param(value_type = Option<i32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    pub page_token: Option<String>,
}

fn invalid(e: FieldError) -> ApiError {
    ApiError::invalid(&ValidationErrors::from(e))
}

fn domain_ref(raw: &str, field: &str) -> Result<DomainRef, ApiError> {
    DomainRef::parse(raw, field).map_err(invalid)
}

fn user_filter(raw: Option<&str>) -> Result<Option<UserId>, ApiError> {
    raw.map(str::trim).filter(|s| !s.is_empty()).map(|u| argument_id(u, "user_id")).transpose()
}

/// A response holding a mailbox password: never stored by caches.
fn with_password(status: StatusCode, alias: &Alias, password: Option<&MailboxPassword>) -> Response {
    let mut response = with_etag(status, alias.version, AliasWithPasswordBody::new(alias, password));
    response.headers_mut().insert(axum::http::header::CACHE_CONTROL, axum::http::HeaderValue::from_static("no-store"));
    response
}

/// The managed domains (any authenticated caller).
#[utoipa::path(get, path = "/v1/domains", tag = "aliases", params(ListParams), responses((status = 200, body = DomainList)))]
pub async fn list_domains(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(params): Query<ListParams>,
) -> Result<Json<DomainList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let page = state.services.domains.list(&caller, page).await?;
    Ok(Json(DomainList {
        next_page_token: page.next_page_token(),
        domains: page.items.iter().map(DomainBody::from).collect(),
    }))
}

/// Adds a managed domain (root `domains:write`).
#[utoipa::path(post, path = "/v1/domains", tag = "aliases", params(Idempotency), request_body = CreateDomainRequest,
    responses((status = 201, body = DomainBody), (status = 409, description = "the domain exists", body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn create_domain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Body(body): Body<CreateDomainRequest>,
) -> Result<Response, ApiError> {
    let command =
        NewDomainInput { name: body.name, status: body.status }.validate().map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.domains.create(&caller, command, key).await?;
    let response = with_etag(StatusCode::CREATED, created.value.version, DomainBody::from(&created.value));
    Ok(mark_replayed(response, created.replayed))
}

/// One domain, by id or name.
#[utoipa::path(get, path = "/v1/domains/{domain}", tag = "aliases", params(("domain" = String, Path, description = "id or name")),
    responses((status = 200, body = DomainBody, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_domain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(domain): Path<String>,
) -> Result<Response, ApiError> {
    let found = state.services.domains.get(&caller, &domain_ref(&domain, "domain")?).await?;
    Ok(with_etag(StatusCode::OK, found.version, DomainBody::from(&found)))
}

/// Changes a domain's status (root `domains:write`).
#[utoipa::path(patch, path = "/v1/domains/{domain}", tag = "aliases",
    params(("domain" = String, Path, description = "id or name"), ("If-Match" = Option<String>, Header)),
    request_body = UpdateDomainRequest, responses((status = 200, body = DomainBody, headers(("ETag" = String)))))]
pub async fn update_domain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(domain): Path<String>,
    Precondition(precondition): Precondition,
    Body(body): Body<UpdateDomainRequest>,
) -> Result<Response, ApiError> {
    let domain = domain_ref(&domain, "domain")?;
    let status = DomainStatus::parse(body.status.as_deref().unwrap_or_default()).map_err(invalid)?;
    let updated = state.services.domains.update_status(&caller, &domain, status, precondition).await?;
    Ok(with_etag(StatusCode::OK, updated.version, DomainBody::from(&updated)))
}

/// Deletes a domain no alias uses (root `domains:write`); 422 while aliases use it.
#[utoipa::path(delete, path = "/v1/domains/{domain}", tag = "aliases",
    params(("domain" = String, Path, description = "id or name"), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "deleted"), (status = 422, description = "aliases use the domain", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_domain(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(domain): Path<String>,
    Precondition(precondition): Precondition,
) -> Result<StatusCode, ApiError> {
    state.services.domains.delete(&caller, &domain_ref(&domain, "domain")?, precondition).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// A domain's aliases in every account the caller may read aliases of (seed 001's list by
/// domain).
#[utoipa::path(get, path = "/v1/domains/{domain}/aliases", tag = "aliases",
    params(("domain" = String, Path, description = "id or name"), AliasFilterParams),
    responses((status = 200, body = DomainAliasList)))]
pub async fn list_domain_aliases(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(domain): Path<String>,
    Query(params): Query<AliasFilterParams>,
) -> Result<Json<DomainAliasList>, ApiError> {
    let domain = domain_ref(&domain, "domain")?;
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let user = user_filter(params.user_id.as_deref())?;
    let (domain, page) = state.services.aliases.list(&caller, Some(&domain), user, page).await?;
    let domain = domain.ok_or_else(ApiError::not_found)?;
    Ok(Json(DomainAliasList {
        domain: DomainBody::from(&domain),
        next_page_token: page.next_page_token(),
        aliases: page.items.iter().map(AliasBody::from).collect(),
    }))
}

/// Aliases across the accounts the caller may read aliases of, filtered by user and domain
/// (seed 001's list).
#[utoipa::path(get, path = "/v1/aliases", tag = "aliases", params(AliasFilterParams), responses((status = 200, body = AliasList)))]
pub async fn list_aliases(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Query(params): Query<AliasFilterParams>,
) -> Result<Json<AliasList>, ApiError> {
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let user = user_filter(params.user_id.as_deref())?;
    let domain =
        params.domain.as_deref().filter(|d| !d.trim().is_empty()).map(|d| domain_ref(d, "domain")).transpose()?;
    let (_, page) = state.services.aliases.list(&caller, domain.as_ref(), user, page).await?;
    Ok(Json(AliasList {
        next_page_token: page.next_page_token(),
        aliases: page.items.iter().map(AliasBody::from).collect(),
    }))
}

/// An account's aliases (`aliases:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/aliases", tag = "aliases",
    params(("account_id" = String, Path), AliasFilterParams), responses((status = 200, body = AliasList)))]
pub async fn list_account_aliases(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(account): Path<String>,
    Query(params): Query<AliasFilterParams>,
) -> Result<Json<AliasList>, ApiError> {
    let account = path_id(&account)?;
    let page = page_request(params.page_size.as_deref(), params.page_token.as_deref())?;
    let user = user_filter(params.user_id.as_deref())?;
    let domain =
        params.domain.as_deref().filter(|d| !d.trim().is_empty()).map(|d| domain_ref(d, "domain")).transpose()?;
    let page = state.services.aliases.list_for_account(&caller, account, domain.as_ref(), user, page).await?;
    Ok(Json(AliasList {
        next_page_token: page.next_page_token(),
        aliases: page.items.iter().map(AliasBody::from).collect(),
    }))
}

/// Creates an alias on an active domain (`aliases:write`); the mailbox password is in this
/// response and never again.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/aliases", tag = "aliases",
    params(("account_id" = String, Path), Idempotency), request_body = CreateAliasRequest,
    responses((status = 201, body = AliasWithPasswordBody), (status = 409, description = "the address exists", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "invalid input, or the domain is not active", body = Problem, content_type = "application/problem+json")))]
pub async fn create_alias(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    Path(account): Path<String>,
    Body(body): Body<CreateAliasRequest>,
) -> Result<Response, ApiError> {
    let account = path_id(&account)?;
    let command = NewAliasInput {
        local_part: body.local_part,
        domain: body.domain,
        domain_id: body.domain_id,
        display_name: body.display_name,
        user_id: body.user_id,
        password: body.password,
    }
    .validate()
    .map_err(|e| ApiError::invalid(&e))?;
    let created = state.services.aliases.create(&caller, account, command, key).await?;
    let WithSecret { resource: alias, secret: password } = &created.value;
    Ok(mark_replayed(with_password(StatusCode::CREATED, alias, password.as_ref()), created.replayed))
}

/// One alias (`aliases:read`).
#[utoipa::path(get, path = "/v1/accounts/{account_id}/aliases/{alias_id}", tag = "aliases",
    params(("account_id" = String, Path), ("alias_id" = String, Path)),
    responses((status = 200, body = AliasBody, headers(("ETag" = String))), (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_alias(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let found = state.services.aliases.get(&caller, path_id(&account)?, path_id(&id)?).await?;
    Ok(with_etag(StatusCode::OK, found.version, AliasBody::from(&found)))
}

/// Changes the display name or status (`aliases:write`); PUT is accepted too (seed 001).
#[utoipa::path(patch, path = "/v1/accounts/{account_id}/aliases/{alias_id}", tag = "aliases",
    params(("account_id" = String, Path), ("alias_id" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = UpdateAliasRequest, responses((status = 200, body = AliasBody, headers(("ETag" = String)))))]
pub async fn update_alias(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
    Precondition(precondition): Precondition,
    Body(body): Body<UpdateAliasRequest>,
) -> Result<Response, ApiError> {
    let patch = AliasPatchInput { display_name: body.display_name, status: body.status }
        .validate()
        .map_err(|e| ApiError::invalid(&e))?;
    let (account, id) = (path_id(&account)?, path_id(&id)?);
    let updated = state.services.aliases.update(&caller, account, id, patch, precondition).await?;
    Ok(with_etag(StatusCode::OK, updated.version, AliasBody::from(&updated)))
}

/// Deletes an alias and its mailbox credentials (`aliases:write`); not the primary alias.
#[utoipa::path(delete, path = "/v1/accounts/{account_id}/aliases/{alias_id}", tag = "aliases",
    params(("account_id" = String, Path), ("alias_id" = String, Path), ("If-Match" = Option<String>, Header)),
    responses((status = 204, description = "deleted"), (status = 422, description = "the primary alias", body = Problem, content_type = "application/problem+json")))]
pub async fn delete_alias(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
    Precondition(precondition): Precondition,
) -> Result<StatusCode, ApiError> {
    let (account, id) = (path_id(&account)?, path_id(&id)?);
    state.services.aliases.delete(&caller, account, id, precondition).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Replaces the mailbox password (`aliases:write`): the one given, or a generated one,
/// returned this once. The old password stops working at once.
#[utoipa::path(post, path = "/v1/accounts/{account_id}/aliases/{alias_id}/password/reset", tag = "aliases",
    params(("account_id" = String, Path), ("alias_id" = String, Path), ("If-Match" = Option<String>, Header)),
    request_body = Option<ResetPasswordRequest>, responses((status = 200, body = AliasWithPasswordBody)))]
pub async fn reset_password(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path((account, id)): Path<(String, String)>,
    Precondition(precondition): Precondition,
    body: Option<Body<ResetPasswordRequest>>,
) -> Result<Response, ApiError> {
    let (account, id) = (path_id(&account)?, path_id(&id)?);
    let password = body.and_then(|Body(b)| b.password);
    let reset = state.services.aliases.reset_password(&caller, account, id, password, precondition).await?;
    Ok(with_password(StatusCode::OK, &reset.alias, Some(&reset.password)))
}

/// Checks a mailbox password for a mail server (root `aliases:read`): 200 or 401, and 429
/// with `Retry-After` once an address has failed too often.
#[utoipa::path(post, path = "/v1/mailbox-auth", tag = "aliases", request_body = MailboxAuthRequest,
    responses((status = 200, body = MailboxAuthBody), (status = 401, description = "wrong address or password", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "too many failures for this address", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64)))))]
pub async fn mailbox_auth(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<MailboxAuthRequest>,
) -> Result<Json<MailboxAuthBody>, ApiError> {
    let address = body.address.unwrap_or_default();
    let password = body.password.unwrap_or_else(|| SecretString::from(String::new()));
    let login = state.services.aliases.authenticate_mailbox(&caller, &address, password).await?;
    Ok(Json(MailboxAuthBody {
        ok: true,
        alias_id: login.alias_id.to_string(),
        account_id: login.account_id.to_string(),
        address: login.address,
    }))
}
