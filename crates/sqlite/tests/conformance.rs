//! The store conformance suite, run against SQLite: one fresh database file per test.

use std::sync::Arc;

use accountd_domain::Store;
use accountd_sqlite::SqliteStore;

async fn fresh_store() -> Arc<dyn Store> {
    // The directory lives as long as the test process; each test gets its own file in it.
    let dir = tempfile::tempdir().expect("temp dir").keep();
    let store = SqliteStore::connect(&dir.join("accountd.db").to_string_lossy()).await.expect("open sqlite");
    store.migrate().await.expect("migrate");
    Arc::new(store)
}

accountd_domain::store_conformance_tests!(fresh_store);
