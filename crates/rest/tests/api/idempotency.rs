//! `Idempotency-Key` on every POST create (SPEC §3, issue 16 item 10): a retry answers the
//! first resource with `Idempotent-Replayed: true` and stores nothing more; the same key with
//! another body is refused; a secret shown once is not shown again; on both stores.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{BACKENDS, Reply, TestApp, create_user, spawn_app_on, trail};

async fn post(app: &TestApp, uri: &str, body: &Value, key: &str) -> Reply {
    app.send(Method::POST, uri, Some(&body.to_string()), &[("idempotency-key", key)]).await
}

/// The id of a created resource, wherever its body puts it.
fn id_of(reply: &Reply) -> Value {
    let body = &reply.body;
    [&body["id"], &body["user_id"], &body["alias"]["id"], &body["user"]["id"]]
        .into_iter()
        .find(|v| !v.is_null())
        .cloned()
        .unwrap_or(Value::Null)
}

/// An agency, a user to invite, an active domain, and the root user's id.
async fn setup(app: &TestApp) -> (String, String, String) {
    let account = app.post("/v1/accounts", &json!({"name": "Acme", "type": "agency"}).to_string()).await.body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let ada = create_user(app, "ada@example.com").await;
    let domain = app.post("/v1/domains", &json!({"name": "mail.example.com", "status": "active"}).to_string()).await;
    assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.text);
    let root = app.get("/v1/me").await.body["id"].as_str().expect("root id").to_owned();
    (account, ada, root)
}

#[tokio::test]
async fn every_post_create_replays_its_first_answer_and_refuses_a_key_reused_for_another_body() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let (account, ada, root) = setup(&app).await;
        let cases: Vec<(String, Value, Value)> = vec![
            ("/v1/accounts".into(), json!({"name": "Child", "parent_id": account}), json!({"name": "Other"})),
            ("/v1/users".into(), json!({"email": "k@example.com"}), json!({"email": "k2@example.com"})),
            (
                format!("/v1/accounts/{account}/members"),
                json!({"user_id": ada, "roles": ["viewer"]}),
                json!({"user_id": ada, "roles": ["billing"]}),
            ),
            (
                format!("/v1/accounts/{account}/users"),
                json!({"email_address": "bo@example.com", "first_name": "Bo", "last_name": "B"}),
                json!({"email_address": "bo@example.com", "first_name": "Bob", "last_name": "B"}),
            ),
            ("/v1/domains".into(), json!({"name": "k.example.com"}), json!({"name": "k2.example.com"})),
            (
                format!("/v1/accounts/{account}/aliases"),
                json!({"local_part": "info", "domain": "mail.example.com"}),
                json!({"local_part": "sales", "domain": "mail.example.com"}),
            ),
            (
                format!("/v1/accounts/{account}/subscriptions"),
                json!({"rate_plan": "pro"}),
                json!({"rate_plan": "business"}),
            ),
            (format!("/v1/accounts/{account}/tokens"), json!({"name": "ci"}), json!({"name": "cd"})),
            (format!("/v1/users/{root}/tokens"), json!({"name": "ops"}), json!({"name": "ops2"})),
        ];
        for (i, (uri, body, other)) in cases.into_iter().enumerate() {
            let key = format!("retry-{i}");
            let first = post(&app, &uri, &body, &key).await;
            assert_eq!(first.status, StatusCode::CREATED, "{backend:?} {uri}: {}", first.text);
            assert_eq!(first.header("idempotent-replayed"), "", "{backend:?} {uri}");
            let stored = trail(&app.store, &account).await;
            let again = post(&app, &uri, &body, &key).await;
            assert_eq!(again.status, StatusCode::CREATED, "{backend:?} {uri}: {}", again.text);
            assert_eq!(again.header("idempotent-replayed"), "true", "{backend:?} {uri}");
            assert_eq!(id_of(&again), id_of(&first), "{backend:?} {uri}: the first resource");
            assert!(!id_of(&first).is_null(), "{backend:?} {uri}: {}", first.text);
            let reused = post(&app, &uri, &other, &key).await;
            assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?} {uri}: {}", reused.text);
            assert_eq!(reused.body["type"], "urn:accountd:problem:failed-precondition", "{backend:?} {uri}");
            assert_eq!(
                trail(&app.store, &account).await,
                stored,
                "{backend:?} {uri}: a replay or refusal stores nothing"
            );
            // The key is the caller's for this operation only: without it the same body is a
            // new request (and a conflict where the resource is unique).
            let bad = app.send(Method::POST, &uri, Some(&body.to_string()), &[("idempotency-key", "a b")]).await;
            assert_eq!(bad.error_fields(), ["Idempotency-Key"], "{backend:?} {uri}: {}", bad.text);
        }
    }
}

#[tokio::test]
async fn a_replayed_token_or_alias_creation_does_not_show_the_secret_again() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let (account, _, root) = setup(&app).await;
        for uri in [format!("/v1/accounts/{account}/tokens"), format!("/v1/users/{root}/tokens")] {
            let body = json!({"name": "ci"});
            let key = format!("token-key {uri}").replace(' ', "-");
            let first = post(&app, &uri, &body, &key).await;
            let secret = first.body["value"].as_str().unwrap_or_else(|| panic!("{}", first.text)).to_owned();
            assert_eq!(first.body["secret_omitted"], false, "{backend:?}");
            let again = post(&app, &uri, &body, &key).await;
            assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::CREATED, "true"));
            assert_eq!((&again.body["value"], &again.body["secret_omitted"]), (&Value::Null, &json!(true)));
            assert_eq!(again.body["hint"], first.body["hint"], "{backend:?}: the same secret, not a new one");
            assert!(!again.text.contains(&secret), "{backend:?}: the secret is not in a replay");
            let with_secret = app.send_raw(Method::GET, "/v1/me", None, &[("x-api-key", &secret)]).await;
            assert_eq!(with_secret.status, StatusCode::OK, "{backend:?}: the first secret still works");
        }
        let uri = format!("/v1/accounts/{account}/aliases");
        let body = json!({"local_part": "info", "domain": "mail.example.com"});
        let first = post(&app, &uri, &body, "alias-key").await;
        let password = first.body["password"].as_str().expect("the first answer carries the password").to_owned();
        let again = post(&app, &uri, &body, "alias-key").await;
        assert_eq!(again.header("idempotent-replayed"), "true");
        assert_eq!((&again.body["password"], &again.body["secret_omitted"]), (&Value::Null, &json!(true)));
        assert_eq!(again.header("cache-control"), "no-store");
        assert_eq!(again.body["alias"]["password_changed_at"], first.body["alias"]["password_changed_at"]);
        let login = json!({"address": "info@mail.example.com", "password": password});
        let login = app.post("/v1/mailbox-auth", &login.to_string()).await;
        assert_eq!(login.status, StatusCode::OK, "{backend:?}: the first password still works: {}", login.text);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_token_creations_with_one_key_create_one_token() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let (account, _, _) = setup(&app).await;
        let uri = format!("/v1/accounts/{account}/tokens");
        let body = json!({"name": "ci"});
        let (a, b) = tokio::join!(post(&app, &uri, &body, "race"), post(&app, &uri, &body, "race"));
        assert_eq!((a.status, b.status), (StatusCode::CREATED, StatusCode::CREATED), "{}\n{}", a.text, b.text);
        let mut replayed = [a.header("idempotent-replayed"), b.header("idempotent-replayed")];
        replayed.sort_unstable();
        assert_eq!(replayed, ["", "true"], "{backend:?}: exactly one creates");
        assert_eq!(a.body["id"], b.body["id"]);
        let secrets = [&a, &b].iter().filter(|r| r.body["value"].is_string()).count();
        assert_eq!(secrets, 1, "{backend:?}: the secret is shown once");
        let listed = app.get(&uri).await;
        assert_eq!(listed.body["tokens"].as_array().map(Vec::len), Some(1), "{backend:?}: {}", listed.text);
    }
}

#[tokio::test]
async fn a_replayed_totp_enrolment_answers_the_pending_factor_without_its_secret() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let enrol = || app.send(Method::POST, "/v1/me/mfa/totp", None, &[("idempotency-key", "enrol-1")]);
        let first = enrol().await;
        assert_eq!(first.status, StatusCode::CREATED, "{backend:?}: {}", first.text);
        assert!(first.body["secret"].is_string() && first.body["otpauth_uri"].is_string());
        let again = enrol().await;
        assert_eq!((again.status, again.header("idempotent-replayed")), (StatusCode::CREATED, "true"));
        assert_eq!(again.body["id"], first.body["id"], "{backend:?}: the same pending factor");
        assert_eq!((&again.body["secret"], &again.body["otpauth_uri"]), (&Value::Null, &Value::Null));
        assert_eq!(again.body["secret_omitted"], true);
        let me = app.get("/v1/me").await;
        assert_eq!(me.body["mfa_factors"].as_array().map(Vec::len), Some(1), "{backend:?}: {}", me.text);
    }
}
