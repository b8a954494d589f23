//! The authorization model over REST: every operation of `authz_table.rs` run by every actor
//! against every target, each answer compared with the table. One fresh world per
//! (operation, actor); the actor's own user comes last (see `RUN_ORDER`).

use std::collections::HashMap;

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::account_users::{call, code};
use crate::authz_table::{ACTORS, Actor, Op, Outcome, RUN_ORDER, Target, email_of, expected, target_user};
use crate::{Reply, TestApp, create_user, owned_agency, put_member, spawn_app, token_for};

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
    let app = spawn_app().await;
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
            let reply = w.run(op, actor, target).await;
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
