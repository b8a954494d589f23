//! Account users over REST (seed 002): list (owner apart), create, get, delete, reset MFA,
//! each with its shapes and status codes, and the refusals.

use accountd_domain::TotpSecret;
use axum::http::{Method, StatusCode};
use chrono::{Duration, Utc};
use serde_json::{Value, json};

use crate::{Reply, TestApp, create_user, owned_agency, put_member, spawn_app};

/// An account with an owner, an administrator and a viewer (each with a token), and a
/// stranger administering another account.
pub struct Tenant {
    pub app: TestApp,
    pub account: String,
    pub other_account: String,
    pub owner: (String, String),
    pub admin: (String, String),
    pub viewer: (String, String),
    pub stranger: (String, String),
}

/// A token of `user` on `account`, made by root.
pub async fn token_for(app: &TestApp, account: &str, user: &str) -> String {
    let body = json!({"name": "test token", "user_id": user}).to_string();
    let reply = app.post(&format!("/v1/accounts/{account}/tokens"), &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["value"].as_str().expect("secret").to_owned()
}

pub async fn call(app: &TestApp, token: &str, method: Method, uri: &str, body: Option<&str>) -> Reply {
    let bearer = format!("Bearer {token}");
    app.send_raw(method, uri, body, &[("authorization", &bearer)]).await
}

/// The code of `secret` (base32) `steps` time steps from now.
pub fn code(secret: &str, steps: i64) -> String {
    TotpSecret::from_base32(secret).expect("base32").code_at(Utc::now() + Duration::seconds(30 * steps))
}

/// Enrols and activates a factor for the caller of `token`; returns the secret.
pub async fn enrol(app: &TestApp, token: &str) -> String {
    let enrolled = call(app, token, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    // The previous step's code: the current and next ones stay free for the test.
    let body = json!({"code": code(&secret, -1)}).to_string();
    let activated = call(app, token, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    secret
}

pub async fn tenant() -> Tenant {
    let app = spawn_app().await;
    let (owner, account) = owned_agency(&app).await;
    let other_account = app.create_account("Other").await["id"].as_str().expect("id").to_owned();
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &account, &admin, "administrator").await;
    let viewer = create_user(&app, "viewer@example.com").await;
    put_member(&app, &account, &viewer, "viewer").await;
    let stranger = create_user(&app, "stranger@example.com").await;
    put_member(&app, &other_account, &stranger, "administrator").await;
    let owner_token = token_for(&app, &account, &owner).await;
    let admin_token = token_for(&app, &account, &admin).await;
    let viewer_token = token_for(&app, &account, &viewer).await;
    let stranger_token = token_for(&app, &other_account, &stranger).await;
    Tenant {
        account,
        other_account,
        owner: (owner, owner_token),
        admin: (admin, admin_token),
        viewer: (viewer, viewer_token),
        stranger: (stranger, stranger_token),
        app,
    }
}

fn ids(users: &Value) -> Vec<&str> {
    users.as_array().expect("array").iter().map(|u| u["id"].as_str().expect("id")).collect()
}

#[tokio::test]
async fn list_shows_the_owner_apart_and_every_other_user_with_its_roles() {
    let t = tenant().await;
    let reply = call(&t.app, &t.viewer.1, Method::GET, &format!("/v1/accounts/{}/users", t.account), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["owner"]["id"], t.owner.0.as_str());
    assert_eq!(reply.body["owner"]["email_address"], "owner@example.com");
    assert_eq!(reply.body["owner"]["group_memberships"], json!(["owner"]));
    let users = ids(&reply.body["users"]);
    assert!(!users.contains(&t.owner.0.as_str()), "the owner is never among the users");
    let mut expected = vec![t.admin.0.as_str(), t.viewer.0.as_str()];
    expected.sort();
    assert_eq!(users, expected);
    let admin = &reply.body["users"].as_array().unwrap().iter().find(|u| u["id"] == t.admin.0.as_str()).unwrap();
    assert_eq!(admin["group_memberships"], json!(["administrator"]));
    assert_eq!(admin["mfa_enabled"], false);
    assert_eq!(reply.body["next_page_token"], "");
}

#[tokio::test]
async fn create_invites_a_new_user_and_answers_the_seed_shape() {
    let t = tenant().await;
    let uri = format!("/v1/accounts/{}/users", t.account);
    let body = json!({"email_address": "grace@example.com", "first_name": "Grace", "last_name": "Hopper"});
    let reply = call(&t.app, &t.admin.1, Method::POST, &uri, Some(&body.to_string())).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    let id = reply.body["id"].as_str().expect("id").to_owned();
    // An invitation: what the inviter typed, nothing else, until the user accepts.
    assert_eq!(reply.body["status"], "invited");
    assert_eq!(reply.body["first_name"], Value::Null);
    assert_eq!(reply.body["email_address"], "grace@example.com");
    assert_eq!(reply.body["group_memberships"], json!(["member"]));
    assert_eq!(reply.body["mfa_enabled"], false);

    let listed = t.app.get(&uri).await;
    assert!(ids(&listed.body["users"]).contains(&id.as_str()));
    // The new user exists platform-wide, with the names given.
    let user = t.app.get(&format!("/v1/users/{id}")).await;
    assert_eq!(user.body["first_name"], "Grace");
}

#[tokio::test]
async fn create_reuses_a_known_email_and_a_member_again_is_a_conflict() {
    let t = tenant().await;
    let uri = format!("/v1/accounts/{}/users", t.account);
    // The stranger exists (in another account): it is added, not duplicated.
    let body = json!({"email_address": "STRANGER@example.com", "first_name": "S", "last_name": "T"}).to_string();
    let reply = t.app.post(&uri, &body).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    assert_eq!(reply.body["id"], t.stranger.0.as_str());
    let again = t.app.post(&uri, &body).await;
    assert_eq!(again.status, StatusCode::CONFLICT, "{}", again.text);
    // The owner is a member already too.
    let owner = json!({"email_address": "owner@example.com", "first_name": "O", "last_name": "W"}).to_string();
    assert_eq!(t.app.post(&uri, &owner).await.status, StatusCode::CONFLICT);
}

#[tokio::test]
async fn create_rejects_bad_input_naming_every_field_and_writes_nothing() {
    let t = tenant().await;
    let uri = format!("/v1/accounts/{}/users", t.account);
    let before = t.app.get(&uri).await.body;
    let reply = t.app.post(&uri, r#"{"email_address":"not-an-email","first_name":"","last_name":"  "}"#).await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
    let mut fields = reply.error_fields();
    fields.sort();
    assert_eq!(fields, ["email_address", "first_name", "last_name"]);
    let missing = t.app.post(&uri, "{}").await;
    assert_eq!(missing.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(missing.error_fields().contains(&"email_address"));
    let too_long = json!({"email_address": "a@example.com", "first_name": "x".repeat(101), "last_name": "y"});
    let reply = t.app.post(&uri, &too_long.to_string()).await;
    assert_eq!(reply.error_fields(), ["first_name"]);
    let unknown = t.app.post(&uri, r#"{"email_address":"a@example.com","first_name":"a","last_name":"b","x":1}"#).await;
    assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown.text.contains("unknown field `x`"), "{}", unknown.text);
    assert_eq!(t.app.get(&uri).await.body, before);
}

#[tokio::test]
async fn get_answers_any_user_of_the_account_and_404_otherwise() {
    let t = tenant().await;
    let uri = |user: &str| format!("/v1/accounts/{}/users/{user}", t.account);
    let owner = call(&t.app, &t.viewer.1, Method::GET, &uri(&t.owner.0), None).await;
    assert_eq!(owner.status, StatusCode::OK, "{}", owner.text);
    assert_eq!(owner.body["group_memberships"], json!(["owner"]));
    let admin = t.app.get(&uri(&t.admin.0)).await;
    assert_eq!(
        (admin.body["id"].as_str(), admin.body["email_address"].as_str()),
        (Some(t.admin.0.as_str()), Some("admin@example.com"))
    );
    // A user of another account, an unknown id, a garbage id.
    assert_eq!(t.app.get(&uri(&t.stranger.0)).await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.app.get(&uri(&uuid::Uuid::now_v7().to_string())).await.status, StatusCode::NOT_FOUND);
    let garbage = t.app.get(&uri("nope")).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND, "ids are opaque: a garbage one names nothing");
}

#[tokio::test]
async fn delete_removes_the_membership_but_never_the_owner() {
    let t = tenant().await;
    let uri = |user: &str| format!("/v1/accounts/{}/users/{user}", t.account);
    let reply = call(&t.app, &t.admin.1, Method::DELETE, &uri(&t.viewer.0), None).await;
    assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
    assert_eq!(reply.body["id"], t.viewer.0.as_str());
    assert_eq!(t.app.get(&uri(&t.viewer.0)).await.status, StatusCode::NOT_FOUND);
    // The removed viewer's token no longer reaches the account.
    let gone = call(&t.app, &t.viewer.1, Method::GET, &format!("/v1/accounts/{}", t.account), None).await;
    assert_eq!(gone.status, StatusCode::NOT_FOUND);
    // The user itself still exists.
    assert_eq!(t.app.get(&format!("/v1/users/{}", t.viewer.0)).await.status, StatusCode::OK);
    assert_eq!(t.app.send(Method::DELETE, &uri(&t.viewer.0), None, &[]).await.status, StatusCode::NOT_FOUND);

    let owner = t.app.send(Method::DELETE, &uri(&t.owner.0), None, &[]).await;
    assert_eq!(owner.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", owner.text);
    assert_eq!(owner.error_fields(), ["user_id"]);
    assert_eq!(t.app.get(&uri(&t.owner.0)).await.status, StatusCode::OK);
}

#[tokio::test]
async fn reset_mfa_clears_every_factor_of_a_user_but_refuses_the_owner() {
    let t = tenant().await;
    enrol(&t.app, &t.owner.1).await;
    let secret = enrol(&t.app, &t.viewer.1).await;
    // A second, still pending factor goes too (adding one needs a current code).
    let body = json!({"code": code(&secret, 0)}).to_string();
    let second = call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp", Some(&body)).await;
    assert_eq!(second.status, StatusCode::CREATED, "{}", second.text);
    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (me.body["mfa_enabled"].as_bool(), me.body["mfa_factors"].as_array().map(Vec::len)),
        (Some(true), Some(2))
    );
    let reset = |user: &str| format!("/v1/accounts/{}/users/{user}/reset-mfa", t.account);

    let owner = call(&t.app, &t.admin.1, Method::POST, &reset(&t.owner.0), None).await;
    assert_eq!(owner.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", owner.text);
    assert!(owner.body["errors"].as_array().is_some_and(|e| !e.is_empty()), "{}", owner.text);
    let owner_me = call(&t.app, &t.owner.1, Method::GET, "/v1/me", None).await;
    assert_eq!(owner_me.body["mfa_enabled"], true, "nothing changed for the owner");

    let reply = call(&t.app, &t.admin.1, Method::POST, &reset(&t.viewer.0), None).await;
    assert_eq!(reply.status, StatusCode::NO_CONTENT, "{}", reply.text);
    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["mfa_enabled"], false);
    assert_eq!(me.body["mfa_factors"], json!([]));
    let listed = t.app.get(&format!("/v1/accounts/{}/users/{}", t.account, t.viewer.0)).await;
    assert_eq!(listed.body["mfa_enabled"], false);

    // Audited under the account, one event per factor, without secrets.
    let events = t.app.get(&format!("/v1/accounts/{}/logs/audit?action_type=mfa_factor.reset", t.account)).await;
    assert_eq!(events.status, StatusCode::OK, "{}", events.text);
    let events = events.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 2, "{events:?}");
    assert!(events.iter().all(|e| e["resource"]["type"] == "mfa_factor"), "{events:?}");
}

#[tokio::test]
async fn reset_mfa_answers_404_for_unknown_and_foreign_users_and_403_without_the_permission() {
    let t = tenant().await;
    let reset = |account: &str, user: &str| format!("/v1/accounts/{account}/users/{user}/reset-mfa");
    let unknown = uuid::Uuid::now_v7().to_string();
    assert_eq!(t.app.post(&reset(&t.account, &unknown), "").await.status, StatusCode::NOT_FOUND);
    assert_eq!(t.app.post(&reset(&t.account, &t.stranger.0), "").await.status, StatusCode::NOT_FOUND);
    // The viewer sees the account but lacks users:mfa_reset.
    let viewer = call(&t.app, &t.viewer.1, Method::POST, &reset(&t.account, &t.admin.0), None).await;
    assert_eq!(viewer.status, StatusCode::FORBIDDEN, "{}", viewer.text);
    // Another tenant's administrator cannot tell the account exists.
    let stranger = call(&t.app, &t.stranger.1, Method::POST, &reset(&t.account, &t.admin.0), None).await;
    assert_eq!(stranger.status, StatusCode::NOT_FOUND);
    let anonymous = t.app.send_raw(Method::POST, &reset(&t.account, &t.admin.0), None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
    // An administrator cannot reset a root user's factors, nor tell a root id from an
    // unknown one.
    let root = t.app.get("/v1/me").await.body["id"].as_str().expect("id").to_owned();
    put_member(&t.app, &t.account, &root, "viewer").await;
    let refused = call(&t.app, &t.admin.1, Method::POST, &reset(&t.account, &root), None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
}

#[tokio::test]
async fn every_operation_answers_401_without_a_token_403_without_the_permission_and_404_across_tenants() {
    let t = tenant().await;
    let a = &t.account;
    let create = json!({"email_address": "new@example.com", "first_name": "N", "last_name": "U"}).to_string();
    let operations: Vec<(Method, String, Option<String>, StatusCode)> = vec![
        (Method::GET, format!("/v1/accounts/{a}/users"), None, StatusCode::OK),
        (Method::POST, format!("/v1/accounts/{a}/users"), Some(create), StatusCode::FORBIDDEN),
        (Method::GET, format!("/v1/accounts/{a}/users/{}", t.admin.0), None, StatusCode::OK),
        (Method::DELETE, format!("/v1/accounts/{a}/users/{}", t.admin.0), None, StatusCode::FORBIDDEN),
        (Method::POST, format!("/v1/accounts/{a}/users/{}/reset-mfa", t.admin.0), None, StatusCode::FORBIDDEN),
    ];
    for (method, uri, body, viewer_status) in operations {
        let anonymous = t.app.send_raw(method.clone(), &uri, body.as_deref(), &[]).await;
        assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED, "{method} {uri}");
        let viewer = call(&t.app, &t.viewer.1, method.clone(), &uri, body.as_deref()).await;
        assert_eq!(viewer.status, viewer_status, "{method} {uri}: {}", viewer.text);
        let stranger = call(&t.app, &t.stranger.1, method.clone(), &uri, body.as_deref()).await;
        assert_eq!(stranger.status, StatusCode::NOT_FOUND, "{method} {uri}");
        let missing = uri.replace(a.as_str(), &uuid::Uuid::now_v7().to_string());
        assert_eq!(t.app.send(method.clone(), &missing, body.as_deref(), &[]).await.status, StatusCode::NOT_FOUND);
    }
}

#[tokio::test]
async fn reset_mfa_cannot_reach_a_user_who_belongs_to_other_tenants_or_only_was_invited() {
    let t = tenant().await;
    let reset = |user: &str| format!("/v1/accounts/{}/users/{user}/reset-mfa", t.account);
    // The stranger administers another tenant and enrols a factor there.
    enrol(&t.app, &t.stranger.1).await;
    // A member here too, but still a member of a tenant this administrator does not govern.
    put_member(&t.app, &t.account, &t.stranger.0, "member").await;
    let refused = call(&t.app, &t.admin.1, Method::POST, &reset(&t.stranger.0), None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    // Only invited here: an invitation nobody accepted gives no power over the user.
    let invitee = create_user(&t.app, "invitee@example.com").await;
    let invite = json!({"user_id": invitee, "roles": ["member"]}).to_string();
    let invited = t.app.post(&format!("/v1/accounts/{}/members", t.account), &invite).await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    let refused = call(&t.app, &t.admin.1, Method::POST, &reset(&invitee), None).await;
    assert_eq!(refused.status, StatusCode::NOT_FOUND, "{}", refused.text);
    let me = call(&t.app, &t.stranger.1, Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["mfa_enabled"], true, "the stranger's factor is untouched");
    // Root governs every tenant.
    assert_eq!(t.app.post(&reset(&t.stranger.0), "").await.status, StatusCode::NO_CONTENT);
    let me = call(&t.app, &t.stranger.1, Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["mfa_enabled"], false);
}

#[tokio::test]
async fn totp_verification_is_throttled_per_user() {
    let t = tenant().await;
    let secret = enrol(&t.app, &t.viewer.1).await;
    let wrong = |offset: i64| {
        // A code of another time step is wrong now (the window is one step each side).
        json!({"code": code(&secret, offset)}).to_string()
    };
    for offset in [5, 6, 7, 8, 9] {
        let reply = call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp/verify", Some(&wrong(offset))).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        assert_eq!((reply.error_fields(), &reply.body["errors"][0]["code"]), (vec!["code"], &json!("invalid_code")));
    }
    let right = json!({"code": code(&secret, 0)}).to_string();
    let locked = call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp/verify", Some(&right)).await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert!(locked.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1));
    // Another user is not locked out by it.
    let admin_secret = enrol(&t.app, &t.admin.1).await;
    let body = json!({"code": code(&admin_secret, 1)}).to_string();
    let other = call(&t.app, &t.admin.1, Method::POST, "/v1/me/mfa/totp/verify", Some(&body)).await;
    assert_eq!(other.status, StatusCode::OK, "{}", other.text);
}
