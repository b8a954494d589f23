//! The console at a million accounts, on PostgreSQL: the accounts list (first and a deep
//! page), a name search (first and next page) and an account's children answer from the
//! indexes (keyset paging, no OFFSET, no per-row query). The test checks what each page
//! shows and that the search's plan reads `accounts_name_search_idx`; it prints the
//! server times it measured (the performance figure lives in docs/console.md, never in an
//! assertion: timings on a shared machine are not a test).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accountd_console::{ConsoleConfig, ConsoleState};
use accountd_postgres::{PgStore, PoolConfig};

/// 10 000 agencies with 99 ad accounts each.
const AGENCIES: i64 = 10_000;
const PER_AGENCY: i64 = 100;

fn id(n: &str) -> String {
    format!("('00000000-0000-7000-8000-' || lpad(to_hex(CAST({n} AS bigint)), 12, '0'))")
}

async fn seed(pool: &sqlx::PgPool) {
    let total = AGENCIES * PER_AGENCY;
    let agency = format!("(n / {PER_AGENCY}) * {PER_AGENCY}");
    let sql = format!(
        "INSERT INTO accounts (id, name, account_type, status, owner_id, parent_id, path, enforce_twofactor, version, \
         created_at, updated_at) \
         SELECT CAST({id} AS uuid), 'Account ' || n, CASE WHEN n % {PER_AGENCY} = 0 THEN 'agency' ELSE 'ad_account' END, \
         'verified', NULL, CASE WHEN n % {PER_AGENCY} = 0 THEN NULL ELSE CAST({parent} AS uuid) END, \
         CASE WHEN n % {PER_AGENCY} = 0 THEN {id} ELSE {parent} || '/' || {id} END, false, 1, now(), now() \
         FROM generate_series(0, {last}) n ORDER BY n % {PER_AGENCY} <> 0, n",
        id = id("n"),
        parent = id(&agency),
        last = total - 1,
    );
    sqlx::query(sqlx::AssertSqlSafe(sql)).execute(pool).await.expect("seed accounts");
    sqlx::query("ANALYZE accounts").execute(pool).await.expect("analyze");
}

/// The median and the slowest of `runs` requests of `url`, and the last page's body.
async fn time(client: &reqwest::Client, url: &str, runs: usize) -> (Duration, Duration, String) {
    let mut times = Vec::with_capacity(runs);
    let mut body = String::new();
    for _ in 0..runs {
        let started = Instant::now();
        let r = client.get(url).send().await.expect("page");
        assert_eq!(r.status(), reqwest::StatusCode::OK, "{url}");
        body = r.text().await.expect("html");
        times.push(started.elapsed());
    }
    times.sort();
    (times[runs / 2], times[runs - 1], body)
}

fn rows(html: &str) -> usize {
    html.matches("<tr><td><a href=\"/console/accounts/").count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn search_and_list_pages_stay_on_their_indexes_at_a_million_accounts() {
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let store = PgStore::connect(&url, PoolConfig::DEFAULT).await.expect("connect");
    store.migrate().await.expect("migrate");
    let pool = sqlx::PgPool::connect(&url).await.expect("seed pool");
    let seeding = Instant::now();
    seed(&pool).await;
    let seeded = seeding.elapsed();
    let fixture = accountd_testkit::bootstrap(Arc::new(store), accountd_testkit::TempDir::new().expect("dir")).await;

    let state = ConsoleState::new(fixture.services.clone(), ConsoleConfig::default());
    let router = accountd_console::router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
    });
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let form = client.get(format!("{base}/console/sign-in")).send().await.expect("form").text().await.expect("html");
    let nonce = form.split("name=\"nonce\" value=\"").nth(1).and_then(|s| s.split('"').next()).expect("nonce");
    let signed = client
        .post(format!("{base}/console/sign-in"))
        .form(&[("nonce", nonce), ("token", fixture.root_token.as_str())])
        .send()
        .await
        .expect("sign in");
    assert_eq!(signed.status(), reqwest::StatusCode::SEE_OTHER);

    let mut report = vec![format!("seeded {} accounts in {seeded:?}", AGENCIES * PER_AGENCY)];
    let mut measure = async |label: &str, url: String| {
        let (median, slowest, body) = time(&client, &url, 21).await;
        report.push(format!("{label}: median {median:?}, slowest {slowest:?}"));
        body
    };

    let first = measure("accounts list, first page", format!("{base}/console/accounts")).await;
    assert_eq!(rows(&first), 50, "a full page");
    // A deep page: walk 200 pages (10 000 accounts) by cursor, then time the next one.
    let mut page = first;
    for _ in 0..200 {
        let next = page.split("rel=\"next\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("next link");
        let next = next.replace("&amp;", "&");
        page = client.get(format!("{base}{next}")).send().await.expect("page").text().await.expect("html");
    }
    let deep = page.split("rel=\"next\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("next").to_owned();
    let deep_page = measure("accounts list, page 202", format!("{base}{}", deep.replace("&amp;", "&"))).await;
    assert_eq!(rows(&deep_page), 50);

    let search = measure("search 'account 4242' (first page)", format!("{base}/console/accounts?q=account+4242")).await;
    // "Account 4242", "Account 42420".."Account 42429", "Account 424200".."Account 424299": 111.
    assert_eq!(rows(&search), 50);
    assert!(search.contains(">Account 4242<") && search.contains(">Account 42420<"), "in name order");
    let next = search.split("rel=\"next\" href=\"").nth(1).and_then(|s| s.split('"').next()).expect("next");
    let second = measure("search 'account 4242' (next page)", format!("{base}{}", next.replace("&amp;", "&"))).await;
    assert_eq!(rows(&second), 50);
    assert!(!second.contains(">Account 4242<"), "the next page continues after the first");
    let rare =
        measure("search 'account 999999' (one match)", format!("{base}/console/accounts?q=account+999999")).await;
    assert_eq!(rows(&rare), 1);

    let agency = "00000000-0000-7000-8000-000000001388"; // account 5000, an agency
    let overview = measure("account overview with 99 children", format!("{base}/console/accounts/{agency}")).await;
    assert_eq!(overview.matches("<li><a href=\"/console/accounts/").count(), 50, "the first page of children");

    // The search reads the name index, whatever the planner's statistics.
    let plan: Vec<(String,)> = sqlx::query_as(
        "EXPLAIN SELECT id FROM accounts WHERE lower(name) COLLATE \"C\" >= lower($1) \
         AND lower(name) COLLATE \"C\" < lower($1) || $2 ORDER BY lower(name) COLLATE \"C\", id LIMIT 51",
    )
    .bind("account 4242")
    .bind("\u{10FFFF}")
    .fetch_all(&pool)
    .await
    .expect("explain");
    let plan = plan.into_iter().map(|(line,)| line).collect::<Vec<_>>().join("\n");
    assert!(plan.contains("accounts_name_search_idx") && !plan.contains("Seq Scan"), "{plan}");

    println!("console at a million accounts (server on loopback, PostgreSQL):\n  {}", report.join("\n  "));
}
