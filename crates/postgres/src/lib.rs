//! PostgreSQL storage adapter, for production and for any number of accountd instances
//! sharing one database. Under the default READ COMMITTED, every account a write transaction
//! reads is locked `FOR UPDATE`, and every `UPDATE` is version-checked besides.

#[cfg(feature = "testing")]
pub mod testing;

use accountd_sql::Context as _;
use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use std::str::FromStr;

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

pub use accountd_sql::PoolConfig;

/// Connections per instance unless the operator says otherwise: enough to keep a few
/// cores busy, few enough that many instances fit under PostgreSQL's `max_connections`.
pub const DEFAULT_POOL_SIZE: u32 = PoolConfig::DEFAULT.max_connections;

impl PgStore {
    /// Connects to `url` (`postgres://…`, with `sslmode` and the other libpq parameters).
    /// Does not migrate; see [`PgStore::migrate`].
    pub async fn connect(url: &str, pool: PoolConfig) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url).context("parsing the PostgreSQL url")?;
        Self::connect_with(options, pool).await
    }

    pub async fn connect_with(options: PgConnectOptions, pool: PoolConfig) -> anyhow::Result<Self> {
        let idle_ping_after = pool.idle_ping_after;
        let pool = PgPoolOptions::new()
            .max_connections(pool.max_connections)
            // sqlx pings every connection it hands out by default: a round trip before each
            // statement, which doubled the round trips of a GET (docs/benchmarks.md). Only a
            // connection idle for a while is pinged instead: one that died while idle (the
            // server restarted) fails the ping, and the pool replaces it before any request
            // sees it. sqlx pings a connection on release too, so one that just served a
            // request is known alive; busy connections never pay the round trip.
            .test_before_acquire(false)
            .before_acquire(move |connection, meta| {
                Box::pin(async move {
                    if meta.idle_for >= idle_ping_after {
                        connection.ping().await?;
                    }
                    Ok(true)
                })
            })
            .acquire_timeout(pool.acquire_timeout)
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
