//! Every service of the domain, built once over the same ports ([`Services`]): what the
//! binary and other Rust services embedding accountd hand to the wire adapters; and
//! [`Deps`], the ports each service holds. The rules services share are methods of `Deps`,
//! each in its area: the authorization decision in `authz/rights.rs`, whom a caller may see
//! in `identity/visibility.rs`, the audit recorder in `audit/recorder.rs`, the brute-force
//! throttle in `kernel/throttle.rs`, idempotent creation in `kernel/idempotency.rs`.

use std::sync::Arc;
use std::time::Duration;

use crate::{
    AccountService, AccountUserService, AliasService, Argon2idHasher, AuditService, Authenticator,
    AuthorizationService, Clock, DomainService, EventService, IdGenerator, MemberService, MfaService, SecretSealer,
    Store, SubscriptionService, TokenService, UserService,
};

/// The ports a service needs.
#[derive(Clone)]
pub(crate) struct Deps {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub ids: Arc<dyn IdGenerator>,
}

/// How long a readiness check waits for the database's answer.
pub const READINESS_DEADLINE: Duration = Duration::from_secs(1);

/// The domain's services.
#[derive(Debug, Clone)]
pub struct Services {
    pub accounts: AccountService,
    pub users: UserService,
    pub members: MemberService,
    pub tokens: TokenService,
    pub audit: AuditService,
    /// The ordered event feed (REST `/v1/events`, gRPC `EventService/Watch`).
    pub events: EventService,
    pub subscriptions: SubscriptionService,
    pub domains: DomainService,
    pub aliases: AliasService,
    pub account_users: AccountUserService,
    pub mfa: MfaService,
    pub authenticator: Authenticator,
    /// The decision API: the authenticator's and `Rights`' answer, for products to ask.
    pub authorization: AuthorizationService,
    pub store: Arc<dyn Store>,
}

impl Services {
    /// `sealer` protects MFA secrets at rest.
    pub fn new(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        ids: Arc<dyn IdGenerator>,
        sealer: Arc<dyn SecretSealer>,
    ) -> Self {
        let authenticator = Authenticator::new(store.clone(), clock.clone(), ids.clone());
        Self {
            accounts: AccountService::new(store.clone(), clock.clone(), ids.clone()),
            users: UserService::new(store.clone(), clock.clone(), ids.clone()),
            members: MemberService::new(store.clone(), clock.clone(), ids.clone()),
            tokens: TokenService::new(store.clone(), clock.clone(), ids.clone()),
            audit: AuditService::new(store.clone(), clock.clone(), ids.clone()),
            events: EventService::new(store.clone(), clock.clone(), ids.clone()),
            subscriptions: SubscriptionService::new(store.clone(), clock.clone(), ids.clone()),
            domains: DomainService::new(store.clone(), clock.clone(), ids.clone()),
            aliases: AliasService::new(store.clone(), clock.clone(), ids.clone(), Arc::new(Argon2idHasher)),
            account_users: AccountUserService::new(store.clone(), clock.clone(), ids.clone()),
            mfa: MfaService::new(store.clone(), clock.clone(), ids.clone(), sealer),
            authorization: AuthorizationService::new(store.clone(), clock.clone(), ids.clone(), authenticator.clone()),
            authenticator,
            store,
        }
    }

    /// Whether the database answers a ping within [`READINESS_DEADLINE`]: what `/readyz` and
    /// gRPC health report, so a probe never waits on a database that went away.
    pub async fn ready(&self) -> anyhow::Result<()> {
        match tokio::time::timeout(READINESS_DEADLINE, self.store.ping()).await {
            Ok(answer) => answer,
            Err(_) => anyhow::bail!("the database did not answer within {READINESS_DEADLINE:?}"),
        }
    }

    /// The services with the system clock and UUIDv7 ids.
    pub fn with_defaults(store: Arc<dyn Store>, sealer: Arc<dyn SecretSealer>) -> Self {
        Self::new(store, Arc::new(crate::SystemClock), Arc::new(crate::UuidV7Generator), sealer)
    }
}
