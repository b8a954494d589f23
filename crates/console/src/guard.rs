//! What console handlers take from a request: the signed-in user ([`Signed`]), and a form
//! post that passed the CSRF checks ([`Post`]). Every page needs a `Signed`, every write a
//! `Post`: a handler cannot forget either check.

use std::net::SocketAddr;

use accountd_domain::{HasErrorKind as _, Principal, RequestInfo};
use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Request};
use axum::http::header::{COOKIE, HOST, ORIGIN, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode};
use secrecy::ExposeSecret;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use crate::ConsoleState;
use crate::error::ConsoleError;
use crate::session;

/// The value of cookie `name` in the request's `Cookie` headers.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v)
}

/// Who the request comes from, for audit events (as REST records it).
pub fn request_info(parts: &Parts) -> RequestInfo {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    RequestInfo::from_client(
        parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip()),
        header(USER_AGENT.as_str()),
        header("x-request-id"),
    )
}

/// The signed-in user: a live session whose token still authenticates.
#[derive(Debug, Clone)]
pub struct Signed {
    pub principal: Principal,
    /// The session's CSRF token, put in every form.
    pub csrf: String,
}

impl FromRequestParts<ConsoleState> for Signed {
    type Rejection = ConsoleError;

    async fn from_request_parts(parts: &mut Parts, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let id = cookie(&parts.headers, session::COOKIE).ok_or(ConsoleError::SignIn)?;
        let found = state.sessions.find(id).ok_or(ConsoleError::SignIn)?;
        let request = request_info(parts);
        match state.services.authenticator.authenticate(Some(found.token.expose_secret()), request).await {
            Ok(principal) => Ok(Self { principal, csrf: found.csrf }),
            Err(error) => {
                if matches!(error.kind(), accountd_domain::ErrorKind::Unauthenticated) {
                    // Revoked, expired or disabled since sign-in: the session ends with it.
                    state.sessions.end(id);
                    Err(ConsoleError::SignIn)
                } else {
                    Err(ConsoleError::from_domain(&error))
                }
            }
        }
    }
}

/// Refuses a request another site made the browser send: `Sec-Fetch-Site` must say
/// same-origin (or a user action), and `Origin`, when sent, must be this host.
pub fn same_origin(headers: &HeaderMap) -> Result<(), ConsoleError> {
    let refused = || ConsoleError::forbidden("this form was not sent from the console");
    if let Some(site) = headers.get("sec-fetch-site")
        && !matches!(site.to_str().unwrap_or(""), "same-origin" | "none")
    {
        return Err(refused());
    }
    if let Some(origin) = headers.get(ORIGIN) {
        let origin = origin.to_str().map_err(|_| refused())?;
        let host = headers.get(HOST).and_then(|h| h.to_str().ok()).ok_or_else(refused)?;
        let origin_host = origin.split_once("://").map(|(_, rest)| rest).ok_or_else(refused)?;
        if origin == "null" || !origin_host.eq_ignore_ascii_case(host) {
            return Err(refused());
        }
    }
    Ok(())
}

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

/// A form post by the signed-in user that passed the CSRF checks: from this origin, and
/// carrying the session's CSRF token. Anything else is a 403 before the handler runs.
#[derive(Debug)]
pub struct Post<T> {
    pub signed: Signed,
    pub form: T,
}

impl<T: DeserializeOwned> FromRequest<ConsoleState> for Post<T> {
    type Rejection = ConsoleError;

    async fn from_request(req: Request, state: &ConsoleState) -> Result<Self, Self::Rejection> {
        let (mut parts, body) = req.into_parts();
        same_origin(&parts.headers)?;
        let signed = Signed::from_request_parts(&mut parts, state).await?;
        let bytes = Bytes::from_request(Request::from_parts(parts, body), state)
            .await
            .map_err(|_| ConsoleError::Page(StatusCode::BAD_REQUEST, "the form could not be read".to_owned()))?;
        let sent: CsrfField = serde_urlencoded::from_bytes(&bytes)
            .map_err(|_| ConsoleError::Page(StatusCode::BAD_REQUEST, "the form could not be read".to_owned()))?;
        if !session::same(&sent.csrf, &signed.csrf) {
            return Err(ConsoleError::forbidden(
                "this form is stale or was not sent from the console: reload the page",
            ));
        }
        let form = serde_urlencoded::from_bytes(&bytes)
            .map_err(|e| ConsoleError::Page(StatusCode::BAD_REQUEST, format!("the form could not be read: {e}")))?;
        Ok(Self { signed, form })
    }
}

#[cfg(test)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn a_same_origin_post_passes() {
        assert!(
            same_origin(&headers(&[
                ("host", "127.0.0.1:8080"),
                ("origin", "http://127.0.0.1:8080"),
                ("sec-fetch-site", "same-origin")
            ]))
            .is_ok()
        );
        assert!(same_origin(&headers(&[("host", "a")])).is_ok(), "a client sending neither header");
    }

    #[test]
    fn a_cross_site_post_is_refused() {
        for bad in [
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "cross-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("sec-fetch-site", "same-site")]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "http://evil.example")]),
            headers(&[("host", "127.0.0.1:8080"), ("origin", "null")]),
            headers(&[("origin", "http://127.0.0.1:8080")]),
        ] {
            assert!(matches!(same_origin(&bad), Err(ConsoleError::Page(StatusCode::FORBIDDEN, _))), "{bad:?}");
        }
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let h = headers(&[("cookie", "a=1; accountd_console_x=2"), ("cookie", "accountd_console=3")]);
        assert_eq!(cookie(&h, "accountd_console"), Some("3"));
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "b"), None);
    }
}
