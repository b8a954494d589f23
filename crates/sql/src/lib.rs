//! The SQL that accountd's PostgreSQL and SQLite adapters share.
//!
//! Both databases accept the same statements here (`$n` placeholders, `RETURNING`,
//! `substr`, `ON CONFLICT … DO UPDATE … WHERE`), and sqlx decodes the same row types from
//! both, so the store is written
//! once, in [`impl_store!`], and each adapter instantiates it with its own pool type and the
//! few things that differ: how a write transaction begins and where its migrations live.

mod json;
mod rows;

pub use json::{changes_from_json, changes_to_json};
pub use rows::{AccountRow, AuditRow, IdempotencyRow, path_of, subtree_bounds};

/// Items the expansion of [`impl_store!`] needs, so adapter crates need not name them.
#[doc(hidden)]
pub mod __private {
    pub use accountd_domain as domain;
    pub use anyhow;
    pub use async_trait::async_trait;
    pub use chrono;
    pub use sqlx;
}

/// True when `err` is a foreign-key violation, which both databases report in kind.
pub fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.kind(), sqlx::error::ErrorKind::ForeignKeyViolation))
}

/// The columns of `accounts` that [`AccountRow`] reads.
#[macro_export]
#[doc(hidden)]
macro_rules! account_columns {
    () => {
        "id, name, account_type, status, owner_id, path, abuse_contact_email, enforce_twofactor, version, created_at, updated_at"
    };
}

/// `SELECT` [`account_columns!`] `FROM accounts`, then the given clauses.
#[macro_export]
#[doc(hidden)]
macro_rules! select_accounts {
    ($($tail:literal)*) => {
        concat!("SELECT ", $crate::account_columns!(), " FROM accounts " $(, $tail)*)
    };
}

/// The columns of `audit_events` that [`AuditRow`] reads, in a `SELECT … FROM audit_events`.
#[macro_export]
#[doc(hidden)]
macro_rules! select_audit_events {
    ($($tail:literal)*) => {
        concat!(
            "SELECT id, account_id, actor_type, actor_id, actor_email, action, outcome, resource_type, ",
            "resource_id, changes, request_ip, user_agent, request_id, occurred_at FROM audit_events "
            $(, $tail)*
        )
    };
}

/// Defines `$store` (the [`Store`](accountd_domain::ports::Store) over a `sqlx::Pool<$db>`)
/// and `$tx` (its [`Transaction`](accountd_domain::ports::Transaction)).
///
/// `begin` is the statement that opens a write transaction and `lock` the clause that locks a
/// row read inside one. SQLite: `BEGIN IMMEDIATE` takes the database's write lock up front,
/// so writers queue instead of failing on upgrade, and no row lock is needed (`""`).
/// PostgreSQL: `BEGIN` and `" FOR UPDATE"`, so an account read in a transaction (a parent
/// about to get a child, an account about to change) cannot change under it.
#[macro_export]
macro_rules! impl_store {
    (
        store: $store:ident,
        transaction: $tx:ident,
        database: $db:ty,
        begin: $begin:literal,
        lock: $lock:literal $(,)?
    ) => {
        /// accountd's storage on this database: reads on the pool, writes in transactions.
        #[derive(Clone, Debug)]
        pub struct $store {
            pool: $crate::__private::sqlx::Pool<$db>,
        }

        impl $store {
            /// Wraps a pool whose database is already migrated.
            pub fn from_pool(pool: $crate::__private::sqlx::Pool<$db>) -> Self {
                Self { pool }
            }

            pub fn pool(&self) -> &$crate::__private::sqlx::Pool<$db> {
                &self.pool
            }
        }

        /// One write transaction; dropping it rolls back.
        pub struct $tx {
            tx: $crate::__private::sqlx::Transaction<'static, $db>,
        }

        impl ::std::fmt::Debug for $tx {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(stringify!($tx))
            }
        }

        const _: () = {
            use $crate::__private::anyhow::{self, Context as _};
            use $crate::__private::domain::ports::{
                AccountRepository, AccountWrites, AuditRepository, AuditWrites, IdempotencyWrites, InsertAccountError,
                Store, Transaction, UnitOfWork,
            };
            use $crate::__private::domain::idempotency::{IdempotencyKey, IdempotencyRecord};
            use $crate::__private::domain::{Account, AccountId, AuditEvent, Page, PageRequest, Version};
            use $crate::__private::chrono::{DateTime, Utc};
            use $crate::__private::sqlx::{self, types::Json};
            use $crate::__private::async_trait;
            use $crate::{AccountRow, AuditRow, IdempotencyRow};

            fn accounts(rows: Vec<AccountRow>, page: PageRequest) -> anyhow::Result<Page<Account>> {
                let accounts = rows.into_iter().map(Account::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                Ok(Page::from_overfetch(accounts, page.size, |a| a.id.as_uuid()))
            }

            fn limit(page: PageRequest) -> i64 {
                i64::from(page.size.get()) + 1
            }

            #[async_trait]
            impl AccountRepository for $store {
                async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
                    let row: Option<AccountRow> = sqlx::query_as($crate::select_accounts!("WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading an account")?;
                    row.map(Account::try_from).transpose()
                }

                async fn list_accounts(&self, page: PageRequest) -> anyhow::Result<Page<Account>> {
                    let rows: Vec<AccountRow> = match page.after {
                        None => sqlx::query_as($crate::select_accounts!("ORDER BY id LIMIT $1"))
                            .bind(limit(page))
                            .fetch_all(&self.pool)
                            .await,
                        Some(cursor) => sqlx::query_as($crate::select_accounts!("WHERE id > $1 ORDER BY id LIMIT $2"))
                            .bind(cursor.key())
                            .bind(limit(page))
                            .fetch_all(&self.pool)
                            .await,
                    }
                    .context("listing accounts")?;
                    accounts(rows, page)
                }
            }

            #[async_trait]
            impl AuditRepository for $store {
                async fn list_audit_events(&self, account_id: AccountId, page: PageRequest) -> anyhow::Result<Page<AuditEvent>> {
                    let rows: Vec<AuditRow> = match page.after {
                        None => sqlx::query_as($crate::select_audit_events!("WHERE account_id = $1 ORDER BY id LIMIT $2"))
                            .bind(account_id.as_uuid())
                            .bind(limit(page))
                            .fetch_all(&self.pool)
                            .await,
                        Some(cursor) => sqlx::query_as(
                            $crate::select_audit_events!("WHERE account_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
                        )
                        .bind(account_id.as_uuid())
                        .bind(cursor.key())
                        .bind(limit(page))
                        .fetch_all(&self.pool)
                        .await,
                    }
                    .context("listing audit events")?;
                    let events = rows.into_iter().map(AuditEvent::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(events, page.size, |e| e.id.as_uuid()))
                }
            }

            #[async_trait]
            impl UnitOfWork for $store {
                async fn begin(&self) -> anyhow::Result<Box<dyn Transaction>> {
                    let tx = self.pool.begin_with($begin).await.context("beginning a transaction")?;
                    Ok(Box::new($tx { tx }))
                }
            }

            #[async_trait]
            impl Store for $store {
                async fn ping(&self) -> anyhow::Result<()> {
                    sqlx::query("SELECT 1").execute(&self.pool).await.context("pinging the database")?;
                    Ok(())
                }
            }

            #[async_trait]
            impl AccountWrites for $tx {
                async fn find_account(&mut self, id: AccountId) -> anyhow::Result<Option<Account>> {
                    let row: Option<AccountRow> = sqlx::query_as($crate::select_accounts!("WHERE id = $1" $lock))
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .context("reading an account")?;
                    row.map(Account::try_from).transpose()
                }

                async fn insert_account(&mut self, account: &Account) -> Result<(), InsertAccountError> {
                    let result = sqlx::query(concat!(
                        "INSERT INTO accounts (id, name, account_type, status, owner_id, parent_id, path, ",
                        "abuse_contact_email, enforce_twofactor, version, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    ))
                    .bind(account.id.as_uuid())
                    .bind(account.name.as_str())
                    .bind(account.account_type.as_str())
                    .bind(account.status.as_str())
                    .bind(account.owner_id.map(|id| id.as_uuid()))
                    .bind(account.parent_id().map(|id| id.as_uuid()))
                    .bind($crate::path_of(account))
                    .bind(account.settings.abuse_contact_email.as_ref().map(|e| e.as_str()))
                    .bind(account.settings.enforce_twofactor)
                    .bind(account.version.get())
                    .bind(account.created_at)
                    .bind(account.updated_at)
                    .execute(&mut *self.tx)
                    .await;
                    match result {
                        Ok(_) => Ok(()),
                        Err(e) if $crate::is_foreign_key_violation(&e) => Err(InsertAccountError::ParentMissing),
                        Err(e) => Err(anyhow::Error::new(e).context("inserting an account").into()),
                    }
                }

                async fn update_account(&mut self, account: &Account, expected: Version) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "UPDATE accounts SET name = $2, status = $3, owner_id = $4, abuse_contact_email = $5, ",
                        "enforce_twofactor = $6, version = $7, updated_at = $8 WHERE id = $1 AND version = $9"
                    ))
                    .bind(account.id.as_uuid())
                    .bind(account.name.as_str())
                    .bind(account.status.as_str())
                    .bind(account.owner_id.map(|id| id.as_uuid()))
                    .bind(account.settings.abuse_contact_email.as_ref().map(|e| e.as_str()))
                    .bind(account.settings.enforce_twofactor)
                    .bind(account.version.get())
                    .bind(account.updated_at)
                    .bind(expected.get())
                    .execute(&mut *self.tx)
                    .await
                    .context("updating an account")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_account(
                    &mut self,
                    id: AccountId,
                    expected: Version,
                    now: DateTime<Utc>,
                ) -> anyhow::Result<Option<Vec<Account>>> {
                    let path: Option<(String,)> = sqlx::query_as(concat!(
                        "SELECT path FROM accounts WHERE id = $1 AND version = $2", $lock
                    ))
                    .bind(id.as_uuid())
                    .bind(expected.get())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context("reading the account to delete")?;
                    let Some((path,)) = path else { return Ok(None) };
                    let (low, high) = $crate::subtree_bounds(&path);
                    // Every descendant's path starts with "<path>/": cutting that prefix makes
                    // the children top-level and keeps the rest of each subtree intact.
                    let cut = i32::try_from(path.len() + 2).context("account path too long")?;
                    let detached: Vec<AccountRow> = sqlx::query_as(concat!(
                        "UPDATE accounts SET parent_id = CASE WHEN parent_id = $1 THEN NULL ELSE parent_id END, ",
                        "path = substr(path, $2), version = version + 1, updated_at = $3 ",
                        "WHERE path >= $4 AND path < $5 RETURNING ",
                        $crate::account_columns!()
                    ))
                    .bind(id.as_uuid())
                    .bind(cut)
                    .bind(now)
                    .bind(low)
                    .bind(high)
                    .fetch_all(&mut *self.tx)
                    .await
                    .context("detaching child accounts")?;
                    let done = sqlx::query("DELETE FROM accounts WHERE id = $1 AND version = $2")
                        .bind(id.as_uuid())
                        .bind(expected.get())
                        .execute(&mut *self.tx)
                        .await;
                    match done {
                        Ok(done) if done.rows_affected() == 1 => {}
                        Ok(_) => return Ok(None),
                        // A child inserted after the detach: the delete lost a race, not a rule.
                        Err(e) if $crate::is_foreign_key_violation(&e) => return Ok(None),
                        Err(e) => return Err(anyhow::Error::new(e).context("deleting an account")),
                    }
                    detached.into_iter().map(Account::try_from).collect::<anyhow::Result<Vec<_>>>().map(Some)
                }
            }

            #[async_trait]
            impl AuditWrites for $tx {
                async fn append_audit_event(&mut self, event: &AuditEvent) -> anyhow::Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO audit_events (id, account_id, actor_type, actor_id, actor_email, action, ",
                        "outcome, resource_type, resource_id, changes, request_ip, user_agent, request_id, occurred_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ))
                    .bind(event.id.as_uuid())
                    .bind(event.account_id.map(|id| id.as_uuid()))
                    .bind(event.actor.kind.as_str())
                    .bind(event.actor.id.as_deref())
                    .bind(event.actor.email.as_deref())
                    .bind(event.action.as_str())
                    .bind(event.outcome.as_str())
                    .bind(event.resource_type.as_str())
                    .bind(event.resource_id.as_str())
                    .bind(Json($crate::changes_to_json(&event.changes)))
                    .bind(event.request.ip.map(|ip| ip.to_string()))
                    .bind(event.request.user_agent.as_deref())
                    .bind(event.request.request_id.as_deref())
                    .bind(event.occurred_at)
                    .execute(&mut *self.tx)
                    .await
                    .context("appending an audit event")?;
                    Ok(())
                }
            }

            #[async_trait]
            impl IdempotencyWrites for $tx {
                async fn find_idempotency_record(
                    &mut self,
                    scope: &str,
                    key: &IdempotencyKey,
                    not_before: DateTime<Utc>,
                ) -> anyhow::Result<Option<IdempotencyRecord>> {
                    let row: Option<IdempotencyRow> = sqlx::query_as(concat!(
                        "SELECT scope, key, fingerprint, resource_type, resource_id, created_at FROM idempotency_keys ",
                        "WHERE scope = $1 AND key = $2 AND created_at >= $3"
                    ))
                    .bind(scope)
                    .bind(key.as_str())
                    .bind(not_before)
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context("reading an idempotency record")?;
                    row.map(IdempotencyRecord::try_from).transpose()
                }

                async fn save_idempotency_record(
                    &mut self,
                    record: &IdempotencyRecord,
                    not_before: DateTime<Utc>,
                ) -> anyhow::Result<bool> {
                    // Expired keys mean nothing any more; dropping them here keeps the table
                    // as small as one retention period of creations.
                    sqlx::query("DELETE FROM idempotency_keys WHERE created_at < $1")
                        .bind(not_before)
                        .execute(&mut *self.tx)
                        .await
                        .context("purging expired idempotency records")?;
                    let done = sqlx::query(concat!(
                        "INSERT INTO idempotency_keys (scope, key, fingerprint, resource_type, resource_id, created_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (scope, key) DO UPDATE SET ",
                        "fingerprint = excluded.fingerprint, resource_type = excluded.resource_type, ",
                        "resource_id = excluded.resource_id, created_at = excluded.created_at ",
                        "WHERE idempotency_keys.created_at < $7"
                    ))
                    .bind(&record.scope)
                    .bind(record.key.as_str())
                    .bind(&record.fingerprint)
                    .bind(&record.resource_type)
                    .bind(&record.resource_id)
                    .bind(record.created_at)
                    .bind(not_before)
                    .execute(&mut *self.tx)
                    .await
                    .context("saving an idempotency record")?;
                    Ok(done.rows_affected() == 1)
                }
            }

            #[async_trait]
            impl Transaction for $tx {
                async fn commit(self: Box<Self>) -> anyhow::Result<()> {
                    self.tx.commit().await.context("committing a transaction")
                }
            }
        };
    };
}
