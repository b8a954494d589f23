//! The brute-force throttle of every secret a client may guess (a mailbox password, a TOTP
//! code): failures are counted by the store, so every instance enforces the same limit.

use chrono::{DateTime, Duration, Utc};

use crate::Deps;

/// Why an attempt at a secret was not counted: refused while its key is locked.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    /// Too many failures for the key; the client may retry after the given seconds.
    #[error("too many failed attempts for this address; retry in {retry_after_secs} s")]
    Throttled { retry_after_secs: u64 },
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Failed mailbox authentications of one address, counted by the store so that every
/// instance of the service sees the same count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuthFailures {
    pub count: u32,
    pub last_at: DateTime<Utc>,
}

impl AuthFailures {
    /// Failures allowed before attempts are throttled.
    pub const FREE_ATTEMPTS: u32 = 5;
    /// The longest an address is locked after a failure.
    pub const MAX_LOCK_SECONDS: i64 = 15 * 60;
    /// A streak of failures older than this starts over.
    pub const STREAK_RESET: Duration = Duration::hours(1);

    /// When the address may be tried again: after the free attempts, each further failure
    /// doubles the lock, from 1 second up to 15 minutes.
    pub fn locked_until(&self) -> Option<DateTime<Utc>> {
        let over = self.count.checked_sub(Self::FREE_ATTEMPTS)?;
        let seconds = 1_i64.checked_shl(over).filter(|s| *s > 0).unwrap_or(i64::MAX).min(Self::MAX_LOCK_SECONDS);
        Some(self.last_at + Duration::seconds(seconds))
    }

    /// Whole seconds to wait before the next attempt, when it is locked at `now`.
    pub fn retry_after(&self, now: DateTime<Utc>) -> Option<u64> {
        let until = self.locked_until()?;
        let wait = (until - now).num_milliseconds();
        (wait > 0).then(|| u64::try_from((wait + 999) / 1000).unwrap_or(1))
    }
}

impl Deps {
    /// Counts an attempt at a secret (a mailbox password, a TOTP code) for `key` before the
    /// secret is checked, so that concurrent guesses are counted too. Refused with
    /// [`AttemptError::Throttled`] while the key is locked after
    /// [`AuthFailures::FREE_ATTEMPTS`] failures, or when concurrent attempts took the turns
    /// left; after a success, [`Deps::forget_attempts`].
    pub async fn begin_attempt(&self, key: &str) -> Result<(), AttemptError> {
        let now = self.clock.now();
        let streak_start = now - AuthFailures::STREAK_RESET;
        let before = self.store.auth_failures(key).await?;
        if let Some(retry_after_secs) = before.and_then(|f| f.retry_after(now)) {
            return Err(AttemptError::Throttled { retry_after_secs });
        }
        let after = self.store.record_auth_failure(key, now, streak_start).await?;
        // The count this attempt gets when no other attempt raced it.
        let expected = before.filter(|b| b.last_at >= streak_start).map_or(1, |b| b.count + 1);
        if after.count > AuthFailures::FREE_ATTEMPTS && after.count != expected {
            return Err(AttemptError::Throttled { retry_after_secs: after.retry_after(now).unwrap_or(1) });
        }
        Ok(())
    }

    /// Forgets the attempts counted for `key` (after a success).
    pub async fn forget_attempts(&self, key: &str) -> anyhow::Result<()> {
        self.store.clear_auth_failures(key).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_lock_an_address_after_five_and_double_up_to_fifteen_minutes() {
        let at = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().to_utc();
        let failures = |count| AuthFailures { count, last_at: at };
        assert_eq!(failures(4).locked_until(), None);
        assert_eq!(failures(5).locked_until(), Some(at + Duration::seconds(1)));
        assert_eq!(failures(8).locked_until(), Some(at + Duration::seconds(8)));
        assert_eq!(failures(30).locked_until(), Some(at + Duration::minutes(15)));
        assert_eq!(failures(200).locked_until(), Some(at + Duration::minutes(15)));
        assert_eq!(failures(8).retry_after(at + Duration::milliseconds(500)), Some(8));
        assert_eq!(failures(8).retry_after(at + Duration::seconds(8)), None);
        assert_eq!(failures(3).retry_after(at), None);
    }
}
