//! Two `accountd serve` processes on one PostgreSQL database, as a deployment runs them: a
//! token revoked, a role changed or a member removed through one instance is refused by the
//! other within the bound docs/ARCHITECTURE.md promises (1 s), although the other answered
//! the same caller from its warm decision cache a moment before.

use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::{Running, bootstrap, start, stop};

/// The bound: a change acknowledged by one instance is enforced by every other within it.
const BOUND: Duration = Duration::from_secs(1);
/// Rounds of each kind of change.
const ROUNDS: usize = 20;

struct Api {
    http: reqwest::Client,
    base: String,
}

impl Api {
    fn of(running: &Running) -> Self {
        let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().expect("client");
        Self { http, base: format!("http://{}", running.http) }
    }

    async fn call(&self, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut request = self.http.request(method, format!("{}{path}", self.base)).bearer_auth(token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let reply = request.send().await.expect("an answer");
        let status = reply.status().as_u16();
        (status, reply.json().await.unwrap_or(Value::Null))
    }

    /// `call`, expecting `want`; the answer's body.
    async fn expect(&self, want: u16, token: &str, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let (status, body) = self.call(token, method.clone(), path, body).await;
        assert_eq!(status, want, "{method} {path}: {body}");
        body
    }

    /// What this instance decides for `user_id` and `permission` on `account`, asked by root.
    async fn decision(&self, root: &str, user_id: &str, account: &str, permission: &str) -> String {
        let body = json!({"user_id": user_id, "checks": [{"account_id": account, "permission": permission}]});
        let answer = self.expect(200, root, reqwest::Method::POST, "/v1/authorize", Some(body)).await;
        answer["results"][0]["reason"].as_str().expect("a reason").to_owned()
    }

    /// Whether this instance's decision cache is in use (it is once its listener hears).
    async fn cache_enabled(&self) -> bool {
        let metrics = self.http.get(format!("{}/metrics", self.base)).send().await.expect("metrics");
        metrics.text().await.expect("text").lines().any(|l| l == "decision_cache_enabled 1")
    }
}

/// Polls `done` until it holds; how long that took after `since`. Fails past the bound's
/// tenfold, so a slow machine reports a figure instead of a timeout.
async fn until(since: Instant, what: &str, mut done: impl AsyncFnMut() -> bool) -> Duration {
    while !done().await {
        assert!(since.elapsed() < BOUND * 10, "{what}: still not seen after {:?}", since.elapsed());
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    since.elapsed()
}

fn describe(waits: &mut [Duration]) -> String {
    waits.sort();
    let p = |q: f64| waits[((waits.len() - 1) as f64 * q).round() as usize];
    format!("median {:?}, p99 {:?}, max {:?} of {}", p(0.5), p(0.99), waits[waits.len() - 1], waits.len())
}

#[tokio::test]
async fn a_change_acknowledged_by_one_instance_is_refused_by_the_other_within_a_second() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = accountd_postgres::testing::fresh_schema_url().await;
    let (root, _) = bootstrap(dir.path(), &["--database-url", &url]);
    let a_running = start(dir.path(), &["--database-url", &url]);
    let b_running = start(dir.path(), &["--database-url", &url]);
    let (a, b) = (Api::of(&a_running), Api::of(&b_running));
    let started = Instant::now();
    until(started, "b's listener hears the database", async || b.cache_enabled().await).await;

    use reqwest::Method;
    let grace = a.expect(201, &root, Method::POST, "/v1/users", Some(json!({"email": "grace@example.com"}))).await;
    let grace = grace["id"].as_str().expect("id").to_owned();
    let acme = a.expect(201, &root, Method::POST, "/v1/accounts", Some(json!({"name": "Acme"}))).await;
    let acme = acme["id"].as_str().expect("id").to_owned();
    let account_path = format!("/v1/accounts/{acme}");
    let members = format!("{account_path}/members");
    let member = format!("{members}/{grace}");
    let viewer = json!({"user_id": grace, "roles": ["viewer"]});
    // Grace accepts each invitation, with a token made for her on the account.
    let accepted = json!({"status": "accepted"});
    let tokens = format!("{account_path}/tokens");
    let join = async || {
        a.expect(201, &root, Method::POST, &members, Some(viewer.clone())).await;
        let made = a.expect(201, &root, Method::POST, &tokens, Some(json!({"name": "join", "user_id": grace}))).await;
        let secret = made["value"].as_str().expect("value");
        a.expect(200, secret, Method::PUT, &format!("/v1/me/memberships/{acme}"), Some(accepted.clone())).await;
    };
    join().await;

    // A revoked token: B served it from its cache, then refuses it.
    let mut revoked = Vec::new();
    for round in 0..ROUNDS {
        let made = json!({"name": format!("t{round}"), "user_id": grace});
        let made = a.expect(201, &root, Method::POST, &format!("{account_path}/tokens"), Some(made)).await;
        let (secret, id) = (made["value"].as_str().expect("value"), made["id"].as_str().expect("id"));
        for _ in 0..2 {
            b.expect(200, secret, Method::GET, &account_path, None).await;
        }
        a.expect(204, &root, Method::DELETE, &format!("{account_path}/tokens/{id}"), None).await;
        let acknowledged = Instant::now();
        revoked.push(
            until(acknowledged, "b refuses the revoked token", async || {
                b.call(secret, Method::GET, &account_path, None).await.0 == 401
            })
            .await,
        );
    }

    // A changed role: B's answer for the member flips each round.
    let mut changed = Vec::new();
    for round in 0..ROUNDS {
        let (roles, reason) = if round % 2 == 0 { ("administrator", "granted") } else { ("viewer", "forbidden") };
        let before = if reason == "granted" { "forbidden" } else { "granted" };
        assert_eq!(b.decision(&root, &grace, &acme, "members:write").await, before);
        a.expect(200, &root, Method::PUT, &member, Some(json!({"roles": [roles]}))).await;
        let acknowledged = Instant::now();
        changed.push(
            until(acknowledged, "b sees the changed role", async || {
                b.decision(&root, &grace, &acme, "members:write").await == reason
            })
            .await,
        );
    }

    // A removed member: B let their token read the account, then refuses it (404: the
    // account is no longer theirs to see).
    let mut removed = Vec::new();
    for round in 0..ROUNDS {
        let made = json!({"name": format!("m{round}"), "user_id": grace});
        let made = a.expect(201, &root, Method::POST, &format!("{account_path}/tokens"), Some(made)).await;
        let secret = made["value"].as_str().expect("value").to_owned();
        for _ in 0..2 {
            b.expect(200, &secret, Method::GET, &account_path, None).await;
        }
        a.expect(204, &root, Method::DELETE, &member, None).await;
        let acknowledged = Instant::now();
        removed.push(
            until(acknowledged, "b refuses the removed member", async || {
                matches!(b.call(&secret, Method::GET, &account_path, None).await.0, 401 | 404)
            })
            .await,
        );
        join().await;
    }

    let report = [("revoked token", &mut revoked), ("changed role", &mut changed), ("removed member", &mut removed)]
        .map(|(what, waits)| {
            let line = format!("{what}: {}", describe(waits));
            assert!(waits.iter().all(|w| *w < BOUND), "{line}: past the {BOUND:?} bound");
            line
        });
    eprintln!("cross-instance invalidation, acknowledged on A → refused on B: {}", report.join("; "));
    stop(a_running).await;
    stop(b_running).await;
}
