//! The event feed on PostgreSQL across instances (issue 13): transactions commit out of the
//! order in which they took their sequence numbers, and the feed must still hand out every
//! event exactly once, in an order that never changes once seen.

use std::sync::Arc;
use std::time::Duration;

use accountd_domain::{
    Account, AccountId, AccountName, AccountSettings, AccountStatus, AccountType, AuditEvent, AuditEventId,
    AuditOutcome, Changes, Clock, EventQuery, EventService, EventTypes, FeedFilter, FeedPosition, Principal,
    RequestInfo, Store, SystemClock, UuidV7Generator, Version,
};
use accountd_postgres::{PgStore, PoolConfig};
use uuid::Uuid;

async fn instance(options: &sqlx::postgres::PgConnectOptions) -> Arc<dyn Store> {
    let store = PgStore::connect_with(options.clone(), PoolConfig { max_connections: 8, ..PoolConfig::DEFAULT })
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

fn system() -> Principal {
    Principal::system(RequestInfo::default())
}

fn account() -> Account {
    let now = SystemClock.now();
    Account {
        id: AccountId::from_uuid(Uuid::now_v7()),
        name: AccountName::parse("Late").expect("valid"),
        account_type: AccountType::Standard,
        status: AccountStatus::Pending,
        owner_id: None,
        hierarchy: Vec::new(),
        settings: AccountSettings::default(),
        profile: Default::default(),
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    }
}

fn event(account: &Account) -> AuditEvent {
    AuditEvent {
        id: AuditEventId::from_uuid(Uuid::now_v7()),
        account_id: Some(account.id),
        actor: system().actor(),
        action: "account.create".into(),
        outcome: AuditOutcome::Success,
        resource_type: "account".into(),
        resource_id: account.id.to_string(),
        changes: Changes::created(account.snapshot()),
        request: RequestInfo::default(),
        occurred_at: SystemClock.now(),
    }
}

fn feed(store: &Arc<dyn Store>) -> EventService {
    EventService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
}

fn query(wait: Duration) -> EventQuery {
    EventQuery { after: None, account_id: None, types: EventTypes::all(), limit: 100, wait }
}

#[tokio::test]
async fn an_event_that_commits_late_is_handed_out_first_and_nothing_is_skipped() {
    let options = accountd_postgres::testing::fresh_schema().await;
    let (a, b) = (instance(&options).await, instance(&options).await);
    // The first transaction takes its place (transaction id, sequence number) and stays open…
    let (early_account, late_account) = (account(), account());
    let early = event(&early_account);
    let mut first = a.begin().await.expect("begin");
    first.insert_account(&early_account).await.expect("insert");
    first.append_audit_event(&early).await.expect("append");
    // …while a second one, on the other instance, takes a later place and commits.
    let late = event(&late_account);
    let mut second = b.begin().await.expect("begin");
    second.insert_account(&late_account).await.expect("insert");
    second.append_audit_event(&late).await.expect("append");
    second.commit().await.expect("commit");

    // A reader taking `seq > last_seen` would hand out the later event now and skip the
    // first for ever once it commits. The feed hands out neither yet.
    for store in [&a, &b] {
        let now = store.feed_events(FeedPosition::START, &FeedFilter::default(), 100).await.expect("feed");
        assert!(now.is_empty(), "an event must wait for every transaction before it: {now:?}");
        assert_eq!(store.feed_head().await.expect("head"), FeedPosition::START);
    }
    let service = feed(&b);
    let page = service.list(&system(), query(Duration::ZERO)).await.expect("list");
    assert!(page.events.is_empty());
    let cursor = page.next_cursor;

    // A long poll on the other instance is answered when the first commits: both events,
    // the one that committed late first (it took the earlier place).
    let waiting = {
        let service = service.clone();
        tokio::spawn(async move {
            service.list(&system(), EventQuery { after: Some(cursor), ..query(Duration::from_secs(20)) }).await
        })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(!waiting.is_finished(), "nothing is settled yet: the poll waits");
    first.commit().await.expect("commit");
    let page = tokio::time::timeout(Duration::from_secs(10), waiting).await.expect("answered").expect("task");
    let ids: Vec<AuditEventId> = page.expect("list").events.iter().map(|(_, e)| e.id).collect();
    assert_eq!(ids, [early.id, late.id]);
    let all = a.feed_events(FeedPosition::START, &FeedFilter::default(), 100).await.expect("feed");
    assert_eq!(all.iter().map(|e| e.event.id).collect::<Vec<_>>(), [early.id, late.id]);
    assert!(all[0].position < all[1].position);
}

#[tokio::test]
async fn followers_on_two_instances_see_every_acknowledged_change_once_in_cursor_order() {
    let options = accountd_postgres::testing::fresh_schema().await;
    let (a, b) = (instance(&options).await, instance(&options).await);
    accountd_domain::conformance::followers_see_every_acknowledged_event_once_in_order(vec![a.clone(), b.clone()], b)
        .await;
}
