//! accountd's store, written once and compiled once per database: `crate::postgres` and
//! `crate::sqlite` each include this module (by `#[path]`) next to their own `dialect`
//! module, so [`Db`], the statement that begins a write transaction, the row-lock clause and
//! the rest are that database's wherever this code names them. One submodule per port area;
//! the structs, the unit of work and the [`Store`] port live here.

mod accounts;
mod aliases;
mod audit;
mod billing;
mod idempotency;
mod identity;
mod mfa;

use accountd_domain::{Page, PageRequest, Store, Transaction, UnitOfWork};
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
}

impl std::fmt::Debug for SqlStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct(dialect::STORE).field("pool", &self.pool).finish()
    }
}

impl SqlStore {
    /// Wraps a pool whose database is already migrated.
    pub fn from_pool(pool: sqlx::Pool<Db>) -> Self {
        Self { pool }
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

/// One write transaction; dropping it rolls back.
pub struct SqlTransaction {
    tx: sqlx::Transaction<'static, Db>,
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
        Ok(Box::new(SqlTransaction { tx }))
    }
}

#[async_trait]
impl Transaction for SqlTransaction {
    async fn commit(self: Box<Self>) -> anyhow::Result<()> {
        self.tx.commit().await.context("committing a transaction")
    }
}

#[async_trait]
impl Store for SqlStore {
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
