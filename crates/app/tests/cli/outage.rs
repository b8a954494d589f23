//! The database goes away and comes back, under load, on a throwaway PostgreSQL cluster
//! (the one `cargo xtask test` can make, through the same code): while it is down, REST
//! answers 503 `service-unavailable` with `Retry-After` and gRPC UNAVAILABLE, each within
//! about a second, `/readyz` answers 503 within its deadline and gRPC health says
//! NOT_SERVING; once it is back, no request fails — neither under load nor on a pool whose
//! connections all died while idle.

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accountd_grpc::pb::GetAccountRequest;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use serde_json::{Value, json};
use tonic_health::pb::HealthCheckRequest;
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;

use super::{bootstrap, start, stop};

#[allow(dead_code, unreachable_pub, reason = "xtask's cluster code, included whole; the test uses part of it")]
#[path = "../../../../xtask/src/cluster.rs"]
mod cluster;

/// The longest a request may take to be answered while the database is away: the pool's
/// 1 s acquire timeout plus room for a loaded test machine.
const OUTAGE_ANSWER_LIMIT: Duration = Duration::from_millis(2500);

/// One answer of the load: when it was asked, how long it took, and what came back.
#[derive(Debug, Clone)]
struct Answer {
    api: &'static str,
    sent: Instant,
    took: Duration,
    /// `200`/`503`/… for REST; the gRPC code's number for gRPC.
    code: i32,
    retry_after: Option<String>,
    problem_type: Option<String>,
}

fn start_cluster() -> cluster::Cluster {
    let binaries = cluster::Binaries::find().unwrap_or_else(|| {
        panic!(
            "the database-outage test needs initdb and pg_ctl (on PATH or under /usr/lib/postgresql/*/bin) and, as \
             root, runuser and a `postgres` user; install PostgreSQL's server package"
        )
    });
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    cluster::Cluster::start(binaries, &root).expect("start a throwaway PostgreSQL cluster")
}

fn rest_client(token: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"))]
                .into_iter()
                .collect(),
        )
        .timeout(Duration::from_secs(15))
        .build()
        .expect("client")
}

async fn rest_get(http: &reqwest::Client, url: &str) -> Answer {
    let sent = Instant::now();
    match http.get(url).send().await {
        Ok(reply) => {
            let code = i32::from(reply.status().as_u16());
            let retry_after = reply.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
            let body: Value = reply.json().await.unwrap_or(Value::Null);
            let problem_type = body["type"].as_str().map(str::to_owned);
            Answer { api: "rest", sent, took: sent.elapsed(), code, retry_after, problem_type }
        }
        Err(error) => panic!("REST request failed without an answer: {error}"),
    }
}

async fn grpc_get(grpc: &mut AccountServiceClient<tonic::transport::Channel>, token: &str, id: &str) -> Answer {
    let sent = Instant::now();
    let mut request = tonic::Request::new(GetAccountRequest { account_id: id.to_owned() });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    let code = match grpc.get_account(request).await {
        Ok(_) => 0,
        Err(status) => status.code() as i32,
    };
    Answer { api: "grpc", sent, took: sent.elapsed(), code, retry_after: None, problem_type: None }
}

async fn health(base: &str) -> ServingStatus {
    let channel = tonic::transport::Channel::from_shared(base.to_owned()).expect("uri").connect().await;
    let mut client = HealthClient::new(channel.expect("health connect"));
    let reply = client.check(HealthCheckRequest { service: String::new() }).await.expect("health check");
    reply.into_inner().status()
}

/// Asks `count` times at once over REST and returns the answers.
async fn burst(http: &reqwest::Client, url: &str, count: usize) -> Vec<Answer> {
    let asks = (0..count).map(|_| rest_get(http, url));
    futures::future::join_all(asks).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn while_postgres_is_down_requests_get_a_fast_503_and_none_fails_once_it_is_back() {
    let cluster = start_cluster();
    let url = cluster.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &["--database-url", &url]);
    let running = start(dir.path(), &["--database-url", &url]);
    let base = format!("http://{}", running.http);
    let grpc_base = format!("http://{}", running.grpc);
    let http = rest_client(&token);
    let created = http.post(format!("{base}/v1/accounts")).json(&json!({"name": "Outage"})).send().await.expect("post");
    assert_eq!(created.status(), 201);
    let id = created.json::<Value>().await.expect("json")["id"].as_str().expect("id").to_owned();
    let account_url = format!("{base}/v1/accounts/{id}");
    assert_eq!(health(&grpc_base).await, ServingStatus::Serving);

    // 1. Every pooled connection dies while idle (item 7): after the restart, none of them
    //    may fail a request.
    let warm = burst(&http, &account_url, 24).await;
    assert!(warm.iter().all(|a| a.code == 200), "{warm:?}");
    cluster.stop().expect("stop PostgreSQL");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    cluster.restart().expect("restart PostgreSQL");
    let after_idle_death = burst(&http, &account_url, 24).await;
    let failed: Vec<&Answer> = after_idle_death.iter().filter(|a| a.code != 200).collect();
    assert!(failed.is_empty(), "requests failed on connections that died while idle: {failed:?}");
    let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz");
    assert_eq!(ready.status(), 200, "a pod that only gets probes is ready as soon as the database is");

    // 2. Under load, the database stops and starts again (item 6).
    let answers = Arc::new(Mutex::new(Vec::<Answer>::new()));
    let stop_load = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut workers = Vec::new();
    for worker in 0..6 {
        let (answers, stop_load, http, token, id) =
            (answers.clone(), stop_load.clone(), http.clone(), token.clone(), id.clone());
        let (account_url, grpc_base) = (account_url.clone(), grpc_base.clone());
        workers.push(tokio::spawn(async move {
            let mut grpc = AccountServiceClient::connect(grpc_base).await.expect("grpc connect");
            while !stop_load.load(std::sync::atomic::Ordering::Relaxed) {
                let answer = if worker % 2 == 0 {
                    rest_get(&http, &account_url).await
                } else {
                    grpc_get(&mut grpc, &token, &id).await
                };
                answers.lock().expect("answers").push(answer);
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    cluster.stop().expect("stop PostgreSQL");
    let stopped_at = Instant::now();

    tokio::time::sleep(Duration::from_millis(1500)).await;
    let probe_sent = Instant::now();
    let ready = http.get(format!("{base}/readyz")).send().await.expect("readyz");
    let probe_took = probe_sent.elapsed();
    assert_eq!(ready.status(), 503);
    assert!(probe_took <= OUTAGE_ANSWER_LIMIT, "/readyz took {probe_took:?} with the database away");
    let mut serving = health(&grpc_base).await;
    for _ in 0..30 {
        if serving == ServingStatus::NotServing {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        serving = health(&grpc_base).await;
    }
    assert_eq!(serving, ServingStatus::NotServing, "gRPC health follows readiness");
    tokio::time::sleep(Duration::from_millis(1500)).await;

    let restarting = Instant::now();
    cluster.restart().expect("restart PostgreSQL");
    let back = Instant::now();
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop_load.store(true, std::sync::atomic::Ordering::Relaxed);
    for worker in workers {
        worker.await.expect("load worker");
    }
    let mut serving = health(&grpc_base).await;
    for _ in 0..30 {
        if serving == ServingStatus::Serving {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        serving = health(&grpc_base).await;
    }
    assert_eq!(serving, ServingStatus::Serving, "gRPC health is SERVING again once the database is back");

    let answers = answers.lock().expect("answers").clone();
    let during: Vec<&Answer> =
        answers.iter().filter(|a| a.sent >= stopped_at && a.sent + a.took <= restarting).collect();
    let after: Vec<&Answer> = answers.iter().filter(|a| a.sent >= back).collect();
    let unexpected: Vec<&Answer> = answers.iter().filter(|a| !matches!(a.code, 200 | 503 | 0 | 14)).collect();
    assert!(unexpected.is_empty(), "only 200/OK and 503/UNAVAILABLE may answer: {unexpected:?}");
    let rest_down = during.iter().filter(|a| a.api == "rest").count();
    let grpc_down = during.iter().filter(|a| a.api == "grpc").count();
    assert!(rest_down >= 3 && grpc_down >= 3, "the load went on during the outage: {rest_down} REST, {grpc_down} gRPC");
    let longest = during.iter().map(|a| a.took).max().unwrap_or_default();
    eprintln!(
        "outage: {rest_down} REST and {grpc_down} gRPC answers while the database was away, the longest {longest:?}"
    );
    for answer in &during {
        assert!(matches!(answer.code, 503 | 14), "answered during the outage: {answer:?}");
        assert!(answer.took <= OUTAGE_ANSWER_LIMIT, "a request waited {:?} on the missing database", answer.took);
        if answer.api == "rest" {
            assert_eq!(answer.retry_after.as_deref(), Some("2"), "{answer:?}");
            assert_eq!(answer.problem_type.as_deref(), Some("urn:accountd:problem:service-unavailable"));
        }
    }
    assert!(after.len() >= 10, "the load went on after the restart: {} answers", after.len());
    let failed_after: Vec<&&Answer> = after.iter().filter(|a| !matches!(a.code, 200 | 0)).collect();
    assert!(failed_after.is_empty(), "requests failed after the database was back: {failed_after:?}");
    stop(running).await;
}

/// Runs each of `statements` on the cluster, as its superuser.
async fn admin(url: &str, statements: &[&str]) {
    use sqlx::Connection as _;
    let mut connection = sqlx::PgConnection::connect(url).await.expect("admin connection");
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe((*sql).to_owned())).execute(&mut connection).await.expect(sql);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_that_turned_read_only_answers_writes_with_503_never_500_and_reads_go_on() {
    // A primary demoted to a standby after a failover refuses every write (SQLSTATE 25006)
    // on the connections still open to it, until the pool finds the new primary.
    let cluster = start_cluster();
    let url = cluster.url();
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &["--database-url", &url]);
    let running = start(dir.path(), &["--database-url", &url]);
    let base = format!("http://{}", running.http);
    let http = rest_client(&token);
    let create = async |name: &str| {
        let reply = http.post(format!("{base}/v1/accounts")).json(&json!({"name": name})).send().await.expect("post");
        let status = reply.status().as_u16();
        let retry_after = reply.headers().get("retry-after").and_then(|v| v.to_str().ok()).map(str::to_owned);
        (status, retry_after, reply.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, _, made) = create("Writable").await;
    assert_eq!(status, 201, "{made}");
    let id = made["id"].as_str().expect("id").to_owned();

    admin(&url, &["ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    for attempt in 0..3 {
        let (status, retry_after, problem) = create(&format!("Refused {attempt}")).await;
        assert_eq!(status, 503, "a write on a read-only database: {problem}");
        assert_eq!(retry_after.as_deref(), Some("2"));
        assert_eq!(problem["type"], "urn:accountd:problem:service-unavailable", "{problem}");
    }
    let mut grpc = AccountServiceClient::connect(format!("http://{}", running.grpc)).await.expect("grpc connect");
    let mut request = tonic::Request::new(accountd_grpc::pb::CreateAccountRequest {
        name: "Refused over gRPC".into(),
        ..Default::default()
    });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    let status = grpc.create_account(request).await.expect_err("read-only");
    assert_eq!(status.code(), tonic::Code::Unavailable, "{status:?}");
    let read = http.get(format!("{base}/v1/accounts/{id}")).send().await.expect("get");
    assert_eq!(read.status(), 200, "reads still work on a read-only database");

    admin(&url, &["ALTER SYSTEM RESET default_transaction_read_only", "SELECT pg_reload_conf()"]).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let (status, _, made) = create("Writable again").await;
    assert_eq!(status, 201, "writes resume once the database is writable: {made}");
    let listed: Value =
        http.get(format!("{base}/v1/accounts?page_size=100")).send().await.expect("list").json().await.expect("json");
    let names: Vec<&str> =
        listed["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["name"].as_str()).collect();
    assert!(!names.iter().any(|n| n.starts_with("Refused")), "no refused write was applied: {names:?}");
    stop(running).await;
}
