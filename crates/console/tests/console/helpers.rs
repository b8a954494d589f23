//! One `spawn()` for every console test: a fresh SQLite store with a bootstrapped root, the
//! console served on a loopback port, and a small tenant: an agency with a child account,
//! a viewer member with a token of its own, and a member with an active TOTP factor.

use std::net::SocketAddr;

use accountd_console::{ConsoleConfig, ConsoleState};
use accountd_domain::{
    AccountId, NewAccountInput, NewUserInput, Principal, RequestInfo, Role, TokenInput, TotpSecret, UserId,
};
use accountd_testkit::{Backend, Fixture};
use chrono::{Duration, Utc};
use secrecy::ExposeSecret;

pub struct App {
    pub base: String,
    pub fixture: Fixture,
    pub state: ConsoleState,
    pub agency: AccountId,
    pub child: AccountId,
    pub viewer_token: String,
    pub mfa_user: UserId,
}

pub async fn root(fixture: &Fixture) -> Principal {
    fixture.services.authenticator.authenticate(Some(&fixture.root_token), RequestInfo::default()).await.expect("root")
}

async fn user(fixture: &Fixture, root: &Principal, email: &str, account: AccountId, role: Role) -> (UserId, String) {
    let s = &fixture.services;
    let input = NewUserInput { email: Some(email.into()), ..Default::default() };
    let user = s.users.create(root, input.validate("email", false).expect("user"), None).await.expect("create user");
    let id = user.value.id;
    // A root caller's put makes a member at once (an add would invite).
    s.members.put(root, account, id, vec![role]).await.expect("member");
    let fields =
        TokenInput { name: Some(format!("{email} token")), user_id: Some(id.to_string()), ..Default::default() }
            .validate()
            .expect("token fields");
    let token = s.tokens.create(root, account, fields, None).await.expect("token");
    (id, token.value.secret.expect("secret").expose().to_owned())
}

pub fn code(secret: &str, steps: i64) -> String {
    TotpSecret::from_base32(secret).expect("base32").code_at(Utc::now() + Duration::seconds(30 * steps))
}

pub async fn spawn() -> App {
    let fixture = accountd_testkit::fresh(Backend::Sqlite).await;
    let root = root(&fixture).await;
    let s = &fixture.services;
    let account = |name: &str, kind: &str, parent: Option<AccountId>| NewAccountInput {
        name: Some(name.into()),
        account_type: Some(kind.into()),
        parent_id: parent.map(|p| p.to_string()),
        ..Default::default()
    };
    let agency = s.accounts.create(&root, account("Acme Agency", "agency", None).validate().expect("valid"), None);
    let agency = agency.await.expect("agency").value.account.id;
    let child =
        s.accounts.create(&root, account("Acme Ads", "standard", Some(agency)).validate().expect("valid"), None);
    let child = child.await.expect("child").value.account.id;
    let (_, viewer_token) = user(&fixture, &root, "viewer@example.com", agency, Role::Viewer).await;
    let (mfa_user, mfa_token) = user(&fixture, &root, "mfa@example.com", agency, Role::Viewer).await;
    let mfa = s.authenticator.authenticate(Some(&mfa_token), RequestInfo::default()).await.expect("mfa user");
    let enrolled = s.mfa.enroll_totp(&mfa, None, None).await.expect("enrol");
    let secret = enrolled.value.secret.expect("setup").secret.expose_secret().to_owned();
    let code = accountd_domain::TotpCode::parse(&code(&secret, -1)).expect("code");
    s.mfa.activate_totp(&mfa, None, code).await.expect("activate");

    let state = ConsoleState::new(fixture.services.clone(), ConsoleConfig::default());
    let router = accountd_console::router(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let base = format!("http://{}", listener.local_addr().expect("addr"));
    tokio::spawn(async move {
        axum::serve(listener, router.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve");
    });
    App { base, fixture, state, agency, child, viewer_token, mfa_user }
}

/// An HTTP client with a cookie jar, not following redirects (tests look at them).
pub fn client() -> reqwest::Client {
    reqwest::Client::builder().cookie_store(true).redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

/// The value of the hidden input `name` in `html`.
pub fn hidden(html: &str, name: &str) -> String {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker).unwrap_or_else(|| panic!("no {name} field in {html}")) + marker.len();
    html[start..].split('"').next().expect("value").to_owned()
}

/// Signs `client` in with `token`; returns the session's CSRF token (from the accounts page).
pub async fn sign_in(app: &App, client: &reqwest::Client, token: &str) -> String {
    let form =
        client.get(format!("{}/console/sign-in", app.base)).send().await.expect("form").text().await.expect("html");
    let nonce = hidden(&form, "nonce");
    let answer = client
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("nonce", nonce.as_str()), ("token", token)])
        .send()
        .await
        .expect("sign in");
    assert_eq!(answer.status(), reqwest::StatusCode::SEE_OTHER, "{:?}", answer.text().await);
    let home = client.get(format!("{}/console/", app.base)).send().await.expect("home").text().await.expect("html");
    hidden(&home, "csrf")
}
