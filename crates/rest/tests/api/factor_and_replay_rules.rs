//! Rules a review of issue 16 found missing: a pending enrolment cannot outlive the factor
//! that came after it, a retried enrolment replays instead of spending its code twice, an
//! owner's factors are safe through a parent account, a root id is no different from an
//! unknown one, and a replay shows only what the caller could read now.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account_users::{call, code, enrol};
use crate::{TestApp, create_user, owned_agency, put_member, spawn_app, token_for};

fn secret(token: &Value) -> String {
    token["value"].as_str().expect("secret").to_owned()
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

async fn keyed(app: &TestApp, token: &str, uri: &str, body: &Value, key: &str) -> crate::Reply {
    let bearer = format!("Bearer {token}");
    let headers = [("authorization", bearer.as_str()), ("idempotency-key", key)];
    app.send_raw(Method::POST, uri, Some(&body.to_string()), &headers).await
}

async fn factor_ids(app: &TestApp, token: &str) -> Vec<String> {
    let me = call(app, token, Method::GET, "/v1/me", None).await;
    me.body["mfa_factors"].as_array().expect("factors").iter().map(id).collect()
}

#[tokio::test]
async fn activating_a_factor_removes_the_older_pending_enrolments() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let token = secret(&token_for(&app, &a, &owner, json!({})).await);
    // One enrolment made while nothing protected the user (a stolen token's, say), then the
    // user's own, which the user activates.
    let stolen = call(&app, &token, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(stolen.status, StatusCode::CREATED, "{}", stolen.text);
    let own = call(&app, &token, Method::POST, "/v1/me/mfa/totp", None).await;
    let own_secret = own.body["secret"].as_str().expect("secret").to_owned();
    let body = json!({"factor_id": id(&own.body), "code": code(&own_secret, 0)}).to_string();
    let activated = call(&app, &token, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);

    assert_eq!(factor_ids(&app, &token).await, [id(&own.body)], "only the active factor is left");
    let stolen_secret = stolen.body["secret"].as_str().expect("secret");
    let late = json!({"factor_id": id(&stolen.body), "code": code(stolen_secret, 0)}).to_string();
    let refused = call(&app, &token, Method::POST, "/v1/me/mfa/totp/activate", Some(&late)).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
}

#[tokio::test]
async fn a_retried_enrolment_with_a_code_replays_without_spending_the_code_again() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let token = secret(&token_for(&app, &a, &owner, json!({})).await);
    let active = enrol(&app, &token).await;

    let missing = keyed(&app, &token, "/v1/me/mfa/totp", &json!({}), "enrol-0").await;
    assert_eq!((missing.status, missing.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["code"]));
    let wrong = keyed(&app, &token, "/v1/me/mfa/totp", &json!({"code": "000000"}), "enrol-1").await;
    assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", wrong.text);
    assert_eq!((wrong.error_fields(), &wrong.body["errors"][0]["code"]), (vec!["code"], &json!("invalid_code")));
    assert_eq!(factor_ids(&app, &token).await.len(), 1, "a refused enrolment stores nothing");

    let body = json!({"code": code(&active, 0)});
    let first = keyed(&app, &token, "/v1/me/mfa/totp", &body, "enrol-2").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    assert!(first.body["secret"].as_str().is_some_and(|s| !s.is_empty()));
    let again = keyed(&app, &token, "/v1/me/mfa/totp", &body, "enrol-2").await;
    assert_eq!(again.status, StatusCode::CREATED, "the retry replays: {}", again.text);
    assert_eq!(again.header("idempotent-replayed"), "true");
    assert_eq!((id(&again.body), &again.body["secret"]), (id(&first.body), &Value::Null));
    assert_eq!(again.body["secret_omitted"], true);
    assert_eq!(factor_ids(&app, &token).await.len(), 2, "one enrolment, not two");
}

#[tokio::test]
async fn the_owner_of_a_child_account_keeps_its_factors_when_reset_through_the_parent() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let child_owner = create_user(&app, "child-owner@example.com").await;
    let child =
        app.post("/v1/accounts", &json!({"name": "Child", "parent_id": a, "owner_id": child_owner}).to_string()).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    put_member(&app, &a, &child_owner, "member").await;
    let child_token = secret(&token_for(&app, &a, &child_owner, json!({})).await);
    enrol(&app, &child_token).await;

    let owners = secret(&token_for(&app, &a, &owner, json!({})).await);
    let reset = format!("/v1/accounts/{a}/users/{child_owner}/reset-mfa");
    let refused = call(&app, &owners, Method::POST, &reset, None).await;
    assert_eq!((refused.status, refused.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["user_id"]));
    assert_eq!(factor_ids(&app, &child_token).await.len(), 1, "the owner's factor is still there");
}

#[tokio::test]
async fn a_root_user_id_answers_a_tenant_like_an_unknown_id() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let root = id(&app.get("/v1/me").await.body);
    // Root, an accepted member of the tenant's account (root may add itself at once).
    put_member(&app, &a, &root, "administrator").await;
    let owners = secret(&token_for(&app, &a, &owner, json!({})).await);
    let unknown = uuid::Uuid::now_v7().to_string();
    for user in [&root, &unknown] {
        let reset = call(&app, &owners, Method::POST, &format!("/v1/accounts/{a}/users/{user}/reset-mfa"), None).await;
        assert_eq!(reset.status, StatusCode::NOT_FOUND, "{user}: {}", reset.text);
        let delete = call(&app, &owners, Method::DELETE, &format!("/v1/accounts/{a}/users/{user}"), None).await;
        assert_eq!(delete.status, StatusCode::NOT_FOUND, "{user}: {}", delete.text);
    }
    let still = app.get(&format!("/v1/accounts/{a}/members/{root}")).await;
    assert_eq!(still.status, StatusCode::OK, "root's membership is untouched: {}", still.text);
}

#[tokio::test]
async fn a_replayed_account_creation_shows_nothing_the_caller_can_no_longer_read() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let owners = secret(&token_for(&app, &a, &owner, json!({})).await);
    let body = json!({"name": "Child", "parent_id": a});
    let first = keyed(&app, &owners, "/v1/accounts", &body, "child-1").await;
    assert_eq!(first.status, StatusCode::CREATED, "{}", first.text);
    let again = keyed(&app, &owners, "/v1/accounts", &body, "child-1").await;
    assert_eq!((again.status, id(&again.body)), (StatusCode::CREATED, id(&first.body)));

    // The platform moves the child to another tenant: the key no longer shows it.
    let other = app.post("/v1/accounts", &json!({"name": "Other", "type": "agency"}).to_string()).await;
    let moved = app
        .post(&format!("/v1/accounts/{}/move", id(&first.body)), &json!({"parent_id": id(&other.body)}).to_string())
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    let gone = keyed(&app, &owners, "/v1/accounts", &body, "child-1").await;
    assert_eq!(gone.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", gone.text);
    assert_eq!(gone.body["type"], "urn:accountd:problem:failed-precondition", "{}", gone.text);
    assert!(!gone.text.contains(&id(&first.body)), "the moved account is not shown: {}", gone.text);
}
