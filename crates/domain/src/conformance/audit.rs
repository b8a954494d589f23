//! Conformance cases for reading the audit trail.

use super::*;

pub async fn the_audit_log_pages_a_thousand_events_both_ways_and_filters(store: Arc<dyn Store>) {
    use crate::{AuditQuery, Direction};
    let account = fresh_account("Audited");
    let other = AccountId::from_uuid(Uuid::now_v7());
    let start = SystemClock.now();
    let mut written = Vec::new();
    let mut tx = store.begin().await.expect("begin");
    for i in 0..1000i64 {
        let mut event = event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()));
        event.occurred_at = start + Duration::milliseconds(i);
        event.action = if i % 3 == 0 { "account.update".into() } else { "member.create".into() };
        event.actor.id = Some(format!("actor-{}", i % 4));
        event.resource_type = if i % 5 == 0 { "token".into() } else { "member".into() };
        event.resource_id = format!("r-{}", i % 10);
        tx.append_audit_event(&event).await.expect("append");
        written.push(event);
    }
    // Noise in another account must never show.
    let mut noise = event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()));
    noise.account_id = Some(other);
    tx.append_audit_event(&noise).await.expect("append");
    tx.commit().await.expect("commit");

    let page_through = |direction: Direction, filter: Box<dyn Fn(&mut AuditQuery) + Send + Sync>| {
        let store = store.clone();
        async move {
            let mut seen = Vec::new();
            let mut after = None;
            loop {
                let mut query = AuditQuery::all_of(
                    Some(account.id),
                    PageRequest { size: PageSize::parse(Some(97)).expect("v"), after },
                );
                query.direction = direction;
                filter(&mut query);
                let page = store.list_audit_events(&query).await.expect("list");
                seen.extend(page.items.into_iter().map(|e| e.id));
                match page.next {
                    Some(next) => after = Some(next),
                    None => break,
                }
                assert!(seen.len() <= 2000, "paging does not end");
            }
            seen
        }
    };
    let ids: Vec<AuditEventId> = written.iter().map(|e| e.id).collect();
    assert_eq!(page_through(Direction::Asc, Box::new(|_| {})).await, ids, "ascending: every event once, in order");
    let mut reversed = ids.clone();
    reversed.reverse();
    assert_eq!(page_through(Direction::Desc, Box::new(|_| {})).await, reversed, "descending likewise");

    type Filter = (&'static str, Box<dyn Fn(&mut AuditQuery) + Send + Sync>, Box<dyn Fn(&AuditEvent) -> bool>);
    let cut = start + Duration::milliseconds(400);
    let filters: Vec<Filter> = vec![
        ("since", Box::new(move |q| q.since = Some(cut)), Box::new(move |e| e.occurred_at >= cut)),
        ("before", Box::new(move |q| q.before = Some(cut)), Box::new(move |e| e.occurred_at < cut)),
        (
            "action_type",
            Box::new(|q| q.action = Some("account.update".into())),
            Box::new(|e| e.action == "account.update"),
        ),
        (
            "actor_id",
            Box::new(|q| q.actor_id = Some("actor-2".into())),
            Box::new(|e| e.actor.id.as_deref() == Some("actor-2")),
        ),
        (
            "resource_type",
            Box::new(|q| q.resource_type = Some("token".into())),
            Box::new(|e| e.resource_type == "token"),
        ),
        ("resource_id", Box::new(|q| q.resource_id = Some("r-7".into())), Box::new(|e| e.resource_id == "r-7")),
    ];
    for (name, filter, keep) in filters {
        let expected: Vec<AuditEventId> = written.iter().filter(|e| keep(e)).map(|e| e.id).collect();
        assert!(!expected.is_empty() && expected.len() < written.len(), "{name} must select some events");
        let filter = std::sync::Arc::new(filter);
        let asc = {
            let f = filter.clone();
            page_through(Direction::Asc, Box::new(move |q| f(q))).await
        };
        assert_eq!(asc, expected, "{name} ascending");
        let desc = {
            let f = filter.clone();
            page_through(Direction::Desc, Box::new(move |q| f(q))).await
        };
        let mut expected_desc = expected.clone();
        expected_desc.reverse();
        assert_eq!(desc, expected_desc, "{name} descending");
    }
}
