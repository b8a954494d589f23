//! Who is calling, and from where. Every service method takes a [`Principal`] first, so
//! authorization and the audit trail never depend on a caller remembering to pass them.

use std::net::IpAddr;

use crate::{Actor, ActorKind, PermissionSet, Token, User, UserId};

/// Facts about the request that the audit trail records.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RequestInfo {
    pub ip: Option<IpAddr>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
}

impl RequestInfo {
    /// Longest user agent kept; the rest is cut off.
    pub const MAX_USER_AGENT_CHARS: usize = 256;
    /// Longest request id accepted.
    pub const MAX_REQUEST_ID_LEN: usize = 128;

    /// Builds the record from what a client sent. Clients control these values and the
    /// audit trail keeps them forever, so the user agent is cut to a bounded length and a
    /// request id that [`Self::is_acceptable_request_id`] refuses is dropped.
    pub fn from_client(ip: Option<IpAddr>, user_agent: Option<&str>, request_id: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(Self::MAX_USER_AGENT_CHARS).collect()),
            request_id: request_id.filter(|id| Self::is_acceptable_request_id(id)).map(str::to_owned),
        }
    }

    /// Whether a client's request id may be kept: 1–128 characters of `[A-Za-z0-9._:-]`.
    /// It goes verbatim into log lines, response headers and the audit trail, so anything
    /// that could break a log format, quote a field or bloat a record is refused; the wire
    /// adapters then generate an id instead.
    pub fn is_acceptable_request_id(id: &str) -> bool {
        (1..=Self::MAX_REQUEST_ID_LEN).contains(&id.len())
            && id.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'))
    }
}

/// The authenticated caller of a service method.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    identity: Identity,
    request: RequestInfo,
}

/// The kinds of caller accountd knows.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Identity {
    /// accountd itself or an operator at the console (`accountd bootstrap`): may do
    /// everything. Never derived from a request.
    System,
    /// A user acting through one of its tokens.
    Token(Box<TokenCaller>),
}

/// A verified token and its user, as they were when the request was authenticated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCaller {
    pub user: User,
    pub token: Token,
}

impl Principal {
    /// The all-powerful system caller.
    pub fn system(request: RequestInfo) -> Self {
        Self { identity: Identity::System, request }
    }

    /// A user acting through a verified token; only the authenticator makes one.
    pub(crate) fn token(user: User, token: Token, request: RequestInfo) -> Self {
        Self { identity: Identity::Token(Box::new(TokenCaller { user, token })), request }
    }

    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// The calling token and its user; `None` for the system principal.
    pub fn token_caller(&self) -> Option<&TokenCaller> {
        match &self.identity {
            Identity::System => None,
            Identity::Token(caller) => Some(caller),
        }
    }

    /// The calling user's id; `None` for the system principal.
    pub fn user_id(&self) -> Option<UserId> {
        self.token_caller().map(|c| c.user.id)
    }

    /// Platform-wide permissions: all for the system, the user's root permissions narrowed
    /// by what its token allows on every account otherwise.
    pub fn root_permissions(&self) -> PermissionSet {
        match &self.identity {
            Identity::System => PermissionSet::all(),
            Identity::Token(c) => c.user.root_permissions.intersection(c.token.platform_grant()),
        }
    }

    /// The audit trail's view of this caller.
    pub fn actor(&self) -> Actor {
        match &self.identity {
            Identity::System => Actor { kind: ActorKind::System, id: None, email: None },
            Identity::Token(c) => Actor {
                kind: if c.user.is_root() { ActorKind::Platform } else { ActorKind::Token },
                id: Some(c.token.id.to_string()),
                email: Some(c.user.email.as_str().to_owned()),
            },
        }
    }

    /// The namespace of this caller's idempotency keys.
    pub fn idempotency_scope(&self) -> String {
        match &self.identity {
            Identity::System => "system".to_owned(),
            Identity::Token(c) => format!("user:{}", c.user.id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn client_supplied_request_facts_are_bounded() {
        let long_agent = "a".repeat(1000);
        let info = RequestInfo::from_client(None, Some(&long_agent), Some("ok-123"));
        assert_eq!(info.user_agent.map(|ua| ua.len()), Some(RequestInfo::MAX_USER_AGENT_CHARS));
        assert_eq!(info.request_id.as_deref(), Some("ok-123"));
        assert!(RequestInfo::is_acceptable_request_id("0190c0de-7a3b.trace_1:span"));
        assert!(RequestInfo::is_acceptable_request_id(&"x".repeat(128)));
        for bad in
            ["", "has space", "ünïcode", &"x".repeat(129), "quo\"ted", "a=b", "semi;colon", "{json}", "line\nbreak"]
        {
            assert_eq!(RequestInfo::from_client(None, None, Some(bad)).request_id, None, "{bad:?}");
        }
    }
}
