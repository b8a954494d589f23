//! `POST /v1/authorize` (issue 12): who may ask (root `authz:check`), what a bad body gets,
//! every reason a presented subject is not usable, every per-check answer, and that asking
//! writes no audit event and records the token's use.

use accountd_domain::TokenSecret;
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account_users::{call, enrol};
use crate::{Reply, TestApp, create_user, owned_agency, put_member, spawn_app, token_for, trail};

/// A tenant: agency A (its owner), a member of A with role `member`, a child C of A that
/// enforces two-factor authentication, account B of another tenant, and a service token
/// (a platform token of the root user allowing only `authz:check`).
pub(crate) struct World {
    pub app: TestApp,
    pub a: String,
    pub b: String,
    pub c: String,
    pub owner: String,
    pub member: String,
    /// The member's token under A, and its id.
    pub member_token: (String, String),
    pub owner_token: String,
    pub service: String,
}

pub(crate) async fn world() -> World {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let member = create_user(&app, "member@example.com").await;
    put_member(&app, &a, &member, "member").await;
    let b = app.create_account("Other").await["id"].as_str().expect("b").to_owned();
    let c = app.post("/v1/accounts", &json!({"name": "Child", "parent_id": a}).to_string()).await;
    let c = c.body["id"].as_str().expect("c").to_owned();
    let on = app
        .send(Method::PATCH, &format!("/v1/accounts/{c}"), Some(r#"{"settings":{"enforce_twofactor":true}}"#), &[])
        .await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    let member_token = token_for(&app, &a, &member, json!({})).await;
    let member_token = (secret(&member_token), member_token["id"].as_str().expect("id").to_owned());
    let owner_token = secret(&token_for(&app, &a, &owner, json!({})).await);
    let root = app.get("/v1/me").await.body["id"].as_str().expect("root").to_owned();
    let service = app
        .post(
            &format!("/v1/users/{root}/tokens"),
            &json!({"name": "mail gateway", "policies": [{"permission_groups": ["authz:check"]}]}).to_string(),
        )
        .await;
    assert_eq!(service.status, StatusCode::CREATED, "{}", service.text);
    World { a, b, c, owner, member, member_token, owner_token, service: secret(&service.body), app }
}

fn secret(token: &Value) -> String {
    token["value"].as_str().expect("secret").to_owned()
}

impl World {
    pub async fn ask(&self, caller: &str, body: Value) -> Reply {
        call(&self.app, caller, Method::POST, "/v1/authorize", Some(&body.to_string())).await
    }

    /// The reasons of `checks` (account, permission) asked about `subject` by the service.
    async fn reasons(&self, subject: Value, checks: &[(&str, &str)]) -> Vec<String> {
        let mut body = subject;
        body["checks"] = checks.iter().map(|(a, p)| json!({"account_id": a, "permission": p})).collect();
        let reply = self.ask(&self.service, body).await;
        assert_eq!(reply.status, StatusCode::OK, "{}", reply.text);
        assert_eq!(reply.body["active"], true, "{}", reply.text);
        let results = reply.body["results"].as_array().expect("results");
        for (result, (a, p)) in results.iter().zip(checks) {
            assert_eq!((result["account_id"].as_str(), result["permission"].as_str()), (Some(*a), Some(*p)));
            assert_eq!(result["allowed"] == true, result["reason"] == "granted", "{result}");
        }
        results.iter().map(|r| r["reason"].as_str().expect("reason").to_owned()).collect()
    }
}

#[tokio::test]
async fn a_service_token_with_authz_check_gets_each_answer_and_nothing_is_audited() {
    let w = world().await;
    let trails = [trail(&w.app.store, &w.a).await, trail(&w.app.store, &w.b).await];
    let unknown_account = uuid::Uuid::now_v7().to_string();
    let checks = [
        (w.a.as_str(), "aliases:write"),
        (w.a.as_str(), "members:write"),
        (w.b.as_str(), "accounts:read"),
        (unknown_account.as_str(), "accounts:read"),
        ("not-an-id", "accounts:read"),
        (w.c.as_str(), "accounts:read"),
    ];
    let want = ["granted", "forbidden", "not_found", "not_found", "not_found", "two_factor_required"];
    let by_token = w.reasons(json!({"token": w.member_token.0}), &checks).await;
    assert_eq!(by_token, want);
    let by_user = w.reasons(json!({"user_id": w.member}), &checks).await;
    assert_eq!(by_user, want, "the user's own rights, without a token, decide alike here");

    let reply = w
        .ask(
            &w.service,
            json!({"token": w.member_token.0, "checks": [{"account_id": w.a, "permission": "accounts:read"}]}),
        )
        .await;
    assert_eq!(reply.body["subject"], json!({"user_id": w.member, "token_id": w.member_token.1}));
    assert!(reply.body.get("reason").is_none(), "{}", reply.text);
    let reply = w
        .ask(&w.service, json!({"user_id": w.member, "checks": [{"account_id": w.a, "permission": "accounts:read"}]}))
        .await;
    assert_eq!(reply.body["subject"], json!({"user_id": w.member, "token_id": null}));

    // The bootstrap token holds every root permission, authz:check included.
    let root = w
        .ask(
            &w.app.root_token,
            json!({"user_id": w.owner, "checks": [{"account_id": w.a, "permission": "members:write"}]}),
        )
        .await;
    assert_eq!(root.body["results"][0]["reason"], "granted", "{}", root.text);

    assert_eq!(
        [trail(&w.app.store, &w.a).await, trail(&w.app.store, &w.b).await],
        trails,
        "asking is no audited change"
    );

    // Enrolling admits the member at once; a narrowed token is narrowed here too.
    enrol(&w.app, &w.member_token.0).await;
    assert_eq!(w.reasons(json!({"token": w.member_token.0}), &[(&w.c, "accounts:read")]).await, ["granted"]);
    let narrowed = token_for(
        &w.app,
        &w.a,
        &w.member,
        json!({"policies": [{"permission_groups": ["aliases:read"]}, {"effect": "deny", "permission_groups": ["aliases:write"]}]}),
    )
    .await;
    let reasons =
        w.reasons(json!({"token": secret(&narrowed)}), &[(&w.a, "aliases:read"), (&w.a, "aliases:write")]).await;
    assert_eq!(reasons, ["granted", "forbidden"]);
}

#[tokio::test]
async fn checking_a_token_records_its_use_like_any_authentication() {
    let w = world().await;
    let uri = format!("/v1/accounts/{}/tokens/{}", w.a, w.member_token.1);
    assert_eq!(w.app.get(&uri).await.body["last_used_on"], Value::Null);
    let asked = w.reasons(json!({"token": w.member_token.0}), &[(&w.a, "accounts:read")]).await;
    assert_eq!(asked, ["granted"]);
    assert!(w.app.get(&uri).await.body["last_used_on"].is_string(), "a product's use is a use");
}

#[tokio::test]
async fn callers_without_root_authz_check_are_forbidden() {
    let w = world().await;
    let body = json!({"user_id": w.member, "checks": [{"account_id": w.a, "permission": "accounts:read"}]});
    let owner = w.ask(&w.owner_token, body.clone()).await;
    assert_eq!(owner.status, StatusCode::FORBIDDEN, "an account token, even the owner's: {}", owner.text);
    assert!(owner.body["detail"].as_str().unwrap_or("").contains("authz:check"), "{}", owner.text);
    // A root user's platform token narrowed to users:read does not carry authz:check.
    let root = w.app.get("/v1/me").await.body["id"].as_str().expect("id").to_owned();
    let narrowed = w
        .app
        .post(
            &format!("/v1/users/{root}/tokens"),
            r#"{"name":"reader","policies":[{"permission_groups":["users:read"]}]}"#,
        )
        .await;
    let narrowed = w.ask(&secret(&narrowed.body), body.clone()).await;
    assert_eq!(narrowed.status, StatusCode::FORBIDDEN, "{}", narrowed.text);
    let anonymous = w.app.send_raw(Method::POST, "/v1/authorize", Some(&body.to_string()), &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_bad_body_is_422_naming_the_field() {
    let w = world().await;
    let check = json!({"account_id": w.a, "permission": "accounts:read"});
    let cases = [
        (json!({"token": w.member_token.0, "checks": []}), "checks"),
        (json!({"token": w.member_token.0}), "checks"),
        (json!({"token": w.member_token.0, "checks": vec![check.clone(); 101]}), "checks"),
        (json!({"token": w.member_token.0, "user_id": w.member, "checks": [check]}), "user_id"),
        (json!({"checks": [check]}), "token"),
        (
            json!({"token": w.member_token.0, "checks": [check, {"account_id": w.a, "permission": "galaxy:rule"}]}),
            "checks[1].permission",
        ),
        (json!({"token": w.member_token.0, "client_ip": "203.0.113.300", "checks": [check]}), "client_ip"),
        (json!({"user_id": "not-an-id", "checks": [check]}), "user_id"),
    ];
    for (body, field) in cases {
        let reply = w.ask(&w.service, body.clone()).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
        assert_eq!(reply.error_fields(), [field], "{body}: {}", reply.text);
    }
    let hundred = w.ask(&w.service, json!({"token": w.member_token.0, "checks": vec![check; 100]})).await;
    assert_eq!(hundred.body["results"].as_array().map(Vec::len), Some(100), "a hundred is the limit, not beyond");
}

#[tokio::test]
async fn a_presented_token_that_is_not_usable_is_inactive_with_its_reason() {
    let w = world().await;
    let made = |extra: Value| {
        let w = &w;
        async move { secret(&token_for(&w.app, &w.a, &w.member, extra).await) }
    };
    let expired = made(json!({"expires_on": "2020-01-01T00:00:00Z"})).await;
    let later = made(json!({"not_before": "2099-01-01T00:00:00Z"})).await;
    let disabled = made(json!({"status": "disabled"})).await;
    let fenced = made(json!({"condition": {"request_ip": {"in": ["10.0.0.0/8"]}}})).await;
    let unknown = TokenSecret::generate();
    let cases = [
        (json!({"token": unknown.expose()}), "unknown"),
        (json!({"token": "acd_not_a_real_token"}), "malformed"),
        (json!({"token": expired}), "expired"),
        (json!({"token": later}), "not_yet_valid"),
        (json!({"token": disabled}), "disabled"),
        (json!({"token": fenced, "client_ip": "203.0.113.7"}), "ip_refused"),
        (json!({"token": fenced}), "ip_refused"),
        (json!({"user_id": uuid::Uuid::now_v7().to_string()}), "unknown"),
    ];
    for (mut body, reason) in cases {
        body["checks"] = json!([{"account_id": w.a, "permission": "accounts:read"}]);
        let reply = w.ask(&w.service, body.clone()).await;
        assert_eq!(reply.status, StatusCode::OK, "{body}: {}", reply.text);
        assert_eq!(reply.body, json!({"active": false, "reason": reason, "results": []}), "{body}");
    }
    let inside = w.reasons(json!({"token": fenced, "client_ip": "10.1.2.3"}), &[(&w.a, "accounts:read")]).await;
    assert_eq!(inside, ["granted"], "from inside its range the fenced token is usable");

    let disable =
        w.app.send(Method::PATCH, &format!("/v1/users/{}", w.member), Some(r#"{"status":"disabled"}"#), &[]).await;
    assert_eq!(disable.status, StatusCode::OK, "{}", disable.text);
    for subject in [json!({"user_id": w.member}), json!({"token": w.member_token.0})] {
        let mut body = subject;
        body["checks"] = json!([{"account_id": w.a, "permission": "accounts:read"}]);
        let reply = w.ask(&w.service, body).await;
        assert_eq!(reply.body["reason"], "disabled", "{}", reply.text);
    }
}
