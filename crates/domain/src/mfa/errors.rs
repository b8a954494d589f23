//! The errors of the MFA and account-user services: each variant names the rule that
//! refused, and keeps the message clients have always read.

use crate::{Denied, ErrorKind, HasErrorKind, MAX_FACTORS, ValidationErrors};

/// Why an operation on the caller's own factors (`MfaService`) was refused. The refusals of
/// a code are field errors on `code`, each its own variant.
#[derive(Debug, thiserror::Error)]
pub enum MfaError {
    /// The caller has no such factor, or is the system (which has none).
    #[error("not found")]
    NotFound,
    /// Factors protect every account of the user: a token narrowed without `mfa:write`
    /// may not change them.
    #[error("permission denied: permission mfa:write is required")]
    TokenLacksMfaWrite,
    /// A change over an active factor needs a current code from it.
    #[error("{0}")]
    CodeRequired(ValidationErrors),
    /// The code matches no active factor at this time.
    #[error("{0}")]
    CodeMismatch(ValidationErrors),
    /// The code was accepted once already: a code works once.
    #[error("{0}")]
    CodeReplayed(ValidationErrors),
    #[error("there is no pending factor: enrol one first")]
    NoPendingFactor,
    #[error("the factor is active already")]
    FactorAlreadyActive,
    /// At most [`MAX_FACTORS`] factors per user, pending ones included.
    #[error("a user has at most {MAX_FACTORS} MFA factors; remove one first")]
    TooManyFactors,
    #[error("the user has no active MFA factor")]
    NoActiveFactor,
    /// A factor was activated between the decision and the write.
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    #[error("too many failed attempts for this address; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(MfaError: idempotency, attempt);

impl HasErrorKind for MfaError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::TokenLacksMfaWrite => ErrorKind::PermissionDenied,
            Self::CodeRequired(errors) | Self::CodeMismatch(errors) | Self::CodeReplayed(errors) => {
                ErrorKind::Invalid(errors)
            }
            Self::NoPendingFactor | Self::FactorAlreadyActive | Self::TooManyFactors | Self::NoActiveFactor => {
                ErrorKind::FailedPrecondition
            }
            Self::Conflict => ErrorKind::Conflict,
            Self::Throttled { retry_after_secs } => ErrorKind::Throttled { retry_after_secs: *retry_after_secs },
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Why an account-user operation (`AccountUserService`) was refused. The owner is refused
/// with a field error on `user_id` (code `account_owner`), so the 422 carries an `errors`
/// list (seed 002).
#[derive(Debug, thiserror::Error)]
pub enum AccountUserError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    #[error("{0}")]
    OwnerCannotBeRemoved(ValidationErrors),
    /// An owner's factors are never reset, whichever of its accounts is named.
    #[error("{0}")]
    OwnerMfaCannotBeReset(ValidationErrors),
    /// Factors belong to the user: resetting them needs `users:mfa_reset` on every account
    /// the user accepted.
    #[error("permission denied: you may not reset this user's MFA; ask a root user")]
    MfaResetBeyondRights,
    #[error("permission denied: only a root caller resets a root user's MFA")]
    RootUserMfaResetNeedsRoot,
    #[error("the user is a member of the account already")]
    AlreadyMember,
    /// The invitation creates the user; another request created one with the email first.
    #[error("a user with this email exists")]
    EmailTaken,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(AccountUserError: access, idempotency, insert_user);

impl HasErrorKind for AccountUserError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::OwnerCannotBeRemoved(errors) | Self::OwnerMfaCannotBeReset(errors) => ErrorKind::Invalid(errors),
            Self::MfaResetBeyondRights | Self::RootUserMfaResetNeedsRoot => ErrorKind::PermissionDenied,
            Self::AlreadyMember | Self::EmailTaken => ErrorKind::AlreadyExists,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}
