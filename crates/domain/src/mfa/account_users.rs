//! Account users (seed 002): a people-centred view over users and memberships. The owner is
//! always shown on its own and is never deleted or MFA-reset here.

use std::sync::Arc;

use tracing::instrument;

use crate::{
    AccountId, AccountUser, AccountUserError, AuditEntry, Begun, Changes, Clock, Created, Deps, IdGenerator,
    IdempotencyKey, Member, MemberService, MemberStatus, NewUser, Page, PageRequest, Permission, Principal, Role,
    Store, UserId, ValidationErrors, insert_user, invalid, reset_factors, stored_id,
};

/// The answer of "List account users": the owner apart, then a page of the other users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountUsers {
    /// `None` only for an ownerless account (made by the system).
    pub owner: Option<AccountUser>,
    pub users: Page<AccountUser>,
}

/// The role a user created through "Create an account user" gets.
pub const DEFAULT_ROLE: Role = Role::Member;

/// Account users.
#[derive(Clone)]
pub struct AccountUserService {
    deps: Deps,
    members: MemberService,
}

impl std::fmt::Debug for AccountUserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AccountUserService").finish_non_exhaustive()
    }
}

/// The owner is refused with a field error, so the 422 carries an `errors` list (seed 002).
fn owner_refused(message: &str) -> ValidationErrors {
    invalid("user_id", "account_owner", message)
}

/// What a tenant sees of an account user: until the user accepts the invitation, nothing the
/// inviter did not supply — no names, no MFA state (the user may exist already and belong to
/// others). Platform callers with root `users:read` see everything.
fn shown(principal: &Principal, mut user: AccountUser) -> AccountUser {
    if user.member.status == MemberStatus::Invited && !principal.root_permissions().contains(Permission::UsersRead) {
        user.user.first_name = None;
        user.user.last_name = None;
        user.mfa_enabled = false;
    }
    user
}

impl AccountUserService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self {
            members: MemberService::new(store.clone(), clock.clone(), ids.clone()),
            deps: Deps { store, clock, ids },
        }
    }

    /// The owner and one page of the other users (`members:read`). Root users (the platform)
    /// are left out for callers without root `users:read`, so tenants never read their email.
    pub async fn list(
        &self,
        principal: &Principal,
        account_id: AccountId,
        page: PageRequest,
    ) -> Result<AccountUsers, AccountUserError> {
        let account = self.deps.authorized_account(principal, account_id, Permission::MembersRead).await?;
        let owner = match account.owner_id {
            Some(owner) => self.deps.store.get_account_user(account_id, owner).await?,
            None => None,
        };
        // Root users are the platform to tenants: not listed, their email not shown.
        let platform = !principal.root_permissions().contains(Permission::UsersRead);
        let owner = owner.filter(|o| !(platform && o.user.is_root()));
        let mut users = self.deps.store.list_account_users(account_id, page).await?;
        users.items.retain(|u| Some(u.user.id) != account.owner_id && !(platform && u.user.is_root()));
        let users = users.map(|u| shown(principal, u));
        Ok(AccountUsers { owner, users })
    }

    /// One user of the account, the owner included (`members:read`).
    pub async fn get(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user: UserId,
    ) -> Result<AccountUser, AccountUserError> {
        self.deps.authorized_account(principal, account_id, Permission::MembersRead).await?;
        let found = self.deps.store.get_account_user(account_id, user).await?.ok_or(AccountUserError::NotFound)?;
        if found.user.is_root() && !principal.root_permissions().contains(Permission::UsersRead) {
            // The platform's personal data is not shown to tenants.
            return Err(AccountUserError::NotFound);
        }
        Ok(shown(principal, found))
    }

    /// Invites a user to the account with the default role, creating the user when the email
    /// is new (`members:write`). The membership is `invited` until the user accepts it; a
    /// platform administrator (root `users:write`) adds it at once. The answer has the same
    /// shape whether the email was known or not: the email as typed, no names, no MFA
    /// state. A user who is a member (or invited) already is a conflict. With an
    /// idempotency key, a repeat returns the account user the first request added, shown
    /// the same way.
    #[instrument(level = "debug", skip_all, fields(account_id = %account_id))]
    pub async fn create(
        &self,
        principal: &Principal,
        account_id: AccountId,
        command: NewUser,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<AccountUser>, AccountUserError> {
        self.deps.authorized_account(principal, account_id, Permission::MembersWrite).await?;
        let admin = Deps::is_platform_admin(principal);
        let typed = command.email.clone();
        // What the inviter sees: its own words for the email, nothing the user has not agreed
        // to show (see `shown`).
        let reader = principal.root_permissions().contains(Permission::UsersRead);
        let as_seen = |found: AccountUser| {
            let platform = found.user.is_root() && !reader;
            let mut seen = shown(principal, found);
            if platform {
                // A root user's personal data is the platform's, even once it accepted.
                seen.user.first_name = None;
                seen.user.last_name = None;
                seen.mfa_enabled = false;
            }
            if !admin {
                seen.user.email = typed.clone();
            }
            seen
        };
        let operation = "account_user.create";
        let fingerprint = || command.fingerprint(operation).field("account", Some(account_id)).finish();
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => {
                let user = stored_id(&id, UserId::parse)?;
                let found = self.deps.store.get_account_user(account_id, user).await?;
                let found = found.ok_or(AccountUserError::ReplayedResourceGone)?;
                return Ok(Created { value: as_seen(found), replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let user = match tx.find_user_by_email(&command.email).await? {
            Some(user) => user,
            None => insert_user(&self.deps, &mut *tx, principal, command).await?,
        };
        let now = self.deps.clock.now();
        let member = Member {
            account_id,
            user_id: user.id,
            roles: vec![DEFAULT_ROLE],
            status: if admin { MemberStatus::Member } else { MemberStatus::Invited },
            invited_by: principal.user_id(),
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_member(&member).await? {
            return Err(AccountUserError::AlreadyMember);
        }
        let entry = AuditEntry::member(&member, "member.create", Changes::created(member.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        pending.finish(&mut *tx, "member", user.id).await?;
        tx.commit().await?;
        let mfa_enabled = self.deps.store.has_active_factor(user.id).await?;
        Ok(Created { value: as_seen(AccountUser { member, user, mfa_enabled }), replayed: false })
    }

    /// Removes the user's membership (`members:write`); never the owner's.
    pub async fn delete(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user: UserId,
    ) -> Result<(), AccountUserError> {
        let account = self.deps.authorized_account(principal, account_id, Permission::MembersWrite).await?;
        // A root user is the platform: to a tenant it answers like an unknown id, before any
        // rule could tell it apart.
        if !self.deps.platform_users(principal, vec![user]).await?.is_empty() {
            return Err(AccountUserError::NotFound);
        }
        if account.owner_id == Some(user) {
            return Err(AccountUserError::OwnerCannotBeRemoved(owner_refused("the account owner cannot be removed")));
        }
        if self.members.remove_authorized(principal, &account, user).await? {
            Ok(())
        } else {
            Err(AccountUserError::NotFound)
        }
    }

    /// Clears every MFA factor of a user of the account (`users:mfa_reset`); never the
    /// owner's, and a root user's only by a root caller.
    #[instrument(level = "debug", skip_all, fields(account_id = %account_id, user_id = %user))]
    pub async fn reset_mfa(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user: UserId,
    ) -> Result<(), AccountUserError> {
        let account = self.deps.authorized_account(principal, account_id, Permission::UsersMfaReset).await?;
        if !self.deps.platform_users(principal, vec![user]).await?.is_empty() {
            return Err(AccountUserError::NotFound);
        }
        if account.owner_id == Some(user) {
            return Err(AccountUserError::OwnerMfaCannotBeReset(owner_refused(
                "the account owner's MFA cannot be reset",
            )));
        }
        // Factors belong to the user, not to this account: resetting them weakens the user
        // everywhere. So the caller must hold users:mfa_reset on every account the user is an
        // accepted member of (root callers do), and the user must be one here — an invitation
        // nobody accepted gives no such power.
        let memberships = self.deps.store.memberships_of(user).await?;
        let accepted: Vec<_> = memberships.iter().filter(|m| m.status == MemberStatus::Member).collect();
        if !accepted.iter().any(|m| m.account_id == account_id) {
            return Err(AccountUserError::NotFound);
        }
        // An owner's factors are never reset (SPEC §1), whichever of its accounts the path
        // names: the owner of a child account is reachable through the parent too.
        if accepted.iter().any(|m| m.roles.contains(&Role::Owner)) {
            let message = "the user owns an account; an owner's MFA cannot be reset";
            return Err(AccountUserError::OwnerMfaCannotBeReset(owner_refused(message)));
        }
        let rights = self.deps.all_rights(principal).await?;
        for membership in &accepted {
            let elsewhere = match self.deps.store.get_account(membership.account_id).await? {
                Some(other) => rights.on(&other).contains(Permission::UsersMfaReset),
                None => true,
            };
            if !elsewhere {
                return Err(AccountUserError::MfaResetBeyondRights);
            }
        }
        let mut tx = self.deps.store.begin().await?;
        // The user row first, then the membership: the order member writes lock them in.
        let target = tx.find_user(user).await?.ok_or(AccountUserError::NotFound)?;
        tx.find_member(account_id, user).await?.ok_or(AccountUserError::NotFound)?;
        if target.is_root() && !principal.root_permissions().contains(Permission::UsersWrite) {
            return Err(AccountUserError::RootUserMfaResetNeedsRoot);
        }
        let mut accounts = vec![account_id];
        accounts.extend(accepted.iter().map(|m| m.account_id).filter(|a| *a != account_id));
        reset_factors(&self.deps, &mut *tx, principal, &accounts, user).await?;
        tx.commit().await?;
        Ok(())
    }
}
