//! Extractors: the calling principal, and JSON / query / path input whose rejections become
//! problem documents.

use std::net::SocketAddr;

use accountd_domain::{Principal, RequestInfo};
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::USER_AGENT;
use axum::http::request::Parts;

use crate::REQUEST_ID;
use crate::problem::ApiError;

/// The principal a request acts as. Token authentication arrives with users; until then
/// every request acts as the system principal. Handlers never look at credentials
/// themselves: they take a `Caller` and pass its principal to the service.
#[derive(Debug, Clone)]
pub struct Caller(pub Principal);

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let header = |name| parts.headers.get(name).and_then(|v| v.to_str().ok());
        let request = RequestInfo::from_client(
            parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
            header(USER_AGENT),
            header(REQUEST_ID),
        );
        Ok(Caller(Principal::system(request)))
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
