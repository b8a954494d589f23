//! W3C trace context on incoming requests: a tower layer, outside the REST and gRPC trace
//! layers, that reads `traceparent` (and `tracestate`) with the global propagator and makes
//! it the current OpenTelemetry context while the inner service is called and while its
//! future is polled (axum calls a route's layers lazily, from the future), which is when
//! those layers open the request's span: the span then continues the caller's trace, and
//! everything under it (the operation, each statement) with it. Installed only when
//! tracing is on.

use std::task::{Context, Poll};

use opentelemetry::context::{FutureExt as _, WithContext};
use opentelemetry::propagation::Extractor;

/// The layer; see the module docs.
#[derive(Debug, Clone, Copy)]
pub struct TraceParentLayer;

impl<S> tower::Layer<S> for TraceParentLayer {
    type Service = TraceParent<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceParent { inner }
    }
}

/// The service [`TraceParentLayer`] wraps around another.
#[derive(Debug, Clone)]
pub struct TraceParent<S> {
    inner: S,
}

impl<S, B> tower::Service<http::Request<B>> for TraceParent<S>
where
    S: tower::Service<http::Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let parent = opentelemetry::global::get_text_map_propagator(|p| p.extract(&Headers(request.headers())));
        let future = {
            let _current = parent.clone().attach();
            self.inner.call(request)
        };
        future.with_context(parent)
    }
}

/// Request headers as the propagator reads them.
struct Headers<'a>(&'a http::HeaderMap);

impl Extractor for Headers<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        self.0.get(key).and_then(|v| v.to_str().ok())
    }

    fn keys(&self) -> Vec<&str> {
        self.0.keys().map(http::HeaderName::as_str).collect()
    }
}
