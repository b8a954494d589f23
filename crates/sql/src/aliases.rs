//! Domains and aliases in SQL: their row types and [`impl_alias_store!`], which
//! [`impl_store!`](crate::impl_store) expands once per database.

use accountd_domain::{
    AccountId, Alias, AliasId, AliasStatus, Domain, DomainId, DomainName, DomainStatus, UserId, Version,
};
use accountd_domain::{AuthFailures, DisplayName, LocalPart};
use chrono::{DateTime, Utc};
use uuid::Uuid;

use crate::rows::corrupt;

/// A row of `domains`.
#[derive(Debug, sqlx::FromRow)]
pub struct DomainRow {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<DomainRow> for Domain {
    type Error = anyhow::Error;

    fn try_from(row: DomainRow) -> anyhow::Result<Self> {
        Ok(Domain {
            id: DomainId::from_uuid(row.id),
            name: DomainName::parse(&row.name).map_err(corrupt("domain name"))?,
            status: DomainStatus::parse(&row.status).map_err(corrupt("domain status"))?,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `aliases` joined with its domain's name and status (and, for mailbox
/// authentication only, its password hash).
#[derive(Debug, sqlx::FromRow)]
pub struct AliasRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Option<Uuid>,
    pub domain_id: Uuid,
    pub domain_name: String,
    pub domain_status: String,
    pub local_part: String,
    pub display_name: Option<String>,
    pub status: String,
    pub is_primary: bool,
    pub is_default: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Selected only by mailbox authentication; never part of an [`Alias`].
    #[sqlx(default)]
    pub password_hash: Option<String>,
}

impl TryFrom<AliasRow> for Alias {
    type Error = anyhow::Error;

    fn try_from(row: AliasRow) -> anyhow::Result<Self> {
        Ok(Alias {
            id: AliasId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            user_id: row.user_id.map(UserId::from_uuid),
            domain_id: DomainId::from_uuid(row.domain_id),
            domain: DomainName::parse(&row.domain_name).map_err(corrupt("domain name"))?,
            local_part: LocalPart::parse(&row.local_part).map_err(corrupt("alias local part"))?,
            display_name: row
                .display_name
                .map(|d| DisplayName::parse(&d))
                .transpose()
                .map_err(corrupt("alias display name"))?,
            status: AliasStatus::parse(&row.status).map_err(corrupt("alias status"))?,
            is_primary: row.is_primary,
            is_default: row.is_default,
            password_changed_at: row.password_changed_at,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `mailbox_auth_failures`.
#[derive(Debug, sqlx::FromRow)]
pub struct AuthFailuresRow {
    pub failures: i64,
    pub last_failure_at: DateTime<Utc>,
}

impl From<AuthFailuresRow> for AuthFailures {
    fn from(row: AuthFailuresRow) -> Self {
        Self { count: u32::try_from(row.failures.max(0)).unwrap_or(u32::MAX), last_at: row.last_failure_at }
    }
}

/// `SELECT` an alias joined with its domain, as [`AliasRow`] reads it, then the given clauses.
#[macro_export]
#[doc(hidden)]
macro_rules! select_aliases {
    ($($tail:literal)*) => {
        $crate::select_aliases!(@columns "" $($tail)*)
    };
    // `extra` joins the column list (mailbox authentication adds the password hash).
    (@columns $extra:literal $($tail:literal)*) => {
        concat!(
            "SELECT a.id, a.account_id, a.user_id, a.domain_id, d.name AS domain_name, d.status AS domain_status, ",
            "a.local_part, a.display_name, a.status, a.is_primary, a.is_default, a.password_changed_at, a.version, ",
            "a.created_at, a.updated_at", $extra, " FROM aliases a JOIN domains d ON d.id = a.domain_id "
            $(, $tail)*
        )
    };
}

/// The columns of `domains` that [`DomainRow`] reads.
#[macro_export]
#[doc(hidden)]
macro_rules! select_domains {
    ($($tail:literal)*) => {
        concat!("SELECT id, name, status, version, created_at, updated_at FROM domains " $(, $tail)*)
    };
}

/// Implements `AliasRepository` for `$store` and `AliasWrites` for `$tx`; expanded by
/// [`impl_store!`](crate::impl_store) with the same arguments.
#[macro_export]
#[doc(hidden)]
macro_rules! impl_alias_store {
    (store: $store:ident, transaction: $tx:ident, database: $db:ty, lock: $lock:literal) => {
        const _: () = {
            use $crate::__private::anyhow;
            use $crate::Context as _;
            use $crate::__private::async_trait;
            use $crate::__private::chrono::{DateTime, Utc};
            use $crate::__private::domain::{AuthFailures, LocalPart, Mailbox};
            use $crate::__private::domain::{AliasRepository, AliasWrites, InsertAliasError, InsertDomainError};
            use $crate::__private::domain::{
                AccountId, Alias, AliasFilter, AliasId, Domain, DomainId, DomainName, Page, PageRequest, UserId,
                Version,
            };
            use $crate::__private::sqlx;
            use $crate::__private::uuid;
            use $crate::{AliasRow, AuthFailuresRow, DomainRow};

            fn aliases(rows: Vec<AliasRow>) -> anyhow::Result<Vec<Alias>> {
                rows.into_iter().map(Alias::try_from).collect()
            }

            #[async_trait]
            impl AliasRepository for $store {
                async fn get_domain(&self, id: DomainId) -> anyhow::Result<Option<Domain>> {
                    let row: Option<DomainRow> = sqlx::query_as($crate::select_domains!("WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading a domain")?;
                    row.map(Domain::try_from).transpose()
                }

                async fn find_domain_by_name(&self, name: &DomainName) -> anyhow::Result<Option<Domain>> {
                    let row: Option<DomainRow> = sqlx::query_as($crate::select_domains!("WHERE name = $1"))
                        .bind(name.as_str())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading a domain by name")?;
                    row.map(Domain::try_from).transpose()
                }

                async fn list_domains(&self, page: PageRequest) -> anyhow::Result<Page<Domain>> {
                    let rows: Vec<DomainRow> =
                        sqlx::query_as($crate::select_domains!("WHERE id > $1 ORDER BY id LIMIT $2"))
                            .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                            .bind(i64::from(page.size.get()) + 1)
                            .fetch_all(&self.pool)
                            .await
                            .context("listing domains")?;
                    let items = rows.into_iter().map(Domain::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(items, page.size, |d| d.id.as_uuid()))
                }

                async fn get_alias(&self, id: AliasId) -> anyhow::Result<Option<Alias>> {
                    let row: Option<AliasRow> = sqlx::query_as($crate::select_aliases!("WHERE a.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading an alias")?;
                    row.map(Alias::try_from).transpose()
                }

                async fn list_aliases(&self, filter: &AliasFilter, page: PageRequest) -> anyhow::Result<Page<Alias>> {
                    // Only the filters given become conditions, so each listing uses its index.
                    let mut sql = sqlx::QueryBuilder::<$db>::new($crate::select_aliases!("WHERE a.id > "));
                    sql.push_bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()));
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
                        sql.push(concat!(
                            " AND a.account_id IN (SELECT x.id FROM members m JOIN accounts ma ON ma.id = m.account_id ",
                            "JOIN accounts x ON x.path >= ma.path AND x.path < ma.path || '0' ",
                            "WHERE m.status = 'member' AND m.user_id = "
                        ))
                        .push_bind(member.as_uuid())
                        .push(")");
                    }
                    sql.push(" ORDER BY a.id LIMIT ").push_bind(i64::from(page.size.get()) + 1);
                    let rows: Vec<AliasRow> =
                        sql.build_query_as().fetch_all(&self.pool).await.context("listing aliases")?;
                    Ok(Page::from_overfetch(aliases(rows)?, page.size, |a| a.id.as_uuid()))
                }

                async fn find_primary_alias(&self, account: AccountId) -> anyhow::Result<Option<Alias>> {
                    let row: Option<AliasRow> =
                        sqlx::query_as($crate::select_aliases!("WHERE a.account_id = $1 AND a.is_primary"))
                            .bind(account.as_uuid())
                            .fetch_optional(&self.pool)
                            .await
                            .context("reading a primary alias")?;
                    row.map(Alias::try_from).transpose()
                }

                async fn find_mailbox(&self, local_part: &LocalPart, domain: &DomainName) -> anyhow::Result<Option<Mailbox>> {
                    let row: Option<AliasRow> = sqlx::query_as($crate::select_aliases!(
                        @columns ", a.password_hash" "WHERE d.name = $1 AND a.local_part = $2"
                    ))
                    .bind(domain.as_str())
                    .bind(local_part.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .context("reading a mailbox")?;
                    let Some(mut row) = row else { return Ok(None) };
                    let password_hash = row.password_hash.take();
                    let domain_status = $crate::__private::domain::DomainStatus::parse(&row.domain_status)
                        .map_err(|e| anyhow::anyhow!("stored domain status breaks a domain rule: {e}"))?;
                    Ok(Some(Mailbox { alias: Alias::try_from(row)?, domain_status, password_hash }))
                }

                async fn auth_failures(&self, address: &str) -> anyhow::Result<Option<AuthFailures>> {
                    let row: Option<AuthFailuresRow> = sqlx::query_as(
                        "SELECT failures, last_failure_at FROM mailbox_auth_failures WHERE address = $1",
                    )
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
                    let row: AuthFailuresRow = sqlx::query_as(concat!(
                        "INSERT INTO mailbox_auth_failures (address, failures, last_failure_at) VALUES ($1, 1, $2) ",
                        "ON CONFLICT (address) DO UPDATE SET failures = CASE ",
                        "WHEN mailbox_auth_failures.last_failure_at < $3 THEN 1 ",
                        "ELSE mailbox_auth_failures.failures + 1 END, last_failure_at = $2 ",
                        "RETURNING failures, last_failure_at"
                    ))
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
            impl AliasWrites for $tx {
                async fn find_domain(&mut self, id: DomainId) -> anyhow::Result<Option<Domain>> {
                    let row: Option<DomainRow> = sqlx::query_as($crate::select_domains!("WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .context("reading a domain")?;
                    row.map(Domain::try_from).transpose()
                }

                async fn insert_domain(&mut self, domain: &Domain) -> Result<(), InsertDomainError> {
                    let done = sqlx::query(concat!(
                        "INSERT INTO domains (id, name, status, version, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6)"
                    ))
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
                        Err(e) if $crate::is_unique_violation(&e) => Err(InsertDomainError::NameTaken),
                        Err(e) => Err(anyhow::Error::new(e).context("inserting a domain").into()),
                    }
                }

                async fn update_domain(&mut self, domain: &Domain, expected: Version) -> anyhow::Result<bool> {
                    let done = sqlx::query(
                        "UPDATE domains SET status = $2, version = $3, updated_at = $4 WHERE id = $1 AND version = $5",
                    )
                    .bind(domain.id.as_uuid())
                    .bind(domain.status.as_str())
                    .bind(domain.version.get())
                    .bind(domain.updated_at)
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
                        Err(e) if $crate::is_foreign_key_violation(&e) => Ok(None),
                        Err(e) => Err(anyhow::Error::new(e).context("deleting a domain")),
                    }
                }

                async fn find_alias(&mut self, id: AliasId) -> anyhow::Result<Option<Alias>> {
                    let row: Option<AliasRow> = sqlx::query_as(concat!(
                        $crate::select_aliases!("WHERE a.id = $1"),
                        $lock
                    ))
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
                    let row: Option<AliasRow> = sqlx::query_as($crate::select_aliases!(
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
                    let row: Option<(uuid::Uuid,)> = sqlx::query_as(
                        "SELECT id FROM aliases WHERE account_id = $1 AND user_id = $2 AND is_default",
                    )
                    .bind(account.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context("looking for a default alias")?;
                    Ok(row.is_some())
                }

                async fn insert_alias(&mut self, alias: &Alias, password_hash: Option<&str>) -> Result<(), InsertAliasError> {
                    let done = sqlx::query(concat!(
                        "INSERT INTO aliases (id, account_id, user_id, domain_id, local_part, display_name, status, ",
                        "is_primary, is_default, password_hash, password_changed_at, version, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)"
                    ))
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
                        Err(e) if $crate::is_address_conflict(&e) => Err(InsertAliasError::AddressTaken),
                        Err(e) if $crate::is_unique_violation(&e) => Err(InsertAliasError::DuplicateFlag),
                        Err(e) if $crate::is_foreign_key_violation(&e) => Err(InsertAliasError::DomainMissing),
                        Err(e) => Err(anyhow::Error::new(e).context("inserting an alias").into()),
                    }
                }

                async fn update_alias(
                    &mut self,
                    alias: &Alias,
                    password_hash: Option<&str>,
                    expected: Version,
                ) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "UPDATE aliases SET display_name = $2, status = $3, is_default = $4, ",
                        "password_hash = COALESCE($5, password_hash), password_changed_at = $6, version = $7, ",
                        "updated_at = $8 WHERE id = $1 AND version = $9"
                    ))
                    .bind(alias.id.as_uuid())
                    .bind(alias.display_name.as_ref().map(|d| d.as_str()))
                    .bind(alias.status.as_str())
                    .bind(alias.is_default)
                    .bind(password_hash)
                    .bind(alias.password_changed_at)
                    .bind(alias.version.get())
                    .bind(alias.updated_at)
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
        };
    };
}
