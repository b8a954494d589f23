//! SQLite storage adapter: the embedded default. One file, WAL journal, foreign keys on,
//! write transactions opened with `BEGIN IMMEDIATE` so concurrent writers queue for the
//! lock (up to the busy timeout) instead of failing.

use std::str::FromStr;
use std::time::Duration;

use accountd_sql::Context as _;
pub use accountd_sql::PoolConfig;
use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

accountd_sql::impl_store!(
    store: SqliteStore,
    transaction: SqliteTransaction,
    database: sqlx::Sqlite,
    begin: "BEGIN IMMEDIATE",
    lock: "",
    hierarchy_lock: "",
);

accountd_sql::impl_mfa_store!(store: SqliteStore, transaction: SqliteTransaction, lock: "");

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a connection waits for SQLite's write lock before failing (as BUSY: 503).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's pool: 8 connections, and a request waits for one as long as a connection waits
/// for the write lock. The database is a local file that cannot go away the way a server
/// can; its connections are only busy, and waiting is the right answer to that (the short
/// acquire timeout of [`PoolConfig::DEFAULT`] is for a PostgreSQL server that went away).
pub const DEFAULT_POOL: PoolConfig =
    PoolConfig { max_connections: 8, acquire_timeout: BUSY_TIMEOUT, idle_ping_after: BUSY_TIMEOUT };

impl SqliteStore {
    /// Opens the database at `url` — `sqlite:path`, `sqlite://path` or a bare file path —
    /// creating the file when it is missing, with [`DEFAULT_POOL`]. Does not migrate; see
    /// [`SqliteStore::migrate`].
    pub async fn connect(url: &str) -> anyhow::Result<Self> {
        Self::connect_with(url, DEFAULT_POOL).await
    }

    /// Like [`SqliteStore::connect`] with `pool`'s size and acquire timeout. The file lives
    /// in this process, so its connections do not die while idle and need no ping.
    pub async fn connect_with(url: &str, pool: PoolConfig) -> anyhow::Result<Self> {
        let options = if url.starts_with("sqlite:") {
            SqliteConnectOptions::from_str(url).with_context(|| format!("parsing database url {url}"))?
        } else {
            SqliteConnectOptions::new().filename(url)
        };
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(SqliteSynchronous::Normal)
            .busy_timeout(BUSY_TIMEOUT)
            .foreign_keys(true);
        let pool = SqlitePoolOptions::new()
            .max_connections(pool.max_connections)
            .acquire_timeout(pool.acquire_timeout)
            .connect_with(options)
            .await
            .with_context(|| format!("opening the SQLite database {url}"))?;
        Ok(Self::from_pool(pool))
    }

    /// Applies every migration not yet applied.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        MIGRATOR.run(self.pool()).await.context("migrating the SQLite database")
    }
}
