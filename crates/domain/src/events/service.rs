//! Following the feed: [`EventService::list`] answers one page (waiting for new events when
//! asked to, a long poll), which REST `GET /v1/events` and gRPC `EventService/Watch` call.
//! Who sees what: the root permission `events:read` sees every event; any other caller the
//! events of accounts where it holds `audit:read` (inherited as usual), with the platform
//! shown as the audit listing shows it.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use crate::{
    AccountId, Clock, Denied, Deps, ErrorKind, EventCursor, EventPage, EventQuery, FeedEvent, FeedFilter, FeedPosition,
    HasErrorKind, IdGenerator, Permission, Placement, Principal, Store,
};

/// How long events stay in the feed when the operator does not say.
pub const DEFAULT_RETENTION: Duration = Duration::from_secs(30 * 24 * 3600);

/// The shortest retention an operator may set.
pub const MIN_RETENTION: Duration = Duration::from_secs(24 * 3600);

/// A cursor this close to the retention horizon is refused already: an event positioned
/// after it but stamped earlier (its transaction began before the cursor's event's) must
/// not fall out of the window unannounced.
const HORIZON_GRACE: chrono::Duration = chrono::Duration::hours(1);

/// How often a waiting follower looks again when no commit woke it (a wake-up lost with a
/// listener that has not noticed yet).
const FALLBACK_POLL: Duration = Duration::from_secs(1);

/// At most this many rows are scanned per read for a caller who sees only some accounts.
const FILTERED_SCAN: u32 = 1000;

/// At most this many reads in one call that finds only events the caller may not see.
const MOST_SCANS: usize = 20;

/// Why the feed could not be read.
#[derive(Debug, thiserror::Error)]
pub enum EventError {
    /// The account named does not exist for the caller.
    #[error("not found")]
    NotFound,
    /// The cursor is older than the feed's retention: what followed it may be gone.
    #[error("the cursor is older than the feed's retention of {retention_days} days: resynchronize and follow anew")]
    CursorExpired { retention_days: u64 },
    #[error(transparent)]
    Denied(Denied),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

operation_error_from!(EventError: access);

impl HasErrorKind for EventError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::CursorExpired { .. } => ErrorKind::Gone,
            Self::Denied(denied) => denied.kind(),
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Whose events a caller gets.
enum Scope {
    /// Every event the store returns (root `events:read`, or `audit:read` on the one
    /// account the query names).
    All,
    /// Events of accounts where the caller holds `audit:read`.
    Readable(Box<crate::Rights>),
}

/// The event feed.
#[derive(Clone)]
pub struct EventService {
    deps: Deps,
    retention: Duration,
}

impl std::fmt::Debug for EventService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EventService").field("retention", &self.retention).finish_non_exhaustive()
    }
}

impl EventService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids }, retention: DEFAULT_RETENTION }
    }

    /// The same service keeping events in the feed for `retention` (at least
    /// [`MIN_RETENTION`]; shorter is taken as that).
    pub fn with_retention(mut self, retention: Duration) -> Self {
        self.retention = retention.max(MIN_RETENTION);
        self
    }

    pub fn retention(&self) -> Duration {
        self.retention
    }

    /// Events after `query.after` (from the oldest retained when it is `None`) that the
    /// caller may see, in feed order, at most `query.limit`; when there are none yet, waits
    /// up to `query.wait` for one to commit (woken by the store's commits, looking again at
    /// least every second). The answer's `next_cursor` is where to go on from, also when
    /// it holds no event.
    pub async fn list(&self, principal: &Principal, query: EventQuery) -> Result<EventPage, EventError> {
        let scope = self.scope(principal, query.account_id).await?;
        let now = self.deps.clock.now();
        let retention = chrono::Duration::from_std(self.retention).map_err(anyhow::Error::from)?;
        let horizon = now - retention;
        let mut cursor = match query.after {
            Some(c) if c.as_of < horizon + HORIZON_GRACE => {
                return Err(EventError::CursorExpired { retention_days: self.retention.as_secs() / 86_400 });
            }
            Some(c) => c,
            None => EventCursor { position: FeedPosition::START, as_of: now },
        };
        let filter = FeedFilter { account_id: query.account_id, types: query.types.clone(), since: Some(horizon) };
        let scan = match scope {
            Scope::All => query.limit,
            Scope::Readable(_) => FILTERED_SCAN.max(query.limit),
        };
        let deadline = tokio::time::Instant::now() + query.wait;
        let mut woken = self.deps.store.changes().subscribe();
        let mut scans = 0;
        loop {
            // Seen before reading: a commit from here on wakes the wait below.
            woken.borrow_and_update();
            let read_at = self.deps.clock.now();
            // The head first: every event up to it was settled before the scan began, so
            // when the scan finds nothing more, nothing up to the head is left behind.
            let head = self.deps.store.feed_head().await?;
            let scanned = self.deps.store.feed_events(cursor.position, &filter, scan).await?;
            scans += 1;
            let complete = scanned.len() < scan as usize;
            let last = scanned.last().map(|e| EventCursor { position: e.position, as_of: e.event.occurred_at });
            let mut shown = self.visible(&scope, scanned).await?;
            let truncated = shown.len() > query.limit as usize;
            shown.truncate(query.limit as usize);
            cursor = match shown.last() {
                // More to show than asked for: go on right after the last event returned.
                Some(e) if truncated => EventCursor { position: e.position, as_of: e.event.occurred_at },
                // Everything settled after the cursor was read: nothing up to the head (or
                // the last event scanned, if it committed since) is left behind.
                _ if complete => {
                    let reached = last.map_or(head, |l| l.position.max(head));
                    EventCursor { position: cursor.position.max(reached), as_of: read_at }
                }
                _ => last.unwrap_or(cursor),
            };
            if !shown.is_empty() {
                let mut events: Vec<_> = shown.into_iter().map(|e| (e.position, e.event)).collect();
                let mut plain: Vec<_> = events.iter().map(|(_, e)| e.clone()).collect();
                self.deps.shown_audit_events(principal, &mut plain).await?;
                for ((_, event), shown) in events.iter_mut().zip(plain) {
                    *event = shown;
                }
                let events = events
                    .into_iter()
                    .map(|(position, event)| (EventCursor { position, as_of: event.occurred_at }, event))
                    .collect();
                return Ok(EventPage { events, next_cursor: cursor });
            }
            if !complete && scans < MOST_SCANS {
                continue;
            }
            let remaining = deadline.saturating_duration_since(tokio::time::Instant::now());
            if remaining.is_zero() || !complete {
                return Ok(EventPage { events: Vec::new(), next_cursor: cursor });
            }
            tokio::select! {
                _ = woken.changed() => {}
                () = tokio::time::sleep(remaining.min(FALLBACK_POLL)) => {}
            }
        }
    }

    /// Root `events:read` sees everything; `audit:read` on the account named, that
    /// account's events; otherwise the events of accounts where the caller holds
    /// `audit:read`.
    async fn scope(&self, principal: &Principal, account: Option<AccountId>) -> Result<Scope, EventError> {
        if principal.root_permissions().contains(Permission::EventsRead) {
            return Ok(Scope::All);
        }
        match account {
            Some(id) => {
                self.deps.authorized_account(principal, id, Permission::AuditRead).await?;
                Ok(Scope::All)
            }
            None => Ok(Scope::Readable(Box::new(self.deps.all_rights(principal).await?))),
        }
    }

    /// The events of `scanned` the scope shows: for a partial view, those of existing
    /// accounts where the caller holds `audit:read` (platform events have no account).
    async fn visible(&self, scope: &Scope, scanned: Vec<FeedEvent>) -> anyhow::Result<Vec<FeedEvent>> {
        let Scope::Readable(rights) = scope else { return Ok(scanned) };
        let mut ids: Vec<AccountId> = scanned.iter().filter_map(|e| e.event.account_id).collect();
        ids.sort_unstable_by_key(|id| id.as_uuid());
        ids.dedup();
        let placements: HashMap<AccountId, Placement> =
            self.deps.placements_of(&ids).await?.into_iter().map(|p| (p.id, p)).collect();
        let readable = |id: &AccountId| {
            // Anything but a grant (nothing held, no audit:read, two-factor required) hides it.
            placements.get(id).is_some_and(|p| rights.check(p, Permission::AuditRead).is_ok())
        };
        Ok(scanned.into_iter().filter(|e| e.event.account_id.as_ref().is_some_and(readable)).collect())
    }
}
