//! Users, members and tokens: the [`IdentityRepository`] reads and the [`IdentityWrites`] of
//! a transaction.

use accountd_domain::{AccountId, EmailAddress, Fact, IdentityRepository, IdentityWrites, InsertUserError, Member};
use accountd_domain::{Page, PageRequest, Role, Token, TokenDigest, TokenId, User, UserAccess, UserId, Version};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use sqlx::types::Json;
use uuid::Uuid;

use super::dialect::{Db, ROW_LOCK};
use super::{SqlStore, SqlTransaction, placeholders};
use crate::Context as _;
use crate::paging::{after, limit, page_of};
use crate::rows::{JOINED_USER_COLUMNS, SELECT_MEMBERS, SELECT_TOKENS, SELECT_USERS, TOKEN_COLUMNS};
use crate::rows::{MemberRow, TokenRow, TokenUserRow, UserRow, join_names, join_nets, parse_roles, policies_to_json};
use crate::violations::is_unique_violation;

/// A membership's `INSERT`, its conflict clause to follow.
const INSERT_MEMBER_VALUES: &str = "INSERT INTO members (account_id, user_id, roles, status, invited_by, created_at, \
    updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ";

/// A membership stored whether or not it exists; an existing one keeps its inviter and
/// creation time.
const SAVE_MEMBER: &str = concatcp!(
    INSERT_MEMBER_VALUES,
    "ON CONFLICT (account_id, user_id) DO UPDATE SET roles = excluded.roles, status = excluded.status, \
     updated_at = excluded.updated_at"
);

/// A membership stored only if none exists.
const INSERT_MEMBER: &str = concatcp!(INSERT_MEMBER_VALUES, "ON CONFLICT (account_id, user_id) DO NOTHING");

/// Runs `sql`, one of the statements that begin with [`INSERT_MEMBER_VALUES`], for `member`.
async fn write_member(
    tx: &mut sqlx::Transaction<'static, Db>,
    sql: &'static str,
    member: &Member,
) -> Result<<Db as sqlx::Database>::QueryResult, sqlx::Error> {
    sqlx::query(sql)
        .bind(member.account_id.as_uuid())
        .bind(member.user_id.as_uuid())
        .bind(join_names(member.roles.iter().map(|r| r.as_str())))
        .bind(member.status.as_str())
        .bind(member.invited_by.map(|u| u.as_uuid()))
        .bind(member.created_at)
        .bind(member.updated_at)
        .execute(&mut **tx)
        .await
}

/// The user with `email` in any case, read on the pool or in a transaction alike.
async fn user_by_email(
    db: impl sqlx::Executor<'_, Database = Db>,
    email: &EmailAddress,
) -> anyhow::Result<Option<User>> {
    let row: Option<UserRow> = sqlx::query_as(concatcp!(SELECT_USERS, "WHERE lower(email) = lower($1)"))
        .bind(email.as_str())
        .fetch_optional(db)
        .await
        .context("finding a user by email")?;
    row.map(User::try_from).transpose()
}

#[async_trait]
impl IdentityRepository for SqlStore {
    async fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concatcp!(SELECT_USERS, "WHERE id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .context("reading a user")?;
        row.map(User::try_from).transpose()
    }

    async fn root_user_ids(&self) -> anyhow::Result<Vec<UserId>> {
        let rows: Vec<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE root_permissions <> '' ORDER BY id")
            .fetch_all(&self.pool)
            .await
            .context("reading the root user ids")?;
        Ok(rows.into_iter().map(|(id,)| UserId::from_uuid(id)).collect())
    }

    async fn find_user_by_email(&self, email: &EmailAddress) -> anyhow::Result<Option<User>> {
        user_by_email(&self.pool, email).await
    }

    async fn list_users(&self, page: PageRequest) -> anyhow::Result<Page<User>> {
        let rows: Vec<UserRow> = sqlx::query_as(concatcp!(SELECT_USERS, "WHERE id > $1 ORDER BY id LIMIT $2"))
            .bind(after(page))
            .bind(limit(page))
            .fetch_all(&self.pool)
            .await
            .context("listing users")?;
        page_of(rows, page, |u: &User| u.id.as_uuid())
    }

    async fn get_member(&self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>> {
        let row: Option<MemberRow> =
            sqlx::query_as(concatcp!(SELECT_MEMBERS, "WHERE account_id = $1 AND user_id = $2"))
                .bind(account.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&self.pool)
                .await
                .context("reading a member")?;
        row.map(Member::try_from).transpose()
    }

    async fn list_members(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Member>> {
        self.page_under::<MemberRow, _>(
            concatcp!(SELECT_MEMBERS, "WHERE account_id = $1 AND user_id > $2 ORDER BY user_id LIMIT $3"),
            account.as_uuid(),
            page,
            "listing members",
            |m: &Member| m.user_id.as_uuid(),
        )
        .await
    }

    async fn member_roles(&self, user: UserId, accounts: &[AccountId]) -> anyhow::Result<Vec<(AccountId, Vec<Role>)>> {
        if accounts.is_empty() {
            return Ok(Vec::new());
        }
        // Placeholders only: every value is bound.
        let sql = format!(
            "SELECT account_id, roles FROM members WHERE user_id = $1 AND status = 'member' AND account_id IN ({})",
            placeholders(2, accounts.len())
        );
        let mut query = sqlx::query_as::<_, (Uuid, String)>(sqlx::AssertSqlSafe(sql)).bind(user.as_uuid());
        for account in accounts {
            query = query.bind(account.as_uuid());
        }
        let rows = query.fetch_all(&self.pool).await.context("reading a user's roles")?;
        rows.into_iter().map(|(a, r)| Ok((AccountId::from_uuid(a), parse_roles(&r)?))).collect()
    }

    async fn user_access(&self, user: UserId) -> anyhow::Result<UserAccess> {
        // Roles are never empty (members_roles_present): the row with no account and no
        // roles says the user has an active factor.
        let rows: Vec<(Option<Uuid>, String)> = sqlx::query_as(
            "SELECT account_id, roles FROM members WHERE user_id = $1 AND status = 'member' UNION ALL \
             SELECT NULL, '' WHERE EXISTS (SELECT 1 FROM mfa_factors WHERE user_id = $1 AND status = 'active')",
        )
        .bind(user.as_uuid())
        .fetch_all(&self.pool)
        .await
        .context("reading what a decision needs of a user")?;
        let mut access = UserAccess::default();
        for (account, roles) in rows {
            match account {
                Some(account) => access.memberships.push((AccountId::from_uuid(account), parse_roles(&roles)?)),
                None => access.active_factor = true,
            }
        }
        Ok(access)
    }

    async fn memberships_of(&self, user: UserId) -> anyhow::Result<Vec<Member>> {
        let rows: Vec<MemberRow> = sqlx::query_as(concatcp!(SELECT_MEMBERS, "WHERE user_id = $1 ORDER BY account_id"))
            .bind(user.as_uuid())
            .fetch_all(&self.pool)
            .await
            .context("listing a user's memberships")?;
        rows.into_iter().map(Member::try_from).collect()
    }

    async fn find_token_by_digest(&self, digest: &TokenDigest) -> anyhow::Result<Option<(Token, User)>> {
        let row: Option<TokenUserRow> = sqlx::query_as(concatcp!(
            "SELECT ",
            TOKEN_COLUMNS,
            ", ",
            JOINED_USER_COLUMNS,
            " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = $1"
        ))
        .bind(&digest.0[..])
        .fetch_optional(&self.pool)
        .await
        .context("looking a token up")?;
        row.map(<(Token, User)>::try_from).transpose()
    }

    async fn get_token(&self, id: TokenId) -> anyhow::Result<Option<Token>> {
        let row: Option<TokenRow> = sqlx::query_as(concatcp!(SELECT_TOKENS, "WHERE t.id = $1"))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .context("reading a token")?;
        row.map(Token::try_from).transpose()
    }

    async fn list_tokens(
        &self,
        account: AccountId,
        user: Option<UserId>,
        page: PageRequest,
    ) -> anyhow::Result<Page<Token>> {
        let rows: Vec<TokenRow> = sqlx::query_as(concatcp!(
            SELECT_TOKENS,
            "WHERE t.account_id = $1 AND t.id > $2 AND ($3 IS NULL OR t.user_id = $3) ORDER BY t.id LIMIT $4"
        ))
        .bind(account.as_uuid())
        .bind(after(page))
        .bind(user.map(|u| u.as_uuid()))
        .bind(limit(page))
        .fetch_all(&self.pool)
        .await
        .context("listing tokens")?;
        page_of(rows, page, |t: &Token| t.id.as_uuid())
    }

    async fn list_platform_tokens(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Token>> {
        self.page_under::<TokenRow, _>(
            concatcp!(
                SELECT_TOKENS,
                "WHERE t.account_id IS NULL AND t.user_id = $1 AND t.id > $2 ORDER BY t.id LIMIT $3"
            ),
            user.as_uuid(),
            page,
            "listing platform tokens",
            |t: &Token| t.id.as_uuid(),
        )
        .await
    }

    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> anyhow::Result<()> {
        sqlx::query("UPDATE tokens SET last_used_on = $1 WHERE id = $2")
            .bind(at)
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .context("recording token use")?;
        Ok(())
    }
}

#[async_trait]
impl IdentityWrites for SqlTransaction {
    async fn find_user(&mut self, id: UserId) -> anyhow::Result<Option<User>> {
        let row: Option<UserRow> = sqlx::query_as(concatcp!(SELECT_USERS, "WHERE id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading a user")?;
        row.map(User::try_from).transpose()
    }

    async fn find_user_by_email(&mut self, email: &EmailAddress) -> anyhow::Result<Option<User>> {
        user_by_email(&mut *self.tx, email).await
    }

    async fn any_root_user(&mut self) -> anyhow::Result<bool> {
        let row: Option<(Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE root_permissions <> '' LIMIT 1")
            .fetch_optional(&mut *self.tx)
            .await
            .context("looking for a root user")?;
        Ok(row.is_some())
    }

    async fn root_users(&mut self) -> anyhow::Result<Vec<User>> {
        let rows: Vec<UserRow> =
            sqlx::query_as(concatcp!(SELECT_USERS, "WHERE root_permissions <> '' ORDER BY id", ROW_LOCK))
                .fetch_all(&mut *self.tx)
                .await
                .context("reading the root users")?;
        rows.into_iter().map(User::try_from).collect()
    }

    async fn insert_user(&mut self, user: &User) -> Result<(), InsertUserError> {
        let result = sqlx::query(
            "INSERT INTO users (id, email, first_name, last_name, status, root_permissions, version, created_at, \
             updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.first_name.as_ref().map(|n| n.as_str()))
        .bind(user.last_name.as_ref().map(|n| n.as_str()))
        .bind(user.status.as_str())
        .bind(join_names(user.root_permissions.names()))
        .bind(user.version.get())
        .bind(user.created_at)
        .bind(user.updated_at)
        .execute(&mut *self.tx)
        .await;
        match result {
            Ok(_) => Ok(()),
            // The primary key is a fresh UUIDv7; the only unique value a caller
            // can collide on is the email.
            Err(e) if is_unique_violation(&e) => Err(InsertUserError::EmailTaken),
            Err(e) => Err(crate::context::mark(e.into()).context("inserting a user").into()),
        }
    }

    async fn update_user(&mut self, user: &User, expected: Version) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE users SET first_name = $1, last_name = $2, status = $3, root_permissions = $4, version = $5, \
             updated_at = $6 WHERE id = $7 AND version = $8",
        )
        .bind(user.first_name.as_ref().map(|n| n.as_str()))
        .bind(user.last_name.as_ref().map(|n| n.as_str()))
        .bind(user.status.as_str())
        .bind(join_names(user.root_permissions.names()))
        .bind(user.version.get())
        .bind(user.updated_at)
        .bind(user.id.as_uuid())
        .bind(expected.get())
        .execute(&mut *self.tx)
        .await
        .context("updating a user")?;
        self.alters(Fact::User(user.id));
        Ok(done.rows_affected() == 1)
    }

    async fn find_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>> {
        let row: Option<MemberRow> =
            sqlx::query_as(concatcp!(SELECT_MEMBERS, "WHERE account_id = $1 AND user_id = $2", ROW_LOCK))
                .bind(account.as_uuid())
                .bind(user.as_uuid())
                .fetch_optional(&mut *self.tx)
                .await
                .context("reading a member")?;
        row.map(Member::try_from).transpose()
    }

    async fn save_member(&mut self, member: &Member) -> anyhow::Result<()> {
        write_member(&mut self.tx, SAVE_MEMBER, member).await.context("saving a member")?;
        self.alters(Fact::User(member.user_id));
        Ok(())
    }

    async fn insert_member(&mut self, member: &Member) -> anyhow::Result<bool> {
        let done = write_member(&mut self.tx, INSERT_MEMBER, member).await.context("inserting a member")?;
        let inserted = done.rows_affected() == 1;
        if inserted {
            self.alters(Fact::User(member.user_id));
        }
        Ok(inserted)
    }

    async fn delete_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM members WHERE account_id = $1 AND user_id = $2")
            .bind(account.as_uuid())
            .bind(user.as_uuid())
            .execute(&mut *self.tx)
            .await
            .context("deleting a member")?;
        self.alters(Fact::User(user));
        Ok(done.rows_affected() == 1)
    }

    async fn find_token(&mut self, id: TokenId) -> anyhow::Result<Option<Token>> {
        let row: Option<TokenRow> = sqlx::query_as(concatcp!(SELECT_TOKENS, "WHERE t.id = $1", ROW_LOCK))
            .bind(id.as_uuid())
            .fetch_optional(&mut *self.tx)
            .await
            .context("reading a token")?;
        row.map(Token::try_from).transpose()
    }

    async fn insert_token(&mut self, token: &Token, digest: &TokenDigest) -> anyhow::Result<()> {
        sqlx::query(
            "INSERT INTO tokens (id, account_id, user_id, name, policies, ip_in, ip_not_in, not_before, expires_on, \
             status, hint, digest, last_used_on, created_at, updated_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
        )
        .bind(token.id.as_uuid())
        .bind(token.account_id.map(|a| a.as_uuid()))
        .bind(token.user_id.as_uuid())
        .bind(token.name.as_str())
        .bind(Json(policies_to_json(&token.policies)))
        .bind(join_nets(&token.condition.ip_in))
        .bind(join_nets(&token.condition.ip_not_in))
        .bind(token.not_before)
        .bind(token.expires_on)
        .bind(token.status.as_str())
        .bind(&token.hint)
        .bind(&digest.0[..])
        .bind(token.last_used_on)
        .bind(token.created_at)
        .bind(token.updated_at)
        .execute(&mut *self.tx)
        .await
        .context("inserting a token")?;
        Ok(())
    }

    async fn update_token(&mut self, token: &Token, digest: Option<&TokenDigest>) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE tokens SET name = $1, policies = $2, ip_in = $3, ip_not_in = $4, not_before = $5, \
             expires_on = $6, status = $7, hint = $8, updated_at = $9, digest = COALESCE($10, digest) \
             WHERE id = $11",
        )
        .bind(token.name.as_str())
        .bind(Json(policies_to_json(&token.policies)))
        .bind(join_nets(&token.condition.ip_in))
        .bind(join_nets(&token.condition.ip_not_in))
        .bind(token.not_before)
        .bind(token.expires_on)
        .bind(token.status.as_str())
        .bind(&token.hint)
        .bind(token.updated_at)
        .bind(digest.map(|d| d.0.to_vec()))
        .bind(token.id.as_uuid())
        .execute(&mut *self.tx)
        .await
        .context("updating a token")?;
        self.alters(Fact::Token(token.id));
        Ok(done.rows_affected() == 1)
    }

    async fn delete_token(&mut self, id: TokenId) -> anyhow::Result<bool> {
        let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&mut *self.tx)
            .await
            .context("deleting a token")?;
        self.alters(Fact::Token(id));
        Ok(done.rows_affected() == 1)
    }
}
