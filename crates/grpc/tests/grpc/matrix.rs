//! The gRPC twin of the REST authorization matrix: every role against every kind of operation,
//! every kind of bad credential, narrowed tokens, removed members and disabled users (SPEC §2).

use accountd_domain::TokenSecret;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use accountd_grpc::pb::user_service_client::UserServiceClient;
use accountd_grpc::pb::{
    AccountType, CreateAccountRequest, CreateTokenRequest, DeleteAccountMemberRequest, GetAccountRequest, GetMeRequest,
    ListAccountMembersRequest, ListAccountsRequest, ListPermissionGroupsRequest, ListRolesRequest, ListTokensRequest,
    ListUsersRequest, Policy, PolicyList, PutAccountMemberRequest, RequestIpCondition, RollTokenRequest,
    TokenCondition, UpdateAccountRequest, UpdateUserRequest, VerifyTokenRequest,
};
use tonic::service::Interceptor;
use tonic::{Code, Request, Status};

use crate::{Credential, TestServer, create_account, create_user, issue_token, put_member, spawn_server};

const EVERYONE: &[&str] = &["owner", "administrator", "member", "viewer", "billing"];
const READERS: &[&str] = &["owner", "administrator", "member", "viewer"];
const CONTRIBUTORS: &[&str] = &["owner", "administrator", "member"];
const ADMINISTRATORS: &[&str] = &["owner", "administrator"];
const ROOT_ONLY: &[&str] = &[];

/// An account with one user per role, a user of another account, and a token for each.
#[derive(Debug)]
struct World {
    server: TestServer,
    account: String,
    other_account: String,
    /// Role name → that user's id and token secret.
    users: Vec<(&'static str, String, String)>,
    /// A user that is no member yet, target of member writes.
    outsider: String,
    /// A child of the account, where the outsider is a member.
    child: String,
}

/// The kinds of operation of the matrix, one RPC each, all on the world's account but `ListUsers`.
#[derive(Debug, Clone, Copy)]
enum Operation {
    GetAccount,
    UpdateAccount,
    ListAccountMembers,
    PutAccountMember,
    ListTokens,
    CreateToken,
    ListRoles,
    ListPermissionGroups,
    VerifyToken,
    ListUsers,
}

impl World {
    fn user(&self, who: &str) -> &str {
        &self.users.iter().find(|(name, _, _)| *name == who).expect("known user").1
    }

    fn token(&self, who: &str) -> Credential {
        Credential::bearer(&self.users.iter().find(|(name, _, _)| *name == who).expect("known user").2)
    }

    /// Performs `operation` on the account with `credential`, keeping only the outcome.
    async fn call(&self, credential: Credential, operation: Operation) -> Result<(), Status> {
        let (s, account_id) = (&self.server, self.account.clone());
        match operation {
            Operation::GetAccount => {
                s.accounts_with(credential).get_account(GetAccountRequest { account_id }).await.map(drop)
            }
            Operation::UpdateAccount => {
                let request = UpdateAccountRequest { account_id, name: Some("Acme 2".into()), ..Default::default() };
                s.accounts_with(credential).update_account(request).await.map(drop)
            }
            Operation::ListAccountMembers => {
                let request = ListAccountMembersRequest { account_id, ..Default::default() };
                s.members_with(credential).list_account_members(request).await.map(drop)
            }
            Operation::PutAccountMember => {
                let user_id = self.outsider.clone();
                let request = PutAccountMemberRequest { account_id, user_id, role: "viewer".into(), roles: vec![] };
                s.members_with(credential).put_account_member(request).await.map(drop)
            }
            Operation::ListTokens => {
                let request = ListTokensRequest { account_id, ..Default::default() };
                s.tokens_with(credential).list_tokens(request).await.map(drop)
            }
            Operation::CreateToken => {
                let request = CreateTokenRequest { account_id, name: Some("mine".into()), ..Default::default() };
                s.tokens_with(credential).create_token(request).await.map(drop)
            }
            Operation::ListRoles => {
                s.members_with(credential).list_roles(ListRolesRequest { account_id }).await.map(drop)
            }
            Operation::ListPermissionGroups => {
                let request = ListPermissionGroupsRequest { account_id };
                s.tokens_with(credential).list_permission_groups(request).await.map(drop)
            }
            Operation::VerifyToken => {
                s.tokens_with(credential).verify_token(VerifyTokenRequest { account_id }).await.map(drop)
            }
            Operation::ListUsers => s.users_with(credential).list_users(ListUsersRequest::default()).await.map(drop),
        }
    }
}

async fn world() -> World {
    let server = spawn_server().await;
    let owner = create_user(&server, "owner@example.com").await.id;
    let request = CreateAccountRequest {
        name: "Acme".into(),
        r#type: AccountType::Agency.into(),
        user_id: owner.clone(),
        ..Default::default()
    };
    let account = server.accounts().create_account(request).await.expect("create").into_inner().account.expect("a");
    assert_eq!(account.owner_id, owner);
    let other = create_account(&server, "Other").await.id;
    let mut users = vec![("owner", owner, String::new())];
    for role in ["administrator", "member", "viewer", "billing"] {
        let id = create_user(&server, &format!("{role}@example.com")).await.id;
        put_member(&server, &account.id, &id, role).await;
        users.push((role, id, String::new()));
    }
    for (_, id, secret) in users.iter_mut() {
        *secret = issue_token(&server, &account.id, id).await.1;
    }
    let stranger = create_user(&server, "stranger@example.com").await.id;
    put_member(&server, &other, &stranger, "administrator").await;
    let (_, stranger_secret) = issue_token(&server, &other, &stranger).await;
    users.push(("stranger", stranger, stranger_secret));
    // A member of a child account: the account's administrators see it, so they may
    // invite it by id (PutAccountMember answers NOT_FOUND for users the caller cannot see).
    let child = CreateAccountRequest { name: "Child".into(), parent_id: account.id.clone(), ..Default::default() };
    let child = server.accounts().create_account(child).await.expect("child").into_inner().account.expect("a").id;
    let outsider = create_user(&server, "outsider@example.com").await.id;
    put_member(&server, &child, &outsider, "viewer").await;
    World { server, account: account.id, other_account: other, users, outsider, child }
}

#[tokio::test]
async fn every_role_gets_the_expected_code_for_every_kind_of_operation() {
    let w = world().await;
    // (operation, roles allowed); a stranger always gets NOT_FOUND under the account, others PERMISSION_DENIED.
    let operations = [
        (Operation::GetAccount, EVERYONE),
        (Operation::UpdateAccount, ADMINISTRATORS),
        (Operation::ListAccountMembers, READERS),
        (Operation::PutAccountMember, ADMINISTRATORS),
        (Operation::ListTokens, READERS),
        (Operation::CreateToken, CONTRIBUTORS),
        (Operation::ListRoles, EVERYONE),
        (Operation::ListPermissionGroups, EVERYONE),
        (Operation::VerifyToken, EVERYONE),
        (Operation::ListUsers, ROOT_ONLY),
    ];
    for (operation, allowed) in operations {
        for (who, _, _) in &w.users {
            let outcome = w.call(w.token(who), operation).await;
            let expected = if allowed.contains(who) {
                Code::Ok
            } else if *who == "stranger" && !matches!(operation, Operation::ListUsers) {
                Code::NotFound
            } else {
                Code::PermissionDenied
            };
            assert_eq!(outcome.as_ref().map_or_else(Status::code, |()| Code::Ok), expected, "{who} → {operation:?}");
            if let Err(status) = outcome {
                assert!(!status.message().contains(&w.account), "{who} must not learn about the account: {status:?}");
            }
        }
    }
    for (who, id, secret) in &w.users {
        let mut users = w.server.users_with(Credential::bearer(secret));
        let me = users.get_me(GetMeRequest {}).await.expect("me").into_inner().user.expect("user");
        assert_eq!(&me.id, id, "{who}");
        let mut accounts = w.server.accounts_with(Credential::bearer(secret));
        let listed = accounts.list_accounts(ListAccountsRequest::default()).await.expect("list").into_inner();
        let ids: Vec<&str> = listed.accounts.iter().map(|a| a.id.as_str()).collect();
        let expected = if *who == "stranger" {
            vec![w.other_account.as_str()]
        } else {
            vec![w.account.as_str(), w.child.as_str()]
        };
        assert_eq!(ids, expected, "{who} lists exactly the account it belongs to (and its child)");
    }
}

/// Sends `credential`, if any, with every call.
fn sending(credential: Option<Credential>) -> impl Interceptor + Clone {
    move |request: Request<()>| match credential.clone() {
        Some(mut credential) => credential.call(request),
        None => Ok(request),
    }
}

#[tokio::test]
async fn every_kind_of_bad_credential_is_unauthenticated() {
    let w = world().await;
    let (a, server) = (&w.account, &w.server);
    let viewer = w.user("viewer");
    let token = |request: CreateTokenRequest| async {
        let request = CreateTokenRequest { account_id: a.clone(), user_id: viewer.into(), ..request };
        let created = server.tokens().create_token(request).await.expect("create token").into_inner();
        (created.token.expect("token").id, created.value)
    };
    let base = || CreateTokenRequest { name: Some("test token".into()), ..Default::default() };
    let (_, expired) = token(CreateTokenRequest { expires_on: Some("2020-01-01T00:00:00Z".into()), ..base() }).await;
    let (_, not_yet) = token(CreateTokenRequest { not_before: Some("2999-01-01T00:00:00Z".into()), ..base() }).await;
    let (_, disabled) = token(CreateTokenRequest { status: Some("disabled".into()), ..base() }).await;
    let only_from = RequestIpCondition { r#in: vec!["203.0.113.0/24".into()], not_in: vec![] };
    let condition = Some(TokenCondition { request_ip: Some(only_from) });
    let (_, ip_refused) = token(CreateTokenRequest { condition, ..base() }).await;
    let (rolled_id, rolled) = token(base()).await;
    let roll = RollTokenRequest { account_id: a.clone(), token_id: rolled_id };
    let fresh = server.tokens().roll_token(roll).await.expect("roll").into_inner().value;
    let unknown = TokenSecret::generate().expose().to_owned();
    let cases = [
        ("no token", None),
        ("malformed", Some(Credential::raw("authorization", "Bearer acd_garbage"))),
        ("wrong scheme", Some(Credential::raw("authorization", &format!("Basic {rolled}")))),
        ("unknown", Some(Credential::bearer(&unknown))),
        ("expired", Some(Credential::bearer(&expired))),
        ("not yet valid", Some(Credential::raw("x-api-key", &not_yet))),
        ("disabled", Some(Credential::bearer(&disabled))),
        ("ip refused", Some(Credential::bearer(&ip_refused))),
        ("rolled away", Some(Credential::bearer(&rolled))),
    ];
    for (name, credential) in cases {
        let interceptor = sending(credential);
        let mut accounts = AccountServiceClient::with_interceptor(server.channel.clone(), interceptor.clone());
        let mut users = UserServiceClient::with_interceptor(server.channel.clone(), interceptor);
        let outcomes = [
            ("GetAccount", accounts.get_account(GetAccountRequest { account_id: a.clone() }).await.map(drop)),
            ("GetMe", users.get_me(GetMeRequest {}).await.map(drop)),
            ("ListAccounts", accounts.list_accounts(ListAccountsRequest::default()).await.map(drop)),
        ];
        for (rpc, outcome) in outcomes {
            let status = outcome.expect_err("refused");
            assert_eq!(status.code(), Code::Unauthenticated, "{name} on {rpc}: {status:?}");
        }
    }
    let me = server.users_with(Credential::raw("x-api-key", &fresh)).get_me(GetMeRequest {}).await;
    assert_eq!(me.expect("the rolled secret works").into_inner().user.map(|u| u.id).as_deref(), Some(viewer));
}

#[tokio::test]
async fn a_read_only_token_of_an_administrator_cannot_write() {
    let w = world().await;
    let read_only = Policy { permission_groups: vec!["accounts:read".into()], ..Default::default() };
    let request = CreateTokenRequest {
        account_id: w.account.clone(),
        user_id: w.user("administrator").into(),
        name: Some("read only".into()),
        policies: Some(PolicyList { policies: vec![read_only] }),
        ..Default::default()
    };
    let narrowed = w.server.tokens().create_token(request).await.expect("create").into_inner().value;
    w.call(Credential::bearer(&narrowed), Operation::GetAccount).await.expect("a read-only token reads");
    let status = w.call(Credential::bearer(&narrowed), Operation::UpdateAccount).await.expect_err("cannot write");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    w.call(w.token("administrator"), Operation::UpdateAccount)
        .await
        .expect("the same user's unrestricted token writes");
}

#[tokio::test]
async fn a_removed_member_loses_access_at_once_and_a_disabled_user_is_refused() {
    let w = world().await;
    w.call(w.token("member"), Operation::GetAccount).await.expect("a member reads");
    let remove = DeleteAccountMemberRequest { account_id: w.account.clone(), user_id: w.user("member").into() };
    w.server.members().delete_account_member(remove).await.expect("remove");
    let status = w.call(w.token("member"), Operation::GetAccount).await.expect_err("removed");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");

    w.call(w.token("viewer"), Operation::GetAccount).await.expect("a viewer reads");
    let disable =
        UpdateUserRequest { user_id: w.user("viewer").into(), status: Some("disabled".into()), ..Default::default() };
    w.server.users().update_user(disable).await.expect("disable");
    let status = w.call(w.token("viewer"), Operation::GetAccount).await.expect_err("disabled");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
}
