//! The store conformance suite: one set of tests, written against the ports and services,
//! that every storage adapter runs with [`store_conformance_tests!`](crate::store_conformance_tests). An adapter is done
//! when it passes all of them.
//!
//! Each case takes a fresh, migrated, empty store and panics on the first broken promise.

use std::sync::Arc;

use chrono::{Duration, TimeZone, Utc};
use uuid::Uuid;

use crate::{
    Account, AccountId, AccountName, AccountPatchInput, AccountService, AccountSettings, AccountStatus, AccountType,
    ActorKind, AuditEvent, AuditEventId, AuditOutcome, AuditValue, Changes, Clock, CreateAccountError,
    DeleteAccountError, EmailAddress, GetAccountError, IdGenerator, IdempotencyKey, IfMatch, NewAccountInput,
    PageRequest, PageSize, Principal, RequestInfo, Snapshot, Store, SystemClock, UpdateAccountError, UuidV7Generator,
    Version,
};

mod aliases;
mod audit;
mod authz;
mod billing;
mod changes;
mod events;
mod idempotency;
mod identity;
mod mfa;

pub use aliases::*;
pub use audit::*;
pub use authz::*;
pub use billing::*;
pub use changes::*;
pub use events::*;
pub use idempotency::*;
pub use identity::*;
pub use mfa::*;

/// Expands to one `#[tokio::test]` per conformance case, each given a store made by
/// `$factory().await` (an `async fn() -> Arc<dyn Store>`).
#[macro_export]
macro_rules! store_conformance_tests {
    ($factory:path) => {
        $crate::store_conformance_tests!(@cases $factory;
            an_account_reads_back_exactly_as_created,
            accounts_list_in_pages_of_fifty_fifty_and_twenty,
            a_listing_continues_where_the_cursor_points_even_after_deletions,
            an_update_bumps_the_version_and_records_only_what_changed,
            an_update_with_a_stale_version_changes_nothing,
            an_update_that_changes_nothing_writes_nothing,
            a_version_checked_write_loses_to_a_concurrent_change,
            deleting_an_account_keeps_its_audit_trail,
            deleting_a_parent_detaches_its_subtree,
            a_child_cannot_be_created_under_a_parent_being_deleted,
            a_failed_audit_append_rolls_back_an_update_and_a_delete,
            a_child_needs_an_existing_container_parent_within_depth_eight,
            every_mutation_leaves_exactly_one_audit_event,
            a_failed_account_insert_leaves_neither_account_nor_event,
            a_failed_audit_append_rolls_back_the_change,
            an_uncommitted_transaction_leaves_nothing,
            an_idempotency_key_replays_the_first_creation,
            an_idempotency_key_is_forgotten_after_a_day,
            concurrent_creations_with_one_idempotency_key_create_one_account,
            an_idempotency_key_replays_each_kind_of_creation,
            a_replay_neither_shows_nor_regenerates_a_secret,
            an_idempotency_key_reused_for_another_operation_or_body_is_refused,
            idempotency_keys_are_per_caller,
            concurrent_token_creations_with_one_key_create_one_token,
            expired_idempotency_keys_are_purged_in_bounded_batches,
            audit_events_round_trip_every_field,
            the_store_answers_a_ping,
            every_write_of_a_decision_fact_is_announced_once_it_commits,
            a_commit_that_appended_an_audit_event_wakes_followers,
            a_warm_decision_reads_nothing_and_a_change_is_refused_at_once,
            users_round_trip_and_emails_are_unique_ignoring_case,
            memberships_give_roles_on_the_account_and_its_subtree,
            a_token_is_found_by_digest_with_its_user_in_one_lookup,
            rolling_a_token_retires_the_old_secret,
            deleting_an_account_removes_its_members_and_tokens,
            bootstrap_makes_one_root_user_and_refuses_a_second,
            the_audit_log_pages_a_thousand_events_both_ways_and_filters,
            a_move_carries_the_whole_subtree_and_refuses_cycles_depth_and_leaves,
            a_name_search_pages_matches_in_name_order_ignoring_case,
            a_profile_round_trips_and_is_replaced_whole,
            subscriptions_follow_their_state_machine_and_round_trip,
            aliases_round_trip_list_by_filter_and_keep_the_password_out,
            an_address_is_unique_ignoring_case_even_under_concurrency,
            aliases_need_an_active_domain_and_a_member_user,
            a_users_first_alias_is_the_default_and_the_next_inherits_it,
            updates_and_password_resets_are_versioned_and_the_old_password_stops_working,
            mailbox_failures_are_counted_atomically_and_lock_the_address,
            an_account_with_a_refused_primary_alias_is_not_created,
            a_domain_in_use_cannot_be_deleted,
            parallel_guesses_get_no_more_than_the_free_attempts,
            concurrent_idempotent_creations_with_a_primary_alias_replay_the_first,
            factors_round_trip_and_a_time_step_is_accepted_once,
            factors_are_deleted_one_by_one_or_all_of_a_user,
            two_factor_enforcement_is_found_at_above_and_below_memberships,
            account_users_join_membership_user_and_mfa_state,
            of_concurrent_checks_of_one_code_exactly_one_is_accepted,
            two_factor_enforcement_shuts_out_members_without_an_active_factor_only,
            an_invitation_grants_nothing_until_accepted,
            the_authenticator_refuses_a_token_by_status_validity_window_and_address,
            the_feed_hands_out_events_in_commit_order_after_a_cursor,
            concurrent_writers_are_followed_without_a_skip_or_a_repeat,
            a_long_poll_answers_as_soon_as_an_event_commits,
            a_cursor_older_than_retention_is_gone,
            a_follower_sees_only_events_of_accounts_where_it_holds_audit_read
        );
    };
    (@cases $factory:path; $($case:ident),+) => {
        $(
            #[::tokio::test]
            async fn $case() {
                $crate::conformance::$case($factory().await).await;
            }
        )+
    };
}

fn service(store: &Arc<dyn Store>) -> AccountService {
    AccountService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
}

fn caller() -> Principal {
    Principal::system(RequestInfo {
        ip: Some("192.0.2.7".parse().expect("literal ip")),
        user_agent: Some("conformance/1".into()),
        request_id: Some("req-42".into()),
    })
}

fn new_account(name: &str, account_type: &str, parent: Option<AccountId>) -> crate::NewAccount {
    NewAccountInput {
        name: Some(name.into()),
        account_type: Some(account_type.into()),
        parent_id: parent.map(|p| p.to_string()),
        ..Default::default()
    }
    .validate()
    .expect("valid test input")
}

async fn create(store: &Arc<dyn Store>, name: &str, account_type: &str, parent: Option<AccountId>) -> Account {
    service(store)
        .create(&caller(), new_account(name, account_type, parent), None)
        .await
        .expect("create account")
        .value
        .account
}

async fn events(store: &Arc<dyn Store>, account: AccountId) -> Vec<AuditEvent> {
    store
        .list_audit_events(&crate::AuditQuery::all_of(Some(account), PageRequest::first(1000)))
        .await
        .expect("list audit events")
        .items
}

pub async fn an_account_reads_back_exactly_as_created(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let parent = create(&store, "Parent Agency", "agency", None).await;
    let command = NewAccountInput {
        name: Some("  Ünïcödé — Ads 広告  ".into()),
        account_type: Some("ad_account".into()),
        parent_id: Some(parent.id.to_string()),
        owner_id: None,
        abuse_contact_email: Some("abuse@example.com".into()),
        enforce_twofactor: Some(true),
        ..Default::default()
    }
    .validate()
    .expect("valid");
    let created = accounts.create(&caller(), command, None).await.expect("create").value.account;
    assert_eq!(created.name.as_str(), "Ünïcödé — Ads 広告");
    assert_eq!(created.status, AccountStatus::Unverified);
    assert_eq!(created.version, Version::INITIAL);
    assert_eq!(created.hierarchy, vec![parent.id]);
    assert_eq!(created.settings.abuse_contact_email, Some(EmailAddress::parse("abuse@example.com").expect("valid")));
    let read = accounts.get(&caller(), created.id).await.expect("get");
    assert_eq!(read, created, "the store must return every field as written");
    assert_eq!(store.get_account(AccountId::from_uuid(Uuid::now_v7())).await.expect("get missing"), None);
}

pub async fn accounts_list_in_pages_of_fifty_fifty_and_twenty(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let mut created = Vec::new();
    for i in 0..120 {
        created.push(create(&store, &format!("Account {i:03}"), "standard", None).await.id);
    }
    let mut seen = Vec::new();
    let mut sizes = Vec::new();
    let mut token = String::new();
    loop {
        let request = PageRequest::parse(Some(50), Some(&token)).expect("valid page request");
        let page = accounts.list(&caller(), request).await.expect("list");
        sizes.push(page.items.len());
        seen.extend(page.items.iter().map(|a| a.id));
        token = page.next_page_token();
        if token.is_empty() {
            break;
        }
        assert!(sizes.len() < 10, "pagination does not terminate");
    }
    assert_eq!(sizes, [50, 50, 20]);
    assert_eq!(seen, created, "pages must list every account once, in creation order");
    let again = accounts.list(&caller(), PageRequest::parse(Some(50), None).expect("valid")).await.expect("list");
    assert_eq!(again.items.iter().map(|a| a.id).collect::<Vec<_>>(), created[..50], "order must be stable");
}

pub async fn a_listing_continues_where_the_cursor_points_even_after_deletions(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(create(&store, &format!("A{i}"), "standard", None).await.id);
    }
    let first = accounts.list(&caller(), PageRequest::parse(Some(2), None).expect("valid")).await.expect("list");
    accounts.delete(&caller(), ids[1], IfMatch::Any).await.expect("delete the cursor's account");
    accounts.delete(&caller(), ids[2], IfMatch::Any).await.expect("delete the next one");
    let rest = store
        .list_accounts(PageRequest { size: PageSize::parse(Some(10)).expect("valid"), after: first.next })
        .await
        .expect("list after cursor");
    assert_eq!(rest.items.iter().map(|a| a.id).collect::<Vec<_>>(), ids[3..]);
    assert_eq!(rest.next, None);
}

pub async fn an_update_bumps_the_version_and_records_only_what_changed(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let account = create(&store, "Before", "standard", None).await;
    let patch = AccountPatchInput { name: Some("After".into()), status: Some("verified".into()), ..Default::default() }
        .validate()
        .expect("valid");
    let updated =
        accounts.update(&caller(), account.id, patch, IfMatch::Versions(vec![account.version])).await.expect("update");
    assert_eq!(updated.version, account.version.next());
    assert_eq!(updated.status, AccountStatus::Verified);
    assert!(updated.updated_at >= account.updated_at);
    assert_eq!(updated.created_at, account.created_at);
    assert_eq!(accounts.get(&caller(), account.id).await.expect("get"), updated);
    let update_event = events(&store, account.id).await.pop().expect("an update event");
    assert_eq!(update_event.action, "account.update");
    assert_eq!(
        update_event.changes,
        Changes {
            before: Some(Snapshot::default().with("name", "Before").with("status", "unverified")),
            after: Some(Snapshot::default().with("name", "After").with("status", "verified")),
        }
    );
}

pub async fn an_update_with_a_stale_version_changes_nothing(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let account = create(&store, "Original", "standard", None).await;
    let patch = AccountPatchInput { name: Some("Changed".into()), ..Default::default() }.validate().expect("valid");
    let stale = IfMatch::Versions(vec![Version::new(account.version.get() + 7)]);
    let err = accounts.update(&caller(), account.id, patch, stale).await.expect_err("stale version");
    assert!(matches!(err, UpdateAccountError::VersionMismatch), "{err:?}");
    assert_eq!(accounts.get(&caller(), account.id).await.expect("get"), account);
    assert_eq!(events(&store, account.id).await.len(), 1, "only the creation is audited");
}

pub async fn an_update_that_changes_nothing_writes_nothing(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let account = create(&store, "Same", "standard", None).await;
    let patch = AccountPatchInput { name: Some(" Same ".into()), ..Default::default() }.validate().expect("valid");
    let result = accounts.update(&caller(), account.id, patch, IfMatch::Any).await.expect("update");
    assert_eq!(result, account);
    assert_eq!(events(&store, account.id).await.len(), 1);
}

pub async fn a_version_checked_write_loses_to_a_concurrent_change(store: Arc<dyn Store>) {
    let account = create(&store, "Racy", "standard", None).await;
    let mut changed = account.clone();
    changed.name = AccountName::parse("Winner").expect("valid");
    changed.version = account.version.next();
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.update_account(&changed, account.version).await.expect("first write"));
    let mut loser = changed.clone();
    loser.name = AccountName::parse("Loser").expect("valid");
    assert!(!tx.update_account(&loser, account.version).await.expect("second write"), "stale version must not match");
    tx.commit().await.expect("commit");
    let stored = store.get_account(account.id).await.expect("get").expect("exists");
    assert_eq!(stored.name.as_str(), "Winner");
}

pub async fn deleting_an_account_keeps_its_audit_trail(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let account = create(&store, "Doomed", "standard", None).await;
    let stale = IfMatch::Versions(vec![Version::new(99)]);
    let err = accounts.delete(&caller(), account.id, stale).await.expect_err("stale delete");
    assert!(matches!(err, DeleteAccountError::VersionMismatch), "{err:?}");
    accounts.delete(&caller(), account.id, IfMatch::Versions(vec![account.version])).await.expect("delete");
    assert!(matches!(accounts.get(&caller(), account.id).await, Err(GetAccountError::NotFound)));
    let err = accounts.delete(&caller(), account.id, IfMatch::Any).await.expect_err("second delete");
    assert!(matches!(err, DeleteAccountError::NotFound), "{err:?}");
    let trail = events(&store, account.id).await;
    assert_eq!(trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(), ["account.create", "account.delete"]);
    assert_eq!(trail[1].changes, Changes::deleted(account.snapshot()));
}

pub async fn deleting_a_parent_detaches_its_subtree(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let root = create(&store, "Root", "enterprise", None).await;
    let middle = create(&store, "Middle", "business_manager", Some(root.id)).await;
    let leaf = create(&store, "Leaf", "ad_account", Some(middle.id)).await;
    let sibling = create(&store, "Sibling", "standard", None).await;
    assert_eq!(leaf.hierarchy, vec![root.id, middle.id]);
    accounts.delete(&caller(), root.id, IfMatch::Any).await.expect("delete root");
    let middle_now = accounts.get(&caller(), middle.id).await.expect("middle survives");
    let leaf_now = accounts.get(&caller(), leaf.id).await.expect("leaf survives");
    assert_eq!(middle_now.hierarchy, Vec::<AccountId>::new());
    assert_eq!(middle_now.parent_id(), None);
    assert_eq!(leaf_now.hierarchy, vec![middle.id]);
    assert!(middle_now.version > middle.version && leaf_now.version > leaf.version, "a new hierarchy is a new version");
    assert_eq!(accounts.get(&caller(), sibling.id).await.expect("sibling"), sibling);
    for (before, after) in [(&middle, &middle_now), (&leaf, &leaf_now)] {
        let trail = events(&store, after.id).await;
        let moved = trail.last().expect("a move event");
        assert_eq!(moved.action, "account.move");
        assert_eq!(moved.changes, Changes::updated(before.snapshot(), after.snapshot()));
    }
    assert_eq!(events(&store, sibling.id).await.len(), 1, "an unrelated account is not touched");
}

pub async fn a_child_cannot_be_created_under_a_parent_being_deleted(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let parent = create(&store, "Parent", "agency", None).await;
    let mut tx = store.begin().await.expect("begin");
    tx.find_account(parent.id).await.expect("lock the parent").expect("exists");
    let creating = {
        let accounts = accounts.clone();
        tokio::spawn(async move {
            accounts.create(&caller(), new_account("Child", "standard", Some(parent.id)), None).await
        })
    };
    // Give the creation time to reach the lock; the outcome must not depend on it.
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    tx.delete_account(parent.id, parent.version, SystemClock.now()).await.expect("delete").expect("version matched");
    tx.commit().await.expect("commit");
    match creating.await.expect("task") {
        Err(CreateAccountError::Invalid(errors)) => assert!(errors.mentions("parent_id")),
        other => panic!("a child of a deleted parent must be refused, got {other:?}"),
    }
    assert!(store.list_accounts(PageRequest::first(10)).await.expect("list").items.is_empty());
}

pub async fn a_failed_audit_append_rolls_back_an_update_and_a_delete(store: Arc<dyn Store>) {
    let account = create(&store, "Kept", "standard", None).await;
    let taken = events(&store, account.id).await[0].id.as_uuid();
    // Every id this service generates is the creation event's id: the audit append fails
    // after the change itself was written.
    let failing = AccountService::new(store.clone(), Arc::new(SystemClock), Arc::new(FixedIds(taken)));
    let patch = AccountPatchInput { name: Some("Changed".into()), ..Default::default() }.validate().expect("valid");
    let err = failing.update(&caller(), account.id, patch, IfMatch::Any).await.expect_err("audit fails");
    assert!(matches!(err, UpdateAccountError::Unknown(_)), "{err:?}");
    let err = failing.delete(&caller(), account.id, IfMatch::Any).await.expect_err("audit fails");
    assert!(matches!(err, DeleteAccountError::Unknown(_)), "{err:?}");
    assert_eq!(store.get_account(account.id).await.expect("get"), Some(account.clone()), "nothing changed");
    assert_eq!(events(&store, account.id).await.len(), 1);
}

pub async fn a_child_needs_an_existing_container_parent_within_depth_eight(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let standard = create(&store, "Plain", "standard", None).await;
    let err = accounts
        .create(&caller(), new_account("Child", "standard", Some(standard.id)), None)
        .await
        .expect_err("non-container");
    assert!(matches!(err, CreateAccountError::ParentNotContainer(AccountType::Standard)), "{err:?}");
    let missing = AccountId::from_uuid(Uuid::now_v7());
    match accounts.create(&caller(), new_account("Orphan", "standard", Some(missing)), None).await {
        Err(CreateAccountError::Invalid(errors)) => assert!(errors.mentions("parent_id")),
        other => panic!("expected a parent_id error, got {other:?}"),
    }
    let mut parent = create(&store, "Level 1", "enterprise", None).await;
    for level in 2..=Account::MAX_DEPTH {
        parent = create(&store, &format!("Level {level}"), "enterprise", Some(parent.id)).await;
    }
    assert_eq!(parent.depth(), Account::MAX_DEPTH);
    let err = accounts
        .create(&caller(), new_account("Too deep", "standard", Some(parent.id)), None)
        .await
        .expect_err("depth 9");
    assert!(matches!(err, CreateAccountError::TooDeep), "{err:?}");
    let page = store.list_accounts(PageRequest::first(1000)).await.expect("list");
    assert_eq!(page.items.len(), 1 + Account::MAX_DEPTH, "refused creations must leave nothing behind");
}

pub async fn every_mutation_leaves_exactly_one_audit_event(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let account = create(&store, "Audited", "standard", None).await;
    let patch = AccountPatchInput { enforce_twofactor: Some(true), ..Default::default() }.validate().expect("valid");
    accounts.update(&caller(), account.id, patch, IfMatch::Any).await.expect("update");
    accounts.delete(&caller(), account.id, IfMatch::Any).await.expect("delete");
    let trail = events(&store, account.id).await;
    assert_eq!(
        trail.iter().map(|e| e.action.as_str()).collect::<Vec<_>>(),
        ["account.create", "account.update", "account.delete"]
    );
    for event in &trail {
        assert_eq!(event.account_id, Some(account.id));
        assert_eq!(event.actor.kind, ActorKind::System);
        assert_eq!((event.resource_type.as_str(), event.resource_id.clone()), ("account", account.id.to_string()));
        assert_eq!(event.request, caller().request().clone());
        assert_eq!(event.outcome, AuditOutcome::Success);
    }
    assert_eq!(trail[0].changes, Changes::created(account.snapshot()));
    assert_eq!(
        trail[1].changes.after,
        Some(Snapshot::default().with("enforce_twofactor", true)),
        "an update records the changed setting"
    );
}

/// An id generator that always returns the same id, to force a primary-key violation.
struct FixedIds(Uuid);

impl IdGenerator for FixedIds {
    fn next_id(&self) -> Uuid {
        self.0
    }
}

pub async fn a_failed_account_insert_leaves_neither_account_nor_event(store: Arc<dyn Store>) {
    let fixed = Uuid::now_v7();
    let accounts = AccountService::new(store.clone(), Arc::new(SystemClock), Arc::new(FixedIds(fixed)));
    // The first creation uses `fixed` for the account and, in another table, for its event.
    let first = accounts
        .create(&caller(), new_account("First", "standard", None), None)
        .await
        .expect("first create")
        .value
        .account;
    let err =
        accounts.create(&caller(), new_account("Second", "standard", None), None).await.expect_err("duplicate id");
    assert!(matches!(err, CreateAccountError::Unknown(_)), "{err:?}");
    assert_eq!(store.get_account(first.id).await.expect("get").expect("first exists").name.as_str(), "First");
    assert_eq!(events(&store, first.id).await.len(), 1, "the failed creation must not be audited");
}

fn event_for(account: &Account, id: AuditEventId) -> AuditEvent {
    AuditEvent {
        id,
        account_id: Some(account.id),
        actor: caller().actor(),
        action: "account.create".into(),
        outcome: AuditOutcome::Success,
        resource_type: "account".into(),
        resource_id: account.id.to_string(),
        changes: Changes::created(account.snapshot()),
        request: RequestInfo::default(),
        occurred_at: SystemClock.now(),
    }
}

fn fresh_account(name: &str) -> Account {
    let now = SystemClock.now();
    Account {
        id: AccountId::from_uuid(Uuid::now_v7()),
        name: AccountName::parse(name).expect("valid"),
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

pub async fn a_failed_audit_append_rolls_back_the_change(store: Arc<dyn Store>) {
    let existing = create(&store, "Existing", "standard", None).await;
    let taken_event_id = events(&store, existing.id).await[0].id;
    let account = fresh_account("Never");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_account(&account).await.expect("insert");
    let err = tx.append_audit_event(&event_for(&account, taken_event_id)).await;
    assert!(err.is_err(), "an event id may be used once");
    drop(tx);
    assert_eq!(store.get_account(account.id).await.expect("get"), None, "the change must roll back with its event");
    assert!(events(&store, account.id).await.is_empty());
}

pub async fn an_uncommitted_transaction_leaves_nothing(store: Arc<dyn Store>) {
    let account = fresh_account("Uncommitted");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_account(&account).await.expect("insert");
    tx.append_audit_event(&event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()))).await.expect("append");
    assert_eq!(tx.find_account(account.id).await.expect("read own write"), Some(account.clone()));
    drop(tx);
    assert_eq!(store.get_account(account.id).await.expect("get"), None);
    assert!(events(&store, account.id).await.is_empty());
}

pub async fn audit_events_round_trip_every_field(store: Arc<dyn Store>) {
    let account = fresh_account("Round trip");
    let when =
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).single().expect("valid date") + Duration::microseconds(678_901);
    let mut event = event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()));
    event.occurred_at = when;
    event.actor.email = Some("ops@example.com".into());
    event.actor.id = Some("operator-1".into());
    event.request = RequestInfo {
        ip: Some("2001:db8::1".parse().expect("ip")),
        user_agent: Some("ua".into()),
        request_id: Some("r".into()),
    };
    event.changes = Changes::updated(
        Snapshot::default()
            .with("tags", AuditValue::List(vec!["a".into(), AuditValue::Int(-3)]))
            .with("n", AuditValue::Null),
        Snapshot::default().with("tags", AuditValue::List(vec![])).with("n", AuditValue::Bool(false)),
    );
    let mut tx = store.begin().await.expect("begin");
    tx.append_audit_event(&event).await.expect("append");
    tx.commit().await.expect("commit");
    assert_eq!(events(&store, account.id).await, vec![event]);
}

pub async fn the_store_answers_a_ping(store: Arc<dyn Store>) {
    store.ping().await.expect("ping");
}

fn key(text: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(text).expect("valid key"))
}

pub async fn an_idempotency_key_replays_the_first_creation(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let first = accounts.create(&caller(), new_account("Once", "standard", None), key("k-1")).await.expect("first");
    assert!(!first.replayed);
    let again = accounts.create(&caller(), new_account("Once", "standard", None), key("k-1")).await.expect("replay");
    assert!(again.replayed);
    assert_eq!(again.value, first.value);
    let other = accounts.create(&caller(), new_account("Once", "standard", None), key("k-2")).await.expect("other key");
    assert_ne!(other.value.account.id, first.value.account.id, "another key creates another account");
    let err =
        accounts.create(&caller(), new_account("Different", "standard", None), key("k-1")).await.expect_err("reuse");
    assert!(matches!(err, CreateAccountError::IdempotencyKeyReused), "{err:?}");
    assert_eq!(store.list_accounts(PageRequest::first(10)).await.expect("list").items.len(), 2);
    assert_eq!(events(&store, first.value.account.id).await.len(), 1, "a replay is not a new change");
    accounts.delete(&caller(), first.value.account.id, IfMatch::Any).await.expect("delete");
    let err = accounts.create(&caller(), new_account("Once", "standard", None), key("k-1")).await.expect_err("gone");
    assert!(matches!(err, CreateAccountError::ReplayedAccountGone), "{err:?}");
}

/// The system clock shifted by a fixed amount, to see what happens a day later.
struct ShiftedClock(Duration);

impl Clock for ShiftedClock {
    fn now(&self) -> chrono::DateTime<Utc> {
        SystemClock.now() + self.0
    }
}

pub async fn an_idempotency_key_is_forgotten_after_a_day(store: Arc<dyn Store>) {
    let today = service(&store);
    let tomorrow =
        AccountService::new(store.clone(), Arc::new(ShiftedClock(Duration::hours(25))), Arc::new(UuidV7Generator));
    let first = today.create(&caller(), new_account("Daily", "standard", None), key("daily")).await.expect("today");
    let later =
        tomorrow.create(&caller(), new_account("Daily", "standard", None), key("daily")).await.expect("tomorrow");
    assert!(!later.replayed);
    assert_ne!(later.value.account.id, first.value.account.id);
    let replay =
        tomorrow.create(&caller(), new_account("Daily", "standard", None), key("daily")).await.expect("replay");
    assert_eq!(
        (replay.replayed, replay.value.account.id),
        (true, later.value.account.id),
        "the key now names the newer account"
    );
}

pub async fn concurrent_creations_with_one_idempotency_key_create_one_account(store: Arc<dyn Store>) {
    let accounts = service(&store);
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let accounts = accounts.clone();
            tokio::spawn(async move {
                accounts.create(&caller(), new_account("Racing", "standard", None), key("race")).await
            })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        ids.push(task.await.expect("task").expect("create or replay").value.account.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "every request must answer with the one account created");
    assert_eq!(store.list_accounts(PageRequest::first(10)).await.expect("list").items.len(), 1);
}

pub async fn a_move_carries_the_whole_subtree_and_refuses_cycles_depth_and_leaves(store: Arc<dyn Store>) {
    use crate::MoveAccountError;
    let accounts = service(&store);
    let agency = create(&store, "Agency", "agency", None).await;
    let other = create(&store, "Other agency", "agency", None).await;
    let manager = create(&store, "Manager", "business_manager", Some(agency.id)).await;
    let ads = create(&store, "Ads", "ad_account", Some(manager.id)).await;
    let moved = accounts.move_account(&caller(), manager.id, Some(other.id), IfMatch::Any).await.expect("move");
    assert_eq!((moved.hierarchy.clone(), moved.version), (vec![other.id], manager.version.next()));
    let ads_now = accounts.get(&caller(), ads.id).await.expect("ads");
    assert_eq!(ads_now.hierarchy, vec![other.id, manager.id], "the subtree moves along");
    let children = store.list_children(other.id, PageRequest::first(10)).await.expect("children");
    assert_eq!(children.items.iter().map(|a| a.id).collect::<Vec<_>>(), [manager.id]);
    assert!(store.list_children(agency.id, PageRequest::first(10)).await.expect("children").items.is_empty());
    for account in [&manager, &ads] {
        assert_eq!(events(&store, account.id).await.last().map(|e| e.action.clone()).as_deref(), Some("account.move"));
    }
    let before = store.list_accounts(PageRequest::first(100)).await.expect("list").items;
    let err = accounts.move_account(&caller(), other.id, Some(ads.id), IfMatch::Any).await.expect_err("cycle");
    assert!(matches!(err, MoveAccountError::Cycle | MoveAccountError::ParentNotContainer(_)), "{err:?}");
    let err = accounts.move_account(&caller(), other.id, Some(manager.id), IfMatch::Any).await.expect_err("cycle");
    assert!(matches!(err, MoveAccountError::Cycle), "{err:?}");
    let err = accounts.move_account(&caller(), agency.id, Some(ads.id), IfMatch::Any).await.expect_err("leaf");
    assert!(matches!(err, MoveAccountError::ParentNotContainer(_)), "{err:?}");
    let mut deep = create(&store, "Deep 1", "enterprise", None).await;
    for level in 2..=6 {
        deep = create(&store, &format!("Deep {level}"), "enterprise", Some(deep.id)).await;
    }
    // other (1) > manager (2) > ads (3): under a depth-6 account it would reach 9 levels.
    let err = accounts.move_account(&caller(), other.id, Some(deep.id), IfMatch::Any).await.expect_err("too deep");
    assert!(matches!(err, MoveAccountError::TooDeep), "{err:?}");
    let after = store.list_accounts(PageRequest::first(100)).await.expect("list").items;
    assert_eq!(after[..before.len()], before[..], "refused moves change nothing");
    let top = accounts.move_account(&caller(), manager.id, None, IfMatch::Any).await.expect("detach");
    assert_eq!(
        (top.parent_id(), accounts.get(&caller(), ads.id).await.expect("ads").hierarchy),
        (None, vec![manager.id])
    );
}

pub async fn a_name_search_pages_matches_in_name_order_ignoring_case(store: Arc<dyn Store>) {
    let agency = create(&store, "acme Agency", "agency", None).await;
    for name in ["ACME b", "Acme a", "Acmes", "Other", "Ac", "acm"] {
        create(&store, name, "standard", Some(agency.id)).await;
    }
    let all = store.search_accounts("AcMe", None, PageRequest::first(10)).await.expect("search");
    let names: Vec<String> = all.items.iter().map(|a| a.name.to_string()).collect();
    assert_eq!(names, ["Acme a", "acme Agency", "ACME b", "Acmes"]);
    assert!(all.next.is_none());
    let mut seen = Vec::new();
    let mut page = PageRequest::first(3);
    loop {
        let found = store.search_accounts("acme", None, page).await.expect("search page");
        assert!(found.items.len() <= 3);
        seen.extend(found.items.iter().map(|a| a.name.to_string()));
        match found.next {
            Some(next) => page.after = Some(next),
            None => break,
        }
    }
    assert_eq!(seen, names, "pages continue where the last one stopped");
    assert!(store.search_accounts("zzz", None, PageRequest::first(10)).await.expect("search").items.is_empty());
    let nobody = crate::UserId::from_uuid(uuid::Uuid::now_v7());
    let none = store.search_accounts("acme", Some(nobody), PageRequest::first(10)).await.expect("search");
    assert!(none.items.is_empty(), "a member search shows only the member's accounts");
}

pub async fn a_profile_round_trips_and_is_replaced_whole(store: Arc<dyn Store>) {
    use crate::AccountProfileInput;
    let accounts = service(&store);
    let account = create(&store, "Profiled", "standard", None).await;
    let profile = AccountProfileInput {
        business_name: Some("Acme Ltd".into()),
        business_address: Some("1 Main St\nSpringfield".into()),
        business_email: Some("billing@acme.example".into()),
        business_phone: Some("+1 555 0100".into()),
        external_metadata: Some(r#"{"crm":"42"}"#.into()),
    }
    .validate()
    .expect("valid");
    let updated = accounts.update_profile(&caller(), account.id, profile.clone(), IfMatch::Any).await.expect("update");
    assert_eq!(updated.version, account.version.next());
    assert_eq!(accounts.get_profile(&caller(), account.id).await.expect("get"), profile);
    let smaller =
        AccountProfileInput { business_name: Some("Acme".into()), ..Default::default() }.validate().expect("valid");
    accounts.update_profile(&caller(), account.id, smaller.clone(), IfMatch::Any).await.expect("replace");
    assert_eq!(accounts.get_profile(&caller(), account.id).await.expect("get"), smaller, "absent fields are cleared");
    let trail = events(&store, account.id).await;
    assert_eq!(trail.last().map(|e| e.action.as_str()), Some("account.update"));
}
