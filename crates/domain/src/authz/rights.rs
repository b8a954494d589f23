//! The authorization decision: what a caller holds ([`Rights`]: root permissions plus the
//! roles held on an account or its ancestors, narrowed by the calling token's policies, with
//! two-factor enforcement), and the one way services ask it ([`Deps::authorize`]).

use crate::Deps;
use crate::{Account, AccountId, MemberStatus, Permission, PermissionSet, Principal, Role, Token, TreePosition, User};

/// Why a caller may not do something on an account: the result of the decision itself.
/// Operations do not return it; each converts it into its own error (`NotFound`, or a
/// [`Denied`](crate::Denied) refusal) through `operation_error_from!(… access)`.
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
    #[error("two-factor authentication is required on this account: enrol a TOTP factor")]
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
    pub fn on(&self, account: &impl TreePosition) -> PermissionSet {
        if self.twofactor_blocks(account) { PermissionSet::EMPTY } else { self.held(account) }
    }

    /// Whether two-factor enforcement on `account` or an ancestor shuts the caller out.
    fn twofactor_blocks(&self, account: &impl TreePosition) -> bool {
        self.twofactor_blocked.iter().any(|id| account.is_within(*id))
    }

    /// The one access decision: nothing held → not found (existence does not leak), held
    /// but two-factor enforced without a factor → two-factor required, else the permission.
    pub fn check(&self, account: &impl TreePosition, permission: Permission) -> Result<(), AccessError> {
        if self.check_any(account)?.contains(permission) { Ok(()) } else { Err(AccessError::Forbidden(permission)) }
    }

    /// What the caller holds on `account`, when it holds anything there and is not shut out
    /// by two-factor enforcement (the first two steps of [`Rights::check`]).
    pub fn check_any(&self, account: &impl TreePosition) -> Result<PermissionSet, AccessError> {
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
    fn held(&self, account: &impl TreePosition) -> PermissionSet {
        let inherited = self
            .memberships
            .iter()
            .filter(|(id, _)| account.is_within(*id))
            .fold(self.everywhere, |set, (_, roles)| set.union(*roles));
        match &self.token {
            None => inherited,
            Some(token) => inherited.intersection(token.grant_on(account)),
        }
    }
}

impl Rights {
    /// The system's rights: everything, everywhere.
    fn everything() -> Self {
        Self { everywhere: PermissionSet::all(), memberships: Vec::new(), token: None, twofactor_blocked: Vec::new() }
    }

    /// A root user's whose root permissions cover every account permission.
    fn of_root(user: &User, token: Option<&Token>) -> Self {
        Self {
            everywhere: user.root_permissions,
            memberships: Vec::new(),
            token: token.cloned(),
            twofactor_blocked: Vec::new(),
        }
    }
}

#[cfg(test)]
impl Rights {
    /// Rights as [`Deps`] loads them, for the unit tests of the decision (`authz/tests.rs`).
    pub(super) fn loaded(
        everywhere: PermissionSet,
        memberships: Vec<(AccountId, PermissionSet)>,
        token: Option<Token>,
        twofactor_blocked: Vec<AccountId>,
    ) -> Self {
        Self { everywhere, memberships, token, twofactor_blocked }
    }
}

impl Deps {
    /// The caller's rights on `account` and its ancestors only: from the decision cache, or
    /// one indexed query per kind of fact it misses.
    pub async fn rights_for(&self, principal: &Principal, account: &impl TreePosition) -> anyhow::Result<Rights> {
        match principal.token_caller() {
            None => Ok(Rights::everything()),
            Some(caller) => self.subject_rights_for(&caller.user, Some(&caller.token), account).await,
        }
    }

    /// The caller's rights everywhere it is a member (for listings): read from the store,
    /// never cached (a listing reads its accounts from the store too).
    pub async fn all_rights(&self, principal: &Principal) -> anyhow::Result<Rights> {
        let Some(caller) = principal.token_caller() else { return Ok(Rights::everything()) };
        let (user, token) = (&caller.user, &caller.token);
        if Self::roles_add_nothing(user) {
            return Ok(Rights::of_root(user, Some(token)));
        }
        let memberships = self
            .store
            .memberships_of(user.id)
            .await?
            .into_iter()
            .filter(|m| m.status == MemberStatus::Member)
            .map(|m| (m.account_id, Role::union_of(&m.roles)))
            .collect();
        // Root users are exempt from enforcement (they are not members), as in one account's
        // decision below.
        let enforcing = if user.is_root() { Vec::new() } else { self.store.twofactor_enforced_near(user.id).await? };
        let twofactor_blocked =
            if enforcing.is_empty() || self.store.has_active_factor(user.id).await? { Vec::new() } else { enforcing };
        Ok(Rights { everywhere: user.root_permissions, memberships, token: Some(token.clone()), twofactor_blocked })
    }

    /// A subject's rights on `account` and its ancestors: `user` acting through `token`, or
    /// with its own rights when `token` is `None` (the decision API's `user_id` subject).
    /// The same loading as [`Deps::rights_for`], which every service's decision goes through.
    pub(crate) async fn subject_rights_for(
        &self,
        user: &User,
        token: Option<&Token>,
        account: &impl TreePosition,
    ) -> anyhow::Result<Rights> {
        if Self::roles_add_nothing(user) {
            return Ok(Rights::of_root(user, token));
        }
        let access = self.access_of(user.id).await?;
        let memberships: Vec<(AccountId, PermissionSet)> =
            access.memberships.iter().filter(|(id, _)| account.is_within(*id)).copied().collect();
        // Enforcement shuts out members without an active factor; root users are not
        // members (roles_add_nothing covers most; one holding only some root permissions
        // is exempt too). The path's placements are read only when it matters.
        let twofactor_blocked = if memberships.is_empty() || access.active_factor || user.is_root() {
            Vec::new()
        } else {
            let mut path = account.ancestors().to_vec();
            path.push(account.account_id());
            self.placements_of(&path).await?.into_iter().filter(|p| p.enforce_twofactor).map(|p| p.id).collect()
        };
        Ok(Rights { everywhere: user.root_permissions, memberships, token: token.cloned(), twofactor_blocked })
    }

    /// Root permissions holding every account permission make memberships add nothing, and
    /// root users are exempt from two-factor enforcement: no fact needs reading.
    fn roles_add_nothing(user: &User) -> bool {
        let account_scoped = PermissionSet::account_scoped();
        user.root_permissions.intersection(account_scoped) == account_scoped
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
