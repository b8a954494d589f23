//! accountd's store, written once and compiled once per database: `crate::postgres` and
//! `crate::sqlite` each include this module (by `#[path]`) next to their own `dialect`
//! module, so [`Db`], the statement that begins a write transaction, the row-lock clause and
//! the rest are that database's wherever this code names them. One submodule per port area;
//! the structs, the unit of work and the [`Store`] port live here.

mod accounts;
mod aliases;
mod audit;
mod billing;
mod events;
mod idempotency;
mod identity;
mod mfa;

use std::sync::Arc;

use accountd_domain::{ChangeHub, Fact, Page, PageRequest, Store, Transaction, UnitOfWork};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use uuid::Uuid;

use super::dialect::{self, Db};
use crate::Context as _;
use crate::paging::{after, limit, page_of};

/// accountd's storage on this database: reads on the pool, writes in transactions.
#[derive(Clone)]
pub struct SqlStore {
    pool: sqlx::Pool<Db>,
    hub: Arc<ChangeHub>,
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(dialect::STORE).field("pool", &self.pool).field("changes", &self.hub).finish()
    }
}

impl SqlStore {
    /// Wraps a pool whose database is already migrated. On PostgreSQL this starts the
    /// listener that hears other instances' changes (`crate::listen`), on a connection of
    /// its own.
    pub fn from_pool(pool: sqlx::Pool<Db>) -> Self {
        let hub = dialect::change_hub(&pool);
        Self { pool, hub }
    }

    /// A handle on the store's change hub that lives no longer than the store: tasks that
    /// serve the store (the PostgreSQL failover supervisor) end once it upgrades no more.
    #[allow(dead_code, reason = "only the PostgreSQL store has such tasks")]
    pub(crate) fn hub_handle(&self) -> std::sync::Weak<ChangeHub> {
        Arc::downgrade(&self.hub)
    }

    pub fn pool(&self) -> &sqlx::Pool<Db> {
        &self.pool
    }

    /// One page of what `sql` lists under one owner (an account's children, a user's
    /// memberships, …): `sql` takes the owner's id as `$1`, the id the page starts after as
    /// `$2` and the row limit as `$3`, and selects rows `R` that convert to `T`.
    async fn page_under<R, T>(
        &self,
        sql: &'static str,
        owner: Uuid,
        page: PageRequest,
        what: &'static str,
        key: fn(&T) -> Uuid,
    ) -> anyhow::Result<Page<T>>
    where
        R: for<'r> sqlx::FromRow<'r, <Db as sqlx::Database>::Row> + Send + Unpin,
        T: TryFrom<R, Error = anyhow::Error>,
    {
        let rows: Vec<R> = sqlx::query_as(sql)
            .bind(owner)
            .bind(after(page))
            .bind(limit(page))
            .fetch_all(&self.pool)
            .await
            .context(what)?;
        page_of(rows, page, key)
    }
}

/// `count` placeholders numbered from `$first` on, comma-separated: a list of values to
/// bind, never the values themselves.
pub(crate) fn placeholders(first: usize, count: usize) -> String {
    (first..first + count).map(|i| format!("${i}")).collect::<Vec<_>>().join(", ")
}

/// One write transaction; dropping it rolls back.
pub struct SqlTransaction {
    tx: sqlx::Transaction<'static, Db>,
    hub: Arc<ChangeHub>,
    /// What its writes altered, announced once it commits.
    facts: Vec<Fact>,
    /// Whether it appended an audit event (followers of the trail wake on its commit).
    audited: bool,
}

impl SqlTransaction {
    /// Remembers that this transaction's writes alter `fact` (see the `Transaction` port).
    fn alters(&mut self, fact: Fact) {
        if !self.facts.contains(&fact) {
            self.facts.push(fact);
        }
    }
}

impl std::fmt::Debug for SqlTransaction {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(dialect::TRANSACTION)
    }
}

#[async_trait]
impl UnitOfWork for SqlStore {
    async fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
        let tx = self.pool.begin_with(dialect::BEGIN).await.context("beginning a transaction")?;
        Ok(Box::new(SqlTransaction { tx, hub: self.hub.clone(), facts: Vec::new(), audited: false }))
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn commit(self: Box<Self>) -> anyhow::Result<()> {
        let Self { mut tx, hub, facts, audited } = *self;
        let announced = audited || !facts.is_empty();
        if announced {
            // Other instances hear it once, and only if, the transaction commits.
            dialect::notify(&mut tx, &hub, &facts).await?;
        }
        let outcome = tx.commit().await.context("committing a transaction");
        if announced {
            // Even when the outcome is unknown: dropping a cache entry is never wrong.
            hub.committed(&facts);
        }
        outcome
    }
}

#[async_trait]
impl Store for SqlStore {
    fn changes(&self) -> &ChangeHub {
        &self.hub
    }

    async fn ping(&self) -> anyhow::Result<()> {
        sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the database")?;
        Ok(())
    }

    async fn purge_idempotency_records(&self, not_before: DateTime<Utc>, limit: u32) -> anyhow::Result<u64> {
        // Bounded by the subquery's LIMIT (the created_at index finds the rows),
        // autocommitted on the pool: no creation's transaction waits on it.
        let done = sqlx::query(
            "DELETE FROM idempotency_keys WHERE (scope, key) IN \
             (SELECT scope, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)",
        )
        .bind(not_before)
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .context("purging expired idempotency records")?;
        Ok(done.rows_affected())
    }
}
