//! The error of the identity services (users, members, tokens), reused by the audit,
//! subscription, domain and alias services. One enum for them, rather than one per
//! operation as accounts have: their operations fail in the same few ways, and the variants
//! say which rule refused.

use crate::{AccessError, ErrorKind, HasErrorKind, ValidationErrors};

/// Why a user, membership or token operation was refused.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error("permission denied: {0}")]
    Forbidden(String),
    #[error("two-factor authentication is required on this account: enrol a factor at /v1/me/mfa/totp")]
    TwoFactorRequired,
    #[error("{0}")]
    AlreadyExists(String),
    #[error("{0}")]
    FailedPrecondition(String),
    #[error("the resource has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    /// Mailbox authentication failed; which part was wrong is not said.
    #[error("invalid mailbox credentials")]
    BadCredentials,
    #[error("too many failed attempts for this address; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    /// An idempotency key was used, within its retention, for another operation or body.
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    /// The resource an idempotency key created has been deleted since.
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<crate::IdempotencyError> for IdentityError {
    fn from(e: crate::IdempotencyError) -> Self {
        match e {
            crate::IdempotencyError::KeyReused => Self::IdempotencyKeyReused,
            crate::IdempotencyError::Unknown(e) => Self::Unknown(e),
        }
    }
}

impl IdentityError {
    pub(crate) fn field(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self::Invalid(ValidationErrors::single(crate::FieldError::new(field, code, message)))
    }
}

impl From<AccessError> for IdentityError {
    fn from(e: AccessError) -> Self {
        match e {
            AccessError::NotFound => Self::NotFound,
            AccessError::Forbidden(p) => Self::Forbidden(format!("permission {p} is required")),
            AccessError::TwoFactorRequired => Self::TwoFactorRequired,
            AccessError::Unknown(e) => Self::Unknown(e),
        }
    }
}

impl From<ValidationErrors> for IdentityError {
    fn from(e: ValidationErrors) -> Self {
        Self::Invalid(e)
    }
}

impl HasErrorKind for IdentityError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Forbidden(_) => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::AlreadyExists(_) => ErrorKind::AlreadyExists,
            Self::FailedPrecondition(_) | Self::IdempotencyKeyReused | Self::ReplayedResourceGone => {
                ErrorKind::FailedPrecondition
            }
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::BadCredentials => ErrorKind::Unauthenticated,
            Self::Throttled { retry_after_secs } => ErrorKind::Throttled { retry_after_secs: *retry_after_secs },
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}
