//! The account service: create, read, list, update and delete accounts, each change
//! authorized, version-checked where the client asks, and audited in its own transaction.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tracing::instrument;

use crate::{
    AccessError, Account, AccountId, AccountNamePrefix, AccountPatch, AccountProfile, AccountStatus, Alias, AliasError,
    AuditEntry, Begun, Changes, Clock, Created, Deps, ErrorKind, FieldError, HasErrorKind, IdGenerator,
    IdempotencyError, IdempotencyKey, IfMatch, InsertAccountError, Member, MemberStatus, NewAccount, Page, PageRequest,
    Permission, PermissionSet, Principal, Role, Store, TWOFACTOR_REQUIRED_CODE, Transaction, UserId, ValidationErrors,
    Version, insert_primary_alias, stored_id,
};

/// Why an account could not be created.
#[derive(Debug, thiserror::Error)]
pub enum CreateAccountError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("permission denied")]
    Forbidden,
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
    #[error("an account of type {0} cannot have child accounts")]
    ParentNotContainer(crate::AccountType),
    #[error("the account would be more than {} levels deep", Account::MAX_DEPTH)]
    TooDeep,
    #[error("this idempotency key was used for a different request")]
    IdempotencyKeyReused,
    #[error("the account created with this idempotency key has since been deleted or moved out of your reach")]
    ReplayedAccountGone,
    /// The primary alias was refused; no account was created.
    #[error("primary alias: {0}")]
    PrimaryAlias(AliasError),
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl From<IdempotencyError> for CreateAccountError {
    fn from(e: IdempotencyError) -> Self {
        match e {
            IdempotencyError::KeyReused => Self::IdempotencyKeyReused,
            IdempotencyError::Unknown(e) => Self::Unknown(e),
        }
    }
}

impl From<AliasError> for CreateAccountError {
    fn from(e: AliasError) -> Self {
        match e {
            AliasError::Unknown(e) => Self::Unknown(e),
            other => Self::PrimaryAlias(other),
        }
    }
}

/// A new account, with its primary alias when one was asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountCreated {
    pub account: Account,
    pub primary_alias: Option<Alias>,
}

/// Why an account could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GetAccountError {
    #[error("account not found")]
    NotFound,
    #[error("permission denied")]
    Forbidden,
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why accounts could not be listed.
#[derive(Debug, thiserror::Error)]
pub enum ListAccountsError {
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an account could not be updated.
#[derive(Debug, thiserror::Error)]
pub enum UpdateAccountError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("account not found")]
    NotFound,
    #[error("permission denied")]
    Forbidden,
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
    #[error("the account has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the account was changed concurrently; retry")]
    Conflict,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Why an account could not be moved.
#[derive(Debug, thiserror::Error)]
pub enum MoveAccountError {
    #[error("{0}")]
    Invalid(ValidationErrors),
    #[error("account not found")]
    NotFound,
    #[error("permission denied")]
    Forbidden,
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
    #[error("an account of type {0} cannot have child accounts")]
    ParentNotContainer(crate::AccountType),
    #[error("an account cannot move under itself or its own descendant")]
    Cycle,
    #[error("the move would make the tree more than {} levels deep", Account::MAX_DEPTH)]
    TooDeep,
    #[error("the account has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the account was changed concurrently; retry")]
    Conflict,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

impl HasErrorKind for MoveAccountError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Forbidden => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::ParentNotContainer(_) | Self::Cycle | Self::TooDeep => ErrorKind::FailedPrecondition,
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Why an account could not be deleted.
#[derive(Debug, thiserror::Error)]
pub enum DeleteAccountError {
    #[error("account not found")]
    NotFound,
    #[error("permission denied")]
    Forbidden,
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
    TwoFactorRequired,
    #[error("the account has changed since the version named by If-Match / etag")]
    VersionMismatch,
    #[error("the account was changed concurrently; retry")]
    Conflict,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// Maps an access decision into each operation's error, keeping "not found" indistinguishable
/// from a missing account.
macro_rules! from_access {
    ($($error:ident),+) => {$(
        impl From<AccessError> for $error {
            fn from(e: AccessError) -> Self {
                match e {
                    AccessError::NotFound => Self::NotFound,
                    AccessError::Forbidden(_) => Self::Forbidden,
                    AccessError::TwoFactorRequired => Self::TwoFactorRequired,
                    AccessError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    )+};
}

from_access!(GetAccountError, UpdateAccountError, DeleteAccountError, MoveAccountError);

impl HasErrorKind for CreateAccountError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::Forbidden => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::ParentNotContainer(_) | Self::TooDeep | Self::IdempotencyKeyReused | Self::ReplayedAccountGone => {
                ErrorKind::FailedPrecondition
            }
            Self::PrimaryAlias(e) => e.kind(),
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

impl HasErrorKind for GetAccountError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Forbidden => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

impl HasErrorKind for ListAccountsError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

impl HasErrorKind for UpdateAccountError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::Invalid(errors) => ErrorKind::Invalid(errors),
            Self::NotFound => ErrorKind::NotFound,
            Self::Forbidden => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

impl HasErrorKind for DeleteAccountError {
    fn kind(&self) -> ErrorKind<'_> {
        match self {
            Self::NotFound => ErrorKind::NotFound,
            Self::Forbidden => ErrorKind::PermissionDenied,
            Self::TwoFactorRequired => ErrorKind::TwoFactorRequired,
            Self::VersionMismatch => ErrorKind::VersionMismatch,
            Self::Conflict => ErrorKind::Conflict,
            Self::Unknown(e) => ErrorKind::of_unknown(e),
        }
    }
}

/// Accounts: the operations of seeds 000, 003 and 004 on the account itself.
#[derive(Clone)]
pub struct AccountService {
    deps: Deps,
}

impl std::fmt::Debug for AccountService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountService").finish_non_exhaustive()
    }
}

impl AccountService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    /// Creates an account, under `parent_id` when given (which must be a container, and the
    /// new account may not be deeper than [`Account::MAX_DEPTH`]). With an idempotency key, a
    /// repeat of an earlier request returns the account that request created.
    #[instrument(level = "debug", skip_all, fields(name = %command.name))]
    pub async fn create(
        &self,
        principal: &Principal,
        command: NewAccount,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<AccountCreated>, CreateAccountError> {
        // Decided before any transaction: rights are read through the pool, and a transaction
        // waiting on a second connection could starve the pool under load.
        match command.parent_id {
            // A top-level account is a new tenant: only the platform (root) creates one.
            None if !principal.root_permissions().contains(Permission::AccountsWrite) => {
                return Err(CreateAccountError::Forbidden);
            }
            None => {}
            Some(parent_id) => {
                match self.deps.authorized_account(principal, parent_id, Permission::AccountsWrite).await {
                    Ok(_) => {}
                    Err(AccessError::NotFound) => return Err(no_such_parent(parent_id)),
                    Err(AccessError::Forbidden(_)) => return Err(CreateAccountError::Forbidden),
                    Err(AccessError::TwoFactorRequired) => return Err(CreateAccountError::TwoFactorRequired),
                    Err(AccessError::Unknown(e)) => return Err(e.into()),
                }
            }
        }
        if command.settings.enforce_twofactor && !self.deps.may_enforce_twofactor(principal).await? {
            return Err(CreateAccountError::Invalid(twofactor_lockout()));
        }
        let begun = self.deps.begin_create(principal, key.as_ref(), "account.create", || command.fingerprint()).await?;
        let (mut tx, pending) = match begun {
            Begun::Replay(id) => return self.replay(principal, &id, &command).await,
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let now = self.deps.clock.now();
        let created = self.insert_new(&mut *tx, principal, &command, now).await?;
        pending.finish(&mut *tx, "account", created.account.id).await?;
        tx.commit().await?;
        Ok(Created { value: created, replayed: false })
    }

    /// Inserts the account `command` describes, with its audit event, inside `tx`.
    async fn insert_new(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        command: &NewAccount,
        now: DateTime<Utc>,
    ) -> Result<AccountCreated, CreateAccountError> {
        let hierarchy = match command.parent_id {
            None => Vec::new(),
            Some(parent_id) => {
                tx.lock_trees(&[parent_id]).await?;
                let parent = tx.find_account(parent_id).await?.ok_or_else(|| no_such_parent(parent_id))?;
                if !parent.account_type.is_container() {
                    return Err(CreateAccountError::ParentNotContainer(parent.account_type));
                }
                if parent.depth() >= Account::MAX_DEPTH {
                    return Err(CreateAccountError::TooDeep);
                }
                let mut hierarchy = parent.hierarchy;
                hierarchy.push(parent_id);
                hierarchy
            }
        };
        let owner_id = self.owner_for(tx, principal, command.owner_id).await?;
        let account = Account {
            id: AccountId::from_uuid(self.deps.ids.next_id()),
            name: command.name.clone(),
            account_type: command.account_type,
            status: AccountStatus::Unverified,
            owner_id,
            hierarchy,
            settings: command.settings.clone(),
            profile: AccountProfile::default(),
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
        };
        tx.insert_account(&account).await.map_err(|e| match e {
            InsertAccountError::ParentMissing => no_such_parent(account.parent_id().unwrap_or(account.id)),
            InsertAccountError::Unknown(e) => CreateAccountError::Unknown(e),
        })?;
        if let Some(owner) = owner_id {
            let member = Member {
                account_id: account.id,
                user_id: owner,
                roles: vec![Role::Owner],
                status: MemberStatus::Member,
                invited_by: principal.user_id(),
                created_at: now,
                updated_at: now,
            };
            tx.save_member(&member).await?;
        }
        let entry = AuditEntry::account(&account, "account.create", Changes::created(account.snapshot()));
        self.deps.record(tx, principal, entry, now).await?;
        let primary_alias = match &command.primary_alias {
            None => None,
            Some(alias) => Some(
                insert_primary_alias(&self.deps, tx, principal, &account, &alias.local_part, alias.domain_id, now)
                    .await?,
            ),
        };
        Ok(AccountCreated { account, primary_alias })
    }

    /// The owner of a new account: the named user (root callers only, unless it is the
    /// caller), else the calling user; the system principal may create ownerless accounts.
    async fn owner_for(
        &self,
        tx: &mut dyn Transaction,
        principal: &Principal,
        named: Option<UserId>,
    ) -> Result<Option<UserId>, CreateAccountError> {
        let Some(owner) = named else { return Ok(principal.user_id()) };
        if principal.user_id() != Some(owner) && !principal.root_permissions().contains(Permission::UsersWrite) {
            return Err(CreateAccountError::Forbidden);
        }
        match tx.find_user(owner).await? {
            Some(user) if user.is_active() => Ok(Some(owner)),
            _ => Err(CreateAccountError::Invalid(ValidationErrors::single(FieldError::new(
                "owner_id",
                "not_found",
                format!("no active user {owner} exists"),
            )))),
        }
    }

    /// The answer to a repeated idempotency key: the account the first request created, as
    /// a read by the caller would show it now. One the caller can no longer read (deleted, or
    /// moved out of its reach since) is gone for this key, like a deleted one.
    async fn replay(
        &self,
        principal: &Principal,
        resource_id: &str,
        command: &NewAccount,
    ) -> Result<Created<AccountCreated>, CreateAccountError> {
        let id = stored_id(resource_id, AccountId::parse)?;
        let account = match self.deps.authorized_account(principal, id, Permission::AccountsRead).await {
            Ok(account) => self.deps.shown_account(principal, account).await?,
            Err(AccessError::Unknown(e)) => return Err(e.into()),
            Err(AccessError::TwoFactorRequired) => return Err(CreateAccountError::TwoFactorRequired),
            Err(AccessError::NotFound | AccessError::Forbidden(_)) => {
                return Err(CreateAccountError::ReplayedAccountGone);
            }
        };
        let primary_alias = match command.primary_alias {
            None => None,
            Some(_) => self.deps.store.find_primary_alias(id).await?,
        };
        Ok(Created { value: AccountCreated { account, primary_alias }, replayed: true })
    }

    /// Reads one account.
    #[instrument(level = "debug", skip_all, fields(account_id = %id))]
    pub async fn get(&self, principal: &Principal, id: AccountId) -> Result<Account, GetAccountError> {
        let account = self.deps.authorized_account(principal, id, Permission::AccountsRead).await?;
        Ok(self.deps.shown_account(principal, account).await?)
    }

    /// Lists accounts in creation order, one page at a time.
    #[instrument(level = "debug", skip_all)]
    pub async fn list(&self, principal: &Principal, page: PageRequest) -> Result<Page<Account>, ListAccountsError> {
        let rights = self.deps.all_rights(principal).await?;
        let page = match principal.user_id() {
            Some(user) if !principal.root_permissions().contains(Permission::AccountsRead) => {
                self.deps.store.list_accounts_of_member(user, page).await?
            }
            _ => self.deps.store.list_accounts(page).await?,
        };
        // A token may narrow what its user sees; such a page can come out short, and the
        // cursor still points past everything examined.
        let items = page.items.into_iter().filter(|a| rights.on(a).contains(Permission::AccountsRead)).collect();
        Ok(Page { items: self.deps.shown_accounts(principal, items).await?, next: page.next })
    }

    /// Accounts whose name starts with `query` (case-insensitive), in name order, one page
    /// at a time: the same visibility as [`AccountService::list`].
    #[instrument(skip_all)]
    pub async fn search(
        &self,
        principal: &Principal,
        query: &AccountNamePrefix,
        page: PageRequest,
    ) -> Result<Page<Account>, ListAccountsError> {
        let rights = self.deps.all_rights(principal).await?;
        let member = match principal.user_id() {
            Some(user) if !principal.root_permissions().contains(Permission::AccountsRead) => Some(user),
            _ => None,
        };
        let page = self.deps.store.search_accounts(query.as_str(), member, page).await?;
        let items = page.items.into_iter().filter(|a| rights.on(a).contains(Permission::AccountsRead)).collect();
        Ok(Page { items: self.deps.shown_accounts(principal, items).await?, next: page.next })
    }

    /// Reads one account with every permission the caller holds on it, so a user interface
    /// offers only the actions the services would allow (they still decide each one).
    #[instrument(skip_all, fields(account_id = %id))]
    pub async fn get_with_permissions(
        &self,
        principal: &Principal,
        id: AccountId,
    ) -> Result<(Account, PermissionSet), GetAccountError> {
        let account = self.deps.authorized_account(principal, id, Permission::AccountsRead).await?;
        let held = self.deps.rights_for(principal, &account).await?.on(&account);
        Ok((self.deps.shown_account(principal, account).await?, held))
    }

    /// Applies `patch` when `if_match` matches the current version. A patch that changes
    /// nothing returns the account as it is, without a new version or an audit event.
    #[instrument(level = "debug", skip_all, fields(account_id = %id))]
    pub async fn update(
        &self,
        principal: &Principal,
        id: AccountId,
        patch: AccountPatch,
        if_match: IfMatch,
    ) -> Result<Account, UpdateAccountError> {
        self.deps.authorized_account(principal, id, Permission::AccountsWrite).await?;
        // The verification status is the platform's to give: tenants cannot verify or
        // unsuspend themselves.
        if patch.status.is_some() && !principal.root_permissions().contains(Permission::AccountsWrite) {
            return Err(UpdateAccountError::Forbidden);
        }
        // Nobody turns enforcement on and locks itself out (decided before the transaction).
        if patch.enforce_twofactor == Some(true) && !self.deps.may_enforce_twofactor(principal).await? {
            return Err(UpdateAccountError::Invalid(twofactor_lockout()));
        }
        let mut tx = self.deps.store.begin().await?;
        let current = tx.find_account(id).await?.ok_or(UpdateAccountError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(UpdateAccountError::VersionMismatch);
        }
        let mut next = current.patched(&patch);
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        if changes.is_empty() {
            return Ok(self.deps.shown_account(principal, current).await?);
        }
        let now = self.deps.clock.now();
        next.version = current.version.next();
        next.updated_at = now;
        if !tx.update_account(&next, current.version).await? {
            return Err(UpdateAccountError::Conflict);
        }
        self.deps.record(&mut *tx, principal, AuditEntry::account(&next, "account.update", changes), now).await?;
        tx.commit().await?;
        Ok(self.deps.shown_account(principal, next).await?)
    }

    /// Deletes an account when `if_match` matches; its children become top-level accounts,
    /// each account of their subtrees audited as moved.
    #[instrument(level = "debug", skip_all, fields(account_id = %id))]
    pub async fn delete(
        &self,
        principal: &Principal,
        id: AccountId,
        if_match: IfMatch,
    ) -> Result<(), DeleteAccountError> {
        self.deps.authorized_account(principal, id, Permission::AccountsWrite).await?;
        let mut tx = self.deps.store.begin().await?;
        tx.lock_trees(&[id]).await?;
        let current = tx.find_account(id).await?.ok_or(DeleteAccountError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(DeleteAccountError::VersionMismatch);
        }
        let now = self.deps.clock.now();
        let detached = tx.delete_account(id, current.version, now).await?.ok_or(DeleteAccountError::Conflict)?;
        let entry = AuditEntry::account(&current, "account.delete", Changes::deleted(current.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        // Each account of the subtree moved up: one event per account whose hierarchy changed.
        for after in detached {
            let mut before = after.clone();
            before.hierarchy =
                current.hierarchy.iter().copied().chain([current.id]).chain(after.hierarchy.iter().copied()).collect();
            let changes = Changes::updated(before.snapshot(), after.snapshot());
            self.deps.record(&mut *tx, principal, AuditEntry::account(&after, "account.move", changes), now).await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The account's profile (seed 004), for a caller with `accounts:read`.
    pub async fn get_profile(&self, principal: &Principal, id: AccountId) -> Result<AccountProfile, GetAccountError> {
        Ok(self.get(principal, id).await?.profile)
    }

    /// Replaces the account's profile (`accounts:write`): an update like any other.
    pub async fn update_profile(
        &self,
        principal: &Principal,
        id: AccountId,
        profile: AccountProfile,
        if_match: IfMatch,
    ) -> Result<Account, UpdateAccountError> {
        self.update(principal, id, AccountPatch { profile: Some(profile), ..AccountPatch::default() }, if_match).await
    }

    /// Moves an account with its whole subtree under `new_parent` (or to the top level):
    /// refused when it would create a cycle, exceed [`Account::MAX_DEPTH`] or put it under a
    /// non-container. The caller needs `accounts:write` on the account, its old parent and
    /// the new one. Every moved account is audited as `account.move`.
    #[instrument(level = "debug", skip_all, fields(account_id = %id))]
    pub async fn move_account(
        &self,
        principal: &Principal,
        id: AccountId,
        new_parent: Option<AccountId>,
        if_match: IfMatch,
    ) -> Result<Account, MoveAccountError> {
        // Rights are decided first, through the pool, on the account as it is now; the
        // transaction then re-reads everything under the tree lock and refuses a race.
        let seen = self.deps.authorized_account(principal, id, Permission::AccountsWrite).await?;
        let write_on = |account: Option<AccountId>| async move {
            match account {
                None => Ok(()),
                Some(id) => match self.deps.authorized_account(principal, id, Permission::AccountsWrite).await {
                    Ok(_) => Ok(()),
                    Err(AccessError::Unknown(e)) => Err(MoveAccountError::Unknown(e)),
                    Err(AccessError::NotFound) if Some(id) == new_parent => Err(no_such_new_parent(id)),
                    Err(AccessError::TwoFactorRequired) => Err(MoveAccountError::TwoFactorRequired),
                    Err(_) => Err(MoveAccountError::Forbidden),
                },
            }
        };
        write_on(seen.parent_id()).await?;
        write_on(new_parent).await?;
        // Making an account top-level makes it a tenant of its own, as creating one would.
        if new_parent.is_none()
            && seen.parent_id().is_some()
            && !principal.root_permissions().contains(Permission::AccountsWrite)
        {
            return Err(MoveAccountError::Forbidden);
        }
        let mut tx = self.deps.store.begin().await?;
        // The mover's tree and the new parent's, both in the store's fixed order.
        let trees: Vec<AccountId> = std::iter::once(id).chain(new_parent).collect();
        tx.lock_trees(&trees).await?;
        let current = tx.find_account(id).await?.ok_or(MoveAccountError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(MoveAccountError::VersionMismatch);
        }
        if current.parent_id() != seen.parent_id() {
            return Err(MoveAccountError::Conflict);
        }
        if current.parent_id() == new_parent {
            return Ok(self.deps.shown_account(principal, current).await?);
        }
        let hierarchy = match new_parent {
            None => Vec::new(),
            Some(parent_id) => {
                let missing = || no_such_new_parent(parent_id);
                let parent = tx.find_account(parent_id).await?.ok_or_else(missing)?;
                if parent.id == current.id || parent.hierarchy.contains(&current.id) {
                    return Err(MoveAccountError::Cycle);
                }
                if !parent.account_type.is_container() {
                    return Err(MoveAccountError::ParentNotContainer(parent.account_type));
                }
                if parent.depth() + tx.subtree_height(&current).await? > Account::MAX_DEPTH {
                    return Err(MoveAccountError::TooDeep);
                }
                let mut hierarchy = parent.hierarchy;
                hierarchy.push(parent.id);
                hierarchy
            }
        };
        let now = self.deps.clock.now();
        let moved =
            tx.move_subtree(&current, current.version, &hierarchy, now).await?.ok_or(MoveAccountError::Conflict)?;
        let old_prefix: Vec<AccountId> = current.hierarchy.clone();
        for after in &moved {
            // What came after the account's old ancestors is kept; only that prefix changed.
            let mut before = after.clone();
            before.hierarchy =
                old_prefix.iter().copied().chain(after.hierarchy[hierarchy.len()..].iter().copied()).collect();
            let changes = Changes::updated(before.snapshot(), after.snapshot());
            self.deps.record(&mut *tx, principal, AuditEntry::account(after, "account.move", changes), now).await?;
        }
        tx.commit().await?;
        let moved = moved.into_iter().next().ok_or(MoveAccountError::Conflict)?;
        Ok(self.deps.shown_account(principal, moved).await?)
    }

    /// The children of `parent` the caller can see, one page at a time.
    pub async fn list_children(
        &self,
        principal: &Principal,
        parent: AccountId,
        page: PageRequest,
    ) -> Result<Page<Account>, GetAccountError> {
        self.deps.authorized_account(principal, parent, Permission::AccountsRead).await?;
        let rights = self.deps.all_rights(principal).await?;
        let page = self.deps.store.list_children(parent, page).await?;
        let items = page.items.into_iter().filter(|a| rights.on(a).contains(Permission::AccountsRead)).collect();
        Ok(Page { items: self.deps.shown_accounts(principal, items).await?, next: page.next })
    }
}

fn no_such_new_parent(parent_id: AccountId) -> MoveAccountError {
    MoveAccountError::Invalid(ValidationErrors::single(FieldError::new(
        "parent_id",
        "not_found",
        format!("no account {parent_id} exists"),
    )))
}

fn no_such_parent(parent_id: AccountId) -> CreateAccountError {
    CreateAccountError::Invalid(ValidationErrors::single(FieldError::new(
        "parent_id",
        "not_found",
        format!("no account {parent_id} exists"),
    )))
}

/// Turning two-factor enforcement on without an active factor would shut the caller out.
pub(crate) fn twofactor_lockout() -> ValidationErrors {
    ValidationErrors::single(FieldError::new(
        "settings.enforce_twofactor",
        TWOFACTOR_REQUIRED_CODE,
        "enrol an active two-factor method before requiring one",
    ))
}
