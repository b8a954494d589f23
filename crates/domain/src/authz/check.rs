//! The decision API (issue 12): a product asks whether a subject — a token a customer
//! presented to it, or one of accountd's users by id — holds a permission on accounts, and
//! gets the answer accountd itself would enforce. Nothing is decided here: the token is
//! verified by the [`Authenticator`] every request goes through (status, `not_before`,
//! `expires_on`, IP conditions; `last_used_on` is recorded as for any use), and each check
//! is [`Rights::check`] on the rights [`Deps`] loads for every service's decision.

use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use crate::{
    AccessError, AccountId, AuthError, Authenticator, Clock, Collector, Deps, ErrorKind, FieldError, HasErrorKind,
    IdGenerator, Permission, Placement, Principal, RequestInfo, Rights, Store, Token, TokenId, User, UserId,
    ValidationErrors,
};

/// How many checks one call may ask at most.
pub const MAX_CHECKS: usize = 100;

/// A token secret as a product presented it, unchecked (a malformed one is an answer,
/// `malformed`, not a refusal of the request). `Debug` never shows it.
#[derive(Clone)]
pub struct PresentedToken(SecretString);

impl PresentedToken {
    pub fn new(raw: String) -> Self {
        Self(SecretString::from(raw))
    }

    fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

impl fmt::Debug for PresentedToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PresentedToken(..)")
    }
}

/// One check as the wire gives it.
#[derive(Debug, Clone, Default)]
pub struct CheckInput {
    pub account_id: String,
    pub permission: String,
}

/// A decision request as the wire gives it: exactly one of `token` and `user_id` (an empty
/// string is absent, as proto3 sends it), `client_ip` only with a token, 1–100 checks.
#[derive(Clone, Default)]
pub struct AuthorizeInput {
    pub token: Option<String>,
    pub user_id: Option<String>,
    pub client_ip: Option<String>,
    pub checks: Vec<CheckInput>,
}

impl fmt::Debug for AuthorizeInput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizeInput")
            .field("token", &self.token.as_ref().map(|_| ".."))
            .field("user_id", &self.user_id)
            .field("client_ip", &self.client_ip)
            .field("checks", &self.checks)
            .finish()
    }
}

/// Whom a decision is about.
#[derive(Debug, Clone)]
pub enum Subject {
    /// A presented token, used from `client_ip` (unknown when `None`: a token with IP
    /// conditions is then refused, as a request from an unknown address would be).
    Token { token: PresentedToken, client_ip: Option<IpAddr> },
    /// A user with its own rights (root permissions and roles), for products that
    /// authenticate their users themselves.
    User(UserId),
}

/// One question: may the subject do `permission` on the account `account_id` names? The id
/// is kept as given: ids are opaque, so one that is not well formed names no account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub account_id: String,
    pub permission: Permission,
}

/// A valid decision request.
#[derive(Debug, Clone)]
pub struct AuthorizeRequest {
    pub subject: Subject,
    pub checks: Vec<Check>,
}

impl AuthorizeInput {
    pub fn validate(self) -> Result<AuthorizeRequest, ValidationErrors> {
        let mut errors = Collector::default();
        let present = |v: Option<String>| v.filter(|s| !s.is_empty());
        let (token, user_id) = (present(self.token), present(self.user_id));
        let client_ip = present(self.client_ip);
        let ip = errors.take_opt(client_ip.as_deref().map(|ip| {
            ip.trim().parse::<IpAddr>().map_err(|_| FieldError::new("client_ip", "invalid_ip", "must be an IP address"))
        }));
        let subject = match (token, user_id) {
            (Some(_), Some(_)) => {
                errors.take::<()>(Err(FieldError::new(
                    "user_id",
                    "exclusive",
                    "give either token or user_id, not both",
                )));
                None
            }
            (None, None) => {
                errors.take::<()>(Err(FieldError::new("token", "required", "give either token or user_id")));
                None
            }
            (Some(token), None) => ip.map(|client_ip| Subject::Token { token: PresentedToken::new(token), client_ip }),
            (None, Some(user)) => {
                if client_ip.is_some() {
                    errors.take::<()>(Err(FieldError::new(
                        "client_ip",
                        "token_only",
                        "is meaningful only with token: a user_id subject has no conditions",
                    )));
                }
                errors.take(UserId::parse(&user, "user_id")).map(Subject::User)
            }
        };
        if self.checks.is_empty() {
            errors.take::<()>(Err(FieldError::new("checks", "required", "must hold at least one check")));
        } else if self.checks.len() > MAX_CHECKS {
            errors.take::<()>(Err(FieldError::new(
                "checks",
                "too_many",
                format!("must hold at most {MAX_CHECKS} checks"),
            )));
        }
        let checks: Vec<Option<Check>> = self
            .checks
            .into_iter()
            .take(MAX_CHECKS)
            .enumerate()
            .map(|(i, c)| {
                let field = format!("checks[{i}].permission");
                let permission = Permission::parse(&c.permission).map_err(|e| e.at(&field)).and_then(|p| {
                    if p == Permission::MfaWrite {
                        // Every user manages its own factors; the calling token decides
                        // (`mfa:write`), no account does, so no decision on one could agree.
                        Err(FieldError::new(
                            &field,
                            "not_decided_on_accounts",
                            "mfa:write is a token's permission over its own user's factors, not decided on accounts",
                        ))
                    } else if p.is_account_scoped() {
                        Ok(p)
                    } else {
                        Err(FieldError::new(&field, "not_account_scoped", "must be a permission held on accounts"))
                    }
                });
                errors.take(permission).map(|permission| Check { account_id: c.account_id, permission })
            })
            .collect();
        errors.finish()?;
        Ok(AuthorizeRequest {
            subject: subject.expect("a subject when no field error was recorded"),
            checks: checks.into_iter().flatten().collect(),
        })
    }
}

named_enum!(
    /// Why a presented subject is not usable: the token's [`AuthError`] (or, for a
    /// `user_id` subject, an unknown or disabled user).
    InactiveReason, "reason" {
        Unknown => "unknown",
        Expired => "expired",
        NotYetValid => "not_yet_valid",
        Disabled => "disabled",
        IpRefused => "ip_refused",
        Malformed => "malformed",
    }
);

named_enum!(
    /// The answer to one check: [`Rights::check`]'s, by name.
    CheckReason, "reason" {
        Granted => "granted",
        NotFound => "not_found",
        Forbidden => "forbidden",
        TwoFactorRequired => "two_factor_required",
    }
);

/// The answer to one check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    /// As the request gave it.
    pub account_id: String,
    pub permission: Permission,
    pub reason: CheckReason,
}

impl CheckResult {
    pub fn allowed(&self) -> bool {
        self.reason == CheckReason::Granted
    }
}

/// The answer to a decision request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    /// The subject is not usable: no check was made.
    Inactive(InactiveReason),
    /// The subject (its user, and its token for a token subject) and one result per check,
    /// in the request's order.
    Active { user_id: UserId, token_id: Option<TokenId>, results: Vec<CheckResult> },
}

/// Why a decision request was refused (a valid request about an unusable subject is not
/// refused: it is answered [`Decision::Inactive`]).
#[derive(Debug, thiserror::Error)]
pub enum AuthorizationError {
    /// The caller does not hold the root permission `authz:check`.
    #[error("root permission {0} is required")]
    RootPermissionRequired(Permission),
    /// The presented token could not be looked up (the database is unreachable: 503; or
    /// the lookup failed: 500).
    #[error(transparent)]
    TokenLookup(AuthError),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl HasErrorKind for AuthorizationError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::RootPermissionRequired(_) => ErrorKind::PermissionDenied,
            Self::TokenLookup(e) => e.kind(),
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// The decision API's service.
#[derive(Clone)]
pub struct AuthorizationService {
    deps: Deps,
    authenticator: Authenticator,
}

impl fmt::Debug for AuthorizationService {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationService").finish_non_exhaustive()
    }
}

impl AuthorizationService {
    /// `authenticator` verifies presented tokens: pass the one requests are authenticated
    /// with, so both share its `last_used_on` throttle.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        authenticator: Authenticator,
    ) -> Self {
        Self { deps: Deps { store, clock, ids }, authenticator }
    }

    /// Answers `request` for a caller holding the root permission `authz:check`. Reads only:
    /// no audit event is written (a presented token's `last_used_on` is recorded, throttled,
    /// as any authentication records it).
    #[instrument(level = "debug", skip_all, fields(checks = request.checks.len()))]
    pub async fn check(
        &self,
        principal: &Principal,
        request: AuthorizeRequest,
    ) -> Result<Decision, AuthorizationError> {
        if !principal.root_permissions().contains(Permission::AuthzCheck) {
            return Err(AuthorizationError::RootPermissionRequired(Permission::AuthzCheck));
        }
        let (user, token) = match self.subject(request.subject).await? {
            Ok(subject) => subject,
            Err(reason) => return Ok(Decision::Inactive(reason)),
        };
        // One placement and one rights load per distinct account of the request, each from
        // the decision cache when it is warm.
        let mut loaded: HashMap<AccountId, Option<(Placement, Rights)>> = HashMap::new();
        let mut results = Vec::with_capacity(request.checks.len());
        for check in request.checks {
            let reason = match AccountId::parse(&check.account_id, "account_id") {
                Err(_) => CheckReason::NotFound,
                Ok(id) => {
                    if let Entry::Vacant(slot) = loaded.entry(id) {
                        let rights = match self.deps.placements_of(&[id]).await?.pop() {
                            None => None,
                            Some(account) => {
                                let rights = self.deps.subject_rights_for(&user, token.as_ref(), &account).await?;
                                Some((account, rights))
                            }
                        };
                        slot.insert(rights);
                    }
                    match &loaded[&id] {
                        None => CheckReason::NotFound,
                        Some((account, rights)) => reason(rights.check(account, check.permission))?,
                    }
                }
            };
            results.push(CheckResult { account_id: check.account_id, permission: check.permission, reason });
        }
        Ok(Decision::Active { user_id: user.id, token_id: token.map(|t| t.id), results })
    }

    /// The subject's user and token, or why it is not usable.
    async fn subject(
        &self,
        subject: Subject,
    ) -> Result<Result<(User, Option<Token>), InactiveReason>, AuthorizationError> {
        match subject {
            Subject::Token { token, client_ip } => {
                let request = RequestInfo { ip: client_ip, ..RequestInfo::default() };
                match self.authenticator.authenticate(Some(token.expose()), request).await {
                    Ok(principal) => {
                        let caller = principal
                            .token_caller()
                            .ok_or_else(|| anyhow::anyhow!("the authenticator answered a principal without a token"))?;
                        Ok(Ok((caller.user.clone(), Some(caller.token.clone()))))
                    }
                    Err(e) => inactive(e).map(Err).map_err(AuthorizationError::TokenLookup),
                }
            }
            Subject::User(id) => Ok(match self.deps.cached_user(id).await? {
                None => Err(InactiveReason::Unknown),
                Some(user) if !user.is_active() => Err(InactiveReason::Disabled),
                Some(user) => Ok((user, None)),
            }),
        }
    }
}

/// The inactive reason of a refused token; a lookup that failed is no answer about the token.
fn inactive(error: AuthError) -> Result<InactiveReason, AuthError> {
    Ok(match error {
        // `Missing` cannot happen (a token subject always presents one); it is malformed.
        AuthError::Missing | AuthError::Malformed => InactiveReason::Malformed,
        AuthError::Unknown => InactiveReason::Unknown,
        AuthError::Disabled => InactiveReason::Disabled,
        AuthError::Expired => InactiveReason::Expired,
        AuthError::NotYetValid => InactiveReason::NotYetValid,
        AuthError::IpRefused => InactiveReason::IpRefused,
        AuthError::Unavailable | AuthError::LookupFailed => return Err(error),
    })
}

/// A check's answer from the decision's outcome.
fn reason(decision: Result<(), AccessError>) -> Result<CheckReason, AuthorizationError> {
    Ok(match decision {
        Ok(()) => CheckReason::Granted,
        Err(AccessError::NotFound) => CheckReason::NotFound,
        Err(AccessError::Forbidden(_)) => CheckReason::Forbidden,
        Err(AccessError::TwoFactorRequired) => CheckReason::TwoFactorRequired,
        Err(AccessError::Unknown(e)) => return Err(e.into()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input(checks: usize) -> AuthorizeInput {
        AuthorizeInput {
            token: Some("acd_x".into()),
            checks: (0..checks)
                .map(|_| CheckInput { account_id: "a".into(), permission: "aliases:write".into() })
                .collect(),
            ..AuthorizeInput::default()
        }
    }

    fn refused(input: AuthorizeInput) -> ValidationErrors {
        input.validate().expect_err("refused")
    }

    #[test]
    fn a_request_holds_one_to_a_hundred_checks() {
        assert!(input(1).validate().is_ok());
        assert!(input(MAX_CHECKS).validate().is_ok());
        assert_eq!(refused(input(0)).fields()[0].field, "checks");
        let too_many = refused(input(MAX_CHECKS + 1));
        assert_eq!((too_many.fields()[0].field.as_str(), too_many.fields()[0].code), ("checks", "too_many"));
    }

    #[test]
    fn a_request_names_exactly_one_subject() {
        let both = AuthorizeInput { user_id: Some(uuid::Uuid::nil().to_string()), ..input(1) };
        assert!(refused(both).mentions("user_id"));
        let neither = AuthorizeInput { token: None, ..input(1) };
        assert!(refused(neither).mentions("token"));
        let empty_is_absent = AuthorizeInput { token: Some(String::new()), ..input(1) };
        assert!(refused(empty_is_absent).mentions("token"));
        let user = AuthorizeInput { token: None, user_id: Some(uuid::Uuid::nil().to_string()), ..input(1) };
        assert!(matches!(user.validate().unwrap().subject, Subject::User(_)));
        let bad_user = AuthorizeInput { token: None, user_id: Some("nobody".into()), ..input(1) };
        assert!(refused(bad_user).mentions("user_id"));
    }

    #[test]
    fn client_ip_is_an_address_given_with_a_token() {
        let ok = AuthorizeInput { client_ip: Some("203.0.113.7".into()), ..input(1) };
        assert!(matches!(ok.validate().unwrap().subject, Subject::Token { client_ip: Some(_), .. }));
        assert!(refused(AuthorizeInput { client_ip: Some("300.1.1.1".into()), ..input(1) }).mentions("client_ip"));
        let with_user = AuthorizeInput {
            token: None,
            user_id: Some(uuid::Uuid::nil().to_string()),
            client_ip: Some("203.0.113.7".into()),
            ..input(1)
        };
        assert!(refused(with_user).mentions("client_ip"));
    }

    #[test]
    fn each_permission_is_an_account_permission_of_the_catalogue() {
        let mut bad = input(3);
        bad.checks[1].permission = "galaxy:rule".into();
        bad.checks[2].permission = "users:write".into();
        let errors = refused(bad);
        assert!(errors.mentions("checks[1].permission") && errors.mentions("checks[2].permission"), "{errors}");
        assert!(!errors.mentions("checks[0].permission"));
        // No endpoint decides mfa:write on an account (every user manages its own factors),
        // so a decision about it could not agree with accountd's own.
        let mut mfa = input(1);
        mfa.checks[0].permission = "mfa:write".into();
        let errors = refused(mfa);
        assert_eq!(errors.fields()[0].field, "checks[0].permission");
        assert_eq!(errors.fields()[0].code, "not_decided_on_accounts");
    }

    #[test]
    fn debug_never_shows_the_presented_token() {
        let secret = "acd_thisisthesecretvalue";
        let input = AuthorizeInput { token: Some(secret.into()), ..input(1) };
        assert!(!format!("{input:?}").contains(secret));
        let request = input.validate().unwrap();
        assert!(!format!("{request:?}").contains(secret), "{request:?}");
    }
}
