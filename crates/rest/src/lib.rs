//! The REST adapter: an axum router over the domain services. Handlers turn JSON into
//! domain `*Input` values, call one service method, and turn the result back into JSON;
//! every error leaves through [`problem::ApiError`] as `application/problem+json`.

mod account_users;
mod accounts;
mod aliases;
mod audit;
mod authorize;
mod events;
mod extract;
mod health;
mod me;
mod members;
mod metrics;
mod mfa;
mod openapi;
pub mod problem;
pub mod request_id;
mod subscriptions;
mod timeouts;
mod tokens;
mod users;
mod views;

use accountd_domain::Services;
use axum::Router;
use axum::http::{HeaderName, Request};
use tower::util::MapRequestLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

pub use openapi::ApiDoc;
pub use timeouts::with_timeouts;

/// What handlers share: the domain's services (the store among them, for readiness).
#[derive(Clone, Debug)]
pub struct AppState {
    pub services: Services,
}

/// The request-id header: taken from the client when acceptable ([`request_id`]), generated
/// otherwise, echoed in the response and recorded in logs and audit events.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The whole REST API: `/v1/…`, health probes, `/openapi.json` and the docs UI at `/docs`.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .merge(accounts::routes())
        .merge(users::routes())
        .merge(me::routes())
        .merge(members::routes())
        .merge(tokens::routes())
        .merge(audit::routes())
        .merge(events::routes())
        .merge(authorize::routes())
        .merge(subscriptions::routes())
        .merge(aliases::routes())
        .merge(account_users::routes())
        .merge(mfa::routes())
        .merge(health::routes())
        .route_layer(axum::middleware::from_fn(metrics::track))
        .with_state(state);
    let docs: Router = SwaggerUi::new("/docs").url("/openapi.json", ApiDoc::openapi()).into();
    api.merge(docs)
        .fallback(problem::not_found_fallback)
        .method_not_allowed_fallback(problem::method_not_allowed_fallback)
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(TraceLayer::new_for_http().make_span_with(|request: &Request<_>| {
            let request_id = request.headers().get(REQUEST_ID).and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("http", method = %request.method(), uri = %request.uri().path(), request_id)
        }))
        .layer(SetRequestIdLayer::new(REQUEST_ID, MakeRequestUuid))
        .layer(MapRequestLayer::new(request_id::drop_unacceptable_request_id))
}
