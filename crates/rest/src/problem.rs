//! RFC 9457 problem details: the one way every REST error leaves the service.

use accountd_domain::error_chain;
use accountd_domain::{ErrorKind, FieldError, HasErrorKind, TWOFACTOR_REQUIRED_CODE, ValidationErrors};
use axum::Json;
use axum::extract::rejection::JsonRejection;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use utoipa::ToSchema;

/// Where a caller enrols a TOTP factor: named in the detail of a two-factor refusal, which
/// the domain words without any path.
pub const TOTP_ENROLMENT_PATH: &str = "/v1/me/mfa/totp";

/// A problem document (RFC 9457).
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// Identifies the kind of problem, e.g. `urn:accountd:problem:validation-failed`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Present on validation failures: one entry per rejected field.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ProblemField>,
}

/// One rejected field.
#[derive(Debug, Serialize, ToSchema)]
pub struct ProblemField {
    pub field: String,
    pub code: String,
    pub message: String,
}

impl From<&FieldError> for ProblemField {
    fn from(e: &FieldError) -> Self {
        let message = if e.code == TWOFACTOR_REQUIRED_CODE {
            format!("{} at {TOTP_ENROLMENT_PATH}", e.message)
        } else {
            e.message.clone()
        };
        Self { field: e.field.clone(), code: e.code.to_owned(), message }
    }
}

/// An error on its way to the client.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    slug: &'static str,
    title: &'static str,
    detail: String,
    errors: Vec<ProblemField>,
    /// Seconds for the `Retry-After` header of a 429 or 503.
    retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, slug: &'static str, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, slug, title, detail: detail.into(), errors: Vec::new(), retry_after: None }
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// 422 with one field error per rejected field.
    pub fn invalid(errors: &ValidationErrors) -> Self {
        let mut e =
            Self::new(StatusCode::UNPROCESSABLE_ENTITY, "validation-failed", "Invalid input", errors.to_string());
        e.errors = errors.fields().iter().map(ProblemField::from).collect();
        e
    }

    /// 400 for a request that cannot be read at all.
    pub fn malformed(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "malformed-request", "Malformed request", detail)
    }

    /// 408 for a request (its body, or the whole of it) that did not arrive in time.
    pub fn timed_out(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::REQUEST_TIMEOUT, "request-timeout", "Request timeout", detail)
    }

    pub fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", "the resource does not exist")
    }

    /// Maps any operation error by its kind; the cause of an internal error is logged here
    /// and never shown.
    pub fn from_domain<E: HasErrorKind>(error: &E) -> Self {
        let detail = error.to_string();
        match error.kind() {
            ErrorKind::Invalid(errors) => Self::invalid(errors),
            ErrorKind::NotFound => Self::new(StatusCode::NOT_FOUND, "not-found", "Not found", detail),
            ErrorKind::AlreadyExists => Self::new(StatusCode::CONFLICT, "already-exists", "Already exists", detail),
            ErrorKind::FailedPrecondition => Self::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "failed-precondition",
                "Refused in the current state",
                detail,
            ),
            ErrorKind::VersionMismatch => {
                Self::new(StatusCode::PRECONDITION_FAILED, "precondition-failed", "Version mismatch", detail)
            }
            ErrorKind::Conflict => Self::new(StatusCode::CONFLICT, "conflict", "Concurrent modification", detail),
            ErrorKind::PermissionDenied => Self::new(StatusCode::FORBIDDEN, "forbidden", "Forbidden", detail),
            ErrorKind::TwoFactorRequired => Self::new(
                StatusCode::FORBIDDEN,
                "two-factor-required",
                "Two-factor authentication required",
                format!("{detail} at {TOTP_ENROLMENT_PATH}"),
            ),
            ErrorKind::Unauthenticated => {
                Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "Unauthenticated", detail)
            }
            ErrorKind::Throttled { retry_after_secs } => {
                let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, "too-many-attempts", "Too many attempts", detail);
                e.retry_after = Some(retry_after_secs);
                e
            }
            ErrorKind::Unavailable { retry_after_secs } => {
                tracing::warn!(error = %error_chain(error), "request failed: the database cannot be reached");
                let mut e = Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "service-unavailable",
                    "Service unavailable",
                    "the database cannot be reached; retry later",
                );
                e.retry_after = Some(retry_after_secs);
                e
            }
            ErrorKind::Gone => Self::new(StatusCode::GONE, "gone", "Gone", detail),
            ErrorKind::Internal => {
                tracing::error!(error = %error_chain(error), "request failed");
                Self::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "Internal error",
                    "the service failed; it has been logged",
                )
            }
        }
    }
}

impl<E: HasErrorKind> From<E> for ApiError {
    fn from(error: E) -> Self {
        Self::from_domain(&error)
    }
}

impl ApiError {
    /// A JSON body axum could not read: 422 naming the field for wrong values, 415 for a
    /// missing content type, 400 for syntax.
    pub fn from_json_rejection(rejection: JsonRejection) -> Self {
        match &rejection {
            JsonRejection::JsonDataError(e) => {
                // serde_path_to_error, behind axum's error, knows which field failed.
                let mut source = std::error::Error::source(e);
                let mut path_error = None;
                while let Some(cause) = source {
                    path_error = cause.downcast_ref::<serde_path_to_error::Error<serde_json::Error>>();
                    if path_error.is_some() {
                        break;
                    }
                    source = cause.source();
                }
                let (field, message) = match path_error {
                    Some(p) => (p.path().to_string(), p.inner().to_string()),
                    None => (".".to_owned(), rejection.body_text()),
                };
                let field = if field == "." { "body".to_owned() } else { field };
                Self::invalid(&FieldError::new(field, "invalid_value", message.to_lowercase()).into())
            }
            JsonRejection::MissingJsonContentType(_) => Self::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
                "the body must be application/json",
            ),
            // A body that stopped arriving is the client's delay, not its syntax.
            _ if is_body_timeout(&rejection) => Self::timed_out("the request body stopped arriving"),
            // Syntax errors are 400; an oversized body keeps axum's 413.
            _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
                rejection.body_text().to_lowercase(),
            ),
            _ => Self::malformed(rejection.body_text()),
        }
    }
}

/// True when reading the body failed because it stopped arriving (the body timeout of
/// [`crate::timeouts::with_timeouts`]).
fn is_body_timeout(rejection: &JsonRejection) -> bool {
    let mut source = std::error::Error::source(rejection);
    while let Some(cause) = source {
        if cause.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        source = cause.source();
    }
    false
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = Problem {
            problem_type: format!("urn:accountd:problem:{}", self.slug),
            title: self.title.to_owned(),
            status: self.status.as_u16(),
            detail: self.detail,
            errors: self.errors,
        };
        let mut response = (self.status, Json(body)).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, header::HeaderValue::from_static("application/problem+json"));
        if self.status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            headers.insert(header::RETRY_AFTER, header::HeaderValue::from(seconds));
        }
        response
    }
}

/// Unknown paths answer 404 as a problem document too.
pub async fn not_found_fallback() -> ApiError {
    ApiError::not_found()
}

/// A known path with a method it does not serve answers 405 as a problem document too.
pub async fn method_not_allowed_fallback() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method-not-allowed",
        "Method not allowed",
        "the resource does not support this method",
    )
}
