//! Members and roles of an account (seeds 000 and 004), and the caller's answer to an
//! invitation. The owner is a member with role `owner`; nothing here removes or demotes it.

use std::sync::Arc;

use tracing::instrument;

use crate::{
    Account, AccountId, AuditEntry, Begun, Changes, Clock, Created, Deps, EmailAddress, FieldError, Fingerprint,
    IdGenerator, IdempotencyKey, Member, MemberError, MemberStatus, NewUser, Page, PageRequest, Permission, Principal,
    Role, Store, UserId, ValidationErrors, insert_user, stored_id,
};

/// Whom to add: an existing user, or an email address (a new user is created for an
/// unknown one, invited like the rest).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MemberRef {
    User(UserId),
    Email(EmailAddress),
}

impl MemberRef {
    /// Whom an "add member" request names: exactly one of a user id and an email address.
    pub fn parse(user_id: Option<&str>, email: Option<&str>) -> Result<Self, ValidationErrors> {
        fn present(v: Option<&str>) -> Option<&str> {
            v.map(str::trim).filter(|v| !v.is_empty())
        }
        match (present(user_id), present(email)) {
            (Some(user), None) => Ok(Self::User(UserId::parse(user, "user_id")?)),
            (None, Some(email)) => Ok(Self::Email(EmailAddress::parse(email)?)),
            _ => Err(FieldError::new("user_id", "exactly_one", "give exactly one of user_id and email").into()),
        }
    }
}

/// The roles a request names: seed 004 sends a list (`roles`), seed 000 one `role`; both
/// add up. At least one known role is needed.
pub fn parse_roles(roles: &[String], role: Option<&str>) -> Result<Vec<Role>, ValidationErrors> {
    let names: Vec<String> =
        roles.iter().cloned().chain(role.filter(|r| !r.trim().is_empty()).map(str::to_owned)).collect();
    Ok(Role::parse_list(&names)?)
}

/// Memberships and roles.
#[derive(Clone)]
pub struct MemberService {
    deps: Deps,
}

impl std::fmt::Debug for MemberService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemberService").finish_non_exhaustive()
    }
}

impl MemberService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    /// The account, if the caller holds `permission` on it.
    async fn account(
        &self,
        principal: &Principal,
        id: AccountId,
        permission: Permission,
    ) -> Result<Account, MemberError> {
        Ok(self.deps.authorized_account(principal, id, permission).await?)
    }

    /// Roles may be granted freely except `owner`, which only an ownership transfer moves.
    fn check_roles(account: &Account, user: UserId, roles: &[Role]) -> Result<(), MemberError> {
        let is_owner = account.owner_id == Some(user);
        match (is_owner, roles.contains(&Role::Owner)) {
            (true, false) => Err(MemberError::OwnerCannotBeDemoted),
            (false, true) => Err(MemberError::OwnerRoleByTransferOnly),
            _ => Ok(()),
        }
    }

    pub async fn list(
        &self,
        principal: &Principal,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Member>, MemberError> {
        self.account(principal, account, Permission::MembersRead).await?;
        let page = self.deps.store.list_members(account, page).await?;
        Ok(Page { items: self.deps.shown_members(principal, page.items).await?, next: page.next })
    }

    pub async fn get(&self, principal: &Principal, account: AccountId, user: UserId) -> Result<Member, MemberError> {
        self.account(principal, account, Permission::MembersRead).await?;
        let member = self.deps.store.get_member(account, user).await?.ok_or(MemberError::NotFound)?;
        self.deps.shown_member(principal, member).await?.ok_or(MemberError::NotFound)
    }

    /// Invites a user (seed 004 "Add Member"): the membership is `invited` until accepted.
    /// With an idempotency key, a repeat returns the membership the first request made.
    #[instrument(level = "debug", skip_all, fields(account_id = %account_id))]
    pub async fn add(
        &self,
        principal: &Principal,
        account_id: AccountId,
        who: MemberRef,
        roles: Vec<Role>,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<Member>, MemberError> {
        let account = self.account(principal, account_id, Permission::MembersWrite).await?;
        // A user named by id must be one the caller sees already; an unknown id and a user
        // it may not see answer alike (404), so ids are no oracle. Emails always invite.
        if let MemberRef::User(id) = &who
            && !self.deps.may_see_user(principal, *id).await?
        {
            return Err(MemberError::NotFound);
        }
        let operation = "member.create";
        let fingerprint = || {
            let who = match &who {
                MemberRef::User(id) => format!("user:{id}"),
                MemberRef::Email(email) => format!("email:{}", email.as_str().to_lowercase()),
            };
            let roles = roles.iter().map(|r| r.as_str()).collect::<Vec<_>>().join(",");
            Fingerprint::new(operation)
                .field("account", Some(account_id))
                .field("who", Some(who))
                .field("roles", Some(roles))
                .finish()
        };
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => {
                let member = self.deps.store.get_member(account_id, stored_id(&id, UserId::parse)?).await?;
                let member = member.ok_or(MemberError::ReplayedResourceGone)?;
                // Shown as a read would show it now: a membership a read hides (the platform's)
                // is gone for this key.
                let shown = self.deps.shown_member(principal, member).await?;
                return Ok(Created { value: shown.ok_or(MemberError::ReplayedResourceGone)?, replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let user = match who {
            MemberRef::User(id) => tx.find_user(id).await?.ok_or(MemberError::NotFound)?,
            MemberRef::Email(email) => match tx.find_user_by_email(&email).await? {
                Some(user) => user,
                None => {
                    let command =
                        NewUser { email, first_name: None, last_name: None, root_permissions: Default::default() };
                    insert_user(&self.deps, &mut *tx, principal, command).await?
                }
            },
        };
        Self::check_roles(&account, user.id, &roles)?;

        let now = self.deps.clock.now();
        let member = Member {
            account_id,
            user_id: user.id,
            roles,
            status: MemberStatus::Invited,
            invited_by: principal.user_id(),
            created_at: now,
            updated_at: now,
        };
        if !tx.insert_member(&member).await? {
            return Err(MemberError::AlreadyMember);
        }
        self.deps
            .record(
                &mut *tx,
                principal,
                AuditEntry::member(&member, "member.create", Changes::created(member.snapshot())),
                now,
            )
            .await?;
        pending.finish(&mut *tx, "member", member.user_id).await?;
        tx.commit().await?;
        Ok(Created { value: member, replayed: false })
    }

    /// Creates or updates a user's roles (seed 000 `PutAccountMember`). An existing
    /// membership (accepted or invited) keeps its status and gets the roles. A new one is an
    /// invitation the user accepts (`PUT /v1/me/memberships/{account}`), and only for a
    /// user the caller sees already (`Deps::may_see_user`; 404 otherwise, as for an
    /// unknown id); a platform administrator (root `users:write`) adds a member at once.
    #[instrument(level = "debug", skip_all, fields(account_id = %account_id, user_id = %user_id))]
    pub async fn put(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
        roles: Vec<Role>,
    ) -> Result<Member, MemberError> {
        let account = self.account(principal, account_id, Permission::MembersWrite).await?;
        // A root user's membership is the platform's: tenants do not see or change it.
        if !self.deps.platform_users(principal, vec![user_id]).await?.is_empty() {
            return Err(MemberError::NotFound);
        }
        let admin = Deps::is_platform_admin(principal);
        let existing = self.deps.store.get_member(account_id, user_id).await?.is_some();
        if !admin && !existing && !self.deps.may_see_user(principal, user_id).await? {
            return Err(MemberError::NotFound);
        }
        Self::check_roles(&account, user_id, &roles)?;
        let mut tx = self.deps.store.begin().await?;
        if tx.find_user(user_id).await?.is_none() {
            return Err(MemberError::NotFound);
        }
        let now = self.deps.clock.now();
        let (member, action, changes) = match tx.find_member(account_id, user_id).await? {
            Some(current) => {
                let next = Member { roles, updated_at: now, ..current.clone() };
                let changes = Changes::updated(current.snapshot(), next.snapshot());
                if changes.is_empty() {
                    return self.deps.shown_member(principal, current).await?.ok_or(MemberError::NotFound);
                }
                (next, "member.update", changes)
            }
            None => {
                let member = Member {
                    account_id,
                    user_id,
                    roles,
                    status: if admin { MemberStatus::Member } else { MemberStatus::Invited },
                    invited_by: principal.user_id(),
                    created_at: now,
                    updated_at: now,
                };
                let changes = Changes::created(member.snapshot());
                (member, "member.create", changes)
            }
        };
        tx.save_member(&member).await?;
        self.deps.record(&mut *tx, principal, AuditEntry::member(&member, action, changes), now).await?;
        tx.commit().await?;
        self.deps.shown_member(principal, member).await?.ok_or(MemberError::NotFound)
    }

    /// Removes a user from an account; never the owner.
    pub async fn delete(
        &self,
        principal: &Principal,
        account_id: AccountId,
        user_id: UserId,
    ) -> Result<(), MemberError> {
        let account = self.account(principal, account_id, Permission::MembersWrite).await?;
        if !self.deps.platform_users(principal, vec![user_id]).await?.is_empty() {
            return Err(MemberError::NotFound);
        }
        if account.owner_id == Some(user_id) {
            return Err(MemberError::OwnerCannotBeRemoved);
        }
        if self.remove_authorized(principal, &account, user_id).await? { Ok(()) } else { Err(MemberError::NotFound) }
    }

    /// Deletes the membership, audited as `member.delete`; `false` when there is no such
    /// membership. It decides nothing: `account` is the one the caller was just authorized
    /// on (`members:write`), and the caller has applied the platform-user and owner rules.
    /// Shared with [`AccountUserService::delete`](crate::AccountUserService::delete).
    pub(crate) async fn remove_authorized(
        &self,
        principal: &Principal,
        account: &Account,
        user_id: UserId,
    ) -> anyhow::Result<bool> {
        let account_id = account.id;
        let mut tx = self.deps.store.begin().await?;
        let Some(member) = tx.find_member(account_id, user_id).await? else { return Ok(false) };
        tx.delete_member(account_id, user_id).await?;
        let now = self.deps.clock.now();
        let entry = AuditEntry::member(&member, "member.delete", Changes::deleted(member.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The caller accepts (`true`) or rejects an invitation to `account_id`.
    pub async fn respond(
        &self,
        principal: &Principal,
        account_id: AccountId,
        accept: bool,
    ) -> Result<Option<Member>, MemberError> {
        let user_id = principal.user_id().ok_or(MemberError::NotFound)?;
        // The calling token must reach the account: an account-bound token answers only for
        // its own part of the tree.
        let account = self.deps.store.get_account(account_id).await?.ok_or(MemberError::NotFound)?;
        if principal
            .token_caller()
            .is_some_and(|c| c.token.account_id.is_some() && c.token.grant_on(&account).is_empty())
        {
            return Err(MemberError::NotFound);
        }
        let mut tx = self.deps.store.begin().await?;
        // Read and changed in one transaction, so a membership removed meanwhile is not revived.
        let current = tx.find_member(account_id, user_id).await?.ok_or(MemberError::NotFound)?;
        if current.status != MemberStatus::Invited {
            return Err(MemberError::NoPendingInvitation);
        }
        let now = self.deps.clock.now();
        if !accept {
            tx.delete_member(account_id, user_id).await?;
            let entry = AuditEntry::member(&current, "member.reject", Changes::deleted(current.snapshot()));
            self.deps.record(&mut *tx, principal, entry, now).await?;
            tx.commit().await?;
            return Ok(None);
        }
        let next = Member { status: MemberStatus::Member, updated_at: now, ..current.clone() };
        tx.save_member(&next).await?;
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        self.deps.record(&mut *tx, principal, AuditEntry::member(&next, "member.accept", changes), now).await?;
        tx.commit().await?;
        // The caller's own membership: only whom it was invited by may be hidden.
        Ok(Some(self.deps.shown_member(principal, next.clone()).await?.unwrap_or(next)))
    }

    /// The built-in roles, for a caller that can see the account.
    pub async fn roles(&self, principal: &Principal, account: AccountId) -> Result<&'static [Role], MemberError> {
        self.account(principal, account, Permission::AccountsRead).await?;
        Ok(Role::ALL)
    }

    /// One built-in role; an unknown id is a missing resource, not bad input.
    pub async fn role(&self, principal: &Principal, account: AccountId, id: &str) -> Result<Role, MemberError> {
        self.account(principal, account, Permission::AccountsRead).await?;
        Role::parse(id).map_err(|_| MemberError::NotFound)
    }
}
