//! The audit trail over REST: every mutating operation writes exactly one event, complete and
//! free of secrets, and the listing filters and pages.

use std::collections::BTreeSet;

use accountd_domain::{AccountId, AuditEvent, AuditQuery, PageRequest};
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{TestApp, spawn_app};

/// Every event of the platform stream and of `accounts`.
async fn all_events(app: &TestApp, accounts: &[String]) -> Vec<AuditEvent> {
    let mut streams: Vec<Option<AccountId>> = vec![None];
    streams.extend(accounts.iter().map(|a| Some(AccountId::parse(a, "id").expect("id"))));
    let mut events = Vec::new();
    for stream in streams {
        let query = AuditQuery::all_of(stream, PageRequest::first(1000));
        events.extend(app.store.list_audit_events(&query).await.expect("events").items);
    }
    events
}

#[tokio::test]
async fn every_mutating_operation_writes_exactly_one_complete_event_without_secrets() {
    let app = spawn_app().await;
    let mut accounts: Vec<String> = Vec::new();
    let mut secrets: Vec<String> = vec![app.root_token.clone()];
    let mut step = 0;
    // Runs one operation as `token` and checks the one event it must leave.
    macro_rules! audited {
        ($token:expr, $method:expr, $uri:expr, $body:expr, $status:expr, $action:expr, $resource:expr) => {{
            step += 1;
            let before: BTreeSet<_> = all_events(&app, &accounts).await.into_iter().map(|e| e.id).collect();
            let request_id = format!("req-{step}");
            let bearer = format!("Bearer {}", $token);
            let body: Option<String> = $body;
            let uri: String = $uri;
            let reply = app
                .send_raw($method, &uri, body.as_deref(), &[("authorization", &bearer), ("x-request-id", &request_id)])
                .await;
            assert_eq!(reply.status, $status, "{} {}: {}", $action, uri, reply.text);
            if let Some(id) = reply.body["id"].as_str().filter(|_| $resource == "account") {
                if !accounts.iter().any(|a| a == id) {
                    accounts.push(id.to_owned());
                }
            }
            if let Some(value) = reply.body["value"].as_str() {
                secrets.push(value.to_owned());
            }
            let new: Vec<AuditEvent> =
                all_events(&app, &accounts).await.into_iter().filter(|e| !before.contains(&e.id)).collect();
            assert_eq!(new.len(), 1, "{} must write exactly one event, wrote {new:?}", $action);
            let event = &new[0];
            assert_eq!(event.action, $action);
            assert_eq!(event.resource_type, $resource);
            assert!(!event.resource_id.is_empty());
            assert_eq!(event.request.request_id.as_deref(), Some(request_id.as_str()));
            assert!(event.actor.id.is_some() && event.actor.email.is_some(), "{} has no actor", $action);
            assert!(!event.changes.is_empty(), "{} records no change", $action);
            let text = format!("{event:?}");
            for secret in &secrets {
                assert!(!text.contains(&secret[4..]), "{} leaked a secret into the audit trail", $action);
            }
            reply
        }};
    }
    let root = app.root_token.clone();
    let user = audited!(
        &root,
        Method::POST,
        "/v1/users".to_owned(),
        Some(json!({"email": "ada@example.com"}).to_string()),
        StatusCode::CREATED,
        "user.create",
        "user"
    );
    let ada = user.body["id"].as_str().expect("id").to_owned();
    audited!(
        &root,
        Method::PATCH,
        format!("/v1/users/{ada}"),
        Some(r#"{"first_name":"Ada"}"#.into()),
        StatusCode::OK,
        "user.update",
        "user"
    );
    let grace =
        app.post("/v1/users", r#"{"email":"grace@example.com"}"#).await.body["id"].as_str().expect("id").to_owned();
    let created = audited!(
        &root,
        Method::POST,
        "/v1/accounts".to_owned(),
        Some(json!({"name": "Acme", "type": "agency", "owner_id": ada}).to_string()),
        StatusCode::CREATED,
        "account.create",
        "account"
    );
    let a = created.body["id"].as_str().expect("id").to_owned();
    audited!(
        &root,
        Method::PATCH,
        format!("/v1/accounts/{a}"),
        Some(r#"{"name":"Acme 2"}"#.into()),
        StatusCode::OK,
        "account.update",
        "account"
    );
    audited!(
        &root,
        Method::POST,
        format!("/v1/accounts/{a}/members"),
        Some(json!({"user_id": grace, "roles": ["viewer"]}).to_string()),
        StatusCode::CREATED,
        "member.create",
        "member"
    );
    audited!(
        &root,
        Method::PUT,
        format!("/v1/accounts/{a}/members/{grace}"),
        Some(r#"{"roles":["billing"]}"#.into()),
        StatusCode::OK,
        "member.update",
        "member"
    );
    let issued = audited!(
        &root,
        Method::POST,
        format!("/v1/accounts/{a}/tokens"),
        Some(json!({"name": "grace", "user_id": grace}).to_string()),
        StatusCode::CREATED,
        "token.create",
        "token"
    );
    let grace_token = issued.body["value"].as_str().expect("value").to_owned();
    let token_id = issued.body["id"].as_str().expect("id").to_owned();
    audited!(
        &grace_token,
        Method::PUT,
        format!("/v1/me/memberships/{a}"),
        Some(r#"{"status":"accepted"}"#.into()),
        StatusCode::OK,
        "member.accept",
        "member"
    );
    audited!(
        &root,
        Method::PUT,
        format!("/v1/accounts/{a}/tokens/{token_id}"),
        Some(r#"{"name":"renamed"}"#.into()),
        StatusCode::OK,
        "token.update",
        "token"
    );
    audited!(
        &root,
        Method::PUT,
        format!("/v1/accounts/{a}/tokens/{token_id}/value"),
        None,
        StatusCode::OK,
        "token.roll",
        "token"
    );
    audited!(
        &root,
        Method::DELETE,
        format!("/v1/accounts/{a}/tokens/{token_id}"),
        None,
        StatusCode::NO_CONTENT,
        "token.delete",
        "token"
    );
    audited!(
        &root,
        Method::DELETE,
        format!("/v1/accounts/{a}/members/{grace}"),
        None,
        StatusCode::NO_CONTENT,
        "member.delete",
        "member"
    );
    let bob = app.post("/v1/users", r#"{"email":"bob@example.com"}"#).await.body["id"].as_str().expect("id").to_owned();
    app.post(&format!("/v1/accounts/{a}/members"), &json!({"user_id": bob, "roles": ["viewer"]}).to_string()).await;
    let bob_token =
        app.post(&format!("/v1/accounts/{a}/tokens"), &json!({"name": "b", "user_id": bob}).to_string()).await;
    let bob_token = bob_token.body["value"].as_str().expect("value").to_owned();
    secrets.push(bob_token.clone());
    audited!(
        &bob_token,
        Method::PUT,
        format!("/v1/me/memberships/{a}"),
        Some(r#"{"status":"rejected"}"#.into()),
        StatusCode::NO_CONTENT,
        "member.reject",
        "member"
    );
    let other = app.post("/v1/accounts", r#"{"name":"Other","type":"agency"}"#).await.body["id"]
        .as_str()
        .expect("id")
        .to_owned();
    accounts.push(other.clone());
    audited!(
        &root,
        Method::POST,
        format!("/v1/accounts/{a}/move"),
        Some(json!({"parent_id": other}).to_string()),
        StatusCode::OK,
        "account.move",
        "account"
    );
    audited!(
        &root,
        Method::PUT,
        format!("/v1/accounts/{a}/profile"),
        Some(r#"{"business_name":"Acme Ltd"}"#.into()),
        StatusCode::OK,
        "account.update",
        "account"
    );
    let subscription = audited!(
        &root,
        Method::POST,
        format!("/v1/accounts/{a}/subscriptions"),
        Some(r#"{"rate_plan":"pro"}"#.into()),
        StatusCode::CREATED,
        "subscription.create",
        "subscription"
    );
    let sub = subscription.body["id"].as_str().expect("id").to_owned();
    audited!(
        &root,
        Method::PUT,
        format!("/v1/accounts/{a}/subscriptions/{sub}"),
        Some(r#"{"state":"paid"}"#.into()),
        StatusCode::OK,
        "subscription.update",
        "subscription"
    );
    audited!(
        &root,
        Method::DELETE,
        format!("/v1/accounts/{a}/subscriptions/{sub}"),
        None,
        StatusCode::NO_CONTENT,
        "subscription.delete",
        "subscription"
    );
    audited!(
        &root,
        Method::DELETE,
        format!("/v1/accounts/{a}"),
        None,
        StatusCode::NO_CONTENT,
        "account.delete",
        "account"
    );
}

#[tokio::test]
async fn the_audit_listing_filters_pages_and_is_refused_without_audit_read() {
    let app = spawn_app().await;
    let a = app.create_account("Logged").await["id"].as_str().expect("id").to_owned();
    for i in 0..5 {
        let reply = app
            .send(Method::PATCH, &format!("/v1/accounts/{a}"), Some(&json!({"name": format!("N{i}")}).to_string()), &[])
            .await;
        assert_eq!(reply.status, StatusCode::OK);
    }
    let uri = format!("/v1/accounts/{a}/logs/audit");
    let all = app.get(&format!("{uri}?page_size=4")).await;
    assert_eq!(all.status, StatusCode::OK, "{}", all.text);
    assert_eq!(all.body["events"].as_array().expect("events").len(), 4);
    assert_eq!(all.body["events"][0]["action"]["type"], "account.create");
    let next = all.body["next_cursor"].as_str().expect("cursor").to_owned();
    let rest = app.get(&format!("{uri}?page_size=4&cursor={next}")).await;
    assert_eq!(
        (rest.body["events"].as_array().expect("events").len(), rest.body["next_cursor"].as_str()),
        (2, Some(""))
    );
    let newest = app.get(&format!("{uri}?direction=desc&page_size=1&action_type=account.update")).await;
    assert_eq!(newest.body["events"][0]["changes"]["after"]["name"], "N4");
    for (query, field) in [
        ("since=yesterday", "since"),
        ("direction=sideways", "direction"),
        ("cursor=garbage", "cursor"),
        ("page_size=0", "page_size"),
    ] {
        let reply = app.get(&format!("{uri}?{query}")).await;
        assert_eq!((reply.status, reply.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec![field]), "{query}");
    }
    let billing =
        app.post("/v1/users", r#"{"email":"billing@example.com"}"#).await.body["id"].as_str().expect("id").to_owned();
    app.send(Method::PUT, &format!("/v1/accounts/{a}/members/{billing}"), Some(r#"{"roles":["billing"]}"#), &[]).await;
    let token =
        app.post(&format!("/v1/accounts/{a}/tokens"), &json!({"name": "b", "user_id": billing}).to_string()).await;
    let bearer = format!("Bearer {}", token.body["value"].as_str().expect("value"));
    let refused = app.send_raw(Method::GET, &uri, None, &[("authorization", &bearer)]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "billing lacks audit:read");
}
