//! The mail gateway in both modes, over the same world: each scenario runs once with the
//! remote gatekeeper (accountd's gRPC server in process on a loopback port, asked through
//! `accountd-client` with a service token holding `authz:check`) and once with the embedded
//! one (the domain over a fresh SQLite store, no server). The scenarios are written once: the
//! modes differ only in the `Gatekeeper` handed to the router.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use accountd_client::{Client, SecretString};
use accountd_domain::{
    AccountId, NewAccountInput, NewUserInput, Principal, RequestInfo, Role, Services, TokenInput, UserId,
};
use accountd_testkit::{Backend, Fixture};
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{Request, StatusCode};
use mail_gateway::{Embedded, Gatekeeper, Remote};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tower::ServiceExt;

#[derive(Debug, Clone, Copy)]
enum Mode {
    Remote,
    Embedded,
}

/// Account A (owner, a member, a viewer), account B of a stranger, and their tokens on their
/// accounts; `fenced` is a member token usable only from 10.0.0.0/8; account E enforces
/// two-factor, and `unenrolled` is the token there of a member with no factor.
struct World {
    router: axum::Router,
    a: String,
    member: String,
    viewer: String,
    stranger: String,
    fenced: String,
    member_id: String,
    e: String,
    unenrolled: String,
    _fixture: Fixture,
}

const HOME: &str = "10.1.2.3";
const ELSEWHERE: &str = "203.0.113.7";

async fn world(mode: Mode) -> World {
    let fixture = accountd_testkit::fresh(Backend::Sqlite).await;
    let s = &fixture.services;
    let owner = user(s, "owner@example.com").await;
    let a = account(s, "Acme", owner).await;
    let member_id = user(s, "member@example.com").await;
    let viewer_id = user(s, "viewer@example.com").await;
    join(s, a, member_id, Role::Member).await;
    join(s, a, viewer_id, Role::Viewer).await;
    let stranger_id = user(s, "stranger@example.com").await;
    let b = account(s, "Elsewhere", stranger_id).await;
    let e = account_with(s, NewAccountInput { enforce_twofactor: Some(true), ..named("Strict", owner) }).await;
    join(s, e, member_id, Role::Member).await;
    let fenced = TokenInput { ip_in: Some(vec!["10.0.0.0/8".into()]), ..TokenInput::default() };
    let gatekeeper: Arc<dyn Gatekeeper> = match mode {
        Mode::Embedded => Arc::new(Embedded::new(s)),
        Mode::Remote => Arc::new(Remote::new(remote_client(&fixture).await)),
    };
    World {
        router: mail_gateway::router(gatekeeper),
        a: a.to_string(),
        member: token(s, a, member_id, TokenInput::default()).await,
        viewer: token(s, a, viewer_id, TokenInput::default()).await,
        stranger: token(s, b, stranger_id, TokenInput::default()).await,
        fenced: token(s, a, member_id, fenced).await,
        member_id: member_id.to_string(),
        e: e.to_string(),
        unenrolled: token(s, e, member_id, TokenInput::default()).await,
        _fixture: fixture,
    }
}

/// accountd's gRPC server over the fixture's services on a loopback port, and a client of it
/// with the token of a service user whose only root permission is `authz:check`.
async fn remote_client(fixture: &Fixture) -> Client {
    let s = &fixture.services;
    let input = NewUserInput {
        email: Some("mail-gateway@example.com".into()),
        root_permissions: vec!["authz:check".into()],
        ..NewUserInput::default()
    };
    let service = s.users.create(&system(), input.validate("email", false).expect("valid"), None).await;
    let fields = TokenInput { name: Some("mail-gateway".into()), ..TokenInput::default() }.validate().expect("valid");
    let created = s.tokens.create_platform(&system(), service.expect("user").value.id, fields, None).await;
    let service_token = created.expect("platform token").value.secret.expect("secret").expose().to_owned();

    let routes = accountd_grpc::routes(s.clone()).await.expect("routes");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        tonic::transport::Server::builder()
            .add_routes(routes)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("grpc server");
    });
    Client::connect(&format!("http://{addr}"), SecretString::from(service_token)).await.expect("connect")
}

fn system() -> Principal {
    Principal::system(RequestInfo::default())
}

async fn user(s: &Services, email: &str) -> UserId {
    let input = NewUserInput { email: Some(email.into()), ..NewUserInput::default() };
    s.users.create(&system(), input.validate("email", false).expect("valid"), None).await.expect("user").value.id
}

fn named(name: &str, owner: UserId) -> NewAccountInput {
    NewAccountInput { name: Some(name.into()), owner_id: Some(owner.to_string()), ..Default::default() }
}

async fn account(s: &Services, name: &str, owner: UserId) -> AccountId {
    account_with(s, named(name, owner)).await
}

async fn account_with(s: &Services, input: NewAccountInput) -> AccountId {
    let created = s.accounts.create(&system(), input.validate().expect("valid"), None).await;
    created.expect("account").value.account.id
}

async fn join(s: &Services, account: AccountId, user: UserId, role: Role) {
    s.members.put(&system(), account, user, vec![role]).await.expect("member");
}

async fn token(s: &Services, account: AccountId, user: UserId, input: TokenInput) -> String {
    let input = TokenInput { name: Some("customer".into()), user_id: Some(user.to_string()), ..input };
    let created = s.tokens.create(&system(), account, input.validate().expect("valid"), None).await;
    created.expect("token").value.secret.expect("secret").expose().to_owned()
}

/// The gateway's answer to `method path` with `token`, from a client at `ip`.
async fn call(w: &World, method: &str, path: &str, token: Option<&str>, ip: &str) -> (StatusCode, serde_json::Value) {
    let mut request = Request::builder().method(method).uri(path);
    if let Some(token) = token {
        request = request.header("authorization", format!("Bearer {token}"));
    }
    let mut request = request.body(Body::empty()).expect("request");
    let peer = SocketAddr::new(ip.parse::<IpAddr>().expect("ip"), 40000);
    request.extensions_mut().insert(ConnectInfo(peer));
    let response = w.router.clone().oneshot(request).await.expect("answer");
    let status = response.status();
    let body = axum::body::to_bytes(response.into_body(), 1 << 16).await.expect("body");
    (status, serde_json::from_slice(&body).expect("json"))
}

async fn a_member_with_aliases_write_may_send_and_read(mode: Mode) {
    let w = world(mode).await;
    let send = format!("/mailboxes/{}/send", w.a);
    let (status, body) = call(&w, "POST", &send, Some(&w.member), ELSEWHERE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["sent_by"], w.member_id.as_str());
    let (status, body) = call(&w, "GET", &format!("/mailboxes/{}", w.a), Some(&w.member), ELSEWHERE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}

async fn a_viewer_may_read_but_not_send(mode: Mode) {
    let w = world(mode).await;
    let (status, body) = call(&w, "GET", &format!("/mailboxes/{}", w.a), Some(&w.viewer), ELSEWHERE).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&w, "POST", &format!("/mailboxes/{}/send", w.a), Some(&w.viewer), ELSEWHERE).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("forbidden")), "{body}");
}

async fn a_stranger_does_not_see_the_mailbox(mode: Mode) {
    let w = world(mode).await;
    let (status, body) = call(&w, "POST", &format!("/mailboxes/{}/send", w.a), Some(&w.stranger), ELSEWHERE).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::NOT_FOUND, Some("not_found")), "{body}");
    // An id that names no account is the same answer.
    let (status, _) = call(&w, "GET", "/mailboxes/not-an-id", Some(&w.member), ELSEWHERE).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn an_unknown_or_missing_token_is_unauthorized(mode: Mode) {
    let w = world(mode).await;
    let send = format!("/mailboxes/{}/send", w.a);
    let unknown = format!("{}x", w.member);
    let (status, body) = call(&w, "POST", &send, Some(&unknown), ELSEWHERE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = call(&w, "POST", &send, Some("acd_nothing"), ELSEWHERE).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, body) = call(&w, "POST", &send, None, ELSEWHERE).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("missing")));
}

async fn a_token_with_an_ip_condition_is_refused_from_another_address(mode: Mode) {
    let w = world(mode).await;
    let send = format!("/mailboxes/{}/send", w.a);
    let (status, body) = call(&w, "POST", &send, Some(&w.fenced), HOME).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let (status, body) = call(&w, "POST", &send, Some(&w.fenced), ELSEWHERE).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::UNAUTHORIZED, Some("ip_refused")), "{body}");
}

async fn an_account_enforcing_two_factor_refuses_a_member_without_a_factor(mode: Mode) {
    let w = world(mode).await;
    let send = format!("/mailboxes/{}/send", w.e);
    let (status, body) = call(&w, "POST", &send, Some(&w.unenrolled), ELSEWHERE).await;
    assert_eq!((status, body["error"].as_str()), (StatusCode::FORBIDDEN, Some("two_factor_required")), "{body}");
}

/// Each scenario as a test of each mode.
macro_rules! in_both_modes {
    ($($scenario:ident),* $(,)?) => {
        mod remote {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Mode::Remote).await
            })*
        }
        mod embedded {
            $(#[tokio::test]
            async fn $scenario() {
                super::$scenario(super::Mode::Embedded).await
            })*
        }
    };
}

in_both_modes!(
    a_member_with_aliases_write_may_send_and_read,
    a_viewer_may_read_but_not_send,
    a_stranger_does_not_see_the_mailbox,
    an_unknown_or_missing_token_is_unauthorized,
    a_token_with_an_ip_condition_is_refused_from_another_address,
    an_account_enforcing_two_factor_refuses_a_member_without_a_factor,
);
