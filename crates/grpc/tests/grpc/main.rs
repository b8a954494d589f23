//! gRPC tests: the real tonic server on a loopback port over a fresh SQLite database.

mod accounts;

use std::sync::Arc;

use accountd_domain::ports::Store;
use accountd_domain::{AccountService, SystemClock, UuidV7Generator};
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use accountd_grpc::{GrpcState, routes};
use accountd_sqlite::SqliteStore;
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::transport::{Channel, Server};

#[derive(Debug)]
pub struct TestServer {
    pub channel: Channel,
    pub store: Arc<dyn Store>,
    _dir: tempfile::TempDir,
}

impl TestServer {
    pub fn accounts(&self) -> AccountServiceClient<Channel> {
        AccountServiceClient::new(self.channel.clone())
    }
}

pub async fn spawn_server() -> TestServer {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = SqliteStore::connect(&dir.path().join("grpc.db").to_string_lossy()).await.expect("open sqlite");
    store.migrate().await.expect("migrate");
    let store: Arc<dyn Store> = Arc::new(store);
    let accounts = AccountService::new(store.clone(), Arc::new(SystemClock), Arc::new(UuidV7Generator));
    let routes = routes(GrpcState { accounts }).await.expect("routes");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        Server::builder()
            .add_routes(routes)
            .serve_with_incoming(TcpListenerStream::new(listener))
            .await
            .expect("grpc server");
    });
    let channel = Channel::from_shared(format!("http://{addr}")).expect("uri").connect().await.expect("connect");
    TestServer { channel, store, _dir: dir }
}
