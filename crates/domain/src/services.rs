//! What every service shares: its ports, and the one way an audit event is recorded.

use std::sync::Arc;

use chrono::{DateTime, Utc};

use crate::account::Account;
use crate::alias::AuthFailures;
use crate::audit::{AuditEvent, AuditOutcome, Changes};
use crate::clock::{Clock, IdGenerator};
use crate::id::{AccountId, AuditEventId, UserId};
use crate::identity_error::IdentityError;
use crate::member::{Member, MemberStatus};
use crate::permission::{Permission, PermissionSet, Role};
use crate::ports::{AuditWrites, Store};
use crate::principal::Principal;
use crate::token::Token;
use crate::user::User;

/// The ports a service needs.
#[derive(Clone)]
pub(crate) struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// The part of an audit event a service knows; [`Deps::record`] adds who, when and where.
pub(crate) struct AuditEntry {
    pub account_id: Option<AccountId>,
    pub action: &'static str,
    pub resource_type: &'static str,
    pub resource_id: String,
    pub changes: Changes,
}

impl AuditEntry {
    pub fn user(user: &User, action: &'static str, changes: Changes) -> Self {
        Self { account_id: None, action, resource_type: "user", resource_id: user.id.to_string(), changes }
    }

    pub fn member(member: &Member, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(member.account_id),
            action,
            resource_type: "member",
            resource_id: member.user_id.to_string(),
            changes,
        }
    }

    pub fn token(token: &Token, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: token.account_id,
            action,
            resource_type: "token",
            resource_id: token.id.to_string(),
            changes,
        }
    }

    pub fn account(account: &Account, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(account.id),
            action,
            resource_type: "account",
            resource_id: account.id.to_string(),
            changes,
        }
    }
}

impl Deps {
    /// Appends the audit event for `entry` inside the caller's transaction; `now` is the
    /// operation's one instant, so the event's time equals the change's timestamps.
    pub async fn record(
        &self,
        tx: &mut dyn AuditWrites,
        principal: &Principal,
        entry: AuditEntry,
        now: DateTime<Utc>,
    ) -> anyhow::Result<()> {
        let event = AuditEvent {
            id: AuditEventId::from_uuid(self.ids.next_id()),
            account_id: entry.account_id,
            actor: principal.actor(),
            action: entry.action.to_owned(),
            outcome: AuditOutcome::Success,
            resource_type: entry.resource_type.to_owned(),
            resource_id: entry.resource_id,
            changes: entry.changes,
            request: principal.request().clone(),
            occurred_at: now,
        };
        tx.append_audit_event(&event).await
    }
}

/// Why a caller may not do something on an account.
#[derive(Debug, thiserror::Error)]
pub enum AccessError {
    /// The caller holds nothing on the account: it must not learn that the account exists.
    #[error("not found")]
    NotFound,
    /// The caller sees the account but lacks the permission.
    #[error("permission {0} is required")]
    Forbidden(Permission),
    /// The account (or an ancestor) enforces two-factor authentication and the calling
    /// member has no active factor.
    #[error("two-factor authentication is required on this account: enrol a factor at /v1/me/mfa/totp")]
    TwoFactorRequired,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// What a caller holds, loaded once and asked about any number of accounts.
#[derive(Debug, Clone)]
pub(crate) struct Rights {
    /// Permissions held on every account (the system's, or a root user's).
    everywhere: PermissionSet,
    /// Accounts where the user is an accepted member, with the union of its roles there.
    memberships: Vec<(AccountId, PermissionSet)>,
    /// The calling token, which narrows everything else.
    token: Option<Token>,
    /// Accounts enforcing two-factor authentication that the caller, a member without an
    /// active factor, is shut out of (with their descendants). Empty for everyone else.
    twofactor_blocked: Vec<AccountId>,
}

impl Rights {
    /// Effective permissions on `account`: the user's root permissions and the roles it holds
    /// on the account or any ancestor, narrowed by the token's policies; nothing where
    /// two-factor authentication is enforced and the caller has no active factor.
    pub fn on(&self, account: &Account) -> PermissionSet {
        if self.twofactor_blocks(account) { PermissionSet::EMPTY } else { self.held(account) }
    }

    /// Whether two-factor enforcement on `account` or an ancestor shuts the caller out.
    fn twofactor_blocks(&self, account: &Account) -> bool {
        self.twofactor_blocked.iter().any(|id| *id == account.id || account.hierarchy.contains(id))
    }

    /// The one access decision: nothing held → not found (existence does not leak), held
    /// but two-factor enforced without a factor → two-factor required, else the permission.
    pub fn check(&self, account: &Account, permission: Permission) -> Result<(), AccessError> {
        if self.check_any(account)?.contains(permission) { Ok(()) } else { Err(AccessError::Forbidden(permission)) }
    }

    /// What the caller holds on `account`, when it holds anything there and is not shut out
    /// by two-factor enforcement (the first two steps of [`Rights::check`]).
    pub fn check_any(&self, account: &Account) -> Result<PermissionSet, AccessError> {
        let held = self.held(account);
        if held.is_empty() {
            Err(AccessError::NotFound)
        } else if self.twofactor_blocks(account) {
            Err(AccessError::TwoFactorRequired)
        } else {
            Ok(held)
        }
    }

    /// [`Rights::on`] before two-factor enforcement.
    fn held(&self, account: &Account) -> PermissionSet {
        let inherited = self
            .memberships
            .iter()
            .filter(|(id, _)| *id == account.id || account.hierarchy.contains(id))
            .fold(self.everywhere, |set, (_, roles)| set.union(*roles));
        match &self.token {
            None => inherited,
            Some(token) => inherited.intersection(token.grant_on(account)),
        }
    }
}

impl Deps {
    /// The caller's rights on `account` and its ancestors only: one indexed query.
    pub async fn rights_for(&self, principal: &Principal, account: &Account) -> anyhow::Result<Rights> {
        let mut path = account.hierarchy.clone();
        path.push(account.id);
        self.rights(principal, Some(&path)).await
    }

    /// The caller's rights everywhere it is a member (for listings).
    pub async fn all_rights(&self, principal: &Principal) -> anyhow::Result<Rights> {
        self.rights(principal, None).await
    }

    async fn rights(&self, principal: &Principal, path: Option<&[AccountId]>) -> anyhow::Result<Rights> {
        let Some(caller) = principal.token_caller() else {
            return Ok(Rights {
                everywhere: PermissionSet::all(),
                memberships: Vec::new(),
                token: None,
                twofactor_blocked: Vec::new(),
            });
        };
        let user = caller.user.id;
        // Root permissions holding every account permission make memberships add nothing:
        // their query is skipped (one round trip less per root request).
        let account_scoped = PermissionSet::account_scoped();
        let covered = caller.user.root_permissions.intersection(account_scoped) == account_scoped;
        let union = |roles: Vec<(AccountId, Vec<Role>)>| -> Vec<(AccountId, PermissionSet)> {
            roles.into_iter().map(|(account, roles)| (account, Role::union_of(&roles))).collect()
        };
        let (memberships, twofactor_blocked) = match path {
            _ if covered => (Vec::new(), self.twofactor_blocked(principal, None).await?),
            // One account's decision: its path's roles and enforcing accounts in one query.
            Some(path) => {
                let access = self.store.path_access(user, path).await?;
                (union(access.roles), self.twofactor_blocked(principal, Some(access.enforcing)).await?)
            }
            None => {
                let memberships = self
                    .store
                    .memberships_of(user)
                    .await?
                    .into_iter()
                    .filter(|m| m.status == MemberStatus::Member)
                    .map(|m| (m.account_id, m.roles))
                    .collect();
                (union(memberships), self.twofactor_blocked(principal, None).await?)
            }
        };
        Ok(Rights {
            everywhere: caller.user.root_permissions,
            memberships,
            token: Some(caller.token.clone()),
            twofactor_blocked,
        })
    }

    /// The accounts whose two-factor enforcement shuts the caller out: none for the system
    /// and root users (they are not members), none for a user with an active factor. Read
    /// on every call, so enrolling (or a reset) takes effect at once on every instance.
    /// `enforcing`: the enforcing accounts already known (those of one account's path);
    /// `None` reads those near every membership of the caller.
    async fn twofactor_blocked(
        &self,
        principal: &Principal,
        enforcing: Option<Vec<AccountId>>,
    ) -> anyhow::Result<Vec<AccountId>> {
        let Some(caller) = principal.token_caller() else { return Ok(Vec::new()) };
        if caller.user.is_root() {
            return Ok(Vec::new());
        }
        let enforcing = match enforcing {
            Some(enforcing) => enforcing,
            None => self.store.twofactor_enforced_near(caller.user.id).await?,
        };
        if enforcing.is_empty() || self.store.has_active_factor(caller.user.id).await? {
            return Ok(Vec::new());
        }
        Ok(enforcing)
    }

    /// Counts an attempt at a secret (a mailbox password, a TOTP code) for `key` before the
    /// secret is checked, so that concurrent guesses are counted too. Refused with
    /// [`IdentityError::Throttled`] while the key is locked after
    /// [`AuthFailures::FREE_ATTEMPTS`] failures, or when concurrent attempts took the turns
    /// left; after a success, [`Deps::forget_attempts`].
    pub async fn begin_attempt(&self, key: &str) -> Result<(), IdentityError> {
        let now = self.clock.now();
        let streak_start = now - AuthFailures::STREAK_RESET;
        let before = self.store.auth_failures(key).await?;
        if let Some(retry_after_secs) = before.and_then(|f| f.retry_after(now)) {
            return Err(IdentityError::Throttled { retry_after_secs });
        }
        let after = self.store.record_auth_failure(key, now, streak_start).await?;
        // The count this attempt gets when no other attempt raced it.
        let expected = before.filter(|b| b.last_at >= streak_start).map_or(1, |b| b.count + 1);
        if after.count > AuthFailures::FREE_ATTEMPTS && after.count != expected {
            return Err(IdentityError::Throttled { retry_after_secs: after.retry_after(now).unwrap_or(1) });
        }
        Ok(())
    }

    /// Forgets the attempts counted for `key` (after a success).
    pub async fn forget_attempts(&self, key: &str) -> anyhow::Result<()> {
        self.store.clear_auth_failures(key).await
    }

    /// Whether the caller may turn two-factor enforcement on without locking itself out:
    /// the system and root users always, a member only with an active factor.
    pub async fn may_enforce_twofactor(&self, principal: &Principal) -> anyhow::Result<bool> {
        match principal.token_caller() {
            None => Ok(true),
            Some(caller) if caller.user.is_root() => Ok(true),
            Some(caller) => self.store.has_active_factor(caller.user.id).await,
        }
    }

    /// Whether the caller is a platform administrator (root `users:write`): it may add any
    /// user to any account at once, and sees every user's personal data.
    pub fn is_platform_admin(principal: &Principal) -> bool {
        principal.root_permissions().contains(Permission::UsersWrite)
    }

    /// Which of `ids` a tenant must see as "the platform": root users, whose ids and personal
    /// data are not shown to callers without root `users:read` (an account's `owner_id`, a
    /// member's `invited_by`). Empty for platform readers.
    pub async fn platform_users(&self, principal: &Principal, ids: Vec<UserId>) -> anyhow::Result<Vec<UserId>> {
        if principal.root_permissions().contains(Permission::UsersRead) || ids.is_empty() {
            return Ok(Vec::new());
        }
        // One query for the (few) root users, however many ids a page names.
        let roots = self.store.root_user_ids().await?;
        let mut platform: Vec<UserId> = ids.into_iter().filter(|id| roots.contains(id)).collect();
        platform.dedup();
        Ok(platform)
    }

    /// `accounts` as the caller may see them: a root owner shows as no owner to tenants.
    pub async fn shown_accounts(
        &self,
        principal: &Principal,
        mut accounts: Vec<Account>,
    ) -> anyhow::Result<Vec<Account>> {
        let owners: Vec<UserId> = accounts.iter().filter_map(|a| a.owner_id).collect();
        let platform = self.platform_users(principal, owners).await?;
        for account in &mut accounts {
            if account.owner_id.is_some_and(|o| platform.contains(&o)) {
                account.owner_id = None;
            }
        }
        Ok(accounts)
    }

    /// `account` as the caller may see it (see [`Deps::shown_accounts`]).
    pub async fn shown_account(&self, principal: &Principal, account: Account) -> anyhow::Result<Account> {
        Ok(self.shown_accounts(principal, vec![account]).await?.remove(0))
    }

    /// `members` as the caller may see them: to tenants, root users' memberships are left
    /// out and invited by a root user shows as invited by no one.
    pub async fn shown_members(&self, principal: &Principal, members: Vec<Member>) -> anyhow::Result<Vec<Member>> {
        let named: Vec<UserId> = members.iter().flat_map(|m| m.invited_by.into_iter().chain([m.user_id])).collect();
        let platform = self.platform_users(principal, named).await?;
        Ok(members
            .into_iter()
            .filter(|m| !platform.contains(&m.user_id))
            .map(|mut m| {
                if m.invited_by.is_some_and(|i| platform.contains(&i)) {
                    m.invited_by = None;
                }
                m
            })
            .collect())
    }

    /// `member` as the caller may see it (see [`Deps::shown_members`]); `None` when it is a
    /// root user's membership and the caller a tenant.
    pub async fn shown_member(&self, principal: &Principal, member: Member) -> anyhow::Result<Option<Member>> {
        Ok(self.shown_members(principal, vec![member]).await?.pop())
    }

    /// Whether a tenant may name user `user` by id (to invite it): the user is the caller,
    /// or an accepted member of an account where the caller holds `members:read` (so the
    /// caller could list it already). Root callers with `users:read` see every user. Anyone
    /// else gets the answer of a user that does not exist, so ids are no oracle.
    pub async fn may_see_user(&self, principal: &Principal, user: UserId) -> anyhow::Result<bool> {
        if principal.user_id() == Some(user) || principal.root_permissions().contains(Permission::UsersRead) {
            return Ok(true);
        }
        let memberships = self.store.memberships_of(user).await?;
        let accepted: Vec<_> = memberships.iter().filter(|m| m.status == MemberStatus::Member).collect();
        if accepted.is_empty() {
            return Ok(false);
        }
        let rights = self.all_rights(principal).await?;
        for membership in accepted {
            if let Some(account) = self.store.get_account(membership.account_id).await?
                && rights.on(&account).contains(Permission::MembersRead)
            {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// The account `id`, when the caller holds `permission` on it; a missing account is
    /// [`AccessError::NotFound`] like one the caller cannot see.
    pub async fn authorized_account(
        &self,
        principal: &Principal,
        id: AccountId,
        permission: Permission,
    ) -> Result<Account, AccessError> {
        let account = self.store.get_account(id).await?.ok_or(AccessError::NotFound)?;
        self.authorize(principal, &account, permission).await?;
        Ok(account)
    }

    /// Succeeds when the caller holds `permission` on `account`; a caller holding nothing
    /// there gets [`AccessError::NotFound`], so existence does not leak across tenants.
    pub async fn authorize(
        &self,
        principal: &Principal,
        account: &Account,
        permission: Permission,
    ) -> Result<(), AccessError> {
        self.rights_for(principal, account).await?.check(account, permission)
    }
}
