//! The token never shows in `Debug`; timeouts and unreachable endpoints give clear errors.

use std::time::{Duration, Instant};

use accountd_client::{Client, Error, RetryPolicy, SecretString};
use tokio::net::TcpListener;

use crate::spawn_server;

#[tokio::test]
async fn the_token_never_appears_in_debug_output() {
    let server = spawn_server().await;
    let builder = Client::builder(&server.endpoint).token(SecretString::from(server.root_token.clone()));
    let shown_builder = format!("{builder:?}");
    let client = builder.connect().await.expect("connect");
    assert!(client.me().await.is_ok(), "the token is sent");
    for shown in [shown_builder, format!("{client:?}"), format!("{:?}", client.accounts())] {
        assert!(!shown.contains(&server.root_token), "{shown}");
        let secret_part = server.root_token.trim_start_matches("acd_");
        assert!(!shown.contains(secret_part), "{shown}");
    }
}

#[tokio::test]
async fn a_call_without_an_answer_times_out_after_each_attempt() {
    // A peer that accepts connections and never answers.
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((socket, _)) = listener.accept().await {
            held.push(socket);
        }
    });
    let client = Client::builder(format!("http://{addr}"))
        .token(SecretString::from("acd_x".to_owned()))
        .timeout(Duration::from_millis(200))
        .retry(RetryPolicy::default().max_attempts(2).backoff(Duration::from_millis(1), Duration::from_millis(1)))
        .connect()
        .await
        .expect("the TCP connection opens");
    let started = Instant::now();
    let error = client.me().await.expect_err("no answer");
    assert!(matches!(&error, Error::Timeout { message } if message.contains("200ms")), "{error:?}");
    assert_eq!(error.to_string(), "timed out: no answer within 200ms");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(400) && took < Duration::from_secs(5), "two attempts: {took:?}");
}

#[tokio::test]
async fn connecting_to_a_closed_port_is_a_connect_error_naming_the_endpoint() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    drop(listener);
    let error = Client::builder(&endpoint).connect_timeout(Duration::from_secs(1)).connect().await.expect_err("closed");
    assert!(matches!(&error, Error::Connect { .. }), "{error:?}");
    assert!(error.to_string().contains(&endpoint), "{error}");
    let error = Client::builder("not a uri").connect().await.expect_err("invalid");
    assert!(matches!(error, Error::Endpoint { .. }), "{error:?}");
}
