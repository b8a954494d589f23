//! The decision API's types: who asks ([`Subject`]), what ([`Check`]), and the answer
//! ([`Decision`]), over `AuthorizationService/Check`.

use std::fmt;
use std::net::IpAddr;

use secrecy::{ExposeSecret, SecretString};

use crate::pb;

/// Whom a decision is about: a token a customer presented to your product, or a user of
/// accountd decided on its own roles.
///
/// `Debug` never shows a token's secret.
///
/// ```
/// use accountd_client::Subject;
///
/// let subject = Subject::token("acd_example_secret".into()).from_ip("203.0.113.7".parse().unwrap());
/// assert!(!format!("{subject:?}").contains("acd_example_secret"));
/// ```
#[derive(Debug, Clone)]
pub struct Subject(Who);

#[derive(Debug, Clone)]
enum Who {
    Token { secret: SecretString, client_ip: Option<IpAddr> },
    User { user_id: String },
}

impl Subject {
    /// A token (`acd_…`) presented to the product.
    pub fn token(secret: SecretString) -> Self {
        Self(Who::Token { secret, client_ip: None })
    }

    /// A user of accountd, for products that authenticate their own users.
    pub fn user(user_id: impl Into<String>) -> Self {
        Self(Who::User { user_id: user_id.into() })
    }

    /// Where the token is used from: a token with IP conditions is refused without it.
    /// Ignored for a user subject, which has no IP conditions.
    pub fn from_ip(self, ip: IpAddr) -> Self {
        match self.0 {
            Who::Token { secret, .. } => Self(Who::Token { secret, client_ip: Some(ip) }),
            user @ Who::User { .. } => Self(user),
        }
    }
}

/// One question: may the subject do `permission` (e.g. `aliases:write`) on `account_id`?
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    account_id: String,
    permission: String,
}

impl Check {
    pub fn new(account_id: impl Into<String>, permission: impl Into<String>) -> Self {
        Self { account_id: account_id.into(), permission: permission.into() }
    }
}

/// The answer: whether the subject is usable at all, and one result per check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decision {
    /// False when the token is not usable; then `reason` says why and `results` is empty.
    pub active: bool,
    /// `unknown`, `expired`, `not_yet_valid`, `disabled`, `ip_refused` or `malformed`;
    /// `None` when active.
    pub reason: Option<String>,
    /// Who the subject is, when active.
    pub subject: Option<DecisionSubject>,
    /// One per check, in the order asked.
    pub results: Vec<CheckResult>,
}

/// The user behind an active subject, and the token when the subject was one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionSubject {
    pub user_id: String,
    pub token_id: Option<String>,
}

/// The answer to one [`Check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckResult {
    pub account_id: String,
    pub permission: String,
    pub allowed: bool,
    /// `granted`, `not_found`, `forbidden` or `two_factor_required`.
    pub reason: String,
}

impl Decision {
    /// Whether the subject is active and was granted `permission` on `account_id` (false
    /// for a pair that was not asked).
    pub fn allowed(&self, account_id: &str, permission: &str) -> bool {
        self.active
            && self.results.iter().any(|r| r.allowed && r.account_id == account_id && r.permission == permission)
    }

    /// Whether the subject is active and every check was granted.
    pub fn all_allowed(&self) -> bool {
        self.active && !self.results.is_empty() && self.results.iter().all(|r| r.allowed)
    }
}

pub(crate) fn request(subject: Subject, checks: impl IntoIterator<Item = Check>) -> pb::CheckRequest {
    let checks = checks
        .into_iter()
        .map(|c| pb::AuthorizationCheck { account_id: c.account_id, permission: c.permission })
        .collect();
    match subject.0 {
        Who::Token { secret, client_ip } => pb::CheckRequest {
            token: secret.expose_secret().to_owned(),
            client_ip: client_ip.map(|ip| ip.to_string()).unwrap_or_default(),
            checks,
            ..Default::default()
        },
        Who::User { user_id } => pb::CheckRequest { user_id, checks, ..Default::default() },
    }
}

impl From<pb::CheckResponse> for Decision {
    fn from(answer: pb::CheckResponse) -> Self {
        let non_empty = |s: String| (!s.is_empty()).then_some(s);
        Decision {
            active: answer.active,
            reason: non_empty(answer.reason),
            subject: answer.subject.map(|s| DecisionSubject { user_id: s.user_id, token_id: non_empty(s.token_id) }),
            results: answer
                .results
                .into_iter()
                .map(|r| CheckResult {
                    account_id: r.account_id,
                    permission: r.permission,
                    allowed: r.allowed,
                    reason: r.reason,
                })
                .collect(),
        }
    }
}

/// Written by hand (the build skips the generated one) so that the token never shows.
impl fmt::Debug for pb::CheckRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CheckRequest")
            .field("token", &if self.token.is_empty() { "" } else { "[REDACTED]" })
            .field("user_id", &self.user_id)
            .field("client_ip", &self.client_ip)
            .field("checks", &self.checks)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn result(account: &str, permission: &str, allowed: bool) -> CheckResult {
        let reason = if allowed { "granted" } else { "forbidden" };
        CheckResult { account_id: account.into(), permission: permission.into(), allowed, reason: reason.into() }
    }

    #[test]
    fn allowed_answers_only_granted_pairs_of_an_active_subject() {
        let mut decision = Decision {
            active: true,
            reason: None,
            subject: None,
            results: vec![result("a", "aliases:write", true), result("a", "members:write", false)],
        };
        assert!(decision.allowed("a", "aliases:write"));
        assert!(!decision.allowed("a", "members:write"));
        assert!(!decision.allowed("b", "aliases:write"), "not asked");
        assert!(!decision.all_allowed());
        decision.results.pop();
        assert!(decision.all_allowed());
        decision.active = false;
        assert!(!decision.allowed("a", "aliases:write"));
    }

    #[test]
    fn a_check_request_never_shows_its_token() {
        let subject = Subject::token("acd_very_secret".into()).from_ip([203, 0, 113, 7].into());
        let request = request(subject.clone(), [Check::new("a", "aliases:write")]);
        assert_eq!(request.token, "acd_very_secret");
        assert_eq!(request.client_ip, "203.0.113.7");
        for shown in [format!("{request:?}"), format!("{subject:?}")] {
            assert!(!shown.contains("acd_very_secret"), "{shown}");
        }
    }
}
