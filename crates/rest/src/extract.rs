//! Extractors: the calling principal, and JSON / query / path input whose rejections become
//! problem documents.

use std::net::SocketAddr;

use accountd_domain::{Authenticator, FieldError, IdempotencyKey, PageRequest, Principal, RequestInfo};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderName, HeaderValue};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::ApiError;
use crate::{AppState, REQUEST_ID};

/// The authenticated principal a request acts as: the one place REST reads credentials
/// (`Authorization: Bearer` or `x-api-key`). Handlers take a `Caller` and pass its principal
/// to the service, which decides what it may do; a request without valid credentials never
/// reaches a handler (401).
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let request = RequestInfo::from_client(
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
            header(USER_AGENT.as_str()),
            header(REQUEST_ID.as_str()),
        );
        let credential = Authenticator::credential(header(AUTHORIZATION.as_str()), header("x-api-key"));
        let principal = state.services.authenticator.authenticate(credential, request).await?;
        Ok(Caller(principal))
    }
}

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

/// Paging parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Items per page, 1–1000 (default 50).
    #[param(value_type = Option<i32>, minimum = 1, maximum = 1000)]
    pub page_size: Option<String>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
}

/// Reads `page_size` (text in a query string) and `page_token`.
pub(crate) fn page_request(size: Option<&str>, token: Option<&str>) -> Result<PageRequest, ApiError> {
    PageRequest::parse(page_size(size)?, token).map_err(|e| ApiError::invalid(&e))
}

/// `page_size` as a query string carries it: text that must be an integer when present.
pub(crate) fn page_size(size: Option<&str>) -> Result<Option<i64>, ApiError> {
    match size.map(str::trim).filter(|s| !s.is_empty()) {
        None => Ok(None),
        Some(text) => text.parse::<i64>().map(Some).map_err(|_| {
            ApiError::invalid(
                &FieldError::new("page_size", "not_an_integer", "must be an integer between 1 and 1000").into(),
            )
        }),
    }
}

/// `axum::Json` whose rejections are problem documents naming the field.
#[derive(Debug)]
pub struct Body<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) =
            axum::Json::<T>::from_request(req, state).await.map_err(ApiError::from_json_rejection)?;
        Ok(Self(value))
    }
}

/// An optional body: absent when the request has neither a content type nor a length.
impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::OptionalFromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, Self::Rejection> {
        let headers = req.headers();
        let empty = headers.get(axum::http::header::CONTENT_TYPE).is_none()
            && headers.get(axum::http::header::CONTENT_LENGTH).is_none_or(|length| length == "0");
        if empty {
            return Ok(None);
        }
        <Self as FromRequest<S>>::from_request(req, state).await.map(Some)
    }
}

/// `axum::extract::Query` whose rejections are problem documents.
#[derive(Debug)]
pub struct Query<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Query(value) = axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::malformed(r.body_text()))?;
        Ok(Self(value))
    }
}

/// `axum::extract::Path` whose rejections are problem documents.
#[derive(Debug)]
pub struct Path<T>(pub T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned + Send> FromRequestParts<S> for Path<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let axum::extract::Path(value) = axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map_err(|r| ApiError::malformed(r.body_text()))?;
        Ok(Self(value))
    }
}

/// A resource id from the request path. Ids are opaque to clients (SPEC §1): one that is not
/// well formed names nothing, so it answers 404 like a well-formed id that names nothing.
pub(crate) fn path_id<T>(
    raw: &str,
    field: &str,
    parse: fn(&str, &str) -> Result<T, FieldError>,
) -> Result<T, ApiError> {
    parse(raw, field).map_err(|_| ApiError::not_found())
}
