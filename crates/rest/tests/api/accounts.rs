//! `/v1/accounts` over HTTP.

use accountd_domain::{AccountId, PageRequest, RequestInfo};
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::spawn_app;

#[tokio::test]
async fn an_account_is_created_listed_read_patched_and_deleted() {
    let app = spawn_app().await;
    let created = app
        .post(
            "/v1/accounts",
            r#"{"name":"  Acme  ","type":"agency","settings":{"abuse_contact_email":"abuse@acme.test"}}"#,
        )
        .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let id = created.body["id"].as_str().expect("id").to_owned();
    assert_eq!(created.header("location"), format!("/v1/accounts/{id}"));
    assert_eq!(created.header("etag"), "\"1\"");
    assert_eq!(created.body["name"], "Acme");
    assert_eq!(created.body["type"], "agency");
    assert_eq!(created.body["status"], "unverified");
    assert_eq!(created.body["hierarchy"], json!([]));
    assert_eq!(created.body["settings"], json!({"abuse_contact_email": "abuse@acme.test", "enforce_twofactor": false}));

    let list = app.get("/v1/accounts").await;
    assert_eq!(list.status, StatusCode::OK);
    assert_eq!(list.body["accounts"][0]["id"], id.as_str());
    assert_eq!(list.body["next_page_token"], "");

    let read = app.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!((read.status, read.header("etag")), (StatusCode::OK, "\"1\""));
    assert_eq!(read.body, created.body);

    let patched = app
        .send(
            Method::PATCH,
            &format!("/v1/accounts/{id}"),
            Some(r#"{"name":"Acme Ltd","status":"verified","settings":{"abuse_contact_email":null}}"#),
            &[("if-match", "\"1\"")],
        )
        .await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);
    assert_eq!(patched.header("etag"), "\"2\"");
    assert_eq!(patched.body["name"], "Acme Ltd");
    assert_eq!(patched.body["status"], "verified");
    assert_eq!(patched.body["settings"]["abuse_contact_email"], json!(null));

    let deleted = app.send(Method::DELETE, &format!("/v1/accounts/{id}"), None, &[("if-match", "\"2\"")]).await;
    assert_eq!(deleted.status, StatusCode::NO_CONTENT);
    let gone = app.get(&format!("/v1/accounts/{id}")).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    assert_eq!(gone.header("content-type"), "application/problem+json");
    assert_eq!(gone.body["status"], 404);
}

#[tokio::test]
async fn a_child_account_shows_its_hierarchy() {
    let app = spawn_app().await;
    let parent = app.post("/v1/accounts", r#"{"name":"Agency","type":"agency"}"#).await.body;
    let body = json!({"name": "Ads", "type": "ad_account", "parent_id": parent["id"]}).to_string();
    let child = app.post("/v1/accounts", &body).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    assert_eq!(child.body["parent_id"], parent["id"]);
    assert_eq!(child.body["hierarchy"], json!([parent["id"]]));
    let under_child = json!({"name": "Nope", "parent_id": child.body["id"]}).to_string();
    let refused = app.post("/v1/accounts", &under_child).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(refused.body["type"], "urn:accountd:problem:failed-precondition");
}

#[tokio::test]
async fn bad_account_input_answers_422_naming_the_field() {
    let app = spawn_app().await;
    let long = "x".repeat(101);
    let cases = [
        (r#"{"name":""}"#.to_owned(), "name"),
        (r#"{"name":"   "}"#.to_owned(), "name"),
        (r#"{}"#.to_owned(), "name"),
        (format!(r#"{{"name":"{long}"}}"#), "name"),
        (r#"{"name":"A","type":"galaxy"}"#.to_owned(), "type"),
        (r#"{"name":"A","parent_id":"not-an-id"}"#.to_owned(), "parent_id"),
        (format!(r#"{{"name":"A","parent_id":"{}"}}"#, AccountId::from_uuid(uuid_v7())), "parent_id"),
        (r#"{"name":"A","settings":{"abuse_contact_email":"nope"}}"#.to_owned(), "settings.abuse_contact_email"),
        (r#"{"name":42}"#.to_owned(), "name"),
        (r#"{"name":"A","colour":"red"}"#.to_owned(), "colour"),
    ];
    for (body, field) in cases {
        let reply = app.post("/v1/accounts", &body).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
        assert_eq!(reply.header("content-type"), "application/problem+json");
        assert_eq!(reply.body["type"], "urn:accountd:problem:validation-failed");
        assert!(reply.error_fields().contains(&field), "{body}: expected {field} in {}", reply.text);
    }
    let page = app.store.list_accounts(PageRequest::first(10)).await.expect("list");
    assert!(page.items.is_empty(), "no refused request may leave an account behind");
}

fn uuid_v7() -> uuid::Uuid {
    uuid::Uuid::now_v7()
}

#[tokio::test]
async fn an_unreadable_body_answers_400_and_a_missing_content_type_415() {
    let app = spawn_app().await;
    let reply = app.post("/v1/accounts", "{not json").await;
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.body["type"], "urn:accountd:problem:malformed-request");
    let reply = app.send(Method::POST, "/v1/accounts", None, &[]).await;
    assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

#[tokio::test]
async fn bad_paging_answers_422_naming_the_field() {
    let app = spawn_app().await;
    for (query, field) in [
        ("page_size=0", "page_size"),
        ("page_size=1001", "page_size"),
        ("page_size=ten", "page_size"),
        ("page_token=garbage", "page_token"),
    ] {
        let reply = app.get(&format!("/v1/accounts?{query}")).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {}", reply.text);
        assert_eq!(reply.error_fields(), [field], "{query}");
    }
}

#[tokio::test]
async fn a_malformed_account_id_and_an_unknown_one_both_answer_404() {
    let app = spawn_app().await;
    let reply = app.get("/v1/accounts/not-an-id").await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND, "ids are opaque (SPEC §1): {}", reply.text);
    let unknown = AccountId::from_uuid(uuid_v7());
    for method in [Method::GET, Method::DELETE] {
        let reply = app.send(method.clone(), &format!("/v1/accounts/{unknown}"), None, &[]).await;
        assert_eq!(reply.status, StatusCode::NOT_FOUND, "{method}");
    }
    let reply = app.send(Method::PATCH, &format!("/v1/accounts/{unknown}"), Some(r#"{"name":"x"}"#), &[]).await;
    assert_eq!(reply.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn a_stale_if_match_answers_412_and_changes_nothing() {
    let app = spawn_app().await;
    let id = app.create_account("Original").await["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/accounts/{id}");
    for tag in ["\"7\"", "W/\"1\"", "garbage"] {
        let reply = app.send(Method::PATCH, &uri, Some(r#"{"name":"Changed"}"#), &[("if-match", tag)]).await;
        assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED, "{tag}");
        let reply = app.send(Method::DELETE, &uri, None, &[("if-match", tag)]).await;
        assert_eq!(reply.status, StatusCode::PRECONDITION_FAILED, "{tag}");
    }
    let read = app.get(&uri).await;
    assert_eq!((read.body["name"].as_str(), read.header("etag")), (Some("Original"), "\"1\""));
    let listed = app.send(Method::PATCH, &uri, Some(r#"{"name":"Changed"}"#), &[("if-match", "\"5\", \"1\"")]).await;
    assert_eq!(listed.status, StatusCode::OK, "a list matches when one of its tags does");
}

#[tokio::test]
async fn a_hundred_and_twenty_accounts_come_back_as_fifty_fifty_and_twenty() {
    let app = spawn_app().await;
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(app.create_account(&format!("Account {i}")).await["id"].clone());
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    loop {
        let reply = app.get(&format!("/v1/accounts?page_size=50&page_token={token}")).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        let accounts = reply.body["accounts"].as_array().expect("accounts").clone();
        sizes.push(accounts.len());
        seen.extend(accounts.into_iter().map(|a| a["id"].clone()));
        token = reply.body["next_page_token"].as_str().expect("token").to_owned();
        if token.is_empty() || sizes.len() > 5 {
            break;
        }
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, created);
}

#[tokio::test]
async fn the_request_id_is_echoed_and_audited() {
    let app = spawn_app().await;
    let reply = app
        .send(
            Method::POST,
            "/v1/accounts",
            Some(r#"{"name":"Traced"}"#),
            &[("x-request-id", "trace-me-1"), ("user-agent", "tests/1")],
        )
        .await;
    assert_eq!(reply.header("x-request-id"), "trace-me-1");
    let id = AccountId::parse(reply.body["id"].as_str().expect("id"), "id").expect("valid id");
    let query = accountd_domain::AuditQuery::all_of(Some(id), PageRequest::first(10));
    let events = app.store.list_audit_events(&query).await.expect("events").items;
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].request.request_id.as_deref(), Some("trace-me-1"));
    assert_eq!(events[0].request.user_agent.as_deref(), Some("tests/1"));
    let generated = app.get("/v1/accounts").await;
    assert!(!generated.header("x-request-id").is_empty(), "a request id is generated when absent");
}

#[tokio::test]
async fn an_unsafe_request_id_is_replaced_by_a_generated_one_in_the_answer_and_the_audit_record() {
    let app = spawn_app().await;
    let long = "x".repeat(5000);
    for unsafe_id in [long.as_str(), "\"quoted\" id", "a=b;c"] {
        let reply =
            app.send(Method::POST, "/v1/accounts", Some(r#"{"name":"Traced"}"#), &[("x-request-id", unsafe_id)]).await;
        assert_eq!(reply.status, 201, "{unsafe_id}");
        let echoed = reply.header("x-request-id");
        assert_ne!(echoed, unsafe_id);
        assert!(RequestInfo::is_acceptable_request_id(echoed) && echoed.len() == 36, "a generated uuid: {echoed}");
        let id = AccountId::parse(reply.body["id"].as_str().expect("id"), "id").expect("valid id");
        let query = accountd_domain::AuditQuery::all_of(Some(id), PageRequest::first(10));
        let events = app.store.list_audit_events(&query).await.expect("events").items;
        assert_eq!(events[0].request.request_id.as_deref(), Some(echoed), "the audit record carries it");
    }
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retried_create_return_the_first_account() {
    let app = spawn_app().await;
    let send = |body: &'static str, key: String| {
        let app = &app;
        async move { app.send(Method::POST, "/v1/accounts", Some(body), &[("idempotency-key", &key)]).await }
    };
    let first = send(r#"{"name":"Once"}"#, "retry-1".into()).await;
    assert_eq!(first.status, StatusCode::CREATED);
    assert_eq!(first.header("idempotent-replayed"), "");
    let again = send(r#"{"name":"Once"}"#, "retry-1".into()).await;
    assert_eq!(again.status, StatusCode::CREATED);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!(again.body["id"], first.body["id"]);
    let reused = send(r#"{"name":"Twice"}"#, "retry-1".into()).await;
    assert_eq!(reused.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reused.body["type"], "urn:accountd:problem:failed-precondition");
    let bad = send(r#"{"name":"Once"}"#, "k".repeat(256)).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["Idempotency-Key"]);
    let page = app.store.list_accounts(PageRequest::first(10)).await.expect("list");
    assert_eq!(page.items.len(), 1);
}

#[tokio::test]
async fn a_null_name_a_wrong_method_and_an_oversized_body_answer_problem_documents() {
    let app = spawn_app().await;
    let id = app.create_account("Named").await["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/accounts/{id}");
    let null = app.send(Method::PATCH, &uri, Some(r#"{"name":null}"#), &[]).await;
    assert_eq!(null.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", null.text);
    assert_eq!(null.error_fields(), ["name"]);
    let wrong = app.send(Method::PUT, &uri, Some(r#"{"name":"x"}"#), &[]).await;
    assert_eq!(wrong.status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(wrong.header("content-type"), "application/problem+json");
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let reply = app.post("/v1/accounts", &huge).await;
    assert_eq!(reply.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(reply.header("content-type"), "application/problem+json");
}

#[tokio::test]
async fn a_path_id_that_is_not_well_formed_names_nothing_and_answers_404() {
    let app = spawn_app().await;
    let account = app.create_account("Acme").await["id"].as_str().expect("id").to_owned();
    let ulid = "01ARZ3NDEKTSV4RRFFQ69G5FAV";
    for uri in [
        format!("/v1/accounts/{ulid}"),
        format!("/v1/accounts/{ulid}/members"),
        format!("/v1/accounts/{account}/members/{ulid}"),
        format!("/v1/accounts/{account}/users/{ulid}"),
        format!("/v1/accounts/{account}/tokens/{ulid}"),
        format!("/v1/accounts/{account}/subscriptions/{ulid}"),
        format!("/v1/accounts/{account}/aliases/{ulid}"),
        format!("/v1/users/{ulid}"),
    ] {
        let reply = app.get(&uri).await;
        assert_eq!(
            (reply.status, &reply.body["type"]),
            (StatusCode::NOT_FOUND, &json!("urn:accountd:problem:not-found")),
            "{uri}: {}",
            reply.text
        );
    }
    let deleted = app.send(Method::DELETE, &format!("/v1/me/mfa/totp/{ulid}"), None, &[]).await;
    assert_eq!(deleted.status, StatusCode::NOT_FOUND, "{}", deleted.text);
}
