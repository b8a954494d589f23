//! Conformance cases for idempotent creation beyond accounts: every POST create replays
//! its first resource, secrets are not shown again, keys are per caller and per operation,
//! and of concurrent requests with one key exactly one creates.

use std::sync::Arc;

use super::{caller, create};
use crate::{
    DomainError, IdempotencyKey, KeySealer, MemberRef, NewAliasInput, NewDomainInput, NewUser, NewUserInput,
    PageRequest, PermissionSet, Principal, RequestInfo, Role, SealingKey, Services, Store, SubscriptionInput,
    TokenFields, TokenInput, UserError,
};

fn services(store: &Arc<dyn Store>) -> Services {
    Services::with_defaults(store.clone(), Arc::new(KeySealer::new(&SealingKey::generate().expect("randomness"))))
}

fn key(text: &str) -> Option<IdempotencyKey> {
    Some(IdempotencyKey::parse(text).expect("valid key"))
}

fn new_user(email: &str) -> NewUser {
    NewUserInput { email: Some(email.into()), ..Default::default() }.validate("email", false).expect("valid")
}

fn token_fields(name: &str, user: Option<crate::UserId>) -> TokenFields {
    TokenInput { name: Some(name.into()), user_id: user.map(|u| u.to_string()), ..Default::default() }
        .validate()
        .expect("valid")
}

/// A root user with every root permission, and a principal acting through its token.
async fn root_principal(services: &Services, email: &str) -> Principal {
    let mut command = new_user(email);
    command.root_permissions = PermissionSet::all();
    let user = services.users.create(&caller(), command, None).await.expect("root user").value;
    let issued = services.tokens.create_platform(&caller(), user.id, token_fields("t", None), None).await;
    let secret = issued.expect("platform token").value.secret.expect("first creation shows the secret");
    services.authenticator.authenticate(Some(secret.expose()), RequestInfo::default()).await.expect("authenticates")
}

pub async fn an_idempotency_key_replays_each_kind_of_creation(store: Arc<dyn Store>) {
    let s = services(&store);
    let account = create(&store, "Acme", "agency", None).await;
    let ada = s.users.create(&caller(), new_user("ada@example.com"), key("u")).await.expect("user");
    let again = s.users.create(&caller(), new_user("ada@example.com"), key("u")).await.expect("user replay");
    assert_eq!((ada.replayed, again.replayed, &again.value), (false, true, &ada.value));

    let (who, roles) = (|| MemberRef::User(ada.value.id), vec![Role::Viewer]);
    let invited = s.members.add(&caller(), account.id, who(), roles.clone(), key("m")).await.expect("member");
    let again = s.members.add(&caller(), account.id, who(), roles, key("m")).await.expect("member replay");
    assert_eq!((invited.replayed, again.replayed, &again.value), (false, true, &invited.value));

    let added = s.account_users.create(&caller(), account.id, new_user("bo@example.com"), key("au")).await;
    let added = added.expect("account user");
    let again = s.account_users.create(&caller(), account.id, new_user("bo@example.com"), key("au")).await;
    let again = again.expect("account user replay");
    assert_eq!((added.replayed, again.replayed, &again.value), (false, true, &added.value));

    let plan = || SubscriptionInput { rate_plan: Some("pro".into()), ..Default::default() }.validate().expect("v");
    let subscribed = s.subscriptions.create(&caller(), account.id, plan(), key("s")).await.expect("subscription");
    let again = s.subscriptions.create(&caller(), account.id, plan(), key("s")).await.expect("subscription replay");
    assert_eq!((subscribed.replayed, again.replayed, &again.value), (false, true, &subscribed.value));
    let listed = store.list_subscriptions(account.id, PageRequest::first(10)).await.expect("list");
    assert_eq!(listed.items.len(), 1, "one subscription");

    let domain = || {
        NewDomainInput { name: Some("mail.example.com".into()), status: Some("active".into()) }.validate().expect("v")
    };
    let made = s.domains.create(&caller(), domain(), key("d")).await.expect("domain");
    let again = s.domains.create(&caller(), domain(), key("d")).await.expect("domain replay");
    assert_eq!((made.replayed, again.replayed, &again.value), (false, true, &made.value));
    let users = store.list_users(PageRequest::first(10)).await.expect("users");
    assert_eq!(users.items.len(), 2, "ada and bo, once each");
}

pub async fn a_replay_neither_shows_nor_regenerates_a_secret(store: Arc<dyn Store>) {
    let s = services(&store);
    let account = create(&store, "Acme", "standard", None).await;
    let user = s.users.create(&caller(), new_user("ada@example.com"), None).await.expect("user").value;
    let fields = || token_fields("ci", Some(user.id));
    let first = s.tokens.create(&caller(), account.id, fields(), key("t")).await.expect("token");
    let secret = first.value.secret.as_ref().expect("the first answer shows the secret").expose().to_owned();
    let replay = s.tokens.create(&caller(), account.id, fields(), key("t")).await.expect("token replay");
    assert!(replay.replayed && replay.value.secret.is_none(), "a replay shows no secret");
    assert_eq!(replay.value.resource, first.value.resource, "the same token, not a new one");
    let found = s.authenticator.authenticate(Some(&secret), RequestInfo::default()).await;
    assert!(found.is_ok(), "the first secret still works: the replay did not roll it");
    let tokens = store.list_tokens(account.id, None, PageRequest::first(10)).await.expect("tokens");
    assert_eq!(tokens.items.len(), 1);

    let domain =
        NewDomainInput { name: Some("example.com".into()), status: Some("active".into()) }.validate().expect("v");
    s.domains.create(&caller(), domain, None).await.expect("domain");
    let alias = || {
        NewAliasInput {
            local_part: Some("info".into()),
            domain: Some("example.com".into()),
            password: Some(secrecy::SecretString::from("Correct-Horse-9")),
            ..Default::default()
        }
        .validate()
        .expect("v")
    };
    let first = s.aliases.create(&caller(), account.id, alias(), key("a")).await.expect("alias");
    assert!(first.value.secret.is_some());
    let replay = s.aliases.create(&caller(), account.id, alias(), key("a")).await.expect("alias replay");
    assert!(replay.replayed && replay.value.secret.is_none(), "a replay shows no password");
    assert_eq!(replay.value.resource, first.value.resource);
    let login = s
        .aliases
        .authenticate_mailbox(&caller(), "info@example.com", secrecy::SecretString::from("Correct-Horse-9"))
        .await;
    assert!(login.is_ok(), "the first password still works: {login:?}");
}

pub async fn an_idempotency_key_reused_for_another_operation_or_body_is_refused(store: Arc<dyn Store>) {
    let s = services(&store);
    s.users.create(&caller(), new_user("ada@example.com"), key("k")).await.expect("user");
    let other_body = s.users.create(&caller(), new_user("bo@example.com"), key("k")).await;
    assert!(matches!(other_body, Err(UserError::IdempotencyKeyReused)), "{other_body:?}");
    let domain =
        NewDomainInput { name: Some("example.com".into()), status: None }.validate().expect("valid domain input");
    let other_operation = s.domains.create(&caller(), domain, key("k")).await;
    assert!(matches!(other_operation, Err(DomainError::IdempotencyKeyReused)), "{other_operation:?}");
    assert!(store.list_domains(PageRequest::first(10)).await.expect("domains").items.is_empty());
    // A creation that fails leaves its key unclaimed: the key is free for another body.
    let taken = s.users.create(&caller(), new_user("ADA@example.com"), key("k2")).await;
    assert!(matches!(taken, Err(UserError::EmailTaken)), "{taken:?}");
    let fresh = s.users.create(&caller(), new_user("cy@example.com"), key("k2")).await.expect("key is free");
    assert!(!fresh.replayed);
}

pub async fn idempotency_keys_are_per_caller(store: Arc<dyn Store>) {
    let s = services(&store);
    let (ann, bob) = (root_principal(&s, "ann@example.com").await, root_principal(&s, "bob@example.com").await);
    let by_ann = s.users.create(&ann, new_user("x@example.com"), key("same")).await.expect("ann");
    let by_bob = s.users.create(&bob, new_user("y@example.com"), key("same")).await.expect("bob");
    assert!(!by_ann.replayed && !by_bob.replayed, "one caller's key never answers another's request");
    assert_ne!(by_ann.value.id, by_bob.value.id);
}

pub async fn concurrent_token_creations_with_one_key_create_one_token(store: Arc<dyn Store>) {
    let s = services(&store);
    let account = create(&store, "Acme", "standard", None).await;
    let user = s.users.create(&caller(), new_user("ada@example.com"), None).await.expect("user").value;
    let tasks: Vec<_> = (0..8)
        .map(|_| {
            let tokens = s.tokens.clone();
            tokio::spawn(async move {
                tokens.create(&caller(), account.id, token_fields("ci", Some(user.id)), key("race")).await
            })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.expect("task").expect("every request succeeds"));
    }
    let fresh: Vec<_> = results.iter().filter(|r| !r.replayed).collect();
    assert_eq!(fresh.len(), 1, "exactly one request creates");
    assert!(fresh[0].value.secret.is_some());
    assert!(results.iter().filter(|r| r.replayed).all(|r| r.value.secret.is_none()), "replays show no secret");
    assert!(results.iter().all(|r| r.value.resource.id == fresh[0].value.resource.id));
    let tokens = store.list_tokens(account.id, None, PageRequest::first(20)).await.expect("tokens");
    assert_eq!(tokens.items.len(), 1);
}

fn record(scope: &str, key_text: &str, created_at: chrono::DateTime<chrono::Utc>) -> crate::IdempotencyRecord {
    crate::IdempotencyRecord {
        scope: scope.into(),
        key: IdempotencyKey::parse(key_text).expect("valid key"),
        operation: "account.create".into(),
        fingerprint: "f".into(),
        resource_type: "account".into(),
        resource_id: "r".into(),
        created_at,
    }
}

/// Expired records go in bounded batches, in a statement of their own; a claiming
/// transaction deletes nothing, so it holds no lock another caller's claim would wait on.
pub async fn expired_idempotency_keys_are_purged_in_bounded_batches(store: Arc<dyn Store>) {
    let now = chrono::Utc::now();
    let (old, cutoff) = (now - chrono::Duration::days(2), now - chrono::Duration::days(1));
    let mut tx = store.begin().await.expect("begin");
    for (i, at) in [old, old, old, now].into_iter().enumerate() {
        assert!(tx.save_idempotency_record(&record("s", &format!("k{i}"), at), cutoff).await.expect("save"));
    }
    tx.commit().await.expect("commit");
    // A claim by another caller leaves the expired records alone.
    let mut claim = store.begin().await.expect("begin");
    assert!(claim.save_idempotency_record(&record("other", "k", now), cutoff).await.expect("claim"));
    claim.commit().await.expect("commit");
    let mut tx = store.begin().await.expect("begin");
    let left = tx.find_idempotency_record("s", &IdempotencyKey::parse("k0").expect("key"), old).await.expect("find");
    assert!(left.is_some(), "a claim purges nothing");
    drop(tx);

    assert_eq!(store.purge_idempotency_records(cutoff, 2).await.expect("purge"), 2);
    assert_eq!(store.purge_idempotency_records(cutoff, 2).await.expect("purge"), 1);
    assert_eq!(store.purge_idempotency_records(cutoff, 2).await.expect("purge"), 0);
    let mut tx = store.begin().await.expect("begin");
    for (scope, key_text) in [("s", "k3"), ("other", "k")] {
        let key = IdempotencyKey::parse(key_text).expect("key");
        assert!(tx.find_idempotency_record(scope, &key, cutoff).await.expect("find").is_some(), "{key_text} is fresh");
    }
}
