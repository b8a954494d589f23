//! accountd's store on SQLite, the embedded default: one file, WAL journal, foreign keys on,
//! write transactions opened with `BEGIN IMMEDIATE` so concurrent writers queue for the lock
//! (up to the busy timeout) instead of failing.
//!
//! Everything SQLite does differently from PostgreSQL is named here: the `dialect` the
//! shared store is compiled against, how to open the file, and the migrations.

// The one store, compiled here against this file's `dialect`: loading it once per database
// is the point, not the mistake clippy's `duplicate_mod` guards against.
#[allow(clippy::duplicate_mod)]
#[path = "store/mod.rs"]
mod store;

pub use store::{SqlStore as SqliteStore, SqlTransaction as SqliteTransaction};

use std::str::FromStr;
use std::time::Duration;

use sqlx::migrate::Migrator;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use crate::{Context as _, PoolConfig};

/// The tokens of the store's SQL that SQLite spells its own way.
pub(crate) mod dialect {
    use crate::violations::is_unique_violation;

    pub(crate) type Db = sqlx::Sqlite;

    /// What the store and its transactions call themselves in `Debug` output.
    pub(crate) const STORE: &str = "SqliteStore";
    pub(crate) const TRANSACTION: &str = "SqliteTransaction";

    /// `BEGIN IMMEDIATE` takes the database's write lock up front, so writers queue instead
    /// of failing when a read transaction would upgrade to a write.
    pub(crate) const BEGIN: &str = "BEGIN IMMEDIATE";

    /// The key an account search orders and ranges by: the lowercased name, compared as
    /// its index (migration 0011) compares it, so a prefix is one range of that index.
    pub(crate) const NAME_KEY: &str = "lower(name)";

    /// No row lock: the transaction holds the whole database's write lock already (and
    /// SQLite has no `FOR UPDATE`).
    pub(crate) const ROW_LOCK: &str = "";

    /// No tree lock either, for the same reason: the write lock serializes the tree's changes.
    pub(crate) async fn lock_trees(
        _tx: &mut sqlx::Transaction<'static, Db>,
        _accounts: &[accountd_domain::AccountId],
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// True when `err` says an alias address is taken: SQLite names the index's columns.
    pub(crate) fn is_address_conflict(err: &sqlx::Error) -> bool {
        is_unique_violation(err)
            && matches!(err, sqlx::Error::Database(db) if db.message().contains("aliases.domain_id, aliases.local_part"))
    }

    /// One process writes an SQLite file: its own commits are all its cache must hear.
    pub(crate) fn change_hub(_pool: &sqlx::SqlitePool) -> std::sync::Arc<accountd_domain::ChangeHub> {
        std::sync::Arc::new(accountd_domain::ChangeHub::local(accountd_domain::DEFAULT_DECISION_CACHE_CAPACITY))
    }

    /// No other process to tell: the hub hears the commit from the transaction itself.
    pub(crate) async fn notify(
        _tx: &mut sqlx::Transaction<'static, Db>,
        _hub: &accountd_domain::ChangeHub,
        _facts: &[accountd_domain::Fact],
    ) -> anyhow::Result<()> {
        Ok(())
    }

    /// The feed position of an event appended in a transaction: one writer at a time (the
    /// write lock of `BEGIN IMMEDIATE`), so the next sequence number is commit order
    /// (migration 0012).
    pub(crate) const FEED_XACT: &str = "0";
    pub(crate) const FEED_SEQ: &str = "(SELECT coalesce(max(seq), 0) + 1 FROM audit_events)";

    /// Every committed event is settled: nothing committed later can take a smaller seq.
    pub(crate) const FEED_SETTLED: &str = "";

    /// Whether the event's action is in the comma-separated list `$4` (empty: any).
    pub(crate) const FEED_TYPES: &str = " AND ($4 = '' OR instr(',' || $4 || ',', ',' || action || ',') > 0)";
}

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/sqlite");

/// How long a connection waits for SQLite's write lock before failing (as BUSY: 503).
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// SQLite's pool: 8 connections, and a request waits for one as long as a connection waits
/// for the write lock. The database is a local file that cannot go away the way a server
/// can; its connections are only busy, and waiting is the right answer to that (the short
/// acquire timeout of [`PoolConfig::DEFAULT`] is for a PostgreSQL server that went away).
pub const DEFAULT_POOL: PoolConfig = PoolConfig {
    max_connections: 8,
    acquire_timeout: BUSY_TIMEOUT,
    idle_ping_after: BUSY_TIMEOUT,
    statement_timeout: None,
};

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
