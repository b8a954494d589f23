//! The gRPC twins of the REST tests of the same name: a pending enrolment cannot outlive
//! the factor activated after it, a retried enrolment replays instead of spending its code
//! twice, an owner's factors are safe through a parent account, a root id answers a tenant
//! like an unknown one, and a replay shows only what the caller could read now.

use accountd_domain::TotpSecret;
use accountd_grpc::pb;
use chrono::{Duration, Utc};
use tonic::{Code, Request};

use crate::account_users::tenant;
use crate::mfa::enrol;
use crate::{Credential, put_member, violated_fields};

fn code(secret: &str, steps: i64) -> String {
    TotpSecret::from_base32(secret).expect("base32").code_at(Utc::now() + Duration::seconds(30 * steps))
}

fn keyed<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("idempotency-key", key.parse().expect("ascii key"));
    request
}

#[tokio::test]
async fn activating_a_factor_removes_the_older_pending_enrolments() {
    let t = tenant().await;
    let mut users = t.server.users_with(Credential::bearer(&t.viewer.1));
    let stolen = users.enroll_totp(pb::EnrollTotpRequest::default()).await.expect("enrol").into_inner();
    let own = users.enroll_totp(pb::EnrollTotpRequest::default()).await.expect("enrol").into_inner();
    let own_id = own.factor.clone().expect("factor").id;
    let activate = pb::ActivateTotpRequest { factor_id: own_id.clone(), code: code(&own.secret, 0) };
    users.activate_totp(activate).await.expect("activate");

    let me = users.get_me(pb::GetMeRequest {}).await.expect("me").into_inner();
    let ids: Vec<String> = me.mfa_factors.into_iter().map(|f| f.id).collect();
    assert_eq!(ids, [own_id], "only the active factor is left");
    let late = pb::ActivateTotpRequest { factor_id: stolen.factor.expect("factor").id, code: code(&stolen.secret, 0) };
    assert_eq!(users.activate_totp(late).await.expect_err("gone").code(), Code::NotFound);
}

#[tokio::test]
async fn a_retried_enrolment_with_a_code_replays_without_spending_the_code_again() {
    let t = tenant().await;
    let active = enrol(&t.server, &t.viewer.1).await;
    let mut users = t.server.users_with(Credential::bearer(&t.viewer.1));
    let missing = users.enroll_totp(keyed(pb::EnrollTotpRequest::default(), "enrol-0")).await.expect_err("no code");
    assert_eq!((missing.code(), violated_fields(&missing)), (Code::InvalidArgument, vec!["code".to_owned()]));

    let request = || pb::EnrollTotpRequest { code: code(&active, 0) };
    let first = users.enroll_totp(keyed(request(), "enrol-1")).await.expect("enrol").into_inner();
    assert!(!first.secret.is_empty() && !first.secret_omitted);
    let again = users.enroll_totp(keyed(request(), "enrol-1")).await.expect("the retry replays");
    assert_eq!(again.metadata().get("idempotent-replayed").and_then(|v| v.to_str().ok()), Some("true"));
    let again = again.into_inner();
    assert_eq!((again.factor, again.secret.as_str(), again.secret_omitted), (first.factor, "", true));
    let me = users.get_me(pb::GetMeRequest {}).await.expect("me").into_inner();
    assert_eq!(me.mfa_factors.len(), 2, "one enrolment, not two");
}

#[tokio::test]
async fn a_root_user_id_answers_a_tenant_like_an_unknown_id() {
    let t = tenant().await;
    let root = t.server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("user").id;
    put_member(&t.server, &t.account, &root, "administrator").await;
    let mut users = t.server.users_with(Credential::bearer(&t.owner.1));
    for user_id in [root.clone(), uuid::Uuid::now_v7().to_string()] {
        let reset = pb::ResetAccountUserMfaRequest { account_id: t.account.clone(), user_id: user_id.clone() };
        assert_eq!(users.reset_account_user_mfa(reset).await.expect_err("reset").code(), Code::NotFound, "{user_id}");
        let delete = pb::DeleteAccountUserRequest { account_id: t.account.clone(), user_id: user_id.clone() };
        assert_eq!(users.delete_account_user(delete).await.expect_err("delete").code(), Code::NotFound, "{user_id}");
    }
}

#[tokio::test]
async fn the_owner_of_a_child_account_keeps_its_factors_when_reset_through_the_parent() {
    let t = tenant().await;
    let child_owner = crate::create_user(&t.server, "child-owner@example.com").await.id;
    let child = pb::CreateAccountRequest {
        name: "Child".into(),
        parent_id: t.account.clone(),
        user_id: child_owner.clone(),
        ..Default::default()
    };
    t.server.accounts().create_account(child).await.expect("child");
    put_member(&t.server, &t.account, &child_owner, "member").await;
    let (_, child_token) = crate::issue_token(&t.server, &t.account, &child_owner).await;
    enrol(&t.server, &child_token).await;

    let reset = pb::ResetAccountUserMfaRequest { account_id: t.account.clone(), user_id: child_owner.clone() };
    let refused = t.server.users_with(Credential::bearer(&t.owner.1)).reset_account_user_mfa(reset).await;
    let refused = refused.expect_err("an owner's factors are never reset");
    assert_eq!((refused.code(), violated_fields(&refused)), (Code::InvalidArgument, vec!["user_id".to_owned()]));
    let me = t.server.users_with(Credential::bearer(&child_token)).get_me(pb::GetMeRequest {}).await.expect("me");
    assert!(me.into_inner().mfa_enabled, "the owner's factor is still there");
}

#[tokio::test]
async fn a_replayed_account_creation_shows_nothing_the_caller_can_no_longer_read() {
    let t = tenant().await;
    let mut accounts = t.server.accounts_with(Credential::bearer(&t.owner.1));
    let create =
        || pb::CreateAccountRequest { name: "Child".into(), parent_id: t.account.clone(), ..Default::default() };
    let first = accounts.create_account(keyed(create(), "child-1")).await.expect("create").into_inner();
    let child = first.account.expect("account").id;
    let again = accounts.create_account(keyed(create(), "child-1")).await.expect("replay").into_inner();
    assert_eq!(again.account.expect("account").id, child);

    // The platform moves the child to another tenant: the key no longer shows it.
    let other =
        pb::CreateAccountRequest { name: "Other".into(), r#type: pb::AccountType::Agency.into(), ..Default::default() };
    let other = t.server.accounts().create_account(other).await.expect("other").into_inner().account.expect("a").id;
    let moved = pb::MoveAccountRequest { account_id: child.clone(), parent_id: other, etag: String::new() };
    t.server.accounts().move_account(moved).await.expect("move");
    let gone = accounts.create_account(keyed(create(), "child-1")).await.expect_err("gone for this key");
    assert_eq!(gone.code(), Code::FailedPrecondition, "{gone:?}");
    assert!(!gone.message().contains(&child), "{gone:?}");
}
