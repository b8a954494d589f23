//! Errors shared by every operation: field-level validation errors, the access refusal
//! ([`Denied`]) operations wrap, and the coarse [`ErrorKind`] that lets each wire adapter
//! map any operation's error in one place.

use std::fmt;

use crate::Permission;

/// The field-error code of a change refused because the caller has no active two-factor
/// method yet (turning enforcement on would shut it out). The wire adapters add where to
/// enrol one, as they do for [`ErrorKind::TwoFactorRequired`].
pub const TWOFACTOR_REQUIRED_CODE: &str = "twofactor_required";

/// One rejected input field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    /// The field as the client named it (`name`, `settings.abuse_contact_email`, `page_size`).
    pub field: String,
    /// A stable machine-readable code (`too_long`, `required`, `unknown_value`, …).
    pub code: &'static str,
    /// A human-readable sentence, lower-case, without a trailing period.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, code: &'static str, message: impl Into<String>) -> Self {
        Self { field: field.into(), code, message: message.into() }
    }

    /// The same error reported under another field name (`email` → `settings.abuse_contact_email`).
    pub fn at(mut self, field: impl Into<String>) -> Self {
        self.field = field.into();
        self
    }
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

/// A non-empty list of field errors: everything wrong with one request, not only the first.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct ValidationErrors(Vec<FieldError>);

impl ValidationErrors {
    pub fn single(error: FieldError) -> Self {
        Self(vec![error])
    }

    pub fn fields(&self) -> &[FieldError] {
        &self.0
    }

    /// True when some error concerns `field`.
    pub fn mentions(&self, field: &str) -> bool {
        self.0.iter().any(|e| e.field == field)
    }
}

/// The one field error of a request refused for one field (`name` required, `code` wrong).
pub(crate) fn invalid(field: &str, code: &'static str, message: impl Into<String>) -> ValidationErrors {
    ValidationErrors::single(FieldError::new(field, code, message))
}

impl From<FieldError> for ValidationErrors {
    fn from(error: FieldError) -> Self {
        Self::single(error)
    }
}

impl fmt::Display for ValidationErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self.0.iter().map(ToString::to_string).collect();
        write!(f, "invalid input: {}", parts.join("; "))
    }
}

/// Collects field errors while a command is validated, so a client learns of all of them.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    /// Keeps the value of `result`, or records its error and yields `None`.
    pub fn take<T>(&mut self, result: Result<T, FieldError>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(error) => {
                self.0.push(error);
                None
            }
        }
    }

    /// Like [`Collector::take`] for an optional input.
    pub fn take_opt<T>(&mut self, result: Option<Result<T, FieldError>>) -> Option<Option<T>> {
        match result {
            None => Some(None),
            Some(r) => self.take(r).map(Some),
        }
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), ValidationErrors> {
        if self.0.is_empty() { Ok(()) } else { Err(ValidationErrors(self.0)) }
    }
}

/// What kind of failure an operation's error is, for the wire adapters' status mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind<'a> {
    /// The input broke a rule: REST 422, gRPC INVALID_ARGUMENT.
    Invalid(&'a ValidationErrors),
    /// The resource does not exist or the caller may not know it does: 404 / NOT_FOUND.
    NotFound,
    /// A unique value is taken: 409 / ALREADY_EXISTS.
    AlreadyExists,
    /// The input is well-formed but the current state refuses it: 422 / FAILED_PRECONDITION.
    FailedPrecondition,
    /// The caller's expected version (ETag) is stale: 412 / FAILED_PRECONDITION.
    VersionMismatch,
    /// A concurrent change won the race; retrying may succeed: 409 / ABORTED.
    Conflict,
    /// Authenticated but lacking a permission: 403 / PERMISSION_DENIED.
    PermissionDenied,
    /// A member without an active MFA factor on an account that enforces two-factor
    /// authentication: 403 / PERMISSION_DENIED, with its own problem type and reason.
    TwoFactorRequired,
    /// No valid credentials: 401 / UNAUTHENTICATED.
    Unauthenticated,
    /// Too many failed attempts; the client may retry after the given seconds:
    /// 429 with `Retry-After` / RESOURCE_EXHAUSTED.
    Throttled { retry_after_secs: u64 },
    /// The database cannot be reached (refused, lost, or no connection within the pool's
    /// acquire timeout); the client may retry after the given seconds: 503 with
    /// `Retry-After` / UNAVAILABLE with `RetryInfo`.
    Unavailable { retry_after_secs: u64 },
    /// What the caller asked for is no longer kept (an event cursor older than the feed's
    /// retention): 410 Gone / OUT_OF_RANGE, so a follower knows to resynchronize.
    Gone,
    /// A failure of the service itself; its cause is logged, never shown: 500 / INTERNAL.
    Internal,
}

impl ErrorKind<'_> {
    /// How long a client should wait before retrying while the database cannot be reached:
    /// long enough not to hammer a recovering database, short enough to return soon after.
    pub const UNAVAILABLE_RETRY_AFTER_SECS: u64 = 2;

    /// An unreachable database.
    pub const UNAVAILABLE: ErrorKind<'static> =
        ErrorKind::Unavailable { retry_after_secs: Self::UNAVAILABLE_RETRY_AFTER_SECS };

    /// The kind of an unexpected failure (an operation's `Unknown` variant): `Unavailable`
    /// when a store marked some cause [`StoreUnavailable`], `Conflict` when it marked one
    /// [`StoreContention`], else `Internal`.
    pub fn of_unknown(error: &anyhow::Error) -> ErrorKind<'static> {
        if error.chain().any(|cause| cause.is::<StoreUnavailable>()) {
            ErrorKind::UNAVAILABLE
        } else if error.chain().any(|cause| cause.is::<StoreContention>()) {
            ErrorKind::Conflict
        } else {
            ErrorKind::Internal
        }
    }
}

/// How a store adapter marks an error that means the database cannot be reached, so the
/// services' `Unknown` errors map to [`ErrorKind::Unavailable`] rather than `Internal`
/// without the domain knowing any database driver's error type.
#[derive(Debug, thiserror::Error)]
#[error("the database cannot be reached")]
pub struct StoreUnavailable(#[source] Box<dyn std::error::Error + Send + Sync + 'static>);

impl StoreUnavailable {
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self(cause.into())
    }
}

/// How a store adapter marks an error that means a concurrent transaction won (a deadlock
/// or serialization failure the database broke by aborting this one): the services'
/// `Unknown` errors map to [`ErrorKind::Conflict`] (409 / ABORTED, retrying may succeed).
#[derive(Debug, thiserror::Error)]
#[error("a concurrent transaction conflicted with this one; retry")]
pub struct StoreContention(#[source] Box<dyn std::error::Error + Send + Sync + 'static>);

impl StoreContention {
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync + 'static>>) -> Self {
        Self(cause.into())
    }
}

/// Implemented by every operation error so adapters map them without knowing each variant.
pub trait HasErrorKind: std::error::Error {
    fn kind(&self) -> ErrorKind<'_>;
}

impl HasErrorKind for ValidationErrors {
    fn kind(&self) -> ErrorKind<'_> {
        ErrorKind::Invalid(self)
    }
}

/// Why the access decision refused a caller who may know the account exists: the building
/// block every account-scoped operation's error wraps (`#[error(transparent)] Denied`).
/// A caller holding nothing there gets the operation's own `NotFound` instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Denied {
    /// The caller sees the account but lacks the permission.
    #[error("permission denied: permission {0} is required")]
    Permission(Permission),
    /// The account (or an ancestor) enforces two-factor authentication and the calling
    /// member has no active factor. Where to enrol one is the wire adapters' to say.
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
}

impl HasErrorKind for Denied {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Permission(_) => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
        }
    }
}

/// `error` and each of its sources, `: `-separated, for the log line of an internal failure.
pub fn error_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unknown_error_is_unavailable_only_when_a_store_marked_a_cause() {
        let plain = anyhow::anyhow!("disk on fire").context("reading an account");
        assert_eq!(ErrorKind::of_unknown(&plain), ErrorKind::Internal);
        let refused = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "connection refused");
        let marked = anyhow::Error::new(StoreUnavailable::new(refused)).context("reading an account");
        assert_eq!(ErrorKind::of_unknown(&marked), ErrorKind::Unavailable { retry_after_secs: 2 });
        assert!(error_chain(marked.as_ref()).ends_with("the database cannot be reached: connection refused"));
        let deadlock = anyhow::Error::new(StoreContention::new(std::io::Error::other("deadlock detected")));
        assert_eq!(ErrorKind::of_unknown(&deadlock.context("updating a user")), ErrorKind::Conflict);
    }

    /// What a REST path or a gRPC method name contains.
    const WIRE_NEEDLES: [&str; 2] = ["/v1/", "accountd.v1"];

    /// Where to go next (a URL path, an RPC) is the wire adapters' to say: representative
    /// errors of every area, the two-factor refusals first, name none.
    #[test]
    fn no_domain_error_message_names_a_wire_path() {
        use crate::{
            AccessError, AccountUserError, AliasError, AuditError, CreateAccountError, DeleteAccountError, MemberError,
            MfaError, MoveAccountError, SubscriptionError, TokenError, UpdateAccountError, UserError,
            twofactor_lockout,
        };
        let twofactor = Denied::TwoFactorRequired;
        let messages = [
            AccessError::TwoFactorRequired.to_string(),
            twofactor.to_string(),
            CreateAccountError::TwoFactorRequired.to_string(),
            crate::GetAccountError::TwoFactorRequired.to_string(),
            UpdateAccountError::TwoFactorRequired.to_string(),
            MoveAccountError::TwoFactorRequired.to_string(),
            DeleteAccountError::TwoFactorRequired.to_string(),
            UpdateAccountError::Invalid(twofactor_lockout()).to_string(),
            MemberError::Denied(twofactor).to_string(),
            TokenError::Denied(twofactor).to_string(),
            AuditError::Denied(twofactor).to_string(),
            SubscriptionError::Denied(twofactor).to_string(),
            AliasError::Denied(twofactor).to_string(),
            AccountUserError::Denied(twofactor).to_string(),
            MfaError::NoPendingFactor.to_string(),
            MfaError::TooManyFactors.to_string(),
            UserError::LastRootUser(invalid("status", "last_root", "the last active root user")).to_string(),
        ];
        for message in &messages {
            assert!(!WIRE_NEEDLES.iter().any(|w| message.contains(w)), "{message}");
        }
        assert_eq!(messages[1], "two-factor authentication is required on this account: enrol a TOTP factor");
        assert_eq!(MfaError::TooManyFactors.to_string(), "a user has at most 10 MFA factors; remove one first");
    }

    /// The same rule for every message yet to be written: no code line of the domain (doc
    /// comments aside) holds a REST path or a gRPC method name.
    #[test]
    fn no_domain_source_line_names_a_wire_path() {
        fn visit(dir: &std::path::Path, offending: &mut Vec<String>) {
            for entry in std::fs::read_dir(dir).expect("read the source directory") {
                let path = entry.expect("a directory entry").path();
                if path.is_dir() {
                    visit(&path, offending);
                } else if path.extension().is_some_and(|e| e == "rs") {
                    let text = std::fs::read_to_string(&path).expect("read a source file");
                    for (n, line) in text.lines().enumerate() {
                        let code = line.trim_start();
                        let wire = WIRE_NEEDLES.iter().any(|w| code.contains(w));
                        // The needles themselves are the one allowed mention.
                        if wire && !code.starts_with("//") && !code.starts_with("const WIRE_NEEDLES") {
                            offending.push(format!("{}:{}: {code}", path.display(), n + 1));
                        }
                    }
                }
            }
        }
        let mut offending = Vec::new();
        visit(&std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut offending);
        assert!(offending.is_empty(), "wire paths in the domain:\n{}", offending.join("\n"));
    }
}
