//! The hierarchy lock is per tree (issue 14, item 4): a change in one tree never waits for a
//! change in another, changes in one tree wait for each other, and a lock taken while a
//! tree's root changed ends up on the tree the account is in once the lock is held.

use std::sync::Arc;
use std::time::Duration;

use accountd_domain::{
    Account, AccountId, KeySealer, NewAccountInput, Principal, RequestInfo, SealingKey, Services, Transaction,
    UnitOfWork,
};
use accountd_postgres::{PgStore, PoolConfig};

/// Long enough for a loaded machine; a lock that should not wait never gets near it.
const PATIENCE: Duration = Duration::from_secs(20);

async fn setup() -> (PgStore, Services) {
    let options = accountd_postgres::testing::fresh_schema().await;
    let store = PgStore::connect_with(options, PoolConfig { max_connections: 8, ..PoolConfig::DEFAULT })
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let sealer = Arc::new(KeySealer::new(&SealingKey::generate().expect("randomness")));
    let services = Services::with_defaults(Arc::new(store.clone()), sealer);
    (store, services)
}

async fn agency(services: &Services, name: &str, parent: Option<AccountId>) -> Account {
    let input = NewAccountInput {
        name: Some(name.into()),
        account_type: Some("agency".into()),
        parent_id: parent.map(|p| p.to_string()),
        ..Default::default()
    };
    let system = Principal::system(RequestInfo::default());
    let created = services.accounts.create(&system, input.validate().expect("valid"), None).await;
    created.expect("create").value.account
}

/// Locks the trees of `accounts` in a new transaction on a task of its own, and hands the
/// transaction back once the lock is held.
fn lock_in_background(store: &PgStore, accounts: Vec<AccountId>) -> tokio::task::JoinHandle<Box<dyn Transaction>> {
    let store = store.clone();
    tokio::spawn(async move {
        let mut tx = store.begin().await.expect("begin");
        tx.lock_trees(&accounts).await.expect("lock");
        tx
    })
}

/// Waits until some transaction waits for the lock of the tree whose root is `root`.
async fn until_waiting_on(store: &PgStore, root: AccountId) {
    let started = std::time::Instant::now();
    loop {
        let (waiting,): (i64,) = sqlx::query_as(
            "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND classid = 7402 AND NOT granted \
             AND objid::bigint = (hashtext($1)::bigint & 4294967295)",
        )
        .bind(root.to_string())
        .fetch_one(store.pool())
        .await
        .expect("pg_locks");
        if waiting > 0 {
            return;
        }
        assert!(started.elapsed() < PATIENCE, "nobody waits on the tree of {root}");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

#[tokio::test]
async fn changes_in_different_trees_do_not_wait_for_each_other_and_one_tree_serializes() {
    let (store, services) = setup().await;
    let a = agency(&services, "A", None).await;
    let a_kid = agency(&services, "A kid", Some(a.id)).await;
    let b = agency(&services, "B", None).await;
    let b_kid = agency(&services, "B kid", Some(b.id)).await;

    let mut first = store.begin().await.expect("begin");
    first.lock_trees(&[a_kid.id]).await.expect("lock tree A");
    // Tree B is free while tree A is held.
    let other_tree = tokio::time::timeout(PATIENCE, lock_in_background(&store, vec![b_kid.id])).await;
    let other_tree = other_tree.expect("tree B is not held by tree A's lock").expect("task");
    // Tree A is not: a change at its root waits for the first transaction.
    let same_tree = lock_in_background(&store, vec![a.id]);
    until_waiting_on(&store, a.id).await;
    assert!(!same_tree.is_finished(), "a second change in tree A waits");
    first.commit().await.expect("commit");
    let same_tree = tokio::time::timeout(PATIENCE, same_tree).await.expect("tree A is free after the commit");
    same_tree.expect("task").commit().await.expect("commit");
    other_tree.commit().await.expect("commit");
}

#[tokio::test]
async fn a_lock_that_waited_while_its_tree_moved_holds_the_tree_it_moved_into() {
    let (store, services) = setup().await;
    let a = agency(&services, "A", None).await;
    let a_kid = agency(&services, "A kid", Some(a.id)).await;
    let b = agency(&services, "B", None).await;
    let b_kid = agency(&services, "B kid", Some(b.id)).await;

    // The first transaction moves tree A, root and all, under B's child: A's accounts join tree B.
    let mut mover = store.begin().await.expect("begin");
    mover.lock_trees(&[a.id, b_kid.id]).await.expect("lock trees A and B");
    let current = mover.find_account(a.id).await.expect("read").expect("A");
    let moved = mover
        .move_subtree(&current, current.version, &[b.id, b_kid.id], chrono::Utc::now())
        .await
        .expect("move")
        .expect("A at its version");
    assert_eq!(moved.len(), 2, "A and its child moved");

    // Meanwhile a change under A's child reads the root A and waits for tree A's lock.
    let waiting = lock_in_background(&store, vec![a_kid.id]);
    until_waiting_on(&store, a.id).await;
    mover.commit().await.expect("commit the move");

    // Once it holds A's lock it finds A's child in tree B, and takes that lock too.
    let holder = tokio::time::timeout(PATIENCE, waiting).await.expect("the waiter gets its locks").expect("task");
    let in_b = lock_in_background(&store, vec![b.id]);
    until_waiting_on(&store, b.id).await;
    assert!(!in_b.is_finished(), "tree B, where A's child now is, is held by the waiter");
    holder.commit().await.expect("commit");
    tokio::time::timeout(PATIENCE, in_b)
        .await
        .expect("tree B is free again")
        .expect("task")
        .commit()
        .await
        .expect("commit");

    let kid = services.accounts.get(&Principal::system(RequestInfo::default()), a_kid.id).await.expect("A's child");
    assert_eq!(kid.hierarchy, vec![b.id, b_kid.id, a.id], "A's child is in tree B");
}
