//! Domains, email aliases, mailbox passwords and mailbox authentication over REST (seeds
//! 000 and 001).

use std::collections::HashSet;

use accountd_domain::LocalPart;
use accountd_domain::{AliasId, DomainName};
use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{Reply, TestApp, create_user, put_member, spawn_app, token_for};

const NOTE: &str = "Save this password now. It will not be shown again.";

async fn domain(app: &TestApp, name: &str, status: &str) -> Value {
    let reply = app.post("/v1/domains", &json!({"name": name, "status": status}).to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body
}

async fn create_alias(app: &TestApp, account: &str, body: Value) -> Reply {
    app.post(&format!("/v1/accounts/{account}/aliases"), &body.to_string()).await
}

async fn login(app: &TestApp, address: &str, password: &str) -> Reply {
    app.post("/v1/mailbox-auth", &json!({"address": address, "password": password}).to_string()).await
}

fn id(value: &Value) -> String {
    value["id"].as_str().expect("id").to_owned()
}

#[tokio::test]
async fn root_manages_domains_and_names_are_normalized_and_unique() {
    let app = spawn_app().await;
    let created = domain(&app, "Mail.Example.COM.", "pending").await;
    assert_eq!((created["name"].as_str(), created["status"].as_str()), (Some("mail.example.com"), Some("pending")));
    let dup = app.post("/v1/domains", r#"{"name":"MAIL.example.com"}"#).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
    let bad = app.post("/v1/domains", r#"{"name":"localhost","status":"live"}"#).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["name", "status"]);
    let by_name = app.get("/v1/domains/mail.example.com").await;
    assert_eq!((by_name.status, by_name.header("etag")), (StatusCode::OK, "\"1\""));
    let stale = app
        .send(Method::PATCH, "/v1/domains/mail.example.com", Some(r#"{"status":"active"}"#), &[("if-match", "\"7\"")])
        .await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let uri = format!("/v1/domains/{}", id(&created));
    let active = app.send(Method::PATCH, &uri, Some(r#"{"status":"active"}"#), &[("if-match", "\"1\"")]).await;
    assert_eq!((active.status, active.body["status"].as_str()), (StatusCode::OK, Some("active")), "{}", active.text);
    let listed = app.get("/v1/domains").await;
    assert_eq!(listed.body["domains"].as_array().map(Vec::len), Some(1));
    assert_eq!(app.get("/v1/domains/unknown.example.com").await.status, StatusCode::NOT_FOUND);
    assert_eq!(app.send(Method::DELETE, &uri, None, &[]).await.status, StatusCode::NO_CONTENT);
    assert_eq!(app.get(&uri).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_root_changes_domains_but_every_member_reads_them() {
    let app = spawn_app().await;
    domain(&app, "example.com", "active").await;
    let account = id(&app.create_account("Acme").await);
    let user = create_user(&app, "admin@example.com").await;
    put_member(&app, &account, &user, "administrator").await;
    let token = token_for(&app, &account, &user, json!({})).await["value"].as_str().expect("secret").to_owned();
    let bearer = format!("Bearer {token}");
    let auth = [("authorization", bearer.as_str())];
    let create = app.send_raw(Method::POST, "/v1/domains", Some(r#"{"name":"evil.example"}"#), &auth).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.text);
    let patch = app.send_raw(Method::PATCH, "/v1/domains/example.com", Some(r#"{"status":"disabled"}"#), &auth).await;
    assert_eq!(patch.status, StatusCode::FORBIDDEN);
    let delete = app.send_raw(Method::DELETE, "/v1/domains/example.com", None, &auth).await;
    assert_eq!(delete.status, StatusCode::FORBIDDEN);
    let read = app.send_raw(Method::GET, "/v1/domains", None, &auth).await;
    assert_eq!((read.status, read.body["domains"][0]["status"].as_str()), (StatusCode::OK, Some("active")));
    assert_eq!(app.send_raw(Method::GET, "/v1/domains", None, &[]).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn aliases_are_created_only_on_active_domains_with_a_password_shown_once() {
    let app = spawn_app().await;
    let account = id(&app.create_account("Acme").await);
    domain(&app, "pending.example.com", "pending").await;
    domain(&app, "disabled.example.com", "disabled").await;
    for name in ["pending.example.com", "disabled.example.com"] {
        let refused = create_alias(&app, &account, json!({"local_part": "billing", "domain": name})).await;
        assert_eq!(refused.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refused.text);
        assert_eq!(refused.body["type"], "urn:accountd:problem:failed-precondition", "{}", refused.text);
        let detail = refused.body["detail"].as_str().unwrap_or_default();
        assert!(detail.contains("only on active domains") && detail.contains(name), "{detail}");
    }
    let d = domain(&app, "customer.com", "active").await;
    let created = create_alias(
        &app,
        &account,
        json!({"local_part": "Billing", "domain": "customer.com", "display_name": "Billing"}),
    )
    .await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!(created.body["note"], NOTE);
    let password = created.body["password"].as_str().expect("password").to_owned();
    assert!(password.len() >= 20 && password.chars().all(|c| c.is_ascii_alphanumeric()), "{password}");
    let alias = &created.body["alias"];
    assert_eq!(alias["address"], "billing@customer.com");
    assert_eq!((alias["domain_id"].as_str(), alias["has_password"].as_bool()), (d["id"].as_str(), Some(true)));
    let alias_id = id(alias);
    let read = app.get(&format!("/v1/accounts/{account}/aliases/{alias_id}")).await;
    assert_eq!((read.status, read.header("etag")), (StatusCode::OK, "\"1\""));
    let listed = app.get(&format!("/v1/accounts/{account}/aliases")).await;
    for reply in [&read, &listed] {
        assert!(!reply.text.contains(&password) && !reply.text.contains("argon2"), "{}", reply.text);
    }
    let stored = app
        .store
        .find_mailbox(&LocalPart::parse("billing").expect("v"), &DomainName::parse("customer.com").expect("v"))
        .await
        .expect("read")
        .expect("found");
    let hash = stored.password_hash.expect("hash");
    assert!(hash.starts_with("$argon2id$v=19$") && !hash.contains(&password), "{hash}");
    let dup = create_alias(&app, &account, json!({"local_part": "BILLING", "domain": "CUSTOMER.com"})).await;
    assert_eq!(dup.status, StatusCode::CONFLICT, "{}", dup.text);
}

#[tokio::test]
async fn bad_alias_input_names_every_field() {
    let app = spawn_app().await;
    let account = id(&app.create_account("Acme").await);
    domain(&app, "customer.com", "active").await;
    let reply = create_alias(
        &app,
        &account,
        json!({"local_part": "two..dots", "domain": "customer.com", "password": "short", "user_id": "x"}),
    )
    .await;
    assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(reply.error_fields(), ["local_part", "user_id", "password"]);
    let long = create_alias(&app, &account, json!({"local_part": "a".repeat(65), "domain": "customer.com"})).await;
    assert_eq!(long.error_fields(), ["local_part"]);
    let no_domain = create_alias(&app, &account, json!({"local_part": "a"})).await;
    assert_eq!(no_domain.error_fields(), ["domain"]);
    let unknown = create_alias(&app, &account, json!({"local_part": "a", "domain": "nowhere.example"})).await;
    assert_eq!((unknown.status, unknown.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["domain"]));
    let extra = create_alias(&app, &account, json!({"local_part": "a", "domain": "customer.com", "admin": true})).await;
    assert_eq!(extra.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(extra.text.contains("unknown field `admin`"), "{}", extra.text);
    let weak_reset = app
        .post(
            &format!("/v1/accounts/{account}/aliases/{}/password/reset", AliasId::from_uuid(uuid::Uuid::now_v7())),
            r#"{"password":"abc"}"#,
        )
        .await;
    assert_eq!(weak_reset.error_fields(), ["password"]);
    let listed = app.get(&format!("/v1/accounts/{account}/aliases")).await;
    assert_eq!(listed.body["aliases"].as_array().map(Vec::len), Some(0), "nothing was written");
}

#[tokio::test]
async fn fifty_concurrent_creations_of_one_address_make_exactly_one() {
    let app = spawn_app().await;
    let account = id(&app.create_account("Acme").await);
    domain(&app, "customer.com", "active").await;
    let app = std::sync::Arc::new(app);
    let tasks: Vec<_> = (0..50)
        .map(|i| {
            let (app, account) = (app.clone(), account.clone());
            let local = if i % 2 == 0 { "race" } else { "RACE" };
            tokio::spawn(async move {
                create_alias(&app, &account, json!({"local_part": local, "domain": "customer.com"})).await.status
            })
        })
        .collect();
    let mut statuses = Vec::new();
    for task in tasks {
        statuses.push(task.await.expect("task"));
    }
    assert_eq!(statuses.iter().filter(|s| **s == StatusCode::CREATED).count(), 1, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == StatusCode::CREATED || *s == StatusCode::CONFLICT), "{statuses:?}");
}

#[tokio::test]
async fn a_reset_password_replaces_the_old_one_for_mailbox_auth() {
    let app = spawn_app().await;
    let account = id(&app.create_account("Acme").await);
    domain(&app, "customer.com", "active").await;
    let created = create_alias(
        &app,
        &account,
        json!({"local_part": "info", "domain": "customer.com", "password": "Correct-Horse-9"}),
    )
    .await;
    assert_eq!(created.body["password"], "Correct-Horse-9");
    let alias = id(&created.body["alias"]);
    let ok = login(&app, "Info@Customer.com", "Correct-Horse-9").await;
    assert_eq!((ok.status, ok.body["ok"].as_bool()), (StatusCode::OK, Some(true)), "{}", ok.text);
    assert_eq!(
        (ok.body["alias_id"].as_str(), ok.body["account_id"].as_str()),
        (Some(alias.as_str()), Some(account.as_str()))
    );
    let reset_uri = format!("/v1/accounts/{account}/aliases/{alias}/password/reset");
    let reset = app.send(Method::POST, &reset_uri, None, &[]).await;
    assert_eq!((reset.status, reset.body["note"].as_str()), (StatusCode::OK, Some(NOTE)), "{}", reset.text);
    let new_password = reset.body["password"].as_str().expect("password").to_owned();
    assert_ne!(new_password, "Correct-Horse-9");
    assert_eq!(login(&app, "info@customer.com", "Correct-Horse-9").await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "info@customer.com", &new_password).await.status, StatusCode::OK);
    let chosen = app.post(&reset_uri, r#"{"password":"Another-Good-Pass-7"}"#).await;
    assert_eq!(chosen.body["password"], "Another-Good-Pass-7");
    assert_eq!(login(&app, "info@customer.com", &new_password).await.status, StatusCode::UNAUTHORIZED);
    assert_eq!(login(&app, "info@customer.com", "Another-Good-Pass-7").await.status, StatusCode::OK);
    let events = app.get(&format!("/v1/accounts/{account}/logs/audit?action_type=alias.password_reset")).await;
    assert_eq!(events.body["events"].as_array().map(Vec::len), Some(2), "{}", events.text);
    for secret in ["Correct-Horse-9", new_password.as_str(), "Another-Good-Pass-7", "argon2"] {
        assert!(!events.text.contains(secret), "the audit trail holds no secret");
    }
}

#[tokio::test]
async fn mailbox_auth_is_throttled_per_address_and_needs_a_platform_caller() {
    let app = spawn_app().await;
    let account = id(&app.create_account("Acme").await);
    domain(&app, "customer.com", "active").await;
    create_alias(
        &app,
        &account,
        json!({"local_part": "info", "domain": "customer.com", "password": "Correct-Horse-9"}),
    )
    .await;
    for _ in 0..5 {
        let wrong = login(&app, "info@customer.com", "Wrong-Horse-9").await;
        assert_eq!(wrong.status, StatusCode::UNAUTHORIZED, "{}", wrong.text);
    }
    let locked = login(&app, "info@customer.com", "Correct-Horse-9").await;
    assert_eq!(locked.status, StatusCode::TOO_MANY_REQUESTS, "{}", locked.text);
    assert!(locked.header("retry-after").parse::<u64>().is_ok_and(|s| s >= 1), "{:?}", locked.headers);
    let other = login(&app, "nobody@customer.com", "Correct-Horse-9").await;
    assert_eq!(other.status, StatusCode::UNAUTHORIZED, "another address is not locked");
    let body = r#"{"address":"info@customer.com","password":"Correct-Horse-9"}"#;
    assert_eq!(app.send_raw(Method::POST, "/v1/mailbox-auth", Some(body), &[]).await.status, StatusCode::UNAUTHORIZED);
    let user = create_user(&app, "admin@example.com").await;
    put_member(&app, &account, &user, "administrator").await;
    let token = token_for(&app, &account, &user, json!({})).await["value"].as_str().expect("secret").to_owned();
    let bearer = format!("Bearer {token}");
    let tenant = app.send_raw(Method::POST, "/v1/mailbox-auth", Some(body), &[("authorization", &bearer)]).await;
    assert_eq!(tenant.status, StatusCode::FORBIDDEN, "a tenant cannot probe passwords");
    let malformed = login(&app, "not-an-address", "x").await;
    assert_eq!(malformed.error_fields(), ["address"]);
}

#[tokio::test]
async fn an_account_is_created_with_its_primary_alias_or_not_at_all() {
    let app = spawn_app().await;
    let active = id(&domain(&app, "customer.com", "active").await);
    let pending = id(&domain(&app, "pending.example.com", "pending").await);
    let accounts_before = app.get("/v1/accounts").await.body["accounts"].as_array().map(Vec::len);
    let create = |name: &str, local: &str, domain: &str| {
        json!({"name": name, "local_part": local, "domain_id": domain}).to_string()
    };
    let invalid = app.post("/v1/accounts", &create("Bad", "bad..local", &active)).await;
    assert_eq!((invalid.status, invalid.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["local_part"]));
    let half = app.post("/v1/accounts", &json!({"name": "Half", "local_part": "half"}).to_string()).await;
    assert_eq!(half.error_fields(), ["domain_id"]);
    let inactive = app.post("/v1/accounts", &create("Pending", "hello", &pending)).await;
    assert_eq!(inactive.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", inactive.text);
    assert_eq!(inactive.body["type"], "urn:accountd:problem:failed-precondition", "{}", inactive.text);
    let unchanged = app.get("/v1/accounts").await.body["accounts"].as_array().map(Vec::len);
    assert_eq!(unchanged, accounts_before, "a refused primary alias leaves no account behind");
    let created = app.post("/v1/accounts", &create("Acme", "Hello", &active)).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    let primary = &created.body["primary_alias"];
    assert_eq!(
        (primary["address"].as_str(), primary["is_primary"].as_bool()),
        (Some("hello@customer.com"), Some(true))
    );
    assert_eq!(primary["has_password"], false);
    let taken = app.post("/v1/accounts", &create("Copy", "HELLO", &active)).await;
    assert_eq!(taken.status, StatusCode::CONFLICT, "{}", taken.text);
    let accounts_after = app.get("/v1/accounts").await.body["accounts"].as_array().map(Vec::len);
    assert_eq!(accounts_after, accounts_before.map(|n| n + 1), "only the account whose alias was accepted exists");
    let plain = app.get(&format!("/v1/accounts/{}", id(&created.body))).await;
    assert!(plain.body.get("primary_alias").is_none(), "reads do not carry the alias");
}

#[tokio::test]
async fn deleting_an_account_deletes_its_aliases_and_credentials_and_keeps_the_trail() {
    let app = spawn_app().await;
    let d = id(&domain(&app, "customer.com", "active").await);
    let created =
        app.post("/v1/accounts", &json!({"name": "Acme", "local_part": "hello", "domain_id": d}).to_string()).await;
    let account = id(&created.body);
    let extra = create_alias(
        &app,
        &account,
        json!({"local_part": "info", "domain": "customer.com", "password": "Correct-Horse-9"}),
    )
    .await;
    let alias = id(&extra.body["alias"]);
    let primary = id(&created.body["primary_alias"]);
    let refuse_primary =
        app.send(Method::DELETE, &format!("/v1/accounts/{account}/aliases/{primary}"), None, &[]).await;
    assert_eq!(refuse_primary.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", refuse_primary.text);
    assert_eq!(refuse_primary.body["type"], "urn:accountd:problem:failed-precondition", "{}", refuse_primary.text);
    let kept = app.get(&format!("/v1/accounts/{account}/aliases/{primary}")).await;
    assert_eq!(kept.status, StatusCode::OK, "the primary alias stays: {}", kept.text);
    assert_eq!(
        app.send(Method::DELETE, &format!("/v1/accounts/{account}"), None, &[]).await.status,
        StatusCode::NO_CONTENT
    );
    assert_eq!(app.get(&format!("/v1/accounts/{account}/aliases/{alias}")).await.status, StatusCode::NOT_FOUND);
    assert_eq!(login(&app, "info@customer.com", "Correct-Horse-9").await.status, StatusCode::UNAUTHORIZED);
    let on_domain = app.get("/v1/domains/customer.com/aliases").await;
    assert_eq!(on_domain.body["aliases"].as_array().map(Vec::len), Some(0), "{}", on_domain.text);
    let trail = app.get(&format!("/v1/accounts/{account}/logs/audit")).await;
    let actions: HashSet<&str> =
        trail.body["events"].as_array().into_iter().flatten().filter_map(|e| e["action"]["type"].as_str()).collect();
    assert!(actions.contains("alias.create") && actions.contains("account.delete"), "{actions:?}");
    assert_eq!(app.send(Method::DELETE, "/v1/domains/customer.com", None, &[]).await.status, StatusCode::NO_CONTENT);
}

#[tokio::test]
async fn aliases_are_seen_only_by_those_who_may_read_them() {
    let app = spawn_app().await;
    domain(&app, "customer.com", "active").await;
    let acme = id(&app.create_account("Acme").await);
    let other = id(&app.create_account("Other").await);
    let viewer = create_user(&app, "viewer@example.com").await;
    put_member(&app, &acme, &viewer, "viewer").await;
    let member = create_user(&app, "member@example.com").await;
    put_member(&app, &acme, &member, "member").await;
    let stranger = create_user(&app, "stranger@example.com").await;
    put_member(&app, &other, &stranger, "administrator").await;
    let secret = |v: Value| v["value"].as_str().expect("secret").to_owned();
    let viewer_token = secret(token_for(&app, &acme, &viewer, json!({})).await);
    let member_token = secret(token_for(&app, &acme, &member, json!({})).await);
    let stranger_token = secret(token_for(&app, &other, &stranger, json!({})).await);
    let mine =
        create_alias(&app, &acme, json!({"local_part": "ada", "domain": "customer.com", "user_id": member})).await;
    assert_eq!(
        (mine.status, mine.body["alias"]["is_default"].as_bool()),
        (StatusCode::CREATED, Some(true)),
        "{}",
        mine.text
    );
    create_alias(&app, &other, json!({"local_part": "theirs", "domain": "customer.com"})).await;
    let call = |token: &str, method: Method, uri: String, body: Option<&'static str>| {
        let bearer = format!("Bearer {token}");
        let app = &app;
        async move { app.send_raw(method, &uri, body, &[("authorization", bearer.as_str())]).await }
    };
    let acme_aliases = format!("/v1/accounts/{acme}/aliases");
    assert_eq!(call(&stranger_token, Method::GET, acme_aliases.clone(), None).await.status, StatusCode::NOT_FOUND);
    let alias = id(&mine.body["alias"]);
    let one = format!("{acme_aliases}/{alias}");
    assert_eq!(call(&stranger_token, Method::GET, one.clone(), None).await.status, StatusCode::NOT_FOUND);
    let wrong_account = format!("/v1/accounts/{other}/aliases/{alias}");
    assert_eq!(app.get(&wrong_account).await.status, StatusCode::NOT_FOUND, "an alias is found only under its account");
    assert_eq!(call(&viewer_token, Method::GET, one.clone(), None).await.status, StatusCode::OK);
    let body = Some(r#"{"local_part":"x","domain":"customer.com"}"#);
    assert_eq!(call(&viewer_token, Method::POST, acme_aliases.clone(), body).await.status, StatusCode::FORBIDDEN);
    let disable = Some(r#"{"status":"disabled"}"#);
    assert_eq!(call(&viewer_token, Method::PATCH, one.clone(), disable).await.status, StatusCode::FORBIDDEN);
    let updated = call(&member_token, Method::PUT, one.clone(), disable).await;
    assert_eq!(
        (updated.status, updated.body["status"].as_str()),
        (StatusCode::OK, Some("disabled")),
        "{}",
        updated.text
    );
    let addresses = |reply: Reply| -> Vec<String> {
        reply.body["aliases"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|a| a["address"].as_str().map(str::to_owned))
            .collect()
    };
    let everywhere = addresses(call(&stranger_token, Method::GET, "/v1/aliases".into(), None).await);
    assert_eq!(everywhere, ["theirs@customer.com"]);
    let on_domain = addresses(call(&viewer_token, Method::GET, "/v1/domains/customer.com/aliases".into(), None).await);
    assert_eq!(on_domain, ["ada@customer.com"]);
    let by_user = addresses(app.get(&format!("/v1/aliases?user_id={member}&domain=customer.com")).await);
    assert_eq!(by_user, ["ada@customer.com"]);
    let root_sees_all = addresses(app.get("/v1/domains/customer.com/aliases").await);
    assert_eq!(root_sees_all.len(), 2);
}

#[tokio::test]
async fn a_token_narrowed_to_aliases_read_cannot_create_or_reset() {
    let app = spawn_app().await;
    domain(&app, "customer.com", "active").await;
    let account = id(&app.create_account("Acme").await);
    let admin = create_user(&app, "admin@example.com").await;
    put_member(&app, &account, &admin, "administrator").await;
    let alias =
        id(&create_alias(&app, &account, json!({"local_part": "info", "domain": "customer.com"})).await.body["alias"]);
    let narrowed =
        token_for(&app, &account, &admin, json!({"policies": [{"permission_groups": ["aliases:read"]}]})).await;
    let bearer = format!("Bearer {}", narrowed["value"].as_str().expect("value"));
    let auth = [("authorization", bearer.as_str())];
    let uri = format!("/v1/accounts/{account}/aliases");
    assert_eq!(app.send_raw(Method::GET, &uri, None, &auth).await.status, StatusCode::OK);
    let body = r#"{"local_part":"new","domain":"customer.com"}"#;
    let create = app.send_raw(Method::POST, &uri, Some(body), &auth).await;
    assert_eq!(create.status, StatusCode::FORBIDDEN, "{}", create.text);
    let reset = app.send_raw(Method::POST, &format!("{uri}/{alias}/password/reset"), None, &auth).await;
    assert_eq!(reset.status, StatusCode::FORBIDDEN);
    let narrow_accounts =
        token_for(&app, &account, &admin, json!({"policies": [{"permission_groups": ["accounts:read"]}]})).await;
    let bearer = format!("Bearer {}", narrow_accounts["value"].as_str().expect("value"));
    let read = app.send_raw(Method::GET, &uri, None, &[("authorization", bearer.as_str())]).await;
    assert_eq!(read.status, StatusCode::FORBIDDEN, "a token without aliases:read cannot list aliases");
}
