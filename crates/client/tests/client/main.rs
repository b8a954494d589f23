//! accountd-client against the real accountd gRPC server, served in process on a loopback
//! port over a fresh SQLite database (as the gRPC suite serves it).

mod authorize;
mod retries;
mod secrets_and_timeouts;
mod unavailable;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::task::{Context, Poll};

use accountd_client::{Client, RetryPolicy, SecretString, pb};
use accountd_testkit::Backend;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::body::Body;
use tonic::transport::Server;
use tower::Service;

/// The server on a loopback port, and what its [`LoseAnswer`] layer saw.
#[derive(Debug)]
pub struct TestServer {
    pub endpoint: String,
    pub root_token: String,
    /// How many requests reached the RPC whose answer is lost (see [`spawn_losing`]).
    pub reached: Arc<AtomicU32>,
    _dir: accountd_testkit::TempDir,
}

impl TestServer {
    /// A client sending `token`, quick to retry.
    pub async fn client_with(&self, token: &str) -> Client {
        Client::builder(&self.endpoint)
            .token(SecretString::from(token.to_owned()))
            .retry(quick_retries())
            .connect()
            .await
            .expect("connect")
    }

    /// A client sending the bootstrap root user's token.
    pub async fn root(&self) -> Client {
        self.client_with(&self.root_token).await
    }
}

/// Three attempts, a few milliseconds apart.
pub fn quick_retries() -> RetryPolicy {
    let ms = std::time::Duration::from_millis;
    RetryPolicy::default().max_attempts(3).backoff(ms(5), ms(20))
}

pub async fn spawn_server() -> TestServer {
    spawn_losing(None).await
}

/// The server, whose first answer to the RPC at `path` (e.g.
/// `/accountd.v1.AccountService/CreateAccount`) is lost after the server handled the call:
/// the client gets UNAVAILABLE instead, as when a connection drops before the answer.
pub async fn spawn_losing(path: Option<&'static str>) -> TestServer {
    serve(accountd_testkit::fresh(Backend::Sqlite).await, path).await
}

/// The server over a fixture's services, losing the first answer at `path` if any.
pub async fn serve(fixture: accountd_testkit::Fixture, path: Option<&'static str>) -> TestServer {
    let accountd_testkit::Fixture { root_token, dir, services, .. } = fixture;
    let routes = accountd_grpc::routes(services).await.expect("routes");
    let reached = Arc::new(AtomicU32::new(0));
    let (armed, seen) = (Arc::new(AtomicBool::new(true)), reached.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        Server::builder()
            .layer(tower::layer::layer_fn(move |inner| LoseAnswer {
                inner,
                path,
                armed: armed.clone(),
                reached: seen.clone(),
            }))
            .add_routes(routes)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("grpc server");
    });
    TestServer { endpoint: format!("http://{addr}"), root_token, reached, _dir: dir }
}

/// A tower middleware that lets the server handle the call at `path`, then throws its first
/// answer away and answers UNAVAILABLE.
#[derive(Debug, Clone)]
struct LoseAnswer<S> {
    inner: S,
    path: Option<&'static str>,
    armed: Arc<AtomicBool>,
    reached: Arc<AtomicU32>,
}

type Answer<E> = Pin<Box<dyn Future<Output = Result<http::Response<Body>, E>> + Send>>;

impl<S, B> Service<http::Request<B>> for LoseAnswer<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Answer<S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        let watched = self.path.is_some_and(|p| request.uri().path() == p);
        if watched {
            self.reached.fetch_add(1, Ordering::SeqCst);
        }
        let lose = watched && self.armed.swap(false, Ordering::SeqCst);
        // The clone that was made ready is the one that must serve.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        Box::pin(async move {
            let answer = inner.call(request).await?;
            if lose {
                drop(answer);
                return Ok(tonic::Status::unavailable("the answer was lost on the way").into_http());
            }
            Ok(answer)
        })
    }
}

/// A user created by the root user.
pub async fn create_user(client: &Client, email: &str) -> String {
    let request = pb::CreateUserRequest { email: email.into(), ..Default::default() };
    client.create_user(request).await.expect("create user").value.id
}
