//! Ports: the traits storage adapters implement. Each documents what it MUST return when,
//! and the shared conformance suite (`conformance` feature) holds every adapter to it.
//!
//! Reads go through [`Store`] on an autocommit connection; every write goes through a
//! [`Transaction`], which is also where the audit event of that write is appended, so a
//! change and its audit row commit or vanish together.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::account::{Account, Version};
use crate::alias::{Alias, AliasFilter, AuthFailures, Domain, DomainName, LocalPart, Mailbox, MailboxPassword};
use crate::audit::{AuditEvent, AuditQuery};
use crate::email::EmailAddress;
use crate::id::{AccountId, AliasId, DomainId, SubscriptionId, TokenId, UserId};
use crate::idempotency::{IdempotencyKey, IdempotencyRecord};
use crate::member::Member;
use crate::page::{Page, PageRequest};
use crate::permission::Role;
use crate::subscription::{RatePlan, Subscription};
use crate::token::{Token, TokenDigest};
use crate::user::User;

mod mfa;

pub use mfa::{AccountUser, MfaRepository, MfaWrites};

/// Reads of accounts outside a transaction.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// The account with `id`; `Ok(None)` when there is none. Errors only on storage failure.
    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Accounts in ascending id order (creation order), starting strictly after
    /// `page.after`: at most `page.size` items, and `next` set exactly when more follow.
    /// MUST cost the same however deep the cursor is (keyset, never OFFSET).
    async fn list_accounts(&self, page: PageRequest) -> anyhow::Result<Page<Account>>;

    /// Like [`AccountRepository::list_accounts`], restricted to the accounts where `user` is
    /// a member (status `member`) of the account itself or of one of its ancestors.
    async fn list_accounts_of_member(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Account>>;

    /// The direct children of `parent`, paged like [`AccountRepository::list_accounts`].
    async fn list_children(&self, parent: AccountId, page: PageRequest) -> anyhow::Result<Page<Account>>;
}

/// A user's roles along an account's path, and the path's accounts that enforce two-factor.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathAccess {
    pub roles: Vec<(AccountId, Vec<Role>)>,
    pub enforcing: Vec<AccountId>,
}

/// Reads of users, memberships and tokens outside a transaction.
#[async_trait]
pub trait IdentityRepository: Send + Sync {
    async fn get_user(&self, id: UserId) -> anyhow::Result<Option<User>>;

    /// The ids of every user holding a root permission (a handful; one indexed query).
    async fn root_user_ids(&self) -> anyhow::Result<Vec<UserId>>;

    /// The user whose email equals `email` ignoring case.
    async fn find_user_by_email(&self, email: &EmailAddress) -> anyhow::Result<Option<User>>;

    /// Users in id order, paged like accounts.
    async fn list_users(&self, page: PageRequest) -> anyhow::Result<Page<User>>;

    async fn get_member(&self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>>;

    /// Members of `account` in user-id order, paged like accounts (the cursor is a user id).
    async fn list_members(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Member>>;

    /// The roles `user` holds as an accepted member (status `member`) of each of `accounts`
    /// that it belongs to; accounts it does not belong to are left out. One query.
    async fn member_roles(&self, user: UserId, accounts: &[AccountId]) -> anyhow::Result<Vec<(AccountId, Vec<Role>)>>;

    /// What `user` holds along `accounts` (an account's path: its ancestors and itself), in
    /// one query: the roles it holds as an accepted member of each, as
    /// [`IdentityRepository::member_roles`] returns them, and which of `accounts` have
    /// `settings.enforce_twofactor` set.
    async fn path_access(&self, user: UserId, accounts: &[AccountId]) -> anyhow::Result<PathAccess>;

    /// Every membership of `user`, invited ones included, in account-id order.
    async fn memberships_of(&self, user: UserId) -> anyhow::Result<Vec<Member>>;

    /// The token whose secret has `digest`, with its user: one indexed lookup.
    async fn find_token_by_digest(&self, digest: &TokenDigest) -> anyhow::Result<Option<(Token, User)>>;

    async fn get_token(&self, id: TokenId) -> anyhow::Result<Option<Token>>;

    /// Tokens created under `account` (of `user` only, when given), in id order, paged.
    async fn list_tokens(
        &self,
        account: AccountId,
        user: Option<UserId>,
        page: PageRequest,
    ) -> anyhow::Result<Page<Token>>;

    /// Platform tokens (bound to no account) of `user`, in id order, paged.
    async fn list_platform_tokens(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Token>>;

    /// Records that the token was used at `at`. Callers throttle it: it is a write.
    async fn touch_token(&self, id: TokenId, at: DateTime<Utc>) -> anyhow::Result<()>;
}

/// Reads of the rate-plan catalogue and of subscriptions.
#[async_trait]
pub trait SubscriptionRepository: Send + Sync {
    /// The catalogue, in id order.
    async fn list_rate_plans(&self) -> anyhow::Result<Vec<RatePlan>>;

    async fn get_rate_plan(&self, id: &str) -> anyhow::Result<Option<RatePlan>>;

    /// Subscriptions of `account` in id order, paged like accounts.
    async fn list_subscriptions(&self, account: AccountId, page: PageRequest) -> anyhow::Result<Page<Subscription>>;

    async fn get_subscription(&self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>>;
}

/// Subscription writes, available only inside a [`Transaction`].
#[async_trait]
pub trait SubscriptionWrites: Send {
    /// Reads a subscription and locks it like [`AccountWrites::find_account`].
    async fn find_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<Option<Subscription>>;

    async fn insert_subscription(&mut self, subscription: &Subscription) -> anyhow::Result<()>;

    /// Overwrites the subscription whose version is `expected`; `Ok(false)` when none matched.
    async fn update_subscription(&mut self, subscription: &Subscription, expected: Version) -> anyhow::Result<bool>;

    async fn delete_subscription(&mut self, id: SubscriptionId) -> anyhow::Result<bool>;
}

/// Why a user could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertUserError {
    /// MUST be returned when another user has the same email, ignoring case.
    #[error("the email address is taken")]
    EmailTaken,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// User, membership and token writes, available only inside a [`Transaction`].
#[async_trait]
pub trait IdentityWrites: Send {
    /// Reads a user inside the transaction and locks it like [`AccountWrites::find_account`].
    async fn find_user(&mut self, id: UserId) -> anyhow::Result<Option<User>>;

    async fn find_user_by_email(&mut self, email: &EmailAddress) -> anyhow::Result<Option<User>>;

    /// Whether any user holds a root permission.
    async fn any_root_user(&mut self) -> anyhow::Result<bool>;

    /// Every user holding a root permission, read and locked like [`IdentityWrites::find_user`],
    /// so two transactions demoting two root users serialize.
    async fn root_users(&mut self) -> anyhow::Result<Vec<User>>;

    async fn insert_user(&mut self, user: &User) -> Result<(), InsertUserError>;

    /// Overwrites the user whose version is `expected`; `Ok(false)` when none matched.
    async fn update_user(&mut self, user: &User, expected: Version) -> anyhow::Result<bool>;

    async fn find_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<Option<Member>>;

    /// Inserts the membership, or replaces the one of the same account and user.
    async fn save_member(&mut self, member: &Member) -> anyhow::Result<()>;

    /// Inserts a new membership; `Ok(false)`, changing nothing, when the user is a member
    /// already (including one a concurrent transaction just committed).
    async fn insert_member(&mut self, member: &Member) -> anyhow::Result<bool>;

    /// `Ok(false)` when there was no such membership.
    async fn delete_member(&mut self, account: AccountId, user: UserId) -> anyhow::Result<bool>;

    async fn find_token(&mut self, id: TokenId) -> anyhow::Result<Option<Token>>;

    /// Inserts a token with the digest of its secret.
    async fn insert_token(&mut self, token: &Token, digest: &TokenDigest) -> anyhow::Result<()>;

    /// Overwrites the token's mutable fields, and its digest when `digest` is given (a roll:
    /// the old secret stops matching at commit). `Ok(false)` when there is no such token.
    async fn update_token(&mut self, token: &Token, digest: Option<&TokenDigest>) -> anyhow::Result<bool>;

    async fn delete_token(&mut self, id: TokenId) -> anyhow::Result<bool>;
}

/// Reads of managed domains and email aliases outside a transaction, and the failure count
/// of mailbox authentication.
#[async_trait]
pub trait AliasRepository: Send + Sync {
    async fn get_domain(&self, id: DomainId) -> anyhow::Result<Option<Domain>>;

    async fn find_domain_by_name(&self, name: &DomainName) -> anyhow::Result<Option<Domain>>;

    /// Domains in id order, paged like accounts.
    async fn list_domains(&self, page: PageRequest) -> anyhow::Result<Page<Domain>>;

    async fn get_alias(&self, id: AliasId) -> anyhow::Result<Option<Alias>>;

    /// Aliases matching every filter of `filter`, in id order, paged like accounts.
    async fn list_aliases(&self, filter: &AliasFilter, page: PageRequest) -> anyhow::Result<Page<Alias>>;

    /// The primary alias of `account`, if it has one.
    async fn find_primary_alias(&self, account: AccountId) -> anyhow::Result<Option<Alias>>;

    /// The alias `local_part@domain` with its domain's status and password hash: one
    /// indexed lookup.
    async fn find_mailbox(&self, local_part: &LocalPart, domain: &DomainName) -> anyhow::Result<Option<Mailbox>>;

    /// The failed authentications recorded for `address`; `Ok(None)` when there are none.
    async fn auth_failures(&self, address: &str) -> anyhow::Result<Option<AuthFailures>>;

    /// Counts one more failure for `address` at `now` and returns the new count, atomically:
    /// concurrent failures are all counted. A streak whose last failure is before
    /// `streak_start` starts over at 1; the records of other addresses whose last failure is
    /// before `streak_start` may be deleted (they would start over too), so a flood of
    /// guessed addresses does not grow the store without bound.
    async fn record_auth_failure(
        &self,
        address: &str,
        now: DateTime<Utc>,
        streak_start: DateTime<Utc>,
    ) -> anyhow::Result<AuthFailures>;

    /// Forgets the failures of `address` (after a success).
    async fn clear_auth_failures(&self, address: &str) -> anyhow::Result<()>;
}

/// Why a domain could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertDomainError {
    /// MUST be returned when a domain of the same name exists.
    #[error("the domain exists")]
    NameTaken,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an alias could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertAliasError {
    /// MUST be returned when the address exists, ignoring case — including one a concurrent
    /// transaction committed — so two creations of one address never both succeed.
    #[error("the address is taken")]
    AddressTaken,
    /// MUST be returned when the account already has a primary alias, or the user a default
    /// alias in the account.
    #[error("the account already has a primary alias, or the user a default one")]
    DuplicateFlag,
    /// MUST be returned when the alias's domain does not exist (deleted concurrently).
    #[error("the domain does not exist")]
    DomainMissing,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Domain and alias writes, available only inside a [`Transaction`].
#[async_trait]
pub trait AliasWrites: Send {
    /// Reads a domain; it is not locked (a domain disabled concurrently with an alias
    /// creation may still receive that alias).
    async fn find_domain(&mut self, id: DomainId) -> anyhow::Result<Option<Domain>>;

    async fn insert_domain(&mut self, domain: &Domain) -> Result<(), InsertDomainError>;

    /// Overwrites status, version and `updated_at` of the domain whose version is
    /// `expected`; `Ok(false)` when none matched.
    async fn update_domain(&mut self, domain: &Domain, expected: Version) -> anyhow::Result<bool>;

    /// Deletes the domain. MUST return `Ok(None)`, deleting nothing, while aliases use it;
    /// `Ok(Some(false))` when there is no such domain.
    async fn delete_domain(&mut self, id: DomainId) -> anyhow::Result<Option<bool>>;

    /// Reads an alias and locks it like [`AccountWrites::find_account`].
    async fn find_alias(&mut self, id: AliasId) -> anyhow::Result<Option<Alias>>;

    /// The oldest alias of `user` in `account` other than `except`.
    async fn first_alias_of(
        &mut self,
        account: AccountId,
        user: UserId,
        except: AliasId,
    ) -> anyhow::Result<Option<Alias>>;

    /// Whether `user` has a default alias in `account`.
    async fn has_default_alias(&mut self, account: AccountId, user: UserId) -> anyhow::Result<bool>;

    /// Inserts the alias with the hash of its mailbox password.
    async fn insert_alias(&mut self, alias: &Alias, password_hash: Option<&str>) -> Result<(), InsertAliasError>;

    /// Overwrites display name, status, `is_default`, `password_changed_at`, version and
    /// `updated_at` of the alias whose version is `expected`, and its password hash when
    /// `password_hash` is given (the old password stops working at commit). `Ok(false)`
    /// when none matched.
    async fn update_alias(
        &mut self,
        alias: &Alias,
        password_hash: Option<&str>,
        expected: Version,
    ) -> anyhow::Result<bool>;

    async fn delete_alias(&mut self, id: AliasId) -> anyhow::Result<bool>;
}

/// Hashes and checks mailbox passwords. Slow by design: implementations keep the work off
/// the threads that serve requests.
#[async_trait]
pub trait PasswordHasher: Send + Sync + std::fmt::Debug {
    /// A PHC string of `password` with a fresh salt.
    async fn hash(&self, password: &MailboxPassword) -> anyhow::Result<String>;

    /// Whether `password` matches `phc`. With `None` (no such mailbox, or no password) it
    /// MUST take as long as a real check and answer `false`. Errors when `phc` is not a
    /// readable hash.
    async fn verify(&self, password: &secrecy::SecretString, phc: Option<&str>) -> anyhow::Result<bool>;
}

/// Reads of the audit trail.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditRepository: Send + Sync {
    /// Events matching every filter of `query`, in id order (`asc`: oldest first, starting
    /// after the cursor; `desc`: newest first, starting before it), paged like
    /// [`AccountRepository::list_accounts`]. Events outlive their account.
    async fn list_audit_events(&self, query: &AuditQuery) -> anyhow::Result<Page<AuditEvent>>;
}

/// Why an account could not be inserted.
#[derive(Debug, thiserror::Error)]
pub enum InsertAccountError {
    /// MUST be returned when the parent named by the account's hierarchy does not exist
    /// (for instance because it was deleted after the service read it).
    #[error("the parent account does not exist")]
    ParentMissing,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Account writes, available only inside a [`Transaction`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AccountWrites: Send {
    /// Reads an account inside the transaction and locks it against other writers until the
    /// transaction ends; `Ok(None)` when there is none.
    async fn find_account(&mut self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Serializes changes to the shape of the account tree (children created, subtrees moved
    /// or detached) until the transaction ends, so no change reads a path another is about
    /// to rewrite. Called before the first read of such a change.
    async fn lock_hierarchy(&mut self) -> anyhow::Result<()>;

    /// How many levels the subtree of `account` spans: 1 for an account without children.
    async fn subtree_height(&mut self, account: &Account) -> anyhow::Result<usize>;

    /// Moves the account whose version is `expected`, with its whole subtree, under the
    /// accounts `hierarchy` names (root first; empty for top level): paths rewritten, the
    /// account's parent set, every moved account's version incremented and `updated_at` set
    /// to `now`. Returns the moved accounts as they are after the move (the account first),
    /// or `Ok(None)` when no row has that id and version.
    async fn move_subtree(
        &mut self,
        account: &Account,
        expected: Version,
        hierarchy: &[AccountId],
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Vec<Account>>>;

    /// Inserts a new account exactly as given (id, hierarchy, version, timestamps).
    async fn insert_account(&mut self, account: &Account) -> Result<(), InsertAccountError>;

    /// Overwrites the mutable fields (name, status, owner, settings, version, updated_at) of
    /// the stored account whose version is `expected`. `Ok(false)` when no row has that id
    /// and version: the account is gone or a concurrent writer changed it first.
    async fn update_account(&mut self, account: &Account, expected: Version) -> anyhow::Result<bool>;

    /// Deletes the account whose version is `expected` and detaches its children: each child
    /// subtree becomes top-level, its accounts' hierarchy shortened accordingly, their version
    /// incremented and `updated_at` set to `now`. Returns those descendants as they are after
    /// the change, or `Ok(None)`, changing nothing, when no row has that id and version.
    async fn delete_account(
        &mut self,
        id: AccountId,
        expected: Version,
        now: DateTime<Utc>,
    ) -> anyhow::Result<Option<Vec<Account>>>;
}

/// Appending to the audit trail, available only inside a [`Transaction`].
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait AuditWrites: Send {
    /// Appends `event`; it becomes visible when, and only if, the transaction commits.
    async fn append_audit_event(&mut self, event: &AuditEvent) -> anyhow::Result<()>;
}

/// Idempotency records, read and written inside the transaction of the creation they guard.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait IdempotencyWrites: Send {
    /// The record of `key` in `scope` created at or after `not_before`; `Ok(None)` when there
    /// is none or only an older one.
    async fn find_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<Option<IdempotencyRecord>>;

    /// Saves `record`, replacing a record of the same scope and key created before
    /// `not_before`. MUST return `Ok(false)`, writing nothing, when a newer record exists —
    /// including one a concurrent transaction committed after this one began — so that of
    /// two requests with one key exactly one creates the resource.
    async fn save_idempotency_record(
        &mut self,
        record: &IdempotencyRecord,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<bool>;

    /// Names the resource in the record of `key` in `scope` that this transaction saved.
    /// Returns `Ok(false)` when there is no such record.
    async fn complete_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        resource_type: &str,
        resource_id: &str,
    ) -> anyhow::Result<bool>;
}

/// One database transaction. Dropping it without [`Transaction::commit`] rolls back
/// everything written through it.
#[async_trait]
pub trait Transaction:
    AccountWrites + AliasWrites + AuditWrites + IdempotencyWrites + IdentityWrites + MfaWrites + SubscriptionWrites + Send
{
    async fn commit(self: Box<Self>) -> anyhow::Result<()>;
}

/// Starts transactions. Implementations MUST serialize conflicting writers: an account read
/// with [`AccountWrites::find_account`] stays as read until the transaction ends (a row lock,
/// or a database-wide write lock), so a parent cannot move or vanish under a new child.
#[async_trait]
pub trait UnitOfWork: Send + Sync {
    async fn begin(&self) -> anyhow::Result<Box<dyn Transaction>>;
}

/// Everything a storage adapter provides, as one object the application picks at run time.
#[async_trait]
pub trait Store:
    UnitOfWork
    + AccountRepository
    + AliasRepository
    + AuditRepository
    + IdentityRepository
    + MfaRepository
    + SubscriptionRepository
    + std::fmt::Debug
{
    /// Succeeds when the database answers a trivial query.
    async fn ping(&self) -> anyhow::Result<()>;

    /// Deletes at most `limit` idempotency records created before `not_before`, in one
    /// short statement of its own (never inside a creation's transaction, so keyed creates
    /// of different callers do not queue behind one purge); returns how many it deleted.
    async fn purge_idempotency_records(&self, not_before: DateTime<Utc>, limit: u32) -> anyhow::Result<u64>;
}
