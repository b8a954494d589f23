//! The API description, the docs UI and the probes.

use axum::http::{Method, StatusCode};

use serde_json::{Value, json};

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
    let schemas = &reply.body["components"]["schemas"];
    assert_eq!(schemas["RoleName"]["enum"], json!(["owner", "administrator", "member", "billing", "viewer"]));
    assert_eq!(schemas["TokenStatusSchema"]["enum"], json!(["active", "disabled"]), "expired is not settable");
    assert_eq!(schemas["FrequencySchema"]["enum"], json!(["weekly", "monthly", "quarterly", "yearly"]));
    let permissions = schemas["PermissionName"]["enum"].as_array().expect("permissions");
    assert_eq!(permissions.len(), accountd_domain::Permission::ALL.len());
    let create = &schemas["CreateAccountRequest"];
    assert_eq!(create["required"], json!(["name"]));
    assert_eq!(create["properties"]["parent_id"]["format"], "uuid");
    assert_eq!(
        schemas["PolicyBody"]["properties"]["permission_groups"]["items"]["$ref"],
        "#/components/schemas/PermissionName"
    );
}

/// The official OpenAPI 3.1 schema (OAI, Apache-2.0; the 2022-10-07 `schema.json`),
/// vendored so the test needs no network.
const OPENAPI_3_1_SCHEMA: &str = include_str!("../fixtures/openapi-3.1-schema.json");

/// Every operation of the document as `(METHOD path, operation)`.
fn operations(document: &Value) -> Vec<(String, &Value)> {
    let mut all = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("path item") {
            all.push((format!("{} {path}", method.to_uppercase()), operation));
        }
    }
    all
}

/// A response object, following a `$ref` into `components.responses`.
fn resolve<'d>(document: &'d Value, response: &'d Value) -> &'d Value {
    match response["$ref"].as_str().and_then(|r| r.strip_prefix("#/components/responses/")) {
        Some(name) => &document["components"]["responses"][name],
        None => response,
    }
}

#[tokio::test]
async fn the_openapi_document_validates_against_the_openapi_3_1_schema() {
    let app = spawn_app().await;
    let document = app.get("/openapi.json").await.body;
    let schema: Value = serde_json::from_str(OPENAPI_3_1_SCHEMA).expect("the vendored schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("the OpenAPI 3.1 schema compiles");
    let errors: Vec<String> = validator.iter_errors(&document).map(|e| format!("{}: {e}", e.instance_path())).collect();
    assert!(errors.is_empty(), "{} violations:\n{}", errors.len(), errors.join("\n"));
    for (name, schema) in document["components"]["schemas"].as_object().expect("schemas") {
        assert!(jsonschema::meta::validate(schema).is_ok(), "{name} is not a valid JSON Schema");
    }
}

#[tokio::test]
async fn every_operation_documents_its_error_answers_with_the_problem_schema() {
    let app = spawn_app().await;
    let document = app.get("/openapi.json").await.body;
    let problem = json!({"$ref": "#/components/schemas/Problem"});
    let public = ["GET /healthz", "GET /readyz"];
    for (name, operation) in operations(&document) {
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            let response = resolve(&document, response);
            assert!(response["description"].as_str().is_some_and(|d| !d.is_empty()), "{name} {status}: description");
            if status.starts_with(['4', '5']) {
                assert_eq!(response["content"]["application/problem+json"]["schema"], problem, "{name} {status}");
            }
        }
        let has = |status: &str| responses.contains_key(status);
        if !public.contains(&name.as_str()) {
            assert!(has("401") && has("403") && has("503"), "{name}: 401, 403, 503");
        }
        // The probes' own 503 is an answer, not a refusal to retry.
        for status in ["429", "503"].into_iter().filter(|s| has(s) && !public.contains(&name.as_str())) {
            let response = resolve(&document, &responses[status]);
            assert_eq!(response["headers"]["Retry-After"]["schema"]["type"], "integer", "{name} {status}");
        }
        if name.contains('{') {
            assert!(has("404") && has("422"), "{name}: 404, 422");
        }
        if operation.get("requestBody").is_some() {
            assert!(has("400") && has("415") && has("422"), "{name}: 400, 415, 422");
        }
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        if parameters.iter().any(|p| p["in"] == "query") {
            assert!(has("400"), "{name}: 400 for an unreadable query string");
        }
        if parameters.iter().any(|p| p["name"] == "If-Match") {
            assert!(has("412"), "{name}: 412");
        }
        for parameter in parameters.iter().filter(|p| p["in"] == "header") {
            assert_eq!(parameter["schema"]["type"], "string", "{name}: {}", parameter["name"]);
            if parameter["name"] == "Idempotency-Key" {
                assert_eq!(parameter["schema"]["maxLength"], 255, "{name}");
            }
        }
        for parameter in parameters.iter().filter(|p| p["in"] == "path") {
            let id = parameter["name"].as_str().expect("name");
            if id.ends_with("_id") && id != "role_id" {
                assert_eq!(parameter["schema"]["format"], "uuid", "{name}: {id}");
            }
        }
    }
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

/// The schema a `$ref` (or an inline schema) stands for.
fn schema<'d>(document: &'d Value, schema: &'d Value) -> &'d Value {
    match schema["$ref"].as_str() {
        Some(reference) => {
            let name = reference.rsplit('/').next().expect("a schema name");
            &document["components"]["schemas"][name]
        }
        None => schema,
    }
}

/// Review of issue 16 (items 7 and 13): the document says what the server accepts and
/// answers — an update body with every field optional, an optional `factor_id`, the
/// `Idempotent-Replayed` header on creates, and 408 / 413 where they apply.
#[tokio::test]
async fn the_document_matches_what_the_server_accepts_and_answers() {
    let app = spawn_app().await;
    let document = app.get("/openapi.json").await.body;
    let paths = &document["paths"];
    let body = |path: &str, method: &str| {
        schema(&document, &paths[path][method]["requestBody"]["content"]["application/json"]["schema"]).clone()
    };
    let tokens = "/v1/accounts/{account_id}/tokens";
    assert_eq!(body(tokens, "post")["required"], json!(["name"]));
    let update = body("/v1/accounts/{account_id}/tokens/{token_id}", "put");
    assert!(update["required"].as_array().is_none_or(|r| r.is_empty()), "every update field is optional: {update}");
    assert!(update["properties"]["status"].is_object() && update["properties"]["name"].is_object(), "{update}");
    let activate = body("/v1/me/mfa/totp/activate", "post");
    assert_eq!(activate["required"], json!(["code"]), "{activate}");

    let mut creates = 0;
    for (name, operation) in operations(&document) {
        let responses = operation["responses"].as_object().expect("responses");
        assert!(responses.contains_key("408"), "{name}: 408");
        if operation.get("requestBody").is_some() {
            assert!(responses.contains_key("413"), "{name}: 413");
        }
        let parameters = operation["parameters"].as_array().cloned().unwrap_or_default();
        if parameters.iter().any(|p| p["name"] == "Idempotency-Key") {
            creates += 1;
            for (status, response) in responses.iter().filter(|(s, _)| s.starts_with('2')) {
                let header = &resolve(&document, response)["headers"]["Idempotent-Replayed"];
                assert_eq!(header["schema"]["type"], "string", "{name} {status}: {header}");
            }
        }
    }
    assert!(creates >= 10, "every POST create takes Idempotency-Key ({creates})");

    // The server does answer 413 (a problem) for a body past the limit.
    let huge = format!(r#"{{"name":"{}"}}"#, "x".repeat(3 * 1024 * 1024));
    let refused = app.send(Method::POST, "/v1/accounts", Some(&huge), &[]).await;
    assert_eq!(refused.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", refused.text);
    assert_eq!(refused.header("content-type"), "application/problem+json");
}
