//! Authentication and authorization over gRPC (SPEC §2): who may call, and what a member's
//! token may do on its account and on others'.

use accountd_domain::TokenSecret;
use accountd_grpc::pb::{
    DeleteAccountMemberRequest, GetAccountRequest, GetMeRequest, ListAccountMembersRequest, ListAccountsRequest,
    ListMyPermissionsRequest, ListTokensRequest, PutAccountMemberRequest, RollTokenRequest, UpdateAccountRequest,
    VerifyTokenRequest,
};
use tonic::Code;

use crate::{Credential, create_account, create_user, issue_token, put_member, spawn_server};

#[tokio::test]
async fn a_call_without_a_token_or_with_a_malformed_or_unknown_one_is_unauthenticated() {
    let server = spawn_server().await;
    let unknown = TokenSecret::generate();
    let credentials = [
        None,
        Some(Credential::raw("authorization", "Bearer not-a-token")),
        Some(Credential::raw("authorization", "Basic cm9vdDpzZWNyZXQ=")),
        Some(Credential::raw("x-api-key", "acd_short")),
        Some(Credential::bearer(unknown.expose())),
        Some(Credential::raw("x-api-key", unknown.expose())),
    ];
    for credential in credentials {
        let status = match credential.clone() {
            None => accountd_grpc::pb::account_service_client::AccountServiceClient::new(server.channel.clone())
                .list_accounts(ListAccountsRequest::default())
                .await
                .expect_err("no credential"),
            Some(c) => {
                server.accounts_with(c).list_accounts(ListAccountsRequest::default()).await.expect_err("refused")
            }
        };
        assert_eq!(status.code(), Code::Unauthenticated, "{credential:?}: {status:?}");
    }
}

#[tokio::test]
async fn every_service_authenticates_its_calls() {
    let server = spawn_server().await;
    let account = create_account(&server, "Acme").await;
    let nobody = Credential::raw("x-api-key", "");
    let statuses = [
        server.users_with(nobody.clone()).get_me(GetMeRequest {}).await.expect_err("users"),
        server
            .members_with(nobody.clone())
            .list_account_members(ListAccountMembersRequest { account_id: account.id.clone(), ..Default::default() })
            .await
            .expect_err("members"),
        server
            .tokens_with(nobody)
            .list_tokens(ListTokensRequest { account_id: account.id, ..Default::default() })
            .await
            .expect_err("tokens"),
    ];
    for status in statuses {
        assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    }
}

#[tokio::test]
async fn the_root_token_also_works_as_an_api_key() {
    let server = spawn_server().await;
    let me = server
        .users_with(Credential::raw("x-api-key", &server.root_token))
        .get_me(GetMeRequest {})
        .await
        .expect("me")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(me.email, "root@example.com");
}

#[tokio::test]
async fn a_viewer_reads_its_account_but_cannot_change_it() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let viewer = create_user(&server, "viewer@example.com").await;
    let member = put_member(&server, &acme.id, &viewer.id, "viewer").await;
    assert_eq!((member.roles.as_slice(), member.status.as_str()), (["viewer".to_owned()].as_slice(), "member"));
    let (_, secret) = issue_token(&server, &acme.id, &viewer.id).await;

    let mut as_viewer = server.accounts_with(Credential::bearer(&secret));
    let read = as_viewer
        .get_account(GetAccountRequest { account_id: acme.id.clone() })
        .await
        .expect("a viewer reads")
        .into_inner()
        .account;
    assert_eq!(read.map(|a| a.name), Some("Acme".to_owned()));
    let status = as_viewer
        .update_account(UpdateAccountRequest {
            account_id: acme.id.clone(),
            name: Some("Mine now".into()),
            ..Default::default()
        })
        .await
        .expect_err("a viewer cannot write");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let status = server
        .members_with(Credential::bearer(&secret))
        .put_account_member(PutAccountMemberRequest {
            account_id: acme.id,
            user_id: viewer.id,
            role: "administrator".into(),
            ..Default::default()
        })
        .await
        .expect_err("a viewer cannot promote itself");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

#[tokio::test]
async fn an_account_the_caller_holds_nothing_on_is_not_found() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let globex = create_account(&server, "Globex").await;
    let outsider = create_user(&server, "outsider@example.com").await;
    put_member(&server, &globex.id, &outsider.id, "administrator").await;
    let (_, secret) = issue_token(&server, &globex.id, &outsider.id).await;

    let mut accounts = server.accounts_with(Credential::bearer(&secret));
    accounts.get_account(GetAccountRequest { account_id: globex.id.clone() }).await.expect("its own account");
    let status =
        accounts.get_account(GetAccountRequest { account_id: acme.id.clone() }).await.expect_err("another tenant");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let listed = accounts.list_accounts(ListAccountsRequest::default()).await.expect("list").into_inner().accounts;
    assert_eq!(listed.into_iter().map(|a| a.id).collect::<Vec<_>>(), [globex.id]);
    let status = server
        .members_with(Credential::bearer(&secret))
        .list_account_members(ListAccountMembersRequest { account_id: acme.id, ..Default::default() })
        .await
        .expect_err("another tenant's members");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn list_my_permissions_names_each_account_with_what_the_caller_holds() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    create_account(&server, "Globex").await;
    let viewer = create_user(&server, "viewer@example.com").await;
    put_member(&server, &acme.id, &viewer.id, "viewer").await;
    let (_, secret) = issue_token(&server, &acme.id, &viewer.id).await;

    let mine = server
        .users_with(Credential::bearer(&secret))
        .list_my_permissions(ListMyPermissionsRequest {})
        .await
        .expect("permissions")
        .into_inner();
    assert_eq!(mine.user_id, viewer.id);
    assert!(mine.root_permissions.is_empty(), "{:?}", mine.root_permissions);
    let [account] = mine.accounts.as_slice() else { panic!("one account expected: {:?}", mine.accounts) };
    assert_eq!((account.account_id.as_str(), account.name.as_str()), (acme.id.as_str(), "Acme"));
    assert_eq!(account.r#type(), acme.r#type());
    assert_eq!(
        account.permissions,
        ["accounts:read", "members:read", "tokens:read", "aliases:read", "subscriptions:read", "audit:read"]
    );

    let root = server.users().list_my_permissions(ListMyPermissionsRequest {}).await.expect("root").into_inner();
    assert!(root.root_permissions.iter().any(|p| p == "users:write"), "{:?}", root.root_permissions);

    // Seed 003 lists it on AccountService: the same answer there.
    let on_accounts = server
        .accounts_with(Credential::bearer(&secret))
        .list_my_permissions(ListMyPermissionsRequest {})
        .await
        .expect("permissions on AccountService")
        .into_inner();
    assert_eq!(on_accounts, mine);
    let anonymous =
        server.accounts_with(Credential::raw("x-none", "")).list_my_permissions(ListMyPermissionsRequest {}).await;
    assert_eq!(anonymous.expect_err("no token").code(), Code::Unauthenticated);
}

#[tokio::test]
async fn rolling_a_token_retires_the_old_secret_at_once() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let viewer = create_user(&server, "viewer@example.com").await;
    put_member(&server, &acme.id, &viewer.id, "viewer").await;
    let (token, old) = issue_token(&server, &acme.id, &viewer.id).await;
    let verify = || VerifyTokenRequest { account_id: acme.id.clone() };
    let verified = server.tokens_with(Credential::bearer(&old)).verify_token(verify()).await.expect("old works");
    assert_eq!((verified.get_ref().id.as_str(), verified.get_ref().status.as_str()), (token.id.as_str(), "active"));

    let new = server
        .tokens()
        .roll_token(RollTokenRequest { account_id: acme.id.clone(), token_id: token.id.clone() })
        .await
        .expect("roll")
        .into_inner()
        .value;
    assert_ne!(new, old);
    let status = server.tokens_with(Credential::bearer(&old)).verify_token(verify()).await.expect_err("old secret");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");
    let verified = server.tokens_with(Credential::bearer(&new)).verify_token(verify()).await.expect("new secret");
    assert_eq!(verified.into_inner().id, token.id);
}

#[tokio::test]
async fn the_owner_role_moves_only_by_an_ownership_transfer() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let user = create_user(&server, "someone@example.com").await;
    let mut members = server.members();

    let owner = acme.owner_id.clone();
    let status = members
        .put_account_member(PutAccountMemberRequest {
            account_id: acme.id.clone(),
            user_id: user.id,
            role: "owner".into(),
            ..Default::default()
        })
        .await
        .expect_err("owner granted by a member upsert");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");

    let status = members
        .delete_account_member(DeleteAccountMemberRequest {
            account_id: acme.id.clone(),
            user_id: acme.owner_id.clone(),
        })
        .await
        .expect_err("owner removed");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let status = members
        .put_account_member(PutAccountMemberRequest {
            account_id: acme.id.clone(),
            user_id: acme.owner_id,
            roles: vec!["viewer".into()],
            ..Default::default()
        })
        .await
        .expect_err("owner demoted");
    assert!(status.message().contains("owner"), "{status:?}");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let members = members
        .list_account_members(ListAccountMembersRequest { account_id: acme.id, ..Default::default() })
        .await
        .expect("members")
        .into_inner()
        .members;
    let roles: Vec<(String, Vec<String>)> = members.into_iter().map(|m| (m.user_id, m.roles)).collect();
    assert_eq!(roles, [(owner, vec!["owner".to_owned()])], "the owner stays, alone and the owner");
}
