//! The console in a real browser: Debian's headless Chromium driven through chromedriver
//! (WebDriver, `fantoccini`). `cargo xtask test` installs both when missing; these tests
//! fail, never skip, without them. With `ACCOUNTD_SCREENSHOTS=1` they save the main pages
//! under docs/console/.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use crate::helpers::{App, spawn};

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// A chromedriver process and a browser session on it, each test its own, with a fresh
/// profile directory.
struct Browser {
    client: Client,
    driver: tokio::process::Child,
    _profile: accountd_testkit::TempDir,
}

impl Browser {
    async fn start() -> Self {
        assert!(
            std::path::Path::new(CHROMEDRIVER).exists() && std::path::Path::new(CHROMIUM).exists(),
            "chromium and chromium-driver are missing: `cargo xtask test` installs them (apt-get install chromium chromium-driver)"
        );
        let port = std::net::TcpListener::bind("127.0.0.1:0").expect("free port").local_addr().expect("addr").port();
        let driver = tokio::process::Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("start chromedriver");
        let profile = accountd_testkit::TempDir::new().expect("profile dir");
        let mut caps = serde_json::Map::new();
        caps.insert(
            "goog:chromeOptions".into(),
            json!({
                "binary": CHROMIUM,
                "args": [
                    "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-dev-shm-usage", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ]
            }),
        );
        let url = format!("http://127.0.0.1:{port}");
        let mut last = None;
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(caps.clone()).connect(&url).await {
                Ok(client) => return Self { client, driver, _profile: profile },
                Err(e) => last = Some(e),
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        panic!("chromedriver did not start a session: {last:?}");
    }

    async fn goto(&self, url: &str) {
        self.client.goto(url).await.expect("navigate");
    }

    async fn fill(&self, css: &str, text: &str) {
        let field = self.client.find(Locator::Css(css)).await.unwrap_or_else(|e| panic!("{css}: {e}"));
        field.clear().await.expect("clear");
        field.send_keys(text).await.expect("type");
    }

    /// Clicks what navigates (a link, a form's button) and waits for the next page.
    async fn click(&self, css: &str) {
        let old = self.client.find(Locator::Css("html")).await.expect("page");
        self.client
            .find(Locator::Css(css))
            .await
            .unwrap_or_else(|e| panic!("{css}: {e}"))
            .click()
            .await
            .expect("click");
        for _ in 0..100 {
            // The old page's root goes stale once the new page replaced it.
            if old.text().await.is_err() && self.client.find(Locator::Css("body")).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("clicking {css} loaded no new page");
    }

    async fn html(&self) -> String {
        self.client.source().await.expect("page source")
    }

    async fn path(&self) -> String {
        self.client.current_url().await.expect("url").path().to_owned()
    }

    /// Saves the page as docs/console/{name}.png when asked to.
    async fn screenshot(&self, name: &str) {
        if std::env::var("ACCOUNTD_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../docs/console");
        std::fs::create_dir_all(&dir).expect("docs/console");
        let png = self.client.screenshot().await.expect("screenshot");
        std::fs::write(dir.join(format!("{name}.png")), png).expect("write screenshot");
    }

    async fn close(mut self) {
        let _ = self.client.close().await;
        let _ = self.driver.kill().await;
    }
}

async fn sign_in(b: &Browser, app: &App, token: &str) {
    b.goto(&format!("{}/console/", app.base)).await;
    assert_eq!(b.path().await, "/console/sign-in", "a new browser is sent to sign in");
    b.screenshot("sign-in").await;
    b.fill("#token", token).await;
    b.click("form button[type=submit]").await;
    assert_eq!(b.path().await, "/console/", "{}", b.html().await);
}

#[tokio::test]
async fn an_administrator_manages_an_account_from_sign_in_to_sign_out() {
    let app = spawn().await;
    let b = Browser::start().await;
    sign_in(&b, &app, &app.fixture.root_token).await;
    let url = b.path().await;
    assert!(
        !url.contains("acd_") && !b.html().await.contains(&app.fixture.root_token),
        "the token stays out of the page"
    );

    // Search and open the account.
    b.fill("#q", "acme").await;
    b.click("form[role=search] button").await;
    b.screenshot("accounts").await;
    let html = b.html().await;
    assert!(html.contains("Acme Agency") && html.contains("Acme Ads"));
    b.click(&format!("a[href='/console/accounts/{}']", app.agency)).await;
    assert_eq!(b.path().await, format!("/console/accounts/{}", app.agency));
    assert!(b.html().await.contains("Child accounts"));
    b.screenshot("account").await;

    // Invite a member, then change their role.
    b.click(&format!("a[href='/console/accounts/{}/members']", app.agency)).await;
    b.fill("#invite-email", "new.member@example.com").await;
    b.click("form[action$='/members'] button").await;
    let html = b.html().await;
    assert!(html.contains("Invitation sent.") && html.contains("new.member@example.com"), "{html}");
    let member = app
        .fixture
        .services
        .users
        .list(&crate::helpers::root(&app.fixture).await, accountd_domain::PageRequest::first(100))
        .await
        .expect("users")
        .items
        .into_iter()
        .find(|u| u.email.to_string() == "new.member@example.com")
        .expect("the invited user exists");
    let select = b.client.find(Locator::Css(&format!("#role-{}", member.id))).await.expect("role select");
    select.select_by_value("administrator").await.expect("choose role");
    b.click(&format!("form[action$='/members/{}/roles'] button", member.id)).await;
    assert!(b.html().await.contains("Roles changed."));
    let root = crate::helpers::root(&app.fixture).await;
    let stored = app.fixture.services.members.get(&root, app.agency, member.id).await;
    assert_eq!(stored.expect("member").roles, vec![accountd_domain::Role::Administrator]);

    // Reset a user's MFA.
    b.click(&format!("form[action$='/members/{}/reset-mfa'] button", app.mfa_user)).await;
    assert!(b.html().await.contains("Two-factor authentication was reset"));
    assert!(!app.fixture.store.has_active_factor(app.mfa_user).await.expect("factors"), "the factor is gone");
    b.screenshot("members").await;

    // Create a token: its secret is shown once.
    b.click(&format!("a[href='/console/accounts/{}/tokens']", app.agency)).await;
    b.fill("#token-name", "deploy bot").await;
    b.click("form[action$='/tokens'] button").await;
    let secret = b.client.find(Locator::Id("token-secret")).await.expect("secret shown").text().await.expect("text");
    assert!(secret.starts_with("acd_"), "{secret}");
    b.screenshot("tokens").await;
    b.click(&format!("a[href='/console/accounts/{}/tokens']", app.agency)).await;
    let html = b.html().await;
    assert!(html.contains("deploy bot") && !html.contains(&secret), "the secret is never shown again");
    let principal = app.fixture.services.authenticator.authenticate(Some(&secret), Default::default()).await;
    assert!(principal.is_ok(), "the shown secret works");

    // Browse the audit log, filtered.
    b.click(&format!("a[href='/console/accounts/{}/audit']", app.agency)).await;
    let html = b.html().await;
    assert!(html.contains("member.create") || html.contains("member.add"), "{html}");
    assert!(html.contains("token.create"), "{html}");
    b.fill("#f-action", "token.create").await;
    b.click("form[aria-label=Filters] button").await;
    let html = b.html().await;
    assert!(html.contains("token.create") && !html.contains(">account.create<"), "{html}");
    assert!(html.contains("deploy bot"), "the change's after side");
    b.screenshot("audit").await;

    b.goto(&format!("{}/console/me", app.base)).await;
    b.screenshot("me").await;

    // Sign out: the session is gone.
    b.click("header form button").await;
    assert_eq!(b.path().await, "/console/sign-in");
    b.goto(&format!("{}/console/", app.base)).await;
    assert_eq!(b.path().await, "/console/sign-in");
    assert!(app.state.sessions.is_empty());
    b.close().await;
}

#[tokio::test]
async fn a_viewer_sees_no_write_buttons() {
    let app = spawn().await;
    let b = Browser::start().await;
    sign_in(&b, &app, &app.viewer_token).await;
    for path in ["", "/members", "/tokens"] {
        b.goto(&format!("{}/console/accounts/{}{path}", app.base, app.agency)).await;
        let buttons = b.client.find_all(Locator::Css("main button")).await.expect("buttons");
        assert!(buttons.is_empty(), "{path}: a viewer got {} buttons", buttons.len());
    }
    let buttons = b.client.find_all(Locator::Css("main form[method=post]")).await.expect("forms");
    assert!(buttons.is_empty());
    b.close().await;
}

#[tokio::test]
async fn a_cross_site_form_post_is_refused() {
    let app = spawn().await;
    // Another site (localhost is not the console's 127.0.0.1) with a form aimed at the console.
    let target = format!("{}/console/accounts/{}/members", app.base, app.agency);
    let page = format!(
        "<!doctype html><form method=post action='{target}'><input name=csrf value=guessed>\
         <input name=email value=evil@example.com><input name=role value=administrator>\
         <button id=go>win a prize</button></form>"
    );
    let evil =
        axum::Router::new().route("/", axum::routing::get(move || std::future::ready(axum::response::Html(page))));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let evil_url = format!("http://localhost:{}/", listener.local_addr().expect("addr").port());
    tokio::spawn(async move { axum::serve(listener, evil).await.expect("serve") });

    let b = Browser::start().await;
    sign_in(&b, &app, &app.fixture.root_token).await;
    let before = accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await;
    b.goto(&evil_url).await;
    b.click("#go").await;
    let html = b.html().await;
    assert!(!html.contains("Invitation sent."), "{html}");
    assert_eq!(accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await, before, "nothing stored");
    b.close().await;
}
