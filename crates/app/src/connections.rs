//! The connections REST and gRPC are served on, and their limits: a cap on open
//! connections per listener, hyper's header-read timeout for HTTP/1 (also closing idle
//! kept-alive connections), HTTP/2 and TCP keep-alive and a request timeout for gRPC, and a
//! shutdown that drops connections whose request is still arriving instead of waiting on
//! them. The request-level timeouts (body, whole request) are `accountd_rest::with_timeouts`.

use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::Context as _;
use axum::extract::ConnectInfo;
use futures::StreamExt as _;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{OwnedSemaphorePermit, Semaphore, watch};
use tonic::transport::server::{Connected, TcpConnectInfo};
use tower::ServiceExt as _;

use crate::server::wait_for;
use crate::settings::Settings;

/// Serves the REST router on `listener` until `stopped`, with the connection limits of
/// `settings`: at most `max_connections` open at once (further clients wait in the accept
/// queue), and hyper's header-read timeout, which closes a connection that has not sent a
/// complete request head in time — a new one or a kept-alive one between requests — so
/// slow or idle clients cannot pile up. On shutdown, a connection whose request head or body
/// is still arriving is closed at once; the others finish their request and close. Returns
/// when every connection has closed.
pub(crate) async fn serve_http(
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
pub(crate) fn grpc_server_builder(settings: &Settings) -> tonic::transport::Server {
    tonic::transport::Server::builder()
        .timeout(settings.request_timeout)
        .http2_keepalive_interval(Some(settings.grpc_keepalive_interval))
        .http2_keepalive_timeout(Some(settings.grpc_keepalive_timeout))
}

/// The gRPC listener's connections, at most `max_connections` open at once: the next one is
/// accepted only when a permit is free, and each connection holds its permit until it
/// closes. TCP_NODELAY and TCP keep-alive on each.
pub(crate) fn limited_incoming(
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
pub(crate) struct LimitedStream {
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
