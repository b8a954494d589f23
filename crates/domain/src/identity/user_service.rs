//! Users: root callers manage them (`/v1/users`); every caller reads itself (`/v1/me`) and
//! its permissions; `bootstrap` makes the first root user.

use std::sync::Arc;

use tracing::instrument;

use crate::{
    Account, AuditEntry, Begun, Changes, Clock, Created, Deps, Effect, IdGenerator, IdempotencyKey, IfMatch,
    InsertUserError, NewUser, Page, PageRequest, Permission, PermissionSet, Policy, Principal, Store, Token,
    TokenCondition, TokenId, TokenName, TokenSecret, TokenStatus, Transaction, User, UserError, UserId, UserPatch,
    UserStatus, Version, invalid, stored_id,
};

/// What `ListMyPermissions` answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MyPermissions {
    pub user_id: UserId,
    /// Accounts the caller can see, with what it holds on each (inheritance included).
    pub accounts: Vec<(Account, PermissionSet)>,
    pub root_permissions: PermissionSet,
}

/// The first root user and its platform token, made by `accountd bootstrap`.
#[derive(Debug)]
pub struct Bootstrapped {
    pub user: User,
    pub token: Token,
    pub secret: TokenSecret,
}

/// Users and the caller's own view of itself.
#[derive(Clone)]
pub struct UserService {
    deps: Deps,
}

impl std::fmt::Debug for UserService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UserService").finish_non_exhaustive()
    }
}

/// How many accounts `my_permissions` lists at most.
const MY_PERMISSIONS_LIMIT: u32 = 1000;

impl UserService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    fn require_root(principal: &Principal, permission: Permission) -> Result<(), UserError> {
        if principal.root_permissions().contains(permission) {
            Ok(())
        } else {
            Err(UserError::RootPermissionRequired(permission))
        }
    }

    /// A root caller may grant only root permissions it holds itself.
    fn check_grant(principal: &Principal, wanted: PermissionSet) -> Result<(), UserError> {
        if wanted.difference(principal.root_permissions()).is_empty() {
            Ok(())
        } else {
            Err(UserError::GrantBeyondCaller)
        }
    }

    /// Creates a user (root `users:write`); with an idempotency key, a repeat returns the
    /// user the first request created.
    #[instrument(level = "debug", skip_all)]
    pub async fn create(
        &self,
        principal: &Principal,
        command: NewUser,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<User>, UserError> {
        Self::require_root(principal, Permission::UsersWrite)?;
        Self::check_grant(principal, command.root_permissions)?;
        let fingerprint = || command.fingerprint("user.create").finish();
        let (mut tx, pending) =
            match self.deps.begin_create(principal, key.as_ref(), "user.create", fingerprint).await? {
                Begun::Replay(id) => {
                    let user = self
                        .deps
                        .store
                        .get_user(stored_id(&id, UserId::parse)?)
                        .await?
                        .ok_or(UserError::ReplayedResourceGone)?;
                    return Ok(Created { value: user, replayed: true });
                }
                Begun::Fresh(tx, pending) => (tx, pending),
            };
        let user = insert_user(&self.deps, &mut *tx, principal, command).await?;
        pending.finish(&mut *tx, "user", user.id).await?;
        tx.commit().await?;
        Ok(Created { value: user, replayed: false })
    }

    /// Lists users (root `users:read`).
    pub async fn list(&self, principal: &Principal, page: PageRequest) -> Result<Page<User>, UserError> {
        Self::require_root(principal, Permission::UsersRead)?;
        Ok(self.deps.store.list_users(page).await?)
    }

    /// Reads a user: root `users:read`, or the caller itself.
    pub async fn get(&self, principal: &Principal, id: UserId) -> Result<User, UserError> {
        if principal.user_id() != Some(id) && !principal.root_permissions().contains(Permission::UsersRead) {
            return Err(UserError::NotFound);
        }
        self.deps.store.get_user(id).await?.ok_or(UserError::NotFound)
    }

    /// Changes a user (root `users:write`); disabling one stops its tokens at once.
    #[instrument(level = "debug", skip_all, fields(user_id = %id))]
    pub async fn update(
        &self,
        principal: &Principal,
        id: UserId,
        patch: UserPatch,
        if_match: IfMatch,
    ) -> Result<User, UserError> {
        Self::require_root(principal, Permission::UsersWrite)?;
        if let Some(root) = patch.root_permissions {
            Self::check_grant(principal, root)?;
        }
        if principal.user_id() == Some(id) && patch.status == Some(UserStatus::Disabled) {
            return Err(UserError::CannotDisableSelf);
        }
        let mut tx = self.deps.store.begin().await?;
        // A change that may demote or disable a root user locks the root rows first (in id
        // order), before the target row: two root users demoting each other at once then
        // queue on the same first lock instead of deadlocking.
        let roots = if patch.root_permissions.is_some() || patch.status.is_some() {
            Some(tx.root_users().await?)
        } else {
            None
        };
        let current = tx.find_user(id).await?.ok_or(UserError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(UserError::VersionMismatch);
        }
        let mut next = current.patched(&patch);
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        if changes.is_empty() {
            return Ok(current);
        }
        if administers_platform(&current) && !administers_platform(&next) {
            // The platform keeps at least one active root user with users:write: the root
            // rows are locked (above), so two root users demoting each other at once serialize.
            let roots = match roots {
                Some(roots) => roots,
                None => tx.root_users().await?,
            };
            let others = roots.into_iter().filter(|u| u.id != id && administers_platform(u)).count();
            if others == 0 {
                let field = if next.is_active() { "root_permissions" } else { "status" };
                return Err(UserError::LastRootUser(invalid(
                    field,
                    "last_root",
                    "the last active root user with users:write cannot be demoted or disabled; make another one first",
                )));
            }
        }
        let now = self.deps.clock.now();
        next.version = current.version.next();
        next.updated_at = now;
        if !tx.update_user(&next, current.version).await? {
            return Err(UserError::Conflict);
        }
        self.deps.record(&mut *tx, principal, AuditEntry::user(&next, "user.update", changes), now).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// The caller itself.
    pub async fn me(&self, principal: &Principal) -> Result<User, UserError> {
        let id = principal.user_id().ok_or(UserError::NotFound)?;
        self.deps.store.get_user(id).await?.ok_or(UserError::NotFound)
    }

    /// The accounts the caller can see with what it holds on each, and its root permissions.
    pub async fn my_permissions(&self, principal: &Principal) -> Result<MyPermissions, UserError> {
        let user_id = principal.user_id().ok_or(UserError::NotFound)?;
        let rights = self.deps.all_rights(principal).await?;
        let mut accounts = Vec::new();
        let mut page = PageRequest::first(MY_PERMISSIONS_LIMIT);
        while accounts.len() < MY_PERMISSIONS_LIMIT as usize {
            let found = self.deps.store.list_accounts_of_member(user_id, page).await?;
            accounts.extend(found.items.into_iter().map(|a| {
                let held = rights.on(&a);
                (a, held)
            }));
            match found.next {
                Some(next) => page.after = Some(next),
                None => break,
            }
        }
        accounts.retain(|(_, held)| !held.is_empty());
        Ok(MyPermissions { user_id, accounts, root_permissions: principal.root_permissions() })
    }

    /// Creates the first root user, holding every permission, and a platform token for it.
    /// Refused when a root user exists already.
    pub async fn bootstrap(
        &self,
        principal: &Principal,
        email: crate::EmailAddress,
    ) -> Result<Bootstrapped, UserError> {
        let mut tx = self.deps.store.begin().await?;
        if tx.any_root_user().await? {
            return Err(UserError::RootUserExists);
        }
        let command = NewUser { email, first_name: None, last_name: None, root_permissions: PermissionSet::all() };
        let user = insert_user(&self.deps, &mut *tx, principal, command).await?;
        let now = self.deps.clock.now();
        let secret = TokenSecret::generate();
        let token = Token {
            id: TokenId::from_uuid(self.deps.ids.next_id()),
            account_id: None,
            user_id: user.id,
            name: TokenName::parse("bootstrap").map_err(|e| anyhow::anyhow!("{e}"))?,
            policies: vec![Policy { effect: Effect::Allow, permissions: PermissionSet::all(), resources: Vec::new() }],
            condition: TokenCondition::default(),
            not_before: None,
            expires_on: None,
            status: TokenStatus::Active,
            hint: secret.hint(),
            last_used_on: None,
            created_at: now,
            updated_at: now,
            user_hidden: false,
        };
        tx.insert_token(&token, &secret.digest()).await?;
        self.deps
            .record(
                &mut *tx,
                principal,
                AuditEntry::token(&token, "token.create", Changes::created(token.snapshot())),
                now,
            )
            .await?;
        tx.commit().await?;
        Ok(Bootstrapped { user, token, secret })
    }
}

/// Whether `user` can administer the platform: active, with root `users:write`.
fn administers_platform(user: &User) -> bool {
    user.is_active() && user.root_permissions.contains(Permission::UsersWrite)
}

/// Inserts a user with its audit event; shared by user creation and member invitations.
pub(crate) async fn insert_user(
    deps: &Deps,
    tx: &mut dyn Transaction,
    principal: &Principal,
    command: NewUser,
) -> Result<User, InsertUserError> {
    let now = deps.clock.now();
    let user = User {
        id: UserId::from_uuid(deps.ids.next_id()),
        email: command.email,
        first_name: command.first_name,
        last_name: command.last_name,
        status: UserStatus::Active,
        root_permissions: command.root_permissions,
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    };
    tx.insert_user(&user).await?;
    deps.record(tx, principal, AuditEntry::user(&user, "user.create", Changes::created(user.snapshot())), now).await?;
    Ok(user)
}
