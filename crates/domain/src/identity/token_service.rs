//! API tokens under an account (seed 004), and the authenticator that turns a presented
//! secret into a [`Principal`] with one indexed lookup and no key derivation.

use std::sync::Arc;

use tracing::instrument;

use crate::{
    Account, AccountId, AuditEntry, Begun, Changes, Clock, Created, Denied, Deps, Effect, IdGenerator, IdempotencyKey,
    Page, PageRequest, Permission, PermissionSet, Policy, Principal, Store, Token, TokenCondition, TokenError,
    TokenFields, TokenId, TokenSecret, TokenStatus, UserId, WithSecret, invalid, stored_id,
};

/// How many accounts the policies of one token may name in all.
const MAX_POLICY_RESOURCES: usize = 100;

/// A token with its secret, returned once on create and on roll.
#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub token: Token,
    pub secret: TokenSecret,
}

/// Tokens of an account.
#[derive(Clone)]
pub struct TokenService {
    deps: Deps,
}

impl std::fmt::Debug for TokenService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenService").finish_non_exhaustive()
    }
}

impl TokenService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    /// The account and whether the caller may manage every token there (an administrator
    /// or root) rather than only its own.
    async fn scope(
        &self,
        principal: &Principal,
        id: AccountId,
        permission: Permission,
    ) -> Result<(Account, bool), TokenError> {
        let account = self.deps.store.get_account(id).await?.ok_or(TokenError::NotFound)?;
        let held = self.deps.rights_for(principal, &account).await?.check_any(&account)?;
        if !held.contains(permission) {
            return Err(TokenError::Denied(Denied::Permission(permission)));
        }
        Ok((account, held.contains(Permission::MembersWrite)))
    }

    /// A token of `account` the caller may see.
    async fn visible(
        &self,
        principal: &Principal,
        account: AccountId,
        id: TokenId,
        all: bool,
    ) -> Result<Token, TokenError> {
        let token = self.deps.store.get_token(id).await?.ok_or(TokenError::NotFound)?;
        Self::check_visible(principal, account, &token, all)?;
        Ok(token)
    }

    fn check_visible(principal: &Principal, account: AccountId, token: &Token, all: bool) -> Result<(), TokenError> {
        if token.account_id != Some(account) || (!all && Some(token.user_id) != principal.user_id()) {
            return Err(TokenError::NotFound);
        }
        Ok(())
    }

    /// A change (a `roll`, or an update or delete) of token `id` of `account_id`, allowed
    /// before its transaction: the caller holds `tokens:write`, sees the token, and the token
    /// rules let it act ([`TokenService::govern`]). Yields the account, whether the caller
    /// manages every token there, and the token as decided on.
    async fn governed(
        &self,
        principal: &Principal,
        account_id: AccountId,
        id: TokenId,
        roll: bool,
    ) -> Result<(Account, bool, Token), TokenError> {
        let (account, all) = self.scope(principal, account_id, Permission::TokensWrite).await?;
        let seen = self.visible(principal, account_id, id, all).await?;
        self.govern(principal, &seen, all, roll).await?;
        Ok((account, all, seen))
    }

    /// The recheck of a token locked in the change's transaction: still visible, and still
    /// reaching what was decided on.
    fn unchanged(
        principal: &Principal,
        account_id: AccountId,
        all: bool,
        seen: &Token,
        locked: &Token,
    ) -> Result<(), TokenError> {
        Self::check_visible(principal, account_id, locked, all)?;
        same_reach(seen, locked)
    }

    /// The token read again, and locked, inside `tx`: what a write decides on.
    async fn locked(
        tx: &mut dyn crate::Transaction,
        principal: &Principal,
        account: AccountId,
        id: TokenId,
        all: bool,
    ) -> Result<Token, TokenError> {
        let token = tx.find_token(id).await?.ok_or(TokenError::NotFound)?;
        Self::check_visible(principal, account, &token, all)?;
        Ok(token)
    }

    /// The token-takeover rule (docs/ARCHITECTURE.md, "Who may act on whom"): acting on
    /// `token` (roll, update, disable, delete) needs rights over its user at least as wide as
    /// the token's. A platform administrator may always. Anyone else:
    /// - rolls only tokens of its own user (a roll hands out the secret), and acts on another
    ///   user's token only with `members:write` on the account (`all`);
    /// - never on a root user's token, nor on a token of a user who owns (or holds the owner
    ///   role on an ancestor of) any account the token reaches, descendants included,
    ///   unless it is that user;
    /// - must allow `mfa:write` through its own token when the target token allows it (a
    ///   token-only grant, compared before roles);
    /// - and must hold, through its own token, at least what the target token effectively
    ///   grants (its policies ∩ its user's roles) on every account the token reaches.
    ///
    /// Read before the write's transaction; the write checks that the token it locks still
    /// has the user and policies decided on ([`same_reach`]).
    async fn govern(&self, principal: &Principal, token: &Token, all: bool, roll: bool) -> Result<(), TokenError> {
        if Deps::is_platform_admin(principal) {
            return Ok(());
        }
        let own = Some(token.user_id) == principal.user_id();
        if !own && (roll || !all) {
            return Err(if roll { TokenError::RollOfAnotherUsersToken } else { TokenError::TokenOfAnotherUser });
        }
        if !own {
            let user = self.deps.store.get_user(token.user_id).await?;
            if user.is_some_and(|u| u.is_root()) {
                return Err(TokenError::TokenOfRootUser);
            }
        }
        // Token-only grants (`mfa:write`: no role but owner and administrator holds it, so
        // `held ∩ grant` below would drop it for a member) are compared token to token: a
        // token that may change its user's factors is governed only by one that may too.
        if token.allows_mfa_write() && !Self::caller_allows_mfa_write(principal) {
            return Err(TokenError::TokenAllowsMfaWrite);
        }
        let mut reached = Vec::new();
        for id in token.account_id.iter().chain(token.policies.iter().flat_map(|p| p.resources.iter())) {
            if let Some(account) = self.deps.store.get_account(*id).await? {
                reached.push(account);
            }
        }
        if !own && self.owns_within(token.user_id, &reached).await? {
            return Err(TokenError::TokenOfOwner);
        }
        for account in &reached {
            let mut path = account.hierarchy.clone();
            path.push(account.id);
            let roles = self.deps.store.member_roles(token.user_id, &path).await?;
            if !own && roles.iter().any(|(_, roles)| roles.contains(&crate::Role::Owner)) {
                return Err(TokenError::TokenOfOwner);
            }
            let held = roles.iter().fold(PermissionSet::EMPTY, |s, (_, r)| s.union(crate::Role::union_of(r)));
            let effective = held.intersection(token.grant_on(account));
            let caller = self.deps.rights_for(principal, account).await?.on(account);
            if !effective.difference(caller).is_empty() {
                return Err(TokenError::TokenReachesFurther);
            }
        }
        Ok(())
    }

    /// Whether the calling token allows `mfa:write` (the system principal may do anything).
    fn caller_allows_mfa_write(principal: &Principal) -> bool {
        principal.token_caller().is_none_or(|c| c.token.allows_mfa_write())
    }

    /// Whether `user` owns an account among `reached` or below one of them: a token whose
    /// policy covers descendants reaches the accounts its user owns there. Pages through the
    /// accounts `user` is a member of (with their descendants), which carry their owner.
    async fn owns_within(&self, user: UserId, reached: &[Account]) -> Result<bool, TokenError> {
        let mut page = PageRequest::first(u32::MAX);
        loop {
            let accounts = self.deps.store.list_accounts_of_member(user, page).await?;
            let owned = accounts
                .items
                .iter()
                .filter(|a| a.owner_id == Some(user))
                .any(|a| reached.iter().any(|r| r.id == a.id || a.hierarchy.contains(&r.id)));
            if owned {
                return Ok(true);
            }
            match accounts.next {
                Some(after) => page = PageRequest { size: page.size, after: Some(after) },
                None => return Ok(false),
            }
        }
    }

    pub async fn list(
        &self,
        principal: &Principal,
        account: AccountId,
        page: PageRequest,
    ) -> Result<Page<Token>, TokenError> {
        let (_, all) = self.scope(principal, account, Permission::TokensRead).await?;
        let only = if all { None } else { principal.user_id() };
        let mut page = self.deps.store.list_tokens(account, only, page).await?.map(|t| self.shown(t));
        self.hide_platform_users(principal, &mut page.items).await?;
        Ok(page)
    }

    /// Marks the tokens of root users `user_hidden` for a tenant caller (rule 5 of "Who may
    /// act on whom"): one query for the root users, however many tokens.
    async fn hide_platform_users(&self, principal: &Principal, tokens: &mut [Token]) -> Result<(), TokenError> {
        let platform = self.deps.platform_users(principal, tokens.iter().map(|t| t.user_id).collect()).await?;
        for token in tokens.iter_mut().filter(|t| platform.contains(&t.user_id)) {
            token.user_hidden = true;
        }
        Ok(())
    }

    pub async fn get(&self, principal: &Principal, account: AccountId, id: TokenId) -> Result<Token, TokenError> {
        let (_, all) = self.scope(principal, account, Permission::TokensRead).await?;
        let mut token = [self.shown(self.visible(principal, account, id, all).await?)];
        self.hide_platform_users(principal, &mut token).await?;
        let [token] = token;
        Ok(token)
    }

    /// Creates a token for the caller, or for `fields.user_id` when the caller is root. With
    /// an idempotency key, a repeat returns the token the first request created, without its
    /// secret (shown once, never regenerated by a replay).
    #[instrument(level = "debug", skip_all, fields(account_id = %account_id))]
    pub async fn create(
        &self,
        principal: &Principal,
        account_id: AccountId,
        fields: TokenFields,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<WithSecret<Token, TokenSecret>>, TokenError> {
        let (account, _) = self.scope(principal, account_id, Permission::TokensWrite).await?;
        let caller = principal.user_id();
        let user_id = match fields.user_id {
            Some(user) if Some(user) != caller && !principal.root_permissions().contains(Permission::UsersWrite) => {
                return Err(TokenError::TokenForAnotherUser);
            }
            Some(user) => user,
            None => caller.ok_or_else(|| invalid("user_id", "required", "name the user the token acts for"))?,
        };
        let name = fields.name.clone().ok_or_else(|| invalid("name", "required", "must not be empty"))?;
        let policies = match fields.policies.clone() {
            Some(p) if !p.is_empty() => p,
            // By default a token may do what its maker's token may do on the account.
            _ => vec![Policy {
                effect: Effect::Allow,
                permissions: self.caller_grant(principal, &account),
                resources: Vec::new(),
            }],
        };
        self.check_resources(principal, user_id, &account, &policies).await?;
        let now = self.deps.clock.now();
        let secret = TokenSecret::generate();
        let operation = "token.create";
        let fingerprint = || fields.fingerprint(operation).field("account", Some(account_id)).finish();
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => return self.replayed(&id, |t| t.account_id == Some(account_id)).await,
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let token = self.new_token(Some(account_id), user_id, name, policies, fields, &secret, now);
        let user = tx.find_user(user_id).await?;
        if !user.is_some_and(|u| u.is_active()) {
            return Err(TokenError::Invalid(invalid(
                "user_id",
                "not_found",
                format!("no active user {user_id} exists"),
            )));
        }
        tx.insert_token(&token, &secret.digest()).await?;
        self.deps
            .record(
                &mut *tx,
                principal,
                AuditEntry::token(&token, "token.create", Changes::created(token.snapshot())),
                now,
            )
            .await?;
        pending.finish(&mut *tx, "token", token.id).await?;
        tx.commit().await?;
        Ok(Created { value: WithSecret { resource: self.shown(token), secret: Some(secret) }, replayed: false })
    }

    /// The answer to a replayed token creation: the token as it is now, without a secret.
    async fn replayed(
        &self,
        id: &str,
        belongs: impl FnOnce(&Token) -> bool,
    ) -> Result<Created<WithSecret<Token, TokenSecret>>, TokenError> {
        let token = self.deps.store.get_token(stored_id(id, TokenId::parse)?).await?;
        let token = token.filter(belongs).ok_or(TokenError::ReplayedResourceGone)?;
        Ok(Created { value: WithSecret { resource: self.shown(token), secret: None }, replayed: true })
    }

    /// A new token from validated fields, for `secret`.
    #[allow(clippy::too_many_arguments)]
    fn new_token(
        &self,
        account_id: Option<AccountId>,
        user_id: UserId,
        name: crate::TokenName,
        policies: Vec<Policy>,
        fields: TokenFields,
        secret: &TokenSecret,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Token {
        Token {
            id: TokenId::from_uuid(self.deps.ids.next_id()),
            account_id,
            user_id,
            name,
            policies,
            condition: TokenCondition {
                ip_in: fields.ip_in.unwrap_or_default(),
                ip_not_in: fields.ip_not_in.unwrap_or_default(),
            },
            not_before: fields.not_before.flatten(),
            expires_on: fields.expires_on.flatten(),
            status: fields.status.unwrap_or(TokenStatus::Active),
            hint: secret.hint(),
            last_used_on: None,
            created_at: now,
            updated_at: now,
            user_hidden: false,
        }
    }

    /// What the calling token may do on `account` (everything for the system principal).
    fn caller_grant(&self, principal: &Principal, account: &Account) -> PermissionSet {
        principal.token_caller().map_or(PermissionSet::account_scoped(), |c| c.token.grant_on(account))
    }

    /// Every account a policy names must be one the token's user belongs to (directly or
    /// through an ancestor), and on every account the new policies reach they may grant no
    /// more than the calling token itself holds there: a token never mints a wider one.
    async fn check_resources(
        &self,
        principal: &Principal,
        user: UserId,
        account: &Account,
        policies: &[Policy],
    ) -> Result<(), TokenError> {
        let total: usize = policies.iter().map(|p| p.resources.len()).sum();
        if total > MAX_POLICY_RESOURCES {
            return Err(TokenError::Invalid(invalid(
                "policies",
                "too_many",
                "policies may name at most 100 accounts in all",
            )));
        }
        if crate::allows_mfa_write(policies) && !Self::caller_allows_mfa_write(principal) {
            return Err(TokenError::GrantBeyondCaller);
        }
        let mut reached = vec![account.clone()];
        for (i, policy) in policies.iter().enumerate() {
            for resource in &policy.resources {
                // One answer for "no such account" and "not yours", so no account's existence leaks.
                let refused = || {
                    TokenError::Invalid(invalid(
                        &format!("policies[{i}].resources"),
                        "not_a_member",
                        format!("{resource} is not an account the user belongs to"),
                    ))
                };
                let target = self.deps.store.get_account(*resource).await?.ok_or_else(refused)?;
                let mut path = target.hierarchy.clone();
                path.push(target.id);
                let member = !self.deps.store.member_roles(user, &path).await?.is_empty();
                let own = target.id == account.id || target.hierarchy.contains(&account.id);
                if !member && !own {
                    return Err(refused());
                }
                reached.push(target);
            }
        }
        for target in &reached {
            let granted = crate::grant(policies, Some(account.id), target);
            if !granted.difference(self.caller_grant(principal, target)).is_empty() {
                return Err(TokenError::GrantBeyondCaller);
            }
        }
        Ok(())
    }

    /// Changes a token's name, status, policies, condition or validity window.
    pub async fn update(
        &self,
        principal: &Principal,
        account_id: AccountId,
        id: TokenId,
        fields: TokenFields,
    ) -> Result<Token, TokenError> {
        let (account, all, seen) = self.governed(principal, account_id, id, false).await?;
        if fields.user_id.is_some_and(|u| u != seen.user_id) {
            return Err(TokenError::Invalid(invalid("user_id", "immutable", "a token's user cannot change")));
        }
        if let Some(policies) = &fields.policies {
            if policies.is_empty() {
                return Err(TokenError::Invalid(invalid("policies", "required", "must hold at least one policy")));
            }
            // Checked before the transaction: the checks read through the pool.
            self.check_resources(principal, seen.user_id, &account, policies).await?;
        }
        let mut tx = self.deps.store.begin().await?;
        let current = Self::locked(&mut *tx, principal, account_id, id, all).await?;
        same_reach(&seen, &current)?;
        if !all && current.status == TokenStatus::Disabled && fields.status == Some(TokenStatus::Active) {
            return Err(TokenError::ReenableNeedsAdministrator);
        }
        let mut next = current.clone();
        if let Some(name) = fields.name {
            next.name = name;
        }
        if let Some(status) = fields.status {
            next.status = status;
        }
        if let Some(policies) = fields.policies {
            next.policies = policies;
        }
        if let Some(ip_in) = fields.ip_in {
            next.condition.ip_in = ip_in;
        }
        if let Some(ip_not_in) = fields.ip_not_in {
            next.condition.ip_not_in = ip_not_in;
        }
        if let Some(nb) = fields.not_before {
            next.not_before = nb;
        }
        if let Some(exp) = fields.expires_on {
            next.expires_on = exp;
        }
        if let (Some(nb), Some(exp)) = (next.not_before, next.expires_on)
            && exp <= nb
        {
            return Err(TokenError::Invalid(invalid(
                "expires_on",
                "before_not_before",
                "must be later than not_before",
            )));
        }
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        if changes.is_empty() {
            return Ok(current);
        }
        let now = self.deps.clock.now();
        next.updated_at = now;
        if !tx.update_token(&next, None).await? {
            return Err(TokenError::NotFound);
        }
        self.deps.record(&mut *tx, principal, AuditEntry::token(&next, "token.update", changes), now).await?;
        tx.commit().await?;
        Ok(self.shown(next))
    }

    pub async fn delete(&self, principal: &Principal, account_id: AccountId, id: TokenId) -> Result<(), TokenError> {
        let (_, all, seen) = self.governed(principal, account_id, id, false).await?;
        self.delete_where(principal, id, |t| Self::unchanged(principal, account_id, all, &seen, t)).await
    }

    /// Deletes token `id` if `allowed` accepts it as read, locked, inside the transaction.
    async fn delete_where(
        &self,
        principal: &Principal,
        id: TokenId,
        allowed: impl Fn(&Token) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        let mut tx = self.deps.store.begin().await?;
        let token = tx.find_token(id).await?.ok_or(TokenError::NotFound)?;
        allowed(&token)?;
        if !tx.delete_token(id).await? {
            return Err(TokenError::NotFound);
        }
        let now = self.deps.clock.now();
        let entry = AuditEntry::token(&token, "token.delete", Changes::deleted(token.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the token's secret; the old one stops working when this commits.
    pub async fn roll(
        &self,
        principal: &Principal,
        account_id: AccountId,
        id: TokenId,
    ) -> Result<IssuedToken, TokenError> {
        let (_, all, seen) = self.governed(principal, account_id, id, true).await?;
        self.roll_where(principal, id, |t| Self::unchanged(principal, account_id, all, &seen, t)).await
    }

    /// Rolls token `id` if `allowed` accepts it as read, locked, inside the transaction.
    async fn roll_where(
        &self,
        principal: &Principal,
        id: TokenId,
        allowed: impl Fn(&Token) -> Result<(), TokenError>,
    ) -> Result<IssuedToken, TokenError> {
        let mut tx = self.deps.store.begin().await?;
        let current = tx.find_token(id).await?.ok_or(TokenError::NotFound)?;
        allowed(&current)?;
        let secret = TokenSecret::generate();
        let now = self.deps.clock.now();
        let next = Token { hint: secret.hint(), updated_at: now, ..current.clone() };
        if !tx.update_token(&next, Some(&secret.digest())).await? {
            return Err(TokenError::NotFound);
        }
        let changes =
            Changes::updated(current.snapshot().with("secret", "old"), next.snapshot().with("secret", "rolled"));
        self.deps.record(&mut *tx, principal, AuditEntry::token(&next, "token.roll", changes), now).await?;
        tx.commit().await?;
        Ok(IssuedToken { token: self.shown(next), secret })
    }

    /// Platform tokens (not bound to an account) of a root user; managing them needs the
    /// root permission `users:write`. The bootstrap token is one: it can be rolled or
    /// revoked here, and other root users get theirs here.
    fn require_platform_admin(principal: &Principal) -> Result<(), TokenError> {
        if principal.root_permissions().contains(Permission::UsersWrite) {
            Ok(())
        } else {
            Err(TokenError::RootPermissionRequired(Permission::UsersWrite))
        }
    }

    fn check_platform(user: UserId, token: &Token) -> Result<(), TokenError> {
        if token.account_id.is_none() && token.user_id == user { Ok(()) } else { Err(TokenError::NotFound) }
    }

    pub async fn list_platform(
        &self,
        principal: &Principal,
        user: UserId,
        page: PageRequest,
    ) -> Result<Page<Token>, TokenError> {
        Self::require_platform_admin(principal)?;
        Ok(self.deps.store.list_platform_tokens(user, page).await?.map(|t| self.shown(t)))
    }

    /// A new platform token for root user `user`. It can reach no further than the calling
    /// token does on every account, nor further than the user's root permissions at use.
    pub async fn create_platform(
        &self,
        principal: &Principal,
        user: UserId,
        fields: TokenFields,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<WithSecret<Token, TokenSecret>>, TokenError> {
        Self::require_platform_admin(principal)?;
        let name = fields.name.clone().ok_or_else(|| invalid("name", "required", "must not be empty"))?;
        let caller_reach = principal.token_caller().map_or(PermissionSet::all(), |c| c.token.platform_grant());
        let policies = match fields.policies.clone() {
            Some(p) if !p.is_empty() => p,
            _ => vec![Policy { effect: Effect::Allow, permissions: caller_reach, resources: Vec::new() }],
        };
        if policies.iter().any(|p| !p.resources.is_empty()) {
            return Err(TokenError::Invalid(invalid(
                "policies",
                "platform_wide",
                "platform token policies name no resources",
            )));
        }
        let wanted = policies
            .iter()
            .filter(|p| p.effect == Effect::Allow)
            .fold(PermissionSet::EMPTY, |s, p| s.union(p.permissions));
        if !wanted.difference(caller_reach).is_empty() {
            return Err(TokenError::GrantBeyondCaller);
        }
        let now = self.deps.clock.now();
        let secret = TokenSecret::generate();
        let operation = "platform_token.create";
        let fingerprint = || fields.fingerprint(operation).field("for", Some(user)).finish();
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => return self.replayed(&id, |t| t.account_id.is_none() && t.user_id == user).await,
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let token = self.new_token(None, user, name, policies, fields, &secret, now);
        match tx.find_user(user).await? {
            Some(u) if u.is_active() && u.is_root() => {}
            _ => {
                return Err(TokenError::Invalid(invalid(
                    "user_id",
                    "not_root",
                    "platform tokens are for active root users",
                )));
            }
        }
        tx.insert_token(&token, &secret.digest()).await?;
        self.deps
            .record(
                &mut *tx,
                principal,
                AuditEntry::token(&token, "token.create", Changes::created(token.snapshot())),
                now,
            )
            .await?;
        pending.finish(&mut *tx, "token", token.id).await?;
        tx.commit().await?;
        Ok(Created { value: WithSecret { resource: self.shown(token), secret: Some(secret) }, replayed: false })
    }

    pub async fn delete_platform(&self, principal: &Principal, user: UserId, id: TokenId) -> Result<(), TokenError> {
        Self::require_platform_admin(principal)?;
        self.delete_where(principal, id, |t| Self::check_platform(user, t)).await
    }

    pub async fn roll_platform(
        &self,
        principal: &Principal,
        user: UserId,
        id: TokenId,
    ) -> Result<IssuedToken, TokenError> {
        Self::require_platform_admin(principal)?;
        self.roll_where(principal, id, |t| Self::check_platform(user, t)).await
    }

    /// The token as callers see it: an active token past its expiry shows as `expired`, by
    /// the domain's clock.
    fn shown(&self, mut token: Token) -> Token {
        token.status = token.status_at(self.deps.clock.now());
        token
    }

    /// The calling token (seed 004 "Verify Token").
    pub async fn verify(&self, principal: &Principal, account_id: AccountId) -> Result<Token, TokenError> {
        let caller = principal.token_caller().ok_or(TokenError::NotFound)?;
        let account = self.deps.store.get_account(account_id).await?.ok_or(TokenError::NotFound)?;
        self.deps.rights_for(principal, &account).await?.check_any(&account)?;
        Ok(self.shown(caller.token.clone()))
    }

    /// The permission groups a token policy may name, for a caller that can see the account.
    pub async fn permission_groups(
        &self,
        principal: &Principal,
        account_id: AccountId,
    ) -> Result<Vec<Permission>, TokenError> {
        self.scope(principal, account_id, Permission::AccountsRead).await?;
        Ok(Permission::ALL.iter().copied().filter(Permission::is_account_scoped).collect())
    }
}

/// The token locked for a write still has the user and policies the decision was made on;
/// a concurrent change is a conflict to retry.
fn same_reach(seen: &Token, current: &Token) -> Result<(), TokenError> {
    if seen.user_id == current.user_id && seen.policies == current.policies {
        Ok(())
    } else {
        Err(TokenError::Conflict)
    }
}
