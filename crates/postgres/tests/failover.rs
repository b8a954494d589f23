//! A store on a multi-host `database_url` (libpq's `h1:p1,h2:p2` form with
//! `target_session_attrs`): it skips hosts that are down or of the wrong role, refuses
//! clearly when none matches, and follows the writable server to another host — its pool
//! and its change listener both — when the one it used becomes read-only, as a demoted
//! primary does. The real failover, with pg_auto_failover, is `cargo xtask ha`.

use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accountd_domain::{HasErrorKind as _, KeySealer, NewAccountInput, Principal, RequestInfo, SealingKey, Services};
use accountd_postgres::{PgStore, PoolConfig};

#[allow(dead_code, unreachable_pub, reason = "xtask's cluster code, included whole; the test uses part of it")]
#[path = "../../../xtask/src/cluster.rs"]
mod cluster;

/// A port nothing listens on, found by binding one and letting it go.
fn dead_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("address").port()
}

/// `url` (one host) with `host` listed before its own host.
fn with_host_first(url: &str, host: &str) -> String {
    let start = url.find("://").expect("scheme") + 3;
    let at = url[start..].find('@').map_or(start, |i| start + i + 1);
    format!("{}{host},{}", &url[..at], &url[at..])
}

fn with_param(url: &str, param: &str) -> String {
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}{param}")
}

fn system() -> Principal {
    Principal::system(RequestInfo::default())
}

fn services(store: &PgStore) -> Services {
    Services::with_defaults(
        Arc::new(store.clone()),
        Arc::new(KeySealer::new(&SealingKey::generate().expect("randomness"))),
    )
}

/// Creates an account; a failure is its error kind, as the wire adapters map it.
async fn create_account(services: &Services, name: &str) -> Result<(), String> {
    let input = NewAccountInput { name: Some(name.into()), ..Default::default() }.validate().expect("valid");
    match services.accounts.create(&system(), input, None).await {
        Ok(_) => Ok(()),
        Err(error) => Err(format!("{:?}", error.kind())),
    }
}

#[tokio::test]
async fn a_host_that_is_down_is_skipped_for_the_next_one() {
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let dead = dead_port();
    let multi = with_param(&with_host_first(&url, &format!("127.0.0.1:{dead}")), "target_session_attrs=read-write");
    let store = PgStore::connect(&multi, PoolConfig { max_connections: 2, ..PoolConfig::DEFAULT })
        .await
        .expect("the second host is a writable primary");
    store.migrate().await.expect("migrate");
    assert_ne!(store.pool().connect_options().get_port(), dead, "the pool connects to the live host");
    create_account(&services(&store), "Reached").await.expect("a write succeeds");
    let (names,): (i64,) =
        sqlx::query_as("SELECT count(*) FROM accounts WHERE name = 'Reached'").fetch_one(store.pool()).await.unwrap();
    assert_eq!(names, 1);
}

#[tokio::test]
async fn a_standby_is_asked_for_where_there_is_only_a_primary_and_the_refusal_says_what_each_host_is() {
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let dead = dead_port();
    let multi = with_param(&with_host_first(&url, &format!("127.0.0.1:{dead}")), "target_session_attrs=standby");
    let error = PgStore::connect(&multi, PoolConfig::DEFAULT).await.expect_err("no standby anywhere");
    let message = format!("{error:#}");
    assert!(message.contains("no host in database_url matches target_session_attrs=standby"), "{message}");
    assert!(message.contains(&format!("127.0.0.1:{dead}: ")), "the dead host is named: {message}");
    assert!(message.contains("is a read-write primary"), "the primary is named as such: {message}");
    assert!(!message.contains("options="), "the url is not repeated: {message}");

    let prefer = with_param(&url, "target_session_attrs=prefer-standby");
    let store = PgStore::connect(&prefer, PoolConfig::DEFAULT).await.expect("prefer-standby settles for the primary");
    let (one,): (i32,) = sqlx::query_as("SELECT 1").fetch_one(store.pool()).await.expect("query");
    assert_eq!(one, 1);
}

/// Runs each of `statements` on the server `url` names, as an administrator.
async fn admin(url: &str, statements: &[&str]) {
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("admin connect");
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe((*sql).to_owned())).execute(&mut connection).await.expect(sql);
    }
}

async fn count_accounts(url: &str, name: &str) -> i64 {
    let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connect");
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM accounts WHERE name = $1")
        .bind(name)
        .fetch_one(&mut connection)
        .await
        .expect("count");
    count
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_the_writable_host_turns_read_only_writes_answer_unavailable_then_move_to_the_next_host() {
    let binaries =
        || cluster::Binaries::find().expect("this test needs initdb and pg_ctl; install PostgreSQL's server package");
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let first = cluster::Cluster::start(binaries(), &root).expect("first cluster");
    let second = cluster::Cluster::start(binaries(), &root).expect("second cluster");
    let (first_url, second_url) = (first.url(), second.url());
    let port = |url: &str| url.rsplit(':').next().and_then(|p| p.split('/').next()).unwrap().to_owned();
    let multi = format!(
        "postgres://postgres@127.0.0.1:{},127.0.0.1:{}/postgres?target_session_attrs=read-write",
        port(&first_url),
        port(&second_url)
    );
    // Each server holds its own copy of the schema, as a promoted standby would.
    for url in [&first_url, &second_url] {
        PgStore::connect(url, PoolConfig::DEFAULT).await.expect("connect").migrate().await.expect("migrate");
    }
    let store =
        PgStore::connect(&multi, PoolConfig { max_connections: 4, ..PoolConfig::DEFAULT }).await.expect("connect");
    let services = services(&store);
    create_account(&services, "Before").await.expect("write on the first host");
    assert_eq!(count_accounts(&first_url, "Before").await, 1);
    let listener = store.listener_name();
    let listening_on = async |url: &str| {
        let mut connection = <sqlx::PgConnection as sqlx::Connection>::connect(url).await.expect("connect");
        let (n,): (i64,) = sqlx::query_as("SELECT count(*) FROM pg_stat_activity WHERE application_name = $1")
            .bind(&listener)
            .fetch_one(&mut connection)
            .await
            .expect("activity");
        n
    };
    let started = Instant::now();
    while listening_on(&first_url).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(5), "the listener never connected to the first host");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // The first host becomes read-only, as a demoted primary is; a write that reaches it is
    // refused by PostgreSQL (25006) and must be answered as unavailable, never as a failure.
    admin(&first_url, &["ALTER SYSTEM SET default_transaction_read_only = on", "SELECT pg_reload_conf()"]).await;
    let demoted = Instant::now();
    // Sessions read the reloaded setting once the signal reaches them.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut answers = Vec::new();
    let mut moved = None;
    while demoted.elapsed() < Duration::from_secs(10) {
        let name = format!("After-{}", answers.len());
        let answer = create_account(&services, &name).await;
        let succeeded = answer.is_ok();
        answers.push(answer);
        if succeeded {
            moved = Some((demoted.elapsed(), name));
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (took, name) = moved.unwrap_or_else(|| panic!("writes never moved to the second host: {answers:?}"));
    let refused: Vec<&String> = answers.iter().filter_map(|a| a.as_ref().err()).collect();
    assert!(
        refused.iter().all(|kind| kind.starts_with("Unavailable")),
        "while no writable host was in use, writes were only unavailable: {refused:?}"
    );
    assert_eq!(count_accounts(&second_url, &name).await, 1, "the write landed on the second host");
    assert_eq!(count_accounts(&first_url, &name).await, 0);
    assert_eq!(store.pool().connect_options().get_port().to_string(), port(&second_url));
    println!("writes moved to the second host {took:?} after the first turned read-only ({} refused)", refused.len());

    let started = Instant::now();
    while listening_on(&second_url).await == 0 {
        assert!(started.elapsed() < Duration::from_secs(10), "the change listener did not follow to the second host");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(listening_on(&first_url).await, 0, "nothing listens on the read-only host any more");
    drop(store);
}
