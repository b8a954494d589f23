//! The errors of the identity services, one per service: each variant names the rule that
//! refused, and keeps the message clients have always read.

use crate::{Denied, ErrorKind, HasErrorKind, Permission, ValidationErrors};

/// Why a user operation (`UserService`, the bootstrap included) was refused.
#[derive(Debug, thiserror::Error)]
pub enum UserError {
    #[error("not found")]
    NotFound,
    /// The operation is the platform's: it needs this root permission.
    #[error("permission denied: root permission {0} is required")]
    RootPermissionRequired(Permission),
    /// A root caller grants only root permissions it holds itself.
    #[error("permission denied: cannot grant root permissions the caller does not hold")]
    GrantBeyondCaller,
    #[error("a user cannot disable itself")]
    CannotDisableSelf,
    /// The platform keeps one active root user with `users:write`: a field error on
    /// `root_permissions` or `status`, whichever the change touched.
    #[error("{0}")]
    LastRootUser(ValidationErrors),
    /// The bootstrap runs once: a root user exists.
    #[error("a root user exists already")]
    RootUserExists,
    #[error("a user with this email exists")]
    EmailTaken,
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

operation_error_from!(UserError: idempotency, insert_user);

impl HasErrorKind for UserError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::RootPermissionRequired(_) | Self::GrantBeyondCaller => ErrorKind::PermissionDenied,
            Self::LastRootUser(errors) => ErrorKind::Invalid(errors),
            Self::CannotDisableSelf | Self::RootUserExists => ErrorKind::FailedPrecondition,
            Self::EmailTaken => ErrorKind::AlreadyExists,
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Why a membership operation (`MemberService`) was refused. The owner is a member with
/// role `owner`; only an ownership transfer moves that role.
#[derive(Debug, thiserror::Error)]
pub enum MemberError {
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    #[error("the owner cannot be demoted")]
    OwnerCannotBeDemoted,
    #[error("the owner role moves only by an ownership transfer")]
    OwnerRoleByTransferOnly,
    #[error("the owner cannot be removed")]
    OwnerCannotBeRemoved,
    #[error("the user is a member of the account already")]
    AlreadyMember,
    /// An invitation is answered once, by the invited user.
    #[error("there is no pending invitation to this account")]
    NoPendingInvitation,
    /// Inviting an unknown email creates its user; another request created one first.
    #[error("a user with this email exists")]
    EmailTaken,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(MemberError: access, idempotency, insert_user);

impl HasErrorKind for MemberError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::OwnerCannotBeDemoted
            | Self::OwnerRoleByTransferOnly
            | Self::OwnerCannotBeRemoved
            | Self::NoPendingInvitation => ErrorKind::FailedPrecondition,
            Self::AlreadyMember | Self::EmailTaken => ErrorKind::AlreadyExists,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Why a token operation (`TokenService`) was refused: most variants are the token rules of
/// "Who may act on whom" (docs/ARCHITECTURE.md), which [`TokenService`] checks.
///
/// [`TokenService`]: crate::TokenService
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("not found")]
    NotFound,
    #[error(transparent)]
    Denied(Denied),
    /// Platform tokens are managed with this root permission.
    #[error("permission denied: root permission {0} is required")]
    RootPermissionRequired(Permission),
    #[error("permission denied: only a root caller creates tokens for other users")]
    TokenForAnotherUser,
    /// A roll hands out the secret: only the token's own user (or a platform administrator).
    #[error("permission denied: only the token's own user (or a root user) may roll it: rolling hands out its secret")]
    RollOfAnotherUsersToken,
    #[error("permission denied: managing another user's token needs members:write")]
    TokenOfAnotherUser,
    #[error("permission denied: only a root user manages a root user's tokens")]
    TokenOfRootUser,
    /// The token's user owns (or holds the owner role on an ancestor of) an account the
    /// token reaches.
    #[error("permission denied: only the owner itself (or a root user) manages the owner's tokens")]
    TokenOfOwner,
    #[error(
        "permission denied: the token allows mfa:write and the calling token does not: it may do what the caller may not"
    )]
    TokenAllowsMfaWrite,
    #[error("permission denied: the token reaches further than the calling token: it may do what the caller may not")]
    TokenReachesFurther,
    /// A token never mints a wider one.
    #[error("permission denied: a token cannot grant more than the calling token holds")]
    GrantBeyondCaller,
    #[error("permission denied: only an administrator re-enables a disabled token")]
    ReenableNeedsAdministrator,
    /// The token changed (user or policies) between the decision and the write.
    #[error("the resource was changed concurrently; retry")]
    Conflict,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the resource created with this idempotency key has since been deleted")]
    ReplayedResourceGone,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(TokenError: access, idempotency, validation);

impl HasErrorKind for TokenError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Denied(denied) => denied.kind(),
            Self::RootPermissionRequired(_)
            | Self::TokenForAnotherUser
            | Self::RollOfAnotherUsersToken
            | Self::TokenOfAnotherUser
            | Self::TokenOfRootUser
            | Self::TokenOfOwner
            | Self::TokenAllowsMfaWrite
            | Self::TokenReachesFurther
            | Self::GrantBeyondCaller
            | Self::ReenableNeedsAdministrator => ErrorKind::PermissionDenied,
            Self::Conflict => ErrorKind::Conflict,
            Self::IdempotencyKeyReused | Self::ReplayedResourceGone => ErrorKind::FailedPrecondition,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}
