//! The event feed's promises (`EventFeed`, `EventService`): commit order, never a skip or a
//! repeat under concurrent writers, filters, the long poll, retention and who sees what.

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::identity;
use super::*;
use crate::{
    Authenticator, EventCursor, EventError, EventQuery, EventService, EventTypes, FeedFilter, FeedPosition, Role,
};

fn feed(store: &Arc<dyn Store>) -> EventService {
    EventService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
}

fn query(after: Option<EventCursor>, wait: Duration) -> EventQuery {
    EventQuery { after, account_id: None, types: EventTypes::all(), limit: 100, wait }
}

/// How long a test waits for committed events to settle: on PostgreSQL an event is handed
/// out only once every transaction that began before it ended, in any database of the
/// server, so a test running beside others (some holding transactions open on purpose)
/// waits for theirs.
const SETTLE: Duration = Duration::from_secs(30);

/// The whole feed once it holds at least `count` events (within [`SETTLE`]).
async fn settled(store: &Arc<dyn Store>, count: usize) -> Vec<crate::FeedEvent> {
    let started = std::time::Instant::now();
    loop {
        let all = store.feed_events(FeedPosition::START, &FeedFilter::default(), 10_000).await.expect("feed");
        if all.len() >= count || started.elapsed() > SETTLE {
            return all;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Waits until everything committed before the call is in the feed: it appends a marker
/// event (of a new account no other test's caller sees) and waits for it, since an event
/// settles only after every one before it.
async fn settle(store: &Arc<dyn Store>) {
    let marker = append(store, Duration::ZERO).await;
    let started = std::time::Instant::now();
    while !settled(store, 0).await.iter().any(|e| e.event.id == marker) {
        assert!(started.elapsed() < SETTLE, "the marker event did not settle within {SETTLE:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Appends one `account.create` event of a new account and commits; returns the event id.
async fn append(store: &Arc<dyn Store>, hold: Duration) -> AuditEventId {
    let account = fresh_account("Feed");
    let id = AuditEventId::from_uuid(Uuid::now_v7());
    let mut tx = store.begin().await.expect("begin");
    tx.insert_account(&account).await.expect("insert");
    tx.append_audit_event(&event_for(&account, id)).await.expect("append");
    // Held open after taking its place, so that later writers commit first.
    tokio::time::sleep(hold).await;
    tx.commit().await.expect("commit");
    id
}

pub async fn the_feed_hands_out_events_in_commit_order_after_a_cursor(store: Arc<dyn Store>) {
    assert_eq!(store.feed_head().await.expect("head"), FeedPosition::START, "an empty feed");
    let a = create(&store, "Feed A", "standard", None).await;
    let b = create(&store, "Feed B", "standard", None).await;
    service(&store)
        .update(
            &caller(),
            a.id,
            AccountPatchInput { name: Some("Feed A2".into()), ..Default::default() }.validate().expect("valid"),
            IfMatch::Any,
        )
        .await
        .expect("update");
    let all = settled(&store, 3).await;
    let actions: Vec<(Option<AccountId>, &str)> =
        all.iter().map(|e| (e.event.account_id, e.event.action.as_str())).collect();
    assert_eq!(
        actions,
        [(Some(a.id), "account.create"), (Some(b.id), "account.create"), (Some(a.id), "account.update")]
    );
    assert!(all.windows(2).all(|w| w[0].position < w[1].position), "strictly ascending positions");
    assert_eq!(store.feed_head().await.expect("head"), all[2].position, "the head is the last event");
    assert_eq!(all[0].event, events(&store, a.id).await[0], "the feed carries the audit event as recorded");

    let rest = store.feed_events(all[0].position, &FeedFilter::default(), 1000).await.expect("after");
    assert_eq!(rest, all[1..], "strictly after the position");
    let limited = store.feed_events(FeedPosition::START, &FeedFilter::default(), 2).await.expect("limit");
    assert_eq!(limited, all[..2]);
    let of_a = FeedFilter { account_id: Some(a.id), ..Default::default() };
    let only_a = store.feed_events(FeedPosition::START, &of_a, 1000).await.expect("of a");
    assert_eq!(only_a, [all[0].clone(), all[2].clone()]);
    let updates = FeedFilter {
        types: EventTypes::parse(&["account.update".into(), "alias.create".into()], "types").expect("valid"),
        ..Default::default()
    };
    assert_eq!(store.feed_events(FeedPosition::START, &updates, 1000).await.expect("types"), all[2..]);
    let later = FeedFilter { since: Some(SystemClock.now() + Duration::from_secs(60)), ..Default::default() };
    assert!(store.feed_events(FeedPosition::START, &later, 1000).await.expect("since").is_empty());
}

/// Writers on `writers` (one store, or several instances of one database) append events
/// concurrently, some holding their transaction open after taking their place; a follower
/// on `follower` reads the feed in small pages meanwhile. It must see every acknowledged
/// event exactly once, in ascending positions, and so must a long-polling follower of the
/// [`EventService`].
pub async fn followers_see_every_acknowledged_event_once_in_order(
    writers: Vec<Arc<dyn Store>>,
    follower: Arc<dyn Store>,
) {
    const PER_WRITER: usize = 25;
    let done = Arc::new(AtomicBool::new(false));
    // Followers stop once they saw as many events as were written, or when the feed stayed
    // empty for [`SETTLE`] after the writers finished (other tests' open transactions can
    // hold it back for a while: an empty page then is not the end).
    let total = writers.len().max(4) * PER_WRITER;
    let mut tasks = Vec::new();
    for (i, store) in writers.iter().cycle().take(writers.len().max(4)).enumerate() {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            for n in 0..PER_WRITER {
                let hold = Duration::from_millis(((i * 7 + n * 3) % 5) as u64 * 4);
                acknowledged.push(append(&store, hold).await);
            }
            acknowledged
        }));
    }
    let raw = {
        let (store, done) = (follower.clone(), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut at = FeedPosition::START;
            let mut idle_since = None;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let batch = store.feed_events(at, &FeedFilter::default(), 7).await.expect("feed");
                for e in &batch {
                    assert!(e.position > at, "positions must ascend: {:?} after {at:?}", e.position);
                    at = e.position;
                    seen.push(e.event.id);
                }
                if seen.len() >= total {
                    return seen;
                }
                if batch.is_empty() {
                    if finished && idle_since.get_or_insert_with(std::time::Instant::now).elapsed() > SETTLE {
                        return seen;
                    }
                    tokio::time::sleep(Duration::from_millis(5)).await;
                } else {
                    idle_since = None;
                }
            }
        })
    };
    let polling = {
        let (service, done) = (feed(&follower), done.clone());
        tokio::spawn(async move {
            let mut seen = Vec::new();
            let mut cursor = None;
            let mut idle_since = None;
            loop {
                let finished = done.load(Ordering::SeqCst);
                let page = service
                    .list(&caller(), EventQuery { limit: 5, ..query(cursor, Duration::from_millis(200)) })
                    .await
                    .expect("long poll");
                let mut last = cursor.map(|c: EventCursor| c.position);
                for (c, e) in &page.events {
                    assert!(last.is_none_or(|l| c.position > l), "cursors must ascend");
                    last = Some(c.position);
                    seen.push(e.id);
                }
                assert!(cursor.is_none_or(|c| page.next_cursor.position >= c.position), "never backwards");
                cursor = Some(page.next_cursor);
                if seen.len() >= total {
                    return seen;
                }
                if !page.events.is_empty() {
                    idle_since = None;
                } else if finished && idle_since.get_or_insert_with(std::time::Instant::now).elapsed() > SETTLE {
                    return seen;
                }
            }
        })
    };
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.expect("writer"));
    }
    done.store(true, Ordering::SeqCst);
    let expected: HashSet<AuditEventId> = acknowledged.iter().copied().collect();
    for (name, follower) in [("the port's follower", raw), ("the service's follower", polling)] {
        let seen = tokio::time::timeout(SETTLE * 3, follower).await.expect("caught up").expect("follower");
        let unique: HashSet<AuditEventId> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "{name} saw an event twice");
        assert_eq!(unique, expected, "{name} must see exactly the acknowledged events");
    }
}

pub async fn concurrent_writers_are_followed_without_a_skip_or_a_repeat(store: Arc<dyn Store>) {
    followers_see_every_acknowledged_event_once_in_order(vec![store.clone()], store).await;
}

pub async fn a_long_poll_answers_as_soon_as_an_event_commits(store: Arc<dyn Store>) {
    let service = feed(&store);
    let first = service.list(&caller(), query(None, Duration::ZERO)).await.expect("empty feed");
    assert!(first.events.is_empty());
    let waiting = {
        let (service, cursor) = (service.clone(), first.next_cursor);
        tokio::spawn(async move { service.list(&caller(), query(Some(cursor), Duration::from_secs(20))).await })
    };
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert!(!waiting.is_finished(), "nothing new: the poll waits");
    let started = std::time::Instant::now();
    let id = append(&store, Duration::ZERO).await;
    let page = tokio::time::timeout(Duration::from_secs(20), waiting).await.expect("woken");
    let page = page.expect("task").expect("list");
    assert!(started.elapsed() < SETTLE);
    assert_eq!(page.events.iter().map(|(_, e)| e.id).collect::<Vec<_>>(), [id]);
    assert_eq!(page.next_cursor.position, page.events[0].0.position);
    let none = service.list(&caller(), query(Some(page.next_cursor), Duration::from_millis(50))).await.expect("again");
    assert!(none.events.is_empty(), "the event is handed out once");
}

pub async fn a_cursor_older_than_retention_is_gone(store: Arc<dyn Store>) {
    let service = feed(&store);
    append(&store, Duration::ZERO).await;
    let page = service.list(&caller(), query(None, Duration::ZERO)).await.expect("list");
    let old = EventCursor { as_of: SystemClock.now() - Duration::from_secs(31 * 24 * 3600), ..page.next_cursor };
    let error = service.list(&caller(), query(Some(old), Duration::ZERO)).await.expect_err("too old");
    assert!(matches!(error, EventError::CursorExpired { retention_days: 30 }), "{error:?}");
    let recent = EventCursor { as_of: SystemClock.now() - Duration::from_secs(29 * 24 * 3600), ..page.next_cursor };
    service.list(&caller(), query(Some(recent), Duration::ZERO)).await.expect("within retention");
    // An event stamped before the horizon is no longer in the feed for a new follower.
    let aged = AuditEvent {
        occurred_at: SystemClock.now() - Duration::from_secs(40 * 24 * 3600),
        ..event_for(&fresh_account("Old"), AuditEventId::from_uuid(Uuid::now_v7()))
    };
    let mut tx = store.begin().await.expect("begin");
    tx.append_audit_event(&aged).await.expect("append");
    tx.commit().await.expect("commit");
    let fresh = service.list(&caller(), query(None, Duration::ZERO)).await.expect("list");
    assert!(fresh.events.iter().all(|(_, e)| e.id != aged.id), "outside retention");
}

pub async fn a_follower_sees_only_events_of_accounts_where_it_holds_audit_read(store: Arc<dyn Store>) {
    let service = feed(&store);
    let mine = create(&store, "Mine", "agency", None).await;
    let child = create(&store, "My child", "standard", Some(mine.id)).await;
    let theirs = create(&store, "Theirs", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &mine, &ada, &[Role::Administrator]).await;
    let viewer = identity::user(&store, "vic@example.com").await;
    identity::member(&store, &theirs, &viewer, &[Role::Member]).await;
    let authenticator = Authenticator::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    let principal = |secret: String| {
        let authenticator = authenticator.clone();
        async move { authenticator.authenticate(Some(&secret), RequestInfo::default()).await.expect("authenticates") }
    };
    let ada_p = principal(identity::token(&store, &mine, &ada).await.secret.expose().to_owned()).await;
    settle(&store).await;
    let page = service.list(&ada_p, query(None, Duration::ZERO)).await.expect("ada's feed");
    assert!(!page.events.is_empty());
    assert!(
        page.events.iter().all(|(_, e)| e.account_id == Some(mine.id) || e.account_id == Some(child.id)),
        "only the account and its descendants"
    );
    assert!(page.events.iter().any(|(_, e)| e.account_id == Some(child.id)), "inherited to descendants");
    let named = service.list(&ada_p, EventQuery { account_id: Some(theirs.id), ..query(None, Duration::ZERO) }).await;
    assert!(matches!(named, Err(EventError::NotFound)), "another tenant's account is not found: {named:?}");
    let own = service.list(&ada_p, EventQuery { account_id: Some(child.id), ..query(None, Duration::ZERO) }).await;
    assert!(own.expect("own child").events.iter().all(|(_, e)| e.account_id == Some(child.id)));
    // A member (no audit:read) sees nothing, and naming its account is forbidden.
    let vic_p = principal(identity::token(&store, &theirs, &viewer).await.secret.expose().to_owned()).await;
    assert!(service.list(&vic_p, query(None, Duration::ZERO)).await.expect("feed").events.is_empty());
    let forbidden =
        service.list(&vic_p, EventQuery { account_id: Some(theirs.id), ..query(None, Duration::ZERO) }).await;
    assert!(matches!(forbidden, Err(EventError::Denied(_))), "{forbidden:?}");
}
