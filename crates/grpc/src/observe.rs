//! How the gRPC server traces calls: one span per call carrying its request id, and the
//! same logging policy as REST — a call the *server* failed (UNKNOWN, DEADLINE_EXCEEDED,
//! INTERNAL, UNAVAILABLE, DATA_LOSS, or a transport error; REST's 5xx) is logged at ERROR, a
//! call the *client* got wrong (every other non-OK code, UNIMPLEMENTED for an unknown method
//! included; REST's 4xx) at DEBUG with its code, so clients cannot flood the error log.

use std::time::Duration;

use http::Request;
use tonic::Code;
use tower_http::classify::{GrpcFailureClass, SharedClassifier};
use tower_http::trace::{DefaultOnBodyChunk, DefaultOnEos, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tracing::Span;

/// The gRPC server's tracing layer; place it inside the request-id layers so its span sees
/// the final `x-request-id`.
pub type GrpcTraceLayer<B> = TraceLayer<
    SharedClassifier<tower_http::classify::GrpcErrorsAsFailures>,
    fn(&Request<B>) -> Span,
    DefaultOnRequest,
    DefaultOnResponse,
    DefaultOnBodyChunk,
    DefaultOnEos,
    fn(GrpcFailureClass, Duration, &Span),
>;

/// [`GrpcTraceLayer`] for the server's request body type `B`.
pub fn trace_layer<B>() -> GrpcTraceLayer<B> {
    TraceLayer::new_for_grpc().make_span_with(call_span as fn(&Request<B>) -> Span).on_failure(log_failure as _)
}

fn call_span<B>(request: &Request<B>) -> Span {
    let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
    tracing::info_span!("grpc", path = %request.uri().path(), request_id)
}

/// Whether a status code means the server failed rather than the client.
pub fn is_server_error(code: Code) -> bool {
    matches!(code, Code::Unknown | Code::DeadlineExceeded | Code::Internal | Code::Unavailable | Code::DataLoss)
}

/// The policy of the module docs, for a call that did not end OK.
fn log_failure(failure: GrpcFailureClass, latency: Duration, _span: &Span) {
    let latency_ms = latency.as_millis();
    match failure {
        GrpcFailureClass::Status(status) => {
            let code = Code::from_i32(status.code_raw());
            let message = status.message().unwrap_or("");
            if is_server_error(code) {
                tracing::error!(code = status.code_raw(), status = ?code, message, latency_ms, "call failed");
            } else {
                tracing::debug!(code = status.code_raw(), status = ?code, latency_ms, "call refused");
            }
        }
        GrpcFailureClass::Error(error) => tracing::error!(%error, latency_ms, "call failed"),
        other => tracing::error!(failure = %other, latency_ms, "call failed"),
    }
}
