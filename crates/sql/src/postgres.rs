//! accountd's store on PostgreSQL, for production and for any number of accountd instances
//! sharing one database. Under the default READ COMMITTED, every row a write transaction
//! reads to change is locked `FOR UPDATE`, and every `UPDATE` is version-checked besides.
//!
//! Everything PostgreSQL does differently from SQLite is named here: the `dialect` the
//! shared store is compiled against, how to connect, and the migrations.

// The one store, compiled here against this file's `dialect`: loading it once per database
// is the point, not the mistake clippy's `duplicate_mod` guards against.
#[allow(clippy::duplicate_mod)]
#[path = "store/mod.rs"]
mod store;

pub use store::{SqlStore as PgStore, SqlTransaction as PgTransaction};

use std::sync::Arc;

use sqlx::Connection;
use sqlx::migrate::Migrator;
use sqlx::postgres::{PgConnectOptions, PgConnection, PgPoolOptions};

use crate::failover::Failover;
pub use crate::hosts::{InvalidDatabaseUrl, NoMatchingHost, TargetSessionAttrs, Topology};
use crate::{Context as _, PoolConfig};

/// The tokens of the store's SQL that PostgreSQL spells its own way.
pub(crate) mod dialect {
    use crate::violations::is_unique_violation;

    pub(crate) type Db = sqlx::Postgres;

    /// What the store and its transactions call themselves in `Debug` output.
    pub(crate) const STORE: &str = "PgStore";
    pub(crate) const TRANSACTION: &str = "PgTransaction";

    /// A write transaction takes no lock up front: rows are locked as they are read.
    pub(crate) const BEGIN: &str = "BEGIN";

    /// The key an account search orders and ranges by: the lowercased name, compared as
    /// its index (migration 0011) compares it, so a prefix is one range of that index.
    pub(crate) const NAME_KEY: &str = "lower(name) COLLATE \"C\"";

    /// Locks a row read in a transaction (a parent about to get a child, an account about to
    /// change), so it cannot change under the transaction.
    pub(crate) const ROW_LOCK: &str = " FOR UPDATE";

    /// Locks the trees of `accounts` until the transaction ends: one transaction-scoped
    /// advisory lock per tree, keyed by its root's id (the first segment of every path in
    /// it), so changes in different trees never wait for each other. The two-key form of the
    /// lock (7402, the root's `hashtext`) keeps these keys apart from one-key
    /// advisory locks such as sqlx's migration lock; two roots sharing a hash merely share a
    /// lock.
    ///
    /// One statement reads the roots and locks them in ascending key order (PostgreSQL
    /// evaluates a volatile select list after `ORDER BY`), the fixed order that keeps two
    /// movers of the same two trees from deadlocking. The roots were read before the wait:
    /// a move or delete that held a lock meanwhile may have put an account in another tree,
    /// so the statement runs again, under a new snapshot, until every tree it names is
    /// already held. A tree found in that second round with a key below one held breaks the
    /// order; PostgreSQL detects the deadlock that can then arise (40P01), which the store
    /// reports as contention (409) instead of waiting forever.
    pub(crate) async fn lock_trees(
        tx: &mut sqlx::Transaction<'static, Db>,
        accounts: &[accountd_domain::AccountId],
    ) -> anyhow::Result<()> {
        use crate::Context as _;
        if accounts.is_empty() {
            return Ok(());
        }
        // `id = $1` for one account, `id IN ($1, $2)` for two: the shapes the bench's SQL
        // capture reads (bench/src/capture.rs). Placeholders only: every value is bound.
        let ids = match accounts.len() {
            1 => "= $1".to_owned(),
            n => format!("IN ({})", super::store::placeholders(1, n)),
        };
        let lock = format!(
            "SELECT hashtext(split_part(path, '/', 1)) AS k, \
             pg_advisory_xact_lock(7402, hashtext(split_part(path, '/', 1)))::text \
             FROM accounts WHERE id {ids} GROUP BY 1 ORDER BY 1"
        );
        let mut held = std::collections::BTreeSet::new();
        loop {
            let mut query = sqlx::query_as::<_, (i32, String)>(sqlx::AssertSqlSafe(lock.as_str()));
            for id in accounts {
                query = query.bind(id.as_uuid());
            }
            let keys = query.fetch_all(&mut **tx).await.context("locking account trees")?;
            let before = held.len();
            held.extend(keys.into_iter().map(|(key, _)| key));
            if held.len() == before {
                return Ok(());
            }
        }
    }

    /// True when `err` says an alias address is taken: PostgreSQL names the unique index.
    pub(crate) fn is_address_conflict(err: &sqlx::Error) -> bool {
        is_unique_violation(err)
            && matches!(err, sqlx::Error::Database(db) if db.constraint() == Some("aliases_address_key"))
    }

    /// Other instances write the same database: the hub starts lost and is restored once
    /// the listener (`crate::listen`) hears their notifications. Outside a tokio runtime no
    /// listener can run, and the hub stays lost: the store then never caches.
    pub(crate) fn change_hub(pool: &sqlx::PgPool) -> std::sync::Arc<accountd_domain::ChangeHub> {
        let hub =
            std::sync::Arc::new(accountd_domain::ChangeHub::shared(accountd_domain::DEFAULT_DECISION_CACHE_CAPACITY));
        if tokio::runtime::Handle::try_current().is_ok() {
            crate::listen::spawn(pool.clone(), &hub);
        }
        hub
    }

    /// Tells every listening instance what the transaction altered: a notification is
    /// delivered when, and only if, the transaction commits.
    pub(crate) async fn notify(
        tx: &mut sqlx::Transaction<'static, Db>,
        hub: &accountd_domain::ChangeHub,
        facts: &[accountd_domain::Fact],
    ) -> anyhow::Result<()> {
        use crate::Context as _;
        sqlx::query("SELECT pg_notify($1, $2)")
            .bind(crate::announce::CHANNEL)
            .bind(crate::announce::encode(hub.origin(), facts))
            .execute(&mut **tx)
            .await
            .context("announcing a change")?;
        Ok(())
    }

    /// The feed position of an event appended in a transaction: the writing transaction's
    /// id, then a sequence number (migration 0012 says why both).
    pub(crate) const FEED_XACT: &str = "pg_current_xact_id()::text::bigint";
    pub(crate) const FEED_SEQ: &str = "nextval('audit_events_seq')";

    /// Only events of transactions below the oldest one still running: every such
    /// transaction has ended, so no event can still appear before one returned.
    pub(crate) const FEED_SETTLED: &str = " AND xact_id < pg_snapshot_xmin(pg_current_snapshot())::text::bigint";

    /// Whether the event's action is in the comma-separated list `$4` (empty: any).
    pub(crate) const FEED_TYPES: &str = " AND ($4 = '' OR strpos(',' || $4 || ',', ',' || action || ',') > 0)";
}

static MIGRATOR: Migrator = sqlx::migrate!("../../migrations/postgres");

impl PgStore {
    /// Connects to `url` (`postgres://…`, with `sslmode` and the other libpq parameters),
    /// which may name several hosts and a `target_session_attrs` as libpq's URLs do
    /// ([`Topology`]): the pool then connects to the first host of the wanted role, and
    /// follows the role to another host after a failover (`crate::failover`). Does not
    /// migrate; see [`PgStore::migrate`].
    pub async fn connect(url: &str, pool: PoolConfig) -> anyhow::Result<Self> {
        let topology = Topology::parse(url)?;
        Self::connect_to(topology, pool).await
    }

    /// Connects to the one server `options` name, with no role check.
    pub async fn connect_with(options: PgConnectOptions, pool: PoolConfig) -> anyhow::Result<Self> {
        let options = with_statement_timeout(options, pool);
        let pool = pool_options(pool, None).connect_with(options).await.context("connecting to PostgreSQL")?;
        Ok(Self::from_pool(pool))
    }

    /// Connects to the hosts of `topology`, as [`PgStore::connect`] does with a URL.
    pub async fn connect_to(topology: Topology, pool: PoolConfig) -> anyhow::Result<Self> {
        if topology.is_plain() {
            return Self::connect_with(topology.first_options().clone(), pool).await;
        }
        let topology = topology.map_options(|options| with_statement_timeout(options, pool));
        let (index, options) = topology.select().await.context("connecting to PostgreSQL")?;
        let failover = Failover::new(topology, index);
        let pool = pool_options(pool, Some(failover.clone()))
            .connect_with(options)
            .await
            .context("connecting to PostgreSQL")?;
        let store = Self::from_pool(pool.clone());
        failover.supervise(pool, store.hub_handle());
        Ok(store)
    }

    /// The `application_name` of the connection on which this store listens for other
    /// instances' changes (`pg_stat_activity` shows it).
    pub fn listener_name(&self) -> String {
        crate::listen::application_name(accountd_domain::Store::changes(self).origin())
    }

    /// Applies every migration not yet applied. Safe to run from several instances at once:
    /// sqlx serializes them with an advisory lock.
    /// Runs on a connection of its own without the statement timeout, which is for requests:
    /// a migration of a large table may take longer.
    pub async fn migrate(&self) -> anyhow::Result<()> {
        let options = (*self.pool().connect_options()).clone().options([("statement_timeout", "0")]);
        let mut connection = PgConnection::connect_with(&options).await.context("connecting to migrate")?;
        let migrated = MIGRATOR.run(&mut connection).await.context("migrating the PostgreSQL database");
        let _ = connection.close().await;
        migrated
    }
}

/// `options` with the pool's statement timeout, when it has one.
fn with_statement_timeout(options: PgConnectOptions, pool: PoolConfig) -> PgConnectOptions {
    match pool.statement_timeout {
        Some(timeout) if !timeout.is_zero() => {
            options.options([("statement_timeout", format!("{}ms", timeout.as_millis()))])
        }
        _ => options,
    }
}

/// The pool's behaviour: its size and acquire timeout, the idle ping, and, for a URL of
/// several hosts or a target role, the role check of new connections and the closing of
/// connections opened before a switch of hosts.
fn pool_options(pool: PoolConfig, failover: Option<Arc<Failover>>) -> PgPoolOptions {
    let idle_ping_after = pool.idle_ping_after;
    let keep = failover.clone();
    let mut options = PgPoolOptions::new()
        .max_connections(pool.max_connections)
        // sqlx pings every connection it hands out by default: a round trip before each
        // statement, which doubled the round trips of a GET (docs/benchmarks.md). Only a
        // connection idle for a while is pinged instead: one that died while idle (the
        // server restarted) fails the ping, and the pool replaces it before any request
        // sees it. sqlx pings a connection on release too, so one that just served a
        // request is known alive; busy connections never pay the round trip.
        .test_before_acquire(false)
        .before_acquire(move |connection, meta| {
            let keep = keep.clone();
            Box::pin(async move {
                if keep.is_some_and(|failover| !failover.keeps(meta.age)) {
                    return Ok(false);
                }
                if meta.idle_for >= idle_ping_after {
                    connection.ping().await?;
                }
                Ok(true)
            })
        })
        .acquire_timeout(pool.acquire_timeout);
    if let Some(failover) = failover {
        options = options.after_connect(move |connection, _| {
            let failover = failover.clone();
            Box::pin(async move { failover.admit(connection).await })
        });
    }
    options
}
