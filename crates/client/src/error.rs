//! The client's error: the gRPC code sorted into what a caller acts on, keeping the server's
//! message and, for a bad request, the fields it names.

use std::time::Duration;

use tonic::{Code, Status};
use tonic_types::StatusExt;

/// A field of the request the server refused, from the status's `BadRequest` details.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldViolation {
    /// The request field, e.g. `name` or `checks[0].permission`.
    pub field: String,
    /// Why, in the server's words.
    pub description: String,
}

/// What went wrong with a call.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// INVALID_ARGUMENT (or OUT_OF_RANGE): the request is wrong; `fields` names each field.
    #[error("invalid request: {message}")]
    Invalid { message: String, fields: Vec<FieldViolation> },
    /// UNAUTHENTICATED: no token, or one the server does not accept.
    #[error("not authenticated: {message}")]
    Unauthenticated { message: String },
    /// PERMISSION_DENIED: the token may not do this.
    #[error("permission denied: {message}")]
    PermissionDenied { message: String },
    /// NOT_FOUND.
    #[error("not found: {message}")]
    NotFound { message: String },
    /// ALREADY_EXISTS, FAILED_PRECONDITION or ABORTED: the request conflicts with the
    /// current state (e.g. an idempotency key reused for another request).
    #[error("conflict ({code:?}): {message}")]
    Conflict { code: Code, message: String },
    /// RESOURCE_EXHAUSTED: throttled; `retry_after` is the server's RetryInfo when sent.
    #[error("throttled: {message}")]
    Throttled { message: String, retry_after: Option<Duration> },
    /// UNAVAILABLE after the retries the policy allows (or at once for a call that is not
    /// retried); `retry_after` is the server's RetryInfo when sent.
    #[error("unavailable: {message}")]
    Unavailable { message: String, retry_after: Option<Duration> },
    /// The per-call timeout passed with no answer, or the server answered DEADLINE_EXCEEDED.
    #[error("timed out: {message}")]
    Timeout { message: String },
    /// The endpoint could not be reached when connecting (see `connect_timeout`).
    #[error("cannot connect to {endpoint}: {source}")]
    Connect {
        endpoint: String,
        #[source]
        source: tonic::transport::Error,
    },
    /// The endpoint is not a valid URI.
    #[error("invalid endpoint {endpoint}: {message}")]
    Endpoint { endpoint: String, message: String },
    /// Any other code (INTERNAL, UNIMPLEMENTED, …).
    #[error("{code:?}: {message}")]
    Other { code: Code, message: String },
}

impl Error {
    /// The gRPC code this error stands for.
    pub fn code(&self) -> Code {
        match self {
            Error::Invalid { .. } => Code::InvalidArgument,
            Error::Unauthenticated { .. } => Code::Unauthenticated,
            Error::PermissionDenied { .. } => Code::PermissionDenied,
            Error::NotFound { .. } => Code::NotFound,
            Error::Conflict { code, .. } | Error::Other { code, .. } => *code,
            Error::Throttled { .. } => Code::ResourceExhausted,
            Error::Unavailable { .. } | Error::Connect { .. } => Code::Unavailable,
            Error::Timeout { .. } => Code::DeadlineExceeded,
            Error::Endpoint { .. } => Code::InvalidArgument,
        }
    }

    /// Whether trying an idempotent call again may succeed: UNAVAILABLE and timeouts.
    pub fn is_transient(&self) -> bool {
        matches!(self, Error::Unavailable { .. } | Error::Timeout { .. })
    }

    /// The wait the server asked for (RetryInfo), if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            Error::Unavailable { retry_after, .. } | Error::Throttled { retry_after, .. } => *retry_after,
            _ => None,
        }
    }
}

impl From<Status> for Error {
    fn from(status: Status) -> Self {
        let message = status.message().to_owned();
        let retry_after = || status.get_details_retry_info().and_then(|info| info.retry_delay);
        match status.code() {
            Code::InvalidArgument | Code::OutOfRange => {
                let fields = status
                    .get_details_bad_request()
                    .map(|bad| {
                        bad.field_violations
                            .into_iter()
                            .map(|v| FieldViolation { field: v.field, description: v.description })
                            .collect()
                    })
                    .unwrap_or_default();
                Error::Invalid { message, fields }
            }
            Code::Unauthenticated => Error::Unauthenticated { message },
            Code::PermissionDenied => Error::PermissionDenied { message },
            Code::NotFound => Error::NotFound { message },
            code @ (Code::AlreadyExists | Code::FailedPrecondition | Code::Aborted) => {
                Error::Conflict { code, message }
            }
            Code::ResourceExhausted => Error::Throttled { retry_after: retry_after(), message },
            Code::Unavailable => Error::Unavailable { retry_after: retry_after(), message },
            Code::DeadlineExceeded => Error::Timeout { message },
            code => Error::Other { code, message },
        }
    }
}

#[cfg(test)]
mod tests {
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    #[test]
    fn a_bad_request_keeps_its_field_violations() {
        let details = ErrorDetails::with_bad_request_violation("name", "must not be empty");
        let error = Error::from(Status::with_error_details(Code::InvalidArgument, "invalid request", details));
        let Error::Invalid { fields, .. } = &error else { panic!("{error:?}") };
        assert_eq!(fields, &[FieldViolation { field: "name".into(), description: "must not be empty".into() }]);
        assert_eq!(error.code(), Code::InvalidArgument);
        assert!(!error.is_transient());
    }

    #[test]
    fn unavailable_keeps_the_retry_info() {
        let details = ErrorDetails::with_retry_info(Some(Duration::from_secs(2)));
        let error = Error::from(Status::with_error_details(Code::Unavailable, "later", details));
        assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
        assert!(error.is_transient());
        assert_eq!(error.to_string(), "unavailable: later");
    }
}
