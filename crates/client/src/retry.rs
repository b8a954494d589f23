//! Retrying idempotent calls: UNAVAILABLE and timeouts are tried again after a capped,
//! jittered exponential backoff (or the server's RetryInfo), a bounded number of times.

use std::future::Future;
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

use tonic::Status;

use crate::Error;

/// How often and how patiently an idempotent call is tried again.
///
/// Only reads, `authorize` and creates (which carry one idempotency key over every attempt)
/// are retried, and only after UNAVAILABLE or a timeout; every other error comes back at
/// once. The n-th retry waits a random time between half and all of
/// `min(max_backoff, initial_backoff × 2ⁿ⁻¹)`, or the delay of the server's `RetryInfo`
/// when it sent one; a `RetryInfo` longer than `max_backoff` ends the retries, so that no
/// call waits longer than the caller agreed to.
///
/// ```
/// use std::time::Duration;
/// use accountd_client::RetryPolicy;
///
/// let policy = RetryPolicy::default().max_attempts(5).backoff(Duration::from_millis(50), Duration::from_secs(1));
/// assert_eq!(policy.attempts(), 5);
/// assert_eq!(RetryPolicy::never().attempts(), 1);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    max_attempts: u32,
    initial_backoff: Duration,
    max_backoff: Duration,
}

impl Default for RetryPolicy {
    /// Three attempts, 100 ms then 200 ms (jittered), never more than 2 s.
    fn default() -> Self {
        Self { max_attempts: 3, initial_backoff: Duration::from_millis(100), max_backoff: Duration::from_secs(2) }
    }
}

impl RetryPolicy {
    /// One attempt: nothing is retried.
    pub fn never() -> Self {
        Self { max_attempts: 1, ..Self::default() }
    }

    /// Attempts in all, the first included (at least one).
    pub fn max_attempts(self, attempts: u32) -> Self {
        Self { max_attempts: attempts.max(1), ..self }
    }

    /// The first wait and the cap on any wait.
    pub fn backoff(self, initial: Duration, max: Duration) -> Self {
        Self { initial_backoff: initial, max_backoff: max.max(initial), ..self }
    }

    /// Attempts in all.
    pub fn attempts(&self) -> u32 {
        self.max_attempts
    }

    /// The wait before retry number `retry` (1-based), or `None` to stop.
    fn wait(&self, retry: u32, error: &Error) -> Option<Duration> {
        if let Some(asked) = error.retry_after() {
            return (asked <= self.max_backoff).then_some(asked);
        }
        let doubled = self.initial_backoff.saturating_mul(1 << (retry - 1).min(16));
        let ceiling = doubled.min(self.max_backoff);
        Some(ceiling / 2 + ceiling.mul_f64(jitter() / 2.0))
    }
}

/// A number in [0, 1): randomness enough to spread retries, without a dependency.
fn jitter() -> f64 {
    (RandomState::new().hash_one(0u8) >> 11) as f64 / (1u64 << 53) as f64
}

/// Whether a call may be sent again after it may have been applied.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Idempotence {
    /// Reads, `authorize`, and creates carrying an idempotency key: retried.
    Idempotent,
    /// Updates and deletes without a precondition: sent once.
    Once,
}

/// Runs `attempt` under the per-call `timeout` until it succeeds, fails for good, or the
/// policy's attempts are spent.
pub(crate) async fn run<T, F, Fut>(
    policy: &RetryPolicy,
    idempotence: Idempotence,
    timeout: Duration,
    mut attempt: F,
) -> Result<T, Error>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, Status>>,
{
    let mut tried = 0;
    loop {
        tried += 1;
        let error = match tokio::time::timeout(timeout, attempt()).await {
            Ok(Ok(answer)) => return Ok(answer),
            Ok(Err(status)) => Error::from(status),
            Err(_) => Error::Timeout { message: format!("no answer within {timeout:?}") },
        };
        if idempotence == Idempotence::Once || !error.is_transient() || tried >= policy.max_attempts {
            return Err(error);
        }
        match policy.wait(tried, &error) {
            Some(wait) => tokio::time::sleep(wait).await,
            None => return Err(error),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use tonic::Code;
    use tonic_types::{ErrorDetails, StatusExt};

    use super::*;

    const QUICK: Duration = Duration::from_millis(1);
    const CALL: Duration = Duration::from_secs(5);

    fn policy(attempts: u32) -> RetryPolicy {
        RetryPolicy::default().max_attempts(attempts).backoff(QUICK, QUICK * 4)
    }

    /// A fake transport answering `answers` in turn, then OK; returns (outcome, attempts).
    async fn against(policy: RetryPolicy, idempotence: Idempotence, answers: Vec<Status>) -> (Result<u32, Error>, u32) {
        let calls = AtomicU32::new(0);
        let outcome = run(&policy, idempotence, CALL, || {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            let answer = answers.get(n as usize).cloned();
            async move { answer.map_or(Ok(n + 1), Err) }
        })
        .await;
        (outcome, calls.load(Ordering::SeqCst))
    }

    #[tokio::test]
    async fn unavailable_and_deadline_exceeded_are_retried_until_an_answer() {
        let answers = vec![Status::unavailable("down"), Status::deadline_exceeded("slow")];
        let (outcome, calls) = against(policy(3), Idempotence::Idempotent, answers).await;
        assert_eq!((outcome.expect("third attempt answers"), calls), (3, 3));
    }

    #[tokio::test]
    async fn retries_stop_after_the_attempts_the_policy_allows() {
        let answers = vec![Status::unavailable("down"); 5];
        let (outcome, calls) = against(policy(3), Idempotence::Idempotent, answers).await;
        assert!(matches!(outcome, Err(Error::Unavailable { .. })), "{outcome:?}");
        assert_eq!(calls, 3);
    }

    #[tokio::test]
    async fn a_call_sent_once_is_never_retried() {
        let (outcome, calls) = against(policy(5), Idempotence::Once, vec![Status::unavailable("down")]).await;
        assert!(matches!(outcome, Err(Error::Unavailable { .. })), "{outcome:?}");
        assert_eq!(calls, 1);
    }

    #[tokio::test]
    async fn refusals_are_never_retried() {
        for status in [
            Status::invalid_argument("bad"),
            Status::permission_denied("no"),
            Status::not_found("gone"),
            Status::unauthenticated("who"),
            Status::failed_precondition("key reused"),
        ] {
            let code = status.code();
            let (outcome, calls) = against(policy(5), Idempotence::Idempotent, vec![status]).await;
            assert_eq!(outcome.expect_err("refused").code(), code);
            assert_eq!(calls, 1, "{code:?}");
        }
    }

    #[tokio::test]
    async fn a_retry_info_within_the_cap_is_honoured_and_one_beyond_it_ends_the_retries() {
        let asked =
            |delay| Status::with_error_details(Code::Unavailable, "later", ErrorDetails::with_retry_info(Some(delay)));
        let (outcome, calls) = against(policy(3), Idempotence::Idempotent, vec![asked(QUICK)]).await;
        assert_eq!((outcome.expect("answers"), calls), (2, 2));
        let started = std::time::Instant::now();
        let (outcome, calls) = against(policy(3), Idempotence::Idempotent, vec![asked(Duration::from_secs(60))]).await;
        assert_eq!(outcome.expect_err("gives up").retry_after(), Some(Duration::from_secs(60)));
        assert_eq!(calls, 1);
        assert!(started.elapsed() < Duration::from_secs(5), "did not wait the minute");
    }

    #[tokio::test]
    async fn an_attempt_past_the_per_call_timeout_is_a_timeout_and_retried() {
        let calls = AtomicU32::new(0);
        let outcome: Result<(), Error> = run(&policy(2), Idempotence::Idempotent, Duration::from_millis(20), || {
            calls.fetch_add(1, Ordering::SeqCst);
            std::future::pending()
        })
        .await;
        assert!(matches!(&outcome, Err(Error::Timeout { message }) if message.contains("20ms")), "{outcome:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn backoff_doubles_within_jitter_and_stays_under_the_cap() {
        let policy = RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(300));
        let down = Error::Unavailable { message: String::new(), retry_after: None };
        for (retry, ceiling) in [(1, 100), (2, 200), (3, 300), (10, 300)] {
            let wait = policy.wait(retry, &down).expect("waits");
            let ceiling = Duration::from_millis(ceiling);
            assert!(wait >= ceiling / 2 && wait <= ceiling, "retry {retry}: {wait:?}");
        }
    }
}
