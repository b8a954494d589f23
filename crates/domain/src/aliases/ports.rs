//! The ports of managed domains, email aliases and mailbox passwords. Each documents what
//! it MUST return when; the conformance suite holds every adapter to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AccountId, Alias, AliasFilter, AliasId, AuthFailures, Domain, DomainId, DomainName, LocalPart, Mailbox,
    MailboxPassword, Page, PageRequest, UserId, Version,
};

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

/// Domain and alias writes, available only inside a [`Transaction`](crate::Transaction).
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

    /// Reads an alias and locks it like [`AccountWrites::find_account`](crate::AccountWrites::find_account).
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
