//! Wiring: opens the store the settings name, builds the services once, and serves them
//! over REST and gRPC until a shutdown signal, draining in-flight requests.

use std::sync::Arc;
use std::time::Duration;

use accountd_domain::Store;
use accountd_domain::{EmailAddress, Principal, RequestInfo, Services};
use accountd_postgres::{PgStore, PoolConfig};
use accountd_sqlite::SqliteStore;
use anyhow::Context as _;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::net::TcpListener;
use tokio::sync::watch;
use tower::util::MapRequestLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::info;

use crate::connections;
use crate::settings::Settings;
use crate::traceparent::TraceParentLayer;

/// Opens and migrates the database `settings` name.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if settings.uses_postgres() {
        let pool = PoolConfig {
            acquire_timeout: settings.db_acquire_timeout,
            idle_ping_after: settings.db_idle_ping_after,
            statement_timeout: Some(settings.db_statement_timeout),
            ..PoolConfig::DEFAULT
        };
        let store = PgStore::connect(&settings.database_url, pool).await?;
        store.migrate().await?;
        store.changes().decisions().set_capacity(settings.decision_cache_capacity);
        info!(database = "postgres", "database ready");
        Ok(Arc::new(store))
    } else {
        // The acquire timeout and idle ping are for a server that can go away; SQLite's file
        // cannot (accountd_sqlite::DEFAULT_POOL).
        let store = SqliteStore::connect(&settings.database_url).await?;
        store.migrate().await?;
        store.changes().decisions().set_capacity(settings.decision_cache_capacity);
        info!(database = "sqlite", url = %settings.database_url, "database ready");
        Ok(Arc::new(store))
    }
}

/// `accountd migrate`.
pub async fn migrate(settings: Settings) -> anyhow::Result<()> {
    open_store(&settings).await?;
    info!("migrations applied");
    Ok(())
}

/// `accountd bootstrap --email …`: the first root user, and its platform token printed once
/// on stdout (everything else goes to the log on stderr, so a script can capture the token).
pub async fn bootstrap(settings: Settings, email: &str) -> anyhow::Result<()> {
    let email = EmailAddress::parse(email).map_err(|e| anyhow::anyhow!("--email {e}"))?;
    let services = Services::with_defaults(open_store(&settings).await?, crate::mfa_key::sealer(&settings)?);
    let made = services
        .users
        .bootstrap(&Principal::system(RequestInfo::default()), email)
        .await
        .context("bootstrap refused")?;
    info!(user_id = %made.user.id, email = %made.user.email, token_id = %made.token.id, "root user created; its token is printed once");
    println!("{}", made.secret.expose());
    Ok(())
}

/// `accountd serve`; with `tracing`, requests continue the caller's W3C trace context.
pub async fn serve(settings: Settings, tracing: bool) -> anyhow::Result<()> {
    let mut services = Services::with_defaults(open_store(&settings).await?, crate::mfa_key::sealer(&settings)?);
    services.events = services.events.clone().with_retention(settings.event_retention);

    let http =
        TcpListener::bind(settings.http_addr).await.with_context(|| format!("binding {}", settings.http_addr))?;
    let grpc =
        TcpListener::bind(settings.grpc_addr).await.with_context(|| format!("binding {}", settings.grpc_addr))?;
    let signalled = shutdown_signal()?;
    info!(http_addr = %http.local_addr()?, grpc_addr = %grpc.local_addr()?, "accountd listening");

    let (stop, stopped) = watch::channel(false);
    let stopped_for_deadline = stopped.clone();
    tokio::spawn(async move {
        signalled.await;
        info!("shutting down: draining in-flight requests");
        let _ = stop.send(true);
    });

    let metrics = install_metrics()?;
    let store = services.store.clone();
    let console = accountd_console::router(accountd_console::ConsoleState::new(
        services.clone(),
        accountd_console::ConsoleConfig::default(),
    ));
    let rest = accountd_rest::router(accountd_rest::AppState { services: services.clone() }).merge(console).route(
        "/metrics",
        axum::routing::get(move || {
            record_decision_cache(&store.changes().decisions().stats());
            std::future::ready(metrics.render())
        }),
    );
    let rest = accountd_rest::with_timeouts(rest, settings.request_timeout, settings.http_body_timeout);
    let rest = if tracing { rest.layer(TraceParentLayer) } else { rest };
    let rest_server = connections::serve_http(http, rest, &settings, stopped.clone());

    let routes = accountd_grpc::routes(services).await?;
    let grpc_layers = tower::ServiceBuilder::new()
        .option_layer(tracing.then_some(TraceParentLayer))
        .layer(MapRequestLayer::new(accountd_rest::request_id::drop_unacceptable_request_id))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(accountd_grpc::trace_layer())
        .layer(accountd_grpc::MetricsLayer);
    let grpc_server = connections::grpc_server_builder(&settings)
        .layer(grpc_layers)
        .add_routes(routes)
        .serve_with_incoming_shutdown(connections::limited_incoming(grpc, &settings), wait_for(stopped));

    let servers = async { tokio::join!(rest_server, grpc_server) };
    // Draining waits for clients to finish; one that keeps its connection open must not keep
    // the process alive forever.
    let drain_deadline = async {
        wait_for(stopped_for_deadline).await;
        tokio::time::sleep(DRAIN_TIMEOUT).await;
    };
    tokio::select! {
        (rest_result, grpc_result) = servers => {
            rest_result.context("REST server")?;
            grpc_result.context("gRPC server")?;
            info!("stopped");
        }
        () = drain_deadline => tracing::warn!(timeout = ?DRAIN_TIMEOUT, "stopped before every connection drained"),
    }
    Ok(())
}

/// The decision cache's state as gauges, read at each scrape (docs/ARCHITECTURE.md, the
/// decision cache).
fn record_decision_cache(stats: &accountd_domain::CacheStats) {
    metrics::gauge!("decision_cache_enabled").set(if stats.enabled { 1.0 } else { 0.0 });
    for (kind, entries) in [("tokens", stats.tokens), ("users", stats.users), ("accounts", stats.placements)] {
        metrics::gauge!("decision_cache_entries", "kind" => kind).set(entries as f64);
    }
    metrics::counter!("decision_cache_hits_total").absolute(stats.hits);
    metrics::counter!("decision_cache_misses_total").absolute(stats.misses);
}

/// How often the Prometheus recorder's upkeep runs. Without it, histogram samples pile up
/// between scrapes, without bound when nothing scrapes `/metrics`.
const METRICS_UPKEEP_INTERVAL: Duration = Duration::from_secs(5);

/// Installs the Prometheus recorder and spawns its upkeep; the handle renders `/metrics`.
fn install_metrics() -> anyhow::Result<PrometheusHandle> {
    // Buckets make the latency series histograms, which aggregate across instances.
    let handle = PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let upkept = handle.clone();
    spawn_upkeep(METRICS_UPKEEP_INTERVAL, move || upkept.run_upkeep());
    Ok(handle)
}

/// Runs the recorder's `upkeep` every `interval` for as long as the runtime lives.
/// `install_recorder` does not (only the exporter's own HTTP listener would), so without
/// this task memory grows with every request until something scrapes.
fn spawn_upkeep(interval: Duration, upkeep: impl Fn() + Send + 'static) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(interval);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            upkeep();
        }
    })
}

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

pub(crate) async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Registers for ctrl-c and SIGTERM at once and returns what resolves on either. Registered
/// before the service says it listens, so a signal sent as soon as it does (a supervisor
/// stopping a fresh instance) shuts it down gracefully instead of killing it.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()>> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut interrupt = signal(SignalKind::interrupt()).context("listening for SIGINT")?;
        let mut terminate = signal(SignalKind::terminate()).context("listening for SIGTERM")?;
        Ok(async move {
            tokio::select! {
                _ = interrupt.recv() => {},
                _ = terminate.recv() => {},
            }
        })
    }
    #[cfg(not(unix))]
    {
        Ok(async {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for ctrl-c");
                std::future::pending::<()>().await;
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_metrics_upkeep_runs_every_interval_without_a_scrape() {
        let runs = Arc::new(AtomicUsize::new(0));
        let counted = runs.clone();
        let task = spawn_upkeep(METRICS_UPKEEP_INTERVAL, move || {
            counted.fetch_add(1, Ordering::Relaxed);
        });
        tokio::time::sleep(METRICS_UPKEEP_INTERVAL * 3 + Duration::from_millis(10)).await;
        assert_eq!(runs.load(Ordering::Relaxed), 4, "once at start, then every interval");
        assert!(!task.is_finished());
        assert!(METRICS_UPKEEP_INTERVAL <= Duration::from_secs(10), "samples may pile up at most this long");
    }
}
