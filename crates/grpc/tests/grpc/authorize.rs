//! `AuthorizationService/Check`, the twin of REST `POST /v1/authorize`: who may ask, bad
//! requests, every reason a subject is not usable, every per-check answer, no audit event.

use accountd_domain::TokenSecret;
use accountd_grpc::pb::authorization_service_client::AuthorizationServiceClient;
use accountd_grpc::pb::{
    self, AuthorizationCheck, CheckRequest, CheckResponse, CreatePlatformTokenRequest, CreateTokenRequest,
    GetMeRequest, Policy, PolicyList, RequestIpCondition, TokenCondition, UpdateAccountRequest, UpdateUserRequest,
};
use tonic::Code;

use crate::{
    Authed, Credential, TestServer, create_account, create_user, put_member, spawn_server, trail, violated_fields,
};

/// The REST suite's world (`authorize.rs` there): agency A with an owner and a member, a
/// child C enforcing two-factor, another tenant's B, and a service token allowing only
/// `authz:check`.
pub(crate) struct World {
    pub server: TestServer,
    pub a: String,
    pub b: String,
    pub c: String,
    pub member: String,
    pub member_token: (String, String),
    pub owner_token: String,
    pub service: String,
}

pub(crate) async fn token(
    server: &TestServer,
    account: &str,
    user: &str,
    tweak: impl FnOnce(&mut CreateTokenRequest),
) -> (String, String) {
    let mut request = CreateTokenRequest {
        account_id: account.into(),
        user_id: user.into(),
        name: Some("test token".into()),
        ..Default::default()
    };
    tweak(&mut request);
    let created = server.tokens().create_token(request).await.expect("create token").into_inner();
    (created.value, created.token.expect("token").id)
}

pub(crate) async fn platform_token(server: &TestServer, permissions: &[&str]) -> String {
    let root = server.users().get_me(GetMeRequest {}).await.expect("me").into_inner().user.expect("user").id;
    let policies = vec![Policy {
        effect: String::new(),
        permission_groups: permissions.iter().map(|p| (*p).to_owned()).collect(),
        resources: vec![],
    }];
    let request = CreatePlatformTokenRequest {
        user_id: root,
        name: Some("service".into()),
        policies: Some(PolicyList { policies }),
        ..Default::default()
    };
    server.tokens().create_platform_token(request).await.expect("platform token").into_inner().value
}

async fn world() -> World {
    let server = spawn_server().await;
    let owner = create_user(&server, "owner@example.com").await.id;
    let a = server
        .accounts()
        .create_account(pb::CreateAccountRequest {
            name: "Acme".into(),
            r#type: pb::AccountType::Agency.into(),
            user_id: owner.clone(),
            ..Default::default()
        })
        .await
        .expect("a")
        .into_inner()
        .account
        .expect("a")
        .id;
    let member = create_user(&server, "member@example.com").await.id;
    put_member(&server, &a, &member, "member").await;
    let b = create_account(&server, "Other").await.id;
    let c = server
        .accounts()
        .create_account(pb::CreateAccountRequest { name: "Child".into(), parent_id: a.clone(), ..Default::default() })
        .await
        .expect("c")
        .into_inner()
        .account
        .expect("c")
        .id;
    server
        .accounts()
        .update_account(UpdateAccountRequest {
            account_id: c.clone(),
            enforce_twofactor: Some(true),
            ..Default::default()
        })
        .await
        .expect("enforce");
    let member_token = token(&server, &a, &member, |_| {}).await;
    let owner_token = token(&server, &a, &owner, |_| {}).await.0;
    let service = platform_token(&server, &["authz:check"]).await;
    World { server, a, b, c, member, member_token, owner_token, service }
}

pub(crate) fn client(server: &TestServer, secret: &str) -> AuthorizationServiceClient<Authed> {
    AuthorizationServiceClient::with_interceptor(server.channel.clone(), Credential::bearer(secret))
}

fn checks(list: &[(&str, &str)]) -> Vec<AuthorizationCheck> {
    list.iter().map(|(a, p)| AuthorizationCheck { account_id: (*a).into(), permission: (*p).into() }).collect()
}

impl World {
    async fn ask(&self, request: CheckRequest) -> Result<CheckResponse, tonic::Status> {
        client(&self.server, &self.service).check(request).await.map(|r| r.into_inner())
    }

    async fn reasons(&self, request: CheckRequest) -> Vec<String> {
        let answer = self.ask(request).await.expect("check");
        assert!(answer.active, "{answer:?}");
        answer
            .results
            .iter()
            .map(|r| {
                assert_eq!(r.allowed, r.reason == "granted");
                r.reason.clone()
            })
            .collect()
    }
}

#[tokio::test]
async fn a_service_token_with_authz_check_gets_each_answer_and_nothing_is_audited() {
    let w = world().await;
    let trails = [trail(&w.server.store, &w.a).await, trail(&w.server.store, &w.b).await];
    let unknown = uuid::Uuid::now_v7().to_string();
    let list = [
        (w.a.as_str(), "aliases:write"),
        (w.a.as_str(), "members:write"),
        (w.b.as_str(), "accounts:read"),
        (unknown.as_str(), "accounts:read"),
        ("not-an-id", "accounts:read"),
        (w.c.as_str(), "accounts:read"),
    ];
    let want = ["granted", "forbidden", "not_found", "not_found", "not_found", "two_factor_required"];
    let by_token = CheckRequest { token: w.member_token.0.clone(), checks: checks(&list), ..Default::default() };
    assert_eq!(w.reasons(by_token.clone()).await, want);
    let by_user = CheckRequest { user_id: w.member.clone(), checks: checks(&list), ..Default::default() };
    assert_eq!(w.reasons(by_user).await, want);
    let answer = w.ask(by_token).await.expect("check");
    let subject = answer.subject.expect("subject");
    assert_eq!((subject.user_id, subject.token_id), (w.member.clone(), w.member_token.1.clone()));
    assert_eq!(answer.results[0].account_id, w.a);
    assert_eq!(answer.results[0].permission, "aliases:write");
    assert_eq!([trail(&w.server.store, &w.a).await, trail(&w.server.store, &w.b).await], trails, "no audit event");
}

#[tokio::test]
async fn callers_without_root_authz_check_are_denied() {
    let w = world().await;
    let request =
        CheckRequest { user_id: w.member.clone(), checks: checks(&[(&w.a, "accounts:read")]), ..Default::default() };
    let owner = client(&w.server, &w.owner_token).check(request.clone()).await.expect_err("an account token");
    assert_eq!(owner.code(), Code::PermissionDenied, "{owner:?}");
    let reader = platform_token(&w.server, &["users:read"]).await;
    let reader = client(&w.server, &reader).check(request.clone()).await.expect_err("no authz:check");
    assert_eq!(reader.code(), Code::PermissionDenied);
    assert!(client(&w.server, &w.server.root_token).check(request).await.is_ok(), "the bootstrap token may");
}

#[tokio::test]
async fn a_bad_request_is_invalid_argument_naming_the_field() {
    let w = world().await;
    let one = checks(&[(&w.a, "accounts:read")]);
    let token = w.member_token.0.clone();
    let with = |t: &str, u: &str, ip: &str, c: Vec<AuthorizationCheck>| CheckRequest {
        token: t.into(),
        user_id: u.into(),
        client_ip: ip.into(),
        checks: c,
    };
    let cases = [
        (with(&token, "", "", vec![]), "checks"),
        (with(&token, "", "", one.iter().cycle().take(101).cloned().collect()), "checks"),
        (with(&token, &w.member, "", one.clone()), "user_id"),
        (with("", "", "", one.clone()), "token"),
        (with(&token, "", "", checks(&[(&w.a, "accounts:read"), (&w.a, "galaxy:rule")])), "checks[1].permission"),
        (with(&token, "", "not-an-ip", one.clone()), "client_ip"),
    ];
    for (request, field) in cases {
        let refused = w.ask(request.clone()).await.expect_err("invalid");
        assert_eq!(refused.code(), Code::InvalidArgument, "{request:?}");
        assert_eq!(violated_fields(&refused), [field], "{request:?}");
    }
}

#[tokio::test]
async fn a_presented_token_that_is_not_usable_is_inactive_with_its_reason() {
    let w = world().await;
    let (a, member) = (w.a.clone(), w.member.clone());
    let made = |tweak: fn(&mut CreateTokenRequest)| token(&w.server, &a, &member, tweak);
    let expired = made(|r| r.expires_on = Some("2020-01-01T00:00:00Z".into())).await.0;
    let later = made(|r| r.not_before = Some("2099-01-01T00:00:00Z".into())).await.0;
    let disabled = made(|r| r.status = Some("disabled".into())).await.0;
    let fenced = made(|r| {
        r.condition = Some(TokenCondition {
            request_ip: Some(RequestIpCondition { r#in: vec!["10.0.0.0/8".into()], not_in: vec![] }),
        })
    })
    .await
    .0;
    let unknown = TokenSecret::generate().expose().to_owned();
    let cases = [
        (unknown.as_str(), "", "unknown"),
        ("acd_not_a_real_token", "", "malformed"),
        (expired.as_str(), "", "expired"),
        (later.as_str(), "", "not_yet_valid"),
        (disabled.as_str(), "", "disabled"),
        (fenced.as_str(), "203.0.113.7", "ip_refused"),
        (fenced.as_str(), "", "ip_refused"),
    ];
    for (token, ip, reason) in cases {
        let request = CheckRequest {
            token: token.into(),
            client_ip: ip.into(),
            checks: checks(&[(&w.a, "accounts:read")]),
            ..Default::default()
        };
        let answer = w.ask(request).await.expect("a valid request is answered");
        assert_eq!((answer.active, answer.reason.as_str(), answer.results.len()), (false, reason, 0), "{reason}");
        assert!(answer.subject.is_none());
    }
    let unknown_user = CheckRequest {
        user_id: uuid::Uuid::now_v7().to_string(),
        checks: checks(&[(&w.a, "accounts:read")]),
        ..Default::default()
    };
    assert_eq!(w.ask(unknown_user).await.expect("answer").reason, "unknown");
    let inside = CheckRequest {
        token: fenced.clone(),
        client_ip: "10.1.2.3".into(),
        checks: checks(&[(&w.a, "accounts:read")]),
        ..Default::default()
    };
    assert_eq!(w.reasons(inside).await, ["granted"]);

    let disable =
        UpdateUserRequest { user_id: w.member.clone(), status: Some("disabled".into()), ..Default::default() };
    w.server.users().update_user(disable).await.expect("disable");
    let by_user =
        CheckRequest { user_id: w.member.clone(), checks: checks(&[(&w.a, "accounts:read")]), ..Default::default() };
    assert_eq!(w.ask(by_user).await.expect("answer").reason, "disabled");
}

#[test]
fn debug_of_a_check_request_never_shows_the_token() {
    let request = CheckRequest { token: "acd_secret_value_here".into(), ..Default::default() };
    assert!(!format!("{request:?}").contains("acd_secret_value_here"), "{request:?}");
}
