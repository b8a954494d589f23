//! `GET /v1/events` (issue 13): the ordered feed with cursors, filters, long polling,
//! retention and who sees what.

use std::time::Duration;

use accountd_domain::{EventCursor, FeedPosition};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account_users::call;
use crate::{TestApp, owned_agency, spawn_app, token_for};

fn ids(page: &Value) -> Vec<(String, String)> {
    page["events"]
        .as_array()
        .expect("events")
        .iter()
        .map(|e| {
            (
                e["action"]["type"].as_str().unwrap_or("").to_owned(),
                e["resource"]["id"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

async fn feed(app: &TestApp, query: &str) -> Value {
    let reply = app.get(&format!("/v1/events?{query}")).await;
    assert_eq!(reply.status, StatusCode::OK, "{query}: {}", reply.text);
    reply.body
}

#[tokio::test]
async fn the_feed_answers_events_in_order_with_cursors_and_resumes_after_one() {
    let app = spawn_app().await;
    let a = app.create_account("Feed A").await["id"].as_str().expect("id").to_owned();
    let b = app.create_account("Feed B").await["id"].as_str().expect("id").to_owned();
    let patched = app.send(Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"name":"Feed A2"}"#), &[]).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);

    let all = feed(&app, "").await;
    let tail: Vec<_> = ids(&all).into_iter().rev().take(3).rev().collect();
    let expected = [("account.create", &a), ("account.create", &b), ("account.update", &a)];
    assert_eq!(tail, expected.map(|(t, id)| (t.to_owned(), id.clone())));
    let events = all["events"].as_array().expect("events");
    let last = events.last().expect("an event");
    assert_eq!(last["account_id"], json!(a));
    assert_eq!(last["changes"]["after"]["name"], json!("Feed A2"), "the audit event's data: {last}");
    assert!(last["id"].is_string() && last["when"].is_string() && last["actor"]["type"].is_string());
    let position = |c: &Value| EventCursor::decode(c.as_str().expect("cursor"), "after").expect("ours").position;
    assert_eq!(position(&all["next_cursor"]), position(&last["cursor"]), "next_cursor follows the last event");

    let first_of_a = events.iter().position(|e| e["resource"]["id"] == json!(a)).expect("a's creation");
    let cursor = events[first_of_a]["cursor"].as_str().expect("cursor");
    let rest = feed(&app, &format!("after={cursor}")).await;
    assert_eq!(ids(&rest), expected[1..].iter().map(|(t, id)| ((*t).to_owned(), (*id).clone())).collect::<Vec<_>>());

    let updates = feed(&app, "types=account.update,alias.create").await;
    assert_eq!(ids(&updates), [("account.update".to_owned(), a.clone())]);
    let of_b = feed(&app, &format!("account_id={b}")).await;
    assert_eq!(ids(&of_b), [("account.create".to_owned(), b.clone())]);
    let one = feed(&app, "limit=1").await;
    assert_eq!(one["events"].as_array().expect("events").len(), 1);
    let next = feed(&app, &format!("limit=1&after={}", one["next_cursor"].as_str().expect("cursor"))).await;
    assert_ne!(next["events"][0]["id"], one["events"][0]["id"], "the next page goes on");

    let end = feed(&app, &format!("after={}", all["next_cursor"].as_str().expect("cursor"))).await;
    assert_eq!(end["events"], json!([]), "nothing new");
    assert!(end["next_cursor"].as_str().is_some_and(|c| !c.is_empty()), "a cursor even without events");
}

#[tokio::test]
async fn bad_parameters_are_refused_naming_each_field() {
    let app = spawn_app().await;
    let reply = app.get("/v1/events?after=nope&account_id=x&types=BAD&limit=0&wait=2h").await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    let mut fields = reply.error_fields();
    fields.sort_unstable();
    assert_eq!(fields, ["account_id", "after", "limit", "types", "wait"]);
    let reply = app.get("/v1/events?limit=many").await;
    assert_eq!((reply.status, reply.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["limit"]));
    let audit_cursor = accountd_domain::Cursor::after(uuid::Uuid::nil()).encode();
    let reply = app.get(&format!("/v1/events?after={audit_cursor}")).await;
    assert_eq!((reply.status, reply.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["after"]));
    let anonymous = app.send_raw(Method::GET, "/v1/events", None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_cursor_older_than_retention_is_gone() {
    let app = spawn_app().await;
    let old = EventCursor { position: FeedPosition::START, as_of: chrono::Utc::now() - chrono::Duration::days(31) };
    let reply = app.get(&format!("/v1/events?after={}", old.encode())).await;
    assert_eq!(reply.status, StatusCode::GONE, "{}", reply.text);
    assert_eq!(reply.header("content-type"), "application/problem+json");
    assert!(reply.body["detail"].as_str().unwrap_or("").contains("30 days"), "{}", reply.text);
}

#[tokio::test]
async fn a_long_poll_answers_as_soon_as_a_change_commits() {
    let app = std::sync::Arc::new(spawn_app().await);
    let start = feed(&app, "").await["next_cursor"].as_str().expect("cursor").to_owned();
    let waiting = {
        let app = app.clone();
        tokio::spawn(async move { app.get(&format!("/v1/events?after={start}&wait=20s")).await })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "nothing new yet: the poll waits");
    let made = app.create_account("Woken").await["id"].as_str().expect("id").to_owned();
    let reply = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("answered").expect("task");
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(ids(&reply.body), [("account.create".to_owned(), made)]);
}

#[tokio::test]
async fn a_tenant_sees_only_events_of_its_accounts_with_the_platform_hidden() {
    let app = spawn_app().await;
    let (owner, acme) = owned_agency(&app).await;
    let other = app.create_account("Other").await["id"].as_str().expect("id").to_owned();
    let token = token_for(&app, &acme, &owner, json!({})).await["value"].as_str().expect("secret").to_owned();
    let mine = call(&app, &token, Method::GET, "/v1/events", None).await;
    assert_eq!(mine.status, StatusCode::OK, "{}", mine.text);
    let events = mine.body["events"].as_array().expect("events");
    assert!(!events.is_empty());
    assert!(events.iter().all(|e| e["account_id"] == json!(acme)), "only Acme's: {}", mine.text);
    assert!(
        events.iter().all(|e| e["actor"]["type"] != json!("platform") || e["actor"]["id"].is_null()),
        "the root user is the platform, without id: {}",
        mine.text
    );
    let theirs = call(&app, &token, Method::GET, &format!("/v1/events?account_id={other}"), None).await;
    assert_eq!(theirs.status, StatusCode::NOT_FOUND, "{}", theirs.text);
    assert!(!theirs.text.contains(&other) || theirs.body["detail"] == json!("not found"));
}
