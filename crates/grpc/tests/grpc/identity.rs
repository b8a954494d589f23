//! `accountd.v1.UserService`, `MemberService` and `TokenService` over a real connection:
//! the twins of the REST user, member, role and token endpoints.

use accountd_grpc::pb::{
    AccountMember, AddAccountMemberRequest, CreateTokenRequest, CreateUserRequest, DeleteTokenRequest,
    GetAccountMemberRequest, GetAccountRequest, GetMeRequest, GetRoleRequest, GetTokenRequest, GetUserRequest,
    ListAccountMembersRequest, ListAccountsRequest, ListPermissionGroupsRequest, ListRolesRequest, ListTokensRequest,
    ListUsersRequest, Policy, PolicyList, RequestIpCondition, RespondToInvitationRequest, RootPermissions,
    TokenCondition, UpdateTokenRequest, UpdateUserRequest,
};
use tonic::Code;

use crate::{Credential, create_account, create_user, issue_token, put_member, spawn_server, violated_fields};

#[tokio::test]
async fn a_root_user_creates_lists_reads_and_updates_users() {
    let server = spawn_server().await;
    let mut users = server.users();
    let ada = users
        .create_user(CreateUserRequest {
            email: "Ada@Example.com".into(),
            first_name: " Ada ".into(),
            last_name: "Lovelace".into(),
            root_permissions: vec![],
        })
        .await
        .expect("create")
        .into_inner()
        .user
        .expect("user");
    assert_eq!((ada.first_name.as_str(), ada.last_name.as_str(), ada.status.as_str()), ("Ada", "Lovelace", "active"));
    assert_eq!((ada.version, ada.etag.as_str()), (1, "\"1\""));

    let duplicate =
        CreateUserRequest { email: ada.email.to_uppercase(), first_name: "Other".into(), ..Default::default() };
    let status = users.create_user(duplicate).await.expect_err("same email");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");
    let status = users
        .create_user(CreateUserRequest {
            email: "nope".into(),
            root_permissions: vec!["galaxy:rule".into()],
            ..Default::default()
        })
        .await
        .expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["email", "root_permissions"]);

    let listed = users.list_users(ListUsersRequest { page_size: Some(1), ..Default::default() }).await.expect("list");
    let listed = listed.into_inner();
    assert_eq!(listed.users.len(), 1);
    assert_ne!(listed.next_page_token, "", "root and Ada make two pages of one");
    let read = users.get_user(GetUserRequest { user_id: ada.id.clone() }).await.expect("get").into_inner().user;
    assert_eq!(read.as_ref(), Some(&ada));

    let update = |etag: &str| UpdateUserRequest {
        user_id: ada.id.clone(),
        last_name: Some("King".into()),
        root_permissions: Some(RootPermissions { permissions: vec!["users:read".into()] }),
        etag: etag.into(),
        ..Default::default()
    };
    let updated = users.update_user(update(&ada.etag)).await.expect("update").into_inner().user.expect("user");
    assert_eq!((updated.first_name.as_str(), updated.last_name.as_str()), ("Ada", "King"), "absent fields are kept");
    assert_eq!(updated.root_permissions, ["users:read"]);
    let status = users.update_user(update(&ada.etag)).await.expect_err("stale etag");
    assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
    let revoked = users
        .update_user(UpdateUserRequest {
            user_id: ada.id.clone(),
            root_permissions: Some(RootPermissions::default()),
            ..Default::default()
        })
        .await
        .expect("revoke")
        .into_inner()
        .user
        .expect("user");
    assert!(revoked.root_permissions.is_empty(), "a present empty list revokes all");
    // Ids are opaque: one that is not well formed names nothing; an empty one is missing.
    let status = users.get_user(GetUserRequest { user_id: "nope".into() }).await.expect_err("bad id");
    assert_eq!(status.code(), Code::NotFound);
    let status = users.get_user(GetUserRequest { user_id: String::new() }).await.expect_err("no id");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["user_id".to_owned()]));
}

#[tokio::test]
async fn an_ordinary_user_sees_itself_only() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let user = create_user(&server, "someone@example.com").await;
    let other = create_user(&server, "other@example.com").await;
    put_member(&server, &acme.id, &user.id, "member").await;
    let (_, secret) = issue_token(&server, &acme.id, &user.id).await;
    let mut users = server.users_with(Credential::bearer(&secret));

    let me = users.get_me(GetMeRequest {}).await.expect("me").into_inner().user;
    assert_eq!(me.map(|u| u.id), Some(user.id.clone()));
    users.get_user(GetUserRequest { user_id: user.id }).await.expect("itself");
    let status = users.get_user(GetUserRequest { user_id: other.id }).await.expect_err("someone else");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = users.list_users(ListUsersRequest::default()).await.expect_err("not root");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
}

#[tokio::test]
async fn an_invited_member_holds_nothing_until_it_accepts() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let mut members = server.members();
    let invited = members
        .add_account_member(AddAccountMemberRequest {
            account_id: acme.id.clone(),
            email: "new@example.com".into(),
            roles: vec!["viewer".into(), "billing".into()],
            ..Default::default()
        })
        .await
        .expect("invite")
        .into_inner()
        .member
        .expect("member");
    assert_eq!(invited.status, "invited");
    assert_eq!(invited.roles, ["billing", "viewer"], "catalogue order");
    assert_eq!(invited.invited_by, acme.owner_id);
    let status = members
        .add_account_member(AddAccountMemberRequest {
            account_id: acme.id.clone(),
            user_id: invited.user_id.clone(),
            roles: vec!["viewer".into()],
            ..Default::default()
        })
        .await
        .expect_err("a member already");
    assert_eq!(status.code(), Code::AlreadyExists, "{status:?}");

    let (_, secret) = issue_token(&server, &acme.id, &invited.user_id).await;
    let status = server
        .accounts_with(Credential::bearer(&secret))
        .get_account(GetAccountRequest { account_id: acme.id.clone() })
        .await
        .expect_err("invited only");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let accepted = server
        .users_with(Credential::bearer(&secret))
        .respond_to_invitation(RespondToInvitationRequest { account_id: acme.id.clone(), accept: true })
        .await
        .expect("accept")
        .into_inner()
        .member
        .expect("member");
    assert_eq!(accepted.status, "member");
    server
        .accounts_with(Credential::bearer(&secret))
        .get_account(GetAccountRequest { account_id: acme.id.clone() })
        .await
        .expect("a member now");

    let read = members
        .get_account_member(GetAccountMemberRequest { account_id: acme.id.clone(), user_id: invited.user_id })
        .await
        .expect("get")
        .into_inner()
        .member;
    // The invited user (a tenant) sees no root user's id; the root reader does.
    assert_eq!(accepted.invited_by, "");
    let read = read.expect("member");
    assert!(!read.invited_by.is_empty());
    assert_eq!(AccountMember { invited_by: String::new(), ..read }, accepted);
    let page = members
        .list_account_members(ListAccountMembersRequest { account_id: acme.id, ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(page.members.iter().map(|m| m.roles[0].as_str()).collect::<Vec<_>>(), ["owner", "billing"]);
    assert_eq!(page.next_page_token, "");
}

#[tokio::test]
async fn a_rejected_invitation_removes_the_membership() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let user = create_user(&server, "someone@example.com").await;
    server
        .members()
        .add_account_member(AddAccountMemberRequest {
            account_id: acme.id.clone(),
            user_id: user.id.clone(),
            roles: vec!["member".into()],
            ..Default::default()
        })
        .await
        .expect("invite");
    let (_, secret) = issue_token(&server, &acme.id, &user.id).await;
    let mut users = server.users_with(Credential::bearer(&secret));
    let reply = users
        .respond_to_invitation(RespondToInvitationRequest { account_id: acme.id.clone(), accept: false })
        .await
        .expect("reject")
        .into_inner();
    assert_eq!(reply.member, None);
    let status = users
        .respond_to_invitation(RespondToInvitationRequest { account_id: acme.id.clone(), accept: true })
        .await
        .expect_err("nothing to answer");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = server
        .members()
        .get_account_member(GetAccountMemberRequest { account_id: acme.id, user_id: user.id })
        .await
        .expect_err("gone");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn bad_member_input_is_invalid_argument_naming_the_field() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let user = create_user(&server, "someone@example.com").await;
    let mut members = server.members();
    let add = |user_id: &str, email: &str, roles: &[&str]| AddAccountMemberRequest {
        account_id: acme.id.clone(),
        user_id: user_id.into(),
        email: email.into(),
        roles: roles.iter().map(|r| (*r).to_owned()).collect(),
    };
    let cases = [
        (add(&user.id, "someone@example.com", &["viewer"]), "user_id"),
        (add("", "", &["viewer"]), "user_id"),
        (add("", "not-an-email", &["viewer"]), "email"),
        (add(&user.id, "", &[]), "roles"),
        (add(&user.id, "", &["emperor"]), "roles"),
    ];
    for (request, field) in cases {
        let status = members.add_account_member(request.clone()).await.expect_err("invalid");
        assert_eq!(
            (status.code(), violated_fields(&status)),
            (Code::InvalidArgument, vec![field.to_owned()]),
            "{request:?}"
        );
    }
    let stranger = uuid::Uuid::now_v7().to_string();
    // An unknown id answers like a user the caller may not see: no oracle for ids.
    let status = members.add_account_member(add(&stranger, "", &["viewer"])).await.expect_err("no such user");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn roles_are_listed_and_read_by_id() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let mut members = server.members();
    let roles = members.list_roles(ListRolesRequest { account_id: acme.id.clone() }).await.expect("list");
    let ids: Vec<String> = roles.into_inner().roles.into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["owner", "administrator", "member", "billing", "viewer"]);
    let viewer = members
        .get_role(GetRoleRequest { account_id: acme.id.clone(), role_id: "viewer".into() })
        .await
        .expect("get")
        .into_inner()
        .role
        .expect("role");
    assert!(viewer.permissions.iter().all(|p| p.ends_with(":read")), "{viewer:?}");
    let status = members
        .get_role(GetRoleRequest { account_id: acme.id, role_id: "emperor".into() })
        .await
        .expect_err("unknown role");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn a_token_is_created_listed_read_updated_and_deleted() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let mut tokens = server.tokens();
    let created = tokens
        .create_token(CreateTokenRequest {
            account_id: acme.id.clone(),
            name: Some(" ci ".into()),
            policies: Some(PolicyList {
                policies: vec![Policy {
                    effect: String::new(),
                    permission_groups: vec!["accounts:read".into(), "members:read".into()],
                    resources: vec![],
                }],
            }),
            condition: Some(TokenCondition {
                request_ip: Some(RequestIpCondition { r#in: vec!["127.0.0.1".into()], not_in: vec![] }),
            }),
            expires_on: Some("2999-01-01T00:00:00Z".into()),
            ..Default::default()
        })
        .await
        .expect("create")
        .into_inner();
    let token = created.token.expect("token");
    assert!(created.value.starts_with("acd_"), "the secret, once");
    assert!(created.value.ends_with(&token.hint[token.hint.len() - 4..]), "{}", token.hint);
    assert_eq!((token.name.as_str(), token.status.as_str()), ("ci", "active"));
    assert_eq!((token.account_id.as_str(), token.user_id.as_str()), (acme.id.as_str(), acme.owner_id.as_str()));
    assert_eq!(token.policies[0].effect, "allow");
    assert_eq!(
        token.condition.as_ref().and_then(|c| c.request_ip.as_ref()).map(|ip| ip.r#in.clone()),
        Some(vec!["127.0.0.1/32".to_owned()])
    );
    assert_eq!(token.not_before, None);
    assert!(token.expires_on.is_some());

    let listed = tokens
        .list_tokens(ListTokensRequest { account_id: acme.id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.tokens, vec![token.clone()]);
    let read = tokens
        .get_token(GetTokenRequest { account_id: acme.id.clone(), token_id: token.id.clone() })
        .await
        .expect("get")
        .into_inner()
        .token;
    assert_eq!(read.as_ref(), Some(&token));

    // The token works from 127.0.0.1 and only reads.
    let mut own = server.accounts_with(Credential::bearer(&created.value));
    own.get_account(GetAccountRequest { account_id: acme.id.clone() }).await.expect("allowed address");

    let updated = tokens
        .update_token(UpdateTokenRequest {
            account_id: acme.id.clone(),
            token_id: token.id.clone(),
            status: Some("disabled".into()),
            condition: Some(TokenCondition {
                request_ip: Some(RequestIpCondition { r#in: vec![], not_in: vec!["10.0.0.0/8".into()] }),
            }),
            expires_on: Some(String::new()),
            ..Default::default()
        })
        .await
        .expect("update")
        .into_inner()
        .token
        .expect("token");
    assert_eq!((updated.name.as_str(), updated.status.as_str()), ("ci", "disabled"), "absent name is kept");
    assert_eq!(updated.policies, token.policies, "absent policies are kept");
    let ip = updated.condition.and_then(|c| c.request_ip).expect("condition");
    assert_eq!((ip.r#in, ip.not_in), (vec![], vec!["10.0.0.0/8".to_owned()]));
    assert_eq!(updated.expires_on, None, "an empty string clears");
    let status = own.get_account(GetAccountRequest { account_id: acme.id.clone() }).await.expect_err("disabled");
    assert_eq!(status.code(), Code::Unauthenticated, "{status:?}");

    tokens
        .delete_token(DeleteTokenRequest { account_id: acme.id.clone(), token_id: token.id.clone() })
        .await
        .expect("delete");
    let status =
        tokens.get_token(GetTokenRequest { account_id: acme.id, token_id: token.id }).await.expect_err("deleted");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
}

#[tokio::test]
async fn a_token_is_refused_outside_its_address_range_and_validity_window() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let mut tokens = server.tokens();
    let create =
        |name: &str| CreateTokenRequest { account_id: acme.id.clone(), name: Some(name.into()), ..Default::default() };
    let requests = [
        CreateTokenRequest {
            condition: Some(TokenCondition {
                request_ip: Some(RequestIpCondition { r#in: vec!["10.0.0.0/8".into()], not_in: vec![] }),
            }),
            ..create("elsewhere")
        },
        CreateTokenRequest { not_before: Some("2999-01-01T00:00:00Z".into()), ..create("later") },
        CreateTokenRequest { expires_on: Some("2001-01-01T00:00:00Z".into()), ..create("expired") },
    ];
    for request in requests {
        let created = tokens.create_token(request.clone()).await.expect("create").into_inner();
        let status = server
            .accounts_with(Credential::bearer(&created.value))
            .list_accounts(ListAccountsRequest::default())
            .await
            .expect_err("refused");
        assert_eq!(status.code(), Code::Unauthenticated, "{request:?}: {status:?}");
    }
    let expired = tokens
        .list_tokens(ListTokensRequest { account_id: acme.id, ..Default::default() })
        .await
        .expect("list")
        .into_inner()
        .tokens
        .into_iter()
        .find(|t| t.name == "expired")
        .expect("listed");
    assert_eq!(expired.status, "expired");
}

#[tokio::test]
async fn bad_token_input_is_invalid_argument_naming_the_field() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let (token, _) = issue_token(&server, &acme.id, &acme.owner_id).await;
    let mut tokens = server.tokens();
    let create = || CreateTokenRequest { account_id: acme.id.clone(), name: Some("t".into()), ..Default::default() };
    let policy = |effect: &str, groups: &[&str], resources: &[&str]| PolicyList {
        policies: vec![Policy {
            effect: effect.into(),
            permission_groups: groups.iter().map(|g| (*g).to_owned()).collect(),
            resources: resources.iter().map(|r| (*r).to_owned()).collect(),
        }],
    };
    let cases = [
        (CreateTokenRequest { name: None, ..create() }, "name"),
        (CreateTokenRequest { name: Some(" ".into()), ..create() }, "name"),
        (CreateTokenRequest { status: Some("expired".into()), ..create() }, "status"),
        (CreateTokenRequest { user_id: "nope".into(), ..create() }, "user_id"),
        (
            CreateTokenRequest { policies: Some(policy("maybe", &["accounts:read"], &[])), ..create() },
            "policies[0].effect",
        ),
        (CreateTokenRequest { policies: Some(policy("allow", &[], &[])), ..create() }, "policies[0].permission_groups"),
        (
            CreateTokenRequest { policies: Some(policy("deny", &["galaxy:rule"], &[])), ..create() },
            "policies[0].permission_groups",
        ),
        (
            CreateTokenRequest { policies: Some(policy("allow", &["accounts:read"], &["x"])), ..create() },
            "policies[0].resources",
        ),
        (
            CreateTokenRequest {
                condition: Some(TokenCondition {
                    request_ip: Some(RequestIpCondition { r#in: vec!["not-an-ip".into()], not_in: vec![] }),
                }),
                ..create()
            },
            "condition.request_ip.in",
        ),
        (CreateTokenRequest { not_before: Some("tomorrow".into()), ..create() }, "not_before"),
        (
            CreateTokenRequest {
                not_before: Some("2030-01-02T00:00:00Z".into()),
                expires_on: Some("2030-01-01T00:00:00Z".into()),
                ..create()
            },
            "expires_on",
        ),
    ];
    for (request, field) in cases {
        let status = tokens.create_token(request.clone()).await.expect_err("invalid");
        assert_eq!(
            (status.code(), violated_fields(&status)),
            (Code::InvalidArgument, vec![field.to_owned()]),
            "{request:?}"
        );
    }
    let status = tokens
        .update_token(UpdateTokenRequest {
            account_id: acme.id.clone(),
            token_id: token.id.clone(),
            policies: Some(PolicyList::default()),
            ..Default::default()
        })
        .await
        .expect_err("no policies");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["policies".to_owned()]));
    let status = tokens
        .get_token(GetTokenRequest { account_id: acme.id.clone(), token_id: "nope".into() })
        .await
        .expect_err("bad id");
    assert_eq!(status.code(), Code::NotFound, "an id that is not well formed names nothing");
    let status =
        tokens.get_token(GetTokenRequest { account_id: acme.id, token_id: String::new() }).await.expect_err("no id");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["token_id".to_owned()]));
}

#[tokio::test]
async fn a_member_manages_only_its_own_tokens_and_lists_permission_groups() {
    let server = spawn_server().await;
    let acme = create_account(&server, "Acme").await;
    let user = create_user(&server, "someone@example.com").await;
    put_member(&server, &acme.id, &user.id, "member").await;
    let (own, secret) = issue_token(&server, &acme.id, &user.id).await;
    let (root_token, _) = issue_token(&server, &acme.id, &acme.owner_id).await;
    let mut tokens = server.tokens_with(Credential::bearer(&secret));

    let listed = tokens
        .list_tokens(ListTokensRequest { account_id: acme.id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    assert_eq!(listed.tokens.into_iter().map(|t| t.id).collect::<Vec<_>>(), [own.id]);
    let status = tokens
        .get_token(GetTokenRequest { account_id: acme.id.clone(), token_id: root_token.id })
        .await
        .expect_err("someone else's token");
    assert_eq!(status.code(), Code::NotFound, "{status:?}");
    let status = tokens
        .create_token(CreateTokenRequest {
            account_id: acme.id.clone(),
            user_id: acme.owner_id.clone(),
            name: Some("for the owner".into()),
            ..Default::default()
        })
        .await
        .expect_err("only root creates tokens for others");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");

    let groups = tokens
        .list_permission_groups(ListPermissionGroupsRequest { account_id: acme.id })
        .await
        .expect("groups")
        .into_inner()
        .permission_groups;
    let read = groups.iter().find(|g| g.id == "accounts:read").expect("accounts:read");
    assert_eq!((read.name.as_str(), read.scopes.as_slice()), ("Accounts Read", ["account".to_owned()].as_slice()));
    assert!(groups.iter().all(|g| g.id != "users:read" && g.id != "users:write"), "platform permissions: {groups:?}");
}

#[tokio::test]
async fn the_bootstrap_platform_token_can_be_listed_rolled_and_revoked() {
    use accountd_grpc::pb::{ListPlatformTokensRequest, PlatformTokenRequest};

    let server = spawn_server().await;
    let me = server.users().get_me(accountd_grpc::pb::GetMeRequest {}).await.expect("me").into_inner();
    let user_id = me.user.expect("user").id;
    let mut tokens = server.tokens();
    let listed = tokens
        .list_platform_tokens(ListPlatformTokensRequest { user_id: user_id.clone(), ..Default::default() })
        .await
        .expect("list")
        .into_inner();
    let bootstrap = listed.tokens[0].id.clone();
    let rolled = tokens
        .roll_platform_token(PlatformTokenRequest { user_id: user_id.clone(), token_id: bootstrap.clone() })
        .await
        .expect("roll")
        .into_inner();
    let old = server
        .tokens()
        .list_platform_tokens(ListPlatformTokensRequest { user_id: user_id.clone(), ..Default::default() })
        .await;
    assert_eq!(old.expect_err("old secret").code(), tonic::Code::Unauthenticated);
    let mut fresh = server.tokens_with(crate::Credential::bearer(&rolled.value));
    fresh.delete_platform_token(PlatformTokenRequest { user_id, token_id: bootstrap }).await.expect("revoke");
    let gone = fresh.list_permission_groups(accountd_grpc::pb::ListPermissionGroupsRequest::default()).await;
    assert_eq!(gone.expect_err("revoked").code(), tonic::Code::Unauthenticated);
}
