//! RPC metrics: `grpc_requests_total` and `grpc_request_duration_seconds` per method and
//! status code, recorded by a tower layer around the whole gRPC server.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use http::{Request, Response};
use tower::{Layer, Service};

/// The layer to give `tonic::transport::Server::builder().layer(…)`.
#[derive(Debug, Clone, Copy, Default)]
pub struct MetricsLayer;

impl<S> Layer<S> for MetricsLayer {
    type Service = Metrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Metrics { inner }
    }
}

/// The service [`MetricsLayer`] wraps around another.
#[derive(Debug, Clone)]
pub struct Metrics<S> {
    inner: S,
}

impl<S, B, R> Service<Request<B>> for Metrics<S>
where
    S: Service<Request<B>, Response = Response<R>>,
    S::Future: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<B>) -> Self::Future {
        let started = Instant::now();
        let method = request.uri().path().to_owned();
        let future = self.inner.call(request);
        Box::pin(async move {
            let result = future.await;
            // A unary error travels in the headers ("trailers-only"); success sets it in the
            // trailers, which a layer does not see, so its absence means OK.
            let code = match &result {
                Ok(response) => {
                    response.headers().get("grpc-status").and_then(|v| v.to_str().ok()).unwrap_or("0").to_owned()
                }
                Err(_) => "transport_error".to_owned(),
            };
            // An unknown method answers UNIMPLEMENTED (12); its client-chosen path must not
            // become a label value, or any client could add series without end.
            let method = if code == "12" { "unmatched".to_owned() } else { method };
            let labels = [("method", method), ("code", code)];
            metrics::counter!("grpc_requests_total", &labels).increment(1);
            metrics::histogram!("grpc_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
            result
        })
    }
}
