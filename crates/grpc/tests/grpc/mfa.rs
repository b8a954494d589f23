//! MFA over gRPC: enrolment, activation with a computed code, replay refusal, GetMe without
//! secrets, and enforced two-factor answering PERMISSION_DENIED with its reason.

use accountd_domain::TotpSecret;
use accountd_grpc::pb::{
    ActivateTotpRequest, DeleteTotpRequest, EnrollTotpRequest, GetAccountRequest, GetMeRequest, UpdateAccountRequest,
    VerifyTotpRequest,
};
use accountd_grpc::status::{ENROL_RPC_KEY, ENROL_TOTP_RPC, TWO_FACTOR_REQUIRED};
use chrono::{Duration, Utc};
use tonic::Code;
use tonic_types::StatusExt;

use crate::account_users::tenant;
use crate::{Credential, TestServer, violated_fields};

fn code(secret: &str, steps: i64) -> String {
    TotpSecret::from_base32(secret).expect("base32").code_at(Utc::now() + Duration::seconds(30 * steps))
}

/// Enrols and activates a factor for the caller of `token`; returns the secret.
pub async fn enrol(server: &TestServer, token: &str) -> String {
    let mut users = server.users_with(Credential::bearer(token));
    let enrolled = users.enroll_totp(EnrollTotpRequest::default()).await.expect("enrol").into_inner();
    users
        // The previous step's code: the current and next ones stay free for the caller.
        .activate_totp(ActivateTotpRequest { factor_id: String::new(), code: code(&enrolled.secret, -1) })
        .await
        .expect("activate");
    enrolled.secret
}

#[tokio::test]
async fn a_factor_is_enrolled_activated_and_a_replayed_code_refused() {
    let t = tenant().await;
    let mut users = t.server.users_with(Credential::bearer(&t.viewer.1));
    let enrolled = users.enroll_totp(EnrollTotpRequest::default()).await.expect("enrol").into_inner();
    let factor = enrolled.factor.expect("factor");
    assert_eq!((factor.status.as_str(), factor.r#type.as_str()), ("pending", "totp"));
    assert!(enrolled.otpauth_uri.starts_with("otpauth://totp/accountd:"));
    let me = users.get_me(GetMeRequest {}).await.expect("me").into_inner();
    assert!(!me.mfa_enabled);
    assert_eq!(me.mfa_factors.iter().map(|f| f.id.as_str()).collect::<Vec<_>>(), [factor.id.as_str()]);
    assert!(!format!("{me:?}").contains(&enrolled.secret), "GetMe never carries the secret");

    let status = users
        .activate_totp(ActivateTotpRequest { factor_id: factor.id.clone(), code: "12".into() })
        .await
        .expect_err("malformed");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["code".to_owned()]));
    let now = code(&enrolled.secret, 0);
    let active = users
        .activate_totp(ActivateTotpRequest { factor_id: factor.id.clone(), code: now.clone() })
        .await
        .expect("activate")
        .into_inner()
        .factor
        .expect("factor");
    assert_eq!(active.status, "active");
    assert!(active.activated_at.is_some());
    assert!(users.get_me(GetMeRequest {}).await.expect("me").into_inner().mfa_enabled);

    let status = users.verify_totp(VerifyTotpRequest { code: now }).await.expect_err("replayed");
    assert_eq!(status.code(), Code::InvalidArgument, "{status:?}");
    assert_eq!(violated_fields(&status), ["code"]);
    let next = code(&enrolled.secret, 1);
    let verified = users.verify_totp(VerifyTotpRequest { code: next.clone() }).await.expect("next step").into_inner();
    assert_eq!(verified.factor_id, factor.id);
    let status = users.verify_totp(VerifyTotpRequest { code: next }).await.expect_err("replayed again");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["code".to_owned()]));

    let mut admin = t.server.users_with(Credential::bearer(&t.admin.1));
    let request = DeleteTotpRequest { factor_id: factor.id.clone(), code: String::new() };
    let status = admin.delete_totp(request.clone()).await.expect_err("not its own");
    assert_eq!(status.code(), Code::NotFound);
    // An active factor goes only with a current code from it.
    let status = users.delete_totp(request).await.expect_err("no code");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["code".to_owned()]));
    assert!(users.get_me(GetMeRequest {}).await.expect("me").into_inner().mfa_enabled);
}

#[tokio::test]
async fn an_active_factor_is_deleted_or_replaced_only_with_a_current_code() {
    let t = tenant().await;
    let secret = enrol(&t.server, &t.viewer.1).await;
    let mut users = t.server.users_with(Credential::bearer(&t.viewer.1));
    let factor = users.get_me(GetMeRequest {}).await.expect("me").into_inner().mfa_factors.remove(0).id;
    // Adding a second factor needs a code too.
    let status = users.enroll_totp(EnrollTotpRequest::default()).await.expect_err("no code");
    assert_eq!((status.code(), violated_fields(&status)), (Code::InvalidArgument, vec!["code".to_owned()]));
    users.enroll_totp(EnrollTotpRequest { code: code(&secret, 0) }).await.expect("enrol with a code");
    let wrong = if code(&secret, 1) == "000000" { "111111" } else { "000000" };
    let status = users
        .delete_totp(DeleteTotpRequest { factor_id: factor.clone(), code: wrong.into() })
        .await
        .expect_err("wrong code");
    assert_eq!(violated_fields(&status), ["code"]);
    users.delete_totp(DeleteTotpRequest { factor_id: factor, code: code(&secret, 1) }).await.expect("delete");
    assert!(!users.get_me(GetMeRequest {}).await.expect("me").into_inner().mfa_enabled);
}

#[tokio::test]
async fn enforced_two_factor_refuses_a_member_until_it_enrols() {
    let t = tenant().await;
    let get = GetAccountRequest { account_id: t.account.clone() };
    let on =
        UpdateAccountRequest { account_id: t.account.clone(), enforce_twofactor: Some(true), ..Default::default() };
    // An administrator without a factor may not lock itself out.
    let status =
        t.server.accounts_with(Credential::bearer(&t.admin.1)).update_account(on.clone()).await.expect_err("lockout");
    assert_eq!(status.code(), Code::InvalidArgument);
    assert_eq!(violated_fields(&status), ["settings.enforce_twofactor"]);
    let violation = status.get_details_bad_request().expect("field violations").field_violations.remove(0);
    assert_eq!(
        violation.description,
        "enrol an active two-factor method before requiring one with accountd.v1.UserService/EnrollTotp",
        "the gRPC adapter, not the domain, says where to enrol"
    );
    // Root is exempt.
    t.server.accounts().update_account(on).await.expect("root turns it on");

    let mut viewer = t.server.accounts_with(Credential::bearer(&t.viewer.1));
    let status = viewer.get_account(get.clone()).await.expect_err("no factor");
    assert_eq!(status.code(), Code::PermissionDenied, "{status:?}");
    let info = status.get_details_error_info().expect("an ErrorInfo");
    assert_eq!(info.reason, TWO_FACTOR_REQUIRED);
    // The domain says what to do; the gRPC adapter adds which RPC does it.
    assert_eq!(
        status.message(),
        "two-factor authentication is required on this account: enrol a TOTP factor with \
         accountd.v1.UserService/EnrollTotp"
    );
    assert_eq!(info.metadata.get(ENROL_RPC_KEY).map(String::as_str), Some(ENROL_TOTP_RPC));
    let status =
        t.server.accounts_with(Credential::bearer(&t.stranger.1)).get_account(get.clone()).await.expect_err("stranger");
    assert_eq!(status.code(), Code::NotFound, "another tenant still learns nothing");

    enrol(&t.server, &t.viewer.1).await;
    viewer.get_account(get).await.expect("admitted at once");
}
