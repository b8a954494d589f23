//! REST API tests: the router in-process over a fresh SQLite database per test.

mod account_users;
mod accounts;
mod aliases;
mod audit;
mod auth;
mod authorize;
mod authz_model;
mod authz_rules;
mod authz_table;
mod docs;
mod events;
mod factor_and_replay_rules;
mod hierarchy;
mod idempotency;
mod mfa;
mod text_input;
mod unavailable;

use std::sync::Arc;

use accountd_domain::{Services, Store};
use accountd_rest::{AppState, router};
use accountd_testkit::Fixture;
pub use accountd_testkit::{BACKENDS, Backend, trail};
use axum::Router;
use axum::body::Body;
use axum::http::{HeaderMap, Method, Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::{Value, json};
use tower::ServiceExt;

#[derive(Debug)]
pub struct TestApp {
    router: Router,
    pub store: Arc<dyn Store>,
    pub services: Services,
    /// The bootstrap root user's platform token, sent by default.
    pub root_token: String,
    _dir: accountd_testkit::TempDir,
}

#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> &str {
        self.headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
    }

    /// The `field` of each entry of a problem document's `errors`.
    pub fn error_fields(&self) -> Vec<&str> {
        self.body["errors"]
            .as_array()
            .map(|a| a.iter().filter_map(|e| e["field"].as_str()).collect())
            .unwrap_or_default()
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_on(Backend::Sqlite).await
}

/// The app over a fresh database of `backend`.
pub async fn spawn_app_on(backend: Backend) -> TestApp {
    app_over(accountd_testkit::fresh(backend).await)
}

/// The app over a fixture's store and services.
pub fn app_over(fixture: Fixture) -> TestApp {
    let Fixture { store, services, root_token, dir } = fixture;
    TestApp { router: router(AppState { services: services.clone() }), store, services, root_token, _dir: dir }
}

impl TestApp {
    /// Sends a request as the root user.
    pub async fn send(&self, method: Method, uri: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let bearer = format!("Bearer {}", self.root_token);
        let mut all = vec![("authorization", bearer.as_str())];
        all.extend_from_slice(headers);
        self.send_raw(method, uri, body, &all).await
    }

    /// Sends a request with exactly `headers` (no credentials unless given).
    pub async fn send_raw(&self, method: Method, uri: &str, body: Option<&str>, headers: &[(&str, &str)]) -> Reply {
        let mut request = Request::builder().method(method).uri(uri);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let request = match body {
            Some(json) => request.header("content-type", "application/json").body(Body::from(json.to_owned())),
            None => request.body(Body::empty()),
        }
        .expect("valid request");
        let response = self.router.clone().oneshot(request).await.expect("infallible router");
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = response.into_body().collect().await.expect("body").to_bytes();
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        Reply { status, headers, body, text }
    }

    pub async fn get(&self, uri: &str) -> Reply {
        self.send(Method::GET, uri, None, &[]).await
    }

    pub async fn post(&self, uri: &str, body: &str) -> Reply {
        self.send(Method::POST, uri, Some(body), &[]).await
    }

    /// Creates an account and returns its body.
    pub async fn create_account(&self, name: &str) -> Value {
        let reply = self.post("/v1/accounts", &serde_json::json!({ "name": name }).to_string()).await;
        assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
        reply.body
    }
}

/// A user created by the root user; returns its id.
pub async fn create_user(app: &TestApp, email: &str) -> String {
    let reply = app.post("/v1/users", &serde_json::json!({"email": email}).to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// Makes `user` a member of `account` with `role`, effective at once (as root).
pub async fn put_member(app: &TestApp, account: &str, user: &str, role: &str) {
    let uri = format!("/v1/accounts/{account}/members/{user}");
    let reply = app.send(Method::PUT, &uri, Some(&serde_json::json!({"roles": [role]}).to_string()), &[]).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
}

pub async fn token_for(app: &TestApp, account: &str, user: &str, extra: Value) -> Value {
    let mut body = json!({"name": "test token", "user_id": user});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let reply = app.post(&format!("/v1/accounts/{account}/tokens"), &body.to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

/// The agency "Acme", owned by a new user `owner@example.com`; returns the owner's id and
/// the account's id.
pub async fn owned_agency(app: &TestApp) -> (String, String) {
    let owner = create_user(app, "owner@example.com").await;
    let created =
        app.post("/v1/accounts", &json!({"name": "Acme", "type": "agency", "owner_id": owner}).to_string()).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let account = created.body["id"].as_str().expect("id").to_owned();
    (owner, account)
}
