//! gRPC tests: the real tonic server on a loopback port over a fresh SQLite database.

mod account_users;
mod accounts;
mod aliases;
mod audit;
mod auth;
mod authorize;
mod authz_model;
mod authz_rules;
/// The authorization model's table, shared with the REST suite.
#[path = "../../../rest/tests/api/authz_table.rs"]
mod authz_table;
mod events;
mod factor_and_replay_rules;
mod idempotency;
mod identity;
mod matrix;
mod mfa;
mod text_input;
mod unavailable;

use std::sync::Arc;

use accountd_domain::{Services, Store};
use accountd_grpc::pb::account_service_client::AccountServiceClient;
use accountd_grpc::pb::alias_service_client::AliasServiceClient;
use accountd_grpc::pb::audit_service_client::AuditServiceClient;
use accountd_grpc::pb::domain_service_client::DomainServiceClient;
use accountd_grpc::pb::member_service_client::MemberServiceClient;
use accountd_grpc::pb::subscription_service_client::SubscriptionServiceClient;
use accountd_grpc::pb::token_service_client::TokenServiceClient;
use accountd_grpc::pb::user_service_client::UserServiceClient;
use accountd_grpc::{pb, routes};
use accountd_testkit::Fixture;
pub use accountd_testkit::{BACKENDS, Backend, trail};
use tokio::net::TcpListener;
use tokio_stream::wrappers::TcpListenerStream;
use tonic::metadata::{AsciiMetadataValue, MetadataKey};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Server};
use tonic_types::StatusExt;

#[derive(Debug)]
pub struct TestServer {
    pub channel: Channel,
    pub store: Arc<dyn Store>,
    pub services: Services,
    /// The bootstrap root user's platform token, which the default clients send.
    pub root_token: String,
    _dir: accountd_testkit::TempDir,
}

/// A client channel that sends one credential with every call.
pub type Authed = InterceptedService<Channel, Credential>;

/// Adds a credential to every request of a client: what a real client's interceptor does.
#[derive(Debug, Clone)]
pub struct Credential {
    key: MetadataKey<tonic::metadata::Ascii>,
    value: AsciiMetadataValue,
}

impl Credential {
    /// `authorization: Bearer <secret>`.
    pub fn bearer(secret: &str) -> Self {
        Self::raw("authorization", &format!("Bearer {secret}"))
    }

    /// Any metadata entry, e.g. `x-api-key` or a malformed `authorization`.
    pub fn raw(key: &'static str, value: &str) -> Self {
        Self { key: MetadataKey::from_static(key), value: value.parse().expect("ascii metadata") }
    }
}

impl Interceptor for Credential {
    fn call(&mut self, mut request: tonic::Request<()>) -> Result<tonic::Request<()>, tonic::Status> {
        request.metadata_mut().insert(self.key.clone(), self.value.clone());
        Ok(request)
    }
}

impl TestServer {
    /// DomainService with `credential`.
    pub fn domains_with(&self, credential: Credential) -> DomainServiceClient<Authed> {
        DomainServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// AliasService with `credential`.
    pub fn aliases_with(&self, credential: Credential) -> AliasServiceClient<Authed> {
        AliasServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// SubscriptionService with `credential`.
    pub fn subscriptions_with(&self, credential: Credential) -> SubscriptionServiceClient<Authed> {
        SubscriptionServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// AuditService with `credential`.
    pub fn audit_with(&self, credential: Credential) -> AuditServiceClient<Authed> {
        AuditServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// AccountService as the root user.
    pub fn accounts(&self) -> AccountServiceClient<Authed> {
        self.accounts_with(Credential::bearer(&self.root_token))
    }

    pub fn accounts_with(&self, credential: Credential) -> AccountServiceClient<Authed> {
        AccountServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// UserService as the root user.
    pub fn users(&self) -> UserServiceClient<Authed> {
        self.users_with(Credential::bearer(&self.root_token))
    }

    pub fn users_with(&self, credential: Credential) -> UserServiceClient<Authed> {
        UserServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// MemberService as the root user.
    pub fn members(&self) -> MemberServiceClient<Authed> {
        self.members_with(Credential::bearer(&self.root_token))
    }

    pub fn members_with(&self, credential: Credential) -> MemberServiceClient<Authed> {
        MemberServiceClient::with_interceptor(self.channel.clone(), credential)
    }

    /// TokenService as the root user.
    pub fn tokens(&self) -> TokenServiceClient<Authed> {
        self.tokens_with(Credential::bearer(&self.root_token))
    }

    pub fn tokens_with(&self, credential: Credential) -> TokenServiceClient<Authed> {
        TokenServiceClient::with_interceptor(self.channel.clone(), credential)
    }
}

/// The fields named by the status's BadRequest details.
pub fn violated_fields(status: &tonic::Status) -> Vec<String> {
    status
        .get_details_bad_request()
        .map(|b| b.field_violations.into_iter().map(|v| v.field).collect())
        .unwrap_or_default()
}

/// An account created by the root user, which owns it.
pub async fn create_account(server: &TestServer, name: &str) -> pb::Account {
    let request = pb::CreateAccountRequest { name: name.into(), ..Default::default() };
    server.accounts().create_account(request).await.expect("create account").into_inner().account.expect("account")
}

/// A user created by the root user.
pub async fn create_user(server: &TestServer, email: &str) -> pb::User {
    let request = pb::CreateUserRequest { email: email.into(), ..Default::default() };
    server.users().create_user(request).await.expect("create user").into_inner().user.expect("user")
}

/// Makes `user_id` a member of `account_id` with `role`, effective at once.
pub async fn put_member(server: &TestServer, account_id: &str, user_id: &str, role: &str) -> pb::AccountMember {
    let request = pb::PutAccountMemberRequest {
        account_id: account_id.into(),
        user_id: user_id.into(),
        role: role.into(),
        ..Default::default()
    };
    server.members().put_account_member(request).await.expect("put member").into_inner().member.expect("member")
}

/// A token under `account_id` for `user_id` with the default policy, issued by the root
/// user; returns it with its secret.
pub async fn issue_token(server: &TestServer, account_id: &str, user_id: &str) -> (pb::Token, String) {
    let request = pb::CreateTokenRequest {
        account_id: account_id.into(),
        user_id: user_id.into(),
        name: Some(format!("token of {user_id}")),
        ..Default::default()
    };
    let created = server.tokens().create_token(request).await.expect("create token").into_inner();
    (created.token.expect("token"), created.value)
}

pub async fn spawn_server() -> TestServer {
    spawn_server_on(Backend::Sqlite).await
}

/// The server over a fresh database of `backend`.
pub async fn spawn_server_on(backend: Backend) -> TestServer {
    serve(accountd_testkit::fresh(backend).await).await
}

/// The server over a fixture's store and services, on a loopback port.
pub async fn serve(fixture: Fixture) -> TestServer {
    let Fixture { store, services, root_token, dir } = fixture;
    let routes = routes(services.clone()).await.expect("routes");
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
    TestServer { channel, store, services, root_token, _dir: dir }
}
