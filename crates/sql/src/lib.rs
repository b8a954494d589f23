//! The SQL that accountd's PostgreSQL and SQLite adapters share.
//!
//! Both databases accept the same statements here (`$n` placeholders, `RETURNING`,
//! `substr`, `ON CONFLICT … DO UPDATE … WHERE`), and sqlx decodes the same row types from
//! both, so the store is written
//! once, in [`impl_store!`], and each adapter instantiates it with its own pool type and the
//! few things that differ: how a write transaction begins and where its migrations live.

mod aliases;
mod context;
mod json;
mod mfa;
mod pool;
mod rows;

pub use aliases::{AliasRow, AuthFailuresRow, DomainRow};

pub use context::{Context, is_unavailable, mark};
pub use json::{changes_from_json, changes_to_json};
pub use mfa::{AccountUserRow, FactorRow};
pub use pool::PoolConfig;
pub use rows::{
    AccountRow, AuditRow, IdempotencyRow, JoinedUserRow, MemberRow, RatePlanRow, SubscriptionRow, TokenRow,
    TokenUserRow, UserRow, join_names, join_nets, parse_roles, path_of, policies_to_json, subtree_bounds,
};

/// Items the expansion of [`impl_store!`] needs, so adapter crates need not name them.
#[doc(hidden)]
pub mod __private {
    pub use accountd_domain as domain;
    pub use anyhow;
    pub use async_trait::async_trait;
    pub use chrono;
    pub use sqlx;
    pub use uuid;
}

/// True when `err` is a unique-constraint violation.
pub fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation))
}

/// True when `err` says an alias address is taken: PostgreSQL names the index, SQLite the
/// columns.
pub fn is_address_conflict(err: &sqlx::Error) -> bool {
    is_unique_violation(err)
        && matches!(err, sqlx::Error::Database(db)
            if db.constraint() == Some("aliases_address_key")
                || db.message().contains("aliases.domain_id, aliases.local_part"))
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
        "id, name, account_type, status, owner_id, path, abuse_contact_email, enforce_twofactor, version, created_at, \
         updated_at, business_name, business_address, business_email, business_phone, external_metadata"
    };
}

/// The columns of `users` that [`UserRow`] reads.
#[macro_export]
#[doc(hidden)]
macro_rules! user_columns {
    () => {
        "id, email, first_name, last_name, status, root_permissions, version, created_at, updated_at"
    };
}

/// The columns of a user joined as `u` that [`JoinedUserRow`] reads.
#[macro_export]
#[doc(hidden)]
macro_rules! joined_user_columns {
    () => {
        "u.email AS u_email, u.first_name AS u_first_name, u.last_name AS u_last_name, u.status AS u_status, \
         u.root_permissions AS u_root_permissions, u.version AS u_version, u.created_at AS u_created_at, \
         u.updated_at AS u_updated_at"
    };
}

/// The columns of `members` that [`MemberRow`] reads.
#[macro_export]
#[doc(hidden)]
macro_rules! member_columns {
    () => {
        "account_id, user_id, roles, status, invited_by, created_at, updated_at"
    };
}

/// The columns of `tokens` that [`TokenRow`] reads, qualified with the alias `t`.
#[macro_export]
#[doc(hidden)]
macro_rules! token_columns {
    () => {
        "t.id, t.account_id, t.user_id, t.name, t.policies, t.ip_in, t.ip_not_in, t.not_before, t.expires_on, \
         t.status, t.hint, t.last_used_on, t.created_at, t.updated_at"
    };
}

/// `SELECT` a subscription joined with its plan, as [`SubscriptionRow`] reads it, then the
/// given clauses.
#[macro_export]
#[doc(hidden)]
macro_rules! select_subscriptions {
    ($($tail:literal)*) => {
        concat!(
            "SELECT s.id, s.account_id, s.rate_plan_id, p.public_name AS plan_name, p.currency AS plan_currency, ",
            "p.monthly_price AS plan_price, s.frequency, s.state, s.price, s.currency, s.current_period_start, ",
            "s.current_period_end, s.version, s.created_at, s.updated_at ",
            "FROM subscriptions s JOIN rate_plans p ON p.id = s.rate_plan_id "
            $(, $tail)*
        )
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

/// Defines `$store` (the [`Store`](accountd_domain::Store) over a `sqlx::Pool<$db>`)
/// and `$tx` (its [`Transaction`](accountd_domain::Transaction)).
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
        lock: $lock:literal,
        hierarchy_lock: $hierarchy_lock:literal $(,)?
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
            use $crate::__private::anyhow;
            use $crate::Context as _;
            use $crate::__private::domain::{
                AccountRepository, AccountWrites, AuditRepository, AuditWrites, IdempotencyWrites, IdentityRepository,
                IdentityWrites, InsertAccountError, InsertUserError, PathAccess, Store, SubscriptionRepository, SubscriptionWrites,
                Transaction, UnitOfWork,
            };
            use $crate::__private::domain::AuditQuery;
            use $crate::__private::domain::{IdempotencyKey, IdempotencyRecord};
            use $crate::__private::domain::Member;
            use $crate::__private::domain::{RatePlan, Subscription};
            use $crate::__private::domain::{Token, TokenDigest};
            use $crate::__private::domain::User;
            use $crate::__private::domain::{
                Account, AccountId, AuditEvent, EmailAddress, Page, PageRequest, Role, SubscriptionId, TokenId, UserId,
                Version,
            };
            use $crate::__private::uuid;
            use $crate::__private::chrono::{DateTime, Utc};
            use $crate::__private::sqlx::{self, types::Json};
            use $crate::__private::async_trait;
            use $crate::{
                AccountRow, AuditRow, IdempotencyRow, MemberRow, RatePlanRow, SubscriptionRow, TokenRow, TokenUserRow, UserRow,
            };

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

                async fn list_children(&self, parent: AccountId, page: PageRequest) -> anyhow::Result<Page<Account>> {
                    let rows: Vec<AccountRow> =
                        sqlx::query_as($crate::select_accounts!("WHERE parent_id = $1 AND id > $2 ORDER BY id LIMIT $3"))
                            .bind(parent.as_uuid())
                            .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                            .bind(limit(page))
                            .fetch_all(&self.pool)
                            .await
                            .context("listing child accounts")?;
                    accounts(rows, page)
                }

                async fn list_accounts_of_member(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Account>> {
                    // Each membership is one path range (the account and its subtree); the
                    // union is read in id order from there, however many accounts exist.
                    let rows: Vec<AccountRow> = sqlx::query_as(concat!(
                        "SELECT DISTINCT ", $crate::account_columns!(), " FROM accounts WHERE id IN (",
                        "SELECT a.id FROM members m JOIN accounts ma ON ma.id = m.account_id ",
                        "JOIN accounts a ON a.path >= ma.path AND a.path < ma.path || '0' ",
                        "WHERE m.user_id = $1 AND m.status = 'member' AND a.id > $2) ORDER BY id LIMIT $3"
                    ))
                    .bind(user.as_uuid())
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
                    .context("listing a member's accounts")?;
                    accounts(rows, page)
                }
            }

            #[async_trait]
            impl IdentityRepository for $store {
                async fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>> {
                    let row: Option<UserRow> = sqlx::query_as(concat!("SELECT ", $crate::user_columns!(), " FROM users WHERE id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading a user")?;
                    row.map(User::try_from).transpose()
                }

                async fn root_user_ids(&self) -> anyhow::Result<Vec<UserId>> {
                    let rows: Vec<(uuid::Uuid,)> =
                        sqlx::query_as("SELECT id FROM users WHERE root_permissions <> '' ORDER BY id")
                            .fetch_all(&self.pool)
                            .await
                            .context("reading the root user ids")?;
                    Ok(rows.into_iter().map(|(id,)| UserId::from_uuid(id)).collect())
                }

                async fn find_user_by_email(&self, email: &EmailAddress) -> anyhow::Result<Option<User>> {
                    let row: Option<UserRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::user_columns!(), " FROM users WHERE lower(email) = lower($1)"
                    ))
                    .bind(email.as_str())
                    .fetch_optional(&self.pool)
                    .await
                    .context("finding a user by email")?;
                    row.map(User::try_from).transpose()
                }

                async fn list_users(&self, page: PageRequest) -> anyhow::Result<Page<User>> {
                    let rows: Vec<UserRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::user_columns!(), " FROM users WHERE id > $1 ORDER BY id LIMIT $2"
                    ))
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
                    .context("listing users")?;
                    let users = rows.into_iter().map(User::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(users, page.size, |u| u.id.as_uuid()))
                }

                async fn get_member(&self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>> {
                    let row: Option<MemberRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::member_columns!(), " FROM members WHERE account_id = $1 AND user_id = $2"
                    ))
                    .bind(account.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&self.pool)
                    .await
                    .context("reading a member")?;
                    row.map(Member::try_from).transpose()
                }

                async fn list_members(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Member>> {
                    let rows: Vec<MemberRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::member_columns!(), " FROM members WHERE account_id = $1 AND user_id > $2 ",
                        "ORDER BY user_id LIMIT $3"
                    ))
                    .bind(account.as_uuid())
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
                    .context("listing members")?;
                    let members = rows.into_iter().map(Member::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(members, page.size, |m| m.user_id.as_uuid()))
                }

                async fn member_roles(&self, user: UserId, accounts: &[AccountId]) -> anyhow::Result<Vec<(AccountId, Vec<Role>)>> {
                    if accounts.is_empty() {
                        return Ok(Vec::new());
                    }
                    // Placeholders only: every value is bound.
                    let placeholders: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 2)).collect();
                    let sql = format!(
                        "SELECT account_id, roles FROM members WHERE user_id = $1 AND status = 'member' AND account_id IN ({})",
                        placeholders.join(", ")
                    );
                    let mut query = sqlx::query_as::<_, (uuid::Uuid, String)>(sqlx::AssertSqlSafe(sql)).bind(user.as_uuid());
                    for account in accounts {
                        query = query.bind(account.as_uuid());
                    }
                    let rows = query.fetch_all(&self.pool).await.context("reading a user's roles")?;
                    rows.into_iter().map(|(a, r)| Ok((AccountId::from_uuid(a), $crate::parse_roles(&r)?))).collect()
                }

                async fn path_access(&self, user: UserId, accounts: &[AccountId]) -> anyhow::Result<PathAccess> {
                    if accounts.is_empty() {
                        return Ok(PathAccess::default());
                    }
                    // Roles are never empty (members_roles_present): an empty one marks an
                    // account of the path that enforces two-factor. Placeholders only.
                    let placeholders: Vec<String> = (0..accounts.len()).map(|i| format!("${}", i + 2)).collect();
                    let list = placeholders.join(", ");
                    let sql = format!(
                        "SELECT account_id, roles FROM members WHERE user_id = $1 AND status = 'member' \
                         AND account_id IN ({list}) UNION ALL \
                         SELECT id, '' FROM accounts WHERE enforce_twofactor AND id IN ({list})"
                    );
                    let mut query = sqlx::query_as::<_, (uuid::Uuid, String)>(sqlx::AssertSqlSafe(sql)).bind(user.as_uuid());
                    for account in accounts {
                        query = query.bind(account.as_uuid());
                    }
                    let rows = query.fetch_all(&self.pool).await.context("reading a user's access along a path")?;
                    let mut access = PathAccess::default();
                    for (account, roles) in rows {
                        let account = AccountId::from_uuid(account);
                        if roles.is_empty() {
                            access.enforcing.push(account);
                        } else {
                            access.roles.push((account, $crate::parse_roles(&roles)?));
                        }
                    }
                    Ok(access)
                }

                async fn memberships_of(&self, user: UserId) -> anyhow::Result<Vec<Member>> {
                    let rows: Vec<MemberRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::member_columns!(), " FROM members WHERE user_id = $1 ORDER BY account_id"
                    ))
                    .bind(user.as_uuid())
                    .fetch_all(&self.pool)
                    .await
                    .context("listing a user's memberships")?;
                    rows.into_iter().map(Member::try_from).collect()
                }

                async fn find_token_by_digest(&self, digest: &TokenDigest) -> anyhow::Result<Option<(Token, User)>> {
                    let row: Option<TokenUserRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::token_columns!(), ", ", $crate::joined_user_columns!(),
                        " FROM tokens t JOIN users u ON u.id = t.user_id WHERE t.digest = $1"
                    ))
                    .bind(&digest.0[..])
                    .fetch_optional(&self.pool)
                    .await
                    .context("looking a token up")?;
                    row.map(<(Token, User)>::try_from).transpose()
                }

                async fn get_token(&self, id: TokenId) -> anyhow::Result<Option<Token>> {
                    let row: Option<TokenRow> = sqlx::query_as(concat!("SELECT ", $crate::token_columns!(), " FROM tokens t WHERE t.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading a token")?;
                    row.map(Token::try_from).transpose()
                }

                async fn list_tokens(&self, account: AccountId, user: Option<UserId>, page: PageRequest) -> anyhow::Result<Page<Token>> {
                    let rows: Vec<TokenRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::token_columns!(), " FROM tokens t WHERE t.account_id = $1 AND t.id > $2 ",
                        "AND ($3 IS NULL OR t.user_id = $3) ORDER BY t.id LIMIT $4"
                    ))
                    .bind(account.as_uuid())
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(user.map(|u| u.as_uuid()))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
                    .context("listing tokens")?;
                    let tokens = rows.into_iter().map(Token::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(tokens, page.size, |t| t.id.as_uuid()))
                }

                async fn list_platform_tokens(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Token>> {
                    let rows: Vec<TokenRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::token_columns!(), " FROM tokens t WHERE t.account_id IS NULL AND t.user_id = $1 ",
                        "AND t.id > $2 ORDER BY t.id LIMIT $3"
                    ))
                    .bind(user.as_uuid())
                    .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                    .bind(limit(page))
                    .fetch_all(&self.pool)
                    .await
                    .context("listing platform tokens")?;
                    let tokens = rows.into_iter().map(Token::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(tokens, page.size, |t| t.id.as_uuid()))
                }

                async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> anyhow::Result<()> {
                    sqlx::query("UPDATE tokens SET last_used_on = $2 WHERE id = $1")
                        .bind(id.as_uuid())
                        .bind(at)
                        .execute(&self.pool)
                        .await
                        .context("recording token use")?;
                    Ok(())
                }
            }

            /// The audit listing with every optional filter; `$account` picks the account (or
            /// platform events) and `$cmp`/`$order` the direction.
            macro_rules! audit_sql {
                ($account:literal, $cmp:literal, $order:literal) => {
                    $crate::select_audit_events!(
                        $account
                        " AND ($2 IS NULL OR occurred_at >= $2) AND ($3 IS NULL OR occurred_at < $3)"
                        " AND ($4 IS NULL OR action = $4) AND ($5 IS NULL OR actor_id = $5)"
                        " AND ($6 IS NULL OR resource_type = $6) AND ($7 IS NULL OR resource_id = $7)"
                        " AND id " $cmp " $8 ORDER BY id " $order " LIMIT $9"
                    )
                };
            }

            #[async_trait]
            impl AuditRepository for $store {
                async fn list_audit_events(&self, query: &AuditQuery) -> anyhow::Result<Page<AuditEvent>> {
                    use $crate::__private::domain::Direction;
                    let sql = match (query.account_id.is_some(), query.direction) {
                        (true, Direction::Asc) => audit_sql!("WHERE account_id = $1", ">", "ASC"),
                        (true, Direction::Desc) => audit_sql!("WHERE account_id = $1", "<", "DESC"),
                        (false, Direction::Asc) => audit_sql!("WHERE $1 IS NULL AND account_id IS NULL", ">", "ASC"),
                        (false, Direction::Desc) => audit_sql!("WHERE $1 IS NULL AND account_id IS NULL", "<", "DESC"),
                    };
                    let start = match (query.page.after, query.direction) {
                        (Some(cursor), _) => cursor.key(),
                        (None, Direction::Asc) => uuid::Uuid::nil(),
                        (None, Direction::Desc) => uuid::Uuid::max(),
                    };
                    let rows: Vec<AuditRow> = sqlx::query_as(sql)
                        .bind(query.account_id.map(|a| a.as_uuid()))
                        .bind(query.since)
                        .bind(query.before)
                        .bind(query.action.as_deref())
                        .bind(query.actor_id.as_deref())
                        .bind(query.resource_type.as_deref())
                        .bind(query.resource_id.as_deref())
                        .bind(start)
                        .bind(limit(query.page))
                        .fetch_all(&self.pool)
                        .await
                        .context("listing audit events")?;
                    let events = rows.into_iter().map(AuditEvent::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(events, query.page.size, |e| e.id.as_uuid()))
                }
            }

            #[async_trait]
            impl SubscriptionRepository for $store {
                async fn list_rate_plans(&self) -> anyhow::Result<Vec<RatePlan>> {
                    let rows: Vec<RatePlanRow> =
                        sqlx::query_as("SELECT id, public_name, currency, monthly_price FROM rate_plans ORDER BY id")
                            .fetch_all(&self.pool)
                            .await
                            .context("listing rate plans")?;
                    Ok(rows.into_iter().map(RatePlan::from).collect())
                }

                async fn get_rate_plan(&self, id: &str) -> anyhow::Result<Option<RatePlan>> {
                    let row: Option<RatePlanRow> =
                        sqlx::query_as("SELECT id, public_name, currency, monthly_price FROM rate_plans WHERE id = $1")
                            .bind(id)
                            .fetch_optional(&self.pool)
                            .await
                            .context("reading a rate plan")?;
                    Ok(row.map(RatePlan::from))
                }

                async fn list_subscriptions(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Subscription>> {
                    let rows: Vec<SubscriptionRow> =
                        sqlx::query_as($crate::select_subscriptions!("WHERE s.account_id = $1 AND s.id > $2 ORDER BY s.id LIMIT $3"))
                            .bind(account.as_uuid())
                            .bind(page.after.map_or(uuid::Uuid::nil(), |c| c.key()))
                            .bind(limit(page))
                            .fetch_all(&self.pool)
                            .await
                            .context("listing subscriptions")?;
                    let items = rows.into_iter().map(Subscription::try_from).collect::<anyhow::Result<Vec<_>>>()?;
                    Ok(Page::from_overfetch(items, page.size, |s| s.id.as_uuid()))
                }

                async fn get_subscription(&self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>> {
                    let row: Option<SubscriptionRow> = sqlx::query_as($crate::select_subscriptions!("WHERE s.id = $1"))
                        .bind(id.as_uuid())
                        .fetch_optional(&self.pool)
                        .await
                        .context("reading a subscription")?;
                    row.map(Subscription::try_from).transpose()
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

                async fn purge_idempotency_records(&self, not_before: DateTime<Utc>, limit: u32) -> anyhow::Result<u64> {
                    // Bounded by the subquery's LIMIT (the created_at index finds the rows),
                    // autocommitted on the pool: no creation's transaction waits on it.
                    let done = sqlx::query(concat!(
                        "DELETE FROM idempotency_keys WHERE (scope, key) IN ",
                        "(SELECT scope, key FROM idempotency_keys WHERE created_at < $1 ORDER BY created_at LIMIT $2)"
                    ))
                    .bind(not_before)
                    .bind(i64::from(limit))
                    .execute(&self.pool)
                    .await
                    .context("purging expired idempotency records")?;
                    Ok(done.rows_affected())
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

                async fn lock_hierarchy(&mut self) -> anyhow::Result<()> {
                    if !$hierarchy_lock.is_empty() {
                        sqlx::query($hierarchy_lock).execute(&mut *self.tx).await.context("locking the account tree")?;
                    }
                    Ok(())
                }

                async fn subtree_height(&mut self, account: &Account) -> anyhow::Result<usize> {
                    let path = $crate::path_of(account);
                    let (low, high) = $crate::subtree_bounds(&path);
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
                    let path = $crate::path_of(account);
                    let (low, high) = $crate::subtree_bounds(&path);
                    let prefix: String = hierarchy.iter().map(|id| format!("{id}/")).collect();
                    // Each moved path keeps everything from the account's own id on.
                    let own = i32::try_from(path.len() - 35).context("account path too long")?;
                    let rows: Vec<AccountRow> = sqlx::query_as(concat!(
                        "UPDATE accounts SET path = $1 || substr(path, $2), ",
                        "parent_id = CASE WHEN id = $3 THEN $4 ELSE parent_id END, ",
                        "version = version + 1, updated_at = $5 ",
                        "WHERE (id = $3 AND version = $6) OR (path >= $7 AND path < $8) RETURNING ",
                        $crate::account_columns!()
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
                    let Some(first) = moved.iter().position(|a| a.id == account.id) else { return Ok(None) };
                    moved.swap(0, first);
                    Ok(Some(moved))
                }

                async fn insert_account(&mut self, account: &Account) -> Result<(), InsertAccountError> {
                    let result = sqlx::query(concat!(
                        "INSERT INTO accounts (id, name, account_type, status, owner_id, parent_id, path, ",
                        "abuse_contact_email, enforce_twofactor, version, created_at, updated_at, business_name, ",
                        "business_address, business_email, business_phone, external_metadata) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17)"
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
                    .bind(account.profile.business_name.as_deref())
                    .bind(account.profile.business_address.as_deref())
                    .bind(account.profile.business_email.as_ref().map(|e| e.as_str()))
                    .bind(account.profile.business_phone.as_deref())
                    .bind(account.profile.external_metadata.as_deref())
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
                        "enforce_twofactor = $6, version = $7, updated_at = $8, business_name = $10, ",
                        "business_address = $11, business_email = $12, business_phone = $13, external_metadata = $14 ",
                        "WHERE id = $1 AND version = $9"
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
                    .bind(account.profile.business_name.as_deref())
                    .bind(account.profile.business_address.as_deref())
                    .bind(account.profile.business_email.as_ref().map(|e| e.as_str()))
                    .bind(account.profile.business_phone.as_deref())
                    .bind(account.profile.external_metadata.as_deref())
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
                        "SELECT scope, key, operation, fingerprint, resource_type, resource_id, created_at FROM idempotency_keys ",
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
                    // Expired keys are purged outside this transaction
                    // (`Store::purge_idempotency_records`); an expired record of this very key
                    // is replaced below.
                    let done = sqlx::query(concat!(
                        "INSERT INTO idempotency_keys ",
                        "(scope, key, fingerprint, resource_type, resource_id, created_at, operation) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $8) ON CONFLICT (scope, key) DO UPDATE SET ",
                        "fingerprint = excluded.fingerprint, resource_type = excluded.resource_type, ",
                        "resource_id = excluded.resource_id, created_at = excluded.created_at, ",
                        "operation = excluded.operation ",
                        "WHERE idempotency_keys.created_at < $7"
                    ))
                    .bind(&record.scope)
                    .bind(record.key.as_str())
                    .bind(&record.fingerprint)
                    .bind(&record.resource_type)
                    .bind(&record.resource_id)
                    .bind(record.created_at)
                    .bind(not_before)
                    .bind(&record.operation)
                    .execute(&mut *self.tx)
                    .await
                    .context("saving an idempotency record")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn complete_idempotency_record(
                    &mut self,
                    scope: &str,
                    key: &IdempotencyKey,
                    resource_type: &str,
                    resource_id: &str,
                ) -> anyhow::Result<bool> {
                    let done = sqlx::query(
                        "UPDATE idempotency_keys SET resource_type = $3, resource_id = $4 WHERE scope = $1 AND key = $2",
                    )
                    .bind(scope)
                    .bind(key.as_str())
                    .bind(resource_type)
                    .bind(resource_id)
                    .execute(&mut *self.tx)
                    .await
                    .context("completing an idempotency record")?;
                    Ok(done.rows_affected() == 1)
                }
            }

            #[async_trait]
            impl IdentityWrites for $tx {
                async fn find_user(&mut self, id: UserId) -> anyhow::Result<Option<User>> {
                    let row: Option<UserRow> =
                        sqlx::query_as(concat!("SELECT ", $crate::user_columns!(), " FROM users WHERE id = $1", $lock))
                            .bind(id.as_uuid())
                            .fetch_optional(&mut *self.tx)
                            .await
                            .context("reading a user")?;
                    row.map(User::try_from).transpose()
                }

                async fn find_user_by_email(&mut self, email: &EmailAddress) -> anyhow::Result<Option<User>> {
                    let row: Option<UserRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::user_columns!(), " FROM users WHERE lower(email) = lower($1)"
                    ))
                    .bind(email.as_str())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context("finding a user by email")?;
                    row.map(User::try_from).transpose()
                }

                async fn any_root_user(&mut self) -> anyhow::Result<bool> {
                    let row: Option<(uuid::Uuid,)> = sqlx::query_as("SELECT id FROM users WHERE root_permissions <> '' LIMIT 1")
                        .fetch_optional(&mut *self.tx)
                        .await
                        .context("looking for a root user")?;
                    Ok(row.is_some())
                }

                async fn root_users(&mut self) -> anyhow::Result<Vec<User>> {
                    let rows: Vec<UserRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::user_columns!(), " FROM users WHERE root_permissions <> '' ORDER BY id", $lock
                    ))
                    .fetch_all(&mut *self.tx)
                    .await
                    .context("reading the root users")?;
                    rows.into_iter().map(User::try_from).collect()
                }

                async fn insert_user(&mut self, user: &User) -> Result<(), InsertUserError> {
                    let result = sqlx::query(concat!(
                        "INSERT INTO users (id, email, first_name, last_name, status, root_permissions, version, ",
                        "created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)"
                    ))
                    .bind(user.id.as_uuid())
                    .bind(user.email.as_str())
                    .bind(user.first_name.as_ref().map(|n| n.as_str()))
                    .bind(user.last_name.as_ref().map(|n| n.as_str()))
                    .bind(user.status.as_str())
                    .bind($crate::join_names(user.root_permissions.names()))
                    .bind(user.version.get())
                    .bind(user.created_at)
                    .bind(user.updated_at)
                    .execute(&mut *self.tx)
                    .await;
                    match result {
                        Ok(_) => Ok(()),
                        // The primary key is a fresh UUIDv7; the only unique value a caller
                        // can collide on is the email.
                        Err(e) if $crate::is_unique_violation(&e) => Err(InsertUserError::EmailTaken),
                        Err(e) => Err(anyhow::Error::new(e).context("inserting a user").into()),
                    }
                }

                async fn update_user(&mut self, user: &User, expected: Version) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "UPDATE users SET first_name = $2, last_name = $3, status = $4, root_permissions = $5, ",
                        "version = $6, updated_at = $7 WHERE id = $1 AND version = $8"
                    ))
                    .bind(user.id.as_uuid())
                    .bind(user.first_name.as_ref().map(|n| n.as_str()))
                    .bind(user.last_name.as_ref().map(|n| n.as_str()))
                    .bind(user.status.as_str())
                    .bind($crate::join_names(user.root_permissions.names()))
                    .bind(user.version.get())
                    .bind(user.updated_at)
                    .bind(expected.get())
                    .execute(&mut *self.tx)
                    .await
                    .context("updating a user")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn find_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>> {
                    let row: Option<MemberRow> = sqlx::query_as(concat!(
                        "SELECT ", $crate::member_columns!(), " FROM members WHERE account_id = $1 AND user_id = $2", $lock
                    ))
                    .bind(account.as_uuid())
                    .bind(user.as_uuid())
                    .fetch_optional(&mut *self.tx)
                    .await
                    .context("reading a member")?;
                    row.map(Member::try_from).transpose()
                }

                async fn save_member(&mut self, member: &Member) -> anyhow::Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO members (account_id, user_id, roles, status, invited_by, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id, user_id) DO UPDATE SET ",
                        "roles = excluded.roles, status = excluded.status, updated_at = excluded.updated_at"
                    ))
                    .bind(member.account_id.as_uuid())
                    .bind(member.user_id.as_uuid())
                    .bind($crate::join_names(member.roles.iter().map(|r| r.as_str())))
                    .bind(member.status.as_str())
                    .bind(member.invited_by.map(|u| u.as_uuid()))
                    .bind(member.created_at)
                    .bind(member.updated_at)
                    .execute(&mut *self.tx)
                    .await
                    .context("saving a member")?;
                    Ok(())
                }

                async fn insert_member(&mut self, member: &Member) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "INSERT INTO members (account_id, user_id, roles, status, invited_by, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (account_id, user_id) DO NOTHING"
                    ))
                    .bind(member.account_id.as_uuid())
                    .bind(member.user_id.as_uuid())
                    .bind($crate::join_names(member.roles.iter().map(|r| r.as_str())))
                    .bind(member.status.as_str())
                    .bind(member.invited_by.map(|u| u.as_uuid()))
                    .bind(member.created_at)
                    .bind(member.updated_at)
                    .execute(&mut *self.tx)
                    .await
                    .context("inserting a member")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<bool> {
                    let done = sqlx::query("DELETE FROM members WHERE account_id = $1 AND user_id = $2")
                        .bind(account.as_uuid())
                        .bind(user.as_uuid())
                        .execute(&mut *self.tx)
                        .await
                        .context("deleting a member")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn find_token(&mut self, id: TokenId) -> anyhow::Result<Option<Token>> {
                    let row: Option<TokenRow> =
                        sqlx::query_as(concat!("SELECT ", $crate::token_columns!(), " FROM tokens t WHERE t.id = $1", $lock))
                            .bind(id.as_uuid())
                            .fetch_optional(&mut *self.tx)
                            .await
                            .context("reading a token")?;
                    row.map(Token::try_from).transpose()
                }

                async fn insert_token(&mut self, token: &Token, digest: &TokenDigest) -> anyhow::Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO tokens (id, account_id, user_id, name, policies, ip_in, ip_not_in, not_before, ",
                        "expires_on, status, hint, digest, last_used_on, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)"
                    ))
                    .bind(token.id.as_uuid())
                    .bind(token.account_id.map(|a| a.as_uuid()))
                    .bind(token.user_id.as_uuid())
                    .bind(token.name.as_str())
                    .bind(Json($crate::policies_to_json(&token.policies)))
                    .bind($crate::join_nets(&token.condition.ip_in))
                    .bind($crate::join_nets(&token.condition.ip_not_in))
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
                    let done = sqlx::query(concat!(
                        "UPDATE tokens SET name = $2, policies = $3, ip_in = $4, ip_not_in = $5, not_before = $6, ",
                        "expires_on = $7, status = $8, hint = $9, updated_at = $10, digest = COALESCE($11, digest) ",
                        "WHERE id = $1"
                    ))
                    .bind(token.id.as_uuid())
                    .bind(token.name.as_str())
                    .bind(Json($crate::policies_to_json(&token.policies)))
                    .bind($crate::join_nets(&token.condition.ip_in))
                    .bind($crate::join_nets(&token.condition.ip_not_in))
                    .bind(token.not_before)
                    .bind(token.expires_on)
                    .bind(token.status.as_str())
                    .bind(&token.hint)
                    .bind(token.updated_at)
                    .bind(digest.map(|d| d.0.to_vec()))
                    .execute(&mut *self.tx)
                    .await
                    .context("updating a token")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_token(&mut self, id: TokenId) -> anyhow::Result<bool> {
                    let done = sqlx::query("DELETE FROM tokens WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await
                        .context("deleting a token")?;
                    Ok(done.rows_affected() == 1)
                }
            }

            #[async_trait]
            impl SubscriptionWrites for $tx {
                async fn find_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>> {
                    let row: Option<SubscriptionRow> = sqlx::query_as($crate::select_subscriptions!("WHERE s.id = $1" $lock))
                        .bind(id.as_uuid())
                        .fetch_optional(&mut *self.tx)
                        .await
                        .context("reading a subscription")?;
                    row.map(Subscription::try_from).transpose()
                }

                async fn insert_subscription(&mut self, s: &Subscription) -> anyhow::Result<()> {
                    sqlx::query(concat!(
                        "INSERT INTO subscriptions (id, account_id, rate_plan_id, frequency, state, price, currency, ",
                        "current_period_start, current_period_end, version, created_at, updated_at) ",
                        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)"
                    ))
                    .bind(s.id.as_uuid())
                    .bind(s.account_id.as_uuid())
                    .bind(&s.rate_plan.id)
                    .bind(s.frequency.as_str())
                    .bind(s.state.as_str())
                    .bind(s.price)
                    .bind(&s.currency)
                    .bind(s.current_period_start)
                    .bind(s.current_period_end)
                    .bind(s.version.get())
                    .bind(s.created_at)
                    .bind(s.updated_at)
                    .execute(&mut *self.tx)
                    .await
                    .context("inserting a subscription")?;
                    Ok(())
                }

                async fn update_subscription(&mut self, s: &Subscription, expected: Version) -> anyhow::Result<bool> {
                    let done = sqlx::query(concat!(
                        "UPDATE subscriptions SET rate_plan_id = $2, frequency = $3, state = $4, price = $5, currency = $6, ",
                        "current_period_start = $7, current_period_end = $8, version = $9, updated_at = $10 ",
                        "WHERE id = $1 AND version = $11"
                    ))
                    .bind(s.id.as_uuid())
                    .bind(&s.rate_plan.id)
                    .bind(s.frequency.as_str())
                    .bind(s.state.as_str())
                    .bind(s.price)
                    .bind(&s.currency)
                    .bind(s.current_period_start)
                    .bind(s.current_period_end)
                    .bind(s.version.get())
                    .bind(s.updated_at)
                    .bind(expected.get())
                    .execute(&mut *self.tx)
                    .await
                    .context("updating a subscription")?;
                    Ok(done.rows_affected() == 1)
                }

                async fn delete_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<bool> {
                    let done = sqlx::query("DELETE FROM subscriptions WHERE id = $1")
                        .bind(id.as_uuid())
                        .execute(&mut *self.tx)
                        .await
                        .context("deleting a subscription")?;
                    Ok(done.rows_affected() == 1)
                }
            }

            $crate::impl_alias_store!(store: $store, transaction: $tx, database: $db, lock: $lock);

            #[async_trait]
            impl Transaction for $tx {
                async fn commit(self: Box<Self>) -> anyhow::Result<()> {
                    self.tx.commit().await.context("committing a transaction")
                }
            }
        };
    };
}
