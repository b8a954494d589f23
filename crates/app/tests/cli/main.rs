//! End-to-end tests of the `accountd` binary: it starts with no configuration, serves REST
//! and gRPC, keeps data across restarts, and stops cleanly on SIGTERM — on SQLite and on
//! PostgreSQL.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use accountd_grpc::pb::GetAccountRequest;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use serde_json::{Value, json};

/// A running `accountd serve`.
struct Running {
    child: Child,
    http: SocketAddr,
    grpc: SocketAddr,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `accountd serve` in `dir` on ephemeral ports and waits until it says where it listens.
fn start(dir: &Path, extra: &[&str]) -> Running {
    let mut child = Command::new(env!("CARGO_BIN_EXE_accountd"))
        .current_dir(dir)
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .args(extra)
        .arg("serve")
        .env_remove("DATABASE_URL")
        .env_remove("ACCOUNTD_DATABASE_URL")
        .env("RUST_LOG", "info")
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn accountd");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let mut seen = Vec::new();
    loop {
        let line = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("accountd did not start; it said:\n{}", seen.join("\n"))
            }
        };
        if let (Some(http), Some(grpc)) = (field(&line, "http_addr="), field(&line, "grpc_addr=")) {
            // Keep draining stderr so the child never blocks on a full pipe.
            std::thread::spawn(move || while rx.recv().is_ok() {});
            return Running { child, http, grpc };
        }
        seen.push(line);
    }
}

fn field(line: &str, key: &str) -> Option<SocketAddr> {
    let rest = &line[line.find(key)? + key.len()..];
    rest.split_whitespace().next()?.parse().ok()
}

/// Sends SIGTERM and expects a clean exit. Async, so the test's own client connections
/// keep being driven (and closed) while the server drains.
async fn stop(mut running: Running) {
    let pid = running.child.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().expect("kill");
    assert!(status.success());
    for _ in 0..200 {
        if let Some(status) = running.child.try_wait().expect("wait") {
            assert!(status.success(), "accountd exited with {status}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("accountd did not stop within 10 s of SIGTERM");
}

async fn create_read_update_over_both_apis(running: &Running) -> String {
    let http = reqwest::Client::new();
    let base = format!("http://{}", running.http);
    let created =
        http.post(format!("{base}/v1/accounts")).json(&json!({"name": "Survivor"})).send().await.expect("post");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();

    let mut grpc = AccountServiceClient::connect(format!("http://{}", running.grpc)).await.expect("grpc connect");
    let read = grpc.get_account(GetAccountRequest { account_id: id.clone() }).await.expect("grpc get").into_inner();
    assert_eq!(read.account.expect("account").name, "Survivor");

    let patched = http
        .patch(format!("{base}/v1/accounts/{id}"))
        .header("if-match", "\"1\"")
        .json(&json!({"name": "Survivor 2"}))
        .send()
        .await
        .expect("patch");
    assert_eq!(patched.status(), 200);
    assert_eq!(http.get(format!("{base}/readyz")).send().await.expect("readyz").status(), 200);
    let metrics = http.get(format!("{base}/metrics")).send().await.expect("metrics").text().await.expect("text");
    assert!(metrics.contains(r#"http_requests_total{method="POST",route="/v1/accounts",status="201"} 1"#), "{metrics}");
    assert!(metrics.contains(r#"grpc_requests_total{method="/accountd.v1.AccountService/GetAccount",code="0"} 1"#));
    id
}

async fn read_name(running: &Running, id: &str) -> String {
    let reply = reqwest::get(format!("http://{}/v1/accounts/{id}", running.http)).await.expect("get");
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.expect("json");
    body["name"].as_str().expect("name").to_owned()
}

#[tokio::test]
async fn serve_with_no_configuration_uses_sqlite_in_the_working_directory_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = start(dir.path(), &[]);
    let id = create_read_update_over_both_apis(&first).await;
    stop(first).await;
    assert!(dir.path().join("accountd.db").exists(), "the default database is accountd.db in the working directory");
    let second = start(dir.path(), &[]);
    assert_eq!(read_name(&second, &id).await, "Survivor 2");
    stop(second).await;
}

#[tokio::test]
async fn serve_with_a_postgres_url_uses_postgres_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let first = start(dir.path(), &["--database-url", &url]);
    let id = create_read_update_over_both_apis(&first).await;
    stop(first).await;
    assert!(!dir.path().join("accountd.db").exists(), "no SQLite file when PostgreSQL is chosen");
    let second = start(dir.path(), &["--database-url", &url]);
    assert_eq!(read_name(&second, &id).await, "Survivor 2");
    stop(second).await;
}

#[test]
fn migrate_applies_migrations_and_exits() {
    let dir = tempfile::tempdir().expect("temp dir");
    let output = Command::new(env!("CARGO_BIN_EXE_accountd"))
        .current_dir(dir.path())
        .args(["--database-url", "sqlite:migrated.db", "migrate"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("run migrate");
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stderr).contains("migrations applied"));
    assert!(dir.path().join("migrated.db").exists());
}

#[test]
fn an_invalid_setting_is_reported_without_starting() {
    let output = Command::new(env!("CARGO_BIN_EXE_accountd"))
        .args(["serve"])
        .env("ACCOUNTD_HTTP_ADDR", "not-an-address")
        .output()
        .expect("run");
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("invalid settings"));
}
