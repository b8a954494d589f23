//! `/v1/me/mfa/totp`: the caller's TOTP factors. The secret appears once, in the enrolment
//! answer (sent with `Cache-Control: no-store`), and nowhere else.

use accountd_domain::{TotpCode, ValidationErrors};
use axum::Json;
use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::Response;
use axum::routing::{delete, post};
use secrecy::ExposeSecret;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::AppState;
use crate::extract::{Body, Caller, Idempotency, Path, Query, argument_id, mark_replayed, path_id};
use crate::problem::{ApiError, Problem};
use crate::views::FactorBody;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/me/mfa/totp", post(enroll_totp))
        .route("/v1/me/mfa/totp/activate", post(activate_totp))
        .route("/v1/me/mfa/totp/verify", post(verify_totp))
        .route("/v1/me/mfa/totp/{factor_id}", delete(delete_totp))
}

/// A new, pending factor with its secret: shown this once.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrolmentBody {
    #[serde(flatten)]
    pub factor: FactorBody,
    /// The shared secret, base32 (RFC 4648, unpadded), for typing into an authenticator app.
    /// `null` on an idempotent replay, which does not show it again (delete the pending
    /// factor and enrol anew if the first answer was lost).
    pub secret: Option<String>,
    /// The `otpauth://totp/…` URI an authenticator app reads from a QR code; `null` on a replay.
    pub otpauth_uri: Option<String>,
    /// True on an idempotent replay (`Idempotent-Replayed: true`): the secret is omitted.
    pub secret_omitted: bool,
}

/// A code from the authenticator app; `factor_id` picks the factor to activate (the newest
/// pending one when absent).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ActivateRequest {
    #[schema(value_type = Option<String>, format = Uuid)]
    pub factor_id: Option<String>,
    /// The 6-digit code the authenticator app shows.
    #[schema(value_type = String, required = true, pattern = r"^[0-9]{6}$")]
    pub code: Option<String>,
}

/// A code to check against the caller's active factors.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct VerifyRequest {
    /// The 6-digit code the authenticator app shows.
    #[schema(value_type = String, required = true, pattern = r"^[0-9]{6}$")]
    pub code: Option<String>,
}

/// Which factor accepted the code.
#[derive(Debug, Serialize, ToSchema)]
pub struct VerifiedBody {
    pub factor_id: String,
}

fn code(raw: Option<&str>) -> Result<TotpCode, ApiError> {
    TotpCode::parse(raw.unwrap_or_default()).map_err(|e| ApiError::invalid(&ValidationErrors::from(e)))
}

/// A current code from an active factor, which a change of the user's factors needs when
/// one is active.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CodeRequest {
    pub code: Option<String>,
}

/// An optional code: absent or empty means none was given.
fn optional_code(raw: Option<&str>) -> Result<Option<TotpCode>, ApiError> {
    raw.filter(|c| !c.trim().is_empty()).map(|c| code(Some(c))).transpose()
}

/// Starts a TOTP enrolment: a pending factor, its secret and `otpauth://` URI, returned once.
/// A user with an active factor sends a current `code` from it. Needs a token allowing
/// `mfa:write`.
#[utoipa::path(post, path = "/v1/me/mfa/totp", tag = "me", params(Idempotency), request_body(content = Option<CodeRequest>),
    responses((status = 201, body = EnrolmentBody), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn enroll_totp(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Idempotency(key): Idempotency,
    body: Option<Body<CodeRequest>>,
) -> Result<Response, ApiError> {
    let code = optional_code(body.as_ref().and_then(|Body(b)| b.code.as_deref()))?;
    let created = state.services.mfa.enroll_totp(&caller, code, key).await?;
    let setup = created.value.secret.as_ref();
    let body = EnrolmentBody {
        factor: FactorBody::from(&created.value.resource),
        secret: setup.map(|s| s.secret.expose_secret().to_owned()),
        otpauth_uri: setup.map(|s| s.otpauth_uri.expose_secret().to_owned()),
        secret_omitted: setup.is_none(),
    };
    let response = (StatusCode::CREATED, [(header::CACHE_CONTROL, "no-store")], Json(body));
    Ok(mark_replayed(response, created.replayed))
}

/// Activates a pending factor with a current code; the code is spent.
#[utoipa::path(post, path = "/v1/me/mfa/totp/activate", tag = "me", request_body = ActivateRequest,
    responses((status = 200, body = FactorBody), (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn activate_totp(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<ActivateRequest>,
) -> Result<Json<FactorBody>, ApiError> {
    let factor = body.factor_id.as_deref().filter(|f| !f.trim().is_empty()).map(|f| argument_id(f, "factor_id"));
    let factor = factor.transpose()?;
    let code = code(body.code.as_deref())?;
    let activated = state.services.mfa.activate_totp(&caller, factor, code).await?;
    Ok(Json(FactorBody::from(&activated)))
}

/// Checks a code against the caller's active factors; a code is accepted once.
#[utoipa::path(post, path = "/v1/me/mfa/totp/verify", tag = "me", request_body = VerifyRequest,
    responses((status = 200, body = VerifiedBody), (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "too many wrong codes; retry after `Retry-After` seconds")))]
pub async fn verify_totp(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Body(body): Body<VerifyRequest>,
) -> Result<Json<VerifiedBody>, ApiError> {
    let factor = state.services.mfa.verify_totp(&caller, code(body.code.as_deref())?).await?;
    Ok(Json(VerifiedBody { factor_id: factor.to_string() }))
}

/// Removes one of the caller's factors; an active one needs a current `code` from it (query
/// parameter). Needs a token allowing `mfa:write`.
#[utoipa::path(delete, path = "/v1/me/mfa/totp/{factor_id}", tag = "me",
    params(("factor_id" = String, Path), ("code" = Option<String>, Query, description = "a current code from the factor, required when it is active")),
    responses((status = 204, description = "removed"), (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn delete_totp(
    State(state): State<AppState>,
    Caller(caller): Caller,
    Path(id): Path<String>,
    Query(params): Query<CodeRequest>,
) -> Result<StatusCode, ApiError> {
    let code = optional_code(params.code.as_deref())?;
    let factor = path_id(&id)?;
    state.services.mfa.delete_totp(&caller, factor, code).await?;
    Ok(StatusCode::NO_CONTENT)
}
