//! Domains, aliases and mailbox authentication failures: the [`AliasRepository`] reads and
//! the [`AliasWrites`] of a transaction.

use accountd_domain::{AccountId, Alias, AliasFilter, AliasId, AliasRepository, AliasWrites, AuthFailures};
use accountd_domain::{Domain, DomainId, DomainName, DomainStatus, InsertAliasError, InsertDomainError, LocalPart};
use accountd_domain::{Mailbox, Page, PageRequest, UserId, Version};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::dialect::{Db, ROW_LOCK, is_address_conflict};
use super::{SqlStore, SqlTransaction};
use crate::Context as _;
use crate::paging::{after, limit, page_of};
use crate::rows::{ALIAS_COLUMNS, AliasRow, AuthFailuresRow, DomainRow, FROM_ALIASES, SELECT_ALIASES, SELECT_DOMAINS};
use crate::violations::{is_foreign_key_violation, is_unique_violation};

/// The domain `id`, read on the pool or in a transaction alike (unlocked in both).
async fn domain_by_id(db: impl sqlx::Executor<'_, Database = Db>, id: DomainId) -> anyhow::Result<Option<Domain>> {
    let row: Option<DomainRow> = sqlx::query_as(concatcp!(SELECT_DOMAINS, "WHERE id = $1"))
        .bind(id.as_uuid())
        .fetch_optional(db)
        .await
        .context("reading a domain")?;
    row.map(Domain::try_from).transpose()
}

#[async_trait]
impl AliasRepository for SqlStore {
    async fn get_domain(&self, id: DomainId) -> anyhow::Result<Option<Domain>> {
        domain_by_id(&self.pool, id).await
    }

    async fn find_domain_by_name(&self, name: &DomainName) -> anyhow::Result<Option<Domain>> {
        let row: Option<DomainRow> = sqlx::query_as(concatcp!(SELECT_DOMAINS, "WHERE name = $1"))
            .bind(name.as_str())
            .fetch_optional(&self.pool)
            .await
            .context("reading a domain by name")?;
        row.map(Domain::try_from).transpose()
    }

    async fn list_domains(&self, page: PageRequest) -> anyhow::Result<Page<Domain>> {
        let rows: Vec<DomainRow> = sqlx::query_as(concatcp!(SELECT_DOMAINS, "WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after(page))
            .bind(limit(page))
            .fetch_all(&self.pool)
            .await
            .context("listing domains")?;
        page_of(rows, page, |d: &Domain| d.id.as_uuid())
    }

    async fn get_alias(&self, id: AliasId) -> anyhow::Result<Option<Alias>> {
        let row: Option<AliasRow> = sqlx::query_as(concatcp!(SELECT_ALIASES, "WHERE a.id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .context("reading an alias")?;
        row.map(Alias::try_from).transpose()
    }

    async fn list_aliases(&self, filter: &AliasFilter, page: PageRequest) -> anyhow::Result<Page<Alias>> {
        // Only the filters given become conditions, so each listing uses its index.
        let mut sql = sqlx::QueryBuilder::<Db>::new(concatcp!(SELECT_ALIASES, "WHERE a.id > "));
        sql.push_bind(after(page));
        if let Some(account) = filter.account {
            sql.push(" AND a.account_id = ").push_bind(account.as_uuid());
        }
        if let Some(domain) = filter.domain {
            sql.push(" AND a.domain_id = ").push_bind(domain.as_uuid());
        }
        if let Some(user) = filter.user {
            sql.push(" AND a.user_id = ").push_bind(user.as_uuid());
        }
        if let Some(member) = filter.visible_to {
            sql.push(
                " AND a.account_id IN (SELECT x.id FROM members m JOIN accounts ma ON ma.id = m.account_id \
                 JOIN accounts x ON x.path >= ma.path AND x.path < ma.path || '0' \
                 WHERE m.status = 'member' AND m.user_id = ",
            )
            .push_bind(member.as_uuid())
            .push(")");
        }
        sql.push(" ORDER BY a.id LIMIT ").push_bind(limit(page));
        let rows: Vec<AliasRow> = sql.build_query_as().fetch_all(&self.pool).await.context("listing aliases")?;
        page_of(rows, page, |a: &Alias| a.id.as_uuid())
    }

    async fn find_primary_alias(&self, account: AccountId) -> anyhow::Result<Option<Alias>> {
        let row: Option<AliasRow> =
            sqlx::query_as(concatcp!(SELECT_ALIASES, "WHERE a.account_id = $1 AND a.is_primary"))
                .bind(account.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .context("reading a primary alias")?;
        row.map(Alias::try_from).transpose()
    }

    async fn find_mailbox(&self, local_part: &LocalPart, domain: &DomainName) -> anyhow::Result<Option<Mailbox>> {
        // The one read of the password hash.
        let row: Option<AliasRow> = sqlx::query_as(concatcp!(
            "SELECT ",
            ALIAS_COLUMNS,
            ", a.password_hash",
            FROM_ALIASES,
            "WHERE d.name = $1 AND a.local_part = $2"
        ))
        .bind(domain.as_str())
        .bind(local_part.as_str())
        .fetch_optional(&self.pool)
        .await
        .context("reading a mailbox")?;
        let Some(mut row) = row else { return Ok(None) };
        let password_hash = row.password_hash.take();
        let domain_status = DomainStatus::parse(&row.domain_status)
            .map_err(|e| anyhow::anyhow!("stored domain status breaks a domain rule: {e}"))?;
        Ok(Some(Mailbox { alias: Alias::try_from(row)?, domain_status, password_hash }))
    }

    async fn auth_failures(&self, address: &str) -> anyhow::Result<Option<AuthFailures>> {
        let row: Option<AuthFailuresRow> =
            sqlx::query_as("SELECT failures, last_failure_at FROM mailbox_auth_failures WHERE address = $1")
                .bind(address)
                .fetch_optional(&self.pool)
                .await
                .context("reading mailbox authentication failures")?;
        Ok(row.map(AuthFailures::from))
    }

    async fn record_auth_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        streak_start: DateTime<Utc>,
    ) -> anyhow::Result<AuthFailures> {
        let row: AuthFailuresRow = sqlx::query_as(
            "INSERT INTO mailbox_auth_failures (address, failures, last_failure_at) VALUES ($1, 1, $2) \
             ON CONFLICT (address) DO UPDATE SET failures = CASE \
             WHEN mailbox_auth_failures.last_failure_at < $3 THEN 1 \
             ELSE mailbox_auth_failures.failures + 1 END, last_failure_at = $2 \
             RETURNING failures, last_failure_at",
        )
        .bind(address)
        .bind(now)
        .bind(streak_start)
        .fetch_one(&self.pool)
        .await
        .context("counting a mailbox authentication failure")?;
        // A new streak is the moment to forget streaks that have ended.
        if row.failures == 1 {
            sqlx::query("DELETE FROM mailbox_auth_failures WHERE last_failure_at < $1")
                .bind(streak_start)
                .execute(&self.pool)
                .await
                .context("pruning ended mailbox authentication failures")?;
        }
        Ok(row.into())
    }

    async fn clear_auth_failures(&self, address: &str) -> anyhow::Result<()> {
        sqlx::query("DELETE FROM mailbox_auth_failures WHERE address = $1")
            .bind(address)
            .execute(&self.pool)
            .await
            .context("clearing mailbox authentication failures")?;
        Ok(())
    }
}

#[async_trait]
impl AliasWrites for SqlTransaction {
    async fn find_domain(&mut self, id: DomainId) -> anyhow::Result<Option<Domain>> {
        domain_by_id(&mut *self.tx, id).await
    }

    async fn insert_domain(&mut self, domain: &Domain) -> Result<(), InsertDomainError> {
        let done = sqlx::query(
            "INSERT INTO domains (id, name, status, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(domain.id.as_uuid())
        .bind(domain.name.as_str())
        .bind(domain.status.as_str())
        .bind(domain.version.get())
        .bind(domain.created_at)
        .bind(domain.updated_at)
        .execute(&mut *self.tx)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_unique_violation(&e) => Err(InsertDomainError::NameTaken),
            Err(e) => Err(crate::context::mark(e.into()).context("inserting a domain").into()),
        }
    }

    async fn update_domain(&mut self, domain: &Domain, expected: Version) -> anyhow::Result<bool> {
        let done =
            sqlx::query("UPDATE domains SET status = $1, version = $2, updated_at = $3 WHERE id = $4 AND version = $5")
                .bind(domain.status.as_str())
                .bind(domain.version.get())
                .bind(domain.updated_at)
                .bind(domain.id.as_uuid())
                .bind(expected.get())
                .execute(&mut *self.tx)
                .await
                .context("updating a domain")?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_domain(&mut self, id: DomainId) -> anyhow::Result<Option<bool>> {
        let done = sqlx::query("DELETE FROM domains WHERE id = $1").bind(id.as_uuid()).execute(&mut *self.tx).await;
        match done {
            Ok(done) => Ok(Some(done.rows_affected() == 1)),
            Err(e) if is_foreign_key_violation(&e) => Ok(None),
            Err(e) => Err(crate::context::mark(e.into()).context("deleting a domain")),
        }
    }

    async fn find_alias(&mut self, id: AliasId) -> anyhow::Result<Option<Alias>> {
        let row: Option<AliasRow> = sqlx::query_as(concatcp!(SELECT_ALIASES, "WHERE a.id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading an alias")?;
        row.map(Alias::try_from).transpose()
    }

    async fn first_alias_of(
        &mut self,
        account: AccountId,
        user: UserId,
        except: AliasId,
    ) -> anyhow::Result<Option<Alias>> {
        let row: Option<AliasRow> = sqlx::query_as(concatcp!(
            SELECT_ALIASES,
            "WHERE a.account_id = $1 AND a.user_id = $2 AND a.id <> $3 ORDER BY a.id LIMIT 1"
        ))
        .bind(account.as_uuid())
        .bind(user.as_uuid())
        .bind(except.as_uuid())
        .fetch_optional(&mut *self.tx)
        .await
        .context("reading a user's first alias")?;
        row.map(Alias::try_from).transpose()
    }

    async fn has_default_alias(&mut self, account: AccountId, user: UserId) -> anyhow::Result<bool> {
        let row: Option<(Uuid,)> =
            sqlx::query_as("SELECT id FROM aliases WHERE account_id = $1 AND user_id = $2 AND is_default")
                .bind(account.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut *self.tx)
                .await
                .context("looking for a default alias")?;
        Ok(row.is_some())
    }

    async fn insert_alias(&mut self, alias: &Alias, password_hash: Option<&str>) -> Result<(), InsertAliasError> {
        let done = sqlx::query(
            "INSERT INTO aliases (id, account_id, user_id, domain_id, local_part, display_name, status, is_primary, \
             is_default, password_hash, password_changed_at, version, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
        )
        .bind(alias.id.as_uuid())
        .bind(alias.account_id.as_uuid())
        .bind(alias.user_id.map(|u| u.as_uuid()))
        .bind(alias.domain_id.as_uuid())
        .bind(alias.local_part.as_str())
        .bind(alias.display_name.as_ref().map(|d| d.as_str()))
        .bind(alias.status.as_str())
        .bind(alias.is_primary)
        .bind(alias.is_default)
        .bind(password_hash)
        .bind(alias.password_changed_at)
        .bind(alias.version.get())
        .bind(alias.created_at)
        .bind(alias.updated_at)
        .execute(&mut *self.tx)
        .await;
        match done {
            Ok(_) => Ok(()),
            Err(e) if is_address_conflict(&e) => Err(InsertAliasError::AddressTaken),
            Err(e) if is_unique_violation(&e) => Err(InsertAliasError::DuplicateFlag),
            Err(e) if is_foreign_key_violation(&e) => Err(InsertAliasError::DomainMissing),
            Err(e) => Err(crate::context::mark(e.into()).context("inserting an alias").into()),
        }
    }

    async fn update_alias(
        &mut self,
        alias: &Alias,
        password_hash: Option<&str>,
        expected: Version,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE aliases SET display_name = $1, status = $2, is_default = $3, \
             password_hash = COALESCE($4, password_hash), password_changed_at = $5, version = $6, updated_at = $7 \
             WHERE id = $8 AND version = $9",
        )
        .bind(alias.display_name.as_ref().map(|d| d.as_str()))
        .bind(alias.status.as_str())
        .bind(alias.is_default)
        .bind(password_hash)
        .bind(alias.password_changed_at)
        .bind(alias.version.get())
        .bind(alias.updated_at)
        .bind(alias.id.as_uuid())
        .bind(expected.get())
        .execute(&mut *self.tx)
        .await
        .context("updating an alias")?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete_alias(&mut self, id: AliasId) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM aliases WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .context("deleting an alias")?;
        Ok(done.rows_affected() == 1)
    }
}
