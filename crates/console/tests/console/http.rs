//! The console over plain HTTP: headers, sessions, CSRF and the API's rules, checked on
//! the answers and on what was stored.

use reqwest::StatusCode;

use crate::helpers::{client, hidden, sign_in, spawn};

fn header(response: &reqwest::Response, name: &str) -> String {
    response.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned()
}

#[tokio::test]
async fn every_page_has_a_strict_csp_no_framing_and_no_referrer() {
    let app = spawn().await;
    let c = client();
    for path in ["/console/sign-in", "/console/", "/console/nothing-here"] {
        let r = c.get(format!("{}{path}", app.base)).send().await.expect("get");
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("default-src 'none'") && !csp.contains("script-src"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
        assert_eq!(header(&r, "x-frame-options"), "DENY", "{path}");
        assert_eq!(header(&r, "referrer-policy"), "same-origin", "{path}");
        assert_eq!(header(&r, "x-content-type-options"), "nosniff", "{path}");
    }
    let css = c.get(format!("{}/console/console.css", app.base)).send().await.expect("css");
    assert_eq!(header(&css, "content-type"), "text/css; charset=utf-8");
}

#[tokio::test]
async fn a_page_without_a_session_sends_you_to_sign_in() {
    let app = spawn().await;
    let r = client().get(format!("{}/console/accounts/{}", app.base, app.agency)).send().await.expect("get");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&r, "location"), "/console/sign-in");
}

#[tokio::test]
async fn signing_in_sets_an_http_only_strict_session_cookie_and_never_shows_the_token() {
    let app = spawn().await;
    let c = client();
    let form = c.get(format!("{}/console/sign-in", app.base)).send().await.expect("form");
    let nonce_cookie = header(&form, "set-cookie");
    assert!(nonce_cookie.contains("HttpOnly") && nonce_cookie.contains("SameSite=Strict"), "{nonce_cookie}");
    let nonce = hidden(&form.text().await.expect("html"), "nonce");
    let r = c
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("nonce", nonce.as_str()), ("token", app.fixture.root_token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let cookies: Vec<String> =
        r.headers().get_all("set-cookie").iter().map(|v| v.to_str().expect("ascii").to_owned()).collect();
    let session = cookies.iter().find(|c| c.starts_with("accountd_console=")).expect("session cookie");
    assert!(
        session.contains("; HttpOnly") && session.contains("; SameSite=Strict") && session.contains("Path=/console")
    );
    assert!(!session.contains("Secure"), "plain HTTP: no Secure flag, or the browser would drop it");
    assert!(!session.contains(&app.fixture.root_token), "the cookie holds a session id, not the token");
    assert_eq!(app.state.sessions.len(), 1);
    for path in ["/console/".to_owned(), format!("/console/accounts/{}", app.agency), "/console/me".to_owned()] {
        let page = c.get(format!("{}{path}", app.base)).send().await.expect("page");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        assert!(!page.text().await.expect("html").contains(&app.fixture.root_token), "{path} shows the token");
    }
}

#[tokio::test]
async fn a_secure_cookie_behind_a_tls_proxy() {
    let app = spawn().await;
    let r = client()
        .get(format!("{}/console/sign-in", app.base))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .expect("form");
    assert!(header(&r, "set-cookie").ends_with("; Secure"), "{}", header(&r, "set-cookie"));
}

#[tokio::test]
async fn a_wrong_token_is_refused_next_to_the_field_and_starts_no_session() {
    let app = spawn().await;
    let c = client();
    let form = c.get(format!("{}/console/sign-in", app.base)).send().await.expect("form").text().await.expect("html");
    let r = c
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("nonce", hidden(&form, "nonce").as_str()), ("token", "acd_not-a-real-token")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
    let html = r.text().await.expect("html");
    assert!(html.contains("id=\"token-error\"") && html.contains("this token is not valid"), "{html}");
    assert!(html.contains("aria-describedby=\"token-error\""));
    assert!(!html.contains("acd_not-a-real-token"), "the typed token is not echoed");
    assert!(app.state.sessions.is_empty());
}

#[tokio::test]
async fn a_sign_in_post_without_the_forms_nonce_is_refused() {
    let app = spawn().await;
    let r = client()
        .post(format!("{}/console/sign-in", app.base))
        .form(&[("nonce", "guessed"), ("token", app.fixture.root_token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    assert!(app.state.sessions.is_empty(), "a login CSRF must not sign the browser in");
}

#[tokio::test]
async fn a_post_without_the_csrf_token_or_from_another_origin_is_refused_and_stores_nothing() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.fixture.root_token).await;
    let before = accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await;
    let url = format!("{}/console/accounts/{}/members", app.base, app.agency);
    let attempts = [
        c.post(&url).form(&[("email", "forged@example.com"), ("role", "viewer")]),
        c.post(&url).form(&[("csrf", "guessed"), ("email", "forged@example.com"), ("role", "viewer")]),
        c.post(&url).header("origin", "http://evil.example").form(&[
            ("csrf", csrf.as_str()),
            ("email", "forged@example.com"),
            ("role", "viewer"),
        ]),
        c.post(&url).header("sec-fetch-site", "cross-site").form(&[
            ("csrf", csrf.as_str()),
            ("email", "forged@example.com"),
            ("role", "viewer"),
        ]),
    ];
    for attempt in attempts {
        let r = attempt.send().await.expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN);
    }
    assert_eq!(accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await, before, "nothing stored");
    // The same form with the token, from the console's origin, works.
    let origin = app.base.clone();
    let r = c
        .post(&url)
        .header("origin", origin)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", csrf.as_str()), ("email", "real@example.com"), ("role", "viewer")])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
}

#[tokio::test]
async fn a_viewer_sees_no_write_action_and_a_forged_write_is_forbidden() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.viewer_token).await;
    for path in ["", "/members", "/tokens"] {
        let r = c.get(format!("{}/console/accounts/{}{path}", app.base, app.agency)).send().await.expect("page");
        assert_eq!(r.status(), StatusCode::OK, "{path}");
        let html = r.text().await.expect("html");
        // The only form a viewer gets on an account page is signing out.
        assert_eq!(html.matches("method=\"post\"").count(), 1, "{path}: {html}");
        assert!(html.contains("Acme Agency"));
    }
    let before = accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await;
    let posts = [
        (format!("/console/accounts/{}/members", app.agency), vec![("email", "x@example.com"), ("role", "viewer")]),
        (format!("/console/accounts/{}", app.agency), vec![("name", "Renamed by a viewer")]),
        (format!("/console/accounts/{}/members/{}/reset-mfa", app.agency, app.mfa_user), vec![]),
        (format!("/console/accounts/{}/tokens", app.agency), vec![("name", "viewer's new token")]),
    ];
    for (path, fields) in posts {
        let mut form = vec![("csrf", csrf.as_str())];
        form.extend(fields);
        let r = c.post(format!("{}{path}", app.base)).form(&form).send().await.expect("post");
        assert_eq!(r.status(), StatusCode::FORBIDDEN, "{path}");
    }
    assert_eq!(accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await, before);
    // Another tenant's account does not exist for the viewer.
    let root = crate::helpers::root(&app.fixture).await;
    let other = accountd_domain::NewAccountInput { name: Some("Other tenant".into()), ..Default::default() };
    let other =
        app.fixture.services.accounts.create(&root, other.validate().expect("valid"), None).await.expect("other");
    let r = c.get(format!("{}/console/accounts/{}", app.base, other.value.account.id)).send().await.expect("page");
    assert_eq!(r.status(), StatusCode::NOT_FOUND);
    // Nor does search or the listing show it to the viewer.
    let html = c
        .get(format!("{}/console/accounts?q=other", app.base))
        .send()
        .await
        .expect("search")
        .text()
        .await
        .expect("html");
    assert!(html.contains("No account matches.") && !html.contains("Other tenant"), "{html}");
    let html = c
        .get(format!("{}/console/accounts?q=acme", app.base))
        .send()
        .await
        .expect("search")
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Acme Agency") && html.contains("Acme Ads"),
        "the viewer's own accounts, the subtree included"
    );
    let html = c.get(format!("{}/console/", app.base)).send().await.expect("list").text().await.expect("html");
    assert!(!html.contains("Other tenant") && html.contains("Acme Ads"));
}

#[tokio::test]
async fn signing_out_ends_the_session_on_the_server() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.fixture.root_token).await;
    let r =
        c.post(format!("{}/console/sign-out", app.base)).form(&[("csrf", csrf.as_str())]).send().await.expect("out");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(header(&r, "set-cookie").contains("Max-Age=0"));
    assert!(app.state.sessions.is_empty());
    let r = c.get(format!("{}/console/", app.base)).send().await.expect("page");
    assert_eq!(r.status(), StatusCode::SEE_OTHER, "the old cookie no longer signs in");
}

#[tokio::test]
async fn a_revoked_token_ends_its_console_session() {
    let app = spawn().await;
    let c = client();
    sign_in(&app, &c, &app.viewer_token).await;
    let root = crate::helpers::root(&app.fixture).await;
    let tokens = app.fixture.services.tokens.list(&root, app.agency, accountd_domain::PageRequest::first(10));
    let viewer = tokens.await.expect("tokens").items.into_iter().find(|t| t.name.as_str().starts_with("viewer"));
    app.fixture.services.tokens.delete(&root, app.agency, viewer.expect("viewer token").id).await.expect("revoke");
    let r = c.get(format!("{}/console/", app.base)).send().await.expect("page");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert!(app.state.sessions.is_empty(), "the session ended with its token");
}

#[tokio::test]
async fn search_finds_accounts_by_name_prefix_and_by_id() {
    let app = spawn().await;
    let c = client();
    sign_in(&app, &c, &app.fixture.root_token).await;
    let html = c
        .get(format!("{}/console/accounts?q=acme", app.base))
        .send()
        .await
        .expect("search")
        .text()
        .await
        .expect("html");
    assert!(html.contains("Acme Agency") && html.contains("Acme Ads"), "{html}");
    let html =
        c.get(format!("{}/console/accounts?q=ads", app.base)).send().await.expect("search").text().await.expect("html");
    assert!(html.contains("No account matches."), "a prefix, not a substring");
    let r = c.get(format!("{}/console/accounts?q={}", app.base, app.child)).send().await.expect("by id");
    assert_eq!(header(&r, "location"), format!("/console/accounts/{}", app.child));
    let r = c.get(format!("{}/console/accounts?q=%01", app.base)).send().await.expect("bad");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("html").contains("id=\"q-error\""), "the error is next to the search field");
}

#[tokio::test]
async fn a_refused_form_shows_the_error_next_to_its_field_and_stores_nothing() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.fixture.root_token).await;
    let before = accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await;
    let r = c
        .post(format!("{}/console/accounts", app.base))
        .form(&[("csrf", csrf.as_str()), ("name", "   "), ("type", "standard"), ("parent_id", &app.agency.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = r.text().await.expect("html");
    assert!(html.contains("id=\"new-name-error\"") && html.contains("must not be empty"), "{html}");
    let r = c
        .post(format!("{}/console/accounts/{}/move", app.base, app.child))
        .form(&[("csrf", csrf.as_str()), ("parent_id", &app.child.to_string())])
        .send()
        .await
        .expect("move");
    assert_eq!(r.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(r.text().await.expect("html").contains("id=\"parent_id-error\""));
    assert_eq!(accountd_testkit::trail(&app.fixture.store, &app.agency.to_string()).await, before);
}

#[tokio::test]
async fn the_tree_expands_a_child_by_link() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.fixture.root_token).await;
    let r = c
        .post(format!("{}/console/accounts", app.base))
        .form(&[
            ("csrf", csrf.as_str()),
            ("name", "Acme Group"),
            ("type", "business_manager"),
            ("parent_id", &app.agency.to_string()),
        ])
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let group =
        header(&r, "location").trim_start_matches("/console/accounts/").split('?').next().expect("id").to_owned();
    let r = c
        .post(format!("{}/console/accounts", app.base))
        .form(&[("csrf", csrf.as_str()), ("name", "Grandchild"), ("type", "standard"), ("parent_id", &group)])
        .send()
        .await
        .expect("create");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let url = format!("{}/console/accounts/{}", app.base, app.agency);
    let closed = c.get(&url).send().await.expect("page").text().await.expect("html");
    assert!(closed.contains("Acme Group") && !closed.contains("Grandchild"));
    assert!(closed.contains(&format!("?open={group}#tree")), "an expand link");
    let open = c.get(format!("{url}?open={group}")).send().await.expect("page").text().await.expect("html");
    assert!(open.contains("Grandchild") && open.contains("aria-expanded=\"true\""));
}

#[tokio::test]
async fn a_factor_is_enrolled_with_a_server_rendered_qr_code_activated_and_deleted() {
    let app = spawn().await;
    let c = client();
    let csrf = sign_in(&app, &c, &app.viewer_token).await;
    let r =
        c.post(format!("{}/console/me/mfa", app.base)).form(&[("csrf", csrf.as_str())]).send().await.expect("enrol");
    assert_eq!(r.status(), StatusCode::CREATED);
    let html = r.text().await.expect("html");
    assert!(html.contains("src=\"data:image/svg+xml;base64,"), "the QR code is an SVG made here");
    let secret = html
        .split("id=\"totp-secret\">")
        .nth(1)
        .and_then(|s| s.split('<').next())
        .expect("the secret, shown once")
        .to_owned();
    let factor = hidden(&html, "factor_id");
    let me = c.get(format!("{}/console/me", app.base)).send().await.expect("me").text().await.expect("html");
    assert!(!me.contains(&secret), "the secret is not shown again");
    assert!(me.contains("pending"));

    let wrong = c
        .post(format!("{}/console/me/mfa/activate", app.base))
        .form(&[("csrf", csrf.as_str()), ("factor_id", factor.as_str()), ("code", "12")])
        .send()
        .await
        .expect("activate");
    assert_eq!(wrong.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(wrong.text().await.expect("html").contains("id=\"activate-code-error\""), "the error is next to the code");

    let code = crate::helpers::code(&secret, 0);
    let r = c
        .post(format!("{}/console/me/mfa/activate", app.base))
        .form(&[("csrf", csrf.as_str()), ("factor_id", factor.as_str()), ("code", code.as_str())])
        .send()
        .await
        .expect("activate");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    assert_eq!(header(&r, "location"), "/console/me?done=activated");
    let me =
        c.get(format!("{}/console/me?done=activated", app.base)).send().await.expect("me").text().await.expect("html");
    assert!(me.contains("Factor activated.") && me.contains(">active<"), "{me}");

    // Deleting an active factor needs a current code: without one it is refused.
    let url = format!("{}/console/me/mfa/{factor}/delete", app.base);
    let r = c.post(&url).form(&[("csrf", csrf.as_str())]).send().await.expect("delete");
    assert!(r.status().is_client_error(), "{}", r.status());
    let code = crate::helpers::code(&secret, 1);
    let r = c.post(&url).form(&[("csrf", csrf.as_str()), ("code", code.as_str())]).send().await.expect("delete");
    assert_eq!(r.status(), StatusCode::SEE_OTHER);
    let me = c.get(format!("{}/console/me", app.base)).send().await.expect("me").text().await.expect("html");
    assert!(me.contains("No factor enrolled."));
}
