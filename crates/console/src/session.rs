//! Console sessions: a random session id in an `HttpOnly; SameSite=Strict` cookie, and on
//! the server, keyed by the SHA-256 of that id, the token the user signed in with and the
//! session's CSRF token. Sessions expire after an idle time and after an absolute lifetime.
//!
//! The table is in process (docs/console.md says why): the token is re-authenticated on
//! every request, so a revoked or expired token ends its console session at once.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use secrecy::SecretString;
use sha2::{Digest, Sha256};

/// The session cookie's name.
pub const COOKIE: &str = "accountd_console";
/// The sign-in form's double-submit cookie: ties a sign-in post to a form this browser got.
pub const SIGN_IN_COOKIE: &str = "accountd_console_sign_in";

/// How long a session lasts without a request.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(30 * 60);
/// How long a session lasts at most, however busy.
pub const ABSOLUTE_TIMEOUT: Duration = Duration::from_secs(12 * 60 * 60);
/// At most this many live sessions; the oldest one goes when a new one would exceed it.
pub const MAX_SESSIONS: usize = 10_000;

/// 32 random bytes, base64url: a session id, a CSRF token, a sign-in nonce.
pub fn random_token() -> String {
    let mut bytes = [0u8; 32];
    // The operating system's CSPRNG failing is not something a console can work around.
    getrandom::fill(&mut bytes).expect("the operating system's random number generator");
    URL_SAFE_NO_PAD.encode(bytes)
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// Equality that takes the same time wherever the strings differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// What the server keeps of a session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The token the user signed in with; never shown, logged or put in a URL.
    pub token: SecretString,
    /// Sent back in every form and compared on every POST.
    pub csrf: String,
    created: Instant,
    last_seen: Instant,
}

/// The live sessions of this process.
#[derive(Debug, Default)]
pub struct Sessions {
    by_digest: Mutex<HashMap<[u8; 32], Session>>,
}

impl Sessions {
    /// Starts a session for `token`: the new session id (for the cookie) and its CSRF token.
    pub fn start(&self, token: SecretString) -> (String, String) {
        let id = random_token();
        let now = Instant::now();
        let session = Session { token, csrf: random_token(), created: now, last_seen: now };
        let csrf = session.csrf.clone();
        let mut all = self.lock();
        all.retain(|_, s| alive(s, now));
        if all.len() >= MAX_SESSIONS
            && let Some(oldest) = all.iter().min_by_key(|(_, s)| s.last_seen).map(|(k, _)| *k)
        {
            all.remove(&oldest);
        }
        all.insert(digest(&id), session);
        (id, csrf)
    }

    /// The live session `id` names, its idle time restarted; `None` when unknown or expired
    /// (an expired one is forgotten).
    pub fn find(&self, id: &str) -> Option<Session> {
        let now = Instant::now();
        let key = digest(id);
        let mut all = self.lock();
        match all.get_mut(&key) {
            Some(session) if alive(session, now) => {
                session.last_seen = now;
                Some(session.clone())
            }
            Some(_) => {
                all.remove(&key);
                None
            }
            None => None,
        }
    }

    /// Ends the session `id` names (sign out, or its token stopped working).
    pub fn end(&self, id: &str) {
        self.lock().remove(&digest(id));
    }

    /// How many sessions are stored, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<[u8; 32], Session>> {
        // A panic while holding the lock leaves a map that is still consistent.
        self.by_digest.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    #[cfg(test)]
    fn age(&self, id: &str, by: Duration) {
        if let Some(s) = self.lock().get_mut(&digest(id)) {
            s.last_seen -= by;
            s.created -= by;
        }
    }
}

fn alive(session: &Session, now: Instant) -> bool {
    now.duration_since(session.last_seen) < IDLE_TIMEOUT && now.duration_since(session.created) < ABSOLUTE_TIMEOUT
}

#[cfg(test)]
mod tests {
    use super::*;

    fn token() -> SecretString {
        SecretString::from("acd_example".to_owned())
    }

    #[test]
    fn a_session_is_found_by_its_id_and_only_by_it() {
        let sessions = Sessions::default();
        let (id, csrf) = sessions.start(token());
        let found = sessions.find(&id).expect("live session");
        assert_eq!(found.csrf, csrf);
        assert!(sessions.find(&random_token()).is_none());
        assert_ne!(id, csrf, "the CSRF token is not the session id");
        assert_eq!(id.len(), 43, "32 random bytes, base64url");
    }

    #[test]
    fn an_idle_session_expires_and_is_forgotten() {
        let sessions = Sessions::default();
        let (id, _) = sessions.start(token());
        sessions.age(&id, IDLE_TIMEOUT + Duration::from_secs(1));
        assert!(sessions.find(&id).is_none());
        assert!(sessions.is_empty(), "an expired session is dropped when found");
    }

    #[test]
    fn a_busy_session_still_ends_after_the_absolute_lifetime() {
        let sessions = Sessions::default();
        let (id, _) = sessions.start(token());
        {
            let mut all = sessions.lock();
            let s = all.get_mut(&digest(&id)).expect("session");
            s.created -= ABSOLUTE_TIMEOUT;
        }
        assert!(sessions.find(&id).is_none());
    }

    #[test]
    fn signing_out_ends_the_session() {
        let sessions = Sessions::default();
        let (id, _) = sessions.start(token());
        sessions.end(&id);
        assert!(sessions.find(&id).is_none());
    }

    #[test]
    fn the_store_keeps_digests_not_session_ids() {
        let sessions = Sessions::default();
        let (id, _) = sessions.start(token());
        assert!(!sessions.lock().keys().any(|k| k.as_slice() == id.as_bytes()));
    }

    #[test]
    fn same_compares_whole_strings() {
        assert!(same("abc", "abc"));
        assert!(!same("abc", "abd"));
        assert!(!same("abc", "ab"));
    }
}
