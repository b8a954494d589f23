//! Conformance cases of announcing changes (the [`Transaction`](crate::Transaction) port's
//! contract) and of the decision cache they keep true: every write of a fact a decision
//! reads drops it from the cache once, and only once, its transaction commits; a warm
//! decision reads nothing; a change is refused at once by the instance that made it.

use std::time::Duration;

use super::mfa::{factor, insert};
use super::*;
use crate::{
    AccessError, AuthError, Authenticator, Deps, FactorStatus, Member, MemberService, MemberStatus, Permission, Role,
    TokenService, UserPatchInput,
};

fn deps(store: &Arc<dyn Store>) -> Deps {
    Deps { store: store.clone(), clock: Arc::new(SystemClock), ids: Arc::new(UuidV7Generator) }
}

/// Waits until the store's cache is in use: at once on a store no other process writes; on
/// one shared with other processes, once its listener hears them (a few milliseconds).
async fn cache_in_use(store: &Arc<dyn Store>) {
    for _ in 0..500 {
        if store.changes().decisions().stats().enabled {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("the decision cache was not in use after 5 s: the store does not hear other processes");
}

fn tokens(store: &Arc<dyn Store>) -> TokenService {
    TokenService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
}

pub async fn every_write_of_a_decision_fact_is_announced_once_it_commits(store: Arc<dyn Store>) {
    cache_in_use(&store).await;
    let deps = deps(&store);
    let cache = store.changes().decisions();
    let top = create(&store, "Top", "agency", None).await;
    let child = create(&store, "Child", "ad_account", Some(top.id)).await;
    let elsewhere = create(&store, "Elsewhere", "agency", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &top, &ada, &[Role::Administrator]).await;
    let issued = identity::token(&store, &top, &ada).await;
    let digest = issued.secret.digest();
    let warm = || async {
        deps.token_by_digest(&digest).await.expect("token");
        deps.access_of(ada.id).await.expect("access");
        deps.placements_of(&[top.id, child.id]).await.expect("placements");
    };
    let token_cached = || cache.token(&digest).is_some();
    let access_cached = || cache.access(ada.id).is_some();
    let placed = |id| cache.placements(&[id]).1.is_empty();

    // A rolled-back write announces nothing.
    warm().await;
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_token(issued.token.id).await.expect("delete"));
    assert!(tx.delete_member(top.id, ada.id).await.expect("delete"));
    drop(tx);
    assert!(token_cached() && access_cached(), "nothing committed, nothing dropped");

    // A token's change, and a member's.
    let mut tx = store.begin().await.expect("begin");
    let mut disabled = issued.token.clone();
    disabled.status = crate::TokenStatus::Disabled;
    assert!(tx.update_token(&disabled, None).await.expect("update"));
    assert!(token_cached(), "not before the commit");
    tx.commit().await.expect("commit");
    assert!(!token_cached(), "update_token announces the token");
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.update_token(&issued.token, None).await.expect("enable again"));
    tx.commit().await.expect("commit");
    warm().await;
    MemberService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .put(&caller(), top.id, ada.id, vec![Role::Viewer])
        .await
        .expect("demote");
    assert!(!access_cached(), "save_member announces the member's user");
    warm().await;
    let mut tx = store.begin().await.expect("begin");
    let now = SystemClock.now();
    let new_member = Member {
        account_id: elsewhere.id,
        user_id: ada.id,
        roles: vec![Role::Viewer],
        status: MemberStatus::Member,
        invited_by: None,
        created_at: now,
        updated_at: now,
    };
    assert!(tx.insert_member(&new_member).await.expect("insert"));
    tx.commit().await.expect("commit");
    assert!(!access_cached(), "insert_member announces the member's user");

    // A user's change, and a factor's.
    warm().await;
    assert!(cache.user(ada.id).is_some());
    let patch = UserPatchInput { first_name: Some("Ada".into()), ..Default::default() }.validate().expect("valid");
    identity::users(&store).update(&caller(), ada.id, patch, IfMatch::Any).await.expect("rename");
    assert!(cache.user(ada.id).is_none() && !access_cached(), "update_user announces the user");
    let pending = factor(ada.id, FactorStatus::Pending);
    insert(&store, &pending).await;
    warm().await;
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.record_factor_use(pending.id, 7, now).await.expect("use"));
    tx.commit().await.expect("commit");
    assert!(!access_cached(), "record_factor_use (an activation) announces the factor's user");
    assert!(deps.access_of(ada.id).await.expect("access").active_factor, "read anew");
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.delete_factor(pending.id).await.expect("delete"));
    tx.commit().await.expect("commit");
    assert!(!access_cached(), "delete_factor announces the factor's user");
    warm().await;
    let mut tx = store.begin().await.expect("begin");
    tx.delete_factors_of(ada.id).await.expect("delete all");
    tx.commit().await.expect("commit");
    assert!(!access_cached(), "delete_factors_of announces the user");

    // An account's change, a move of its subtree, and its deletion with its tokens.
    warm().await;
    let enforce = AccountPatchInput { enforce_twofactor: Some(true), ..Default::default() }.validate().expect("v");
    service(&store).update(&caller(), child.id, enforce, IfMatch::Any).await.expect("enforce");
    assert!(!placed(child.id) && placed(top.id), "update_account announces that account");
    warm().await;
    service(&store).move_account(&caller(), top.id, Some(elsewhere.id), IfMatch::Any).await.expect("move");
    assert!(!placed(top.id) && !placed(child.id), "move_subtree announces every account it moved");
    warm().await;
    assert!(token_cached());
    service(&store).delete(&caller(), top.id, IfMatch::Any).await.expect("delete");
    assert!(!placed(top.id) && !placed(child.id), "delete_account announces it and what it detached");
    assert!(!token_cached(), "the deleted account's tokens went with it");
}

pub async fn a_commit_that_appended_an_audit_event_wakes_followers(store: Arc<dyn Store>) {
    cache_in_use(&store).await;
    let mut woken = store.changes().subscribe();
    woken.mark_unchanged();
    let account = fresh_account("Wakes");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_account(&account).await.expect("insert");
    tx.append_audit_event(&event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()))).await.expect("append");
    drop(tx);
    assert!(!woken.has_changed().expect("hub alive"), "a rollback wakes nobody");
    let mut tx = store.begin().await.expect("begin");
    tx.insert_account(&account).await.expect("insert");
    tx.append_audit_event(&event_for(&account, AuditEventId::from_uuid(Uuid::now_v7()))).await.expect("append");
    tx.commit().await.expect("commit");
    assert!(woken.has_changed().expect("hub alive"), "woken before commit returned");
}

pub async fn a_warm_decision_reads_nothing_and_a_change_is_refused_at_once(store: Arc<dyn Store>) {
    cache_in_use(&store).await;
    let deps = deps(&store);
    let account = create(&store, "Warm", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &account, &ada, &[Role::Administrator]).await;
    let issued = identity::token(&store, &account, &ada).await;
    let authenticator = Authenticator::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    let authenticate = || authenticator.authenticate(Some(issued.secret.expose()), RequestInfo::default());
    let cache = store.changes().decisions();

    let first = authenticate().await.expect("authenticates");
    deps.authorize(&first, &account, Permission::MembersWrite).await.expect("administrator");
    let cold = cache.stats();
    let again = authenticate().await.expect("authenticates");
    deps.authorize(&again, &account, Permission::MembersWrite).await.expect("administrator");
    let warm = cache.stats();
    assert_eq!(warm.misses, cold.misses, "the warm token, user, access and placements all came from the cache");
    assert!(warm.hits >= cold.hits + 3, "{cold:?} then {warm:?}");

    // A role change is decided at once, and so is the member's removal.
    MemberService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .put(&caller(), account.id, ada.id, vec![Role::Viewer])
        .await
        .expect("demote");
    let demoted = deps.authorize(&again, &account, Permission::MembersWrite).await;
    assert!(matches!(demoted, Err(AccessError::Forbidden(Permission::MembersWrite))), "{demoted:?}");
    MemberService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator))
        .delete(&caller(), account.id, ada.id)
        .await
        .expect("remove");
    let removed = deps.authorize(&again, &account, Permission::AccountsRead).await;
    assert!(matches!(removed, Err(AccessError::NotFound)), "{removed:?}");

    // A revoked token is refused at once.
    tokens(&store).delete(&caller(), account.id, issued.token.id).await.expect("revoke");
    assert_eq!(authenticate().await.expect_err("revoked"), AuthError::Unknown);
}
