//! Account users over gRPC (seed 002): the five UserService RPCs with their shapes and
//! status codes, the owner's protection and the refusals.

use accountd_grpc::pb::{
    self, CreateAccountUserRequest, DeleteAccountUserRequest, GetAccountUserRequest, GetMeRequest,
    ListAccountUsersRequest, ResetAccountUserMfaRequest,
};
use tonic::Code;

use crate::mfa::enrol;
use crate::{Credential, TestServer, create_user, issue_token, put_member, spawn_server, violated_fields};

/// An account owned by a user of its own, with an administrator and a viewer, and a
/// stranger administering another account; each with a token.
pub struct Tenant {
    pub server: TestServer,
    pub account: String,
    pub owner: (String, String),
    pub admin: (String, String),
    pub viewer: (String, String),
    pub stranger: (String, String),
}

pub async fn tenant() -> Tenant {
    let server = spawn_server().await;
    let owner = create_user(&server, "owner@example.com").await.id;
    let request = pb::CreateAccountRequest {
        name: "Acme".into(),
        r#type: pb::AccountType::Agency.into(),
        user_id: owner.clone(),
        ..Default::default()
    };
    let account = server.accounts().create_account(request).await.expect("create").into_inner().account.expect("a").id;
    let other = crate::create_account(&server, "Other").await.id;
    let admin = create_user(&server, "admin@example.com").await.id;
    put_member(&server, &account, &admin, "administrator").await;
    let viewer = create_user(&server, "viewer@example.com").await.id;
    put_member(&server, &account, &viewer, "viewer").await;
    let stranger = create_user(&server, "stranger@example.com").await.id;
    put_member(&server, &other, &stranger, "administrator").await;
    let token = |user: String, account: String| {
        let server = &server;
        async move { (user.clone(), issue_token(server, &account, &user).await.1) }
    };
    let owner = token(owner, account.clone()).await;
    let admin = token(admin, account.clone()).await;
    let viewer = token(viewer, account.clone()).await;
    let stranger = token(stranger, other).await;
    Tenant { server, account, owner, admin, viewer, stranger }
}

#[tokio::test]
async fn the_five_rpcs_answer_with_the_seed_shapes() {
    let t = tenant().await;
    let mut users = t.server.users_with(Credential::bearer(&t.admin.1));
    let listed = users
        .list_account_users(ListAccountUsersRequest { account_id: t.account.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let owner = listed.owner.expect("the owner apart");
    assert_eq!(
        (owner.id.as_str(), owner.group_memberships.as_slice()),
        (t.owner.0.as_str(), &["owner".to_owned()][..])
    );
    let mut ids: Vec<&str> = listed.users.iter().map(|u| u.id.as_str()).collect();
    ids.sort();
    let mut expected = vec![t.admin.0.as_str(), t.viewer.0.as_str()];
    expected.sort();
    assert_eq!(ids, expected, "the owner is never among the users");

    let created = users
        .create_account_user(CreateAccountUserRequest {
            account_id: t.account.clone(),
            email_address: "grace@example.com".into(),
            first_name: "Grace".into(),
            last_name: "Hopper".into(),
        })
        .await
        .expect("create")
        .into_inner()
        .user
        .expect("user");
    // An administrator invites: the answer shows what it typed, no names, until the user accepts.
    assert_eq!(
        (created.email_address.as_str(), created.first_name.as_str(), created.group_memberships.as_slice()),
        ("grace@example.com", "", &["member".to_owned()][..])
    );
    assert_eq!((created.status.as_str(), created.mfa_enabled), ("invited", false));
    let read = users
        .get_account_user(GetAccountUserRequest { account_id: t.account.clone(), user_id: created.id.clone() })
        .await
        .expect("get")
        .into_inner()
        .user;
    assert_eq!(read.as_ref(), Some(&created));
    let deleted = users
        .delete_account_user(DeleteAccountUserRequest { account_id: t.account.clone(), user_id: created.id.clone() })
        .await
        .expect("delete")
        .into_inner();
    assert_eq!(deleted.id, created.id);
    let status = users
        .get_account_user(GetAccountUserRequest { account_id: t.account.clone(), user_id: created.id })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound);
}

#[tokio::test]
async fn create_refuses_bad_input_and_a_member_twice() {
    let t = tenant().await;
    let mut users = t.server.users();
    let status = users
        .create_account_user(CreateAccountUserRequest {
            account_id: t.account.clone(),
            email_address: "nope".into(),
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["email_address", "first_name", "last_name"]);
    let status = users
        .create_account_user(CreateAccountUserRequest {
            account_id: t.account.clone(),
            email_address: "viewer@example.com".into(),
            first_name: "V".into(),
            last_name: "W".into(),
        })
        .await
        .expect_err("a member already");
    assert_eq!(status.code(), Code::AlreadyExists);
}

#[tokio::test]
async fn reset_mfa_clears_a_users_factors_and_never_the_owners() {
    let t = tenant().await;
    enrol(&t.server, &t.owner.1).await;
    enrol(&t.server, &t.viewer.1).await;
    let mut admin = t.server.users_with(Credential::bearer(&t.admin.1));
    let reset = |user: &str| ResetAccountUserMfaRequest { account_id: t.account.clone(), user_id: user.into() };

    let status = admin.reset_account_user_mfa(reset(&t.owner.0)).await.expect_err("the owner");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["user_id"]);
    let owner_me = t.server.users_with(Credential::bearer(&t.owner.1)).get_me(GetMeRequest {}).await.expect("me");
    assert!(owner_me.into_inner().mfa_enabled, "nothing changed for the owner");

    admin.reset_account_user_mfa(reset(&t.viewer.0)).await.expect("reset");
    let me = t.server.users_with(Credential::bearer(&t.viewer.1)).get_me(GetMeRequest {}).await.expect("me");
    let me = me.into_inner();
    assert!(!me.mfa_enabled && me.mfa_factors.is_empty(), "{me:?}");

    let status = admin.reset_account_user_mfa(reset(&t.stranger.0)).await.expect_err("not a member");
    assert_eq!(status.code(), Code::NotFound);
    let status = admin.reset_account_user_mfa(reset(&uuid::Uuid::now_v7().to_string())).await.expect_err("unknown");
    assert_eq!(status.code(), Code::NotFound);
}

/// The status code of an answer, `Ok` for a success.
fn code_of<T>(result: Result<tonic::Response<T>, tonic::Status>) -> Code {
    result.map_or_else(|s| s.code(), |_| Code::Ok)
}

#[tokio::test]
async fn every_rpc_is_unauthenticated_forbidden_or_not_found_as_over_rest() {
    let t = tenant().await;
    let a = t.account.clone();
    let target = t.admin.0.clone();
    for (who, expected_write, expected_read) in [
        (Credential::raw("x-api-key", "acd_nope"), Code::Unauthenticated, Code::Unauthenticated),
        (Credential::bearer(&t.viewer.1), Code::PermissionDenied, Code::Ok),
        (Credential::bearer(&t.stranger.1), Code::NotFound, Code::NotFound),
    ] {
        let mut users = t.server.users_with(who);
        let list =
            users.list_account_users(ListAccountUsersRequest { account_id: a.clone(), ..Default::default() }).await;
        assert_eq!(code_of(list), expected_read);
        let get =
            users.get_account_user(GetAccountUserRequest { account_id: a.clone(), user_id: target.clone() }).await;
        assert_eq!(code_of(get), expected_read);
        let create = users
            .create_account_user(CreateAccountUserRequest {
                account_id: a.clone(),
                email_address: "new@example.com".into(),
                first_name: "N".into(),
                last_name: "U".into(),
            })
            .await;
        assert_eq!(code_of(create), expected_write);
        let delete = users
            .delete_account_user(DeleteAccountUserRequest { account_id: a.clone(), user_id: target.clone() })
            .await;
        assert_eq!(code_of(delete), expected_write);
        let reset = users
            .reset_account_user_mfa(ResetAccountUserMfaRequest { account_id: a.clone(), user_id: target.clone() })
            .await;
        assert_eq!(code_of(reset), expected_write);
    }
}
