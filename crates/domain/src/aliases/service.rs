//! Managed domains (root users only) and the email aliases accounts own on them (seed 001),
//! with their mailbox passwords and mailbox authentication for mail servers.

use std::collections::HashMap;
use std::sync::Arc;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};
use tracing::instrument;

use crate::{
    Account, AccountId, Address, Alias, AliasError, AliasFilter, AliasId, AliasPatch, AliasStatus, AuditEntry, Begun,
    Changes, Clock, Created, Deps, DisplayName, Domain, DomainError, DomainId, DomainRef, DomainStatus, Fingerprint,
    IdGenerator, IdempotencyKey, IfMatch, InsertAliasError, InsertDomainError, LocalPart, MailboxPassword, NewAlias,
    NewDomain, Page, PageRequest, PasswordHasher, Permission, Principal, Store, Transaction, UserId, ValidationErrors,
    Version, WithSecret, invalid, stored_id,
};

impl AuditEntry {
    fn domain(domain: &Domain, action: &'static str, changes: Changes) -> Self {
        Self { account_id: None, action, resource_type: "domain", resource_id: domain.id.to_string(), changes }
    }

    fn alias(alias: &Alias, action: &'static str, changes: Changes) -> Self {
        Self {
            account_id: Some(alias.account_id),
            action,
            resource_type: "alias",
            resource_id: alias.id.to_string(),
            changes,
        }
    }
}

/// An alias with the mailbox password it was just given: the only time the password leaves
/// the service.
#[derive(Debug)]
pub struct AliasWithPassword {
    pub alias: Alias,
    pub password: MailboxPassword,
}

/// A successful mailbox authentication.
#[derive(Debug, Clone)]
pub struct MailboxLogin {
    pub alias_id: AliasId,
    pub account_id: AccountId,
    pub address: String,
}

/// The managed-domain catalogue. Any authenticated caller reads it (aliases are created on
/// its domains); only root users holding `domains:write` change it.
#[derive(Clone)]
pub struct DomainService {
    deps: Deps,
}

impl std::fmt::Debug for DomainService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DomainService").finish_non_exhaustive()
    }
}

impl DomainService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, ids: Arc<dyn IdGenerator>) -> Self {
        Self { deps: Deps { store, clock, ids } }
    }

    fn require_root(principal: &Principal) -> Result<(), DomainError> {
        if principal.root_permissions().contains(Permission::DomainsWrite) {
            Ok(())
        } else {
            Err(DomainError::DomainsManagedByRoot)
        }
    }

    /// For a root caller: a transaction and the domain as it is in it, at the version the
    /// caller expects.
    async fn begin_change(
        &self,
        principal: &Principal,
        domain: &DomainRef,
        if_match: &IfMatch,
    ) -> Result<(Box<dyn Transaction>, Domain), DomainError> {
        Self::require_root(principal)?;
        let id = resolve_domain(self.deps.store.as_ref(), domain).await?.ok_or(DomainError::NotFound)?.id;
        let mut tx = self.deps.store.begin().await?;
        let current = tx.find_domain(id).await?.ok_or(DomainError::NotFound)?;
        if !if_match.matches(current.version) {
            return Err(DomainError::VersionMismatch);
        }
        Ok((tx, current))
    }

    pub async fn list(&self, _principal: &Principal, page: PageRequest) -> Result<Page<Domain>, DomainError> {
        Ok(self.deps.store.list_domains(page).await?)
    }

    pub async fn get(&self, _principal: &Principal, domain: &DomainRef) -> Result<Domain, DomainError> {
        resolve_domain(self.deps.store.as_ref(), domain).await?.ok_or(DomainError::NotFound)
    }

    /// Adds a domain, `pending` unless another status is given.
    /// With an idempotency key, a repeat returns the domain the first request created.
    #[instrument(level = "debug", skip_all, fields(domain = %command.name))]
    pub async fn create(
        &self,
        principal: &Principal,
        command: NewDomain,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<Domain>, DomainError> {
        Self::require_root(principal)?;
        let operation = "domain.create";
        let fingerprint = || {
            Fingerprint::new(operation)
                .field("name", Some(&command.name))
                .field("status", Some(command.status.as_str()))
                .finish()
        };
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => {
                let domain = self.deps.store.get_domain(stored_id(&id, DomainId::parse)?).await?;
                return Ok(Created { value: domain.ok_or(DomainError::ReplayedResourceGone)?, replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        let now = self.deps.clock.now();
        let domain = Domain {
            id: DomainId::from_uuid(self.deps.ids.next_id()),
            name: command.name,
            status: command.status,
            version: Version::INITIAL,
            created_at: now,
            updated_at: now,
        };
        tx.insert_domain(&domain).await.map_err(|e| match e {
            InsertDomainError::NameTaken => DomainError::DomainExists(domain.name.clone()),
            InsertDomainError::Unknown(e) => DomainError::Unknown(e),
        })?;
        let entry = AuditEntry::domain(&domain, "domain.create", Changes::created(domain.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        pending.finish(&mut *tx, "domain", domain.id).await?;
        tx.commit().await?;
        Ok(Created { value: domain, replayed: false })
    }

    /// Changes the domain's status (pending, active, disabled).
    pub async fn update_status(
        &self,
        principal: &Principal,
        domain: &DomainRef,
        status: DomainStatus,
        if_match: IfMatch,
    ) -> Result<Domain, DomainError> {
        let (mut tx, current) = self.begin_change(principal, domain, &if_match).await?;
        if current.status == status {
            return Ok(current);
        }
        let now = self.deps.clock.now();
        let next = Domain { status, version: current.version.next(), updated_at: now, ..current.clone() };
        if !tx.update_domain(&next, current.version).await? {
            return Err(DomainError::Conflict);
        }
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        self.deps.record(&mut *tx, principal, AuditEntry::domain(&next, "domain.update", changes), now).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Removes a domain no alias uses.
    pub async fn delete(
        &self,
        principal: &Principal,
        domain: &DomainRef,
        if_match: IfMatch,
    ) -> Result<(), DomainError> {
        let (mut tx, current) = self.begin_change(principal, domain, &if_match).await?;
        match tx.delete_domain(current.id).await? {
            None => return Err(DomainError::DomainInUse(current.name)),
            Some(false) => return Err(DomainError::NotFound),
            Some(true) => {}
        }
        let now = self.deps.clock.now();
        let entry = AuditEntry::domain(&current, "domain.delete", Changes::deleted(current.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// The domain `reference` names, wherever it is read from; `None` when there is none.
async fn resolve_domain(store: &dyn Store, reference: &DomainRef) -> anyhow::Result<Option<Domain>> {
    match reference {
        DomainRef::Id(id) => store.get_domain(*id).await,
        DomainRef::Name(name) => store.find_domain_by_name(name).await,
    }
}

/// Email aliases of accounts (`aliases:read` / `aliases:write` on the account) and mailbox
/// authentication (root `aliases:read`, the mail server's right).
#[derive(Clone)]
pub struct AliasService {
    deps: Deps,
    hasher: Arc<dyn PasswordHasher>,
}

impl std::fmt::Debug for AliasService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AliasService").finish_non_exhaustive()
    }
}

/// A new alias after its domain and user were checked, ready to insert.
pub(crate) struct AliasDraft {
    pub local_part: LocalPart,
    pub domain: Domain,
    pub display_name: Option<crate::DisplayName>,
    pub user_id: Option<UserId>,
    pub is_primary: bool,
}

impl AliasService {
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        hasher: Arc<dyn PasswordHasher>,
    ) -> Self {
        Self { deps: Deps { store, clock, ids }, hasher }
    }

    /// Aliases of one account, filtered by domain and user.
    pub async fn list_for_account(
        &self,
        principal: &Principal,
        account: AccountId,
        domain: Option<&DomainRef>,
        user: Option<UserId>,
        page: PageRequest,
    ) -> Result<Page<Alias>, AliasError> {
        self.deps.authorized_account(principal, account, Permission::AliasesRead).await?;
        let domain = match domain {
            Some(d) => Some(resolve_domain(self.deps.store.as_ref(), d).await?.ok_or(AliasError::NotFound)?.id),
            None => None,
        };
        let filter = AliasFilter { account: Some(account), domain, user, visible_to: None };
        Ok(self.deps.store.list_aliases(&filter, page).await?)
    }

    /// Aliases across every account the caller may read aliases of (all of them for root),
    /// filtered by domain and user (seed 001's listings). A token that narrows its user's
    /// rights can make a page come out short; the cursor still moves past everything read.
    pub async fn list(
        &self,
        principal: &Principal,
        domain: Option<&DomainRef>,
        user: Option<UserId>,
        page: PageRequest,
    ) -> Result<(Option<Domain>, Page<Alias>), AliasError> {
        let domain = match domain {
            Some(d) => Some(resolve_domain(self.deps.store.as_ref(), d).await?.ok_or(AliasError::NotFound)?),
            None => None,
        };
        let root = principal.root_permissions().contains(Permission::AliasesRead);
        let visible_to = if root { None } else { principal.user_id() };
        let filter = AliasFilter { account: None, domain: domain.as_ref().map(|d| d.id), user, visible_to };
        let found = self.deps.store.list_aliases(&filter, page).await?;
        if root {
            return Ok((domain, found));
        }
        let rights = self.deps.all_rights(principal).await?;
        let mut accounts: HashMap<AccountId, bool> = HashMap::new();
        let mut items = Vec::with_capacity(found.items.len());
        for alias in found.items {
            let readable = match accounts.get(&alias.account_id) {
                Some(readable) => *readable,
                None => {
                    let readable = match self.deps.store.get_account(alias.account_id).await? {
                        Some(account) => rights.on(&account).contains(Permission::AliasesRead),
                        None => false,
                    };
                    accounts.insert(alias.account_id, readable);
                    readable
                }
            };
            if readable {
                items.push(alias);
            }
        }
        Ok((domain, Page { items, next: found.next }))
    }

    pub async fn get(&self, principal: &Principal, account: AccountId, id: AliasId) -> Result<Alias, AliasError> {
        self.deps.authorized_account(principal, account, Permission::AliasesRead).await?;
        self.deps.store.get_alias(id).await?.filter(|a| a.account_id == account).ok_or(AliasError::NotFound)
    }

    /// Creates an alias on an active domain with a mailbox password — the one given, or a
    /// generated one — returned here and never again: an idempotent replay returns the alias
    /// the first request created without any password.
    #[instrument(level = "debug", skip_all, fields(account_id = %account))]
    pub async fn create(
        &self,
        principal: &Principal,
        account: AccountId,
        command: NewAlias,
        key: Option<IdempotencyKey>,
    ) -> Result<Created<WithSecret<Alias, MailboxPassword>>, AliasError> {
        self.deps.authorized_account(principal, account, Permission::AliasesWrite).await?;
        let domain = resolve_domain(self.deps.store.as_ref(), &command.domain)
            .await?
            .ok_or_else(|| no_such_domain(&command.domain))?;
        if let Some(user) = command.user_id {
            self.require_member(account, user).await?;
        }
        let operation = "alias.create";
        // A client's password joins only as "given": even a digest of it would be a cheap
        // hash to attack, so a retry that changes only the password replays the first alias.
        let fingerprint = || {
            let domain = match &command.domain {
                DomainRef::Id(id) => format!("id:{id}"),
                DomainRef::Name(name) => format!("name:{name}"),
            };
            Fingerprint::new(operation)
                .field("account", Some(account))
                .field("local_part", Some(command.local_part.as_str()))
                .field("domain", Some(domain))
                .field("display_name", command.display_name.as_ref().map(DisplayName::as_str))
                .field("user", command.user_id)
                .field("password_given", Some(command.password.is_some()))
                .finish()
        };
        let password = command.password.clone().unwrap_or_else(MailboxPassword::generate);
        let hash = self.hasher.hash(&password).await?;
        let (mut tx, pending) = match self.deps.begin_create(principal, key.as_ref(), operation, fingerprint).await? {
            Begun::Replay(id) => {
                let alias = self.deps.store.get_alias(stored_id(&id, AliasId::parse)?).await?;
                let alias = alias.filter(|a| a.account_id == account).ok_or(AliasError::ReplayedResourceGone)?;
                return Ok(Created { value: WithSecret { resource: alias, secret: None }, replayed: true });
            }
            Begun::Fresh(tx, pending) => (tx, pending),
        };
        // Locks the account: its aliases' default flags are decided one creation at a time.
        tx.find_account(account).await?.ok_or(AliasError::NotFound)?;
        // Read again inside the transaction: the domain may have changed during the hash.
        let domain = tx.find_domain(domain.id).await?.ok_or_else(|| no_such_domain(&command.domain))?;
        let draft = AliasDraft {
            local_part: command.local_part,
            domain,
            display_name: command.display_name,
            user_id: command.user_id,
            is_primary: false,
        };
        let now = self.deps.clock.now();
        let alias = insert_alias(&self.deps, &mut *tx, principal, account, draft, Some(&hash), now).await?;
        pending.finish(&mut *tx, "alias", alias.id).await?;
        tx.commit().await?;
        Ok(Created { value: WithSecret { resource: alias, secret: Some(password) }, replayed: false })
    }

    /// `user` must be an accepted member of the account or of an ancestor.
    async fn require_member(&self, account: AccountId, user: UserId) -> Result<(), AliasError> {
        let account = self.deps.store.get_account(account).await?.ok_or(AliasError::NotFound)?;
        let mut path = account.hierarchy.clone();
        path.push(account.id);
        if self.deps.store.member_roles(user, &path).await?.is_empty() {
            return Err(invalid("user_id", "not_member", "the user is not a member of this account").into());
        }
        Ok(())
    }

    /// Changes the display name or the status.
    pub async fn update(
        &self,
        principal: &Principal,
        account: AccountId,
        id: AliasId,
        patch: AliasPatch,
        if_match: IfMatch,
    ) -> Result<Alias, AliasError> {
        self.deps.authorized_account(principal, account, Permission::AliasesWrite).await?;
        let mut tx = self.deps.store.begin().await?;
        let current = find_in(&mut *tx, account, id).await?;
        if !if_match.matches(current.version) {
            return Err(AliasError::VersionMismatch);
        }
        let mut next = current.clone();
        if let Some(display_name) = patch.display_name {
            next.display_name = display_name;
        }
        if let Some(status) = patch.status {
            next.status = status;
        }
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        if changes.is_empty() {
            return Ok(current);
        }
        let now = self.deps.clock.now();
        next.version = current.version.next();
        next.updated_at = now;
        if !tx.update_alias(&next, None, current.version).await? {
            return Err(AliasError::Conflict);
        }
        self.deps.record(&mut *tx, principal, AuditEntry::alias(&next, "alias.update", changes), now).await?;
        tx.commit().await?;
        Ok(next)
    }

    /// Replaces the mailbox password (given or generated); the old one stops working at once.
    pub async fn reset_password(
        &self,
        principal: &Principal,
        account: AccountId,
        id: AliasId,
        password: Option<SecretString>,
        if_match: IfMatch,
    ) -> Result<AliasWithPassword, AliasError> {
        // An empty password, like none, asks for a generated one.
        let password = password
            .filter(|p| !p.expose_secret().is_empty())
            .map(MailboxPassword::parse)
            .transpose()
            .map_err(ValidationErrors::from)?;
        self.deps.authorized_account(principal, account, Permission::AliasesWrite).await?;
        // Checked before the slow hash, which is wasted on an alias that is not there.
        self.deps.store.get_alias(id).await?.filter(|a| a.account_id == account).ok_or(AliasError::NotFound)?;
        let password = password.unwrap_or_else(MailboxPassword::generate);
        let hash = self.hasher.hash(&password).await?;
        let mut tx = self.deps.store.begin().await?;
        let current = find_in(&mut *tx, account, id).await?;
        if !if_match.matches(current.version) {
            return Err(AliasError::VersionMismatch);
        }
        let now = self.deps.clock.now();
        let next = Alias {
            password_changed_at: Some(now),
            version: current.version.next(),
            updated_at: now,
            ..current.clone()
        };
        if !tx.update_alias(&next, Some(&hash), current.version).await? {
            return Err(AliasError::Conflict);
        }
        let changes = Changes::updated(current.snapshot(), next.snapshot());
        self.deps.record(&mut *tx, principal, AuditEntry::alias(&next, "alias.password_reset", changes), now).await?;
        tx.commit().await?;
        Ok(AliasWithPassword { alias: next, password })
    }

    /// Deletes an alias and its mailbox credentials. The primary alias goes only with its
    /// account. When the user's default goes, their oldest remaining alias becomes default.
    pub async fn delete(
        &self,
        principal: &Principal,
        account: AccountId,
        id: AliasId,
        if_match: IfMatch,
    ) -> Result<Alias, AliasError> {
        self.deps.authorized_account(principal, account, Permission::AliasesWrite).await?;
        let mut tx = self.deps.store.begin().await?;
        tx.find_account(account).await?.ok_or(AliasError::NotFound)?;
        let current = find_in(&mut *tx, account, id).await?;
        if !if_match.matches(current.version) {
            return Err(AliasError::VersionMismatch);
        }
        if current.is_primary {
            return Err(AliasError::PrimaryAliasGoesWithAccount);
        }
        if !tx.delete_alias(id).await? {
            return Err(AliasError::Conflict);
        }
        let now = self.deps.clock.now();
        let entry = AuditEntry::alias(&current, "alias.delete", Changes::deleted(current.snapshot()));
        self.deps.record(&mut *tx, principal, entry, now).await?;
        let heir = match (current.is_default, current.user_id) {
            (true, Some(user)) => tx.first_alias_of(account, user, id).await?,
            _ => None,
        };
        if let Some(heir) = heir {
            let next = Alias { is_default: true, version: heir.version.next(), updated_at: now, ..heir.clone() };
            if !tx.update_alias(&next, None, heir.version).await? {
                return Err(AliasError::Conflict);
            }
            let changes = Changes::updated(heir.snapshot(), next.snapshot());
            self.deps.record(&mut *tx, principal, AuditEntry::alias(&next, "alias.update", changes), now).await?;
        }
        tx.commit().await?;
        Ok(current)
    }

    /// Checks a mailbox password for a mail server. Every refusal looks the same (unknown
    /// address, disabled alias or domain, no password, wrong password) and takes as long;
    /// after [`crate::AuthFailures::FREE_ATTEMPTS`] failures an address is locked for a
    /// doubling time, counted in the store (before the check, so parallel guesses count too)
    /// so all instances share it.
    #[instrument(level = "debug", skip_all)]
    pub async fn authenticate_mailbox(
        &self,
        principal: &Principal,
        address: &str,
        password: SecretString,
    ) -> Result<MailboxLogin, AliasError> {
        if !principal.root_permissions().contains(Permission::AliasesRead) {
            return Err(AliasError::MailboxAuthenticationNeedsRoot);
        }
        let address = Address::parse(address, "address").map_err(ValidationErrors::from)?;
        if password.expose_secret().is_empty() {
            return Err(invalid("password", "required", "must be given").into());
        }
        let key = address.to_string();
        self.deps.begin_attempt(&key).await?;
        let mailbox = self.deps.store.find_mailbox(&address.local_part, &address.domain).await?;
        let usable = mailbox.as_ref().filter(|m| {
            m.alias.status == AliasStatus::Active
                && m.domain_status == DomainStatus::Active
                && m.password_hash.is_some()
        });
        let phc = usable.and_then(|m| m.password_hash.as_deref());
        let matched = self.hasher.verify(&password, phc).await?;
        match usable {
            Some(mailbox) if matched => {
                self.deps.forget_attempts(&key).await?;
                Ok(MailboxLogin { alias_id: mailbox.alias.id, account_id: mailbox.alias.account_id, address: key })
            }
            // The attempt was counted before the check.
            _ => Err(AliasError::BadCredentials),
        }
    }
}

/// The field error for a domain that does not exist, naming the field the client used.
fn no_such_domain(domain: &DomainRef) -> AliasError {
    let field = if matches!(domain, DomainRef::Id(_)) { "domain_id" } else { "domain" };
    invalid(field, "not_found", "no such domain").into()
}

/// The alias `id` of `account`, locked.
async fn find_in(tx: &mut dyn Transaction, account: AccountId, id: AliasId) -> Result<Alias, AliasError> {
    tx.find_alias(id).await?.filter(|a| a.account_id == account).ok_or(AliasError::NotFound)
}

/// Inserts an alias of `account` inside `tx`, audited: refused unless the domain is active;
/// the user's first alias in the account becomes their default. Shared by alias creation
/// and account creation (the primary alias).
pub(crate) async fn insert_alias(
    deps: &Deps,
    tx: &mut dyn Transaction,
    principal: &Principal,
    account: AccountId,
    draft: AliasDraft,
    password_hash: Option<&str>,
    now: DateTime<Utc>,
) -> Result<Alias, AliasError> {
    if draft.domain.status != DomainStatus::Active {
        return Err(AliasError::DomainNotActive { domain: draft.domain.name, status: draft.domain.status });
    }
    let is_default = match draft.user_id {
        Some(user) => !tx.has_default_alias(account, user).await?,
        None => false,
    };
    let alias = Alias {
        id: AliasId::from_uuid(deps.ids.next_id()),
        account_id: account,
        user_id: draft.user_id,
        domain_id: draft.domain.id,
        domain: draft.domain.name,
        local_part: draft.local_part,
        display_name: draft.display_name,
        status: AliasStatus::Active,
        is_primary: draft.is_primary,
        is_default,
        password_changed_at: password_hash.map(|_| now),
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    };
    tx.insert_alias(&alias, password_hash).await.map_err(|e| match e {
        InsertAliasError::AddressTaken => AliasError::AddressTaken(alias.address()),
        InsertAliasError::DuplicateFlag => AliasError::Conflict,
        InsertAliasError::DomainMissing => invalid("domain_id", "not_found", "no such domain").into(),
        InsertAliasError::Unknown(e) => AliasError::Unknown(e),
    })?;
    deps.record(tx, principal, AuditEntry::alias(&alias, "alias.create", Changes::created(alias.snapshot())), now)
        .await?;
    Ok(alias)
}

/// The primary alias of a new account: `local_part@domain`, on an active domain, assigned
/// to the owner when there is one.
pub(crate) async fn insert_primary_alias(
    deps: &Deps,
    tx: &mut dyn Transaction,
    principal: &Principal,
    account: &Account,
    local_part: &LocalPart,
    domain: DomainId,
    now: DateTime<Utc>,
) -> Result<Alias, AliasError> {
    let domain = tx.find_domain(domain).await?.ok_or_else(|| invalid("domain_id", "not_found", "no such domain"))?;
    let draft = AliasDraft {
        local_part: local_part.clone(),
        domain,
        display_name: None,
        user_id: account.owner_id,
        is_primary: true,
    };
    insert_alias(deps, tx, principal, account.id, draft, None, now).await
}
