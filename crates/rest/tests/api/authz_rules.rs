//! The rules behind the authorization model, with the state they protect (issue 16): no
//! token takeover, no absorbed users, MFA out of a narrow token's reach and audited where
//! administrators look, a last root, and the platform shown to tenants without personal data.

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

#[tokio::test]
async fn an_administrator_cannot_take_over_the_owners_token() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &a, &admin, "administrator").await;
    // The owner's token also reaches another account, where the administrator is nobody.
    let b = id(&app.create_account("Elsewhere").await);
    put_member(&app, &b, &owner, "administrator").await;
    let policies = json!({"policies": [{"effect": "allow", "permission_groups": ["accounts:read", "accounts:write"],
        "resources": [a, b]}]});
    let owners = token_for(&app, &a, &owner, policies).await;
    let admins = secret(&token_for(&app, &a, &admin, json!({})).await);

    let uri = format!("/v1/accounts/{a}/tokens/{}", id(&owners));
    let rolled = call(&app, &admins, Method::PUT, &format!("{uri}/value"), None).await;
    assert_eq!(rolled.status, StatusCode::FORBIDDEN, "{}", rolled.text);
    assert!(rolled.body.get("value").is_none(), "no secret is handed out");
    for (method, body) in [(Method::PUT, Some(json!({"status": "disabled"}))), (Method::DELETE, None)] {
        let reply = call(&app, &admins, method, &uri, body.map(|b| b.to_string()).as_deref()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
    // The owner's secret still works, on both accounts.
    for account in [&a, &b] {
        let read = call(&app, &secret(&owners), Method::GET, &format!("/v1/accounts/{account}"), None).await;
        assert_eq!(read.status, StatusCode::OK, "{}", read.text);
    }
}

#[tokio::test]
async fn a_token_cannot_roll_a_wider_token_of_its_own_user() {
    let app = spawn_app().await;
    let (_, a) = owned_agency(&app).await;
    let b = id(&app.create_account("Elsewhere").await);
    let user = create_user(&app, "twice@example.com").await;
    put_member(&app, &a, &user, "administrator").await;
    put_member(&app, &b, &user, "administrator").await;
    let narrow = secret(&token_for(&app, &a, &user, json!({})).await);
    let wide = token_for(
        &app,
        &a,
        &user,
        json!({"policies": [{"effect": "allow", "permission_groups": ["tokens:write", "accounts:read"], "resources": [a, b]}]}),
    )
    .await;
    let roll = format!("/v1/accounts/{a}/tokens/{}/value", id(&wide));
    // The A-only token would get a secret reaching B: refused.
    let refused = call(&app, &narrow, Method::PUT, &roll, None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let used = call(&app, &secret(&wide), Method::GET, &format!("/v1/accounts/{b}"), None).await;
    assert_eq!(used.status, StatusCode::OK, "the wide token still works: {}", used.text);
    // The wide token may roll itself.
    let rolled = call(&app, &secret(&wide), Method::PUT, &roll, None).await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    assert!(rolled.body["value"].as_str().is_some_and(|v| v.starts_with("acd_")));
}

/// Account A owned by a tenant owner, with an administrator; a user `target` who is an
/// accepted member of B only (the tenant's child account C makes `visible` one it sees).
struct Tenants {
    app: TestApp,
    a: String,
    admin: String,
    target: String,
    visible: String,
}

async fn tenants() -> Tenants {
    let app = spawn_app().await;
    let (_, a) = owned_agency(&app).await;
    let admin_id = create_user(&app, "admin@example.com").await;
    put_member(&app, &a, &admin_id, "administrator").await;
    let admin = secret(&token_for(&app, &a, &admin_id, json!({})).await);
    let b = id(&app.create_account("B").await);
    let target = create_user(&app, "target@example.com").await;
    put_member(&app, &b, &target, "viewer").await;
    let c = app.post("/v1/accounts", &json!({"name": "C", "parent_id": a}).to_string()).await;
    let visible = create_user(&app, "visible@example.com").await;
    put_member(&app, &id(&c.body), &visible, "viewer").await;
    Tenants { app, a, admin, target, visible }
}

#[tokio::test]
async fn a_tenant_cannot_absorb_a_user_by_id_and_unknown_ids_answer_alike() {
    let t = tenants().await;
    let put = |user: &str| format!("/v1/accounts/{}/members/{user}", t.a);
    let roles = json!({"roles": ["administrator"]}).to_string();
    // A user of another tenant and an id nobody has answer the same 404.
    let hidden = call(&t.app, &t.admin, Method::PUT, &put(&t.target), Some(&roles)).await;
    let unknown = call(&t.app, &t.admin, Method::PUT, &put(&uuid::Uuid::now_v7().to_string()), Some(&roles)).await;
    assert_eq!((hidden.status, &hidden.body["type"]), (StatusCode::NOT_FOUND, &unknown.body["type"]));
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(t.app.get(&put(&t.target)).await.status, StatusCode::NOT_FOUND, "nothing was created");
    // A user the administrator sees is invited, not made a member.
    let invited = call(&t.app, &t.admin, Method::PUT, &put(&t.visible), Some(&roles)).await;
    assert_eq!(invited.status, StatusCode::OK, "{}", invited.text);
    assert_eq!(invited.body["status"], "invited");
    let visible_token = secret(&token_for(&t.app, &t.a, &t.visible, json!({})).await);
    let shut = call(&t.app, &visible_token, Method::GET, &format!("/v1/accounts/{}", t.a), None).await;
    assert_eq!(shut.status, StatusCode::NOT_FOUND, "an invitation grants nothing");
    // PUT again updates the invitation's roles; it stays an invitation.
    let again =
        call(&t.app, &t.admin, Method::PUT, &put(&t.visible), Some(&json!({"roles": ["viewer"]}).to_string())).await;
    assert_eq!((again.body["status"].as_str(), again.body["roles"].clone()), (Some("invited"), json!(["viewer"])));
    // Reset-MFA does not reach an invited user.
    let reset = format!("/v1/accounts/{}/users/{}/reset-mfa", t.a, t.visible);
    assert_eq!(call(&t.app, &t.admin, Method::POST, &reset, None).await.status, StatusCode::NOT_FOUND);
    // Once the user accepts, it is a member.
    let accept = json!({"status": "accepted"}).to_string();
    let accepted =
        call(&t.app, &visible_token, Method::PUT, &format!("/v1/me/memberships/{}", t.a), Some(&accept)).await;
    assert_eq!(accepted.body["status"], "member", "{}", accepted.text);
    let admitted = call(&t.app, &visible_token, Method::GET, &format!("/v1/accounts/{}", t.a), None).await;
    assert_eq!(admitted.status, StatusCode::OK);
}

#[tokio::test]
async fn adding_an_account_user_by_email_invites_in_one_shape_whether_the_email_exists_or_not() {
    let t = tenants().await;
    let uri = format!("/v1/accounts/{}/users", t.a);
    let add = |email: &str| json!({"email_address": email, "first_name": "Typed", "last_name": "Name"}).to_string();
    let known = call(&t.app, &t.admin, Method::POST, &uri, Some(&add("TARGET@example.com"))).await;
    let fresh = call(&t.app, &t.admin, Method::POST, &uri, Some(&add("fresh@example.com"))).await;
    assert_eq!((known.status, fresh.status), (StatusCode::CREATED, StatusCode::CREATED), "{}", known.text);
    let shape = |body: &Value| {
        let mut keys: Vec<String> = body.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        (keys, body["status"].clone(), body["first_name"].clone(), body["mfa_enabled"].clone())
    };
    assert_eq!(shape(&known.body), shape(&fresh.body));
    assert_eq!(known.body["status"], "invited");
    assert_eq!(known.body["email_address"], "TARGET@example.com", "the email as typed");
    assert_eq!(known.body["first_name"], Value::Null, "no names of an existing user");
    // The existing user keeps its names and is no member until it accepts.
    let target_token = secret(&token_for(&t.app, &t.a, &t.target, json!({})).await);
    let shut = call(&t.app, &target_token, Method::GET, &format!("/v1/accounts/{}", t.a), None).await;
    assert_eq!(shut.status, StatusCode::NOT_FOUND);
    // Reading it shows no names or MFA state either.
    enrol(&t.app, &target_token).await;
    let read = call(&t.app, &t.admin, Method::GET, &format!("{uri}/{}", t.target), None).await;
    assert_eq!((read.body["first_name"].clone(), read.body["mfa_enabled"].clone()), (Value::Null, json!(false)));
    let accept = json!({"status": "accepted"}).to_string();
    call(&t.app, &target_token, Method::PUT, &format!("/v1/me/memberships/{}", t.a), Some(&accept)).await;
    let read = call(&t.app, &t.admin, Method::GET, &format!("{uri}/{}", t.target), None).await;
    assert_eq!((read.body["status"].clone(), read.body["mfa_enabled"].clone()), (json!("member"), json!(true)));
}

#[tokio::test]
async fn a_narrow_token_cannot_touch_factors_and_factor_changes_reach_the_accounts_audit() {
    let app = spawn_app().await;
    let (owner, a) = owned_agency(&app).await;
    let viewer = create_user(&app, "viewer@example.com").await;
    put_member(&app, &a, &viewer, "viewer").await;
    let full = secret(&token_for(&app, &a, &viewer, json!({})).await);
    let narrow = json!({"policies": [{"effect": "allow", "permission_groups": ["aliases:read"]}]});
    let narrow = secret(&token_for(&app, &a, &viewer, narrow).await);
    let refused = call(&app, &narrow, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    assert!(refused.text.contains("mfa:write"), "{}", refused.text);
    // A narrowed token given mfa:write may.
    let granted = json!({"policies": [{"effect": "allow", "permission_groups": ["aliases:read", "mfa:write"]}]});
    let granted = secret(&token_for(&app, &a, &viewer, granted).await);
    let enrolled = call(&app, &granted, Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
    let factor = id(&enrolled.body);
    let secret_b32 = enrolled.body["secret"].as_str().expect("secret").to_owned();
    let body = json!({"factor_id": factor, "code": code(&secret_b32, 0)}).to_string();
    let activated = call(&app, &full, Method::POST, "/v1/me/mfa/totp/activate", Some(&body)).await;
    assert_eq!(activated.status, StatusCode::OK, "{}", activated.text);
    let delete = format!("/v1/me/mfa/totp/{factor}?code={}", code(&secret_b32, 1));
    assert_eq!(call(&app, &narrow, Method::DELETE, &delete, None).await.status, StatusCode::FORBIDDEN);
    assert_eq!(call(&app, &full, Method::DELETE, &delete, None).await.status, StatusCode::NO_CONTENT);

    // The account's owner sees every change of its member's factors in A's trail.
    let owners = secret(&token_for(&app, &a, &owner, json!({})).await);
    let trail = call(&app, &owners, Method::GET, &format!("/v1/accounts/{a}/logs/audit?page_size=1000"), None).await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.text);
    let actions: Vec<&str> = trail.body["events"]
        .as_array()
        .expect("events")
        .iter()
        .filter(|e| e["resource"]["type"] == "mfa_factor" || e["resource_type"] == "mfa_factor")
        .filter_map(|e| e["action"]["type"].as_str().or(e["action_type"].as_str()))
        .collect();
    assert_eq!(actions, ["mfa_factor.create", "mfa_factor.activate", "mfa_factor.delete"], "{}", trail.text);
}

#[tokio::test]
async fn the_last_root_can_be_neither_demoted_nor_disabled() {
    let app = spawn_app().await;
    let me = app.get("/v1/me").await;
    let root = id(&me.body);
    let patch = |user: &str, body: Value| {
        let uri = format!("/v1/users/{user}");
        let app = &app;
        async move { app.send(Method::PATCH, &uri, Some(&body.to_string()), &[]).await }
    };
    let refused = patch(&root, json!({"root_permissions": []})).await;
    assert_eq!((refused.status, refused.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["root_permissions"]));
    let keeps = patch(&root, json!({"root_permissions": ["users:read"]})).await;
    assert_eq!(keeps.error_fields(), ["root_permissions"], "losing users:write is demotion too");
    // With a second root, the first may step down; then the second is the last.
    let second = app
        .post(
            "/v1/users",
            &json!({"email": "second@example.com", "root_permissions": ["users:read", "users:write"]}).to_string(),
        )
        .await;
    let second = id(&second.body);
    let second_token = app.post(&format!("/v1/users/{second}/tokens"), &json!({"name": "second"}).to_string()).await;
    let second_token = secret(&second_token.body);
    let stepped = patch(&root, json!({"root_permissions": []})).await;
    assert_eq!(stepped.status, StatusCode::OK, "{}", stepped.text);
    assert_eq!(stepped.body["root_permissions"], json!([]));
    let uri = format!("/v1/users/{second}");
    let bearer = format!("Bearer {second_token}");
    // Demoting itself breaks the last-root rule, on its field; disabling itself is refused
    // before that rule is asked, because no user may disable itself.
    for (body, field) in
        [(json!({"root_permissions": []}), Some("root_permissions")), (json!({"status": "disabled"}), None)]
    {
        let reply =
            app.send_raw(Method::PATCH, &uri, Some(&body.to_string()), &[("authorization", bearer.as_str())]).await;
        assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", reply.text);
        match field {
            Some(field) => assert_eq!(
                (reply.error_fields(), &reply.body["errors"][0]["code"]),
                (vec![field], &json!("last_root")),
                "{}",
                reply.text
            ),
            None => assert_eq!(reply.body["type"], "urn:accountd:problem:failed-precondition", "{}", reply.text),
        }
    }
    let kept = app.send_raw(Method::GET, &uri, None, &[("authorization", bearer.as_str())]).await;
    assert_eq!(
        (kept.body["status"].as_str(), kept.body["root_permissions"].clone()),
        (Some("active"), json!(["users:read", "users:write"])),
        "the last root is unchanged: {}",
        kept.text
    );
    let still = app.send_raw(Method::GET, "/v1/users", None, &[("authorization", bearer.as_str())]).await;
    assert_eq!(still.status, StatusCode::OK);
}

#[tokio::test]
async fn tenants_see_the_platform_without_its_ids_or_email() {
    let app = spawn_app().await;
    let root = id(&app.get("/v1/me").await.body);
    // Root creates an account it owns, invites a tenant administrator and changes the account.
    let a = id(&app.create_account("Rooted").await);
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &a, &admin, "administrator").await;
    let patched = app.send(Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"name":"Rooted 2"}"#), &[]).await;
    assert_eq!(patched.status, StatusCode::OK);
    let admins = secret(&token_for(&app, &a, &admin, json!({})).await);

    let trail = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/logs/audit"), None).await;
    assert_eq!(trail.status, StatusCode::OK, "{}", trail.text);
    assert!(!trail.text.contains("root@example.com"), "{}", trail.text);
    assert!(!trail.text.contains(&root), "no root id in actors, changes or resources: {}", trail.text);
    let events = trail.body["events"].as_array().expect("events");
    assert!(!events.is_empty());
    for event in events {
        assert_eq!(event["actor"], json!({"type": "platform", "id": null, "email": null}), "{event}");
    }
    let member = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/members/{admin}"), None).await;
    assert_eq!(member.body["invited_by"], Value::Null, "{}", member.text);
    // The root owner's own membership is the platform's: not listed, not found.
    let members = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/members"), None).await;
    assert_eq!(members.status, StatusCode::OK);
    assert!(!members.text.contains(&root), "{}", members.text);
    let rooted = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/members/{root}"), None).await;
    assert_eq!(rooted.status, StatusCode::NOT_FOUND);
    let account = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}"), None).await;
    assert_eq!(account.body["owner_id"], Value::Null, "{}", account.text);
    assert!(!account.text.contains(&root));
    // Nor does the account-users view show the root owner's email.
    let users = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/users"), None).await;
    assert_eq!(users.status, StatusCode::OK, "{}", users.text);
    assert!(!users.text.contains("root@example.com"), "{}", users.text);
    assert_eq!(users.body["owner"], Value::Null);
    let one = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/users/{root}"), None).await;
    assert_eq!(one.status, StatusCode::NOT_FOUND);

    // Root itself still sees who acted.
    let full = app.get(&format!("/v1/accounts/{a}/logs/audit")).await;
    assert!(
        full.body["events"]
            .as_array()
            .expect("events")
            .iter()
            .all(|e| e["actor"]["type"] == "platform" && e["actor"]["email"] == "root@example.com")
    );
    assert_eq!(app.get(&format!("/v1/accounts/{a}")).await.body["owner_id"], root.as_str());
    // Filtering by the root token's id (which root sees) finds nothing for a tenant.
    let token_id = full.body["events"][0]["actor"]["id"].as_str().expect("root's token id").to_owned();
    let filtered = format!("/v1/accounts/{a}/logs/audit?actor_id={token_id}");
    assert!(!app.get(&filtered).await.body["events"].as_array().expect("events").is_empty());
    let tenant = call(&app, &admins, Method::GET, &filtered, None).await;
    assert_eq!((tenant.status, tenant.body["events"].clone()), (StatusCode::OK, json!([])), "{}", tenant.text);
}

/// Review of issue 16, item 3: `mfa:write` is a grant of the token only (no member role holds
/// it), so a member's token allowing `tokens:write` but not `mfa:write` must not roll, update
/// or create a token of its user that allows it.
#[tokio::test]
async fn a_token_without_mfa_write_cannot_reach_one_that_has_it() {
    let app = spawn_app().await;
    let (_, a) = owned_agency(&app).await;
    let member = create_user(&app, "member@example.com").await;
    put_member(&app, &a, &member, "member").await;
    let with_mfa = token_for(
        &app,
        &a,
        &member,
        json!({"policies": [{"effect": "allow", "permission_groups": ["mfa:write"], "resources": []}]}),
    )
    .await;
    let full = token_for(&app, &a, &member, json!({})).await;
    let narrow = secret(&token_for(
        &app,
        &a,
        &member,
        json!({"policies": [{"effect": "allow", "permission_groups": ["tokens:read", "tokens:write"], "resources": []}]}),
    )
    .await);

    for target in [&with_mfa, &full] {
        let uri = format!("/v1/accounts/{a}/tokens/{}", id(target));
        let rolled = call(&app, &narrow, Method::PUT, &format!("{uri}/value"), None).await;
        assert_eq!(rolled.status, StatusCode::FORBIDDEN, "{}", rolled.text);
        assert!(rolled.body.get("value").is_none(), "no secret is handed out");
        let renamed = call(&app, &narrow, Method::PUT, &uri, Some(&json!({"name": "mine"}).to_string())).await;
        assert_eq!(renamed.status, StatusCode::FORBIDDEN, "{}", renamed.text);
        let deleted = call(&app, &narrow, Method::DELETE, &uri, None).await;
        assert_eq!(deleted.status, StatusCode::FORBIDDEN, "{}", deleted.text);
    }
    // Nor can it mint one: with mfa:write named, or a full token by default.
    let uri = format!("/v1/accounts/{a}/tokens");
    for body in [
        json!({"name": "mint", "policies": [{"effect": "allow", "permission_groups": ["mfa:write"], "resources": []}]}),
        json!({"name": "mint", "policies": [{"effect": "allow", "permission_groups": ["accounts:read", "accounts:write",
            "members:read", "members:write", "tokens:read", "tokens:write", "aliases:read", "aliases:write",
            "subscriptions:read", "subscriptions:write", "audit:read", "users:mfa_reset"], "resources": []}]}),
    ] {
        let minted = call(&app, &narrow, Method::POST, &uri, Some(&body.to_string())).await;
        assert_eq!(minted.status, StatusCode::FORBIDDEN, "{}", minted.text);
    }
    let default = call(&app, &narrow, Method::POST, &uri, Some(&json!({"name": "mint"}).to_string())).await;
    assert_eq!(default.status, StatusCode::CREATED, "{}", default.text);
    let enrolled = call(&app, &secret(&default.body), Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(
        enrolled.status,
        StatusCode::FORBIDDEN,
        "the default token is as narrow as its maker: {}",
        enrolled.text
    );
    // The user's full token (which implies mfa:write) may still roll it, and the result enrols.
    let roll = format!("/v1/accounts/{a}/tokens/{}/value", id(&with_mfa));
    let rolled = call(&app, &secret(&full), Method::PUT, &roll, None).await;
    assert_eq!(rolled.status, StatusCode::OK, "{}", rolled.text);
    let enrolled = call(&app, &secret(&rolled.body), Method::POST, "/v1/me/mfa/totp", None).await;
    assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
}

/// Review of issue 16, item 9: a token whose policy covers descendants reaches a child
/// account its user owns; an administrator of the parent must not govern it.
#[tokio::test]
async fn an_administrator_of_a_parent_cannot_govern_the_token_of_a_childs_owner() {
    let app = spawn_app().await;
    let (_, p) = owned_agency(&app).await;
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &p, &admin, "administrator").await;
    let child_owner = create_user(&app, "child@example.com").await;
    put_member(&app, &p, &child_owner, "member").await;
    let child =
        app.post("/v1/accounts", &json!({"name": "Child", "parent_id": p, "owner_id": child_owner}).to_string()).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    let c = id(&child.body);
    let owners = token_for(
        &app,
        &p,
        &child_owner,
        json!({"policies": [{"effect": "allow", "permission_groups": ["accounts:read"], "resources": []}]}),
    )
    .await;
    let admins = secret(&token_for(&app, &p, &admin, json!({})).await);
    let uri = format!("/v1/accounts/{p}/tokens/{}", id(&owners));
    for (method, body) in [(Method::PUT, Some(json!({"status": "disabled"}))), (Method::DELETE, None)] {
        let reply = call(&app, &admins, method, &uri, body.map(|b| b.to_string()).as_deref()).await;
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{}", reply.text);
    }
    let read = call(&app, &secret(&owners), Method::GET, &format!("/v1/accounts/{c}"), None).await;
    assert_eq!(read.status, StatusCode::OK, "the child owner's token still works: {}", read.text);
    // A plain member's token is still the administrator's to manage.
    let other = create_user(&app, "plain@example.com").await;
    put_member(&app, &p, &other, "member").await;
    let plain = token_for(
        &app,
        &p,
        &other,
        json!({"policies": [{"effect": "allow", "permission_groups": ["accounts:read"], "resources": []}]}),
    )
    .await;
    let disabled = call(
        &app,
        &admins,
        Method::PUT,
        &format!("/v1/accounts/{p}/tokens/{}", id(&plain)),
        Some(&json!({"status": "disabled"}).to_string()),
    )
    .await;
    assert_eq!(disabled.status, StatusCode::OK, "{}", disabled.text);
    assert_eq!(disabled.body["status"], "disabled");
}

/// Review of issue 16, item 4 under concurrency: two root users demoting each other at once
/// serialize on the root rows (locked first, in one order): never a deadlock (500), exactly
/// one wins, the other is refused as the last root (422), as a conflict (409), or — when it
/// was authenticated after the winner committed — as no longer root (403).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_roots_demoting_each_other_at_once_leave_exactly_one() {
    for backend in crate::BACKENDS {
        let app = std::sync::Arc::new(crate::spawn_app_on(backend).await);
        let first = id(&app.get("/v1/me").await.body);
        let mut survivor = (first.clone(), String::new());
        let platform_token = |user: String| {
            let app = &app;
            async move {
                let made = app.post(&format!("/v1/users/{user}/tokens"), &json!({"name": "root"}).to_string()).await;
                assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
                secret(&made.body)
            }
        };
        survivor.1 = platform_token(first.clone()).await;
        for round in 0..20 {
            let body =
                json!({"email": format!("root{round}@example.com"), "root_permissions": ["users:read", "users:write"]});
            let made = call(&app, &survivor.1, Method::POST, "/v1/users", Some(&body.to_string())).await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
            let newcomer = id(&made.body);
            let made = call(
                &app,
                &survivor.1,
                Method::POST,
                &format!("/v1/users/{newcomer}/tokens"),
                Some(&json!({"name": "root"}).to_string()),
            )
            .await;
            assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
            let newcomer = (newcomer, secret(&made.body));
            if round == 0 {
                // From here on the two contenders are the only roots with users:write.
                let body = json!({"root_permissions": []}).to_string();
                let step = call(&app, &newcomer.1, Method::PATCH, &format!("/v1/users/{first}"), Some(&body)).await;
                assert_eq!(step.status, StatusCode::OK, "{}", step.text);
            }
            // Each on its own task, so the two transactions really run at once.
            let demote = |caller: &(String, String), target: &(String, String)| {
                let (app, token, uri) = (app.clone(), caller.1.clone(), format!("/v1/users/{}", target.0));
                tokio::spawn(async move {
                    call(&app, &token, Method::PATCH, &uri, Some(&json!({"root_permissions": []}).to_string())).await
                })
            };
            let (by_survivor, by_newcomer) = (demote(&survivor, &newcomer), demote(&newcomer, &survivor));
            let (by_survivor, by_newcomer) = (by_survivor.await.expect("task"), by_newcomer.await.expect("task"));
            let statuses = [by_survivor.status, by_newcomer.status];
            let won: Vec<bool> = statuses.iter().map(|s| *s == StatusCode::OK).collect();
            assert_eq!(
                won.iter().filter(|w| **w).count(),
                1,
                "{backend:?}: {statuses:?} {} {}",
                by_survivor.text,
                by_newcomer.text
            );
            for reply in [&by_survivor, &by_newcomer].into_iter().filter(|r| r.status != StatusCode::OK) {
                assert!(
                    // 403 when the winner committed before the loser was even authenticated.
                    [StatusCode::UNPROCESSABLE_ENTITY, StatusCode::CONFLICT, StatusCode::FORBIDDEN]
                        .contains(&reply.status),
                    "{backend:?}: {} {}",
                    reply.status,
                    reply.text
                );
            }
            if won[1] {
                survivor = newcomer;
            }
        }
    }
}

/// Review of issue 16, item 14: a root user's token bound to a tenant's account shows no
/// `user_id` to the tenant, and a platform call's request origin (ip, user agent, request
/// id) is blanked in the tenant's audit trail; root still sees both.
#[tokio::test]
async fn tenants_see_neither_a_root_tokens_user_nor_a_platform_calls_origin() {
    let app = spawn_app().await;
    let root = id(&app.get("/v1/me").await.body);
    let a = id(&app.create_account("Rooted").await);
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &a, &admin, "administrator").await;
    let roots = token_for(&app, &a, &root, json!({})).await;
    let admins = secret(&token_for(&app, &a, &admin, json!({})).await);
    let headers = [("x-request-id", "root-request-1"), ("user-agent", "root-agent/1.0")];
    let patched = app.send(Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"name":"Rooted 2"}"#), &headers).await;
    assert_eq!(patched.status, StatusCode::OK, "{}", patched.text);

    let listed = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/tokens"), None).await;
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.text);
    let tokens = listed.body["tokens"].as_array().expect("tokens");
    let shown = tokens.iter().find(|t| t["id"] == roots["id"]).expect("root's token is listed");
    assert_eq!(shown["user_id"], Value::Null, "{shown}");
    assert!(tokens.iter().any(|t| t["user_id"] == admin.as_str()), "tenants' own ids stay: {}", listed.text);
    assert!(!listed.text.contains(&root), "{}", listed.text);
    let one = call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/tokens/{}", id(&roots)), None).await;
    assert_eq!((one.status, one.body["user_id"].clone()), (StatusCode::OK, Value::Null), "{}", one.text);
    let as_root = app.get(&format!("/v1/accounts/{a}/tokens/{}", id(&roots))).await;
    assert_eq!(as_root.body["user_id"], root.as_str());

    let trail =
        call(&app, &admins, Method::GET, &format!("/v1/accounts/{a}/logs/audit?action_type=account.update"), None)
            .await;
    let events = trail.body["events"].as_array().expect("events");
    assert_eq!(events.len(), 1, "{}", trail.text);
    assert_eq!(events[0]["request"], json!({"ip": null, "user_agent": null, "request_id": null}), "{}", trail.text);
    assert!(!trail.text.contains("root-request-1") && !trail.text.contains("root-agent"), "{}", trail.text);
    let full = app.get(&format!("/v1/accounts/{a}/logs/audit?action_type=account.update")).await;
    assert_eq!(full.body["events"][0]["request"]["request_id"], "root-request-1", "{}", full.text);
}

/// Review of issue 16, item 11, made deterministic: a demotion waiting for the root rows
/// holds no lock on its target yet. Another transaction holds the first root's row (as a
/// concurrent demotion does); the demotion of the second root queues; that transaction
/// then locks every root row — which, had the demotion locked its target first, would be a
/// deadlock (PostgreSQL aborts one: a 500 before, a 409 with the fixed ordering undone).
/// Both go through.
#[tokio::test]
async fn a_demotion_waiting_for_the_root_rows_holds_no_lock_on_its_target() {
    for backend in crate::BACKENDS {
        let app = std::sync::Arc::new(crate::spawn_app_on(backend).await);
        let first = id(&app.get("/v1/me").await.body);
        let body = json!({"email": "second@example.com", "root_permissions": ["users:read", "users:write"]});
        let second = id(&app.post("/v1/users", &body.to_string()).await.body);
        let uid = |id: &str| accountd_domain::UserId::parse(id, "id").expect("a user id");
        let mut held = app.store.begin().await.expect("begin");
        held.find_user(uid(&first)).await.expect("lock the first root's row");
        let demotion = {
            let (app, uri) = (app.clone(), format!("/v1/users/{second}"));
            tokio::spawn(async move {
                let body = json!({"root_permissions": []}).to_string();
                app.send(Method::PATCH, &uri, Some(&body), &[]).await
            })
        };
        tokio::time::sleep(std::time::Duration::from_millis(300)).await;
        let roots = tokio::time::timeout(std::time::Duration::from_secs(10), held.root_users()).await;
        let roots = roots.expect("no wait on the demotion").expect("no deadlock");
        assert_eq!(roots.len(), 2, "{backend:?}");
        drop(held);
        let reply = demotion.await.expect("task");
        assert_eq!(reply.status, StatusCode::OK, "{backend:?}: {}", reply.text);
        assert_eq!(reply.body["root_permissions"], json!([]));
    }
}
