//! Test support: a fresh, migrated schema per test on the server named by `DATABASE_URL`
//! (default `postgres://postgres@127.0.0.1:5432/postgres`), so tests run in parallel.
//!
//! There is deliberately no way to skip: a test that needs PostgreSQL and finds none fails
//! with a message saying how to provide one (`cargo xtask test` finds or starts a server).

use std::str::FromStr;
use std::sync::OnceLock;

use sqlx::Connection;
use sqlx::postgres::{PgConnectOptions, PgConnection};
use uuid::Uuid;

use crate::PgStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";
const SCHEMA_PREFIX: &str = "accountd_test_";

/// The server tests use.
pub fn database_url() -> String {
    std::env::var("DATABASE_URL").ok().filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_URL.to_owned())
}

/// A new schema, named after a UUIDv7 so its age is readable from its name; returns the
/// connect options that put it first on the search path.
pub async fn fresh_schema() -> PgConnectOptions {
    let (url, schema) = create_schema().await;
    PgConnectOptions::from_str(&url).expect("valid DATABASE_URL").options([("search_path", schema.as_str())])
}

/// Like [`fresh_schema`], as a URL another process (the `accountd` binary) can be given.
pub async fn fresh_schema_url() -> String {
    let (url, schema) = create_schema().await;
    let separator = if url.contains('?') { '&' } else { '?' };
    format!("{url}{separator}options=-csearch_path%3D{schema}")
}

async fn create_schema() -> (String, String) {
    let url = database_url();
    let mut admin = PgConnection::connect(&url).await.unwrap_or_else(|e| {
        panic!(
            "PostgreSQL tests need a server at {url} ({e}); run `cargo xtask test`, which finds or starts one, \
             or set DATABASE_URL"
        )
    });
    drop_stale_schemas(&mut admin).await;
    let schema = format!("{SCHEMA_PREFIX}{}", Uuid::now_v7().simple());
    sqlx::query(sqlx::AssertSqlSafe(format!("CREATE SCHEMA {schema}")))
        .execute(&mut admin)
        .await
        .expect("create test schema");
    (url, schema)
}

/// A migrated store in a fresh schema.
pub async fn fresh_store() -> PgStore {
    let store = PgStore::connect_with(
        fresh_schema().await,
        crate::PoolConfig { max_connections: 4, ..crate::PoolConfig::DEFAULT },
    )
    .await
    .expect("connect to the test schema");
    store.migrate().await.expect("migrate the test schema");
    store
}

/// Drops test schemas older than an hour, once per process, so repeated runs do not pile up.
async fn drop_stale_schemas(admin: &mut PgConnection) {
    static DONE: OnceLock<()> = OnceLock::new();
    if DONE.set(()).is_err() {
        return;
    }
    let names: Vec<(String,)> = sqlx::query_as("SELECT nspname::text FROM pg_namespace WHERE starts_with(nspname, $1)")
        .bind(SCHEMA_PREFIX)
        .fetch_all(&mut *admin)
        .await
        .unwrap_or_default();
    let cutoff = chrono::Utc::now().timestamp() - 3600;
    for (name,) in names {
        let created = Uuid::try_parse(&name[SCHEMA_PREFIX.len()..])
            .ok()
            .and_then(|u| u.get_timestamp())
            .map(|t| t.to_unix().0 as i64);
        if created.is_some_and(|t| t < cutoff) {
            // Another process may be dropping it too; losing that race is fine.
            let _ = sqlx::query(sqlx::AssertSqlSafe(format!("DROP SCHEMA IF EXISTS {name} CASCADE")))
                .execute(&mut *admin)
                .await;
        }
    }
}
