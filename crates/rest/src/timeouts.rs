//! Time limits on a request, so a client that stalls cannot hold a connection and a handler
//! forever: the whole request (reading the body included) gets `request_timeout`, and a body
//! that sends nothing for `body_timeout` fails its read. Both answer 408 as a problem
//! document; the event feed's long poll gets its longest wait on top. The connection-level limits (header read, idle keep-alive, connection count)
//! are the server's, in the app crate.

use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tower_http::timeout::RequestBodyTimeoutLayer;

use crate::problem::ApiError;

/// `router` with a deadline on each request and on each wait for the next piece of a body.
pub fn with_timeouts(router: Router, request_timeout: Duration, body_timeout: Duration) -> Router {
    router.layer(RequestBodyTimeoutLayer::new(body_timeout)).layer(axum::middleware::from_fn(
        move |request: Request, next: Next| async move {
            // A long poll of the event feed may wait its longest on top of the usual time.
            let limit = if request.uri().path() == crate::events::EVENTS_PATH {
                request_timeout + accountd_domain::MAX_WAIT
            } else {
                request_timeout
            };
            match tokio::time::timeout(limit, next.run(request)).await {
                Ok(response) => response,
                Err(_) => timed_out(limit),
            }
        },
    ))
}

fn timed_out(after: Duration) -> Response {
    tracing::info!(timeout = ?after, "request timed out");
    ApiError::timed_out(format!("the request did not complete within {after:?}")).into_response()
}
