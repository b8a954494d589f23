//! gRPC health follows readiness: the server (`""`) and each accountd service report
//! SERVING while the database answers within the readiness deadline and NOT_SERVING while
//! it does not, as REST's `/readyz` answers 200 or 503. A background task re-checks every
//! [`CHECK_INTERVAL`], so `Health/Check` answers at once from the last result and
//! `Health/Watch` streams the changes.

use std::time::Duration;

use accountd_domain::Services;
use tonic_health::ServingStatus;
use tonic_health::server::HealthReporter;

/// How often readiness is re-checked for gRPC health.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(1);

/// Sets every status in `services` (and the server's) from a first readiness check, then
/// keeps them following readiness until the runtime stops.
pub(crate) async fn follow_readiness(domain: Services, reporter: HealthReporter, services: Vec<&'static str>) {
    let mut last = report(&domain, &reporter, &services, None).await;
    tokio::spawn(async move {
        let mut interval = tokio::time::interval(CHECK_INTERVAL);
        interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        interval.tick().await;
        loop {
            interval.tick().await;
            last = report(&domain, &reporter, &services, Some(last)).await;
        }
    });
}

/// Checks readiness and writes the status where it changed; returns the status.
async fn report(
    domain: &Services,
    reporter: &HealthReporter,
    services: &[&'static str],
    last: Option<ServingStatus>,
) -> ServingStatus {
    let status = match domain.ready().await {
        Ok(()) => ServingStatus::Serving,
        Err(error) => {
            tracing::warn!(error = %format!("{error:#}"), "readiness check failed: gRPC health is NOT_SERVING");
            ServingStatus::NotServing
        }
    };
    if last != Some(status) {
        for name in std::iter::once("").chain(services.iter().copied()) {
            reporter.set_service_status(name, status).await;
        }
    }
    status
}
