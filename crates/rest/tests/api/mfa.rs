//! MFA over REST: TOTP enrolment, activation with a computed code, replays refused, removal,
//! secrets shown once and never again; and enforced two-factor (seed 004
//! `settings.enforce_twofactor`) applied on every call, with no restart or cache wait.

use accountd_domain::{AuditQuery, PageRequest};
use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::account_users::{call, code, enrol, tenant, token_for};
use crate::{create_user, put_member};

#[tokio::test]
async fn enrolment_returns_the_secret_once_and_me_shows_only_factor_ids() {
    let t = tenant().await;
    let enrolled = call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
    assert_eq!(enrolled.header("cache-control"), "no-store");
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    assert_eq!(secret.len(), 32, "160 bits in base32");
    let uri = enrolled.body["otpauth_uri"].as_str().expect("uri");
    assert!(uri.starts_with("otpauth://totp/accountd:viewer%40example.com?secret="), "{uri}");
    assert!(uri.contains(&secret));
    assert_eq!((enrolled.body["status"].as_str(), enrolled.body["type"].as_str()), (Some("pending"), Some("totp")));
    let id = enrolled.body["id"].as_str().expect("id");

    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    assert_eq!(me.status, StatusCode::OK);
    assert_eq!(me.body["email"], "viewer@example.com", "the user's fields stay");
    assert_eq!(me.body["mfa_enabled"], false, "a pending factor does not count");
    assert_eq!(me.body["mfa_factors"][0]["id"], id);
    assert_eq!(me.body["mfa_factors"][0]["status"], "pending");
    assert!(!me.text.contains(&secret), "GET /v1/me never shows the secret");

    // The secret is stored sealed, and no audit event carries it.
    let factors = t.app.store.list_factors(accountd_domain::UserId::parse(&t.viewer.0, "id").unwrap()).await.unwrap();
    let bytes = accountd_domain::TotpSecret::from_base32(&secret).unwrap();
    let plain = format!("{bytes:?}");
    assert_eq!(plain, "TotpSecret(..)", "Debug never prints a secret");
    assert_eq!(format!("{:?}", factors[0].secret), "SealedSecret(..)");
    let events = t.app.store.list_audit_events(&AuditQuery::all_of(None, PageRequest::first(1000))).await.unwrap();
    let text = format!("{:?}", events.items);
    assert!(text.contains("mfa_factor.create"), "{text}");
    assert!(!text.contains(&secret) && !text.contains("otpauth"), "an audit event leaked the secret");
}

#[tokio::test]
async fn a_factor_activates_with_a_computed_code_and_a_replayed_code_is_refused() {
    let t = tenant().await;
    let token = &t.viewer.1;
    let enrolled = call(&t.app, token, Method::POST, "/v1/me/mfa/totp", None).await;
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let id = enrolled.body["id"].as_str().expect("id").to_owned();

    let now = code(&secret, 0);
    let body = json!({"factor_id": id, "code": now}).to_string();
    let activated = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    assert_eq!(activated.body["status"], "active");
    assert!(activated.body["activated_at"].is_string());
    assert!(activated.body.get("secret").is_none());
    let me = call(&t.app, token, Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["mfa_enabled"], true);

    // The activation code is spent: verifying with it again is a replay.
    let verify = |c: &str| json!({"code": c}).to_string();
    let replay = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/verify", Some(&verify(&now))).await;
    assert_eq!(replay.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", replay.text);
    assert_eq!(replay.body["errors"][0]["code"], "replayed");
    // So is activating again.
    let again = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(again.body["type"], "urn:accountd:problem:failed-precondition", "{}", again.text);

    // The next step's code is accepted once, then refused too.
    let next = code(&secret, 1);
    let ok = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/verify", Some(&verify(&next))).await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.text);
    assert_eq!(ok.body["factor_id"], id.as_str());
    let twice = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/verify", Some(&verify(&next))).await;
    assert_eq!(
        (twice.status, twice.body["errors"][0]["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("replayed"))
    );
}

#[tokio::test]
async fn wrong_or_malformed_codes_are_refused_and_the_factor_stays_pending() {
    let t = tenant().await;
    let token = &t.viewer.1;
    let enrolled = call(&t.app, token, Method::POST, "/v1/me/mfa/totp", None).await;
    let secret = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let stale = code(&secret, -5);
    for (body, field_code) in [
        (json!({"code": stale}), "invalid_code"),
        (json!({"code": "12345"}), "invalid_format"),
        (json!({}), "required"),
        (json!({"code": "123456", "factor_id": "nope"}), "invalid_id"),
    ] {
        let reply = call(&t.app, token, Method::POST, "/v1/me/mfa/totp/activate", Some(&body.to_string())).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {}", reply.text);
        assert_eq!(reply.body["errors"][0]["code"], field_code, "{body}");
    }
    let me = call(&t.app, token, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (me.body["mfa_enabled"].as_bool(), me.body["mfa_factors"][0]["status"].as_str()),
        (Some(false), Some("pending"))
    );
    // Verifying needs an active factor.
    let verify = call(
        &t.app,
        token,
        Method::POST,
        "/v1/me/mfa/totp/verify",
        Some(&json!({"code": code(&secret, 0)}).to_string()),
    )
    .await;
    assert_eq!(verify.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(verify.body["type"], "urn:accountd:problem:failed-precondition", "{}", verify.text);
    let me = call(&t.app, token, Method::GET, "/v1/me", None).await;
    assert_eq!(me.body["mfa_factors"][0]["status"], "pending", "a refused verification activates nothing");
    // Another user's factor is not found, not merely refused.
    let body = json!({"factor_id": enrolled.body["id"], "code": code(&secret, 0)}).to_string();
    let foreign = call(&t.app, &t.admin.1, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(foreign.status, StatusCode::NOT_FOUND);
    let anonymous = t.app.send_raw(Method::POST, "/v1/me/mfa/totp", None, &[]).await;
    assert_eq!(anonymous.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_factor_is_removed_by_its_user_only() {
    let t = tenant().await;
    let secret = enrol(&t.app, &t.viewer.1).await;
    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    let id = me.body["mfa_factors"][0]["id"].as_str().expect("id").to_owned();
    let uri = format!("/v1/me/mfa/totp/{id}");
    let with_code = format!("{uri}?code={}", code(&secret, 0));
    assert_eq!(call(&t.app, &t.admin.1, Method::DELETE, &with_code, None).await.status, StatusCode::NOT_FOUND);
    // An active factor goes only with a current code from it.
    let bare = call(&t.app, &t.viewer.1, Method::DELETE, &uri, None).await;
    assert_eq!((bare.status, bare.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["code"]));
    let wrong = format!("{uri}?code={}", code(&secret, 7));
    let wrong = call(&t.app, &t.viewer.1, Method::DELETE, &wrong, None).await;
    assert_eq!((wrong.status, wrong.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["code"]));
    assert_eq!(call(&t.app, &t.viewer.1, Method::DELETE, &with_code, None).await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&t.app, &t.viewer.1, Method::DELETE, &uri, None).await.status, StatusCode::NOT_FOUND);
    let garbage = call(&t.app, &t.viewer.1, Method::DELETE, "/v1/me/mfa/totp/nope", None).await;
    assert_eq!(garbage.status, StatusCode::NOT_FOUND, "ids are opaque: a garbage one names nothing");
    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    assert_eq!(
        (me.body["mfa_enabled"].as_bool(), me.body["mfa_factors"].as_array().map(Vec::len)),
        (Some(false), Some(0))
    );
}

#[tokio::test]
async fn enrolment_stops_at_ten_factors() {
    let t = tenant().await;
    for _ in 0..accountd_domain::MAX_FACTORS {
        assert_eq!(call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp", None).await.status, StatusCode::CREATED);
    }
    let refused = call(&t.app, &t.viewer.1, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.body["type"], "urn:accountd:problem:failed-precondition", "{}", refused.text);
    assert!(refused.body["detail"].as_str().is_some_and(|d| d.contains("at most 10")), "{}", refused.text);
    assert!(refused.body.get("secret").is_none(), "no secret is handed out");
    let me = call(&t.app, &t.viewer.1, Method::GET, "/v1/me", None).await;
    let factors = me.body["mfa_factors"].as_array().map(Vec::len);
    assert_eq!(factors, Some(accountd_domain::MAX_FACTORS), "the refused eleventh is not stored");
}

#[tokio::test]
async fn with_enforce_twofactor_a_member_without_a_factor_is_refused_enrols_and_is_admitted_at_once() {
    let t = tenant().await;
    let account = format!("/v1/accounts/{}", t.account);
    // A child account: enforcement covers descendants too.
    let child = t.app.post("/v1/accounts", &json!({"name": "Child", "parent_id": t.account}).to_string()).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    let child = format!("/v1/accounts/{}", child.body["id"].as_str().expect("id"));
    let on = t.app.send(Method::PATCH, &account, Some(r#"{"settings":{"enforce_twofactor":true}}"#), &[]).await;
    assert_eq!(on.status, StatusCode::OK, "root is exempt and may turn it on: {}", on.text);

    for uri in [account.clone(), format!("{account}/members"), child.clone(), format!("{account}/tokens")] {
        let refused = call(&t.app, &t.viewer.1, Method::GET, &uri, None).await;
        assert_eq!(refused.status, StatusCode::FORBIDDEN, "{uri}: {}", refused.text);
        assert_eq!(refused.body["type"], "urn:accountd:problem:two-factor-required", "{uri}");
        // The domain says what to do; the REST adapter adds where.
        assert_eq!(
            refused.body["detail"],
            "two-factor authentication is required on this account: enrol a TOTP factor at /v1/me/mfa/totp",
            "{uri}"
        );
    }
    // The blocked account is not listed either; another tenant still cannot tell it exists.
    let listed = call(&t.app, &t.viewer.1, Method::GET, "/v1/accounts", None).await;
    assert_eq!(listed.body["accounts"].as_array().map(Vec::len), Some(0), "{}", listed.text);
    assert_eq!(call(&t.app, &t.stranger.1, Method::GET, &account, None).await.status, StatusCode::NOT_FOUND);
    // Root is not a member: exempt.
    assert_eq!(t.app.get(&account).await.status, StatusCode::OK);

    enrol(&t.app, &t.viewer.1).await;
    for uri in [account.clone(), child.clone()] {
        let admitted = call(&t.app, &t.viewer.1, Method::GET, &uri, None).await;
        assert_eq!(admitted.status, StatusCode::OK, "{uri}: {}", admitted.text);
    }
    // A reset shuts the user out again, just as fast.
    let reset = format!("{account}/users/{}/reset-mfa", t.viewer.0);
    assert_eq!(t.app.post(&reset, "").await.status, StatusCode::NO_CONTENT);
    assert_eq!(call(&t.app, &t.viewer.1, Method::GET, &account, None).await.status, StatusCode::FORBIDDEN);
    // Turning it off admits everyone again.
    t.app.send(Method::PATCH, &account, Some(r#"{"settings":{"enforce_twofactor":false}}"#), &[]).await;
    assert_eq!(call(&t.app, &t.viewer.1, Method::GET, &account, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn enforcement_on_a_child_leaves_its_parent_open_and_other_tenants_alone() {
    let t = tenant().await;
    let child = t.app.post("/v1/accounts", &json!({"name": "Child", "parent_id": t.account}).to_string()).await;
    let child = format!("/v1/accounts/{}", child.body["id"].as_str().expect("id"));
    let on = t.app.send(Method::PATCH, &child, Some(r#"{"settings":{"enforce_twofactor":true}}"#), &[]).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(call(&t.app, &t.viewer.1, Method::GET, &child, None).await.status, StatusCode::FORBIDDEN);
    let parent = format!("/v1/accounts/{}", t.account);
    assert_eq!(call(&t.app, &t.viewer.1, Method::GET, &parent, None).await.status, StatusCode::OK);
    let other = format!("/v1/accounts/{}", t.other_account);
    assert_eq!(call(&t.app, &t.stranger.1, Method::GET, &other, None).await.status, StatusCode::OK);
}

#[tokio::test]
async fn a_member_without_a_factor_cannot_turn_enforcement_on() {
    let t = tenant().await;
    let account = format!("/v1/accounts/{}", t.account);
    let body = r#"{"settings":{"enforce_twofactor":true}}"#;
    let refused = call(&t.app, &t.admin.1, Method::PATCH, &account, Some(body)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.error_fields(), ["settings.enforce_twofactor"]);
    let error = &refused.body["errors"][0];
    assert_eq!(error["code"], "twofactor_required", "{}", refused.text);
    assert_eq!(
        error["message"], "enrol an active two-factor method before requiring one at /v1/me/mfa/totp",
        "the REST adapter, not the domain, says where to enrol"
    );
    assert_eq!(t.app.get(&account).await.body["settings"]["enforce_twofactor"], false, "nothing changed");
    // Nor create a child account that enforces it.
    let child = json!({"name": "Child", "parent_id": t.account, "settings": {"enforce_twofactor": true}}).to_string();
    let before = app_accounts(&t.app).await;
    let refused = call(&t.app, &t.admin.1, Method::POST, "/v1/accounts", Some(&child)).await;
    assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
    assert_eq!(refused.error_fields(), ["settings.enforce_twofactor"]);
    assert_eq!(app_accounts(&t.app).await, before, "no child was created");

    enrol(&t.app, &t.admin.1).await;
    let on = call(&t.app, &t.admin.1, Method::PATCH, &account, Some(body)).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    assert_eq!(on.body["settings"]["enforce_twofactor"], true);
    // The admin keeps working; the viewer without a factor does not.
    assert_eq!(call(&t.app, &t.admin.1, Method::GET, &account, None).await.status, StatusCode::OK);
    assert_eq!(call(&t.app, &t.viewer.1, Method::GET, &account, None).await.status, StatusCode::FORBIDDEN);
    // A new member added afterwards is refused until it enrols, with any of its tokens.
    let late = create_user(&t.app, "late@example.com").await;
    put_member(&t.app, &t.account, &late, "administrator").await;
    let late_token = token_for(&t.app, &t.account, &late).await;
    assert_eq!(call(&t.app, &late_token, Method::GET, &account, None).await.status, StatusCode::FORBIDDEN);
    let second_token = token_for(&t.app, &t.account, &late).await;
    assert_eq!(call(&t.app, &second_token, Method::GET, &account, None).await.status, StatusCode::FORBIDDEN);
    enrol(&t.app, &late_token).await;
    assert_eq!(call(&t.app, &second_token, Method::GET, &account, None).await.status, StatusCode::OK);
}

/// The ids of every account, as the root user lists them.
async fn app_accounts(app: &crate::TestApp) -> Vec<String> {
    let listed = app.get("/v1/accounts?page_size=100").await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let accounts = listed.body["accounts"].as_array().expect("accounts");
    accounts.iter().map(|a| a["id"].as_str().expect("id").to_owned()).collect()
}

#[tokio::test]
async fn a_root_user_holding_some_root_permissions_is_exempt_from_enforcement_in_reads_and_listings() {
    let app = crate::spawn_app().await;
    let account = app.create_account("Enforcing").await["id"].as_str().expect("id").to_owned();
    let ops = app.post("/v1/users", r#"{"email":"ops@example.com","root_permissions":["users:read"]}"#).await;
    let ops = ops.body["id"].as_str().expect("id").to_owned();
    put_member(&app, &account, &ops, "viewer").await;
    let token = token_for(&app, &account, &ops).await;
    let uri = format!("/v1/accounts/{account}");
    let on = app.send(Method::PATCH, &uri, Some(r#"{"settings":{"enforce_twofactor":true}}"#), &[]).await;
    assert_eq!(on.status, StatusCode::OK, "{}", on.text);
    // No factor, yet a root user is not shut out: neither reading the account nor listing it.
    assert_eq!(call(&app, &token, Method::GET, &uri, None).await.status, StatusCode::OK);
    let listed = call(&app, &token, Method::GET, "/v1/accounts", None).await;
    let ids: Vec<&str> =
        listed.body["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["id"].as_str()).collect();
    assert!(ids.contains(&account.as_str()), "the enforcing account is listed: {}", listed.text);
}
