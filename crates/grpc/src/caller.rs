//! The calling principal of an RPC, built from its metadata.

use accountd_domain::{IdempotencyKey, Principal, RequestInfo, ValidationErrors};
use tonic::{Request, Status};

use crate::status::to_status;

/// The principal an RPC acts as. Token authentication arrives with users; until then every
/// call acts as the system principal. The request id is the client's `x-request-id`, or a
/// new one, so every audited call can be traced.
pub fn caller<T>(request: &Request<T>) -> Principal {
    let metadata = request.metadata();
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok()).map(str::to_owned);
    Principal::system(RequestInfo {
        ip: request.remote_addr().map(|addr| addr.ip()),
        user_agent: text("user-agent"),
        request_id: text("x-request-id").or_else(|| Some(uuid::Uuid::now_v7().to_string())),
    })
}

/// The optional `idempotency-key` metadata of a create RPC.
pub fn idempotency_key<T>(request: &Request<T>) -> Result<Option<IdempotencyKey>, Status> {
    let Some(value) = request.metadata().get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().unwrap_or("\u{fffd}");
    IdempotencyKey::parse(text).map(Some).map_err(|e| to_status(ValidationErrors::from(e)))
}
