//! The store conformance suite, run against PostgreSQL: one fresh schema per test.

use std::sync::Arc;

use accountd_domain::Store;

async fn fresh_store() -> Arc<dyn Store> {
    Arc::new(accountd_postgres::testing::fresh_store().await)
}

accountd_domain::store_conformance_tests!(fresh_store);
