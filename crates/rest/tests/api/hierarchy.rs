//! The account tree over REST: inherited rights, moves, and children listings.

use axum::http::{Method, StatusCode};
use serde_json::json;

use crate::{TestApp, spawn_app};

async fn create(app: &TestApp, name: &str, kind: &str, parent: Option<&str>) -> String {
    let reply = app.post("/v1/accounts", &json!({"name": name, "type": kind, "parent_id": parent}).to_string()).await;
    assert_eq!(reply.status, StatusCode::CREATED, "{}", reply.text);
    reply.body["id"].as_str().expect("id").to_owned()
}

/// A user administering `account`, and its token on it.
async fn administrator(app: &TestApp, account: &str, email: &str) -> String {
    let user =
        app.post("/v1/users", &json!({"email": email}).to_string()).await.body["id"].as_str().expect("id").to_owned();
    let put = app
        .send(
            Method::PUT,
            &format!("/v1/accounts/{account}/members/{user}"),
            Some(r#"{"roles":["administrator"]}"#),
            &[],
        )
        .await;
    assert_eq!(put.status, StatusCode::OK, "{}", put.text);
    let token =
        app.post(&format!("/v1/accounts/{account}/tokens"), &json!({"name": "t", "user_id": user}).to_string()).await;
    format!("Bearer {}", token.body["value"].as_str().expect("value"))
}

#[tokio::test]
async fn moving_a_business_manager_moves_its_ad_account_and_who_may_act_on_it() {
    let app = spawn_app().await;
    let first = create(&app, "First agency", "agency", None).await;
    let second = create(&app, "Second agency", "agency", None).await;
    let manager = create(&app, "Manager", "business_manager", Some(&first)).await;
    let ads = create(&app, "Ads", "ad_account", Some(&manager)).await;
    let first_admin = administrator(&app, &first, "first@example.com").await;
    let second_admin = administrator(&app, &second, "second@example.com").await;
    let ads_uri = format!("/v1/accounts/{ads}");
    let rename = |name: &'static str| json!({"name": name}).to_string();
    let call = |method: Method, uri: String, body: Option<String>, bearer: String| {
        let app = &app;
        async move { app.send_raw(method, &uri, body.as_deref(), &[("authorization", bearer.as_str())]).await }
    };
    assert_eq!(
        call(Method::PATCH, ads_uri.clone(), Some(rename("By first")), first_admin.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(call(Method::GET, ads_uri.clone(), None, second_admin.clone()).await.status, StatusCode::NOT_FOUND);

    // The second agency's administrator may not take the manager: it holds nothing on the old parent.
    let grab = call(
        Method::POST,
        format!("/v1/accounts/{manager}/move"),
        Some(json!({"parent_id": second}).to_string()),
        second_admin.clone(),
    )
    .await;
    assert_eq!(grab.status, StatusCode::NOT_FOUND, "{}", grab.text);
    let moved = app
        .send(
            Method::POST,
            &format!("/v1/accounts/{manager}/move"),
            Some(&json!({"parent_id": second}).to_string()),
            &[],
        )
        .await;
    assert_eq!(moved.status, StatusCode::OK, "{}", moved.text);
    assert_eq!(moved.body["hierarchy"], json!([second]));
    let ads_now = app.get(&ads_uri).await;
    assert_eq!(ads_now.body["hierarchy"], json!([second, manager]));
    assert_eq!(
        call(Method::PATCH, ads_uri.clone(), Some(rename("By second")), second_admin.clone()).await.status,
        StatusCode::OK
    );
    assert_eq!(
        call(Method::GET, ads_uri.clone(), None, first_admin.clone()).await.status,
        StatusCode::NOT_FOUND,
        "rights follow the move at once"
    );

    let before = app.get("/v1/accounts?page_size=100").await.body;
    let cycle = app
        .send(
            Method::POST,
            &format!("/v1/accounts/{second}/move"),
            Some(&json!({"parent_id": manager}).to_string()),
            &[],
        )
        .await;
    assert_eq!(cycle.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", cycle.text);
    assert_eq!(cycle.body["type"], "urn:accountd:problem:failed-precondition");
    assert_eq!(app.get("/v1/accounts?page_size=100").await.body, before, "a refused move changes nothing");

    let children = app.get(&format!("/v1/accounts?parent_id={second}")).await;
    let ids: Vec<&str> =
        children.body["accounts"].as_array().expect("accounts").iter().filter_map(|a| a["id"].as_str()).collect();
    assert_eq!(ids, [manager.as_str()]);
    let stale =
        app.send(Method::POST, &format!("/v1/accounts/{manager}/move"), Some("{}"), &[("if-match", "\"1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    let top = app.send(Method::POST, &format!("/v1/accounts/{manager}/move"), Some(r#"{"parent_id":null}"#), &[]).await;
    assert_eq!((top.status, top.body["parent_id"].clone()), (StatusCode::OK, json!(null)));
}

#[tokio::test]
async fn a_profile_is_read_replaced_and_validated() {
    let app = spawn_app().await;
    let a = create(&app, "Profiled", "standard", None).await;
    let uri = format!("/v1/accounts/{a}/profile");
    assert_eq!(
        app.get(&uri).await.body,
        json!({"business_name": null, "business_address": null, "business_email": null, "business_phone": null, "external_metadata": null})
    );
    let body = json!({"business_name": "Acme Ltd", "business_email": "billing@acme.example", "business_phone": "+1 555 0100", "external_metadata": "{\"crm\":42}"});
    let put = app.send(Method::PUT, &uri, Some(&body.to_string()), &[("if-match", "\"1\"")]).await;
    assert_eq!((put.status, put.header("etag")), (StatusCode::OK, "\"2\""), "{}", put.text);
    assert_eq!(app.get(&uri).await.body["business_email"], "billing@acme.example");
    let bad = app.send(Method::PUT, &uri, Some(r#"{"business_email":"nope","business_phone":"call me"}"#), &[]).await;
    assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(bad.error_fields(), ["business_email", "business_phone"]);
    let stale = app.send(Method::PUT, &uri, Some("{}"), &[("if-match", "\"1\"")]).await;
    assert_eq!(stale.status, StatusCode::PRECONDITION_FAILED);
    assert_eq!(app.get(&uri).await.body["business_name"], "Acme Ltd", "refusals change nothing");
}

#[tokio::test]
async fn billing_manages_subscriptions_and_the_state_machine_refuses_impossible_moves() {
    let app = spawn_app().await;
    let a = create(&app, "Paying", "standard", None).await;
    let plans = app.get("/v1/rate_plans").await;
    let listed = plans.body["rate_plans"].as_array().expect("an object holding the list, like every list");
    assert!(listed.iter().any(|p| p["id"] == "pro"), "{}", plans.text);
    let member = |role: &'static str| {
        let app = &app;
        let a = a.clone();
        async move {
            let email = format!("{role}@example.com");
            let user = app.post("/v1/users", &json!({"email": email}).to_string()).await.body["id"]
                .as_str()
                .expect("id")
                .to_owned();
            app.send(
                Method::PUT,
                &format!("/v1/accounts/{a}/members/{user}"),
                Some(&json!({"roles": [role]}).to_string()),
                &[],
            )
            .await;
            let token =
                app.post(&format!("/v1/accounts/{a}/tokens"), &json!({"name": "t", "user_id": user}).to_string()).await;
            format!("Bearer {}", token.body["value"].as_str().expect("value"))
        }
    };
    let billing = member("billing").await;
    let viewer = member("viewer").await;
    let uri = format!("/v1/accounts/{a}/subscriptions");
    let body = r#"{"rate_plan":"pro","frequency":"quarterly"}"#;
    let refused = app.send_raw(Method::POST, &uri, Some(body), &[("authorization", viewer.as_str())]).await;
    assert_eq!(refused.status, StatusCode::FORBIDDEN);
    let created = app.send_raw(Method::POST, &uri, Some(body), &[("authorization", billing.as_str())]).await;
    assert_eq!(created.status, StatusCode::CREATED, "{}", created.text);
    assert_eq!((created.body["state"].as_str(), created.body["price"].as_i64()), (Some("trial"), Some(5700)));
    let one = format!("{uri}/{}", created.body["id"].as_str().expect("id"));
    let put = |body: &'static str| {
        let app = &app;
        let (one, billing) = (one.clone(), billing.clone());
        async move { app.send_raw(Method::PUT, &one, Some(body), &[("authorization", billing.as_str())]).await }
    };
    assert_eq!(put(r#"{"state":"paid"}"#).await.status, StatusCode::OK);
    assert_eq!(put(r#"{"state":"cancelled"}"#).await.status, StatusCode::OK);
    let again = put(r#"{"state":"paid"}"#).await;
    assert_eq!(again.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", again.text);
    assert_eq!(again.body["type"], "urn:accountd:problem:failed-precondition");
    let bad = put(r#"{"state":"zombie","frequency":"daily"}"#).await;
    assert_eq!(bad.error_fields(), ["frequency", "state"]);
    let viewed = app.send_raw(Method::GET, &uri, None, &[("authorization", viewer.as_str())]).await;
    assert_eq!(viewed.body["subscriptions"][0]["state"], "cancelled", "viewers read subscriptions");
    let unknown = app.post(&uri, r#"{"rate_plan":"gold"}"#).await;
    assert_eq!(unknown.error_fields(), ["rate_plan"]);
}

#[tokio::test]
async fn a_subscription_names_its_rate_plan_by_id_or_by_seed_004s_object() {
    let app = spawn_app().await;
    let a = create(&app, "Paying", "standard", None).await;
    let uri = format!("/v1/accounts/{a}/subscriptions");
    let seed = app.post(&uri, r#"{"rate_plan":{"id":"pro"},"frequency":"monthly"}"#).await;
    assert_eq!(seed.status, StatusCode::CREATED, "{}", seed.text);
    assert_eq!(
        (seed.body["rate_plan"]["id"].as_str(), seed.body["frequency"].as_str()),
        (Some("pro"), Some("monthly"))
    );
    // The object a response carries may be sent back as it is.
    let echoed = json!({"rate_plan": seed.body["rate_plan"].clone(), "frequency": "yearly"}).to_string();
    let again = app.post(&uri, &echoed).await;
    assert_eq!((again.status, again.body["rate_plan"]["id"].as_str()), (StatusCode::CREATED, Some("pro")));
    let one = format!("{uri}/{}", seed.body["id"].as_str().expect("id"));
    let changed = app.send(Method::PUT, &one, Some(r#"{"rate_plan":{"id":"business"}}"#), &[]).await;
    assert_eq!((changed.status, changed.body["rate_plan"]["id"].as_str()), (StatusCode::OK, Some("business")));
    for bad in [r#"{"rate_plan":{"id":"gold"}}"#, r#"{"rate_plan":{"id":""}}"#] {
        let refused = app.post(&uri, bad).await;
        assert_eq!(
            (refused.status, refused.error_fields()),
            (StatusCode::UNPROCESSABLE_ENTITY, vec!["rate_plan"]),
            "{bad}"
        );
    }
    let shapeless = app.post(&uri, r#"{"rate_plan":{"name":"pro"}}"#).await;
    assert_eq!(shapeless.status, StatusCode::UNPROCESSABLE_ENTITY, "{}", shapeless.text);
    let listed = app.get(&uri).await;
    assert_eq!(listed.body["subscriptions"].as_array().map(Vec::len), Some(2), "refusals store nothing");
}
