//! `idempotency-key` metadata on every create RPC (SPEC §3, issue 16 item 10): a retry
//! answers the first resource with `idempotent-replayed: true` metadata and stores nothing
//! more; the same key with another request is FAILED_PRECONDITION; a secret shown once is
//! not shown again; on both stores.

use accountd_domain::UserId;
use accountd_grpc::pb;
use tonic::{Code, Request, Response};

use crate::{BACKENDS, Credential, create_account, create_user, spawn_server_on, trail, violated_fields};

fn keyed<T>(message: T, key: &str) -> Request<T> {
    let mut request = Request::new(message);
    request.metadata_mut().insert("idempotency-key", key.parse().expect("ascii key"));
    request
}

fn replayed<T>(response: &Response<T>) -> bool {
    response.metadata().get("idempotent-replayed").and_then(|v| v.to_str().ok()) == Some("true")
}

/// Sends `$first` twice and `$other` once with one key: the second answers the first
/// resource (by `$id`), replayed; the third is FAILED_PRECONDITION; nothing more is stored.
macro_rules! replays {
    ($server:expr, $account:expr, $key:expr, $call:expr, $first:expr, $other:expr, $id:expr) => {{
        let call = $call;
        let first = call(keyed($first, $key)).await.expect("first");
        assert!(!replayed(&first), "{}: a first request is not a replay", $key);
        let stored = trail(&$server.store, $account).await;
        let again = call(keyed($first, $key)).await.expect("replay");
        assert!(replayed(&again), "{}: marked replayed", $key);
        let id = $id;
        assert_eq!(id(first.get_ref()), id(again.get_ref()), "{}: the first resource", $key);
        assert!(!id(first.get_ref()).is_empty(), "{}", $key);
        let status = call(keyed($other, $key)).await.expect_err("another request with the key");
        assert_eq!(status.code(), Code::FailedPrecondition, "{}: {status:?}", $key);
        assert_eq!(trail(&$server.store, $account).await, stored, "{}: a replay or refusal stores nothing", $key);
        let status = call(keyed($first, "bad key")).await.expect_err("malformed key");
        assert_eq!(violated_fields(&status), vec!["idempotency_key".to_owned()], "{}", $key);
        (first.into_inner(), again.into_inner())
    }};
}

#[tokio::test]
async fn every_create_rpc_replays_its_first_answer_and_refuses_a_key_reused_for_another_request() {
    for backend in BACKENDS {
        let server = spawn_server_on(backend).await;
        let s = &server;
        let account = create_account(s, "Acme").await.id;
        let a = account.as_str();
        let ada = create_user(s, "ada@example.com").await.id;
        let root = Credential::bearer(&s.root_token);
        s.domains_with(root.clone())
            .create_domain(pb::CreateDomainRequest { name: "mail.example.com".into(), status: "active".into() })
            .await
            .expect("domain");
        let me = s.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("user").id;

        let user = |email: &str| pb::CreateUserRequest { email: email.into(), ..Default::default() };
        replays!(
            s,
            a,
            "user",
            |r| async { s.users().create_user(r).await },
            user("k@example.com"),
            user("k2@example.com"),
            |r: &pb::CreateUserResponse| r.user.clone().expect("user").id
        );

        let member = |role: &str| pb::AddAccountMemberRequest {
            account_id: account.clone(),
            user_id: ada.clone(),
            roles: vec![role.into()],
            ..Default::default()
        };
        replays!(
            s,
            a,
            "member",
            |r| async { s.members().add_account_member(r).await },
            member("viewer"),
            member("billing"),
            |r: &pb::AddAccountMemberResponse| r.member.clone().expect("member").user_id
        );

        let account_user = |first: &str| pb::CreateAccountUserRequest {
            account_id: account.clone(),
            email_address: "bo@example.com".into(),
            first_name: first.into(),
            last_name: "B".into(),
        };
        replays!(
            s,
            a,
            "account-user",
            |r| async { s.users().create_account_user(r).await },
            account_user("Bo"),
            account_user("Bob"),
            |r: &pb::CreateAccountUserResponse| r.user.clone().expect("user").id
        );

        let domain = |name: &str| pb::CreateDomainRequest { name: name.into(), ..Default::default() };
        replays!(
            s,
            a,
            "domain",
            |r| async { s.domains_with(root.clone()).create_domain(r).await },
            domain("k.example.com"),
            domain("k2.example.com"),
            |r: &pb::Domain| r.id.clone()
        );

        let subscription = |plan: &str| pb::CreateSubscriptionRequest {
            account_id: account.clone(),
            rate_plan: plan.into(),
            ..Default::default()
        };
        replays!(
            s,
            a,
            "subscription",
            |r| async { s.subscriptions_with(root.clone()).create_subscription(r).await },
            subscription("pro"),
            subscription("business"),
            |r: &pb::Subscription| r.id.clone()
        );

        let alias = |local: &str| pb::CreateAliasRequest {
            account_id: account.clone(),
            local_part: local.into(),
            domain: "mail.example.com".into(),
            ..Default::default()
        };
        let (first, again) = replays!(
            s,
            a,
            "alias",
            |r| async { s.aliases_with(root.clone()).create_alias(r).await },
            alias("info"),
            alias("sales"),
            |r: &pb::AliasWithPassword| r.alias.clone().expect("alias").id
        );
        assert!(!first.password.is_empty() && !first.secret_omitted);
        assert!(again.password.is_empty() && again.secret_omitted, "a replay does not show the password");
        let login =
            pb::AuthenticateMailboxRequest { address: "info@mail.example.com".into(), password: first.password };
        s.aliases_with(root.clone()).authenticate_mailbox(login).await.expect("the first password still works");

        let token = |name: &str| pb::CreateTokenRequest {
            account_id: account.clone(),
            name: Some(name.into()),
            ..Default::default()
        };
        let (first, again) = replays!(
            s,
            a,
            "token",
            |r| async { s.tokens().create_token(r).await },
            token("ci"),
            token("cd"),
            |r: &pb::CreateTokenResponse| r.token.clone().expect("token").id
        );
        assert!(!first.value.is_empty() && !first.secret_omitted);
        assert!(again.value.is_empty() && again.secret_omitted, "a replay does not show the secret");
        let with_first = s.users_with(Credential::bearer(&first.value)).get_me(pb::GetMeRequest {}).await;
        assert!(with_first.is_ok(), "the first secret still works");

        let platform = |name: &str| pb::CreatePlatformTokenRequest {
            user_id: me.clone(),
            name: Some(name.into()),
            ..Default::default()
        };
        let (first, again) = replays!(
            s,
            a,
            "platform-token",
            |r| async { s.tokens().create_platform_token(r).await },
            platform("ops"),
            platform("ops2"),
            |r: &pb::CreateTokenResponse| r.token.clone().expect("token").id
        );
        assert!(!first.value.is_empty() && again.value.is_empty() && again.secret_omitted);

        let child = |name: &str| pb::CreateAccountRequest { name: name.into(), ..Default::default() };
        replays!(
            s,
            a,
            "account",
            |r| async { s.accounts().create_account(r).await },
            child("Child"),
            child("Other"),
            |r: &pb::CreateAccountResponse| r.account.clone().expect("account").id
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_concurrent_token_creations_with_one_key_create_one_token() {
    for backend in BACKENDS {
        let server = spawn_server_on(backend).await;
        let account = create_account(&server, "Acme").await.id;
        let request = || {
            keyed(
                pb::CreateTokenRequest { account_id: account.clone(), name: Some("ci".into()), ..Default::default() },
                "race",
            )
        };
        let (mut a, mut b) = (server.tokens(), server.tokens());
        let (a, b) = tokio::join!(a.create_token(request()), b.create_token(request()));
        let (a, b) = (a.expect("first"), b.expect("second"));
        assert_eq!([replayed(&a), replayed(&b)].iter().filter(|r| **r).count(), 1, "{backend:?}: exactly one creates");
        let (a, b) = (a.into_inner(), b.into_inner());
        assert_eq!(a.token.as_ref().map(|t| &t.id), b.token.as_ref().map(|t| &t.id));
        assert_eq!([&a, &b].iter().filter(|r| !r.value.is_empty()).count(), 1, "{backend:?}: the secret is shown once");
        let listed = server
            .tokens()
            .list_tokens(pb::ListTokensRequest { account_id: account.clone(), ..Default::default() })
            .await
            .expect("list")
            .into_inner();
        assert_eq!(listed.tokens.len(), 1, "{backend:?}");
    }
}

#[tokio::test]
async fn a_replayed_totp_enrolment_answers_the_pending_factor_without_its_secret() {
    for backend in BACKENDS {
        let server = spawn_server_on(backend).await;
        let first =
            server.users().enroll_totp(keyed(pb::EnrollTotpRequest::default(), "enrol-1")).await.expect("enrol");
        assert!(!replayed(&first));
        let again =
            server.users().enroll_totp(keyed(pb::EnrollTotpRequest::default(), "enrol-1")).await.expect("replay");
        assert!(replayed(&again), "{backend:?}");
        let (first, again) = (first.into_inner(), again.into_inner());
        assert!(!first.secret.is_empty() && !first.otpauth_uri.is_empty() && !first.secret_omitted);
        assert!(again.secret.is_empty() && again.otpauth_uri.is_empty() && again.secret_omitted, "{backend:?}");
        assert_eq!(first.factor.map(|f| f.id), again.factor.map(|f| f.id));
        let me = server.users().get_me(pb::GetMeRequest {}).await.expect("me").into_inner().user.expect("user");
        let factors = server.store.list_factors(UserId::parse(&me.id, "id").expect("id")).await.expect("factors");
        assert_eq!(factors.len(), 1, "{backend:?}: one pending factor, nothing more");
    }
}
