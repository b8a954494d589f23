//! Connection limits of the real binary, with small timeouts so each test takes seconds:
//! slow-loris and idle connections are closed while normal requests are served, a stalled
//! body is answered 408, the connection cap holds, and shutdown is not held by a half-sent
//! request.

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::{Running, bootstrap, start_with_env};

/// Writes `head` then one more header byte every 200 ms, until the server closes the
/// connection; returns how long after connecting that happened (`None`: still open after
/// `give_up`).
async fn slow_loris(running: &Running, head: &'static [u8], give_up: Duration) -> Option<Duration> {
    let opened = Instant::now();
    let mut stream = TcpStream::connect(running.http).await.expect("connect");
    stream.write_all(head).await.expect("first bytes");
    let mut buffer = [0u8; 1024];
    while opened.elapsed() < give_up {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => return Some(opened.elapsed()),
                Ok(_) => {} // an error response before the close
            },
            () = tokio::time::sleep(Duration::from_millis(200)) => {
                if !head.is_empty() && stream.write_all(b"a").await.is_err() {
                    return Some(opened.elapsed());
                }
            }
        }
    }
    None
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn slow_loris_and_idle_connections_are_closed_while_normal_requests_are_served() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_with_env(dir.path(), &[], &[("ACCOUNTD_HTTP_HEADER_READ_TIMEOUT", "1s")]);
    let running = std::sync::Arc::new(running);
    let mut clients = Vec::new();
    for i in 0..200 {
        let running = running.clone();
        let head: &'static [u8] = if i % 10 == 0 { b"" } else { b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " };
        clients.push(tokio::spawn(async move { slow_loris(&running, head, Duration::from_secs(6)).await }));
    }
    // Meanwhile, ordinary requests are served at once.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let http = reqwest::Client::new();
    for _ in 0..20 {
        let sent = Instant::now();
        let reply = http.get(format!("http://{}/healthz", running.http)).send().await.expect("healthz");
        assert_eq!(reply.status(), 200);
        assert_eq!(reply.text().await.expect("body"), "ok");
        assert!(sent.elapsed() < Duration::from_millis(500), "a normal request waited {:?}", sent.elapsed());
    }
    for (i, client) in clients.into_iter().enumerate() {
        let closed = client.await.expect("client task");
        let closed = closed.unwrap_or_else(|| panic!("connection {i} was still open after 6 s"));
        assert!(closed < Duration::from_secs(4), "connection {i} was closed only after {closed:?}");
    }
}

/// Sends `request`, then waits up to `limit` for the whole response.
async fn raw_exchange(running: &Running, request: &[u8], limit: Duration) -> (String, Duration) {
    let sent = Instant::now();
    let mut stream = TcpStream::connect(running.http).await.expect("connect");
    stream.write_all(request).await.expect("write");
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while sent.elapsed() < limit {
        match tokio::time::timeout(Duration::from_millis(100), stream.read(&mut buffer)).await {
            Ok(Ok(0) | Err(_)) => break,
            Ok(Ok(n)) => response.extend_from_slice(&buffer[..n]),
            Err(_) => {}
        }
        if response.windows(4).any(|w| w == b"\r\n\r\n") && response.ends_with(b"}") {
            break;
        }
    }
    (String::from_utf8_lossy(&response).into_owned(), sent.elapsed())
}

#[tokio::test]
async fn a_stalled_or_trickling_body_is_answered_408() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let running =
        start_with_env(dir.path(), &[], &[("ACCOUNTD_HTTP_BODY_TIMEOUT", "1s"), ("ACCOUNTD_REQUEST_TIMEOUT", "2s")]);
    let head = format!(
        "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"na"
    );
    // Nothing more arrives: the body timeout answers.
    let (response, took) = raw_exchange(&running, head.as_bytes(), Duration::from_secs(5)).await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("urn:accountd:problem:request-timeout"), "{response}");
    assert!(took < Duration::from_millis(2500), "answered after {took:?}");

    // A byte every 300 ms never trips the body timeout; the request timeout answers.
    let sent = Instant::now();
    let mut stream = TcpStream::connect(running.http).await.expect("connect");
    stream.write_all(head.as_bytes()).await.expect("head");
    let mut response = Vec::new();
    let mut buffer = [0u8; 4096];
    while sent.elapsed() < Duration::from_secs(5) && !response.ends_with(b"}") {
        tokio::select! {
            read = stream.read(&mut buffer) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => response.extend_from_slice(&buffer[..n]),
            },
            () = tokio::time::sleep(Duration::from_millis(300)) => { let _ = stream.write_all(b" ").await; }
        }
    }
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(sent.elapsed() < Duration::from_millis(3500), "answered after {:?}", sent.elapsed());
    drop(running);
}

#[tokio::test]
async fn connections_beyond_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_with_env(dir.path(), &[], &[("ACCOUNTD_MAX_CONNECTIONS", "3")]);
    let mut held = Vec::new();
    for _ in 0..3 {
        held.push(TcpStream::connect(running.http).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let http = reqwest::Client::builder().timeout(Duration::from_millis(700)).build().expect("client");
    let url = format!("http://{}/healthz", running.http);
    assert!(http.get(&url).send().await.is_err(), "a fourth connection is not served while three are open");
    drop(held.pop());
    let reply = http.get(&url).send().await.expect("served once a connection closed");
    assert_eq!(reply.status(), 200);
}

#[tokio::test]
async fn shutdown_is_not_held_by_half_sent_requests() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    // Default timeouts (30 s header read, 10 s body, 30 s request): only the shutdown may close these.
    let running = start_with_env(dir.path(), &[], &[]);
    let mut half_head = TcpStream::connect(running.http).await.expect("connect");
    half_head.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n").await.expect("write");
    let mut half_body = TcpStream::connect(running.http).await.expect("connect");
    let head = format!(
        "POST /v1/accounts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\nContent-Type: application/json\r\n\
         Content-Length: 100\r\n\r\n{{\"na"
    );
    half_body.write_all(head.as_bytes()).await.expect("write");
    let _idle = TcpStream::connect(running.http).await.expect("connect");
    tokio::time::sleep(Duration::from_millis(500)).await;

    let signalled = Instant::now();
    let mut running = running;
    let pid = running.child.id().to_string();
    assert!(std::process::Command::new("kill").args(["-TERM", &pid]).status().expect("kill").success());
    let status = loop {
        if let Some(status) = running.child.try_wait().expect("wait") {
            break status;
        }
        assert!(signalled.elapsed() < Duration::from_secs(5), "shutdown waited on half-sent requests");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status.success(), "accountd exited with {status}");
    assert!(signalled.elapsed() < Duration::from_secs(3), "shutdown took {:?}", signalled.elapsed());
}

#[tokio::test]
async fn grpc_connections_beyond_the_cap_wait_until_one_closes() {
    let dir = tempfile::tempdir().expect("temp dir");
    let running = start_with_env(dir.path(), &[], &[("ACCOUNTD_MAX_CONNECTIONS", "2")]);
    let mut held = Vec::new();
    for _ in 0..2 {
        held.push(TcpStream::connect(running.grpc).await.expect("connect"));
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let check = || async {
        let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc)).expect("uri");
        let channel = endpoint.connect_timeout(Duration::from_millis(700)).timeout(Duration::from_millis(700));
        let channel = channel.connect().await?;
        let mut health = tonic_health::pb::health_client::HealthClient::new(channel);
        let reply = health.check(tonic_health::pb::HealthCheckRequest { service: String::new() }).await;
        reply.map(|r| r.into_inner().status).map_err(|e| -> Box<dyn std::error::Error> { Box::new(e) })
    };
    assert!(check().await.is_err(), "a third gRPC connection is not served while two are open");
    drop(held.pop());
    let status = check().await.expect("served once a connection closed");
    assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving as i32);
}
