//! Free text with a NUL byte or another control character: every store answers the same
//! 422 naming the field, and nothing is written (issue 16, item 9).

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::{BACKENDS, create_user, spawn_app_on, trail};

#[tokio::test]
async fn control_characters_in_free_text_answer_422_with_the_field_on_both_stores() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let account = app.create_account("Acme").await["id"].as_str().expect("id").to_owned();
        let user = create_user(&app, "ada@example.com").await;
        let domain =
            app.post("/v1/domains", &json!({"name": "mail.example.com", "status": "active"}).to_string()).await;
        assert_eq!(domain.status, StatusCode::CREATED, "{}", domain.text);
        let before = trail(&app.store, &account).await;
        let nul = "bad\u{0}value";
        let cases: Vec<(Method, String, Value, &str)> = vec![
            (Method::POST, "/v1/accounts".into(), json!({"name": nul}), "name"),
            (Method::PATCH, format!("/v1/accounts/{account}"), json!({"name": "x\u{7}y"}), "name"),
            (Method::POST, "/v1/users".into(), json!({"email": "b@example.com", "first_name": nul}), "first_name"),
            (
                Method::POST,
                "/v1/users".into(),
                json!({"email": "c@example.com", "last_name": "e\u{1b}[0m"}),
                "last_name",
            ),
            (Method::PATCH, format!("/v1/users/{user}"), json!({"first_name": nul}), "first_name"),
            (
                Method::POST,
                format!("/v1/accounts/{account}/users"),
                json!({"email_address": "d@example.com", "first_name": "D", "last_name": nul}),
                "last_name",
            ),
            (Method::PUT, format!("/v1/accounts/{account}/profile"), json!({"business_name": nul}), "business_name"),
            (
                Method::PUT,
                format!("/v1/accounts/{account}/profile"),
                json!({"business_address": "1 Main St\n\u{0}"}),
                "business_address",
            ),
            (
                Method::PUT,
                format!("/v1/accounts/{account}/profile"),
                json!({"business_phone": "+1\u{0}5"}),
                "business_phone",
            ),
            (
                Method::PUT,
                format!("/v1/accounts/{account}/profile"),
                json!({"external_metadata": "{\"k\":\"v\u{0}\"}"}),
                "external_metadata",
            ),
            (
                Method::POST,
                format!("/v1/accounts/{account}/subscriptions"),
                json!({"rate_plan": "pro\u{0}"}),
                "rate_plan",
            ),
            (Method::POST, format!("/v1/accounts/{account}/tokens"), json!({"name": nul}), "name"),
            (Method::POST, format!("/v1/users/{user}/tokens"), json!({"name": nul}), "name"),
            (
                Method::POST,
                format!("/v1/accounts/{account}/aliases"),
                json!({"local_part": "info", "domain": "mail.example.com", "display_name": nul}),
                "display_name",
            ),
        ];
        for (method, uri, body, field) in cases {
            let reply = app.send(method.clone(), &uri, Some(&body.to_string()), &[]).await;
            assert_eq!(
                reply.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{backend:?} {method} {uri} {body}: {}",
                reply.text
            );
            assert_eq!(reply.error_fields(), [field], "{backend:?} {method} {uri}: {}", reply.text);
            assert_eq!(trail(&app.store, &account).await, before, "{backend:?} {method} {uri} stored something");
        }
        for filter in ["action_type", "resource_type", "resource_id", "actor_id"] {
            let reply = app.get(&format!("/v1/accounts/{account}/logs/audit?{filter}=a%00b")).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?} {filter}: {}", reply.text);
            assert_eq!(reply.error_fields(), [filter], "{backend:?}: {}", reply.text);
        }
        // Every other query parameter is parsed into a value type, so a NUL is a 422 too.
        for (uri, field) in [
            ("/v1/accounts?parent_id=a%00b".to_owned(), "parent_id"),
            ("/v1/accounts?page_token=a%00b".to_owned(), "page_token"),
            (format!("/v1/accounts/{account}/aliases?user_id=a%00b"), "user_id"),
            ("/v1/aliases?domain=mail%00.example.com".to_owned(), "domain"),
            (format!("/v1/accounts/{account}/logs/audit?cursor=a%00b"), "cursor"),
        ] {
            let reply = app.get(&uri).await;
            assert_eq!(reply.status, StatusCode::UNPROCESSABLE_ENTITY, "{backend:?} {uri}: {}", reply.text);
            assert_eq!(reply.error_fields(), [field], "{backend:?} {uri}: {}", reply.text);
        }
        let profile = app.get(&format!("/v1/accounts/{account}/profile")).await;
        assert_eq!(profile.body["business_name"], Value::Null, "{backend:?}: {}", profile.text);
        let subscriptions = app.get(&format!("/v1/accounts/{account}/subscriptions")).await;
        assert_eq!(subscriptions.body["subscriptions"], json!([]), "{backend:?}");
    }
}

#[tokio::test]
async fn line_breaks_stay_allowed_where_text_is_free_form() {
    for backend in BACKENDS {
        let app = spawn_app_on(backend).await;
        let account = app.create_account("Acme").await["id"].as_str().expect("id").to_owned();
        let body =
            json!({"business_address": "1 Main St\r\n\tSpringfield", "external_metadata": "{\"k\": \"\\u0000\"}"});
        let reply =
            app.send(Method::PUT, &format!("/v1/accounts/{account}/profile"), Some(&body.to_string()), &[]).await;
        assert_eq!(reply.status, StatusCode::OK, "{backend:?}: {}", reply.text);
        let profile = app.get(&format!("/v1/accounts/{account}/profile")).await.body;
        assert_eq!(profile["business_address"], "1 Main St\r\n\tSpringfield", "{backend:?}");
        // An escaped NUL inside a product's JSON is six characters of text, not a NUL byte.
        assert_eq!(profile["external_metadata"], "{\"k\": \"\\u0000\"}", "{backend:?}");
    }
}
