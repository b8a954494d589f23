//! The authorization model over REST: every operation of `authz_table.rs` run by every actor
//! against every target, each answer compared with the table. One fresh world per
//! (operation, actor); the actor's own user comes last (see `RUN_ORDER`).

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account_users::{call, code};
use crate::authz_table::{
    ACTORS, AGREEMENT_ACCOUNTS, Actor, Decided, GATES, Op, Outcome, RUN_ORDER, Target, agrees, email_of, expected,
    gate, target_user,
};
use crate::{BACKENDS, Backend, Reply, TestApp, create_user, owned_agency, put_member, spawn_app_on, token_for};

/// The table's world (see `authz_table.rs`).
struct World {
    app: TestApp,
    a: String,
    b: String,
    /// Who → user id: owner, admin, member, billing, viewer, invited, other_owner, other, root.
    users: HashMap<&'static str, String>,
    /// Each actor's token.
    tokens: HashMap<&'static str, String>,
}

async fn world() -> World {
    world_on(Backend::Sqlite).await
}

async fn world_on(backend: Backend) -> World {
    let app = spawn_app_on(backend).await;
    let (owner, a) = owned_agency(&app).await;
    let mut users = HashMap::from([("owner", owner)]);
    let me = app.get("/v1/me").await;
    users.insert("root", me.body["id"].as_str().expect("root id").to_owned());
    for role in ["administrator", "member", "billing", "viewer"] {
        let id = create_user(&app, &format!("{role}@example.com")).await;
        put_member(&app, &a, &id, role).await;
        users.insert(if role == "administrator" { "admin" } else { role }, id);
    }
    let invited = app
        .post(
            &format!("/v1/accounts/{a}/members"),
            &json!({"email": "invited@example.com", "roles": ["viewer"]}).to_string(),
        )
        .await;
    assert_eq!(invited.status, StatusCode::CREATED, "{}", invited.text);
    assert_eq!(invited.body["status"], "invited");
    users.insert("invited", invited.body["user_id"].as_str().expect("id").to_owned());
    let other_owner = create_user(&app, "other-owner@example.com").await;
    let b = app.post("/v1/accounts", &json!({"name": "Other", "owner_id": other_owner}).to_string()).await;
    let b = b.body["id"].as_str().expect("b").to_owned();
    let other = create_user(&app, "other@example.com").await;
    put_member(&app, &b, &other, "viewer").await;
    users.insert("other_owner", other_owner);
    users.insert("other", other);

    let mut tokens = HashMap::from([("root", app.root_token.clone())]);
    for who in ["owner", "admin", "member", "billing", "viewer"] {
        let token = token_for(&app, &a, &users[who], json!({})).await;
        tokens.insert(who, token["value"].as_str().expect("secret").to_owned());
    }
    let narrowed = token_for(
        &app,
        &a,
        &users["admin"],
        json!({"policies": [{"effect": "allow", "permission_groups": ["aliases:read"]}]}),
    )
    .await;
    tokens.insert("narrowed", narrowed["value"].as_str().expect("secret").to_owned());
    let tokens_only = token_for(
        &app,
        &a,
        &users["member"],
        json!({"policies": [{"effect": "allow", "permission_groups": ["tokens:read", "tokens:write"]}]}),
    )
    .await;
    tokens.insert("tokens_only", tokens_only["value"].as_str().expect("secret").to_owned());
    let token = token_for(&app, &b, &users["other_owner"], json!({})).await;
    tokens.insert("other_owner", token["value"].as_str().expect("secret").to_owned());
    World { app, a, b, users, tokens }
}

impl World {
    fn home(&self, actor: Actor) -> &str {
        if actor == Actor::OtherOwner { &self.b } else { &self.a }
    }

    /// The target's user id and home account.
    fn target(&self, actor: Actor, target: Target) -> (String, String) {
        let home = match target {
            Target::Self_ => self.home(actor),
            Target::Other => &self.b,
            _ => &self.a,
        };
        (self.users[target_user(actor, target)].clone(), home.to_owned())
    }

    fn email(&self, actor: Actor, target: Target) -> String {
        email_of(target_user(actor, target))
    }

    /// A fresh token of `user` under `account`, made by root; returns its id.
    async fn fresh_token(&self, account: &str, user: &str) -> String {
        token_for(&self.app, account, user, json!({})).await["id"].as_str().expect("id").to_owned()
    }

    /// Enrols a factor through the actor's user's full token; returns its id and secret.
    async fn enrolled(&self, actor: Actor) -> (String, String) {
        let full = &self.tokens[Actor::user(actor)];
        let enrolled = call(&self.app, full, Method::POST, "/v1/me/mfa/totp", None).await;
        assert_eq!(enrolled.status, StatusCode::CREATED, "{}", enrolled.text);
        (enrolled.body["id"].as_str().expect("id").to_owned(), enrolled.body["secret"].as_str().expect("s").to_owned())
    }

    async fn run(&self, op: Op, actor: Actor, target: Target) -> Reply {
        let token = &self.tokens[Actor::name(actor)];
        let (user, home) = self.target(actor, target);
        let a = &self.a;
        let send = |method: Method, uri: String, body: Option<Value>| async move {
            call(&self.app, token, method, &uri, body.map(|b| b.to_string()).as_deref()).await
        };
        match op {
            Op::RollToken | Op::UpdateToken | Op::DisableToken | Op::DeleteToken => {
                let id = if actor == Actor::TokensOnly {
                    // A target token narrower than the caller in every role permission, wider
                    // only in the token-only grant mfa:write (see the table's header).
                    let policies = json!({"policies": [{"effect": "allow", "permission_groups": ["mfa:write"]}]});
                    token_for(&self.app, &home, &user, policies).await["id"].as_str().expect("id").to_owned()
                } else {
                    self.fresh_token(&home, &user).await
                };
                let uri = format!("/v1/accounts/{home}/tokens/{id}");
                match op {
                    Op::RollToken => send(Method::PUT, format!("{uri}/value"), None).await,
                    Op::UpdateToken => send(Method::PUT, uri, Some(json!({"name": "renamed"}))).await,
                    Op::DisableToken => send(Method::PUT, uri, Some(json!({"status": "disabled"}))).await,
                    _ => send(Method::DELETE, uri, None).await,
                }
            }
            Op::PutMember => {
                send(Method::PUT, format!("/v1/accounts/{a}/members/{user}"), Some(json!({"roles": ["viewer"]}))).await
            }
            Op::DeleteMember => send(Method::DELETE, format!("/v1/accounts/{a}/members/{user}"), None).await,
            Op::InviteMember => {
                let body = json!({"user_id": user, "roles": ["viewer"]});
                send(Method::POST, format!("/v1/accounts/{a}/members"), Some(body)).await
            }
            Op::CreateAccountUser => {
                let body =
                    json!({"email_address": self.email(actor, target), "first_name": "Typed", "last_name": "Name"});
                send(Method::POST, format!("/v1/accounts/{a}/users"), Some(body)).await
            }
            Op::GetAccountUser => send(Method::GET, format!("/v1/accounts/{a}/users/{user}"), None).await,
            Op::DeleteAccountUser => send(Method::DELETE, format!("/v1/accounts/{a}/users/{user}"), None).await,
            Op::ResetMfa => send(Method::POST, format!("/v1/accounts/{a}/users/{user}/reset-mfa"), None).await,
            Op::GetUser => send(Method::GET, format!("/v1/users/{user}"), None).await,
            Op::UpdateUser => {
                send(Method::PATCH, format!("/v1/users/{user}"), Some(json!({"first_name": "Renamed"}))).await
            }
            Op::SetRootPermissions => {
                send(Method::PATCH, format!("/v1/users/{user}"), Some(json!({"root_permissions": []}))).await
            }
            Op::EnrolTotp => send(Method::POST, "/v1/me/mfa/totp".into(), None).await,
            Op::ActivateTotp => {
                let (id, secret) = self.enrolled(actor).await;
                let body = json!({"factor_id": id, "code": code(&secret, 0)});
                send(Method::POST, "/v1/me/mfa/totp/activate".into(), Some(body)).await
            }
            Op::DeleteTotp => {
                let (id, _) = self.enrolled(actor).await;
                send(Method::DELETE, format!("/v1/me/mfa/totp/{id}"), None).await
            }
        }
    }
}

/// The answer `reply` stands for, by status and problem type.
fn outcome(reply: &Reply) -> Result<Outcome, String> {
    let problem = reply.body["type"].as_str().unwrap_or("");
    Ok(match reply.status {
        s if s.is_success() => Outcome::Allowed,
        StatusCode::FORBIDDEN => Outcome::Forbidden,
        StatusCode::NOT_FOUND => Outcome::NotFound,
        StatusCode::CONFLICT => Outcome::Conflict,
        StatusCode::UNPROCESSABLE_ENTITY if problem.ends_with("failed-precondition") => Outcome::FailedPrecondition,
        StatusCode::UNPROCESSABLE_ENTITY if !reply.error_fields().is_empty() => Outcome::InvalidField,
        _ => return Err(format!("{} {}", reply.status, reply.text)),
    })
}

/// Runs `op` for every actor against every target; returns the cells that disagree.
async fn check(op: Op) {
    let mut wrong = Vec::new();
    let mut cells = 0;
    for actor in ACTORS {
        let w = world().await;
        for target in RUN_ORDER {
            let Some(want) = expected(op, actor, target) else { continue };
            cells += 1;
            let decided = match gate(op) {
                Some(permission) => Some(w.decided(op, actor, target, permission).await),
                None => None,
            };
            let reply = w.run(op, actor, target).await;
            if let (Some(decided), Ok(got)) = (decided, outcome(&reply))
                && !agrees(decided, got)
            {
                wrong.push(format!("{op:?} by {actor:?} on {target:?}: authorize {decided:?}, endpoint {got:?}"));
            }
            match outcome(&reply) {
                Ok(got) if got == want => {
                    if got == Outcome::Allowed && op == Op::RollToken {
                        let secret = reply.body["value"].as_str().unwrap_or("");
                        assert!(secret.starts_with("acd_"), "a roll returns the new secret: {}", reply.text);
                    }
                }
                Ok(got) => {
                    wrong.push(format!("{op:?} by {actor:?} on {target:?}: want {want:?}, got {got:?}: {}", reply.text))
                }
                Err(e) => wrong.push(format!("{op:?} by {actor:?} on {target:?}: want {want:?}, got {e}")),
            }
        }
    }
    assert!(cells > 0);
    assert!(wrong.is_empty(), "{} of {cells} cells disagree with the table:\n{}", wrong.len(), wrong.join("\n"));
}

// One test per operation of the table, each calling this suite's `check`.
crate::authz_table::model_tests!();

#[test]
fn every_operation_has_a_complete_matrix() {
    for op in crate::authz_table::operations() {
        for actor in ACTORS {
            for target in crate::authz_table::TARGETS {
                expected(op, actor, target);
            }
        }
    }
    assert_eq!(crate::authz_table::operations().len(), 17);
}

impl World {
    /// What `POST /v1/authorize` says of the actor's token and `permission` on the account
    /// `op` acts on for `target` (the target token's home, or A).
    async fn decided(&self, op: Op, actor: Actor, target: Target, permission: &str) -> Decided {
        let account = match op {
            Op::RollToken | Op::UpdateToken | Op::DisableToken | Op::DeleteToken => self.target(actor, target).1,
            _ => self.a.clone(),
        };
        let body =
            json!({"token": self.tokens[actor.name()], "checks": [{"account_id": account, "permission": permission}]});
        let answer = self.app.post("/v1/authorize", &body.to_string()).await;
        assert_eq!(answer.body["active"], true, "{}", answer.text);
        Decided::from_reason(answer.body["results"][0]["reason"].as_str().unwrap_or("")).expect("a reason")
    }

    /// C: a child of A that enforces two-factor authentication (made by root, who is exempt).
    async fn enforcing_child(&self) -> String {
        let body = json!({"name": "Child", "parent_id": self.a, "settings": {"enforce_twofactor": true}});
        let c = self.app.post("/v1/accounts", &body.to_string()).await;
        assert_eq!(c.status, StatusCode::CREATED, "{}", c.text);
        assert_eq!(c.body["settings"]["enforce_twofactor"], true);
        c.body["id"].as_str().expect("c").to_owned()
    }

    /// The endpoint `permission` alone decides on `account`, called with the actor's token.
    async fn gate(&self, actor: Actor, account: &str, permission: &str) -> Reply {
        let token = &self.tokens[actor.name()];
        let base = format!("/v1/accounts/{account}");
        let (method, uri, body) = match permission {
            "accounts:read" => (Method::GET, base, None),
            "accounts:write" => (Method::PATCH, base, Some(r#"{"name":"Renamed"}"#)),
            "members:read" => (Method::GET, format!("{base}/members"), None),
            "tokens:read" => (Method::GET, format!("{base}/tokens"), None),
            "aliases:read" => (Method::GET, format!("{base}/aliases"), None),
            "subscriptions:read" => (Method::GET, format!("{base}/subscriptions"), None),
            "audit:read" => (Method::GET, format!("{base}/logs/audit"), None),
            other => panic!("no endpoint for {other}"),
        };
        call(&self.app, token, method, &uri, body).await
    }
}

/// What the endpoint's answer says of the decision.
fn decided(reply: &Reply) -> Result<Decided, String> {
    let problem = reply.body["type"].as_str().unwrap_or("");
    Ok(match reply.status {
        s if s.is_success() => Decided::Granted,
        StatusCode::FORBIDDEN if problem.ends_with("two-factor-required") => Decided::TwoFactorRequired,
        StatusCode::FORBIDDEN => Decided::Forbidden,
        StatusCode::NOT_FOUND => Decided::NotFound,
        _ => return Err(format!("{} {}", reply.status, reply.text)),
    })
}

/// The agreement of `authz_table.rs`: `POST /v1/authorize` answers each actor's token on
/// each account and permission exactly as the endpoint that permission decides.
#[tokio::test]
async fn authorize_agrees_with_the_endpoints_for_every_actor_account_and_permission() {
    for backend in BACKENDS {
        agreement(backend).await;
    }
}

async fn agreement(backend: Backend) {
    let w = world_on(backend).await;
    let c = w.enforcing_child().await;
    let accounts = [w.a.clone(), w.b.clone(), c];
    let (mut wrong, mut cells, mut seen) = (Vec::new(), 0, std::collections::HashSet::new());
    for actor in ACTORS {
        for (name, account) in AGREEMENT_ACCOUNTS.iter().zip(&accounts) {
            let checks: Vec<Value> = GATES.iter().map(|p| json!({"account_id": account, "permission": p})).collect();
            let body = json!({"token": w.tokens[actor.name()], "checks": checks});
            // The root user's bootstrap token holds authz:check.
            let answer = w.app.post("/v1/authorize", &body.to_string()).await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.text);
            assert_eq!(answer.body["active"], true, "{actor:?}: {}", answer.text);
            for (i, permission) in GATES.iter().enumerate() {
                cells += 1;
                let said = Decided::from_reason(answer.body["results"][i]["reason"].as_str().unwrap_or(""));
                let real = decided(&w.gate(actor, account, permission).await);
                if let Ok(real) = &real {
                    seen.insert(format!("{real:?}"));
                }
                if said != real {
                    wrong.push(format!(
                        "{backend:?}: {actor:?} on {name} {permission}: authorize {said:?}, endpoint {real:?}"
                    ));
                }
            }
        }
    }
    assert!(wrong.is_empty(), "{} of {cells} cells disagree:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(seen.len(), 4, "every answer occurs: {seen:?}");
}
