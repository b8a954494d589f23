//! The ports of users, memberships and tokens. Each documents what it MUST return when;
//! the conformance suite holds every adapter to it.

use async_trait::async_trait;
use chrono::{DateTime, Utc};

use crate::{
    AccountId, EmailAddress, Member, Page, PageRequest, Role, Token, TokenDigest, TokenId, User, UserId, Version,
};

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

    /// What a decision needs of `user`, in one query: the roles it holds on every account
    /// where it is an accepted member (status `member`), and whether it has an active factor.
    async fn user_access(&self, user: UserId) -> anyhow::Result<UserAccess>;

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

/// What a decision needs of a user besides the user itself ([`IdentityRepository::user_access`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserAccess {
    /// Each account where the user is an accepted member, with its roles there.
    pub memberships: Vec<(AccountId, Vec<Role>)>,
    pub active_factor: bool,
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

/// User, membership and token writes, available only inside a [`Transaction`](crate::Transaction).
#[async_trait]
pub trait IdentityWrites: Send {
    /// Reads a user inside the transaction and locks it like [`AccountWrites::find_account`](crate::AccountWrites::find_account).
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
