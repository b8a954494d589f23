//! Signing in with a token, and out. The token is posted once, checked, and kept only on
//! the server; the browser gets a session id in an `HttpOnly; SameSite=Strict` cookie.

use accountd_domain::HasErrorKind as _;
use axum::Form;
use axum::extract::State;
use axum::http::header::SET_COOKIE;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use maud::{Markup, html};
use secrecy::SecretString;
use serde::Deserialize;

use crate::error::ConsoleError;
use crate::guard::{Post, cookie, same_origin};
use crate::session::{self, ABSOLUTE_TIMEOUT, SIGN_IN_COOKIE, random_token};
use crate::{ConsoleState, layout};

/// Whether the browser reached the console over TLS: the server itself (`tls`), or a
/// TLS-terminating proxy in front of it (`X-Forwarded-Proto: https`). A forged header only
/// makes the cookie stricter.
fn over_tls(state: &ConsoleState, headers: &HeaderMap) -> bool {
    state.config.tls
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|p| p.eq_ignore_ascii_case("https"))
}

/// A cookie for the console's paths only, never readable by a script, never sent by
/// another site's request; `Secure` over TLS.
fn set_cookie(tls: bool, name: &str, value: &str, max_age_secs: u64) -> String {
    let secure = if tls { "; Secure" } else { "" };
    format!("{name}={value}; Path=/console; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{secure}")
}

fn sign_in_page(nonce: &str, error: Option<&str>) -> Markup {
    html! {
        h1 { "Sign in to the accountd console" }
        form.card method="post" action="/console/sign-in" {
            input type="hidden" name="nonce" value=(nonce);
            div.field {
                label for="token" { "API token" }
                input #token type="password" name="token" autocomplete="off" required
                    aria-invalid=[error.map(|_| "true")] aria-describedby=[error.map(|_| "token-error")];
                @if let Some(e) = error { p.field-error #token-error role="alert" { (e) } }
                p.muted { "A platform token (from " code { "accountd bootstrap" } ") or an account token. It stays on the server." }
            }
            button type="submit" { "Sign in" }
        }
    }
}

/// `GET /console/sign-in`: the form, with a fresh double-submit nonce.
pub async fn form(State(state): State<ConsoleState>, headers: HeaderMap) -> Response {
    let nonce = random_token();
    let cookie = set_cookie(over_tls(&state, &headers), SIGN_IN_COOKIE, &nonce, 600);
    ([(SET_COOKIE, cookie)], layout::bare("Sign in", sign_in_page(&nonce, None))).into_response()
}

#[derive(Deserialize)]
pub struct SignInForm {
    #[serde(default)]
    nonce: String,
    #[serde(default)]
    token: String,
}

/// `POST /console/sign-in`: checks the token with the authenticator; on success starts a
/// session and goes to the accounts page.
pub async fn submit(
    State(state): State<ConsoleState>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Result<Response, ConsoleError> {
    same_origin(&headers)?;
    let expected = cookie(&headers, SIGN_IN_COOKIE).unwrap_or("");
    if expected.is_empty() || !session::same(expected, &form.nonce) {
        return Err(ConsoleError::forbidden("this sign-in form is stale or was not sent from the console: reload it"));
    }
    let tls = over_tls(&state, &headers);
    let retry = |message: &str| {
        let nonce = random_token();
        let cookie = set_cookie(tls, SIGN_IN_COOKIE, &nonce, 600);
        (StatusCode::UNAUTHORIZED, [(SET_COOKIE, cookie)], layout::bare("Sign in", sign_in_page(&nonce, Some(message))))
            .into_response()
    };
    let token = form.token.trim();
    if token.is_empty() {
        return Ok(retry("enter a token"));
    }
    let request =
        accountd_domain::RequestInfo::from_client(None, headers.get("user-agent").and_then(|v| v.to_str().ok()), None);
    match state.services.authenticator.authenticate(Some(token), request).await {
        Ok(principal) if principal.user_id().is_some() => {
            let (id, _csrf) = state.sessions.start(SecretString::from(token.to_owned()));
            tracing::info!(user_id = ?principal.user_id(), "console sign-in");
            let session = set_cookie(tls, session::COOKIE, &id, ABSOLUTE_TIMEOUT.as_secs());
            let clear = set_cookie(tls, SIGN_IN_COOKIE, "", 0);
            let mut response = Redirect::to("/console/").into_response();
            response.headers_mut().append(SET_COOKIE, session.parse().map_err(|_| ConsoleError::SignIn)?);
            response.headers_mut().append(SET_COOKIE, clear.parse().map_err(|_| ConsoleError::SignIn)?);
            Ok(response)
        }
        Ok(_) => Ok(retry("this token does not act for a user")),
        Err(error) if matches!(error.kind(), accountd_domain::ErrorKind::Unauthenticated) => {
            Ok(retry("this token is not valid: check it, or ask for a new one"))
        }
        Err(error) => Err(ConsoleError::from_domain(&error)),
    }
}

#[derive(Deserialize)]
pub struct Nothing {}

/// `POST /console/sign-out`: ends the session on the server and clears the cookie.
pub async fn sign_out(State(state): State<ConsoleState>, headers: HeaderMap, _post: Post<Nothing>) -> Response {
    if let Some(id) = cookie(&headers, session::COOKIE) {
        state.sessions.end(id);
    }
    let clear = set_cookie(over_tls(&state, &headers), session::COOKIE, "", 0);
    ([(SET_COOKIE, clear)], Redirect::to("/console/sign-in")).into_response()
}
