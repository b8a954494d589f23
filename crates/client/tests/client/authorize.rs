//! `Client::authorize`: the decision API as a method, for a token and for a user.

use accountd_client::{Check, Error, SecretString, Subject, pb};

use crate::{TestServer, create_user, spawn_server};

/// Account A owned by an owner, with a member (role `member`) holding a token on A.
struct World {
    server: TestServer,
    a: String,
    member: String,
    member_token: pb::CreateTokenResponse,
}

async fn world() -> World {
    let server = spawn_server().await;
    let root = server.root().await;
    let owner = create_user(&root, "owner@example.com").await;
    let a = pb::CreateAccountRequest { name: "Acme".into(), user_id: owner, ..Default::default() };
    let a = root.create_account(a).await.expect("account").value.id;
    let member = create_user(&root, "member@example.com").await;
    let put = pb::PutAccountMemberRequest {
        account_id: a.clone(),
        user_id: member.clone(),
        role: "member".into(),
        ..Default::default()
    };
    root.members().put_account_member(put).await.expect("member");
    let token = pb::CreateTokenRequest {
        account_id: a.clone(),
        user_id: member.clone(),
        name: Some("member token".into()),
        ..Default::default()
    };
    let member_token = root.create_token(token).await.expect("token").value;
    World { server, a, member, member_token }
}

fn secret(value: &str) -> SecretString {
    SecretString::from(value.to_owned())
}

#[tokio::test]
async fn authorize_answers_allowed_and_forbidden_per_check_for_a_token_and_a_user() {
    let w = world().await;
    let root = w.server.root().await;
    let checks = || [Check::new(&w.a, "aliases:write"), Check::new(&w.a, "members:write")];
    let token = Subject::token(secret(&w.member_token.value)).from_ip("203.0.113.7".parse().expect("ip"));
    let decision = root.authorize(token, checks()).await.expect("decision");
    assert!(decision.active, "{decision:?}");
    assert!(decision.allowed(&w.a, "aliases:write"));
    assert!(!decision.allowed(&w.a, "members:write"));
    assert!(!decision.all_allowed());
    assert_eq!(decision.results.iter().map(|r| r.reason.as_str()).collect::<Vec<_>>(), ["granted", "forbidden"]);
    let subject = decision.subject.expect("subject");
    assert_eq!(subject.user_id, w.member);
    assert_eq!(subject.token_id.as_deref(), w.member_token.token.as_ref().map(|t| t.id.as_str()));

    let by_user = root.authorize(Subject::user(&w.member), checks()).await.expect("decision");
    assert_eq!(by_user.results, decision.results);
    assert_eq!(by_user.subject.expect("subject").token_id, None);
}

#[tokio::test]
async fn authorize_answers_inactive_with_a_reason_for_a_token_that_is_not_usable() {
    let w = world().await;
    let root = w.server.root().await;
    let token = w.member_token.token.clone().expect("token");
    let delete = pb::DeleteTokenRequest { account_id: w.a.clone(), token_id: token.id };
    root.delete_token(delete).await.expect("delete token");
    let decision = root
        .authorize(Subject::token(secret(&w.member_token.value)), [Check::new(&w.a, "aliases:write")])
        .await
        .expect("decision");
    assert!(!decision.active, "{decision:?}");
    assert_eq!(decision.reason.as_deref(), Some("unknown"));
    assert!(decision.results.is_empty());
    assert!(!decision.allowed(&w.a, "aliases:write"));
    assert_eq!(decision.subject, None);
}

#[tokio::test]
async fn authorize_without_authz_check_is_permission_denied_and_a_bad_request_names_its_field() {
    let w = world().await;
    let member = w.server.client_with(&w.member_token.value).await;
    let denied = member.authorize(Subject::user(&w.member), [Check::new(&w.a, "aliases:write")]).await;
    assert!(matches!(denied, Err(Error::PermissionDenied { .. })), "{denied:?}");

    let root = w.server.root().await;
    let invalid = root.authorize(Subject::user(&w.member), []).await;
    let Err(Error::Invalid { fields, .. }) = invalid else { panic!("{invalid:?}") };
    assert!(fields.iter().any(|f| f.field == "checks"), "{fields:?}");
}
