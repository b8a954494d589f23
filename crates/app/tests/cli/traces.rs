//! OpenTelemetry traces end to end (issue 14, item 5): `accountd serve` with
//! `OTEL_EXPORTER_OTLP_ENDPOINT` pointing at an OTLP/gRPC receiver in this test exports, for
//! one REST request and one gRPC call that each carry a W3C `traceparent`, the span tree
//! request → domain operation → one span per database statement, in the caller's trace;
//! and the JSON logs carry the trace id.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use accountd_grpc::pb::GetAccountRequest;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{TraceService, TraceServiceServer};
use opentelemetry_proto::tonic::collector::trace::v1::{ExportTraceServiceRequest, ExportTraceServiceResponse};
use opentelemetry_proto::tonic::common::v1::any_value::Value as AnyValue;
use opentelemetry_proto::tonic::trace::v1::Span;
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use serde_json::json;

use super::{bootstrap, start_configured, stop};

/// Everything the receiver was sent: the spans, and each batch's `service.name`.
#[derive(Clone, Default)]
struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
    services: Arc<Mutex<Vec<String>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        for batch in request.into_inner().resource_spans {
            let service = batch
                .resource
                .iter()
                .flat_map(|r| &r.attributes)
                .find(|a| a.key == "service.name")
                .and_then(|a| text(a.value.as_ref().and_then(|v| v.value.as_ref())));
            self.services.lock().expect("services").extend(service);
            for scope in batch.scope_spans {
                self.spans.lock().expect("spans").extend(scope.spans);
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse { partial_success: None }))
    }
}

fn text(value: Option<&AnyValue>) -> Option<String> {
    match value {
        Some(AnyValue::StringValue(s)) => Some(s.clone()),
        _ => None,
    }
}

fn attribute(span: &Span, key: &str) -> Option<String> {
    span.attributes.iter().find(|a| a.key == key).and_then(|a| text(a.value.as_ref().and_then(|v| v.value.as_ref())))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The spans of trace `trace_id` received so far.
fn trace(receiver: &Receiver, trace_id: &str) -> Vec<Span> {
    receiver.spans.lock().expect("spans").iter().filter(|s| hex(&s.trace_id) == trace_id).cloned().collect()
}

/// Waits until trace `trace_id` has its request span, its operation span `operation` and a
/// statement span, and returns (request, operation, statements).
async fn wait_for_tree(receiver: &Receiver, trace_id: &str, request: &str, operation: &str) -> (Span, Span, Vec<Span>) {
    let started = Instant::now();
    loop {
        let spans = trace(receiver, trace_id);
        let named = |name: &str| spans.iter().filter(|s| s.name == name).cloned().collect::<Vec<_>>();
        let statements: Vec<Span> = spans.iter().filter(|s| s.kind == SpanKind::Client as i32).cloned().collect();
        if let ([request_span], [operation_span]) = (&named(request)[..], &named(operation)[..])
            && !statements.is_empty()
        {
            // Every span of the trace hangs off the request span.
            for span in &spans {
                let mut at = span.clone();
                let mut steps = 0;
                while at.span_id != request_span.span_id {
                    at = spans
                        .iter()
                        .find(|s| s.span_id == at.parent_span_id)
                        .unwrap_or_else(|| panic!("{} is outside the request's tree", span.name))
                        .clone();
                    steps += 1;
                    assert!(steps < 10, "a loop in the span tree");
                }
            }
            return (request_span.clone(), operation_span.clone(), statements);
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "trace {trace_id} incomplete: {:?}; all received: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>(),
            receiver
                .spans
                .lock()
                .expect("spans")
                .iter()
                .map(|s| (hex(&s.trace_id), s.name.clone()))
                .collect::<Vec<_>>()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_request_and_one_call_are_each_a_span_tree_in_the_callers_trace() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let endpoint = format!("http://{}", listener.local_addr().expect("addr"));
    let receiver = Receiver::default();
    let server = tonic::transport::Server::builder()
        .add_service(TraceServiceServer::new(receiver.clone()))
        .serve_with_incoming(tonic::transport::server::TcpIncoming::from(listener));
    tokio::spawn(server);

    let dir = tempfile::tempdir().expect("temp dir");
    let (token, _) = bootstrap(dir.path(), &[]);
    let env = [
        ("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint.as_str()),
        ("OTEL_BSP_SCHEDULE_DELAY", "100"),
        ("ACCOUNTD_LOG_FORMAT", "json"),
    ];
    let running = start_configured(dir.path(), &[], "info,tower_http=debug", &env);

    // REST: a creation, in the caller's trace.
    let rest_trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let caller_span = "00f067aa0ba902b7";
    let created = reqwest::Client::new()
        .post(format!("http://{}/v1/accounts", running.http))
        .bearer_auth(&token)
        .header("traceparent", format!("00-{rest_trace}-{caller_span}-01"))
        .json(&json!({"name": "Traced"}))
        .send()
        .await
        .expect("post");
    assert_eq!(created.status(), 201);
    let id = created.json::<serde_json::Value>().await.expect("json")["id"].as_str().expect("id").to_owned();

    // gRPC: a read, in another trace.
    let grpc_trace = "0af7651916cd43dd8448eb211c80319c";
    let mut grpc = AccountServiceClient::connect(format!("http://{}", running.grpc)).await.expect("connect");
    let mut request = tonic::Request::new(GetAccountRequest { account_id: id.clone() });
    request.metadata_mut().insert("authorization", format!("Bearer {token}").parse().expect("metadata"));
    request.metadata_mut().insert("traceparent", format!("00-{grpc_trace}-b7ad6b7169203331-01").parse().expect("tp"));
    grpc.get_account(request).await.expect("grpc get");

    let (http, create, statements) = wait_for_tree(&receiver, rest_trace, "http", "create").await;
    assert_eq!(hex(&http.parent_span_id), caller_span, "the request span continues the caller's span");
    assert_eq!(create.parent_span_id, http.span_id, "the operation runs in the request");
    assert_eq!(attribute(&http, "method").as_deref(), Some("POST"));
    // The token is checked in the request, before the operation; the writes run in the operation.
    let text_of = |s: &Span| attribute(s, "db.query.text").unwrap_or_default();
    let writes: Vec<&Span> = statements.iter().filter(|s| text_of(s).starts_with("INSERT INTO")).collect();
    let written: Vec<String> = writes.iter().map(|s| text_of(s)).collect();
    assert!(written.iter().any(|t| t.starts_with("INSERT INTO accounts")), "{written:?}");
    assert!(written.iter().any(|t| t.starts_with("INSERT INTO audit_events")), "{written:?}");
    assert!(writes.iter().all(|s| s.parent_span_id == create.span_id), "the writes run in the operation");
    let lookup = statements.iter().find(|s| text_of(s).contains("FROM tokens")).expect("the token lookup");
    assert_eq!(lookup.parent_span_id, http.span_id, "the token is checked before the operation");
    for statement in &statements {
        assert_eq!(attribute(statement, "db.system.name").as_deref(), Some("sqlite"));
        assert!(statement.start_time_unix_nano <= statement.end_time_unix_nano);
        assert!(
            statement.start_time_unix_nano >= http.start_time_unix_nano
                && statement.end_time_unix_nano <= http.end_time_unix_nano,
            "a statement lies within its request"
        );
    }

    let (call, get, reads) = wait_for_tree(&receiver, grpc_trace, "grpc", "get").await;
    assert_eq!(hex(&call.parent_span_id), "b7ad6b7169203331");
    assert_eq!(get.parent_span_id, call.span_id);
    assert!(reads.iter().any(|s| attribute(s, "db.query.text").is_some_and(|t| t.contains("FROM accounts"))));
    assert!(receiver.services.lock().expect("services").iter().all(|s| s == "accountd"));

    // The JSON log lines written inside the request carry its trace id.
    let log = running.log.lock().expect("log").clone();
    let traced: Vec<&String> = log.iter().filter(|l| l.contains(&format!("\"trace_id\":\"{rest_trace}\""))).collect();
    assert!(!traced.is_empty(), "no log line with the trace id:\n{}", log.join("\n"));
    for line in traced {
        serde_json::from_str::<serde_json::Value>(line).unwrap_or_else(|e| panic!("{e}: {line}"));
    }
    stop(running).await;
}
