//! The calling principal of an RPC, built from its metadata.

use accountd_domain::{Authenticator, IdempotencyKey, Principal, RequestInfo, ValidationErrors};
use tonic::metadata::MetadataValue;
use tonic::{Request, Response, Status};

use crate::status::to_status;

/// The authenticated principal an RPC acts as: the one place gRPC reads credentials
/// (`authorization: Bearer …` or `x-api-key` metadata). Every RPC starts with it, so no call
/// reaches a service without a verified token (UNAUTHENTICATED otherwise). The request id is
/// the `x-request-id` the server's request-id layer set (the client's, when valid).
pub async fn caller<T>(request: &Request<T>, authenticator: &Authenticator) -> Result<Principal, Status> {
    let metadata = request.metadata();
    let text = |key: &str| metadata.get(key).and_then(|v| v.to_str().ok());
    let mut info =
        RequestInfo::from_client(request.remote_addr().map(|addr| addr.ip()), text("user-agent"), text("x-request-id"));
    // The server's request-id layer sets one on every call; this covers a server without it.
    info.request_id.get_or_insert_with(|| uuid::Uuid::now_v7().to_string());
    let credential = Authenticator::credential(text("authorization"), text("x-api-key"));
    authenticator.authenticate(credential, info).await.map_err(to_status)
}

/// The answer to a create RPC, marked with `idempotent-replayed: true` metadata when it
/// answers a replay of an earlier request with the same `idempotency-key`.
pub fn created<T>(message: T, replayed: bool) -> Response<T> {
    let mut response = Response::new(message);
    if replayed {
        response.metadata_mut().insert("idempotent-replayed", MetadataValue::from_static("true"));
    }
    response
}

/// The optional `idempotency-key` metadata of a create RPC (every create RPC reads it).
pub fn idempotency_key<T>(request: &Request<T>) -> Result<Option<IdempotencyKey>, Status> {
    let Some(value) = request.metadata().get("idempotency-key") else { return Ok(None) };
    let text = value.to_str().unwrap_or("\u{fffd}");
    IdempotencyKey::parse(text).map(Some).map_err(|e| to_status(ValidationErrors::from(e)))
}
