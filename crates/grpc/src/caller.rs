//! The calling principal of an RPC, built from its metadata.

use accountd_domain::{IdempotencyKey, Principal, RequestInfo, ValidationErrors};
use tonic::{Request, Status};

use crate::status::to_status;

/// The principal an RPC acts as. Token authentication arrives with users; until then every
/// call acts as the system principal. The request id is the `x-request-id` the server's
/// request-id layer set (the client's, when valid), so every audited call can be traced.
pub fn caller<T>(request: &Request<T>) -> Principal {
    let metadata = request.metadata();
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok());
    let mut info =
        RequestInfo::from_client(request.remote_addr().map(|addr| addr.ip()), text("user-agent"), text("x-request-id"));
    // The server's request-id layer sets one on every call; this covers a server without it.
    info.request_id.get_or_insert_with(|| uuid::Uuid::now_v7().to_string());
    Principal::system(info)
}

/// The optional `idempotency-key` metadata of a create RPC.
pub fn idempotency_key<T>(request: &Request<T>) -> Result<Option<IdempotencyKey>, Status> {
    let Some(value) = request.metadata().get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().unwrap_or("\u{fffd}");
    IdempotencyKey::parse(text).map(Some).map_err(|e| to_status(ValidationErrors::from(e)))
}
