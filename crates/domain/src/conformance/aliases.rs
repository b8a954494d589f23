//! Conformance cases for domains, aliases and mailbox authentication.

use std::sync::Arc;

use chrono::{Duration, Utc};
use secrecy::SecretString;

use super::{caller, create, service};
use crate::{
    AccountId, AliasError, AliasFilter, AliasPatchInput, AliasService, AliasWithPassword, Argon2idHasher,
    CreateAccountError, Domain, DomainError, DomainName, DomainRef, DomainService, DomainStatus, IfMatch, LocalPart,
    NewAccountInput, NewAlias, NewAliasInput, NewDomain, PageRequest, Principal, Store, SystemClock, UuidV7Generator,
};

fn domains(store: &Arc<dyn Store>) -> Domains {
    Domains(DomainService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator)))
}

fn aliases(store: &Arc<dyn Store>) -> Aliases {
    Aliases(AliasService::new(
        store.clone(),
        Arc::new(SystemClock),
        Arc::new(UuidV7Generator),
        Arc::new(Argon2idHasher),
    ))
}

/// The domain service, creating without an idempotency key (those cases are in
/// `conformance::idempotency`).
struct Domains(DomainService);

impl std::ops::Deref for Domains {
    type Target = DomainService;
    fn deref(&self) -> &DomainService {
        &self.0
    }
}

impl Domains {
    async fn create(&self, principal: &Principal, command: NewDomain) -> Result<Domain, DomainError> {
        Ok(self.0.create(principal, command, None).await?.value)
    }
}

/// The alias service, creating without an idempotency key: a first creation always shows
/// its password.
struct Aliases(AliasService);

impl std::ops::Deref for Aliases {
    type Target = AliasService;
    fn deref(&self) -> &AliasService {
        &self.0
    }
}

impl Aliases {
    async fn create(
        &self,
        principal: &Principal,
        account: AccountId,
        command: NewAlias,
    ) -> Result<AliasWithPassword, AliasError> {
        let created = self.0.create(principal, account, command, None).await?.value;
        let password = created.secret.expect("a first creation shows its password");
        Ok(AliasWithPassword { alias: created.resource, password })
    }
}

async fn domain(store: &Arc<dyn Store>, name: &str, status: DomainStatus) -> Domain {
    let command = crate::NewDomain { name: DomainName::parse(name).expect("valid"), status };
    domains(store).create(&caller(), command).await.expect("create domain")
}

fn new_alias(local_part: &str, domain: &str, password: Option<&str>) -> crate::NewAlias {
    NewAliasInput {
        local_part: Some(local_part.into()),
        domain: Some(domain.into()),
        password: password.map(|p| SecretString::from(p.to_owned())),
        ..Default::default()
    }
    .validate()
    .expect("valid alias")
}

fn first_page() -> PageRequest {
    PageRequest::parse(None, None).expect("valid")
}

pub async fn aliases_round_trip_list_by_filter_and_keep_the_password_out(store: Arc<dyn Store>) {
    let d = domain(&store, "Mail.Example.com", DomainStatus::Active).await;
    let other = domain(&store, "other.example.com", DomainStatus::Active).await;
    assert_eq!(store.get_domain(d.id).await.expect("get"), Some(d.clone()));
    let by_name = store.find_domain_by_name(&DomainName::parse("mail.example.com").expect("v")).await.expect("find");
    assert_eq!(by_name, Some(d.clone()));
    let account = create(&store, "Acme", "standard", None).await;
    let created = aliases(&store)
        .create(&caller(), account.id, new_alias("Billing", "mail.example.com", None))
        .await
        .expect("create alias");
    let alias = created.alias;
    assert_eq!(alias.address(), "billing@mail.example.com");
    assert!(alias.has_password() && !alias.is_primary && !alias.is_default);
    assert_eq!(store.get_alias(alias.id).await.expect("get"), Some(alias.clone()), "every field as written");
    aliases(&store).create(&caller(), account.id, new_alias("support", "other.example.com", None)).await.expect("2nd");
    let all = store
        .list_aliases(&AliasFilter { account: Some(account.id), ..Default::default() }, first_page())
        .await
        .expect("list");
    assert_eq!(all.items.len(), 2);
    let on_domain = store
        .list_aliases(&AliasFilter { domain: Some(other.id), ..Default::default() }, first_page())
        .await
        .expect("list");
    assert_eq!(on_domain.items.iter().map(|a| a.address()).collect::<Vec<_>>(), ["support@other.example.com"]);
    let mailbox =
        store.find_mailbox(&LocalPart::parse("billing").expect("v"), &d.name).await.expect("mailbox").expect("found");
    let hash = mailbox.password_hash.expect("hash");
    assert!(hash.starts_with("$argon2id$"), "the stored password is an argon2id PHC string");
    assert!(!hash.contains(created.password.expose()));
    assert_eq!(mailbox.domain_status, DomainStatus::Active);
    assert_eq!(mailbox.alias, alias);
}

pub async fn an_address_is_unique_ignoring_case_even_under_concurrency(store: Arc<dyn Store>) {
    domain(&store, "example.org", DomainStatus::Active).await;
    let account = create(&store, "Acme", "standard", None).await;
    aliases(&store).create(&caller(), account.id, new_alias("sales", "example.org", None)).await.expect("first");
    let again = aliases(&store).create(&caller(), account.id, new_alias("SALES", "EXAMPLE.org", None)).await;
    assert!(matches!(&again, Err(AliasError::AddressTaken(a)) if a == "sales@example.org"), "{again:?}");
    let tasks: Vec<_> = (0..16)
        .map(|_| {
            let service = aliases(&store);
            tokio::spawn(
                async move { service.create(&caller(), account.id, new_alias("race", "example.org", None)).await },
            )
        })
        .collect();
    let mut won = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(_) => won += 1,
            Err(AliasError::AddressTaken(_)) => {}
            Err(other) => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(won, 1, "exactly one concurrent creation wins");
}

pub async fn aliases_need_an_active_domain_and_a_member_user(store: Arc<dyn Store>) {
    let account = create(&store, "Acme", "standard", None).await;
    domain(&store, "pending.example", DomainStatus::Pending).await;
    let refused = aliases(&store).create(&caller(), account.id, new_alias("a", "pending.example", None)).await;
    assert!(
        matches!(&refused, Err(AliasError::DomainNotActive { domain, status: DomainStatus::Pending })
            if domain.as_str() == "pending.example"),
        "{refused:?}"
    );
    let unknown = aliases(&store).create(&caller(), account.id, new_alias("a", "nowhere.example", None)).await;
    assert!(matches!(&unknown, Err(AliasError::Invalid(e)) if e.mentions("domain")), "{unknown:?}");
    domain(&store, "active.example", DomainStatus::Active).await;
    let stranger = super::identity::user(&store, "stranger@example.com").await;
    let command = NewAliasInput {
        local_part: Some("x".into()),
        domain: Some("active.example".into()),
        user_id: Some(stranger.id.to_string()),
        ..Default::default()
    }
    .validate()
    .expect("valid");
    let err = aliases(&store).create(&caller(), account.id, command).await;
    assert!(matches!(&err, Err(AliasError::Invalid(e)) if e.mentions("user_id")), "{err:?}");
    let listed = store.list_aliases(&AliasFilter::default(), first_page()).await.expect("list");
    assert!(listed.items.is_empty(), "nothing was written by the refusals");
}

pub async fn a_users_first_alias_is_the_default_and_the_next_inherits_it(store: Arc<dyn Store>) {
    use crate::Role;
    domain(&store, "example.net", DomainStatus::Active).await;
    let account = create(&store, "Acme", "standard", None).await;
    let ada = super::identity::user(&store, "ada@example.com").await;
    super::identity::member(&store, &account, &ada, &[Role::Member]).await;
    let mk = |local: &str| NewAliasInput {
        local_part: Some(local.into()),
        domain: Some("example.net".into()),
        user_id: Some(ada.id.to_string()),
        ..Default::default()
    };
    let service = aliases(&store);
    let first = service.create(&caller(), account.id, mk("ada").validate().expect("v")).await.expect("first").alias;
    let second = service.create(&caller(), account.id, mk("a.l").validate().expect("v")).await.expect("2nd").alias;
    assert!(first.is_default && !second.is_default);
    let mine = store
        .list_aliases(&AliasFilter { user: Some(ada.id), ..Default::default() }, first_page())
        .await
        .expect("list");
    assert_eq!(mine.items.len(), 2);
    service.delete(&caller(), account.id, first.id, IfMatch::Any).await.expect("delete");
    let heir = store.get_alias(second.id).await.expect("get").expect("still there");
    assert!(heir.is_default && heir.version > second.version, "the remaining alias became the default");
}

pub async fn updates_and_password_resets_are_versioned_and_the_old_password_stops_working(store: Arc<dyn Store>) {
    domain(&store, "example.com", DomainStatus::Active).await;
    let account = create(&store, "Acme", "standard", None).await;
    let service = aliases(&store);
    let created = service
        .create(&caller(), account.id, new_alias("info", "example.com", Some("Correct-Horse-9")))
        .await
        .expect("create");
    assert_eq!(created.password.expose(), "Correct-Horse-9");
    let login = |password: &str| {
        let service = service.clone();
        let password = SecretString::from(password.to_owned());
        async move { service.authenticate_mailbox(&caller(), "INFO@example.com", password).await }
    };
    assert_eq!(login("Correct-Horse-9").await.expect("ok").alias_id, created.alias.id);
    let patch = AliasPatchInput { display_name: Some("Info desk".into()), status: None }.validate().expect("v");
    let updated = service.update(&caller(), account.id, created.alias.id, patch, IfMatch::Any).await.expect("update");
    assert_eq!(updated.version, created.alias.version.next());
    let stale = IfMatch::Versions(vec![created.alias.version]);
    let reset = service.reset_password(&caller(), account.id, created.alias.id, None, stale).await;
    assert!(matches!(reset, Err(AliasError::VersionMismatch)), "{reset:?}");
    let reset =
        service.reset_password(&caller(), account.id, created.alias.id, None, IfMatch::Any).await.expect("reset");
    assert_ne!(reset.password.expose(), "Correct-Horse-9");
    assert!(matches!(login("Correct-Horse-9").await, Err(AliasError::BadCredentials)));
    login(reset.password.expose()).await.expect("the new password works");
    let patch = AliasPatchInput { display_name: None, status: Some("disabled".into()) }.validate().expect("v");
    service.update(&caller(), account.id, created.alias.id, patch, IfMatch::Any).await.expect("disable");
    assert!(matches!(login(reset.password.expose()).await, Err(AliasError::BadCredentials)), "disabled refuses");
}

pub async fn mailbox_failures_are_counted_atomically_and_lock_the_address(store: Arc<dyn Store>) {
    let now = Utc::now();
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let store = store.clone();
            tokio::spawn(async move { store.record_auth_failure("x@example.com", now, now - Duration::hours(1)).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task").expect("record");
    }
    let failures = store.auth_failures("x@example.com").await.expect("read").expect("some");
    assert_eq!(failures.count, 6, "concurrent failures are all counted");
    assert!(failures.retry_after(now).is_some(), "six failures lock the address");
    let later = now + Duration::hours(2);
    let fresh = store.record_auth_failure("x@example.com", later, later - Duration::hours(1)).await.expect("r");
    assert_eq!(fresh.count, 1, "an old streak starts over");
    store.clear_auth_failures("x@example.com").await.expect("clear");
    assert_eq!(store.auth_failures("x@example.com").await.expect("read"), None);
    // Ended streaks of other addresses are pruned when a new streak starts.
    store.record_auth_failure("old@example.com", now, now - Duration::hours(1)).await.expect("old");
    store.record_auth_failure("new@example.com", later, later - Duration::hours(1)).await.expect("new");
    assert_eq!(store.auth_failures("old@example.com").await.expect("read"), None, "an ended streak is pruned");
    assert_eq!(store.auth_failures("new@example.com").await.expect("read").map(|f| f.count), Some(1));
    let service = aliases(&store);
    for _ in 0..5 {
        let err = service
            .authenticate_mailbox(&caller(), "ghost@nowhere.example", SecretString::from("Wrong-Pass-123".to_owned()))
            .await;
        assert!(matches!(err, Err(AliasError::BadCredentials)), "{err:?}");
    }
    let err = service
        .authenticate_mailbox(&caller(), "ghost@nowhere.example", SecretString::from("Wrong-Pass-123".to_owned()))
        .await;
    assert!(matches!(err, Err(AliasError::Throttled { retry_after_secs: 1.. })), "{err:?}");
}

pub async fn an_account_with_a_refused_primary_alias_is_not_created(store: Arc<dyn Store>) {
    let active = domain(&store, "example.com", DomainStatus::Active).await;
    let pending = domain(&store, "pending.example.com", DomainStatus::Pending).await;
    let with_alias = |name: &str, local: &str, domain: &Domain| {
        NewAccountInput {
            name: Some(name.into()),
            local_part: Some(local.into()),
            domain_id: Some(domain.id.to_string()),
            ..Default::default()
        }
        .validate()
        .expect("valid")
    };
    let accounts = service(&store);
    let created = accounts.create(&caller(), with_alias("First", "hello", &active), None).await.expect("create").value;
    let primary = created.primary_alias.expect("primary alias");
    assert!(primary.is_primary && primary.account_id == created.account.id);
    assert_eq!(store.find_primary_alias(created.account.id).await.expect("find"), Some(primary.clone()));
    let taken = accounts.create(&caller(), with_alias("Second", "HELLO", &active), None).await;
    assert!(matches!(&taken, Err(CreateAccountError::PrimaryAlias(AliasError::AddressTaken(_)))), "{taken:?}");
    let inactive = accounts.create(&caller(), with_alias("Third", "other", &pending), None).await;
    assert!(
        matches!(
            &inactive,
            Err(CreateAccountError::PrimaryAlias(AliasError::DomainNotActive { status: DomainStatus::Pending, .. }))
        ),
        "{inactive:?}"
    );
    let listed = store.list_accounts(first_page()).await.expect("list");
    assert_eq!(listed.items.len(), 1, "no account was left behind by the refused creations");
    // Deleting the account takes its aliases and their credentials with it.
    let mailbox = LocalPart::parse("hello").expect("v");
    accounts.delete(&caller(), created.account.id, IfMatch::Any).await.expect("delete");
    assert_eq!(store.get_alias(primary.id).await.expect("get"), None);
    assert!(store.find_mailbox(&mailbox, &active.name).await.expect("find").is_none());
    let trail = super::events(&store, created.account.id).await;
    assert!(trail.iter().any(|e| e.action == "alias.create"), "the audit trail outlives the aliases");
    // The domain is free to go once nothing uses it.
    domains(&store).delete(&caller(), &DomainRef::Id(active.id), IfMatch::Any).await.expect("delete domain");
}

pub async fn a_domain_in_use_cannot_be_deleted(store: Arc<dyn Store>) {
    let d = domain(&store, "example.com", DomainStatus::Active).await;
    let account = create(&store, "Acme", "standard", None).await;
    aliases(&store).create(&caller(), account.id, new_alias("a", "example.com", None)).await.expect("alias");
    let err = domains(&store).delete(&caller(), &DomainRef::Id(d.id), IfMatch::Any).await;
    assert!(matches!(&err, Err(DomainError::DomainInUse(name)) if *name == d.name), "{err:?}");
    assert!(store.get_domain(d.id).await.expect("get").is_some());
    let name = DomainRef::Name(d.name.clone());
    let disabled = domains(&store)
        .update_status(&caller(), &name, DomainStatus::Disabled, IfMatch::Versions(vec![d.version]))
        .await
        .expect("disable");
    assert_eq!((disabled.status, disabled.version), (DomainStatus::Disabled, d.version.next()));
    let command = crate::NewDomainInput { name: Some("EXAMPLE.com".into()), status: None }.validate().expect("v");
    let dup = domains(&store).create(&caller(), command).await;
    assert!(matches!(&dup, Err(DomainError::DomainExists(name)) if *name == d.name), "{dup:?}");
}

pub async fn parallel_guesses_get_no_more_than_the_free_attempts(store: Arc<dyn Store>) {
    domain(&store, "example.com", DomainStatus::Active).await;
    let account = create(&store, "Acme", "standard", None).await;
    aliases(&store)
        .create(&caller(), account.id, new_alias("info", "example.com", Some("Correct-Horse-9")))
        .await
        .expect("alias");
    let tasks: Vec<_> = (0..12)
        .map(|i| {
            let service = aliases(&store);
            tokio::spawn(async move {
                let guess = SecretString::from(format!("Wrong-Horse-{i}"));
                service.authenticate_mailbox(&caller(), "info@example.com", guess).await
            })
        })
        .collect();
    let (mut checked, mut throttled) = (0, 0);
    for task in tasks {
        match task.await.expect("task") {
            Err(AliasError::BadCredentials) => checked += 1,
            Err(AliasError::Throttled { .. }) => throttled += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert!(checked <= crate::AuthFailures::FREE_ATTEMPTS, "{checked} guesses were checked");
    assert_eq!(checked + throttled, 12);
}

pub async fn concurrent_idempotent_creations_with_a_primary_alias_replay_the_first(store: Arc<dyn Store>) {
    let d = domain(&store, "example.com", DomainStatus::Active).await;
    let command = || {
        NewAccountInput {
            name: Some("Once".into()),
            local_part: Some("once".into()),
            domain_id: Some(d.id.to_string()),
            ..Default::default()
        }
        .validate()
        .expect("valid")
    };
    let tasks: Vec<_> = (0..6)
        .map(|_| {
            let (accounts, command) = (service(&store), command());
            let key = crate::IdempotencyKey::parse("alias-race").expect("key");
            tokio::spawn(async move { accounts.create(&caller(), command, Some(key)).await })
        })
        .collect();
    let mut ids = Vec::new();
    for task in tasks {
        let created = task.await.expect("task").expect("created or replayed");
        assert!(created.value.primary_alias.is_some(), "a replay returns the primary alias too");
        ids.push(created.value.account.id);
    }
    ids.dedup();
    assert_eq!(ids.len(), 1, "one account for one key");
    assert_eq!(store.list_accounts(first_page()).await.expect("list").items.len(), 1);
}
