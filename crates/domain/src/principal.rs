//! Who is calling, and from where. Every service method takes a [`Principal`] first, so
//! authorization and the audit trail never depend on a caller remembering to pass them.

use std::net::IpAddr;

use crate::audit::{Actor, ActorKind};

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
    /// request id that is not 1–128 visible ASCII characters is dropped.
    pub fn from_client(ip: Option<IpAddr>, user_agent: Option<&str>, request_id: Option<&str>) -> Self {
        Self {
            ip,
            user_agent: user_agent.map(|ua| ua.chars().take(Self::MAX_USER_AGENT_CHARS).collect()),
            request_id: request_id
                .filter(|id| {
                    !id.is_empty() && id.len() <= Self::MAX_REQUEST_ID_LEN && id.bytes().all(|b| b.is_ascii_graphic())
                })
                .map(str::to_owned),
        }
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
    /// accountd itself or an operator at the console: may do everything. The wire adapters
    /// use it until token authentication exists; it is never derived from a request header.
    System,
}

/// The fixed permission catalogue (SPEC §1). Roles are sets of these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Permission {
    AccountsRead,
    AccountsWrite,
}

impl Permission {
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::AccountsRead => "accounts:read",
            Self::AccountsWrite => "accounts:write",
        }
    }
}

impl Principal {
    /// The all-powerful system caller.
    pub fn system(request: RequestInfo) -> Self {
        Self { identity: Identity::System, request }
    }

    pub fn request(&self) -> &RequestInfo {
        &self.request
    }

    /// The audit trail's view of this caller.
    pub fn actor(&self) -> Actor {
        match self.identity {
            Identity::System => Actor { kind: ActorKind::System, id: None, email: None },
        }
    }

    /// The namespace of this caller's idempotency keys.
    pub fn idempotency_scope(&self) -> String {
        match self.identity {
            Identity::System => "system".to_owned(),
        }
    }

    /// Whether the caller holds `permission` on every account. The system principal does.
    pub(crate) fn holds(&self, _permission: Permission) -> bool {
        match self.identity {
            Identity::System => true,
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
        for bad in ["", "has space", "ünïcode", &"x".repeat(129)] {
            assert_eq!(RequestInfo::from_client(None, None, Some(bad)).request_id, None, "{bad:?}");
        }
    }
}
