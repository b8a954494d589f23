//! The gRPC adapter: tonic services over the domain services, with health and reflection.
//! Each RPC converts its request into the domain's `*Input`, calls the same service method
//! as its REST twin, and converts the result back; errors map to a `Status` in [`status`].

mod accounts;
mod caller;
mod metrics;
pub mod status;

use accountd_domain::Services;
use tonic::service::Routes;

pub use metrics::MetricsLayer;

/// Generated protobuf types and service stubs of package `accountd.v1`.
pub mod pb {
    #![allow(missing_debug_implementations, clippy::all)]
    tonic::include_proto!("accountd.v1");

    /// The encoded descriptor set of every accountd proto, for the reflection service.
    pub const FILE_DESCRIPTOR_SET: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/accountd_descriptor.bin"));
}


/// All gRPC routes: accountd's services, `grpc.health.v1.Health` (reporting each service as
/// serving) and server reflection (v1 and v1alpha), so `grpcurl -plaintext HOST list` works.
pub async fn routes(services: Services) -> Result<Routes, tonic_reflection::server::Error> {
    let accounts = pb::account_service_server::AccountServiceServer::new(accounts::AccountsApi::new(services.clone()));
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter.set_serving::<pb::account_service_server::AccountServiceServer<accounts::AccountsApi>>().await;
    let reflection = || {
        tonic_reflection::server::Builder::configure()
            .register_encoded_file_descriptor_set(pb::FILE_DESCRIPTOR_SET)
            .register_encoded_file_descriptor_set(tonic_health::pb::FILE_DESCRIPTOR_SET)
    };
    Ok(Routes::new(accounts)
        .add_service(health)
        .add_service(reflection().build_v1()?)
        .add_service(reflection().build_v1alpha()?))
}
