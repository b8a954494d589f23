//! Domain errors as gRPC statuses: one exhaustive match over [`ErrorKind`].

use accountd_domain::error_chain;
use accountd_domain::{ErrorKind, HasErrorKind, TWOFACTOR_REQUIRED_CODE};
use tonic::{Code, Status};
use tonic_types::{ErrorDetails, StatusExt};

/// The `google.rpc.ErrorInfo` reason of a refusal for want of an active MFA factor on an
/// account that enforces two-factor authentication.
pub const TWO_FACTOR_REQUIRED: &str = "TWO_FACTOR_REQUIRED";

/// The RPC that enrols a TOTP factor: named in the message and the `ErrorInfo` metadata
/// (under [`ENROL_RPC_KEY`]) of a two-factor refusal, which the domain words without it.
pub const ENROL_TOTP_RPC: &str = "accountd.v1.UserService/EnrollTotp";

/// The `ErrorInfo` metadata key naming [`ENROL_TOTP_RPC`].
pub const ENROL_RPC_KEY: &str = "enrol_rpc";

/// The status for any operation error; validation errors carry their field violations as
/// `google.rpc.BadRequest` details. The cause of an internal error is logged, never sent.
pub fn to_status<E: HasErrorKind>(error: E) -> Status {
    let message = error.to_string();
    match error.kind() {
        ErrorKind::Invalid(errors) => {
            let mut details = ErrorDetails::new();
            for field in errors.fields() {
                let description = if field.code == TWOFACTOR_REQUIRED_CODE {
                    format!("{} with {ENROL_TOTP_RPC}", field.message)
                } else {
                    field.message.clone()
                };
                details.add_bad_request_violation(field.field.clone(), description);
            }
            Status::with_error_details(Code::InvalidArgument, message, details)
        }
        ErrorKind::NotFound => Status::not_found(message),
        ErrorKind::AlreadyExists => Status::already_exists(message),
        ErrorKind::FailedPrecondition | ErrorKind::VersionMismatch => Status::failed_precondition(message),
        ErrorKind::Conflict => Status::aborted(message),
        ErrorKind::PermissionDenied => Status::permission_denied(message),
        // PERMISSION_DENIED like any refusal, with a machine-readable reason beside it.
        ErrorKind::TwoFactorRequired => Status::with_error_details(
            Code::PermissionDenied,
            format!("{message} with {ENROL_TOTP_RPC}"),
            ErrorDetails::with_error_info(
                TWO_FACTOR_REQUIRED,
                "accountd",
                [(ENROL_RPC_KEY.to_owned(), ENROL_TOTP_RPC.to_owned())]
                    .into_iter()
                    .collect::<std::collections::HashMap<_, _>>(),
            ),
        ),
        ErrorKind::Unauthenticated => Status::unauthenticated(message),
        ErrorKind::Throttled { retry_after_secs } => {
            let mut details = ErrorDetails::new();
            details.set_retry_info(Some(std::time::Duration::from_secs(retry_after_secs)));
            Status::with_error_details(Code::ResourceExhausted, message, details)
        }
        // The RetryInfo says when to try again, as REST's Retry-After does.
        ErrorKind::Unavailable { retry_after_secs } => {
            tracing::warn!(error = %error_chain(&error), "rpc failed: the database cannot be reached");
            let mut details = ErrorDetails::new();
            details.set_retry_info(Some(std::time::Duration::from_secs(retry_after_secs)));
            Status::with_error_details(Code::Unavailable, "the database cannot be reached; retry later", details)
        }
        ErrorKind::Gone => Status::out_of_range(message),
        ErrorKind::Internal => {
            tracing::error!(error = %error_chain(&error), "rpc failed");
            Status::internal("the service failed; it has been logged")
        }
    }
}
