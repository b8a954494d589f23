//! The errors of the domain and alias services: each variant names the rule that refused,
//! and keeps the message clients have always read.

use crate::{Denied, DomainName, DomainStatus, ErrorKind, HasErrorKind, ValidationErrors};

/// Why a managed-domain operation (`DomainService`) was refused.
#[derive(Debug, thiserror::Error)]
pub enum DomainError {
    #[error("not found")]
    NotFound,
    /// Domains are the platform's: changing them needs the root permission `domains:write`.
    #[error("permission denied: domains are managed by root users holding domains:write")]
    DomainsManagedByRoot,
    #[error("the domain {0} exists")]
    DomainExists(DomainName),
    /// A domain goes only once no alias uses it.
    #[error("aliases use the domain {0}; delete them first")]
    DomainInUse(DomainName),
    #[error("the resource has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(DomainError: idempotency);

impl HasErrorKind for DomainError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::DomainsManagedByRoot => ErrorKind::PermissionDenied,
            Self::DomainExists(_) => ErrorKind::AlreadyExists,
            Self::DomainInUse(_) => ErrorKind::FailedPrecondition,
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Why an alias operation (`AliasService`, and the primary alias of a new account) was
/// refused.
#[derive(Debug, thiserror::Error)]
pub enum AliasError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    /// Aliases are created only on active domains.
    #[error("aliases can be created only on active domains; {domain} is {status}")]
    DomainNotActive { domain: DomainName, status: DomainStatus },
    #[error("the address {0} exists")]
    AddressTaken(String),
    #[error("the primary alias of an account is deleted only with the account")]
    PrimaryAliasGoesWithAccount,
    /// Mailbox authentication is the mail server's right: the root permission `aliases:read`.
    #[error("permission denied: mailbox authentication needs the root permission aliases:read")]
    MailboxAuthenticationNeedsRoot,
    /// Mailbox authentication failed; which part was wrong is not said.
    #[error("invalid mailbox credentials")]
    BadCredentials,
    #[error("too many failed attempts for this address; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("the resource has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(AliasError: access, idempotency, attempt, validation);

impl HasErrorKind for AliasError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::DomainNotActive { .. } | Self::PrimaryAliasGoesWithAccount => ErrorKind::FailedPrecondition,
            Self::AddressTaken(_) => ErrorKind::AlreadyExists,
            Self::MailboxAuthenticationNeedsRoot => ErrorKind::PermissionDenied,
            Self::BadCredentials => ErrorKind::Unauthenticated,
            Self::Throttled { retry_after_secs } => ErrorKind::Throttled { retry_after_secs: *retry_after_secs },
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}
