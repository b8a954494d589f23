//! A database that cannot be reached answers 503 `service-unavailable` with `Retry-After`,
//! at once, rather than 500: whether the token lookup or the operation itself meets it.

use std::time::{Duration, Instant};

use accountd_domain::{AccountId, Principal, RequestInfo};
use accountd_rest::problem::ApiError;
use accountd_testkit::SqliteStore;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

use crate::TestApp;

/// The app over a SQLite store whose pool the test can close (the concrete store is kept
/// for that).
async fn app() -> (SqliteStore, TestApp) {
    let (store, fixture) = accountd_testkit::closable().await;
    (store, crate::app_over(fixture))
}

#[tokio::test]
async fn with_the_database_gone_requests_and_readyz_answer_503_at_once() {
    let (store, test_app) = app().await;
    let (app, token) = (test_app.router.clone(), test_app.root_token.clone());
    store.pool().close().await;

    let sent = Instant::now();
    let request = Request::get("/v1/accounts").header("authorization", format!("Bearer {token}")).body(Body::empty());
    let response = app.clone().oneshot(request.expect("request")).await.expect("infallible");
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "2");
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    let body: Value =
        serde_json::from_slice(&response.into_body().collect().await.expect("body").to_bytes()).expect("json");
    assert_eq!(body["type"], "urn:accountd:problem:service-unavailable");
    assert_eq!(body["status"], 503);
    assert!(sent.elapsed() < Duration::from_secs(1), "answered after {:?}", sent.elapsed());

    let sent = Instant::now();
    let readyz = app.oneshot(Request::get("/readyz").body(Body::empty()).expect("request")).await.expect("infallible");
    assert_eq!(readyz.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(sent.elapsed() < Duration::from_millis(1500), "readyz answered after {:?}", sent.elapsed());
}

#[tokio::test]
async fn an_operation_meeting_a_lost_database_is_503_not_500() {
    let (store, test_app) = app().await;
    store.pool().close().await;
    let error = test_app
        .services
        .accounts
        .get(&Principal::system(RequestInfo::default()), AccountId::from_uuid(uuid::Uuid::now_v7()))
        .await
        .expect_err("the store is closed");
    assert_eq!(ApiError::from(error).status(), StatusCode::SERVICE_UNAVAILABLE);
}
