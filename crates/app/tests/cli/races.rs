//! Many instances, one database, no surprises (issue 14, item 3): three `accountd serve`
//! processes on one PostgreSQL schema, each race's requests spread over them round-robin, so
//! every rule that concurrent requests could break must hold across processes, not only
//! inside one. And three instances starting at once on an empty database all come up, with
//! every migration applied exactly once (sqlx's migrator holds an advisory lock while it
//! migrates; this checks that it does).

use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::str::FromStr;
use std::sync::{Arc, Barrier};

use serde_json::{Value, json};
use sqlx::Connection;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use super::{Running, bootstrap, start_with_env};

/// One MFA key for every instance of a deployment (SPEC: instances sharing one database share it).
const MFA_KEY: &str = "dGhpcnR5LXR3by1ieXRlcy1vZi1rZXktbWF0ZXJpYSE=";

/// The races are about correctness, not about a loaded test machine: a request waits for a
/// pool connection for as long as it takes instead of being answered 503 after a second.
const ENV: &[(&str, &str)] = &[("ACCOUNTD_MFA_KEY", MFA_KEY), ("ACCOUNTD_DB_ACQUIRE_TIMEOUT", "30s")];

/// Three instances hold up to 51 connections (16 each plus a listener): one trio at a time
/// keeps the suite well inside PostgreSQL's default of 100.
fn trio_permit() -> OwnedSemaphorePermit {
    static PERMITS: std::sync::OnceLock<Arc<Semaphore>> = std::sync::OnceLock::new();
    let permits = PERMITS.get_or_init(|| Arc::new(Semaphore::new(1))).clone();
    // A blocking wait is fine: each test has its own runtime and has not started anything yet.
    loop {
        if let Ok(permit) = permits.clone().try_acquire_owned() {
            return permit;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// Three instances over one fresh schema, and a root token.
struct Trio {
    instances: Vec<Running>,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
    _permit: OwnedSemaphorePermit,
}

/// One answer: status, headers that matter, body.
#[derive(Debug, Clone)]
struct Answer {
    status: u16,
    replayed: bool,
    body: Value,
}

impl Trio {
    async fn start() -> Self {
        let permit = trio_permit();
        let dir = tempfile::tempdir().expect("temp dir");
        let url = accountd_postgres::testing::fresh_schema_url().await;
        let (token, _) = bootstrap(dir.path(), &["--database-url", &url]);
        let instances = (0..3).map(|_| start_with_env(dir.path(), &["--database-url", &url], ENV)).collect();
        Self { instances, http: client(&token), _dir: dir, _permit: permit }
    }

    /// The base URL of the instance request number `n` goes to.
    fn base(&self, n: usize) -> String {
        format!("http://{}", self.instances[n % self.instances.len()].http)
    }

    async fn send(
        &self,
        n: usize,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
        key: Option<&str>,
    ) -> Answer {
        let mut request = self.http.request(method, format!("{}{path}", self.base(n)));
        if let Some(body) = body {
            request = request.json(&body);
        }
        if let Some(key) = key {
            request = request.header("idempotency-key", key);
        }
        let reply = request.send().await.unwrap_or_else(|e| panic!("{path}: no answer: {e}"));
        let status = reply.status().as_u16();
        let replayed = reply.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
        let body = reply.json().await.unwrap_or(Value::Null);
        Answer { status, replayed, body }
    }

    async fn get(&self, n: usize, path: &str) -> Answer {
        self.send(n, reqwest::Method::GET, path, None, None).await
    }

    async fn post(&self, n: usize, path: &str, body: Value) -> Answer {
        self.send(n, reqwest::Method::POST, path, Some(body), None).await
    }

    async fn create_account(&self, name: &str, kind: &str, parent: Option<&str>) -> String {
        let created = self.post(0, "/v1/accounts", json!({"name": name, "type": kind, "parent_id": parent})).await;
        assert_eq!(created.status, 201, "{created:?}");
        created.body["id"].as_str().expect("id").to_owned()
    }

    /// Runs `count` requests at once, request `n` on instance `n % 3`, and returns the answers
    /// in request order.
    async fn all_at_once<F, Fut>(self: &Arc<Self>, count: usize, request: F) -> Vec<Answer>
    where
        F: Fn(Arc<Self>, usize) -> Fut,
        Fut: std::future::Future<Output = Answer> + Send + 'static,
    {
        let start = Arc::new(tokio::sync::Barrier::new(count));
        let tasks: Vec<_> = (0..count)
            .map(|n| {
                let (start, call) = (start.clone(), request(self.clone(), n));
                tokio::spawn(async move {
                    start.wait().await;
                    call.await
                })
            })
            .collect();
        let mut answers = Vec::with_capacity(count);
        for task in tasks {
            answers.push(task.await.expect("request task"));
        }
        answers
    }

    /// Every account in the database, by id.
    async fn all_accounts(&self) -> HashMap<String, Value> {
        let listed = self.get(0, "/v1/accounts?page_size=1000").await;
        assert_eq!(listed.status, 200, "{listed:?}");
        assert_eq!(listed.body["next_page_token"], "", "one page holds every account of the test");
        listed.body["accounts"]
            .as_array()
            .expect("accounts")
            .iter()
            .map(|a| (a["id"].as_str().expect("id").to_owned(), a.clone()))
            .collect()
    }
}

fn client(token: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .default_headers(
            [(reqwest::header::AUTHORIZATION, format!("Bearer {token}").parse().expect("header"))]
                .into_iter()
                .collect(),
        )
        .timeout(std::time::Duration::from_secs(60))
        .build()
        .expect("client")
}

fn statuses(answers: &[Answer]) -> Vec<u16> {
    answers.iter().map(|a| a.status).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn fifty_creations_of_one_alias_over_three_instances_make_exactly_one() {
    let trio = Arc::new(Trio::start().await);
    let account = trio.create_account("Acme", "standard", None).await;
    let domain = trio.post(0, "/v1/domains", json!({"name": "race.example.com", "status": "active"})).await;
    assert_eq!(domain.status, 201, "{domain:?}");
    let path = format!("/v1/accounts/{account}/aliases");
    let answers = trio
        .all_at_once(50, |trio, n| {
            let path = path.clone();
            // The address is case-insensitive: both spellings are the same alias.
            let local = if n % 2 == 0 { "race" } else { "RACE" };
            async move { trio.post(n, &path, json!({"local_part": local, "domain": "race.example.com"})).await }
        })
        .await;
    let won: Vec<&Answer> = answers.iter().filter(|a| a.status == 201).collect();
    assert_eq!(won.len(), 1, "{:?}", statuses(&answers));
    assert!(answers.iter().all(|a| a.status == 201 || a.status == 409), "{:?}", statuses(&answers));
    for lost in answers.iter().filter(|a| a.status == 409) {
        assert_eq!(lost.body["type"], "urn:accountd:problem:already-exists", "{lost:?}");
    }
    let listed = trio.get(1, &path).await;
    let aliases = listed.body["aliases"].as_array().expect("aliases");
    assert_eq!(aliases.len(), 1, "one alias row: {listed:?}");
    assert_eq!(aliases[0]["id"], won[0].body["alias"]["id"]);
    assert_eq!(aliases[0]["address"], "race@race.example.com");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn thirty_creations_with_one_idempotency_key_make_one_account_and_the_same_answer() {
    let trio = Arc::new(Trio::start().await);
    let answers = trio
        .all_at_once(30, |trio, n| async move {
            trio.send(
                n,
                reqwest::Method::POST,
                "/v1/accounts",
                Some(json!({"name": "Once", "type": "agency"})),
                Some("one-key-for-thirty"),
            )
            .await
        })
        .await;
    assert!(answers.iter().all(|a| a.status == 201), "{:?}", statuses(&answers));
    assert_eq!(answers.iter().filter(|a| !a.replayed).count(), 1, "one creation, the others replays");
    for answer in &answers {
        assert_eq!(answer.body, answers[0].body, "every answer is the first one");
    }
    let accounts = trio.all_accounts().await;
    let named: Vec<&Value> = accounts.values().filter(|a| a["name"] == "Once").collect();
    assert_eq!(named.len(), 1, "one account: {named:?}");
    assert_eq!(named[0]["id"], answers[0].body["id"]);
    let id = answers[0].body["id"].as_str().expect("id");
    let trail = trio.get(2, &format!("/v1/accounts/{id}/logs/audit?action_type=account.create")).await;
    assert_eq!(trail.body["events"].as_array().map(Vec::len), Some(1), "one creation audited: {trail:?}");
}

/// Walks `id`'s parents through the API: the chain (root first) must end, without a repeat,
/// within the depth limit, and equal the account's own `hierarchy`.
async fn ancestors(trio: &Trio, accounts: &HashMap<String, Value>, id: &str) -> Vec<String> {
    let mut chain = Vec::new();
    let mut seen = HashSet::from([id.to_owned()]);
    let mut at = accounts[id].clone();
    while let Some(parent) = at["parent_id"].as_str() {
        assert!(seen.insert(parent.to_owned()), "a cycle through {parent}: {chain:?}");
        assert!(chain.len() < 8, "deeper than 8 levels: {chain:?}");
        chain.push(parent.to_owned());
        let read = trio.get(chain.len(), &format!("/v1/accounts/{parent}")).await;
        assert_eq!(read.status, 200, "the parent {parent} of an account exists: {read:?}");
        at = read.body;
    }
    chain.reverse();
    let hierarchy: Vec<String> = accounts[id]["hierarchy"]
        .as_array()
        .expect("hierarchy")
        .iter()
        .map(|v| v.as_str().expect("id").to_owned())
        .collect();
    assert_eq!(hierarchy, chain, "the hierarchy of {id} is its chain of parents");
    chain
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_moves_that_would_close_a_cycle_never_make_one() {
    let trio = Arc::new(Trio::start().await);
    // Six trees of two levels: a container with a container child. Every move below puts a
    // tree's top under another tree's child, in both directions around the ring, so any set
    // of them applied blindly closes a cycle.
    let mut tops = Vec::new();
    let mut children = Vec::new();
    for i in 0..6 {
        let top = trio.create_account(&format!("top-{i}"), "agency", None).await;
        children.push(trio.create_account(&format!("child-{i}"), "business_manager", Some(&top)).await);
        tops.push(top);
    }
    let (tops, children) = (Arc::new(tops), Arc::new(children));
    let answers = trio
        .all_at_once(24, |trio, n| {
            let (tops, children) = (tops.clone(), children.clone());
            async move {
                let i = n % 6;
                let (mover, under) = match n / 6 {
                    0 => (&tops[i], &children[(i + 1) % 6]),
                    1 => (&tops[(i + 1) % 6], &children[i]),
                    2 => (&tops[i], &tops[(i + 1) % 6]),
                    _ => (&tops[(i + 1) % 6], &tops[i]),
                };
                trio.post(n, &format!("/v1/accounts/{mover}/move"), json!({"parent_id": under})).await
            }
        })
        .await;
    let moved = answers.iter().filter(|a| a.status == 200).count();
    assert!(moved >= 1, "some move wins: {:?}", statuses(&answers));
    for refused in answers.iter().filter(|a| a.status != 200) {
        // A cycle (422), or a parent that changed since the caller looked (409).
        assert!(refused.status == 422 || refused.status == 409, "{refused:?}");
    }
    let accounts = trio.all_accounts().await;
    assert_eq!(accounts.len(), 12);
    let mut roots = BTreeSet::new();
    for id in accounts.keys() {
        let chain = ancestors(&trio, &accounts, id).await;
        roots.insert(chain.first().cloned().unwrap_or_else(|| id.clone()));
    }
    assert!(!roots.is_empty() && roots.len() <= 5, "twelve accounts still form trees with a root each: {roots:?}");
    for child in children.iter() {
        assert_ne!(accounts[child]["parent_id"], Value::Null, "no move made a child top-level");
    }
}

/// The roles of a member as a set, from a member body or an audit snapshot.
fn role_set(roles: &Value) -> BTreeSet<String> {
    roles.as_array().expect("roles").iter().map(|r| r.as_str().expect("role").to_owned()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn forty_concurrent_role_changes_end_in_one_of_them_with_one_audit_event_per_change() {
    let trio = Arc::new(Trio::start().await);
    let account = trio.create_account("Acme", "agency", None).await;
    let user = trio.post(0, "/v1/users", json!({"email": "ada@example.com"})).await;
    assert_eq!(user.status, 201, "{user:?}");
    let user = user.body["id"].as_str().expect("id").to_owned();
    let member_path = format!("/v1/accounts/{account}/members/{user}");
    let first = trio.send(0, reqwest::Method::PUT, &member_path, Some(json!({"roles": ["viewer"]})), None).await;
    assert_eq!(first.status, 200, "{first:?}");
    const CHOICES: [&[&str]; 5] =
        [&["administrator"], &["billing"], &["member"], &["billing", "viewer"], &["administrator", "billing"]];
    let answers = trio
        .all_at_once(40, |trio, n| {
            let path = member_path.clone();
            async move {
                trio.send(n, reqwest::Method::PUT, &path, Some(json!({"roles": CHOICES[n % CHOICES.len()]})), None)
                    .await
            }
        })
        .await;
    assert!(answers.iter().all(|a| a.status == 200 || a.status == 409), "{:?}", statuses(&answers));
    let mut acknowledged: HashMap<BTreeSet<String>, usize> = HashMap::new();
    for (n, answer) in answers.iter().enumerate().filter(|(_, a)| a.status == 200) {
        let wanted: BTreeSet<String> = CHOICES[n % CHOICES.len()].iter().map(|r| (*r).to_owned()).collect();
        assert_eq!(role_set(&answer.body["roles"]), wanted, "an acknowledged change answers what it set");
        *acknowledged.entry(wanted).or_default() += 1;
    }
    let total: usize = acknowledged.values().sum();
    assert!(total >= 1, "{:?}", statuses(&answers));

    let now = trio.get(1, &member_path).await;
    let last = role_set(&now.body["roles"]);
    assert!(acknowledged.contains_key(&last), "the final roles {last:?} are one acknowledged change");

    let trail = trio
        .get(2, &format!("/v1/accounts/{account}/logs/audit?resource_type=member&resource_id={user}&page_size=1000"))
        .await;
    let events: Vec<&Value> = trail.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["action"]["type"] == "member.update")
        .collect();
    // The events form one history: each starts where the previous one ended, from the first
    // `viewer`, to the roles the member has now.
    let mut state = BTreeSet::from(["viewer".to_owned()]);
    let mut states = vec![state.clone()];
    let mut recorded: HashMap<BTreeSet<String>, usize> = HashMap::new();
    for event in &events {
        assert_eq!(role_set(&event["changes"]["before"]["roles"]), state, "{event}");
        state = role_set(&event["changes"]["after"]["roles"]);
        *recorded.entry(state.clone()).or_default() += 1;
        states.push(state.clone());
    }
    assert_eq!(state, last, "the last event ends in the member's roles");
    // One event per acknowledged change: a change to the roles the member already had changes
    // nothing and records nothing, so each set has as many events as acknowledged changes,
    // less those that found it already in place (which needs it to have been a state).
    for (roles, count) in &acknowledged {
        let events_for = recorded.get(roles).copied().unwrap_or(0);
        assert!(events_for <= *count, "{roles:?}: {events_for} events for {count} changes");
        if events_for < *count {
            assert!(states.contains(roles), "{roles:?}: an unrecorded change must have changed nothing");
        }
    }
    assert!(recorded.keys().all(|roles| acknowledged.contains_key(roles)), "no event without an acknowledged change");
    assert!(events.len() >= 1 && events.len() <= total, "{} events for {total} changes", events.len());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn deleting_an_account_while_children_are_created_under_it_leaves_no_orphan() {
    let trio = Arc::new(Trio::start().await);
    let parent = Arc::new(trio.create_account("Doomed", "agency", None).await);
    let answers = trio
        .all_at_once(21, |trio, n| {
            let parent = parent.clone();
            async move {
                if n == 10 {
                    trio.send(n, reqwest::Method::DELETE, &format!("/v1/accounts/{parent}"), None, None).await
                } else {
                    trio.post(n, "/v1/accounts", json!({"name": format!("kid-{n}"), "parent_id": *parent})).await
                }
            }
        })
        .await;
    assert_eq!(answers[10].status, 204, "the delete wins its race: {:?}", answers[10]);
    let mut created = HashSet::new();
    for (n, answer) in answers.iter().enumerate().filter(|(n, _)| *n != 10) {
        match answer.status {
            201 => {
                created.insert(answer.body["id"].as_str().expect("id").to_owned());
            }
            // Created after the delete: the parent is gone.
            422 => assert_eq!(answer.body["errors"][0]["field"], "parent_id", "{n}: {answer:?}"),
            other => panic!("request {n}: {other} {answer:?}"),
        }
    }
    assert_eq!(trio.get(1, &format!("/v1/accounts/{parent}")).await.status, 404);
    let accounts = trio.all_accounts().await;
    let kids: HashSet<String> = accounts
        .values()
        .filter(|a| a["name"].as_str().is_some_and(|n| n.starts_with("kid-")))
        .map(|a| a["id"].as_str().expect("id").to_owned())
        .collect();
    assert_eq!(kids, created, "every acknowledged child exists, and no refused one was written");
    for kid in &kids {
        // Created before the delete and detached by it: a top-level account now.
        assert_eq!(accounts[kid]["parent_id"], Value::Null, "{}", accounts[kid]);
        assert_eq!(accounts[kid]["hierarchy"], json!([]), "{}", accounts[kid]);
    }
    for account in accounts.values() {
        if let Some(up) = account["parent_id"].as_str() {
            assert!(accounts.contains_key(up), "{account} names a missing parent");
        }
    }
}

/// The migrations each PostgreSQL instance applies: the files under migrations/postgres.
fn migration_versions() -> BTreeSet<i64> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../migrations/postgres");
    std::fs::read_dir(dir)
        .expect("migrations")
        .map(|entry| entry.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name.ends_with(".sql"))
        .map(|name| name.split('_').next().expect("version").parse().expect("numbered migration"))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn three_instances_starting_at_once_on_an_empty_database_migrate_it_once() {
    let _permit = trio_permit();
    let dir = tempfile::tempdir().expect("temp dir");
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let together = Arc::new(Barrier::new(3));
    let starting: Vec<_> = (0..3)
        .map(|_| {
            let (dir, url, together) = (dir.path().to_owned(), url.clone(), together.clone());
            std::thread::spawn(move || {
                together.wait();
                start_with_env(&dir, &["--database-url", &url], ENV)
            })
        })
        .collect();
    let instances: Vec<Running> = starting.into_iter().map(|t| t.join().expect("an instance started")).collect();

    let mut db = sqlx::PgConnection::connect_with(&sqlx::postgres::PgConnectOptions::from_str(&url).expect("url"))
        .await
        .expect("connect");
    let applied: Vec<(i64, bool)> = sqlx::query_as("SELECT version, success FROM _sqlx_migrations ORDER BY version")
        .fetch_all(&mut db)
        .await
        .expect("the migrations table");
    let versions: BTreeSet<i64> = applied.iter().map(|(v, _)| *v).collect();
    assert_eq!(versions, migration_versions(), "every migration recorded");
    assert_eq!(applied.len(), versions.len(), "each once");
    assert!(applied.iter().all(|(_, ok)| *ok), "{applied:?}");

    // The schema is whole: the first root user can be made, and every instance serves it.
    let (token, _) = bootstrap(dir.path(), &["--database-url", &url]);
    let http = client(&token);
    for (n, instance) in instances.iter().enumerate() {
        let created = http
            .post(format!("http://{}/v1/accounts", instance.http))
            .json(&json!({"name": format!("from-{n}")}))
            .send()
            .await
            .expect("post");
        assert_eq!(created.status(), 201, "instance {n} serves writes");
        for log in instance.log.lock().expect("log").iter() {
            assert!(!log.contains("ERROR"), "instance {n} logged an error: {log}");
        }
    }
    let (count,): (i64,) = sqlx::query_as("SELECT count(*) FROM accounts").fetch_one(&mut db).await.expect("count");
    assert_eq!(count, 3);
}
