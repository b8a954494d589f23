//! Wiring: opens the store the settings name, builds the services once, and serves them
//! over REST and gRPC until a shutdown signal, draining in-flight requests.

use std::net::SocketAddr;
use std::sync::Arc;

use accountd_domain::ports::Store;
use accountd_domain::{EmailAddress, Principal, RequestInfo, Services};
use accountd_postgres::PgStore;
use accountd_sqlite::SqliteStore;
use anyhow::Context;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio_stream::wrappers::TcpListenerStream;
use tower::util::MapRequestLayer;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tracing::info;

use crate::settings::Settings;

/// Opens and migrates the database `settings` name.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if settings.uses_postgres() {
        let store = PgStore::connect(&settings.database_url).await?;
        store.migrate().await?;
        info!(database = "postgres", "database ready");
        Ok(Arc::new(store))
    } else {
        let store = SqliteStore::connect(&settings.database_url).await?;
        store.migrate().await?;
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

/// `accountd serve`.
pub async fn serve(settings: Settings) -> anyhow::Result<()> {
    let services = Services::with_defaults(open_store(&settings).await?, crate::mfa_key::sealer(&settings)?);

    let http =
        TcpListener::bind(settings.http_addr).await.with_context(|| format!("binding {}", settings.http_addr))?;
    let grpc =
        TcpListener::bind(settings.grpc_addr).await.with_context(|| format!("binding {}", settings.grpc_addr))?;
    info!(http_addr = %http.local_addr()?, grpc_addr = %grpc.local_addr()?, "accountd listening");

    let (stop, stopped) = watch::channel(false);
    let stopped_for_deadline = stopped.clone();
    tokio::spawn(async move {
        shutdown_signal().await;
        info!("shutting down: draining in-flight requests");
        let _ = stop.send(true);
    });

    // Buckets make the latency series histograms, which aggregate across instances.
    let metrics = metrics_exporter_prometheus::PrometheusBuilder::new()
        .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
        .context("metrics buckets")?
        .install_recorder()
        .context("installing the metrics recorder")?;
    let rest = accountd_rest::router(accountd_rest::AppState { services: services.clone() })
        .route("/metrics", axum::routing::get(move || std::future::ready(metrics.render())));
    let rest_server = axum::serve(http, rest.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(wait_for(stopped.clone()));

    let routes = accountd_grpc::routes(services).await?;
    let grpc_layers = tower::ServiceBuilder::new()
        .layer(MapRequestLayer::new(accountd_rest::request_id::drop_unacceptable_request_id))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(accountd_grpc::trace_layer())
        .layer(accountd_grpc::MetricsLayer);
    let grpc_server = tonic::transport::Server::builder()
        .layer(grpc_layers)
        .add_routes(routes)
        .serve_with_incoming_shutdown(TcpListenerStream::new(grpc), wait_for(stopped));

    let servers = async { tokio::join!(rest_server.into_future(), grpc_server) };
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

/// How long in-flight requests get to finish after a shutdown signal.
const DRAIN_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

async fn wait_for(mut stopped: watch::Receiver<bool>) {
    let _ = stopped.wait_for(|s| *s).await;
}

/// Resolves on ctrl-c or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::warn!(%error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::warn!(%error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
