//! End-to-end tests of the `accountd` binary: it starts with no configuration, serves REST
//! and gRPC, keeps data across restarts, and stops cleanly on SIGTERM — on SQLite and on
//! PostgreSQL.

mod connections;
mod hygiene;
mod invalidation;
mod mfa;
mod observability;
mod outage;
mod races;
mod traces;

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
    /// Everything it logged so far, shared with the thread draining its stderr.
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

/// Runs `accountd bootstrap` in `dir` and returns the printed token and what was logged.
fn bootstrap(dir: &Path, extra: &[&str]) -> (String, String) {
    let output = isolated(&mut Command::new(env!("CARGO_BIN_EXE_accountd")), dir)
        .current_dir(dir)
        .args(extra)
        .args(["bootstrap", "--email", "admin@example.com"])
        .output()
        .expect("run bootstrap");
    let log = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{log}");
    (String::from_utf8_lossy(&output.stdout).trim().to_owned(), log)
}

/// What each run of the binary sees of the environment: no database, data directory or key
/// from the developer's shell, and `dir/home` as its home, so the default data directory (and
/// the MFA key generated there) belongs to the test.
fn isolated<'c>(command: &'c mut Command, dir: &Path) -> &'c mut Command {
    for name in ["DATABASE_URL", "ACCOUNTD_DATABASE_URL", "ACCOUNTD_DATA_DIR", "ACCOUNTD_MFA_KEY", "XDG_DATA_HOME"] {
        command.env_remove(name);
    }
    command.env("HOME", dir.join("home"))
}

/// The MFA key file a run in `dir` generates by default.
fn default_key_file(dir: &Path) -> std::path::PathBuf {
    dir.join("home").join(".local").join("share").join("accountd").join("mfa.key")
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `accountd serve` in `dir` on ephemeral ports and waits until it says where it listens.
fn start(dir: &Path, extra: &[&str]) -> Running {
    start_configured(dir, extra, "info", &[])
}

/// [`start`] with `RUST_LOG` set to `filter`.
fn start_logging(dir: &Path, extra: &[&str], filter: &str) -> Running {
    start_configured(dir, extra, filter, &[])
}

/// Like [`start`], with `ACCOUNTD_*` settings in the environment.
fn start_with_env(dir: &Path, extra: &[&str], env: &[(&str, &str)]) -> Running {
    start_configured(dir, extra, "info", env)
}

/// [`start`] with `RUST_LOG` set to `filter` and the variables `env` set.
fn start_configured(dir: &Path, extra: &[&str], filter: &str, env: &[(&str, &str)]) -> Running {
    let mut child = isolated(&mut Command::new(env!("CARGO_BIN_EXE_accountd")), dir)
        .current_dir(dir)
        .args(["--http-addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0"])
        .args(extra)
        .arg("serve")
        .envs(env.iter().copied())
        .env("RUST_LOG", filter)
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
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
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
            let sink = log.clone();
            std::thread::spawn(move || {
                while let Ok(line) = rx.recv() {
                    if let Ok(mut lines) = sink.lock() {
                        lines.push(line);
                    }
                }
            });
            return Running { child, http, grpc, log };
        }
        seen.push(line);
    }
}

/// The address logged as `key=` (text logs) or as `"key":"…"` (JSON logs).
fn field(line: &str, key: &str) -> Option<SocketAddr> {
    if let Some(at) = line.find(key) {
        return line[at + key.len()..].split_whitespace().next()?.parse().ok();
    }
    let quoted = format!("\"{}\":\"", key.trim_end_matches('='));
    let rest = &line[line.find(&quoted)? + quoted.len()..];
    rest.split('"').next()?.parse().ok()
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

async fn create_read_update_over_both_apis(running: &Running, token: &str) -> String {
    let http = reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"))]
                .into_iter()
                .collect(),
        )
        .build()
        .expect("client");
    let base = format!("http://{}", running.http);
    let anonymous = reqwest::get(format!("{base}/v1/accounts")).await.expect("get");
    assert_eq!(anonymous.status(), 401, "the API needs a token");
    let created =
        http.post(format!("{base}/v1/accounts")).json(&json!({"name": "Survivor"})).send().await.expect("post");
    assert_eq!(created.status(), 201);
    let created: Value = created.json().await.expect("json");
    let id = created["id"].as_str().expect("id").to_owned();

    let mut grpc = AccountServiceClient::connect(format!("http://{}", running.grpc)).await.expect("grpc connect");
    let mut request = tonic::Request::new(GetAccountRequest { account_id: id.clone() });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    let read = grpc.get_account(request).await.expect("grpc get").into_inner();
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

async fn read_name(running: &Running, token: &str, id: &str) -> String {
    let reply = reqwest::Client::new()
        .get(format!("http://{}/v1/accounts/{id}", running.http))
        .header("x-api-key", token)
        .send()
        .await
        .expect("get");
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.expect("json");
    body["name"].as_str().expect("name").to_owned()
}

#[tokio::test]
async fn serve_with_no_configuration_uses_sqlite_in_the_working_directory_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, bootstrap_log) = bootstrap(dir.path(), &[]);
    assert!(token.starts_with("acd_"), "{token}");
    let first = start(dir.path(), &[]);
    let id = create_read_update_over_both_apis(&first, &token).await;
    let served_log = first.log.lock().expect("log").join("\n");
    stop(first).await;
    assert!(dir.path().join("accountd.db").exists(), "the default database is accountd.db in the working directory");
    let second = start(dir.path(), &[]);
    assert_eq!(read_name(&second, &token, &id).await, "Survivor 2");
    stop(second).await;
    // The secret was printed once on stdout, and is nowhere else: not in the logs, not in any
    // database file (the WAL included).
    let secret_part = &token[4..];
    assert!(!bootstrap_log.contains(secret_part) && !served_log.contains(secret_part), "a token reached the logs");
    for entry in std::fs::read_dir(dir.path()).expect("dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            continue; // the test's home: the key file, checked by the MFA tests
        }
        let bytes = std::fs::read(&path).expect("read");
        assert!(
            !bytes.windows(secret_part.len()).any(|w| w == secret_part.as_bytes()),
            "{} holds the token",
            path.display()
        );
    }
    let (again, _) = {
        let output = isolated(&mut Command::new(env!("CARGO_BIN_EXE_accountd")), dir.path())
            .current_dir(dir.path())
            .args(["bootstrap", "--email", "second@example.com"])
            .output()
            .expect("run bootstrap");
        (output.status.success(), String::from_utf8_lossy(&output.stderr).into_owned())
    };
    assert!(!again, "a second bootstrap is refused");
}

#[tokio::test]
async fn serve_with_a_postgres_url_uses_postgres_and_survives_a_restart() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let (token, _) = bootstrap(dir.path(), &["--database-url", &url]);
    let first = start(dir.path(), &["--database-url", &url]);
    let id = create_read_update_over_both_apis(&first, &token).await;
    stop(first).await;
    assert!(!dir.path().join("accountd.db").exists(), "no SQLite file when PostgreSQL is chosen");
    let second = start(dir.path(), &["--database-url", &url]);
    assert_eq!(read_name(&second, &token, &id).await, "Survivor 2");
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
