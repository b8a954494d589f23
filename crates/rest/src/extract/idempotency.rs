//! The `Idempotency-Key` header every POST create takes, and the `Idempotent-Replayed`
//! answer to a replay.

use accountd_domain::IdempotencyKey;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use utoipa::IntoParams;

use crate::problem::ApiError;

/// The optional `Idempotency-Key` header every POST create accepts (SPEC §3): a repeat by
/// the same caller within 24 hours answers the first request's resource, marked
/// `Idempotent-Replayed: true`; the same key with another request body answers 422. One
/// extractor for every create handler, documented once as a header parameter.
#[derive(Debug, Clone, IntoParams)]
#[into_params(names("Idempotency-Key"), parameter_in = Header)]
pub struct Idempotency(
    /// 1–255 visible ASCII characters; repeats within 24 hours return the first request's
    /// resource (a secret it carried is not shown again)
    #[param(value_type = Option<String>)]
    pub Option<IdempotencyKey>,
);

impl<S: Send + Sync> FromRequestParts<S> for Idempotency {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let Some(value) = parts.headers.get("idempotency-key") else { return Ok(Self(None)) };
        let text = value.to_str().unwrap_or("\u{fffd}");
        IdempotencyKey::parse(text)
            .map(|key| Self(Some(key)))
            .map_err(|e| ApiError::invalid(&e.at("Idempotency-Key").into()))
    }
}

/// Sent with the answer to a replayed creation.
pub const IDEMPOTENT_REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// `response`, marked `Idempotent-Replayed: true` when it answers a replay.
pub fn mark_replayed(response: impl IntoResponse, replayed: bool) -> Response {
    let mut response = response.into_response();
    if replayed {
        response.headers_mut().insert(IDEMPOTENT_REPLAYED, HeaderValue::from_static("true"));
    }
    response
}
