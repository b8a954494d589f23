//! Accounts: the [`AccountRepository`] reads and the [`AccountWrites`] of a transaction,
//! including the tree's shape (moves, deletes, the per-tree locks).

use accountd_domain::{Account, AccountId, AccountRepository, AccountWrites, InsertAccountError, Page, PageRequest};
use accountd_domain::{Fact, Placement, UserId, Version};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;

use super::dialect::{NAME_KEY, ROW_LOCK, lock_trees};
use super::{SqlStore, SqlTransaction, placeholders};
use crate::Context as _;
use crate::paging::{limit, page_of};
use crate::rows::subtree_bounds;
use crate::rows::{ACCOUNT_COLUMNS, AccountRow, PlacementRow, SELECT_ACCOUNTS, SELECT_PLACEMENTS, path_of};
use crate::violations::is_foreign_key_violation;

fn account_key(account: &Account) -> uuid::Uuid {
    account.id.as_uuid()
}

#[async_trait]
impl AccountRepository for SqlStore {
    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(concatcp!(SELECT_ACCOUNTS, "WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .context("reading an account")?;
        row.map(Account::try_from).transpose()
    }

    async fn placements(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Placement>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        // Placeholders only: every value is bound.
        let sql = format!("{SELECT_PLACEMENTS}WHERE id IN ({})", placeholders(1, ids.len()));
        let mut query = sqlx::query_as::<_, PlacementRow>(sqlx::AssertSqlSafe(sql));
        for id in ids {
            query = query.bind(id.as_uuid());
        }
        let rows = query.fetch_all(&self.pool).await.context("reading accounts' placements")?;
        rows.into_iter().map(Placement::try_from).collect()
    }

    async fn list_accounts(&self, page: PageRequest) -> anyhow::Result<Page<Account>> {
        let rows: Vec<AccountRow> = match page.after {
            None => {
                sqlx::query_as(concatcp!(SELECT_ACCOUNTS, "ORDER BY id LIMIT $1"))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
            }
            Some(cursor) => {
                sqlx::query_as(concatcp!(SELECT_ACCOUNTS, "WHERE id > $1 ORDER BY id LIMIT $2"))
                    .bind(cursor.key())
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
            }
        }
        .context("listing accounts")?;
        page_of(rows, page, account_key)
    }

    async fn list_children(&self, parent: AccountId, page: PageRequest) -> anyhow::Result<Page<Account>> {
        self.page_under::<AccountRow, _>(
            concatcp!(SELECT_ACCOUNTS, "WHERE parent_id = $1 AND id > $2 ORDER BY id LIMIT $3"),
            parent.as_uuid(),
            page,
            "listing child accounts",
            account_key,
        )
        .await
    }

    async fn list_accounts_of_member(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Account>> {
        // Each membership is one path range (the account and its subtree); the
        // union is read in id order from there, however many accounts exist.
        const SQL: &str = concatcp!(
            "SELECT DISTINCT ",
            ACCOUNT_COLUMNS,
            " FROM accounts WHERE id IN (SELECT a.id FROM members m JOIN accounts ma ON ma.id = m.account_id \
             JOIN accounts a ON a.path >= ma.path AND a.path < ma.path || '0' \
             WHERE m.user_id = $1 AND m.status = 'member' AND a.id > $2) ORDER BY id LIMIT $3"
        );
        self.page_under::<AccountRow, _>(SQL, user.as_uuid(), page, "listing a member's accounts", account_key).await
    }

    async fn search_accounts(
        &self,
        name_prefix: &str,
        member: Option<UserId>,
        page: PageRequest,
    ) -> anyhow::Result<Page<Account>> {
        // A prefix is the range [lower(prefix), lower(prefix) || U+10FFFF) of the name key;
        // the cursor is the last account shown, looked up by its primary key.
        const RANGE: &str = concatcp!(
            NAME_KEY,
            " >= lower($1) AND ",
            NAME_KEY,
            " < lower($1) || $2 AND ($3 IS NULL OR (",
            NAME_KEY,
            ", id) > (SELECT ",
            NAME_KEY,
            ", id FROM accounts WHERE id = $3))"
        );
        const ALL: &str = concatcp!(SELECT_ACCOUNTS, "WHERE ", RANGE, " ORDER BY ", NAME_KEY, ", id LIMIT $4");
        const OF_MEMBER: &str = concatcp!(
            SELECT_ACCOUNTS,
            "WHERE ",
            RANGE,
            " AND id IN (SELECT a.id FROM members m JOIN accounts ma ON ma.id = m.account_id \
             JOIN accounts a ON a.path >= ma.path AND a.path < ma.path || '0' \
             WHERE m.user_id = $5 AND m.status = 'member') ORDER BY ",
            NAME_KEY,
            ", id LIMIT $4"
        );
        let query = sqlx::query_as::<_, AccountRow>(if member.is_some() { OF_MEMBER } else { ALL })
            .bind(name_prefix)
            .bind("\u{10FFFF}")
            .bind(page.after.map(|c| c.key()))
            .bind(limit(page));
        let query = match member {
            Some(user) => query.bind(user.as_uuid()),
            None => query,
        };
        let rows = query.fetch_all(&self.pool).await.context("searching accounts by name")?;
        page_of(rows, page, account_key)
    }
}

#[async_trait]
impl AccountWrites for SqlTransaction {
    async fn find_account(&mut self, id: AccountId) -> anyhow::Result<Option<Account>> {
        let row: Option<AccountRow> = sqlx::query_as(concatcp!(SELECT_ACCOUNTS, "WHERE id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading an account")?;
        row.map(Account::try_from).transpose()
    }

    async fn lock_trees(&mut self, accounts: &[AccountId]) -> anyhow::Result<()> {
        lock_trees(&mut self.tx, accounts).await
    }

    async fn subtree_height(&mut self, account: &Account) -> anyhow::Result<usize> {
        let path = path_of(account);
        let (low, high) = subtree_bounds(&path);
        let longest: (Option<i64>,) =
            sqlx::query_as("SELECT CAST(max(length(path)) AS BIGINT) FROM accounts WHERE path >= $1 AND path < $2")
                .bind(low)
                .bind(high)
                .fetch_one(&mut *self.tx)
                .await
                .context("measuring a subtree")?;
        // Every path segment is a 36-character id plus a separator.
        let levels = |len: usize| (len + 1) / 37;
        Ok(longest.0.map_or(1, |len| levels(len as usize) - levels(path.len()) + 1))
    }

    async fn move_subtree(
        &mut self,
        account: &Account,
        expected: Version,
        hierarchy: &[AccountId],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Vec<Account>>> {
        let path = path_of(account);
        let (low, high) = subtree_bounds(&path);
        let prefix: String = hierarchy.iter().map(|id| format!("{id}/")).collect();
        // Each moved path keeps everything from the account's own id on.
        let own = i32::try_from(path.len() - 35).context("account path too long")?;
        let rows: Vec<AccountRow> = sqlx::query_as(concatcp!(
            "UPDATE accounts SET path = $1 || substr(path, $2), \
             parent_id = CASE WHEN id = $3 THEN $4 ELSE parent_id END, version = version + 1, updated_at = $5 \
             WHERE (id = $3 AND version = $6) OR (path >= $7 AND path < $8) RETURNING ",
            ACCOUNT_COLUMNS
        ))
        .bind(prefix)
        .bind(own)
        .bind(account.id.as_uuid())
        .bind(hierarchy.last().map(|p| p.as_uuid()))
        .bind(now)
        .bind(expected.get())
        .bind(low)
        .bind(high)
        .fetch_all(&mut *self.tx)
        .await
        .context("moving a subtree")?;
        let mut moved = rows.into_iter().map(Account::try_from).collect::<anyhow::Result<Vec<_>>>()?;
        for account in &moved {
            self.alters(Fact::Account(account.id));
        }
        let Some(first) = moved.iter().position(|a| a.id == account.id) else { return Ok(None) };
        moved.swap(0, first);
        Ok(Some(moved))
    }

    async fn insert_account(&mut self, account: &Account) -> Result<(), InsertAccountError> {
        let result = sqlx::query(
            "INSERT INTO accounts (id, name, account_type, status, owner_id, parent_id, path, \
             abuse_contact_email, enforce_twofactor, version, created_at, updated_at, business_name, \
             business_address, business_email, business_phone, external_metadata) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)",
        )
        .bind(account.id.as_uuid())
        .bind(account.name.as_str())
        .bind(account.account_type.as_str())
        .bind(account.status.as_str())
        .bind(account.owner_id.map(|id| id.as_uuid()))
        .bind(account.parent_id().map(|id| id.as_uuid()))
        .bind(path_of(account))
        .bind(account.settings.abuse_contact_email.as_ref().map(|e| e.as_str()))
        .bind(account.settings.enforce_twofactor)
        .bind(account.version.get())
        .bind(account.created_at)
        .bind(account.updated_at)
        .bind(account.profile.business_name.as_deref())
        .bind(account.profile.business_address.as_deref())
        .bind(account.profile.business_email.as_ref().map(|e| e.as_str()))
        .bind(account.profile.business_phone.as_deref())
        .bind(account.profile.external_metadata.as_deref())
        .execute(&mut *self.tx)
        .await;
        match result {
            Ok(_) => Ok(()),
            Err(e) if is_foreign_key_violation(&e) => Err(InsertAccountError::ParentMissing),
            Err(e) => Err(crate::context::mark(e.into()).context("inserting an account").into()),
        }
    }

    async fn update_account(&mut self, account: &Account, expected: Version) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE accounts SET name = $1, status = $2, owner_id = $3, abuse_contact_email = $4, \
             enforce_twofactor = $5, version = $6, updated_at = $7, business_name = $8, business_address = $9, \
             business_email = $10, business_phone = $11, external_metadata = $12 \
             WHERE id = $13 AND version = $14",
        )
        .bind(account.name.as_str())
        .bind(account.status.as_str())
        .bind(account.owner_id.map(|id| id.as_uuid()))
        .bind(account.settings.abuse_contact_email.as_ref().map(|e| e.as_str()))
        .bind(account.settings.enforce_twofactor)
        .bind(account.version.get())
        .bind(account.updated_at)
        .bind(account.profile.business_name.as_deref())
        .bind(account.profile.business_address.as_deref())
        .bind(account.profile.business_email.as_ref().map(|e| e.as_str()))
        .bind(account.profile.business_phone.as_deref())
        .bind(account.profile.external_metadata.as_deref())
        .bind(account.id.as_uuid())
        .bind(expected.get())
        .execute(&mut *self.tx)
        .await
        .context("updating an account")?;
        self.alters(Fact::Account(account.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_account(
        &mut self,
        id: AccountId,
        expected: Version,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Vec<Account>>> {
        let path: Option<(String,)> =
            sqlx::query_as(concatcp!("SELECT path FROM accounts WHERE id = $1 AND version = $2", ROW_LOCK))
                .bind(id.as_uuid())
                .bind(expected.get())
                .fetch_optional(&mut *self.tx)
                .await
                .context("reading the account to delete")?;
        let Some((path,)) = path else { return Ok(None) };
        let (low, high) = subtree_bounds(&path);
        // Every descendant's path starts with "<path>/": cutting that prefix makes
        // the children top-level and keeps the rest of each subtree intact.
        let cut = i32::try_from(path.len() + 2).context("account path too long")?;
        let detached: Vec<AccountRow> = sqlx::query_as(concatcp!(
            "UPDATE accounts SET parent_id = CASE WHEN parent_id = $1 THEN NULL ELSE parent_id END, \
             path = substr(path, $2), version = version + 1, updated_at = $3 \
             WHERE path >= $4 AND path < $5 RETURNING ",
            ACCOUNT_COLUMNS
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
            Err(e) if is_foreign_key_violation(&e) => return Ok(None),
            Err(e) => return Err(crate::context::mark(e.into()).context("deleting an account")),
        }
        self.alters(Fact::AccountDeleted(id));
        let detached = detached.into_iter().map(Account::try_from).collect::<anyhow::Result<Vec<_>>>()?;
        for account in &detached {
            self.alters(Fact::Account(account.id));
        }
        Ok(Some(detached))
    }
}
