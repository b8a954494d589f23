//! Wiring: opens the store the settings name, builds the services once, and serves them
//! over REST and gRPC until a shutdown signal, draining in-flight requests.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use accountd_domain::ports::Store;
use accountd_domain::{EmailAddress, Principal, RequestInfo, Services};
use accountd_postgres::{PgStore, PoolConfig};
use accountd_sqlite::SqliteStore;
use anyhow::Context as _;
use axum::extract::ConnectInfo;
use futures::StreamExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tower::ServiceExt as _;
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::trace::TraceLayer;
use tracing::info;

use crate::settings::Settings;

/// Opens and migrates the database `settings` name.
async fn open_store(settings: &Settings) -> anyhow::Result<Arc<dyn Store>> {
    if settings.uses_postgres() {
        let pool = PoolConfig {
            acquire_timeout: settings.db_acquire_timeout,
            idle_ping_after: settings.db_idle_ping_after,
            ..PoolConfig::DEFAULT
        };
        let store = PgStore::connect(&settings.database_url, pool).await?;
        store.migrate().await?;
        info!(database = "postgres", "database ready");
        Ok(Arc::new(store))
    } else {
        // The acquire timeout and idle ping are for a server that can go away; SQLite's file
        // cannot (accountd_sqlite::DEFAULT_POOL).
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

    let metrics = install_metrics()?;
    let rest = accountd_rest::router(accountd_rest::AppState { services: services.clone() })
        .route("/metrics", axum::routing::get(move || std::future::ready(metrics.render())));
    let rest = accountd_rest::with_timeouts(rest, settings.request_timeout, settings.http_body_timeout);
    let rest_server = serve_http(http, rest, &settings, stopped.clone());

    let routes = accountd_grpc::routes(services).await?;
    let grpc_layers = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_grpc().make_span_with(|request: &http::Request<_>| {
            let request_id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("");
            tracing::info_span!("grpc", path = %request.uri().path(), request_id)
        }))
        .layer(accountd_grpc::MetricsLayer);
    let grpc_server = grpc_server_builder(&settings)
        .layer(grpc_layers)
        .add_routes(routes)
        .serve_with_incoming_shutdown(limited_incoming(grpc, &settings), wait_for(stopped));

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

/// Serves the REST router on `listener` until `stopped`, with the connection limits of
/// `settings`: at most `max_connections` open at once (further clients wait in the accept
/// queue), and hyper's header-read timeout, which closes a connection that has not sent a
/// complete request head in time — a new one or a kept-alive one between requests — so
/// slow or idle clients cannot pile up. On shutdown, a connection whose request head or body
/// is still arriving is closed at once; the others finish their request and close. Returns
/// when every connection has closed.
async fn serve_http(
    listener: TcpListener,
    router: axum::Router,
    settings: &Settings,
    stopped: watch::Receiver<bool>,
) -> anyhow::Result<()> {
    let limit = settings.max_connections.clamp(1, Semaphore::MAX_PERMITS);
    let permits = Arc::new(Semaphore::new(limit));
    let mut http1 = hyper::server::conn::http1::Builder::new();
    http1.timer(TokioTimer::new()).header_read_timeout(settings.http_header_read_timeout);
    let shutdown = wait_for(stopped.clone());
    tokio::pin!(shutdown);
    loop {
        let permit = tokio::select! {
            permit = permits.clone().acquire_owned() => permit.context("connection permits")?,
            () = &mut shutdown => break,
        };
        let (stream, remote) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, most likely: wait rather than spin.
                    tracing::warn!(%error, "accepting an HTTP connection failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let state = Arc::new(ConnectionState::default());
        let service = {
            let (router, state) = (router.clone(), state.clone());
            hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                state.started.store(true, Ordering::Relaxed);
                request.extensions_mut().insert(ConnectInfo(remote));
                let request = request.map(|body| WatchedBody::new(body, state.clone()));
                router.clone().oneshot(request)
            })
        };
        let connection = http1.serve_connection(TokioIo::new(stream), service);
        let stopped = stopped.clone();
        tokio::spawn(async move {
            let _permit = permit;
            tokio::pin!(connection);
            tokio::select! {
                result = connection.as_mut() => return log_connection_end(result),
                () = wait_for(stopped) => {}
            }
            connection.as_mut().graceful_shutdown();
            // A half-sent request must not hold the shutdown: hyper closes an idle
            // kept-alive connection itself, but would wait on a new one until its header
            // timeout, and on a request whose body is still arriving until the body or
            // request timeout. Those are dropped; requests being handled finish.
            if state.started.load(Ordering::Relaxed) && !state.body_pending.load(Ordering::Relaxed) {
                log_connection_end(connection.await);
            }
        });
    }
    drop(listener);
    // Every connection holds a permit until it closes.
    let _all = permits.acquire_many(u32::try_from(limit).unwrap_or(u32::MAX)).await;
    Ok(())
}

/// What a connection's task needs to know at shutdown about the request in progress.
#[derive(Debug, Default)]
struct ConnectionState {
    /// A request head has arrived on this connection.
    started: AtomicBool,
    /// The current request's body has not been read to its end.
    body_pending: AtomicBool,
}

/// A request body that tells its connection's state whether it is still arriving.
#[derive(Debug)]
struct WatchedBody {
    inner: hyper::body::Incoming,
    state: Arc<ConnectionState>,
}

impl WatchedBody {
    fn new(inner: hyper::body::Incoming, state: Arc<ConnectionState>) -> Self {
        state.body_pending.store(!hyper::body::Body::is_end_stream(&inner), Ordering::Relaxed);
        Self { inner, state }
    }
}

impl hyper::body::Body for WatchedBody {
    type Data = hyper::body::Bytes;
    type Error = hyper::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<hyper::body::Frame<Self::Data>, Self::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.inner).poll_frame(cx);
        if matches!(polled, Poll::Ready(None | Some(Err(_)))) || this.inner.is_end_stream() {
            this.state.body_pending.store(false, Ordering::Relaxed);
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.inner.size_hint()
    }
}

impl Drop for WatchedBody {
    fn drop(&mut self) {
        // A handler that never reads the body is not waiting on it.
        self.state.body_pending.store(false, Ordering::Relaxed);
    }
}

fn log_connection_end(result: Result<(), hyper::Error>) {
    if let Err(error) = result {
        tracing::debug!(%error, "HTTP connection ended with an error");
    }
}

/// The gRPC server with its limits: each request within `request_timeout`, HTTP/2 pings on
/// idle connections (a peer that does not answer within the keep-alive timeout is dropped)
/// and TCP keep-alive.
fn grpc_server_builder(settings: &Settings) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .timeout(settings.request_timeout)
        .http2_keepalive_interval(Some(settings.grpc_keepalive_interval))
        .http2_keepalive_timeout(Some(settings.grpc_keepalive_timeout))
}

/// The gRPC listener's connections, at most `max_connections` open at once: the next one is
/// accepted only when a permit is free, and each connection holds its permit until it
/// closes. TCP_NODELAY and TCP keep-alive on each.
fn limited_incoming(
    listener: TcpListener,
    settings: &Settings,
) -> impl futures::Stream<Item = std::io::Result<LimitedStream>> + use<> {
    let permits = Arc::new(Semaphore::new(settings.max_connections.clamp(1, Semaphore::MAX_PERMITS)));
    let incoming = tonic::transport::server::TcpIncoming::from(listener)
        .with_nodelay(Some(true))
        .with_keepalive(Some(settings.grpc_keepalive_interval));
    futures::stream::unfold((incoming, permits), |(mut incoming, permits)| async move {
        let permit = permits.clone().acquire_owned().await.ok()?;
        let accepted = match incoming.next().await? {
            Ok(stream) => Ok(LimitedStream { stream, _permit: permit }),
            Err(error) => {
                tracing::warn!(%error, "accepting a gRPC connection failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
                Err(error)
            }
        };
        Some((accepted, (incoming, permits)))
    })
}

/// A gRPC connection holding one of the listener's connection permits.
#[derive(Debug)]
struct LimitedStream {
    stream: TcpStream,
    _permit: OwnedSemaphorePermit,
}

impl Connected for LimitedStream {
    type ConnectInfo = TcpConnectInfo;

    fn connect_info(&self) -> TcpConnectInfo {
        self.stream.connect_info()
    }
}

impl AsyncRead for LimitedStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for LimitedStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.get_mut().stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.get_mut().stream).poll_shutdown(cx)
    }
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

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

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
