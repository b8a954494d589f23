//! Test support the REST and gRPC integration suites share, so both stand on the same ground:
//! a fresh database per test on SQLite or PostgreSQL, the domain's services over it with a
//! bootstrapped root user, and [`trail`], which tells whether a request stored anything.
//! Each suite puts its own wire (an in-process router, a server on a loopback port) on top.
//! A dev-dependency only: never part of a binary.

use std::path::Path;
use std::sync::Arc;

use accountd_domain::{
    AccountId, AuditQuery, EmailAddress, KeySealer, PageRequest, Principal, RequestInfo, SealingKey, Services, Store,
};
/// The store [`closable`] hands over, for a test to name.
pub use accountd_sqlite::SqliteStore;
/// The directory a [`Fixture`]'s files live in, for a suite that keeps it past the fixture.
pub use tempfile::TempDir;

/// The stores a test can run on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    /// A fresh schema on the test server (`accountd_postgres::testing`: `DATABASE_URL`, or
    /// 127.0.0.1:5432; it fails rather than skips when there is none).
    Postgres,
}

pub const BACKENDS: [Backend; 2] = [Backend::Sqlite, Backend::Postgres];

/// What a test's wire stands on: a fresh store, the services over it, and the root user's
/// platform token.
#[derive(Debug)]
pub struct Fixture {
    pub store: Arc<dyn Store>,
    pub services: Services,
    /// The bootstrap root user's platform token.
    pub root_token: String,
    /// Holds the store's files, if any, for as long as the test runs.
    pub dir: TempDir,
}

/// A fixture over a fresh database of `backend`.
pub async fn fresh(backend: Backend) -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let store: Arc<dyn Store> = match backend {
        Backend::Sqlite => Arc::new(sqlite_store(dir.path()).await),
        Backend::Postgres => Arc::new(accountd_postgres::testing::fresh_store().await),
    };
    bootstrap(store, dir).await
}

/// A migrated SQLite store in `dir`.
async fn sqlite_store(dir: &Path) -> SqliteStore {
    let store = SqliteStore::connect(&dir.join("test.db").to_string_lossy()).await.expect("open sqlite");
    store.migrate().await.expect("migrate");
    store
}

/// A fixture over SQLite whose store the test keeps too, to close its pool under the wire
/// (the unavailable-database tests).
pub async fn closable() -> (SqliteStore, Fixture) {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = sqlite_store(dir.path()).await;
    (store.clone(), bootstrap(Arc::new(store), dir).await)
}

/// A fixture over `store` (its files, if any, in `dir`), with a bootstrapped root user.
pub async fn bootstrap(store: Arc<dyn Store>, dir: TempDir) -> Fixture {
    let services =
        Services::with_defaults(store.clone(), Arc::new(KeySealer::new(&SealingKey::generate().expect("randomness"))));
    let root = services
        .users
        .bootstrap(&Principal::system(RequestInfo::default()), EmailAddress::parse("root@example.com").expect("valid"))
        .await
        .expect("bootstrap");
    Fixture { store, services, root_token: root.secret.expose().to_owned(), dir }
}

/// How many audit events `account` and the platform have: every write appends at least one
/// in its own transaction, so the count says how many resources were made, and an unchanged
/// count that nothing was stored.
pub async fn trail(store: &Arc<dyn Store>, account: &str) -> usize {
    let page = PageRequest::parse(Some(1000), None).expect("page");
    let account = AccountId::parse(account, "account").expect("id");
    let mut n = 0;
    for scope in [Some(account), None] {
        let query = AuditQuery::all_of(scope, page);
        n += store.list_audit_events(&query).await.expect("audit").items.len();
    }
    n
}
