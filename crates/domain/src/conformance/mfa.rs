//! Conformance cases of the MFA and account-users ports ([`crate::MfaRepository`],
//! [`crate::MfaWrites`]).

use std::sync::Arc;

use chrono::Duration;

use super::{create, identity};
use crate::{
    Account, AccountId, Clock, Factor, FactorId, FactorStatus, IdGenerator, NewAccountInput, PageRequest, PageSize,
    Role, SealedSecret, Store, SystemClock, UserId, UuidV7Generator,
};

pub(super) fn factor(user: UserId, status: FactorStatus) -> Factor {
    Factor {
        id: FactorId::from_uuid(UuidV7Generator.next_id()),
        user_id: user,
        status,
        secret: SealedSecret(vec![1, 0, 255, 7, 42]),
        last_used_step: None,
        created_at: SystemClock.now(),
        activated_at: None,
    }
}

pub(super) async fn insert(store: &Arc<dyn Store>, factor: &Factor) {
    let mut tx = store.begin().await.expect("begin");
    tx.insert_factor(factor).await.expect("insert factor");
    tx.commit().await.expect("commit");
}

pub(super) async fn enforcing(
    store: &Arc<dyn Store>,
    name: &str,
    account_type: &str,
    parent: Option<AccountId>,
) -> Account {
    let command = NewAccountInput {
        name: Some(name.into()),
        account_type: Some(account_type.into()),
        parent_id: parent.map(|p| p.to_string()),
        enforce_twofactor: Some(true),
        ..Default::default()
    }
    .validate()
    .expect("valid");
    super::service(store).create(&super::caller(), command, None).await.expect("create").value.account
}

pub async fn factors_round_trip_and_a_time_step_is_accepted_once(store: Arc<dyn Store>) {
    let ada = identity::user(&store, "ada@example.com").await;
    let pending = factor(ada.id, FactorStatus::Pending);
    insert(&store, &pending).await;
    assert_eq!(store.list_factors(ada.id).await.expect("list"), vec![pending.clone()]);
    assert!(!store.has_active_factor(ada.id).await.expect("active?"), "a pending factor is not active");

    let at = SystemClock.now();
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.find_factor(pending.id).await.expect("find"), Some(pending.clone()));
    assert!(tx.record_factor_use(pending.id, 100, at).await.expect("use"), "the first use of a step");
    assert!(!tx.record_factor_use(pending.id, 100, at).await.expect("use"), "the same step again");
    assert!(!tx.record_factor_use(pending.id, 99, at).await.expect("use"), "an earlier step");
    tx.commit().await.expect("commit");
    let active = store.list_factors(ada.id).await.expect("list").remove(0);
    assert_eq!(
        (active.status, active.last_used_step, active.activated_at),
        (FactorStatus::Active, Some(100), Some(at))
    );
    assert_eq!(active.secret, pending.secret, "the sealed secret reads back byte for byte");
    assert!(store.has_active_factor(ada.id).await.expect("active?"));

    // A later step is accepted; the activation time stays the first one.
    let later = at + Duration::seconds(30);
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.record_factor_use(pending.id, 101, later).await.expect("use"));
    tx.commit().await.expect("commit");
    let used = store.list_factors(ada.id).await.expect("list").remove(0);
    assert_eq!((used.last_used_step, used.activated_at), (Some(101), Some(at)));

    // An uncommitted use leaves nothing.
    let mut tx = store.begin().await.expect("begin");
    assert!(tx.record_factor_use(pending.id, 500, later).await.expect("use"));
    drop(tx);
    assert_eq!(store.list_factors(ada.id).await.expect("list")[0].last_used_step, Some(101));

    let mut tx = store.begin().await.expect("begin");
    assert!(!tx.record_factor_use(FactorId::from_uuid(UuidV7Generator.next_id()), 1, later).await.expect("gone"));
    tx.commit().await.expect("commit");
}

pub async fn factors_are_deleted_one_by_one_or_all_of_a_user(store: Arc<dyn Store>) {
    let ada = identity::user(&store, "ada@example.com").await;
    let bob = identity::user(&store, "bob@example.com").await;
    let (a1, a2, b1) = (
        factor(ada.id, FactorStatus::Active),
        factor(ada.id, FactorStatus::Pending),
        factor(bob.id, FactorStatus::Active),
    );
    for f in [&a1, &a2, &b1] {
        insert(&store, f).await;
    }
    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.factors_of(ada.id).await.expect("of").iter().map(|f| f.id).collect::<Vec<_>>(), [a1.id, a2.id]);
    assert!(tx.delete_factor(a1.id).await.expect("delete"));
    assert!(!tx.delete_factor(a1.id).await.expect("delete again"));
    tx.commit().await.expect("commit");
    assert_eq!(store.list_factors(ada.id).await.expect("list"), vec![a2.clone()]);

    let mut tx = store.begin().await.expect("begin");
    assert_eq!(tx.delete_factors_of(ada.id).await.expect("delete all"), 1);
    assert_eq!(tx.delete_factors_of(ada.id).await.expect("none left"), 0);
    tx.commit().await.expect("commit");
    assert!(store.list_factors(ada.id).await.expect("list").is_empty());
    assert_eq!(store.list_factors(bob.id).await.expect("bob's stay"), vec![b1]);
}

pub async fn two_factor_enforcement_is_found_at_above_and_below_memberships(store: Arc<dyn Store>) {
    let top = enforcing(&store, "Top", "enterprise", None).await;
    let agency = create(&store, "Agency", "agency", Some(top.id)).await;
    let child = enforcing(&store, "Child", "ad_account", Some(agency.id)).await;
    let sibling = create(&store, "Sibling", "agency", None).await;
    let elsewhere = enforcing(&store, "Elsewhere", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    assert!(store.twofactor_enforced_near(ada.id).await.expect("near").is_empty(), "no memberships, nothing");
    identity::member(&store, &agency, &ada, &[Role::Viewer]).await;
    identity::member(&store, &sibling, &ada, &[Role::Viewer]).await;
    let mut near = store.twofactor_enforced_near(ada.id).await.expect("near");
    near.sort();
    let mut expected = vec![top.id, child.id];
    expected.sort();
    assert_eq!(near, expected, "the ancestor and the descendant, not the unrelated account");
    assert!(!near.contains(&elsewhere.id));

    // An invitation is no membership.
    let bob = identity::user(&store, "bob@example.com").await;
    identity::invite(&store, elsewhere.id, bob.id, Role::Viewer).await;
    assert!(store.twofactor_enforced_near(bob.id).await.expect("near").is_empty());
}

pub async fn account_users_join_membership_user_and_mfa_state(store: Arc<dyn Store>) {
    let account = create(&store, "Acme", "standard", None).await;
    let other = create(&store, "Other", "standard", None).await;
    let mut users = Vec::new();
    for i in 0..3 {
        let user = identity::user(&store, &format!("u{i}@example.com")).await;
        identity::member(&store, &account, &user, &[Role::Billing, Role::Viewer]).await;
        users.push(user);
    }
    identity::member(&store, &other, &users[0], &[Role::Administrator]).await;
    insert(&store, &factor(users[1].id, FactorStatus::Active)).await;
    insert(&store, &factor(users[2].id, FactorStatus::Pending)).await;

    let one = store.get_account_user(account.id, users[1].id).await.expect("get").expect("a member");
    assert_eq!(
        (one.user.clone(), one.member.roles.clone(), one.mfa_enabled),
        (users[1].clone(), vec![Role::Billing, Role::Viewer], true)
    );
    assert_eq!(one.member, store.get_member(account.id, users[1].id).await.expect("member").expect("m"));
    assert!(store.get_account_user(other.id, users[1].id).await.expect("get").is_none(), "not a member there");

    let first =
        store.list_account_users(account.id, PageRequest::parse(Some(2), None).expect("v")).await.expect("list");
    let rest = store
        .list_account_users(account.id, PageRequest { size: PageSize::parse(Some(2)).expect("v"), after: first.next })
        .await
        .expect("list");
    let listed: Vec<(UserId, bool)> =
        first.items.iter().chain(rest.items.iter()).map(|u| (u.user.id, u.mfa_enabled)).collect();
    assert_eq!(listed, [(users[0].id, false), (users[1].id, true), (users[2].id, false)]);
    assert_eq!(rest.next, None);
    let theirs = store.list_account_users(other.id, PageRequest::first(10)).await.expect("list");
    assert_eq!(theirs.items.iter().map(|u| u.member.roles.clone()).collect::<Vec<_>>(), [vec![Role::Administrator]]);
}

pub async fn of_concurrent_checks_of_one_code_exactly_one_is_accepted(store: Arc<dyn Store>) {
    use crate::RequestInfo;
    use crate::{Authenticator, MfaError, MfaService};
    use crate::{KeySealer, SealingKey, TotpCode, TotpSecret};

    let account = create(&store, "Acme", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &account, &ada, &[Role::Member]).await;
    let issued = identity::token(&store, &account, &ada).await;
    let authenticator = Authenticator::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    let principal =
        authenticator.authenticate(Some(issued.secret.expose()), RequestInfo::default()).await.expect("authenticated");
    let sealer = Arc::new(KeySealer::new(&SealingKey::generate().expect("key")));
    let mfa = MfaService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator), sealer);
    let enrolment = mfa.enroll_totp(&principal, None, None).await.expect("enrol").value;
    let setup = enrolment.secret.as_ref().expect("a first enrolment shows its secret");
    let secret = TotpSecret::from_base32(secrecy::ExposeSecret::expose_secret(&setup.secret)).expect("base32");
    let now = SystemClock.now();
    let code = |at| TotpCode::parse(&secret.code_at(at)).expect("six digits");
    mfa.activate_totp(&principal, Some(enrolment.resource.id), code(now)).await.expect("activate");

    let next = code(now + Duration::seconds(30));
    // Five at once: every attempt is counted before its code is checked and five are free,
    // so a sixth could meet the throttle instead of the spent code.
    let tasks: Vec<_> = (0..5)
        .map(|_| {
            let (mfa, principal, next) = (mfa.clone(), principal.clone(), next.clone());
            tokio::spawn(async move { mfa.verify_totp(&principal, next).await })
        })
        .collect();
    let mut accepted = 0;
    for task in tasks {
        match task.await.expect("task") {
            Ok(id) => {
                assert_eq!(id, enrolment.resource.id);
                accepted += 1;
            }
            Err(MfaError::CodeReplayed(e)) => assert_eq!(e.fields()[0].code, "replayed", "{e}"),
            Err(e) => panic!("unexpected {e:?}"),
        }
    }
    assert_eq!(accepted, 1, "a code is accepted exactly once");
}
