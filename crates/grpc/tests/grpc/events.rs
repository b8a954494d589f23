//! `accountd.v1.EventService/Watch` over a real connection: a stream of every change in
//! commit order, resumable from any cursor it sent, with heartbeats, and its refusals.

use std::time::Duration;

use accountd_domain::{EventCursor, FeedPosition};
use accountd_grpc::pb::event_service_client::EventServiceClient;
use accountd_grpc::pb::{WatchRequest, WatchResponse, watch_response::Kind};
use tonic::Code;

use crate::{
    Authed, Credential, TestServer, create_account, create_user, issue_token, put_member, spawn_server, violated_fields,
};

fn client(server: &TestServer, secret: &str) -> EventServiceClient<Authed> {
    EventServiceClient::with_interceptor(server.channel.clone(), Credential::bearer(secret))
}

async fn next(stream: &mut tonic::Streaming<WatchResponse>) -> Kind {
    tokio::time::timeout(Duration::from_secs(10), stream.message())
        .await
        .expect("a message in time")
        .expect("no error")
        .expect("the stream goes on")
        .kind
        .expect("a kind")
}

/// Reads until an event (skipping heartbeats): its action, resource id and cursor.
async fn next_event(stream: &mut tonic::Streaming<WatchResponse>) -> (String, String, String) {
    loop {
        if let Kind::Event(e) = next(stream).await {
            let event = e.event.expect("event");
            return (event.action_type, event.resource_id, e.cursor);
        }
    }
}

#[tokio::test]
async fn watch_streams_changes_as_they_commit_and_resumes_from_a_cursor() {
    let server = spawn_server().await;
    let a = create_account(&server, "Watched A").await;
    let request =
        WatchRequest { types: vec!["account.create".into()], heartbeat_seconds: Some(1), ..Default::default() };
    let mut stream = client(&server, &server.root_token).watch(request.clone()).await.expect("watch").into_inner();
    let (action, id, _) = next_event(&mut stream).await;
    assert_eq!((action.as_str(), id.as_str()), ("account.create", a.id.as_str()));
    // Idle: a heartbeat with a cursor arrives.
    let Kind::Heartbeat(beat) = next(&mut stream).await else { panic!("a heartbeat while idle") };
    assert!(!beat.cursor.is_empty() && beat.at.is_some());
    let b = create_account(&server, "Watched B").await;
    let (_, id, cursor_b) = next_event(&mut stream).await;
    assert_eq!(id, b.id, "the new change arrives on the open stream");
    drop(stream);

    let c = create_account(&server, "Watched C").await;
    let resumed = WatchRequest { after: cursor_b, ..request };
    let mut stream = client(&server, &server.root_token).watch(resumed).await.expect("watch").into_inner();
    let (_, id, _) = next_event(&mut stream).await;
    assert_eq!(id, c.id, "resumed right after the cursor: nothing repeated, nothing skipped");
}

#[tokio::test]
async fn watch_refuses_bad_requests_expired_cursors_and_other_tenants_accounts() {
    let server = spawn_server().await;
    let mut root = client(&server, &server.root_token);
    let bad = WatchRequest { after: "nope".into(), types: vec!["BAD".into()], ..Default::default() };
    let status = root.watch(bad).await.expect_err("invalid");
    assert_eq!(status.code(), Code::InvalidArgument);
    let mut fields = violated_fields(&status);
    fields.sort();
    assert_eq!(fields, ["after", "types"]);
    let beat = root.watch(WatchRequest { heartbeat_seconds: Some(61), ..Default::default() }).await;
    assert_eq!(violated_fields(&beat.expect_err("out of range")), ["heartbeat_seconds"]);

    let old = EventCursor { position: FeedPosition::START, as_of: chrono::Utc::now() - chrono::Duration::days(31) };
    let gone = root.watch(WatchRequest { after: old.encode(), ..Default::default() }).await.expect_err("gone");
    assert_eq!(gone.code(), Code::OutOfRange, "{gone:?}");

    let mine = create_account(&server, "Mine").await;
    let theirs = create_account(&server, "Theirs").await;
    let ada = create_user(&server, "ada@example.com").await;
    put_member(&server, &mine.id, &ada.id, "administrator").await;
    let (_, secret) = issue_token(&server, &mine.id, &ada.id).await;
    let other = WatchRequest { account_id: theirs.id.clone(), ..Default::default() };
    let status = client(&server, &secret).watch(other).await.expect_err("another tenant's");
    assert_eq!(status.code(), Code::NotFound);
    let mut own = client(&server, &secret).watch(WatchRequest::default()).await.expect("own").into_inner();
    let (_, id, _) = next_event(&mut own).await;
    assert_eq!(id, mine.id, "the first event ada may see is its account's creation, never another tenant's");
}
