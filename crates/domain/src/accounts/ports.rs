//! The ports of accounts: reads outside a transaction, and the writes a transaction offers.
//! Each documents what it MUST return when; the conformance suite holds every adapter to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{Account, AccountId, Page, PageRequest, Placement, UserId, Version};

/// Reads of accounts outside a transaction.
#[async_trait]
pub trait AccountRepository: Send + Sync {
    /// The account with `id`; `Ok(None)` when there is none. Errors only on storage failure.
    async fn get_account(&self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Accounts in ascending id order (creation order), starting strictly after
    /// `page.after`: at most `page.size` items, and `next` set exactly when more follow.
    /// MUST cost the same however deep the cursor is (keyset, never OFFSET).
    async fn list_accounts(&self, page: PageRequest) -> anyhow::Result<Page<Account>>;

    /// Like [`AccountRepository::list_accounts`](crate::AccountRepository::list_accounts), restricted to the accounts where `user` is
    /// a member (status `member`) of the account itself or of one of its ancestors.
    async fn list_accounts_of_member(&self, user: UserId, page: PageRequest) -> anyhow::Result<Page<Account>>;

    /// The placements (tree position and two-factor enforcement) of those of `ids` that
    /// exist, in any order; unknown ids are left out. One query.
    async fn placements(&self, ids: &[AccountId]) -> anyhow::Result<Vec<Placement>>;

    /// The direct children of `parent`, paged like [`AccountRepository::list_accounts`](crate::AccountRepository::list_accounts).
    async fn list_children(&self, parent: AccountId, page: PageRequest) -> anyhow::Result<Page<Account>>;

    /// Accounts whose name starts with `name_prefix`, compared case-insensitively (the
    /// store's `lower()`), in order of (lowercased name, id), starting strictly after the
    /// account `page.after` names: at most `page.size` items, `next` set exactly when more
    /// follow. With `member`, only the accounts that
    /// [`AccountRepository::list_accounts_of_member`](crate::AccountRepository::list_accounts_of_member)
    /// would list. MUST be keyset-paged over an index on the lowercased name (never OFFSET).
    /// A cursor naming an account that no longer exists ends the listing (an empty page).
    async fn search_accounts(
        &self,
        name_prefix: &str,
        member: Option<UserId>,
        page: PageRequest,
    ) -> anyhow::Result<Page<Account>>;
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

/// Account writes, available only inside a [`Transaction`](crate::Transaction).
#[async_trait]
pub trait AccountWrites: Send {
    /// Reads an account inside the transaction and locks it against other writers until the
    /// transaction ends; `Ok(None)` when there is none.
    async fn find_account(&mut self, id: AccountId) -> anyhow::Result<Option<Account>>;

    /// Serializes changes to the shape of the trees holding `accounts` (children created,
    /// subtrees moved or detached) until the transaction ends, so no change reads a path
    /// another is about to rewrite; changes in other trees proceed in parallel. A tree is
    /// named by its root as read once the lock is held: a store that locks per tree re-reads
    /// the roots after locking and also locks any tree an account moved to meanwhile, so on
    /// return every tree the accounts are in is locked. A move locks both the mover's tree and
    /// the new parent's. Ids of accounts that do not exist are ignored. Called before the
    /// first read of such a change.
    async fn lock_trees(&mut self, accounts: &[AccountId]) -> anyhow::Result<()>;

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
