//! Optimistic concurrency on the wire: the `If-Match` header a write takes, and the `ETag`
//! header a versioned resource is answered with.

use std::convert::Infallible;

use accountd_domain::{IfMatch, Version};
use axum::Json;
use axum::extract::FromRequestParts;
use axum::http::header::{ETAG, IF_MATCH};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

/// The `If-Match` precondition of a write: any version when the header is absent; a header
/// that is not text matches no version (412).
#[derive(Debug, Clone)]
pub struct Precondition(pub IfMatch);

impl<S: Send + Sync> FromRequestParts<S> for Precondition {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Ok(Self(match parts.headers.get(IF_MATCH) {
            None => IfMatch::Any,
            Some(value) => value.to_str().map_or(IfMatch::Versions(Vec::new()), IfMatch::parse),
        }))
    }
}

/// The `ETag` header of a resource at `version`.
fn etag_of(version: Version) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(tag) = HeaderValue::from_str(&version.etag()) {
        headers.insert(ETAG, tag);
    }
    headers
}

/// `body`, the representation of a resource at `version`, with its `ETag`.
pub(crate) fn with_etag<T: Serialize>(status: StatusCode, version: Version, body: T) -> Response {
    (status, etag_of(version), Json(body)).into_response()
}
