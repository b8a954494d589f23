//! What the binary logs of a call, and which request id it keeps: client errors stay below
//! ERROR and server errors reach it, over REST and gRPC alike; an unsafe `x-request-id` is
//! replaced by a generated one in the answer, the log and the audit record.

use std::time::Duration;

use accountd_grpc::pb::account_service_client::AccountServiceClient;
use accountd_grpc::pb::subscription_service_client::SubscriptionServiceClient;
use accountd_grpc::pb::{CreateAccountRequest, GetAccountRequest, ListRatePlansRequest};
use serde_json::{Value, json};
use sqlx::Connection;
use tonic::Code;

use crate::{Running, bootstrap, start_logging, stop};

fn authed<T>(message: T, token: &str, request_id: Option<&str>) -> tonic::Request<T> {
    let mut request = tonic::Request::new(message);
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    if let Some(id) = request_id {
        request.metadata_mut().insert("x-request-id", id.parse().expect("metadata"));
    }
    request
}

/// The lines logged so far, once the server had a moment to write them.
async fn logged(running: &Running) -> Vec<String> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    running.log.lock().expect("log").clone()
}

#[tokio::test]
async fn client_errors_are_logged_at_debug_with_their_code_and_server_errors_at_error() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let running = start_logging(dir.path(), &[], "info,accountd_grpc=debug,tower_http=debug");
    let base = format!("http://{}", running.http);
    let http = reqwest::Client::new();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("grpc connect");
    let mut accounts = AccountServiceClient::new(channel.clone());

    // Client errors: 401 and 422 over REST; UNAUTHENTICATED, INVALID_ARGUMENT and
    // UNIMPLEMENTED (a made-up method) over gRPC.
    assert_eq!(http.get(format!("{base}/v1/accounts")).send().await.expect("get").status(), 401);
    let invalid = http.post(format!("{base}/v1/accounts")).bearer_auth(&token).json(&json!({"name": ""}));
    assert_eq!(invalid.send().await.expect("post").status(), 422);
    let unauthenticated = accounts.get_account(GetAccountRequest { account_id: "x".into() }).await;
    assert_eq!(unauthenticated.expect_err("no token").code(), Code::Unauthenticated);
    let invalid = accounts.get_account(authed(GetAccountRequest { account_id: String::new() }, &token, None)).await;
    assert_eq!(invalid.expect_err("no id").code(), Code::InvalidArgument);
    let mut raw = tonic::client::Grpc::new(channel.clone());
    raw.ready().await.expect("ready");
    let codec = tonic_prost::ProstCodec::<GetAccountRequest, GetAccountRequest>::default();
    let path = http::uri::PathAndQuery::from_static("/accountd.v1.NoSuchService/Nothing");
    let unimplemented = raw.unary(tonic::Request::new(GetAccountRequest::default()), path, codec).await;
    assert_eq!(unimplemented.expect_err("unknown method").code(), Code::Unimplemented);

    let lines = logged(&running).await;
    let errors: Vec<_> = lines.iter().filter(|l| l.contains(" ERROR ")).collect();
    assert!(errors.is_empty(), "client errors reached ERROR: {errors:#?}");
    for code in [Code::Unauthenticated, Code::InvalidArgument, Code::Unimplemented] {
        let wanted = format!("call refused code={}", code as i32);
        assert!(
            lines.iter().any(|l| l.contains(" DEBUG ") && l.contains(&wanted)),
            "no DEBUG line with {wanted}: {lines:#?}"
        );
    }
    for status in ["status=401", "status=422"] {
        assert!(lines.iter().any(|l| l.contains(" DEBUG ") && l.contains(status)), "REST {status}: {lines:#?}");
    }

    // A server error: the rate-plan table disappears under the running server.
    let mut db = sqlx::SqliteConnection::connect(&format!("sqlite://{}", dir.path().join("accountd.db").display()))
        .await
        .expect("open the database");
    sqlx::query("ALTER TABLE rate_plans RENAME TO rate_plans_gone").execute(&mut db).await.expect("rename");
    let failed = http.get(format!("{base}/v1/rate_plans")).bearer_auth(&token).send().await.expect("get");
    assert_eq!(failed.status(), 500);
    let mut subscriptions = SubscriptionServiceClient::new(channel);
    let failed = subscriptions.list_rate_plans(authed(ListRatePlansRequest::default(), &token, None)).await;
    assert_eq!(failed.expect_err("no table").code(), Code::Internal);
    let lines = logged(&running).await;
    let internal = format!("call failed code={}", Code::Internal as i32);
    assert!(lines.iter().any(|l| l.contains(" ERROR ") && l.contains(&internal)), "gRPC INTERNAL: {lines:#?}");
    assert!(
        lines.iter().any(|l| l.contains(" ERROR ") && l.contains("tower_http") && l.contains("500")),
        "REST 500: {lines:#?}"
    );
    stop(running).await;
}

/// The audit records of `account_id`, newest first, as REST lists them.
async fn audit_request_ids(base: &str, token: &str, account_id: &str) -> Vec<String> {
    let reply = reqwest::Client::new()
        .get(format!("{base}/v1/accounts/{account_id}/logs/audit"))
        .bearer_auth(token)
        .send()
        .await
        .expect("audit");
    assert_eq!(reply.status(), 200);
    let body: Value = reply.json().await.expect("json");
    let events = body["events"].as_array().expect("events");
    events.iter().map(|e| e["request"]["request_id"].as_str().unwrap_or("").to_owned()).collect()
}

#[tokio::test]
async fn an_unsafe_request_id_is_replaced_and_a_safe_one_kept_over_both_apis() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let running = start_logging(dir.path(), &[], "info,accountd_grpc=debug,tower_http=debug");
    let base = format!("http://{}", running.http);
    let long = "y".repeat(5000);
    let mut accounts = AccountServiceClient::connect(format!("http://{}", running.grpc)).await.expect("grpc connect");

    for (sent, kept) in [("trace-me.1:a_b", true), (long.as_str(), false), ("\"quoted\" \\ id", false)] {
        // REST.
        let reply = reqwest::Client::new()
            .post(format!("{base}/v1/accounts"))
            .bearer_auth(&token)
            .header("x-request-id", sent)
            .json(&json!({"name": "Traced"}))
            .send()
            .await
            .expect("post");
        assert_eq!(reply.status(), 201);
        let echoed = reply.headers()["x-request-id"].to_str().expect("ascii").to_owned();
        let body: Value = reply.json().await.expect("json");
        assert_eq!(echoed == sent, kept, "REST echoed {echoed:.40}");
        if !kept {
            assert_eq!(echoed.len(), 36, "a generated uuid: {echoed}");
        }
        let audited = audit_request_ids(&base, &token, body["id"].as_str().expect("id")).await;
        assert_eq!(audited, std::slice::from_ref(&echoed), "REST audit record");

        // gRPC.
        let reply = accounts
            .create_account(authed(
                CreateAccountRequest { name: "Traced".into(), ..Default::default() },
                &token,
                Some(sent),
            ))
            .await
            .expect("grpc create");
        let echoed = reply.metadata().get("x-request-id").expect("echoed").to_str().expect("ascii").to_owned();
        assert_eq!(echoed == sent, kept, "gRPC echoed {echoed:.40}");
        if !kept {
            assert_eq!(echoed.len(), 36, "a generated uuid: {echoed}");
        }
        let id = reply.into_inner().account.expect("account").id;
        assert_eq!(audit_request_ids(&base, &token, &id).await, [echoed], "gRPC audit record");
    }
    let lines = logged(&running).await;
    assert!(!lines.iter().any(|l| l.contains("yyyyyyyy") || l.contains("quoted")), "an unsafe id reached the log");
    assert!(lines.iter().any(|l| l.contains(r#"request_id="trace-me.1:a_b""#)), "a safe id is logged: {lines:#?}");
    stop(running).await;
}

/// A token presented to the decision API (issue 12) is never logged, at any level, over
/// either protocol: neither one it answers (the bootstrap token as a subject) nor one it
/// refuses (an unknown or a malformed secret).
#[tokio::test]
async fn a_token_presented_for_a_decision_never_reaches_the_log() {
    use accountd_grpc::pb::authorization_service_client::AuthorizationServiceClient;
    use accountd_grpc::pb::{AuthorizationCheck, CheckRequest};

    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let running = start_logging(dir.path(), &[], "trace");
    let base = format!("http://{}", running.http);
    let http = reqwest::Client::new();
    let unknown = accountd_domain::TokenSecret::generate().expose().to_owned();
    let malformed = "acd_malformed_but_still_a_secret_1234567890".to_owned();
    let account = http
        .post(format!("{base}/v1/accounts"))
        .bearer_auth(&token)
        .json(&json!({"name": "Acme"}))
        .send()
        .await
        .expect("create")
        .json::<Value>()
        .await
        .expect("json")["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let channel = tonic::transport::Endpoint::from_shared(format!("http://{}", running.grpc))
        .expect("uri")
        .connect()
        .await
        .expect("grpc connect");
    let mut authorization = AuthorizationServiceClient::new(channel);
    for presented in [&token, &unknown, &malformed] {
        let body = json!({"token": presented, "client_ip": "203.0.113.7",
            "checks": [{"account_id": account, "permission": "accounts:read"}]});
        let answer = http.post(format!("{base}/v1/authorize")).bearer_auth(&token).json(&body).send().await;
        assert_eq!(answer.expect("authorize").status(), 200);
        let request = CheckRequest {
            token: presented.clone(),
            checks: vec![AuthorizationCheck { account_id: account.clone(), permission: "accounts:read".into() }],
            ..Default::default()
        };
        authorization.check(authed(request, &token, None)).await.expect("check");
    }
    let lines = logged(&running).await;
    assert!(lines.len() > 10, "trace logging is on: {lines:#?}");
    for secret in [&token, &unknown, &malformed] {
        let leaked: Vec<_> = lines.iter().filter(|l| l.contains(secret.as_str())).collect();
        assert!(leaked.is_empty(), "a presented secret was logged: {leaked:#?}");
    }
    stop(running).await;
}
