//! `accountd.v1.EventService/Watch`: the event feed as a server stream, with heartbeats.

use std::collections::VecDeque;
use std::pin::Pin;

use accountd_domain::{
    EventCursor, EventQuery, EventQueryInput, EventService, FieldError, Principal, Services, ValidationErrors,
};
use futures::Stream;
use tonic::{Request, Response, Status};

use crate::caller::caller;
use crate::convert::{non_empty, timestamp};
use crate::pb;
use crate::status::to_status;

/// Seconds between heartbeats when the client does not say.
const DEFAULT_HEARTBEAT_SECS: i32 = 15;

/// Events per read of the feed while streaming.
const BATCH: i64 = 100;

/// The tonic service over [`accountd_domain::EventService`].
#[derive(Debug, Clone)]
pub struct EventsApi {
    services: Services,
}

impl EventsApi {
    pub fn new(services: Services) -> Self {
        Self { services }
    }
}

/// What a stream carries from one read of the feed to the next.
struct Follower {
    events: EventService,
    caller: Principal,
    query: EventQuery,
    pending: VecDeque<pb::WatchResponse>,
    failed: bool,
}

impl Follower {
    /// The page's events, or a heartbeat when it has none, queued to send; the next read
    /// starts at its `next_cursor`.
    fn queue(&mut self, page: accountd_domain::EventPage) {
        self.query.after = Some(page.next_cursor);
        if page.events.is_empty() {
            self.pending.push_back(heartbeat(page.next_cursor));
        }
        for (cursor, event) in &page.events {
            let event = pb::FeedEvent { event: Some(pb::AuditEvent::from(event)), cursor: cursor.encode() };
            self.pending.push_back(pb::WatchResponse { kind: Some(pb::watch_response::Kind::Event(event)) });
        }
    }

    async fn next(mut self) -> Option<(Result<pb::WatchResponse, Status>, Self)> {
        loop {
            if let Some(item) = self.pending.pop_front() {
                return Some((Ok(item), self));
            }
            if self.failed {
                return None;
            }
            match self.events.list(&self.caller, self.query.clone()).await {
                Ok(page) => self.queue(page),
                Err(error) => {
                    self.failed = true;
                    return Some((Err(to_status(error)), self));
                }
            }
        }
    }
}

fn heartbeat(cursor: EventCursor) -> pb::WatchResponse {
    let beat = pb::Heartbeat { cursor: cursor.encode(), at: Some(timestamp(chrono::Utc::now())) };
    pb::WatchResponse { kind: Some(pb::watch_response::Kind::Heartbeat(beat)) }
}

#[tonic::async_trait]
impl pb::event_service_server::EventService for EventsApi {
    type WatchStream = Pin<Box<dyn Stream<Item = Result<pb::WatchResponse, Status>> + Send>>;

    async fn watch(&self, request: Request<pb::WatchRequest>) -> Result<Response<Self::WatchStream>, Status> {
        let caller = caller(&request, &self.services.authenticator).await?;
        let r = request.into_inner();
        let heartbeat_secs = match r.heartbeat_seconds {
            None | Some(0) => DEFAULT_HEARTBEAT_SECS,
            Some(n @ 1..=60) => n,
            Some(_) => {
                let field = FieldError::new("heartbeat_seconds", "out_of_range", "must be between 1 and 60");
                return Err(to_status(ValidationErrors::from(field)));
            }
        };
        let query = EventQueryInput {
            after: non_empty(r.after),
            account_id: non_empty(r.account_id),
            types: r.types,
            limit: Some(BATCH),
            wait: None,
        }
        .validate()
        .map_err(to_status)?;
        let events = self.services.events.clone();
        // The first read answers at once, so a refusal (unknown account, expired cursor)
        // is the call's status rather than a stream that fails.
        let first = events.list(&caller, query.clone()).await.map_err(to_status)?;
        let mut follower = Follower {
            events,
            caller,
            query: EventQuery { wait: std::time::Duration::from_secs(heartbeat_secs as u64), ..query },
            pending: VecDeque::new(),
            failed: false,
        };
        follower.queue(first);
        Ok(Response::new(Box::pin(futures::stream::unfold(follower, Follower::next))))
    }
}
