//! The gRPC adapter: tonic services over the domain services, with health and reflection.
//! Each RPC converts its request into the domain's `*Input`, calls the same service method
//! as its REST twin, and converts the result back; errors map to a `Status` in [`status`].

mod account_users;
mod accounts;
mod aliases;
mod audit;
mod authorization;
mod caller;
mod convert;
mod events;
mod health;
mod members;
mod metrics;
pub mod observe;
pub mod status;
mod subscriptions;
mod tokens;
mod users;

use accountd_domain::Services;
use tonic::server::NamedService;
use tonic::service::Routes;

pub use metrics::MetricsLayer;
pub use observe::trace_layer;

/// Generated protobuf types and service stubs of package `accountd.v1`.
pub mod pb {
    #![allow(missing_debug_implementations, clippy::all)]
    tonic::include_proto!("accountd.v1");

    /// The encoded descriptor set of every accountd proto, for the reflection service.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/accountd_descriptor.bin"));
}

/// All gRPC routes: accountd's services, `grpc.health.v1.Health` (each service and the
/// server as a whole SERVING while the database answers, NOT_SERVING while it does not; see
/// [`health`]) and server reflection (v1 and v1alpha), so `grpcurl -plaintext HOST list` works.
pub async fn routes(services: Services) -> Result<Routes, tonic_reflection::server::Error> {
    use pb::account_service_server::AccountServiceServer;
    use pb::alias_service_server::AliasServiceServer;
    use pb::audit_service_server::AuditServiceServer;
    use pb::authorization_service_server::AuthorizationServiceServer;
    use pb::domain_service_server::DomainServiceServer;
    use pb::event_service_server::EventServiceServer;
    use pb::member_service_server::MemberServiceServer;
    use pb::subscription_service_server::SubscriptionServiceServer;
    use pb::token_service_server::TokenServiceServer;
    use pb::user_service_server::UserServiceServer;

    let accounts = AccountServiceServer::new(accounts::AccountsApi::new(services.clone()));
    let users = UserServiceServer::new(users::UsersApi::new(services.clone()));
    let members = MemberServiceServer::new(members::MembersApi::new(services.clone()));
    let tokens = TokenServiceServer::new(tokens::TokensApi::new(services.clone()));
    let audit = AuditServiceServer::new(audit::AuditApi::new(services.clone()));
    let events = EventServiceServer::new(events::EventsApi::new(services.clone()));
    let authorization = AuthorizationServiceServer::new(authorization::AuthorizationApi::new(services.clone()));
    let subscriptions = SubscriptionServiceServer::new(subscriptions::SubscriptionsApi::new(services.clone()));
    let domains = DomainServiceServer::new(aliases::DomainsApi::new(services.clone()));
    let services_for_health = services.clone();
    let aliases = AliasServiceServer::new(aliases::AliasesApi::new(services));
    let (reporter, health) = tonic_health::server::health_reporter();
    health::follow_readiness(
        services_for_health,
        reporter,
        vec![
            <AccountServiceServer<accounts::AccountsApi> as NamedService>::NAME,
            <UserServiceServer<users::UsersApi> as NamedService>::NAME,
            <MemberServiceServer<members::MembersApi> as NamedService>::NAME,
            <TokenServiceServer<tokens::TokensApi> as NamedService>::NAME,
            <AuditServiceServer<audit::AuditApi> as NamedService>::NAME,
            <EventServiceServer<events::EventsApi> as NamedService>::NAME,
            <AuthorizationServiceServer<authorization::AuthorizationApi> as NamedService>::NAME,
            <SubscriptionServiceServer<subscriptions::SubscriptionsApi> as NamedService>::NAME,
            <DomainServiceServer<aliases::DomainsApi> as NamedService>::NAME,
            <AliasServiceServer<aliases::AliasesApi> as NamedService>::NAME,
        ],
    )
    .await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(Routes::new(accounts)
        .add_service(users)
        .add_service(members)
        .add_service(tokens)
        .add_service(audit)
        .add_service(events)
        .add_service(authorization)
        .add_service(subscriptions)
        .add_service(domains)
        .add_service(aliases)
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?))
}
