//! The API description, the docs UI and the probes.

use axum::http::{Method, StatusCode};

use crate::spawn_app;

#[tokio::test]
async fn the_openapi_document_is_3_1_and_describes_every_account_operation() {
    let app = spawn_app().await;
    let reply = app.get("/openapi.json").await;
    assert_eq!(reply.status, StatusCode::OK);
    assert!(reply.body["openapi"].as_str().expect("version").starts_with("3.1"));
    let paths = &reply.body["paths"];
    for method in ["get", "post"] {
        assert!(paths["/v1/accounts"][method].is_object(), "{method} /v1/accounts");
    }
    for method in ["get", "patch", "delete"] {
        assert!(paths["/v1/accounts/{account_id}"][method].is_object(), "{method} /v1/accounts/{{account_id}}");
    }
    let types = &reply.body["components"]["schemas"]["AccountTypeSchema"]["enum"];
    assert_eq!(types, &serde_json::json!(["standard", "enterprise", "ad_account", "business_manager", "agency"]));
}

#[tokio::test]
async fn the_docs_ui_is_served_from_the_binary() {
    let app = spawn_app().await;
    let page = app.get("/docs/").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.text.contains("swagger-ui"), "{}", page.text);
    let script = app.get("/docs/swagger-ui-bundle.js").await;
    assert_eq!(script.status, StatusCode::OK, "assets must be vendored, not fetched from the internet");
    assert!(!script.text.contains("https://unpkg.com"), "the page must not load assets from a CDN");
}

#[tokio::test]
async fn the_probes_answer() {
    let app = spawn_app().await;
    for probe in ["/healthz", "/readyz", "/openapi.json", "/docs/"] {
        assert_eq!(app.send_raw(Method::GET, probe, None, &[]).await.status, StatusCode::OK, "{probe} needs no token");
    }
    let unknown = app.get("/v2/nothing").await;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(unknown.header("content-type"), "application/problem+json");
}
