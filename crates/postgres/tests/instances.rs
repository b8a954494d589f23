//! Two stores on one PostgreSQL schema, as two accountd instances have: a change committed
//! through one is dropped from the other's decision cache within the bound (1 s), and a
//! store whose listener is cut off stops using its cache until it hears again.

use std::sync::Arc;
use std::time::{Duration, Instant};

use accountd_domain::{
    AuthError, EmailAddress, KeySealer, NewAccountInput, NewUserInput, Principal, RequestInfo, Role, SealingKey,
    Services, Store, TokenInput,
};
use accountd_postgres::{PgStore, PoolConfig};

/// The bound docs/ARCHITECTURE.md promises for a change to reach every instance.
const BOUND: Duration = Duration::from_secs(1);

async fn instance(options: &sqlx::postgres::PgConnectOptions) -> (PgStore, Services) {
    let store = PgStore::connect_with(options.clone(), PoolConfig { max_connections: 4, ..PoolConfig::DEFAULT })
        .await
        .expect("connect");
    store.migrate().await.expect("migrate");
    let sealer = Arc::new(KeySealer::new(&SealingKey::generate().expect("randomness")));
    let services = Services::with_defaults(Arc::new(store.clone()), sealer);
    (store, services)
}

async fn until(what: &str, limit: Duration, mut done: impl AsyncFnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

/// Two instances on a fresh schema, once the second hears the first: instance a's
/// services, and b's store and services.
async fn two_instances() -> (Services, PgStore, Services) {
    let options = accountd_postgres::testing::fresh_schema().await;
    let (_a_store, a) = instance(&options).await;
    let (b_store, b) = instance(&options).await;
    until("b hears the others", Duration::from_secs(5), async || b_store.changes().decisions().stats().enabled).await;
    (a, b_store, b)
}

/// An account made through `a`, with ada as an accepted member holding `role`.
async fn shared_member(a: &Services, role: Role) -> (accountd_domain::Account, accountd_domain::User) {
    let account = NewAccountInput { name: Some("Shared".into()), ..Default::default() }.validate().expect("valid");
    let account = a.accounts.create(&system(), account, None).await.expect("create").value.account;
    let user = NewUserInput { email: Some("ada@example.com".into()), ..Default::default() }
        .validate("email", false)
        .expect("valid");
    let ada = a.users.create(&system(), user, None).await.expect("user").value;
    a.members.put(&system(), account.id, ada.id, vec![role]).await.expect("member");
    (account, ada)
}

fn system() -> Principal {
    Principal::system(RequestInfo::default())
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_refused_by_the_other_within_the_bound() {
    let (a, b_store, b) = two_instances().await;
    let (account, ada) = shared_member(&a, Role::Member).await;

    let mut waits = Vec::new();
    for _ in 0..10 {
        let fields = TokenInput { name: Some("t".into()), user_id: Some(ada.id.to_string()), ..Default::default() };
        let made = a.tokens.create(&system(), account.id, fields.validate().expect("valid"), None).await;
        let made = made.expect("token").value;
        let secret = made.secret.expect("shown once").expose().to_owned();
        let authenticate = || b.authenticator.authenticate(Some(&secret), RequestInfo::default());
        authenticate().await.expect("b knows the token");
        let hits = b_store.changes().decisions().stats().hits;
        authenticate().await.expect("and serves it from its cache");
        assert!(b_store.changes().decisions().stats().hits > hits, "the second use was a cache hit");

        a.tokens.delete(&system(), account.id, made.resource.id).await.expect("revoke on a");
        waits.push(
            until("b refuses the revoked token", BOUND, async || authenticate().await == Err(AuthError::Unknown)).await,
        );
    }
    waits.sort();
    println!("revocation reached the other instance in {:?} (median) and {:?} (slowest of 10)", waits[5], waits[9]);
}

#[tokio::test]
async fn a_role_change_and_a_removal_on_one_instance_decide_on_the_other_within_the_bound() {
    let (a, _b_store, b) = two_instances().await;
    let root = b.users.bootstrap(&system(), EmailAddress::parse("root@example.com").expect("valid")).await;
    let root = root.expect("bootstrap");
    let root = b.authenticator.authenticate(Some(root.secret.expose()), RequestInfo::default()).await.expect("root");
    let (account, ada) = shared_member(&a, Role::Administrator).await;
    let ask = |permission: &str| {
        let request = accountd_domain::AuthorizeInput {
            user_id: Some(ada.id.to_string()),
            checks: vec![accountd_domain::CheckInput {
                account_id: account.id.to_string(),
                permission: permission.into(),
            }],
            ..Default::default()
        };
        let root = root.clone();
        let b = b.clone();
        async move {
            match b.authorization.check(&root, request.validate().expect("valid")).await.expect("decided") {
                accountd_domain::Decision::Active { results, .. } => results[0].reason,
                other => panic!("{other:?}"),
            }
        }
    };
    use accountd_domain::CheckReason::{Forbidden, Granted, NotFound};
    assert_eq!(ask("members:write").await, Granted);

    a.members.put(&system(), account.id, ada.id, vec![Role::Viewer]).await.expect("demote on a");
    let demoted = until("b decides on the demotion", BOUND, async || ask("members:write").await == Forbidden).await;
    assert_eq!(ask("accounts:read").await, Granted);
    a.members.delete(&system(), account.id, ada.id).await.expect("remove on a");
    let removed = until("b decides on the removal", BOUND, async || ask("accounts:read").await == NotFound).await;
    println!("role change seen by the other instance after {demoted:?}, removal after {removed:?}");
}

#[tokio::test]
async fn a_store_that_stops_hearing_the_others_stops_caching_until_it_hears_again() {
    let options = accountd_postgres::testing::fresh_schema().await;
    let (store, services) = instance(&options).await;
    let cache = || store.changes().decisions().stats();
    until("the listener is up", Duration::from_secs(5), async || cache().enabled).await;
    let root = services.users.bootstrap(&system(), EmailAddress::parse("root@example.com").expect("valid")).await;
    let secret = root.expect("bootstrap").secret.expose().to_owned();
    services.authenticator.authenticate(Some(&secret), RequestInfo::default()).await.expect("warm");
    assert!(cache().tokens >= 1);

    // Cut the listening connection, as a failover or a network fault would.
    let admin = PgStore::connect_with(options.clone(), PoolConfig::DEFAULT).await.expect("admin");
    let cut: Vec<(bool,)> =
        sqlx::query_as("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1")
            .bind(store.listener_name())
            .fetch_all(admin.pool())
            .await
            .expect("terminate");
    assert_eq!(cut, [(true,)], "one listening connection");
    until("the cache is off", Duration::from_secs(2), async || !cache().enabled).await;
    assert_eq!(cache().tokens, 0, "nothing heard while it was away can be trusted");
    // Requests are still served, from the database.
    services.authenticator.authenticate(Some(&secret), RequestInfo::default()).await.expect("uncached");
    until("the listener is back", Duration::from_secs(10), async || cache().enabled).await;
    services.authenticator.authenticate(Some(&secret), RequestInfo::default()).await.expect("cached again");
    assert!(cache().tokens >= 1);
}
