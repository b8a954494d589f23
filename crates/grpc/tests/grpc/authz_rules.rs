//! The gRPC twins of the REST rule tests (issue 16): no token takeover, no absorbed users,
//! MFA out of a narrow token's reach and audited under the account, a last root, and the
//! platform shown to tenants without personal data.

use accountd_grpc::pb;
use tonic::Code;

use crate::{
    Credential, TestServer, create_account, create_user, issue_token, put_member, spawn_server, violated_fields,
};

/// An agency A owned by a tenant owner, with an administrator; returns (owner, admin, A)
/// with each user's token.
async fn tenant(server: &TestServer) -> ((String, String), (String, String), String) {
    let owner = create_user(server, "owner@example.com").await.id;
    let request = pb::CreateAccountRequest {
        name: "Acme".into(),
        r#type: pb::AccountType::Agency.into(),
        user_id: owner.clone(),
        ..Default::default()
    };
    let a = server.accounts().create_account(request).await.expect("create").into_inner().account.expect("a").id;
    let admin = create_user(server, "admin@example.com").await.id;
    put_member(server, &a, &admin, "administrator").await;
    let owner_token = issue_token(server, &a, &owner).await.1;
    let admin_token = issue_token(server, &a, &admin).await.1;
    ((owner, owner_token), (admin, admin_token), a)
}

#[tokio::test]
async fn an_administrator_cannot_roll_disable_or_delete_the_owners_token() {
    let server = spawn_server().await;
    let ((owner, owner_secret), (_, admin_secret), a) = tenant(&server).await;
    let (owner_token, _) = issue_token(&server, &a, &owner).await;
    let mut tokens = server.tokens_with(Credential::bearer(&admin_secret));
    let ids = || (a.clone(), owner_token.id.clone());
    let (account_id, token_id) = ids();
    let status = tokens.roll_token(pb::RollTokenRequest { account_id, token_id }).await.expect_err("roll");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let (account_id, token_id) = ids();
    let disable =
        pb::UpdateTokenRequest { account_id, token_id, status: Some("disabled".into()), ..Default::default() };
    assert_eq!(tokens.update_token(disable).await.expect_err("disable").code(), Code::PermissionDenied);
    let (account_id, token_id) = ids();
    let status = tokens.delete_token(pb::DeleteTokenRequest { account_id, token_id }).await.expect_err("delete");
    assert_eq!(status.code(), Code::PermissionDenied);
    // The owner's token is untouched and still works.
    let get = pb::GetAccountRequest { account_id: a.clone() };
    server.accounts_with(Credential::bearer(&owner_secret)).get_account(get).await.expect("owner still in");
    let (account_id, token_id) = ids();
    let read = server.tokens().get_token(pb::GetTokenRequest { account_id, token_id }).await.expect("get");
    assert_eq!(read.into_inner().token.expect("token").status, "active");
}

#[tokio::test]
async fn a_tenant_invites_rather_than_absorbs_and_ids_are_no_oracle() {
    let server = spawn_server().await;
    let (_, (_, admin_secret), a) = tenant(&server).await;
    let b = create_account(&server, "B").await.id;
    let target = create_user(&server, "target@example.com").await.id;
    put_member(&server, &b, &target, "viewer").await;
    let mut members = server.members_with(Credential::bearer(&admin_secret));
    let put = |user_id: String| pb::PutAccountMemberRequest {
        account_id: a.clone(),
        user_id,
        role: "administrator".into(),
        roles: vec![],
    };
    let hidden = members.put_account_member(put(target.clone())).await.expect_err("hidden");
    let unknown = members.put_account_member(put(uuid::Uuid::now_v7().to_string())).await.expect_err("unknown");
    assert_eq!((hidden.code(), unknown.code()), (Code::NotFound, Code::NotFound));
    assert_eq!(hidden.message(), unknown.message());

    let mut users = server.users_with(Credential::bearer(&admin_secret));
    let create = |email: &str| pb::CreateAccountUserRequest {
        account_id: a.clone(),
        email_address: email.into(),
        first_name: "Typed".into(),
        last_name: "Name".into(),
    };
    let known = users.create_account_user(create("target@example.com")).await.expect("known").into_inner().user;
    let fresh = users.create_account_user(create("fresh@example.com")).await.expect("fresh").into_inner().user;
    let (known, fresh) = (known.expect("user"), fresh.expect("user"));
    assert_eq!((known.status.as_str(), known.first_name.as_str()), ("invited", ""));
    assert_eq!((fresh.status.as_str(), fresh.first_name.as_str(), fresh.mfa_enabled), ("invited", "", false));
    // The existing user is not in the account until it accepts.
    let (_, target_secret) = issue_token(&server, &b, &target).await;
    let get = pb::GetAccountRequest { account_id: a.clone() };
    let status = server.accounts_with(Credential::bearer(&target_secret)).get_account(get).await.expect_err("shut");
    assert_eq!(status.code(), Code::NotFound);
    let reset = pb::ResetAccountUserMfaRequest { account_id: a.clone(), user_id: target };
    assert_eq!(users.reset_account_user_mfa(reset).await.expect_err("invited").code(), Code::NotFound);
}

#[tokio::test]
async fn a_narrow_token_cannot_enrol_and_factor_changes_reach_the_accounts_audit() {
    let server = spawn_server().await;
    let ((_, owner_secret), (admin, _), a) = tenant(&server).await;
    let narrow = pb::CreateTokenRequest {
        account_id: a.clone(),
        user_id: admin.clone(),
        name: Some("narrow".into()),
        policies: Some(pb::PolicyList {
            policies: vec![pb::Policy {
                effect: "allow".into(),
                permission_groups: vec!["aliases:read".into()],
                resources: vec![],
            }],
        }),
        ..Default::default()
    };
    let narrow = server.tokens().create_token(narrow).await.expect("narrow").into_inner().value;
    let status = server
        .users_with(Credential::bearer(&narrow))
        .enroll_totp(pb::EnrollTotpRequest::default())
        .await
        .expect_err("narrow");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let (_, full) = issue_token(&server, &a, &admin).await;
    crate::mfa::enrol(&server, &full).await;
    let request =
        pb::ListAuditLogsRequest { account_id: a.clone(), resource_type: "mfa_factor".into(), ..Default::default() };
    let trail = server.audit_with(Credential::bearer(&owner_secret)).list_audit_logs(request).await.expect("audit");
    let actions: Vec<String> = trail.into_inner().events.into_iter().map(|e| e.action_type).collect();
    assert_eq!(actions, ["mfa_factor.create", "mfa_factor.activate"]);
}

#[tokio::test]
async fn the_last_root_cannot_demote_or_disable_itself() {
    let server = spawn_server().await;
    let root = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("me").id;
    let demote = pb::UpdateUserRequest {
        user_id: root.clone(),
        root_permissions: Some(pb::RootPermissions { permissions: vec![] }),
        ..Default::default()
    };
    let status = server.users().update_user(demote).await.expect_err("last root");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["root_permissions".to_owned()]));
    let me = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("me");
    assert!(!me.root_permissions.is_empty(), "still root");
}

#[tokio::test]
async fn tenants_see_platform_actors_without_ids_or_emails() {
    let server = spawn_server().await;
    // An account root owns, with a tenant administrator root added.
    let a = create_account(&server, "Rooted").await.id;
    let admin = create_user(&server, "admin@example.com").await.id;
    put_member(&server, &a, &admin, "administrator").await;
    let (_, admin_secret) = issue_token(&server, &a, &admin).await;
    let request = pb::ListAuditLogsRequest { account_id: a.clone(), ..Default::default() };
    let trail = server.audit_with(Credential::bearer(&admin_secret)).list_audit_logs(request.clone()).await;
    let events = trail.expect("audit").into_inner().events;
    assert!(!events.is_empty());
    let root = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("me").id;
    assert!(!format!("{events:?}").contains(&root), "no root id in the tenant's trail");
    for event in &events {
        let actor = event.actor.as_ref().expect("actor");
        assert_eq!((actor.r#type.as_str(), actor.id.as_str(), actor.email.as_str()), ("platform", "", ""));
    }
    let get = pb::GetAccountRequest { account_id: a.clone() };
    let account = server.accounts_with(Credential::bearer(&admin_secret)).get_account(get.clone()).await.expect("get");
    assert_eq!(account.into_inner().account.expect("account").owner_id, "");
    let get_member = pb::GetAccountMemberRequest { account_id: a.clone(), user_id: admin };
    let member = server.members_with(Credential::bearer(&admin_secret)).get_account_member(get_member).await;
    assert_eq!(member.expect("member").into_inner().member.expect("m").invited_by, "");
    // Root sees itself.
    let trail = server.audit_with(Credential::bearer(&server.root_token)).list_audit_logs(request).await;
    let events = trail.expect("audit").into_inner().events;
    assert!(events.iter().all(|e| e.actor.as_ref().is_some_and(|a| a.email == "root@example.com")));
    let account = server.accounts().get_account(get).await.expect("get").into_inner().account.expect("a");
    assert!(!account.owner_id.is_empty());
}

/// A token of `user` under `account` allowing `permissions` (on the account and below).
fn narrowed(account: &str, user: &str, permissions: &[&str]) -> pb::CreateTokenRequest {
    pb::CreateTokenRequest {
        account_id: account.into(),
        user_id: user.into(),
        name: Some("narrowed".into()),
        policies: Some(pb::PolicyList {
            policies: vec![pb::Policy {
                effect: "allow".into(),
                permission_groups: permissions.iter().map(|p| (*p).to_owned()).collect(),
                resources: vec![],
            }],
        }),
        ..Default::default()
    }
}

/// Review of issue 16, item 3: a member's token with `tokens:write` but not `mfa:write`
/// neither rolls, updates nor deletes its user's token that allows `mfa:write` (or its full
/// token), nor mints one.
#[tokio::test]
async fn a_token_without_mfa_write_cannot_reach_one_that_has_it() {
    let server = spawn_server().await;
    let (_, _, a) = tenant(&server).await;
    let member = create_user(&server, "member@example.com").await.id;
    put_member(&server, &a, &member, "member").await;
    let with_mfa = server.tokens().create_token(narrowed(&a, &member, &["mfa:write"])).await.expect("t1").into_inner();
    let (full, _) = issue_token(&server, &a, &member).await;
    let narrow = server
        .tokens()
        .create_token(narrowed(&a, &member, &["tokens:read", "tokens:write"]))
        .await
        .expect("t2")
        .into_inner()
        .value;
    let mut tokens = server.tokens_with(Credential::bearer(&narrow));
    for target in [with_mfa.token.expect("token").id, full.id] {
        let roll = pb::RollTokenRequest { account_id: a.clone(), token_id: target.clone() };
        assert_eq!(tokens.roll_token(roll).await.expect_err("roll").code(), Code::PermissionDenied);
        let rename = pb::UpdateTokenRequest {
            account_id: a.clone(),
            token_id: target.clone(),
            name: Some("mine".into()),
            ..Default::default()
        };
        assert_eq!(tokens.update_token(rename).await.expect_err("update").code(), Code::PermissionDenied);
        let delete = pb::DeleteTokenRequest { account_id: a.clone(), token_id: target };
        assert_eq!(tokens.delete_token(delete).await.expect_err("delete").code(), Code::PermissionDenied);
    }
    let mut mint = narrowed(&a, "", &["mfa:write"]);
    mint.user_id = String::new();
    assert_eq!(tokens.create_token(mint).await.expect_err("mint").code(), Code::PermissionDenied);
    let default = pb::CreateTokenRequest { account_id: a.clone(), name: Some("mint".into()), ..Default::default() };
    let minted = tokens.create_token(default).await.expect("default token").into_inner().value;
    let status = server
        .users_with(Credential::bearer(&minted))
        .enroll_totp(pb::EnrollTotpRequest::default())
        .await
        .expect_err("as narrow as its maker");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

/// Review of issue 16, item 9: an administrator of a parent account cannot govern the token
/// of the owner of a child account that the token reaches through its policy.
#[tokio::test]
async fn an_administrator_of_a_parent_cannot_govern_the_token_of_a_childs_owner() {
    let server = spawn_server().await;
    let (_, (_, admin_secret), p) = tenant(&server).await;
    let child_owner = create_user(&server, "child@example.com").await.id;
    put_member(&server, &p, &child_owner, "member").await;
    let request = pb::CreateAccountRequest {
        name: "Child".into(),
        parent_id: p.clone(),
        user_id: child_owner.clone(),
        ..Default::default()
    };
    server.accounts().create_account(request).await.expect("child");
    let owners = server
        .tokens()
        .create_token(narrowed(&p, &child_owner, &["accounts:read"]))
        .await
        .expect("token")
        .into_inner()
        .token
        .expect("token");
    let mut tokens = server.tokens_with(Credential::bearer(&admin_secret));
    let disable = pb::UpdateTokenRequest {
        account_id: p.clone(),
        token_id: owners.id.clone(),
        status: Some("disabled".into()),
        ..Default::default()
    };
    assert_eq!(tokens.update_token(disable).await.expect_err("disable").code(), Code::PermissionDenied);
    let delete = pb::DeleteTokenRequest { account_id: p.clone(), token_id: owners.id };
    assert_eq!(tokens.delete_token(delete).await.expect_err("delete").code(), Code::PermissionDenied);
    // A plain member's token stays the administrator's to manage.
    let plain = create_user(&server, "plain@example.com").await.id;
    put_member(&server, &p, &plain, "member").await;
    let token = server.tokens().create_token(narrowed(&p, &plain, &["accounts:read"])).await.expect("plain");
    let disable = pb::UpdateTokenRequest {
        account_id: p.clone(),
        token_id: token.into_inner().token.expect("token").id,
        status: Some("disabled".into()),
        ..Default::default()
    };
    let disabled = tokens.update_token(disable).await.expect("disable plain").into_inner();
    assert_eq!(disabled.token.expect("token").status, "disabled");
}

/// Review of issue 16, item 14: a root user's token under a tenant's account shows an empty
/// `user_id` to the tenant, and platform events carry no request origin for tenants.
#[tokio::test]
async fn tenants_see_neither_a_root_tokens_user_nor_a_platform_calls_origin() {
    let server = spawn_server().await;
    let root = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("user").id;
    let a = create_account(&server, "Rooted").await.id;
    let admin = create_user(&server, "admin@example.com").await.id;
    put_member(&server, &a, &admin, "administrator").await;
    let (roots, _) = issue_token(&server, &a, &root).await;
    let (_, admin_secret) = issue_token(&server, &a, &admin).await;
    let update =
        pb::UpdateAccountRequest { account_id: a.clone(), name: Some("Rooted 2".into()), ..Default::default() };
    server.accounts().update_account(update).await.expect("update");

    let mut tokens = server.tokens_with(Credential::bearer(&admin_secret));
    let listed = tokens
        .list_tokens(pb::ListTokensRequest { account_id: a.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .tokens;
    let shown = listed.iter().find(|t| t.id == roots.id).expect("root's token is listed");
    assert_eq!(shown.user_id, "", "{shown:?}");
    assert!(listed.iter().any(|t| t.user_id == admin));
    let one = tokens.get_token(pb::GetTokenRequest { account_id: a.clone(), token_id: roots.id.clone() }).await;
    assert_eq!(one.expect("get").into_inner().token.expect("token").user_id, "");

    let request = || pb::ListAuditLogsRequest {
        account_id: a.clone(),
        action_type: "account.update".into(),
        ..Default::default()
    };
    let trail = server.audit_with(Credential::bearer(&admin_secret)).list_audit_logs(request()).await.expect("audit");
    let events = trail.into_inner().events;
    assert_eq!(events.len(), 1);
    let event = &events[0];
    assert_eq!((event.request_ip.as_str(), event.user_agent.as_str(), event.request_id.as_str()), ("", "", ""));
    let full = server.audit_with(Credential::bearer(&server.root_token)).list_audit_logs(request()).await;
    let full = full.expect("audit").into_inner().events;
    assert!(!full[0].request_id.is_empty(), "root sees the request id");
}
