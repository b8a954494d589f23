//! Conformance cases of the authorization decision over a store: what
//! [`Deps`](crate::Deps) reads (the roles along a path, the accounts enforcing two-factor
//! authentication, the caller's factors) becomes the right [`AccessError`], and the
//! [`Authenticator`] refuses a token by its status, validity window and address. The
//! decision itself, as a value, has its unit tests in `authz/tests.rs`.

use chrono::DateTime;

use super::mfa::{enforcing, factor, insert};
use super::*;
use crate::{
    AccessError, AuthError, Authenticator, Deps, FactorStatus, HasErrorKind, Permission, PermissionSet, Role,
    TokenInput, UserPatchInput,
};

fn deps(store: &Arc<dyn Store>) -> Deps {
    Deps { store: store.clone(), clock: Arc::new(SystemClock), ids: Arc::new(UuidV7Generator) }
}

fn authenticator(store: &Arc<dyn Store>, clock: impl Clock + 'static) -> Authenticator {
    Authenticator::new(store.clone(), Arc::new(clock), Arc::new(UuidV7Generator))
}

/// The principal of `user` calling through a new token under `account`.
async fn calling(store: &Arc<dyn Store>, account: &Account, user: &crate::User) -> Principal {
    let issued = identity::token(store, account, user).await;
    authenticator(store, SystemClock)
        .authenticate(Some(issued.secret.expose()), RequestInfo::default())
        .await
        .expect("authenticates")
}

/// The decision's outcome as a word: "allowed", "not found", "forbidden" or "two-factor".
async fn decision(deps: &Deps, principal: &Principal, account: &Account, permission: Permission) -> &'static str {
    match deps.authorize(principal, account, permission).await {
        Ok(()) => "allowed",
        Err(AccessError::NotFound) => "not found",
        Err(AccessError::Forbidden(missing)) => {
            assert_eq!(missing, permission);
            "forbidden"
        }
        Err(AccessError::TwoFactorRequired) => "two-factor",
        Err(AccessError::Unknown(e)) => panic!("the store failed: {e:#}"),
    }
}

pub async fn two_factor_enforcement_shuts_out_members_without_an_active_factor_only(store: Arc<dyn Store>) {
    let deps = deps(&store);
    let top = enforcing(&store, "Top", "enterprise", None).await;
    let agency = create(&store, "Agency", "agency", Some(top.id)).await;
    let child = create(&store, "Child", "ad_account", Some(agency.id)).await;
    let other = create(&store, "Other", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &agency, &ada, &[Role::Administrator]).await;
    identity::member(&store, &other, &ada, &[Role::Viewer]).await;
    let in_top = calling(&store, &top, &ada).await;
    let in_other = calling(&store, &other, &ada).await;

    // Without a factor: shut out below the enforcing ancestor, not elsewhere.
    assert_eq!(decision(&deps, &in_top, &agency, Permission::AccountsRead).await, "two-factor");
    assert_eq!(decision(&deps, &in_top, &child, Permission::AccountsWrite).await, "two-factor");
    assert_eq!(decision(&deps, &in_top, &top, Permission::AccountsRead).await, "not found", "no role on top");
    assert_eq!(decision(&deps, &in_other, &other, Permission::AccountsRead).await, "allowed");
    assert_eq!(decision(&deps, &in_other, &other, Permission::AccountsWrite).await, "forbidden");
    let listing = deps.all_rights(&in_top).await.expect("rights");
    assert!(listing.on(&agency).is_empty() && listing.on(&child).is_empty(), "listings leave them out");
    assert!(!deps.may_enforce_twofactor(&in_other).await.expect("may"), "enforcing would lock ada out");

    // A pending factor is not enough.
    insert(&store, &factor(ada.id, FactorStatus::Pending)).await;
    assert_eq!(decision(&deps, &in_top, &agency, Permission::AccountsRead).await, "two-factor");

    // An active factor lets ada in at once: its insert is announced to the decision cache.
    insert(&store, &factor(ada.id, FactorStatus::Active)).await;
    assert_eq!(decision(&deps, &in_top, &agency, Permission::AccountsWrite).await, "allowed");
    assert_eq!(decision(&deps, &in_top, &child, Permission::AccountsWrite).await, "allowed");
    let listing = deps.all_rights(&in_top).await.expect("rights");
    assert_eq!(listing.on(&child), PermissionSet::account_scoped());
    assert!(deps.may_enforce_twofactor(&in_other).await.expect("may"));

    // Root users and the system are not members: enforcement never shuts them out.
    let root =
        identity::users(&store).bootstrap(&caller(), EmailAddress::parse("root@example.com").expect("valid")).await;
    let root = root.expect("bootstrap");
    assert!(store.list_factors(root.user.id).await.expect("factors").is_empty());
    let root = authenticator(&store, SystemClock)
        .authenticate(Some(root.secret.expose()), RequestInfo::default())
        .await
        .expect("authenticates");
    for principal in [&root, &caller()] {
        for account in [&top, &agency, &child] {
            assert_eq!(decision(&deps, principal, account, Permission::AccountsWrite).await, "allowed");
        }
        assert!(deps.may_enforce_twofactor(principal).await.expect("may"));
    }
}

pub async fn an_invitation_grants_nothing_until_accepted(store: Arc<dyn Store>) {
    let deps = deps(&store);
    let acme = create(&store, "Acme", "standard", None).await;
    let bob = identity::user(&store, "bob@example.com").await;
    identity::invite(&store, acme.id, bob.id, Role::Administrator).await;
    let invited = calling(&store, &acme, &bob).await;
    assert_eq!(decision(&deps, &invited, &acme, Permission::AccountsRead).await, "not found");
    assert!(deps.all_rights(&invited).await.expect("rights").on(&acme).is_empty());
    let members = crate::MemberService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    members.respond(&invited, acme.id, true).await.expect("accept");
    assert_eq!(decision(&deps, &invited, &acme, Permission::MembersWrite).await, "allowed", "the same token");
}

/// A clock that always reads the same instant.
struct At(DateTime<Utc>);

impl Clock for At {
    fn now(&self) -> DateTime<Utc> {
        self.0
    }
}

pub async fn the_authenticator_refuses_a_token_by_status_validity_window_and_address(store: Arc<dyn Store>) {
    let acme = create(&store, "Acme", "standard", None).await;
    let ada = identity::user(&store, "ada@example.com").await;
    identity::member(&store, &acme, &ada, &[Role::Member]).await;
    let token = |input: TokenInput| identity::token_with(&store, &acme, &ada, input);
    let time = |t: &str| DateTime::parse_from_rfc3339(t).expect("rfc 3339").with_timezone(&Utc);
    let window = token(TokenInput {
        not_before: Some("2030-01-01T00:00:00Z".into()),
        expires_on: Some("2030-01-01T01:00:00Z".into()),
        ..Default::default()
    })
    .await;
    let disabled = token(TokenInput { status: Some("disabled".into()), ..Default::default() }).await;
    let fenced = token(TokenInput {
        ip_in: Some(vec!["10.0.0.0/8".into()]),
        ip_not_in: Some(vec!["10.1.0.0/16".into()]),
        ..Default::default()
    })
    .await;
    let plain = token(TokenInput::default()).await;

    let from = |ip: Option<&str>| RequestInfo { ip: ip.map(|ip| ip.parse().expect("ip")), ..Default::default() };
    let check = |at: &str, issued: &crate::IssuedToken, ip: Option<&str>| {
        let (authenticator, secret) = (authenticator(&store, At(time(at))), issued.secret.expose().to_owned());
        let request = from(ip);
        async move { authenticator.authenticate(Some(&secret), request).await.map(|p| p.user_id()) }
    };
    let now = "2030-01-01T00:30:00Z";
    assert_eq!(check("2029-12-31T23:59:59Z", &window, None).await, Err(AuthError::NotYetValid));
    assert_eq!(check("2030-01-01T00:00:00Z", &window, None).await, Ok(Some(ada.id)), "valid from not_before");
    assert_eq!(check("2030-01-01T00:59:59Z", &window, None).await, Ok(Some(ada.id)));
    assert_eq!(check("2030-01-01T01:00:00Z", &window, None).await, Err(AuthError::Expired), "expired at expires_on");
    assert_eq!(check(now, &disabled, None).await, Err(AuthError::Disabled));
    assert_eq!(check(now, &fenced, Some("10.9.9.9")).await, Ok(Some(ada.id)));
    assert_eq!(check(now, &fenced, Some("::ffff:10.9.9.9")).await, Ok(Some(ada.id)), "v4 through a v6 listener");
    assert_eq!(check(now, &fenced, Some("10.1.2.3")).await, Err(AuthError::IpRefused), "not_in wins over in");
    assert_eq!(check(now, &fenced, Some("192.0.2.7")).await, Err(AuthError::IpRefused));
    assert_eq!(check(now, &fenced, None).await, Err(AuthError::IpRefused), "an unknown address never passes");
    assert_eq!(check(now, &plain, None).await, Ok(Some(ada.id)));

    let live = authenticator(&store, SystemClock);
    let unknown = crate::TokenSecret::generate();
    for (presented, refusal) in [
        (None, AuthError::Missing),
        (Some("acd_garbage"), AuthError::Malformed),
        (Some(unknown.expose()), AuthError::Unknown),
    ] {
        let refused = live.authenticate(presented, RequestInfo::default()).await;
        assert_eq!(refused.map(|p| p.user_id()), Err(refusal));
        assert_eq!(refusal.kind(), crate::ErrorKind::Unauthenticated);
    }

    // Disabling the user refuses all its tokens at once.
    let disable = UserPatchInput { status: Some("disabled".into()), ..Default::default() }.validate().expect("v");
    identity::users(&store).update(&caller(), ada.id, disable, IfMatch::Any).await.expect("disable");
    assert_eq!(check(now, &plain, None).await, Err(AuthError::Disabled));
}
