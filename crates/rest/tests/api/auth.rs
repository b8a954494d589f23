//! Authentication and authorization over REST: every role against every kind of operation,
//! every kind of bad credential, and the refusals SPEC §2 promises.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{TestApp, create_user, owned_agency, put_member, spawn_app, token_for};

/// An account with one user per role, a user of another account, and a token for each.
struct World {
    app: TestApp,
    account: String,
    other_account: String,
    /// Role name → that user's id and token.
    users: Vec<(&'static str, String, String)>,
    /// A user that is no member yet, target of member writes.
    outsider: String,
    /// A child of the account, where the outsider is a member.
    child: String,
}

impl World {
    fn token(&self, who: &str) -> &str {
        &self.users.iter().find(|(name, _, _)| *name == who).expect("known user").2
    }

    fn user(&self, who: &str) -> &str {
        &self.users.iter().find(|(name, _, _)| *name == who).expect("known user").1
    }

    async fn call(&self, token: &str, method: Method, uri: &str, body: Option<&str>) -> crate::Reply {
        let bearer = format!("Bearer {token}");
        self.app.send_raw(method, uri, body, &[("authorization", &bearer)]).await
    }
}

async fn world() -> World {
    let app = spawn_app().await;
    let (owner, account) = owned_agency(&app).await;
    let other = app.post("/v1/accounts", r#"{"name":"Other"}"#).await.body["id"].as_str().expect("id").to_owned();
    let mut users = vec![("owner", owner.clone(), String::new())];
    for role in ["administrator", "member", "viewer", "billing"] {
        let id = create_user(&app, &format!("{role}@example.com")).await;
        put_member(&app, &account, &id, role).await;
        users.push((role, id, String::new()));
    }
    let stranger = create_user(&app, "stranger@example.com").await;
    put_member(&app, &other, &stranger, "administrator").await;
    for (_, id, token) in users.iter_mut() {
        *token = token_for(&app, &account, id, json!({})).await["value"].as_str().expect("secret").to_owned();
    }
    let stranger_token = token_for(&app, &other, &stranger, json!({})).await["value"].as_str().expect("v").to_owned();
    users.push(("stranger", stranger, stranger_token));
    // A member of a child account: the account's administrators see it, so they may
    // invite it by id (PUT members answers 404 for users the caller cannot see).
    let child = app.post("/v1/accounts", &json!({"name": "Child", "parent_id": account}).to_string()).await;
    let child = child.body["id"].as_str().expect("child id").to_owned();
    let outsider = create_user(&app, "outsider@example.com").await;
    put_member(&app, &child, &outsider, "viewer").await;
    World { app, account, other_account: other, users, outsider, child }
}

/// An operation of the matrix: its name, method, path, body and the roles allowed to do it.
type Operation<'a> = (&'a str, Method, String, Option<String>, &'a [&'a str]);

#[tokio::test]
async fn every_role_gets_the_expected_answer_for_every_kind_of_operation() {
    let w = world().await;
    let a = &w.account;
    let put_body = json!({"roles": ["viewer"]}).to_string();
    // (operation, method, uri, body, roles allowed); a stranger always gets 404, others 403.
    let operations: Vec<Operation> = vec![
        (
            "read account",
            Method::GET,
            format!("/v1/accounts/{a}"),
            None,
            &["owner", "administrator", "member", "viewer", "billing"],
        ),
        (
            "update account",
            Method::PATCH,
            format!("/v1/accounts/{a}"),
            Some(r#"{"name":"Acme 2"}"#.into()),
            &["owner", "administrator"],
        ),
        (
            "list members",
            Method::GET,
            format!("/v1/accounts/{a}/members"),
            None,
            &["owner", "administrator", "member", "viewer"],
        ),
        (
            "put member",
            Method::PUT,
            format!("/v1/accounts/{a}/members/{}", w.outsider),
            Some(put_body),
            &["owner", "administrator"],
        ),
        (
            "list tokens",
            Method::GET,
            format!("/v1/accounts/{a}/tokens"),
            None,
            &["owner", "administrator", "member", "viewer"],
        ),
        (
            "create token",
            Method::POST,
            format!("/v1/accounts/{a}/tokens"),
            Some(r#"{"name":"mine"}"#.into()),
            &["owner", "administrator", "member"],
        ),
        (
            "list roles",
            Method::GET,
            format!("/v1/accounts/{a}/roles"),
            None,
            &["owner", "administrator", "member", "viewer", "billing"],
        ),
        (
            "permission groups",
            Method::GET,
            format!("/v1/accounts/{a}/tokens/permission_groups"),
            None,
            &["owner", "administrator", "member", "viewer", "billing"],
        ),
        (
            "verify token",
            Method::GET,
            format!("/v1/accounts/{a}/tokens/verify"),
            None,
            &["owner", "administrator", "member", "viewer", "billing"],
        ),
        ("list users", Method::GET, "/v1/users".into(), None, &[]),
    ];
    for (name, method, uri, body, allowed) in &operations {
        for (who, _, token) in &w.users {
            let reply = w.call(token, method.clone(), uri, body.as_deref()).await;
            let expected = if allowed.contains(who) {
                if *method == Method::POST { StatusCode::CREATED } else { StatusCode::OK }
            } else if *who == "stranger" && uri.starts_with("/v1/accounts/") {
                StatusCode::NOT_FOUND
            } else {
                StatusCode::FORBIDDEN
            };
            assert_eq!(reply.status, expected, "{who} → {name}: {}", reply.text);
            if expected == StatusCode::NOT_FOUND {
                assert!(!reply.text.contains(a.as_str()), "a stranger must not learn about the account");
            }
        }
    }
    for (who, _, token) in &w.users {
        let me = w.call(token, Method::GET, "/v1/me", None).await;
        assert_eq!(me.status, StatusCode::OK, "{who}");
        let listed = w.call(token, Method::GET, "/v1/accounts", None).await;
        let ids: Vec<&str> =
            listed.body["accounts"].as_array().expect("list").iter().filter_map(|x| x["id"].as_str()).collect();
        if *who == "stranger" {
            assert_eq!(ids, [w.other_account.as_str()], "a stranger lists only its own account");
        } else {
            assert_eq!(
                ids,
                [a.as_str(), w.child.as_str()],
                "{who} lists exactly the account it belongs to and its child"
            );
        }
    }
}

#[tokio::test]
async fn every_kind_of_bad_credential_answers_401() {
    let w = world().await;
    let a = &w.account;
    let viewer = w.user("viewer").to_owned();
    let token = |extra: Value| {
        let w = &w;
        let viewer = viewer.clone();
        async move { token_for(&w.app, a, &viewer, extra).await }
    };
    let expired = token(json!({"expires_on": "2020-01-01T00:00:00Z"})).await;
    let not_yet = token(json!({"not_before": "2999-01-01T00:00:00Z"})).await;
    let disabled = token(json!({"status": "disabled"})).await;
    let ip_refused = token(json!({"condition": {"request_ip": {"in": ["203.0.113.0/24"]}}})).await;
    let rolled = token(json!({})).await;
    let roll_uri = format!("/v1/accounts/{a}/tokens/{}/value", rolled["id"].as_str().expect("id"));
    let new_value = w.app.send(Method::PUT, &roll_uri, None, &[]).await;
    assert_eq!(new_value.status, StatusCode::OK, "{}", new_value.text);
    let unknown = accountd_domain::TokenSecret::generate().expose().to_owned();
    let secret = |t: &Value| t["value"].as_str().expect("value").to_owned();
    let cases: Vec<(&str, Vec<(&str, String)>)> = vec![
        ("no token", vec![]),
        ("malformed", vec![("authorization", "Bearer acd_garbage".into())]),
        ("wrong scheme", vec![("authorization", format!("Basic {}", secret(&rolled)))]),
        ("unknown", vec![("authorization", format!("Bearer {unknown}"))]),
        ("expired", vec![("authorization", format!("Bearer {}", secret(&expired)))]),
        ("not yet valid", vec![("x-api-key", secret(&not_yet))]),
        ("disabled", vec![("authorization", format!("Bearer {}", secret(&disabled)))]),
        ("ip refused", vec![("authorization", format!("Bearer {}", secret(&ip_refused)))]),
        ("rolled away", vec![("authorization", format!("Bearer {}", secret(&rolled)))]),
    ];
    for (name, headers) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for uri in [format!("/v1/accounts/{a}"), "/v1/me".into(), "/v1/accounts".into()] {
            let reply = w.app.send_raw(Method::GET, &uri, None, &headers).await;
            assert_eq!(reply.status, StatusCode::UNAUTHORIZED, "{name} on {uri}: {}", reply.text);
            assert_eq!(reply.header("www-authenticate"), "Bearer");
            assert_eq!(reply.header("content-type"), "application/problem+json");
        }
    }
    let fresh = new_value.body["value"].as_str().expect("value");
    let ok = w.app.send_raw(Method::GET, "/v1/me", None, &[("x-api-key", fresh)]).await;
    assert_eq!(ok.status, StatusCode::OK, "the rolled secret works, through x-api-key too");
}

#[tokio::test]
async fn a_read_only_token_cannot_write_even_for_an_administrator() {
    let w = world().await;
    let a = &w.account;
    let admin = w.user("administrator").to_owned();
    let narrowed = token_for(&w.app, a, &admin, json!({"policies": [{"permission_groups": ["accounts:read"]}]})).await;
    let secret = narrowed["value"].as_str().expect("value");
    assert_eq!(w.call(secret, Method::GET, &format!("/v1/accounts/{a}"), None).await.status, StatusCode::OK);
    let write = w.call(secret, Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"name":"Nope"}"#)).await;
    assert_eq!(write.status, StatusCode::FORBIDDEN);
    let full =
        w.call(w.token("administrator"), Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"name":"Yes"}"#)).await;
    assert_eq!(full.status, StatusCode::OK, "the same user's unrestricted token may write");
}

#[tokio::test]
async fn a_removed_member_and_a_disabled_user_lose_access_at_once() {
    let w = world().await;
    let a = &w.account;
    let uri = format!("/v1/accounts/{a}");
    assert_eq!(w.call(w.token("member"), Method::GET, &uri, None).await.status, StatusCode::OK);
    let removed = w.app.send(Method::DELETE, &format!("{uri}/members/{}", w.user("member")), None, &[]).await;
    assert_eq!(removed.status, StatusCode::NO_CONTENT);
    assert_eq!(w.call(w.token("member"), Method::GET, &uri, None).await.status, StatusCode::NOT_FOUND);
    let disable = w
        .app
        .send(Method::PATCH, &format!("/v1/users/{}", w.user("viewer")), Some(r#"{"status":"disabled"}"#), &[])
        .await;
    assert_eq!(disable.status, StatusCode::OK, "{}", disable.text);
    assert_eq!(w.call(w.token("viewer"), Method::GET, &uri, None).await.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn the_owner_cannot_be_removed_or_demoted_and_owner_is_not_granted_here() {
    let w = world().await;
    let a = &w.account;
    let owner = w.user("owner");
    let member_uri = format!("/v1/accounts/{a}/members/{owner}");
    let demote = w.app.send(Method::PUT, &member_uri, Some(r#"{"roles":["viewer"]}"#), &[]).await;
    assert_eq!(demote.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", demote.text);
    assert_eq!(demote.body["type"], "urn:accountd:problem:failed-precondition", "{}", demote.text);
    let remove = w.app.send(Method::DELETE, &member_uri, None, &[]).await;
    assert_eq!(remove.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(remove.body["type"], "urn:accountd:problem:failed-precondition", "{}", remove.text);
    let kept = w.app.get(&member_uri).await;
    assert_eq!(kept.body["roles"], json!(["owner"]), "the owner stays the owner: {}", kept.text);
    let grant = format!("/v1/accounts/{a}/members/{}", w.user("viewer"));
    let promote = w.app.send(Method::PUT, &grant, Some(r#"{"role":"owner"}"#), &[]).await;
    assert_eq!(promote.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(promote.body["type"], "urn:accountd:problem:failed-precondition", "{}", promote.text);
    let viewer = w.app.get(&grant).await;
    assert_eq!(viewer.body["roles"], json!(["viewer"]), "nobody became an owner: {}", viewer.text);
    let bad = w.app.send(Method::PUT, &grant, Some(r#"{"roles":["emperor"]}"#), &[]).await;
    assert_eq!((bad.status, bad.error_fields()), (StatusCode::UNPROCESSABLE_ENTITY, vec!["roles"]));
}

#[tokio::test]
async fn an_invitation_grants_nothing_until_accepted() {
    let w = world().await;
    let a = &w.account;
    let invite = w
        .app
        .post(&format!("/v1/accounts/{a}/members"), r#"{"email":"New.Person@example.com","roles":["viewer"]}"#)
        .await;
    assert_eq!(invite.status, StatusCode::CREATED, "{}", invite.text);
    assert_eq!(invite.body["status"], "invited");
    let user = invite.body["user_id"].as_str().expect("user").to_owned();
    let again = w
        .app
        .post(&format!("/v1/accounts/{a}/members"), r#"{"email":"new.person@EXAMPLE.com","roles":["viewer"]}"#)
        .await;
    assert_eq!(again.status, StatusCode::CONFLICT, "the same email, in another case, is the same user");
    let token = token_for(&w.app, a, &user, json!({})).await;
    let secret = token["value"].as_str().expect("value");
    assert_eq!(w.call(secret, Method::GET, &format!("/v1/accounts/{a}"), None).await.status, StatusCode::NOT_FOUND);
    let accept =
        w.call(secret, Method::PUT, &format!("/v1/me/memberships/{a}"), Some(r#"{"status":"accepted"}"#)).await;
    assert_eq!((accept.status, accept.body["status"].as_str()), (StatusCode::OK, Some("member")));
    assert_eq!(w.call(secret, Method::GET, &format!("/v1/accounts/{a}"), None).await.status, StatusCode::OK);
    let mine = w.call(secret, Method::GET, "/v1/me/permissions", None).await;
    assert_eq!(mine.body["accounts"][0]["account_id"], a.as_str());
    assert_eq!(mine.body["accounts"][0]["type"], "agency");
    let permissions = mine.body["accounts"][0]["permissions"].as_array().expect("list");
    assert!(permissions.contains(&json!("accounts:read")) && !permissions.contains(&json!("accounts:write")));
    assert_eq!(mine.body["root_permissions"], json!([]));
}

#[tokio::test]
async fn roles_inherited_from_a_parent_apply_to_its_children() {
    let w = world().await;
    let a = &w.account;
    let child =
        w.app.post("/v1/accounts", &json!({"name": "Ads", "type": "ad_account", "parent_id": a}).to_string()).await;
    assert_eq!(child.status, StatusCode::CREATED, "{}", child.text);
    let child_uri = format!("/v1/accounts/{}", child.body["id"].as_str().expect("id"));
    assert_eq!(w.call(w.token("viewer"), Method::GET, &child_uri, None).await.status, StatusCode::OK);
    let patch = w.call(w.token("administrator"), Method::PATCH, &child_uri, Some(r#"{"name":"Ads 2"}"#)).await;
    assert_eq!(patch.status, StatusCode::OK);
    assert_eq!(w.call(w.token("stranger"), Method::GET, &child_uri, None).await.status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_root_creates_top_level_accounts_and_users() {
    let w = world().await;
    let admin = w.token("administrator");
    let top = w.call(admin, Method::POST, "/v1/accounts", Some(r#"{"name":"Mine"}"#)).await;
    assert_eq!(top.status, StatusCode::FORBIDDEN);
    let user = w.call(admin, Method::POST, "/v1/users", Some(r#"{"email":"x@example.com"}"#)).await;
    assert_eq!(user.status, StatusCode::FORBIDDEN);
    let for_other = w
        .call(
            admin,
            Method::POST,
            &format!("/v1/accounts/{}/tokens", w.account),
            Some(&json!({"name": "t", "user_id": w.user("viewer")}).to_string()),
        )
        .await;
    assert_eq!(for_other.status, StatusCode::FORBIDDEN, "only root creates tokens for other users");
}

#[tokio::test]
async fn token_responses_show_the_secret_once_and_a_member_sees_only_its_own_tokens() {
    let w = world().await;
    let a = &w.account;
    let member = w.token("member");
    let created = w.call(member, Method::POST, &format!("/v1/accounts/{a}/tokens"), Some(r#"{"name":"mine"}"#)).await;
    let secret = created.body["value"].as_str().expect("value").to_owned();
    let id = created.body["id"].as_str().expect("id").to_owned();
    let read = w.call(member, Method::GET, &format!("/v1/accounts/{a}/tokens/{id}"), None).await;
    assert_eq!(read.status, StatusCode::OK);
    assert!(!read.text.contains(&secret[4..]), "a read never shows the secret");
    assert!(read.body["hint"].as_str().expect("hint").ends_with(&secret[secret.len() - 4..]));
    let listed = w.call(member, Method::GET, &format!("/v1/accounts/{a}/tokens"), None).await;
    let owners: Vec<&str> =
        listed.body["tokens"].as_array().expect("tokens").iter().filter_map(|t| t["user_id"].as_str()).collect();
    assert!(owners.iter().all(|u| *u == w.user("member")), "{owners:?}");
    let admin_list = w.call(w.token("administrator"), Method::GET, &format!("/v1/accounts/{a}/tokens"), None).await;
    assert!(admin_list.body["tokens"].as_array().expect("tokens").len() > owners.len());
    let viewer_reads = w.call(w.token("viewer"), Method::GET, &format!("/v1/accounts/{a}/tokens/{id}"), None).await;
    assert_eq!(viewer_reads.status, StatusCode::NOT_FOUND, "another member's token is not visible");
}

#[tokio::test]
async fn a_narrowed_token_cannot_mint_a_wider_one_and_tenants_cannot_verify_themselves() {
    let w = world().await;
    let a = &w.account;
    let admin = w.user("administrator").to_owned();
    let narrowed =
        token_for(&w.app, a, &admin, json!({"policies": [{"permission_groups": ["accounts:read", "tokens:write"]}]}))
            .await;
    let secret = narrowed["value"].as_str().expect("value").to_owned();
    let wider = json!({"name": "wider", "policies": [{"permission_groups": ["accounts:write"]}]}).to_string();
    let refused = w.call(&secret, Method::POST, &format!("/v1/accounts/{a}/tokens"), Some(&wider)).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN, "{}", refused.text);
    let by_default =
        w.call(&secret, Method::POST, &format!("/v1/accounts/{a}/tokens"), Some(r#"{"name":"child"}"#)).await;
    assert_eq!(by_default.status, StatusCode::CREATED, "{}", by_default.text);
    let groups = &by_default.body["policies"][0]["permission_groups"];
    assert_eq!(groups, &json!(["accounts:read", "tokens:write"]), "a default policy copies the maker's reach");
    let own = narrowed["id"].as_str().expect("id");
    let widen_self = w
        .call(
            &secret,
            Method::PUT,
            &format!("/v1/accounts/{a}/tokens/{own}"),
            Some(&json!({"policies": [{"permission_groups": ["accounts:write"]}]}).to_string()),
        )
        .await;
    assert_eq!(widen_self.status, StatusCode::FORBIDDEN, "a token cannot widen itself");

    let verify =
        w.call(w.token("owner"), Method::PATCH, &format!("/v1/accounts/{a}"), Some(r#"{"status":"verified"}"#)).await;
    assert_eq!(verify.status, StatusCode::FORBIDDEN, "verification is the platform's to give");
    let detach =
        w.call(w.token("owner"), Method::POST, &format!("/v1/accounts/{a}/move"), Some(r#"{"parent_id":null}"#)).await;
    assert_eq!(detach.status, StatusCode::OK, "a top-level account staying top-level is a no-op");

    let member = w.token("member").to_owned();
    let mine = w.call(&member, Method::POST, &format!("/v1/accounts/{a}/tokens"), Some(r#"{"name":"mine"}"#)).await;
    let mine_id = mine.body["id"].as_str().expect("id").to_owned();
    let disable = w
        .app
        .send(Method::PUT, &format!("/v1/accounts/{a}/tokens/{mine_id}"), Some(r#"{"status":"disabled"}"#), &[])
        .await;
    assert_eq!(disable.status, StatusCode::OK);
    let revive = w
        .call(&member, Method::PUT, &format!("/v1/accounts/{a}/tokens/{mine_id}"), Some(r#"{"status":"active"}"#))
        .await;
    assert_eq!(revive.status, StatusCode::FORBIDDEN, "only an administrator re-enables a disabled token");
}

#[tokio::test]
async fn root_users_get_platform_tokens_and_the_bootstrap_token_can_be_revoked() {
    let app = spawn_app().await;
    let me = app.get("/v1/me").await.body["id"].as_str().expect("id").to_owned();
    let ops =
        app.post("/v1/users", r#"{"email":"ops@example.com","root_permissions":["accounts:read","users:read"]}"#).await;
    let ops_id = ops.body["id"].as_str().expect("id").to_owned();
    let issued = app.post(&format!("/v1/users/{ops_id}/tokens"), r#"{"name":"ops"}"#).await;
    assert_eq!(issued.status, StatusCode::CREATED, "{}", issued.text);
    assert_eq!(issued.body["account_id"], json!(null), "a platform token");
    let ops_token = format!("Bearer {}", issued.body["value"].as_str().expect("value"));
    let users = app.send_raw(Method::GET, "/v1/users", None, &[("authorization", ops_token.as_str())]).await;
    assert_eq!(users.status, StatusCode::OK, "a second root user acts with its platform token");
    let write = app
        .send_raw(
            Method::POST,
            "/v1/users",
            Some(r#"{"email":"x@example.com"}"#),
            &[("authorization", ops_token.as_str())],
        )
        .await;
    assert_eq!(write.status, StatusCode::FORBIDDEN, "no more than its root permissions");
    let plain =
        app.post("/v1/users", r#"{"email":"plain@example.com"}"#).await.body["id"].as_str().expect("id").to_owned();
    let refused = app.post(&format!("/v1/users/{plain}/tokens"), r#"{"name":"nope"}"#).await;
    assert_eq!(refused.error_fields(), ["user_id"], "platform tokens are for root users");

    let mine = app.get(&format!("/v1/users/{me}/tokens")).await;
    let bootstrap = mine.body["tokens"][0]["id"].as_str().expect("the bootstrap token").to_owned();
    let rolled = app.send(Method::PUT, &format!("/v1/users/{me}/tokens/{bootstrap}/value"), None, &[]).await;
    assert_eq!(rolled.status, StatusCode::OK);
    let old = app.send(Method::GET, "/v1/me", None, &[]).await;
    assert_eq!(old.status, StatusCode::UNAUTHORIZED, "the rolled bootstrap secret is dead");
    let fresh = format!("Bearer {}", rolled.body["value"].as_str().expect("value"));
    let revoke = app
        .send_raw(
            Method::DELETE,
            &format!("/v1/users/{me}/tokens/{bootstrap}"),
            None,
            &[("authorization", fresh.as_str())],
        )
        .await;
    assert_eq!(revoke.status, StatusCode::NO_CONTENT);
    let gone = app.send_raw(Method::GET, "/v1/me", None, &[("authorization", fresh.as_str())]).await;
    assert_eq!(gone.status, StatusCode::UNAUTHORIZED, "a revoked platform token is dead");
}
