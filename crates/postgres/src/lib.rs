//! PostgreSQL storage adapter, for production and for any number of accountd instances
//! sharing one database. Under the default READ COMMITTED, every account a write transaction
//! reads is locked `FOR UPDATE`, and every `UPDATE` is version-checked besides.

#[cfg(feature = "testing")]
pub mod testing;

use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

accountd_sql::impl_store!(
    store: PgStore,
    transaction: PgTransaction,
    database: sqlx::Postgres,
    begin: "BEGIN",
    lock: " FOR UPDATE",
    // One transaction-scoped advisory lock serializes changes to the tree's shape.
    hierarchy_lock: "SELECT pg_advisory_xact_lock(7402531180)",
);

accountd_sql::impl_mfa_store!(store: PgStore, transaction: PgTransaction, lock: " FOR UPDATE");

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

/// Connections per instance unless the operator says otherwise: enough to keep a few
/// cores busy, few enough that many instances fit under PostgreSQL's `max_connections`.
pub const DEFAULT_POOL_SIZE: u32 = 16;

impl PgStore {
    /// Connects to `url` (`postgres://…`, with `sslmode` and the other libpq parameters).
    /// Does not migrate; see [`PgStore::migrate`].
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url).context("parsing the PostgreSQL url")?;
        Self::connect_with(options, DEFAULT_POOL_SIZE).await
    }

    pub async fn connect_with(options: PgConnectOptions, max_connections: u32) -> anyhow::Result<Self> {
        let pool = PgPoolOptions::new()
            .max_connections(max_connections)
            // sqlx pings every connection it hands out by default: a round trip before each
            // statement, which doubled the round trips of a GET (docs/benchmarks.md). A
            // connection that died while idle fails its next statement instead, and the
            // pool drops it; the readiness probe's ping still notices a lost database.
            .test_before_acquire(false)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        Ok(Self::from_pool(pool))
    }

    /// Applies every migration not yet applied. Safe to run from several instances at once:
    /// sqlx serializes them with an advisory lock.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(self.pool()).await.context("migrating the PostgreSQL database")
    }
}
