//! The gRPC twin of the REST authorization model: the same table
//! (`crates/rest/tests/api/authz_table.rs`), every operation by every actor against every
//! target, one fresh world per (operation, actor).

use std::collections::HashMap;

use accountd_domain::TotpSecret;
use accountd_grpc::pb;
use chrono::{Duration, Utc};
use tonic::{Code, Status};
use tonic_types::StatusExt;

use crate::authz_table::{
    ACTORS, AGREEMENT_ACCOUNTS, Actor, Decided, GATES, Op, Outcome, RUN_ORDER, Target, agrees, email_of, expected,
    gate, target_user,
};
use crate::{
    BACKENDS, Backend, Credential, TestServer, create_user, issue_token, put_member, spawn_server_on, violated_fields,
};

struct World {
    server: TestServer,
    a: String,
    b: String,
    users: HashMap<&'static str, String>,
    tokens: HashMap<&'static str, String>,
}

fn code(secret: &str, steps: i64) -> String {
    TotpSecret::from_base32(secret).expect("base32").code_at(Utc::now() + Duration::seconds(30 * steps))
}

async fn world() -> World {
    world_on(Backend::Sqlite).await
}

async fn world_on(backend: Backend) -> World {
    let server = spawn_server_on(backend).await;
    let owner = create_user(&server, "owner@example.com").await.id;
    let request = pb::CreateAccountRequest {
        name: "Acme".into(),
        r#type: pb::AccountType::Agency.into(),
        user_id: owner.clone(),
        ..Default::default()
    };
    let a = server.accounts().create_account(request).await.expect("create").into_inner().account.expect("a").id;
    let root = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("root").id;
    let mut users = HashMap::from([("owner", owner), ("root", root)]);
    for role in ["administrator", "member", "billing", "viewer"] {
        let id = create_user(&server, &format!("{role}@example.com")).await.id;
        put_member(&server, &a, &id, role).await;
        users.insert(if role == "administrator" { "admin" } else { role }, id);
    }
    let invited = pb::AddAccountMemberRequest {
        account_id: a.clone(),
        email: "invited@example.com".into(),
        roles: vec!["viewer".into()],
        ..Default::default()
    };
    let invited = server.members().add_account_member(invited).await.expect("invite").into_inner().member.expect("m");
    assert_eq!(invited.status, "invited");
    users.insert("invited", invited.user_id);
    let other_owner = create_user(&server, "other-owner@example.com").await.id;
    let request = pb::CreateAccountRequest { name: "Other".into(), user_id: other_owner.clone(), ..Default::default() };
    let b = server.accounts().create_account(request).await.expect("create").into_inner().account.expect("b").id;
    let other = create_user(&server, "other@example.com").await.id;
    put_member(&server, &b, &other, "viewer").await;
    users.insert("other_owner", other_owner);
    users.insert("other", other);

    let mut tokens = HashMap::from([("root", server.root_token.clone())]);
    for who in ["owner", "admin", "member", "billing", "viewer"] {
        tokens.insert(who, issue_token(&server, &a, &users[who]).await.1);
    }
    let narrowed = pb::CreateTokenRequest {
        account_id: a.clone(),
        user_id: users["admin"].clone(),
        name: Some("narrowed".into()),
        policies: Some(pb::PolicyList {
            policies: vec![pb::Policy {
                effect: "allow".into(),
                permission_groups: vec!["aliases:read".into()],
                resources: vec![],
            }],
        }),
        ..Default::default()
    };
    let narrowed = server.tokens().create_token(narrowed).await.expect("narrowed").into_inner().value;
    tokens.insert("narrowed", narrowed);
    let tokens_only = pb::CreateTokenRequest {
        account_id: a.clone(),
        user_id: users["member"].clone(),
        name: Some("tokens only".into()),
        policies: Some(pb::PolicyList {
            policies: vec![pb::Policy {
                effect: "allow".into(),
                permission_groups: vec!["tokens:read".into(), "tokens:write".into()],
                resources: vec![],
            }],
        }),
        ..Default::default()
    };
    let tokens_only = server.tokens().create_token(tokens_only).await.expect("tokens only").into_inner().value;
    tokens.insert("tokens_only", tokens_only);
    tokens.insert("other_owner", issue_token(&server, &b, &users["other_owner"]).await.1);
    World { server, a, b, users, tokens }
}

impl World {
    fn home(&self, actor: Actor) -> &str {
        if actor == Actor::OtherOwner { &self.b } else { &self.a }
    }

    fn target(&self, actor: Actor, target: Target) -> (String, String) {
        let home = match target {
            Target::Self_ => self.home(actor),
            Target::Other => &self.b,
            _ => &self.a,
        };
        (self.users[target_user(actor, target)].clone(), home.to_owned())
    }

    fn email(actor: Actor, target: Target) -> String {
        email_of(target_user(actor, target))
    }

    /// Enrols a factor through the actor's user's full token; returns its id and secret.
    async fn enrolled(&self, actor: Actor) -> (String, String) {
        let full = Credential::bearer(&self.tokens[Actor::user(actor)]);
        let enrolled = self
            .server
            .users_with(full)
            .enroll_totp(pb::EnrollTotpRequest::default())
            .await
            .expect("enrol")
            .into_inner();
        (enrolled.factor.expect("factor").id, enrolled.secret)
    }

    async fn run(&self, op: Op, actor: Actor, target: Target) -> Result<(), Status> {
        let credential = Credential::bearer(&self.tokens[Actor::name(actor)]);
        let (user_id, home) = self.target(actor, target);
        let account_id = self.a.clone();
        let s = &self.server;
        match op {
            Op::RollToken | Op::UpdateToken | Op::DisableToken | Op::DeleteToken => {
                let token = if actor == Actor::TokensOnly {
                    // A target token narrower than the caller in every role permission, wider
                    // only in the token-only grant mfa:write (see the table's header).
                    let request = pb::CreateTokenRequest {
                        account_id: home.clone(),
                        user_id: user_id.clone(),
                        name: Some("mfa only".into()),
                        policies: Some(pb::PolicyList {
                            policies: vec![pb::Policy {
                                effect: "allow".into(),
                                permission_groups: vec!["mfa:write".into()],
                                resources: vec![],
                            }],
                        }),
                        ..Default::default()
                    };
                    s.tokens().create_token(request).await.expect("mfa-only token").into_inner().token.expect("token")
                } else {
                    issue_token(s, &home, &user_id).await.0
                };
                let (account_id, token_id) = (home, token.id);
                let mut tokens = s.tokens_with(credential);
                match op {
                    Op::RollToken => {
                        let rolled = tokens.roll_token(pb::RollTokenRequest { account_id, token_id }).await?;
                        assert!(rolled.into_inner().value.starts_with("acd_"), "a roll returns the new secret");
                        Ok(())
                    }
                    Op::UpdateToken | Op::DisableToken => {
                        let mut request = pb::UpdateTokenRequest { account_id, token_id, ..Default::default() };
                        if op == Op::UpdateToken {
                            request.name = Some("renamed".into());
                        } else {
                            request.status = Some("disabled".into());
                        }
                        tokens.update_token(request).await.map(drop)
                    }
                    _ => tokens.delete_token(pb::DeleteTokenRequest { account_id, token_id }).await.map(drop),
                }
            }
            Op::PutMember => {
                let request = pb::PutAccountMemberRequest {
                    account_id,
                    user_id,
                    role: String::new(),
                    roles: vec!["viewer".into()],
                };
                s.members_with(credential).put_account_member(request).await.map(drop)
            }
            Op::DeleteMember => {
                let request = pb::DeleteAccountMemberRequest { account_id, user_id };
                s.members_with(credential).delete_account_member(request).await.map(drop)
            }
            Op::InviteMember => {
                let request = pb::AddAccountMemberRequest {
                    account_id,
                    user_id,
                    roles: vec!["viewer".into()],
                    ..Default::default()
                };
                s.members_with(credential).add_account_member(request).await.map(drop)
            }
            Op::CreateAccountUser => {
                let request = pb::CreateAccountUserRequest {
                    account_id,
                    email_address: Self::email(actor, target),
                    first_name: "Typed".into(),
                    last_name: "Name".into(),
                };
                s.users_with(credential).create_account_user(request).await.map(drop)
            }
            Op::GetAccountUser => {
                let request = pb::GetAccountUserRequest { account_id, user_id };
                s.users_with(credential).get_account_user(request).await.map(drop)
            }
            Op::DeleteAccountUser => {
                let request = pb::DeleteAccountUserRequest { account_id, user_id };
                s.users_with(credential).delete_account_user(request).await.map(drop)
            }
            Op::ResetMfa => {
                let request = pb::ResetAccountUserMfaRequest { account_id, user_id };
                s.users_with(credential).reset_account_user_mfa(request).await.map(drop)
            }
            Op::GetUser => s.users_with(credential).get_user(pb::GetUserRequest { user_id }).await.map(drop),
            Op::UpdateUser => {
                let request =
                    pb::UpdateUserRequest { user_id, first_name: Some("Renamed".into()), ..Default::default() };
                s.users_with(credential).update_user(request).await.map(drop)
            }
            Op::SetRootPermissions => {
                let request = pb::UpdateUserRequest {
                    user_id,
                    root_permissions: Some(pb::RootPermissions { permissions: vec![] }),
                    ..Default::default()
                };
                s.users_with(credential).update_user(request).await.map(drop)
            }
            Op::EnrolTotp => s.users_with(credential).enroll_totp(pb::EnrollTotpRequest::default()).await.map(drop),
            Op::ActivateTotp => {
                let (factor_id, secret) = self.enrolled(actor).await;
                let request = pb::ActivateTotpRequest { factor_id, code: code(&secret, 0) };
                s.users_with(credential).activate_totp(request).await.map(drop)
            }
            Op::DeleteTotp => {
                let (factor_id, _) = self.enrolled(actor).await;
                let request = pb::DeleteTotpRequest { factor_id, code: String::new() };
                s.users_with(credential).delete_totp(request).await.map(drop)
            }
        }
    }
}

fn outcome(result: &Result<(), Status>) -> Result<Outcome, String> {
    let Err(status) = result else { return Ok(Outcome::Allowed) };
    Ok(match status.code() {
        Code::PermissionDenied => Outcome::Forbidden,
        Code::NotFound => Outcome::NotFound,
        Code::AlreadyExists => Outcome::Conflict,
        Code::FailedPrecondition => Outcome::FailedPrecondition,
        Code::InvalidArgument if !violated_fields(status).is_empty() => Outcome::InvalidField,
        _ => return Err(format!("{status:?}")),
    })
}

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
            let result = w.run(op, actor, target).await;
            if let (Some(decided), Ok(got)) = (decided, outcome(&result))
                && !agrees(decided, got)
            {
                wrong.push(format!("{op:?} by {actor:?} on {target:?}: Check {decided:?}, RPC {got:?}"));
            }
            match outcome(&result) {
                Ok(got) if got == want => {}
                Ok(got) => {
                    wrong.push(format!("{op:?} by {actor:?} on {target:?}: want {want:?}, got {got:?}: {result:?}"))
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

impl World {
    /// What `AuthorizationService/Check` says of the actor's token and `permission` on the
    /// account `op` acts on for `target` (the target token's home, or A).
    async fn decided(&self, op: Op, actor: Actor, target: Target, permission: &str) -> Decided {
        let account_id = match op {
            Op::RollToken | Op::UpdateToken | Op::DisableToken | Op::DeleteToken => self.target(actor, target).1,
            _ => self.a.clone(),
        };
        let request = pb::CheckRequest {
            token: self.tokens[actor.name()].clone(),
            checks: vec![pb::AuthorizationCheck { account_id, permission: permission.to_owned() }],
            ..Default::default()
        };
        let mut client = crate::authorize::client(&self.server, &self.server.root_token);
        let answer = client.check(request).await.expect("check").into_inner();
        assert!(answer.active, "{answer:?}");
        Decided::from_reason(&answer.results[0].reason).expect("a reason")
    }

    /// C: a child of A that enforces two-factor authentication (made by root, who is exempt).
    async fn enforcing_child(&self) -> String {
        let request = pb::CreateAccountRequest {
            name: "Child".into(),
            parent_id: self.a.clone(),
            enforce_twofactor: Some(true),
            ..Default::default()
        };
        self.server.accounts().create_account(request).await.expect("child").into_inner().account.expect("c").id
    }

    /// The RPC `permission` alone decides on `account`, called with the actor's token.
    async fn gate(&self, actor: Actor, account: &str, permission: &str) -> Result<(), Status> {
        let credential = Credential::bearer(&self.tokens[actor.name()]);
        let s = &self.server;
        let account_id = account.to_owned();
        match permission {
            "accounts:read" => {
                s.accounts_with(credential).get_account(pb::GetAccountRequest { account_id }).await.map(drop)
            }
            "accounts:write" => {
                let request =
                    pb::UpdateAccountRequest { account_id, name: Some("Renamed".into()), ..Default::default() };
                s.accounts_with(credential).update_account(request).await.map(drop)
            }
            "members:read" => {
                let request = pb::ListAccountMembersRequest { account_id, ..Default::default() };
                s.members_with(credential).list_account_members(request).await.map(drop)
            }
            "tokens:read" => {
                let request = pb::ListTokensRequest { account_id, ..Default::default() };
                s.tokens_with(credential).list_tokens(request).await.map(drop)
            }
            "aliases:read" => {
                let request = pb::ListAccountAliasesRequest { account_id, ..Default::default() };
                s.aliases_with(credential).list_account_aliases(request).await.map(drop)
            }
            "subscriptions:read" => {
                let request = pb::ListSubscriptionsRequest { account_id, ..Default::default() };
                s.subscriptions_with(credential).list_subscriptions(request).await.map(drop)
            }
            "audit:read" => {
                let request = pb::ListAuditLogsRequest { account_id, ..Default::default() };
                s.audit_with(credential).list_audit_logs(request).await.map(drop)
            }
            other => panic!("no RPC for {other}"),
        }
    }
}

/// What the RPC's answer says of the decision.
fn decided(result: &Result<(), Status>) -> Result<Decided, String> {
    let Err(status) = result else { return Ok(Decided::Granted) };
    let two_factor =
        status.get_details_error_info().is_some_and(|i| i.reason == accountd_grpc::status::TWO_FACTOR_REQUIRED);
    Ok(match status.code() {
        Code::PermissionDenied if two_factor => Decided::TwoFactorRequired,
        Code::PermissionDenied => Decided::Forbidden,
        Code::NotFound => Decided::NotFound,
        _ => return Err(format!("{status:?}")),
    })
}

/// The agreement of `authz_table.rs`: `AuthorizationService/Check` answers each actor's
/// token on each account and permission exactly as the RPC that permission decides.
#[tokio::test]
async fn check_agrees_with_the_rpcs_for_every_actor_account_and_permission() {
    for backend in BACKENDS {
        agreement(backend).await;
    }
}

async fn agreement(backend: Backend) {
    let w = world_on(backend).await;
    let c = w.enforcing_child().await;
    let accounts = [w.a.clone(), w.b.clone(), c];
    // The root user's bootstrap token holds authz:check.
    let mut client = crate::authorize::client(&w.server, &w.server.root_token);
    let (mut wrong, mut cells, mut seen) = (Vec::new(), 0, std::collections::HashSet::new());
    for actor in ACTORS {
        for (name, account) in AGREEMENT_ACCOUNTS.iter().zip(&accounts) {
            let checks = GATES
                .iter()
                .map(|p| pb::AuthorizationCheck { account_id: account.clone(), permission: (*p).to_owned() })
                .collect();
            let request = pb::CheckRequest { token: w.tokens[actor.name()].clone(), checks, ..Default::default() };
            let answer = client.check(request).await.expect("check").into_inner();
            assert!(answer.active, "{actor:?}: {answer:?}");
            for (result, permission) in answer.results.iter().zip(GATES) {
                cells += 1;
                let said = Decided::from_reason(&result.reason);
                let real = decided(&w.gate(actor, account, permission).await);
                if let Ok(real) = &real {
                    seen.insert(format!("{real:?}"));
                }
                if said != real {
                    wrong.push(format!("{backend:?}: {actor:?} on {name} {permission}: Check {said:?}, RPC {real:?}"));
                }
            }
        }
    }
    assert_eq!(cells, ACTORS.len() * AGREEMENT_ACCOUNTS.len() * GATES.len());
    assert!(wrong.is_empty(), "{} of {cells} cells disagree:\n{}", wrong.len(), wrong.join("\n"));
    assert_eq!(seen.len(), 4, "every answer occurs: {seen:?}");
}
