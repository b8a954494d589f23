//! The calling principal of an RPC, built from its metadata.

use accountd_domain::{Principal, RequestInfo};
use tonic::Request;

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
