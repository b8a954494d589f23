//! What handlers take from a request: the calling principal, JSON / query / path input whose
//! rejections become problem documents, paging, and (in the submodules, re-exported here)
//! ids, the `If-Match` / `ETag` pair and the idempotency key. Resource modules import these
//! from here and never from one another.

mod id;
mod idempotency;
mod precondition;

use std::net::SocketAddr;

use accountd_domain::{Authenticator, FieldError, PageRequest, Principal, RequestInfo};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{AUTHORIZATION, USER_AGENT};
use axum::http::request::Parts;
use serde::Deserialize;
use utoipa::IntoParams;

use crate::problem::ApiError;
use crate::{AppState, REQUEST_ID};

pub(crate) use id::{argument_id, path_id};
pub use idempotency::{Idempotency, mark_replayed};
pub use precondition::Precondition;
pub(crate) use precondition::with_etag;

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
