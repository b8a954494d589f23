//! A small product, a "mail gateway", that delegates *who may do what* to accountd. Its
//! customers call it with their accountd token (`Authorization: Bearer acd_…`); before
//! serving, it asks accountd whether that token, used from the connection's address, holds
//! the endpoint's permission on the account in the path.
//!
//! The question is behind one trait, [`Gatekeeper`], with two implementations:
//! - [`Remote`]: accountd's decision API over gRPC, through `accountd-client`;
//! - [`Embedded`]: the domain's [`AuthorizationService::check`] in process, over the store
//!   the embedding service owns (no accountd server).
//!
//! The two modes differ only in the `Gatekeeper` they hand to [`router`]; see
//! docs/embedding.md for when to pick which.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use accountd_client::{Check, Client, SecretString, Subject};
use accountd_domain::{
    AuthorizationService, AuthorizeInput, CheckInput, CheckReason, Decision, Principal, RequestInfo, Services,
};
use axum::Json;
use axum::Router;
use axum::extract::{ConnectInfo, Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::json;

/// accountd's answer about one token, one account and one permission.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Granted; the token acts for this accountd user.
    Allowed {
        user_id: String,
    },
    /// The token is not usable (accountd's `active: false`, with its reason).
    Inactive(String),
    NotFound,
    Forbidden,
    TwoFactorRequired,
}

/// Why accountd could not be asked (unreachable, refused the gateway's own credentials, …).
#[derive(Debug, thiserror::Error)]
#[error("accountd could not decide: {0}")]
pub struct GatekeeperError(pub String);

/// The one question the gateway asks accountd on every request.
#[async_trait::async_trait]
pub trait Gatekeeper: Send + Sync + 'static {
    /// May `token`, presented from `client_ip`, do `permission` on `account_id`?
    async fn allows(
        &self,
        token: &str,
        client_ip: IpAddr,
        account_id: &str,
        permission: &str,
    ) -> Result<Verdict, GatekeeperError>;
}

/// The remote mode: accountd's `AuthorizationService/Check` through `accountd-client`. The
/// client carries the gateway's own service token, which must hold the root permission
/// `authz:check`.
#[derive(Debug, Clone)]
pub struct Remote {
    accountd: Client,
}

impl Remote {
    pub fn new(accountd: Client) -> Self {
        Self { accountd }
    }
}

#[async_trait::async_trait]
impl Gatekeeper for Remote {
    async fn allows(
        &self,
        token: &str,
        client_ip: IpAddr,
        account_id: &str,
        permission: &str,
    ) -> Result<Verdict, GatekeeperError> {
        let subject = Subject::token(SecretString::from(token.to_owned())).from_ip(client_ip);
        let decision = self
            .accountd
            .authorize(subject, [Check::new(account_id, permission)])
            .await
            .map_err(|e| GatekeeperError(e.to_string()))?;
        if !decision.active {
            return Ok(Verdict::Inactive(decision.reason.unwrap_or_default()));
        }
        let user_id = decision.subject.map(|s| s.user_id).unwrap_or_default();
        let result = decision.results.first().ok_or_else(|| GatekeeperError("an answer without results".into()))?;
        Ok(match result.reason.as_str() {
            "granted" => Verdict::Allowed { user_id },
            "not_found" => Verdict::NotFound,
            "two_factor_required" => Verdict::TwoFactorRequired,
            // `forbidden`, or a reason this gateway does not know: refuse.
            _ => Verdict::Forbidden,
        })
    }
}

/// The embedded mode: the domain's decision, in process, asked as the system principal (the
/// embedding service is trusted as accountd's own binary is; no service token is needed).
#[derive(Debug, Clone)]
pub struct Embedded {
    authorization: AuthorizationService,
}

impl Embedded {
    /// Over the services the embedding service built on its store (see docs/embedding.md).
    pub fn new(services: &Services) -> Self {
        Self { authorization: services.authorization.clone() }
    }
}

#[async_trait::async_trait]
impl Gatekeeper for Embedded {
    async fn allows(
        &self,
        token: &str,
        client_ip: IpAddr,
        account_id: &str,
        permission: &str,
    ) -> Result<Verdict, GatekeeperError> {
        let input = AuthorizeInput {
            token: Some(token.to_owned()),
            client_ip: Some(client_ip.to_string()),
            checks: vec![CheckInput { account_id: account_id.to_owned(), permission: permission.to_owned() }],
            ..AuthorizeInput::default()
        };
        let request = input.validate().map_err(|e| GatekeeperError(e.to_string()))?;
        let system = Principal::system(RequestInfo { ip: Some(client_ip), ..RequestInfo::default() });
        let decision = self.authorization.check(&system, request).await.map_err(|e| GatekeeperError(e.to_string()))?;
        Ok(match decision {
            Decision::Inactive(reason) => Verdict::Inactive(reason.to_string()),
            Decision::Active { user_id, results, .. } => match results.first().map(|r| r.reason) {
                Some(CheckReason::Granted) => Verdict::Allowed { user_id: user_id.to_string() },
                Some(CheckReason::NotFound) => Verdict::NotFound,
                Some(CheckReason::TwoFactorRequired) => Verdict::TwoFactorRequired,
                Some(CheckReason::Forbidden) => Verdict::Forbidden,
                None => return Err(GatekeeperError("an answer without results".into())),
            },
        })
    }
}

/// The gateway's routes. Serve them with
/// `into_make_service_with_connect_info::<SocketAddr>()`: the client address accountd checks
/// IP conditions against is the connection's (no proxy header is trusted).
pub fn router(gatekeeper: Arc<dyn Gatekeeper>) -> Router {
    Router::new()
        .route("/mailboxes/{account_id}", get(mailbox))
        .route("/mailboxes/{account_id}/send", post(send))
        .with_state(gatekeeper)
}

type Gate = State<Arc<dyn Gatekeeper>>;

async fn mailbox(
    State(gate): Gate,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    match admit(gate.as_ref(), &headers, peer, &account, "aliases:read").await {
        Ok(user_id) => Json(json!({"account_id": account, "read_by": user_id, "messages": []})).into_response(),
        Err(refusal) => refusal,
    }
}

async fn send(
    State(gate): Gate,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    Path(account): Path<String>,
    headers: HeaderMap,
) -> Response {
    match admit(gate.as_ref(), &headers, peer, &account, "aliases:write").await {
        Ok(user_id) => Json(json!({"account_id": account, "sent_by": user_id, "queued": true})).into_response(),
        Err(refusal) => refusal,
    }
}

/// The accountd user the request's token acts for, or the answer refusing it: 401 for a
/// missing or unusable token, 404 and 403 as accountd answers them on its own endpoints,
/// 503 when accountd could not decide.
async fn admit(
    gate: &dyn Gatekeeper,
    headers: &HeaderMap,
    peer: SocketAddr,
    account: &str,
    permission: &str,
) -> Result<String, Response> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| refusal(StatusCode::UNAUTHORIZED, "missing"))?;
    match gate.allows(token, peer.ip(), account, permission).await {
        Ok(Verdict::Allowed { user_id }) => Ok(user_id),
        Ok(Verdict::Inactive(reason)) => Err(refusal(StatusCode::UNAUTHORIZED, &reason)),
        Ok(Verdict::NotFound) => Err(refusal(StatusCode::NOT_FOUND, "not_found")),
        Ok(Verdict::Forbidden) => Err(refusal(StatusCode::FORBIDDEN, "forbidden")),
        Ok(Verdict::TwoFactorRequired) => Err(refusal(StatusCode::FORBIDDEN, "two_factor_required")),
        Err(e) => Err(refusal(StatusCode::SERVICE_UNAVAILABLE, &e.to_string())),
    }
}

fn refusal(status: StatusCode, reason: &str) -> Response {
    (status, Json(json!({"error": reason}))).into_response()
}
