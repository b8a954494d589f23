//! The load generator: a fixed number of connections, each sending one request after
//! another for a fixed time, timing each. HTTP/1.1 on hyper (one connection per worker,
//! kept alive) and gRPC on tonic (one channel, so one HTTP/2 connection, per worker).

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::time::{Duration, Instant};

use accountd_grpc::pb::GetAccountRequest;
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use anyhow::{Context, Result};
use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use crate::stats::{Measurement, Rng};

/// One HTTP request to send.
#[derive(Debug, Clone)]
pub struct HttpRequest {
    pub method: http::Method,
    pub path: String,
    pub token: String,
    pub body: Option<String>,
}

/// Makes the `i`-th request of a worker from its generator.
pub type MakeRequest = Arc<dyn Fn(&mut Rng) -> HttpRequest + Send + Sync>;

/// An HTTP/1.1 connection.
pub struct Connection {
    sender: hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    host: String,
}

impl Connection {
    pub async fn open(addr: SocketAddr) -> Result<Self> {
        let stream = TcpStream::connect(addr).await.with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Self { sender, host: addr.to_string() })
    }

    /// Sends `request` and reads the whole answer: status and body.
    pub async fn send(&mut self, request: &HttpRequest) -> Result<(u16, Bytes)> {
        let mut builder = http::Request::builder()
            .method(request.method.clone())
            .uri(&request.path)
            .header(http::header::HOST, &self.host)
            .header(http::header::AUTHORIZATION, format!("Bearer {}", request.token));
        if request.body.is_some() {
            builder = builder.header(http::header::CONTENT_TYPE, "application/json");
        }
        let body = Full::new(Bytes::from(request.body.clone().unwrap_or_default()));
        self.sender.ready().await?;
        let response = self.sender.send_request(builder.body(body)?).await?;
        let status = response.status().as_u16();
        let bytes = response.into_body().collect().await?.to_bytes();
        Ok((status, bytes))
    }
}

/// `connections` workers sending `make`'s requests to `addr` for `duration`.
pub async fn http(addr: SocketAddr, connections: usize, duration: Duration, make: MakeRequest) -> Result<Measurement> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for w in 0..connections {
        let make = make.clone();
        let mut connection = Connection::open(addr).await?;
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new(w as u64 + 1);
            let mut micros = Vec::with_capacity(16 * 1024);
            let mut errors = 0;
            while Instant::now() < deadline {
                let request = make(&mut rng);
                let sent = Instant::now();
                match connection.send(&request).await {
                    Ok((status, _)) if status < 400 => micros.push(sent.elapsed().as_micros() as u64),
                    Ok(_) => errors += 1,
                    Err(_) => {
                        errors += 1;
                        connection = Connection::open(addr).await?;
                    }
                }
            }
            anyhow::Ok((micros, errors))
        }));
    }
    collect(workers, started).await
}

/// The gRPC `GetAccount` request of a worker: the credential and the account.
pub type MakeGrpc = Arc<dyn Fn(&mut Rng) -> (String, String) + Send + Sync>;

/// `connections` workers calling `AccountService/GetAccount` for `duration`.
pub async fn grpc_get_account(
    addr: SocketAddr,
    connections: usize,
    duration: Duration,
    make: MakeGrpc,
) -> Result<Measurement> {
    let call: GrpcCall = Arc::new(move |channel, rng| {
        let (token, account_id) = make(rng);
        Box::pin(async move {
            let mut request = tonic::Request::new(GetAccountRequest { account_id });
            request.metadata_mut().insert("authorization", format!("Bearer {token}").parse()?);
            AccountServiceClient::new(channel).get_account(request).await?;
            Ok(())
        })
    });
    grpc(addr, connections, duration, call).await
}

/// One gRPC call of a worker, made on its channel with its generator; an error is a failed call.
pub type GrpcCall =
    Arc<dyn Fn(tonic::transport::Channel, &mut Rng) -> Pin<Box<dyn Future<Output = Result<()>> + Send>> + Send + Sync>;

/// `connections` workers, one channel (one HTTP/2 connection) each, making `call` for `duration`.
pub async fn grpc(addr: SocketAddr, connections: usize, duration: Duration, call: GrpcCall) -> Result<Measurement> {
    let started = Instant::now();
    let deadline = started + duration;
    let mut workers = Vec::new();
    for w in 0..connections {
        let call = call.clone();
        let channel = tonic::transport::Endpoint::from_shared(format!("http://{addr}"))?.connect().await?;
        workers.push(tokio::spawn(async move {
            let mut rng = Rng::new(w as u64 + 1);
            let mut micros = Vec::with_capacity(16 * 1024);
            let mut errors = 0;
            while Instant::now() < deadline {
                let pending = call(channel.clone(), &mut rng);
                let sent = Instant::now();
                match pending.await {
                    Ok(()) => micros.push(sent.elapsed().as_micros() as u64),
                    Err(_) => errors += 1,
                }
            }
            anyhow::Ok((micros, errors))
        }));
    }
    collect(workers, started).await
}

type Worker = tokio::task::JoinHandle<Result<(Vec<u64>, usize)>>;

async fn collect(workers: Vec<Worker>, started: Instant) -> Result<Measurement> {
    let mut micros = Vec::new();
    let mut errors = 0;
    for worker in workers {
        let (m, e) = worker.await??;
        micros.extend(m);
        errors += e;
    }
    Ok(Measurement::from_latencies(micros, errors, started.elapsed().as_secs_f64()))
}
