//! The admin console: server-rendered HTML pages at `/console/` over the domain services,
//! called with the signed-in user's [`Principal`](accountd_domain::Principal), so every rule
//! is the API's. No script runs in the page: forms post, links navigate, and the tree
//! expands by following links. The stylesheet is compiled into the binary.

mod error;
mod guard;
mod layout;
mod pages;
pub mod session;

use std::sync::Arc;

use accountd_domain::Services;
use axum::Router;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};

pub use session::Sessions;

/// How the console is served.
#[derive(Debug, Clone, Copy, Default)]
pub struct ConsoleConfig {
    /// The server speaks TLS: cookies get `Secure`.
    pub tls: bool,
}

/// What console handlers share.
#[derive(Debug, Clone)]
pub struct ConsoleState {
    pub services: Services,
    pub sessions: Arc<Sessions>,
    pub config: ConsoleConfig,
}

impl ConsoleState {
    pub fn new(services: Services, config: ConsoleConfig) -> Self {
        Self { services, sessions: Arc::new(Sessions::default()), config }
    }
}

/// The stylesheet, compiled in.
const CSS: &str = include_str!("../assets/console.css");

/// Every console route, under `/console/`, with the security headers on every answer.
pub fn router(state: ConsoleState) -> Router {
    Router::new()
        .route("/console", get(|| async { axum::response::Redirect::permanent("/console/") }))
        .route("/console/", get(pages::accounts::home))
        .route("/console/console.css", get(stylesheet))
        .route("/console/sign-in", get(pages::sign_in::form).post(pages::sign_in::submit))
        .route("/console/sign-out", post(pages::sign_in::sign_out))
        .route("/console/accounts", get(pages::accounts::search).post(pages::accounts::create))
        .route("/console/accounts/{id}", get(pages::accounts::overview).post(pages::accounts::update))
        .route("/console/accounts/{id}/move", post(pages::accounts::move_account))
        .route("/console/accounts/{id}/members", get(pages::members::list).post(pages::members::invite))
        .route("/console/accounts/{id}/members/{user}/roles", post(pages::members::change_roles))
        .route("/console/accounts/{id}/members/{user}/remove", post(pages::members::remove))
        .route("/console/accounts/{id}/members/{user}/reset-mfa", post(pages::members::reset_mfa))
        .route("/console/accounts/{id}/tokens", get(pages::tokens::list).post(pages::tokens::create))
        .route("/console/accounts/{id}/tokens/{token}/roll", post(pages::tokens::roll))
        .route("/console/accounts/{id}/tokens/{token}/revoke", post(pages::tokens::revoke))
        .route("/console/accounts/{id}/audit", get(pages::audit::timeline))
        .route("/console/me", get(pages::me::overview))
        .route("/console/me/mfa", post(pages::me::enroll))
        .route("/console/me/mfa/activate", post(pages::me::activate))
        .route("/console/me/mfa/{factor}/delete", post(pages::me::delete_factor))
        .route("/console/{*rest}", get(error::not_found))
        .layer(axum::middleware::map_response(security_headers))
        .with_state(state)
}

async fn stylesheet() -> Response {
    ([(header::CONTENT_TYPE, "text/css; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=3600")], CSS)
        .into_response()
}

/// A strict Content-Security-Policy (no script at all, styles and images from the console
/// itself), no framing, no referrer to other sites (`same-origin`: with `no-referrer`,
/// Chromium sends `Origin: null` on the console's own form posts), no sniffing; pages are never cached (they can hold a
/// secret shown once).
async fn security_headers(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert("cross-origin-opener-policy", HeaderValue::from_static("same-origin"));
    if !headers.contains_key(header::CACHE_CONTROL) {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
    response
}
