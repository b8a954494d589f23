//! How a presented token becomes a principal ([`Authenticator`]), and why one is refused
//! ([`AuthError`]).

use crate::{
    Clock, Deps, ErrorKind, HasErrorKind, IdGenerator, Principal, RequestInfo, Store, Token, TokenId, TokenSecret,
    TokenStatus,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// Why a presented credential was refused. Every variant but `Unavailable` (503) and
/// `LookupFailed` (500) answers 401; the variant is logged and named in the response's
/// detail, never anything about other tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum AuthError {
    #[error("no token was presented")]
    Missing,
    #[error("the token is malformed")]
    Malformed,
    #[error("the token is not known")]
    Unknown,
    #[error("the token or its user is disabled")]
    Disabled,
    #[error("the token has expired")]
    Expired,
    #[error("the token is not valid yet")]
    NotYetValid,
    #[error("the token may not be used from this address")]
    IpRefused,
    /// The database cannot be reached, so the token could not be looked up: 503.
    #[error("the credentials could not be checked: the database cannot be reached")]
    Unavailable,
    /// The lookup failed otherwise (the cause is logged where it happened): 500.
    #[error("the credentials could not be checked")]
    LookupFailed,
}

impl HasErrorKind for AuthError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Unavailable => ErrorKind::UNAVAILABLE,
            Self::LookupFailed => ErrorKind::Internal,
            _ => ErrorKind::Unauthenticated,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Authenticator;

    #[test]
    fn a_credential_comes_from_a_bearer_header_or_an_api_key() {
        assert_eq!(Authenticator::credential(Some("Bearer acd_x"), None), Some("acd_x"));
        assert_eq!(Authenticator::credential(Some("bearer  acd_x "), Some("acd_y")), Some("acd_x"));
        assert_eq!(Authenticator::credential(None, Some("acd_y")), Some("acd_y"));
        assert_eq!(Authenticator::credential(Some("Basic abc"), None), None);
        assert_eq!(Authenticator::credential(Some("Bearer "), Some(" ")), None);
    }
}

/// The size at which the authenticator forgets tokens it has not seen for an interval.
const TOUCHED_PRUNE_AT: usize = 10_000;

/// How often a token's `last_used_on` is written at most, per instance.
const TOUCH_INTERVAL: Duration = Duration::seconds(60);

/// Turns a presented secret into a principal.
#[derive(Clone)]
pub struct Authenticator {
    deps: Deps,
    touched: Arc<Mutex<HashMap<TokenId, DateTime<Utc>>>>,
}

impl std::fmt::Debug for Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Authenticator").finish_non_exhaustive()
    }
}

impl Authenticator {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids }, touched: Arc::default() }
    }

    /// The credential a request presents: `Authorization: Bearer <token>` or
    /// `x-api-key: <token>` (header or gRPC metadata); the bearer token wins when both are sent.
    pub fn credential<'a>(authorization: Option<&'a str>, api_key: Option<&'a str>) -> Option<&'a str> {
        let bearer = authorization.and_then(|value| {
            let (scheme, token) = value.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(token.trim())
        });
        bearer.or(api_key.map(str::trim)).filter(|t| !t.is_empty())
    }

    /// Checks `presented` (the bearer token or API key, `None` when the request had none).
    /// A malformed secret is refused before any lookup; a well-formed one is looked up in
    /// the decision cache, else with one indexed query (token joined with its user); its use
    /// is written at most once a minute per token.
    pub async fn authenticate(&self, presented: Option<&str>, request: RequestInfo) -> Result<Principal, AuthError> {
        let presented = presented.ok_or(AuthError::Missing)?;
        let secret = TokenSecret::parse(presented.trim()).map_err(|_| AuthError::Malformed)?;
        let found = self.deps.token_by_digest(&secret.digest()).await.map_err(|e| {
            let chain = crate::error_chain(e.as_ref());
            if ErrorKind::of_unknown(&e) == ErrorKind::UNAVAILABLE {
                tracing::warn!(error = %chain, "token lookup failed: the database cannot be reached");
                AuthError::Unavailable
            } else {
                tracing::error!(error = %chain, "token lookup failed");
                AuthError::LookupFailed
            }
        })?;
        let (token, user) = found.ok_or(AuthError::Unknown)?;
        let now = self.deps.clock.now();
        if !user.is_active() || token.status == TokenStatus::Disabled {
            return Err(AuthError::Disabled);
        }
        if token.status_at(now) == TokenStatus::Expired {
            return Err(AuthError::Expired);
        }
        if token.not_before.is_some_and(|nb| now < nb) {
            return Err(AuthError::NotYetValid);
        }
        if !token.condition.admits(request.ip) {
            return Err(AuthError::IpRefused);
        }
        self.touch(&token, now).await;
        Ok(Principal::token(user, token, request))
    }

    /// Records use, throttled: a failure to record is logged, never fatal to the request.
    async fn touch(&self, token: &Token, now: DateTime<Utc>) {
        let due = {
            let Ok(mut touched) = self.touched.lock() else { return };
            let last = touched.get(&token.id).copied().or(token.last_used_on);
            let due = last.is_none_or(|t| now - t >= TOUCH_INTERVAL);
            if due {
                // Entries older than the interval decide nothing any more; drop them so the
                // map holds at most the tokens used within one interval.
                if touched.len() >= TOUCHED_PRUNE_AT {
                    touched.retain(|_, t| now - *t < TOUCH_INTERVAL);
                }
                touched.insert(token.id, now);
            }
            due
        };
        if due && let Err(error) = self.deps.store.touch_token(token.id, now).await {
            tracing::warn!(error = %error, "recording token use failed");
        }
    }
}
