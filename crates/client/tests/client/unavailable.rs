//! A server whose database is gone answers UNAVAILABLE with `RetryInfo`: the client waits
//! what the server asked when that is within its cap, and gives up at once when it is not.

use std::time::{Duration, Instant};

use accountd_client::{Client, Error, RetryPolicy, SecretString};

use crate::serve;

#[tokio::test]
async fn with_the_database_gone_a_read_waits_the_servers_retry_info_within_the_cap_and_then_fails_unavailable() {
    let (store, fixture) = accountd_testkit::closable().await;
    let server = serve(fixture, None).await;
    let client = |policy| {
        Client::builder(&server.endpoint).token(SecretString::from(server.root_token.clone())).retry(policy).connect()
    };
    let patient =
        client(RetryPolicy::default().max_attempts(2).backoff(Duration::from_millis(1), Duration::from_secs(3)))
            .await
            .expect("connect");
    let hasty = client(crate::quick_retries()).await.expect("connect");
    store.pool().close().await;

    let started = Instant::now();
    let error = patient.get_account("01900000-0000-7000-8000-000000000000").await.expect_err("database gone");
    assert!(
        matches!(error, Error::Unavailable { retry_after: Some(d), .. } if d == Duration::from_secs(2)),
        "{error:?}"
    );
    let took = started.elapsed();
    assert!(took >= Duration::from_secs(2) && took < Duration::from_secs(4), "one retry after 2 s: {took:?}");

    let started = Instant::now();
    let error = hasty.get_account("01900000-0000-7000-8000-000000000000").await.expect_err("database gone");
    assert_eq!(error.retry_after(), Some(Duration::from_secs(2)));
    assert!(started.elapsed() < Duration::from_secs(1), "2 s is beyond a 20 ms cap: no retry");
}
