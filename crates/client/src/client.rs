//! [`Client`] and its [`ClientBuilder`]: one channel, one bearer token, the per-call timeout
//! and the retry policy, and a method per call with its retry rule.

use std::fmt;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use tonic::metadata::{AsciiMetadataValue, MetadataValue};
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::{Channel, Endpoint};
use tonic::{Request, Response, Status};

use crate::authorize::{self, Check, Decision, Subject};
use crate::pb;
use crate::pb::account_service_client::AccountServiceClient;
use crate::pb::authorization_service_client::AuthorizationServiceClient;
use crate::pb::member_service_client::MemberServiceClient;
use crate::pb::token_service_client::TokenServiceClient;
use crate::pb::user_service_client::UserServiceClient;
use crate::retry::{self, Idempotence};
use crate::{Error, RetryPolicy};

/// A channel whose every request carries the client's bearer token.
pub type Authed = InterceptedService<Channel, Bearer>;

/// The interceptor adding `authorization: Bearer <token>` to every request; the value is
/// marked sensitive and `Debug` shows no part of it.
#[derive(Clone)]
pub struct Bearer(Option<AsciiMetadataValue>);

impl Bearer {
    fn new(token: &SecretString) -> Result<Self, Error> {
        let mut value: AsciiMetadataValue = format!("Bearer {}", token.expose_secret())
            .parse()
            .map_err(|_| Error::Invalid { message: "the token is not visible ASCII".into(), fields: vec![] })?;
        value.set_sensitive(true);
        Ok(Self(Some(value)))
    }
}

impl fmt::Debug for Bearer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Bearer([REDACTED])")
    }
}

impl Interceptor for Bearer {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(value) = &self.0 {
            request.metadata_mut().insert("authorization", value.clone());
        }
        Ok(request)
    }
}

/// Settings of a [`Client`] before it connects.
///
/// ```no_run
/// use std::time::Duration;
/// use accountd_client::{Client, RetryPolicy};
///
/// # async fn example() -> Result<(), accountd_client::Error> {
/// let client = Client::builder("http://accountd.internal:50051")
///     .token(std::env::var("ACCOUNTD_TOKEN").unwrap_or_default().into())
///     .timeout(Duration::from_secs(2))
///     .connect_timeout(Duration::from_secs(1))
///     .retry(RetryPolicy::default().max_attempts(4))
///     .connect()
///     .await?;
/// # let _ = client; Ok(()) }
/// ```
#[derive(Debug)]
pub struct ClientBuilder {
    endpoint: String,
    token: Option<SecretString>,
    settings: Settings,
    connect_timeout: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Settings {
    timeout: Duration,
    retry: RetryPolicy,
}

impl ClientBuilder {
    /// The bearer token sent with every call (a platform token with `authz:check` for a
    /// product that only asks for decisions). Without one, calls are unauthenticated.
    pub fn token(self, token: SecretString) -> Self {
        Self { token: Some(token), ..self }
    }

    /// How long one attempt of a call may take (default 10 s). An attempt past it is
    /// dropped, which resets its HTTP/2 stream so the server stops working on it. (Not sent
    /// as `grpc-timeout`: tonic would then end the call itself as CANCELLED, hiding the
    /// timeout.)
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.settings.timeout = timeout;
        self
    }

    /// How long opening the connection may take (default 5 s).
    pub fn connect_timeout(self, timeout: Duration) -> Self {
        Self { connect_timeout: timeout, ..self }
    }

    /// Which calls are tried again, how often (default [`RetryPolicy::default`]).
    pub fn retry(mut self, policy: RetryPolicy) -> Self {
        self.settings.retry = policy;
        self
    }

    /// Opens the connection; fails when the endpoint cannot be reached in time.
    pub async fn connect(self) -> Result<Client, Error> {
        let endpoint = Endpoint::from_shared(self.endpoint.clone())
            .map_err(|e| Error::Endpoint { endpoint: self.endpoint.clone(), message: e.to_string() })?
            .connect_timeout(self.connect_timeout);
        let channel =
            endpoint.connect().await.map_err(|source| Error::Connect { endpoint: self.endpoint.clone(), source })?;
        // Without a token the interceptor adds nothing.
        let bearer = match &self.token {
            Some(token) => Bearer::new(token)?,
            None => Bearer(None),
        };
        Ok(Client { channel, bearer, settings: Arc::new(self.settings) })
    }
}

/// A connection to accountd's gRPC API. Cheap to clone; clones share the connection.
///
/// Methods sort calls by whether they may be sent twice: reads, [`authorize`](Self::authorize)
/// and creates are retried after UNAVAILABLE or a timeout (a create sends one generated
/// `idempotency-key` with every attempt, so the server applies it once); updates and deletes
/// are sent once. The generated service clients ([`accounts`](Self::accounts), …) reach every
/// other RPC, with the token attached but without retries.
///
/// ```no_run
/// use accountd_client::{Check, Client, Subject};
///
/// # async fn example(customer_token: secrecy::SecretString, account_id: &str) -> Result<(), accountd_client::Error> {
/// let client = Client::connect("http://localhost:50051", "acd_service_token".into()).await?;
/// let decision = client
///     .authorize(Subject::token(customer_token).from_ip("203.0.113.7".parse().unwrap()), [Check::new(account_id, "aliases:write")])
///     .await?;
/// if decision.allowed(account_id, "aliases:write") {
///     // serve the request
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct Client {
    channel: Channel,
    bearer: Bearer,
    settings: Arc<Settings>,
}

/// The answer to a create, and whether the server replayed an earlier attempt's answer
/// (`idempotent-replayed`): then a secret shown once on creation (a token's value) is empty.
#[derive(Debug, Clone, PartialEq)]
pub struct Created<T> {
    pub value: T,
    pub replayed: bool,
}

impl Client {
    /// Settings for a client of `endpoint` (`http://host:port`).
    pub fn builder(endpoint: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            endpoint: endpoint.into(),
            token: None,
            settings: Settings { timeout: Duration::from_secs(10), retry: RetryPolicy::default() },
            connect_timeout: Duration::from_secs(5),
        }
    }

    /// A client of `endpoint` sending `token`, with the default timeouts and retry policy.
    pub async fn connect(endpoint: impl Into<String>, token: SecretString) -> Result<Self, Error> {
        Self::builder(endpoint).token(token).connect().await
    }

    fn authed(&self) -> Authed {
        InterceptedService::new(self.channel.clone(), self.bearer.clone())
    }

    /// AccountService, token attached, no retries.
    pub fn accounts(&self) -> AccountServiceClient<Authed> {
        AccountServiceClient::new(self.authed())
    }

    /// MemberService, token attached, no retries.
    pub fn members(&self) -> MemberServiceClient<Authed> {
        MemberServiceClient::new(self.authed())
    }

    /// TokenService, token attached, no retries.
    pub fn tokens(&self) -> TokenServiceClient<Authed> {
        TokenServiceClient::new(self.authed())
    }

    /// UserService, token attached, no retries.
    pub fn users(&self) -> UserServiceClient<Authed> {
        UserServiceClient::new(self.authed())
    }

    /// AuthorizationService, token attached, no retries.
    pub fn authorization(&self) -> AuthorizationServiceClient<Authed> {
        AuthorizationServiceClient::new(self.authed())
    }

    /// Sends `message` by `send` under the call's rule: every attempt runs under the per-call
    /// timeout, and every attempt of a create carries its one idempotency key; see
    /// [`retry::run`].
    async fn call<M, T, F, Fut>(&self, rule: Rule, message: M, send: F) -> Result<Response<T>, Error>
    where
        M: Clone,
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let key: Option<AsciiMetadataValue> = (rule == Rule::Create)
            .then(|| MetadataValue::try_from(uuid::Uuid::new_v4().to_string()).expect("a UUID is visible ASCII"));
        let idempotence = if rule == Rule::Once { Idempotence::Once } else { Idempotence::Idempotent };
        let Settings { timeout, retry } = *self.settings;
        retry::run(&retry, idempotence, timeout, || {
            let mut request = Request::new(message.clone());
            if let Some(key) = &key {
                request.metadata_mut().insert("idempotency-key", key.clone());
            }
            send(request)
        })
        .await
    }

    async fn create<M: Clone, T, F, Fut>(&self, message: M, send: F) -> Result<Created<T>, Error>
    where
        F: Fn(Request<M>) -> Fut,
        Fut: Future<Output = Result<Response<T>, Status>>,
    {
        let response = self.call(Rule::Create, message, send).await?;
        let replayed = response.metadata().get("idempotent-replayed").is_some_and(|v| v == "true");
        Ok(Created { value: response.into_inner(), replayed })
    }

    /// Asks whether `subject` may do each check (`AuthorizationService/Check`, needs the
    /// root permission `authz:check`). Retried: a decision changes nothing.
    pub async fn authorize(
        &self,
        subject: Subject,
        checks: impl IntoIterator<Item = Check>,
    ) -> Result<Decision, Error> {
        let request = authorize::request(subject, checks);
        let answer = self.call(Rule::Read, request, |r| async move { self.authorization().check(r).await }).await?;
        Ok(answer.into_inner().into())
    }

    /// One account. Retried.
    pub async fn get_account(&self, account_id: &str) -> Result<pb::Account, Error> {
        let request = pb::GetAccountRequest { account_id: account_id.into() };
        let answer = self.call(Rule::Read, request, |r| async move { self.accounts().get_account(r).await }).await?;
        answer.into_inner().account.ok_or_else(|| missing("account"))
    }

    /// A page of accounts. Retried.
    pub async fn list_accounts(&self, request: pb::ListAccountsRequest) -> Result<pb::ListAccountsResponse, Error> {
        let answer = self.call(Rule::Read, request, |r| async move { self.accounts().list_accounts(r).await }).await?;
        Ok(answer.into_inner())
    }

    /// Creates an account. Retried with one idempotency key: applied once.
    pub async fn create_account(&self, request: pb::CreateAccountRequest) -> Result<Created<pb::Account>, Error> {
        let created = self.create(request, |r| async move { self.accounts().create_account(r).await }).await?;
        let account = created.value.account.ok_or_else(|| missing("account"))?;
        Ok(Created { value: account, replayed: created.replayed })
    }

    /// Updates an account. Sent once.
    pub async fn update_account(&self, request: pb::UpdateAccountRequest) -> Result<pb::Account, Error> {
        let answer = self.call(Rule::Once, request, |r| async move { self.accounts().update_account(r).await }).await?;
        answer.into_inner().account.ok_or_else(|| missing("account"))
    }

    /// Deletes an account. Sent once.
    pub async fn delete_account(&self, request: pb::DeleteAccountRequest) -> Result<(), Error> {
        self.call(Rule::Once, request, |r| async move { self.accounts().delete_account(r).await }).await?;
        Ok(())
    }

    /// The members of an account. Retried.
    pub async fn list_members(
        &self,
        request: pb::ListAccountMembersRequest,
    ) -> Result<pb::ListAccountMembersResponse, Error> {
        let answer =
            self.call(Rule::Read, request, |r| async move { self.members().list_account_members(r).await }).await?;
        Ok(answer.into_inner())
    }

    /// Adds a member (or invites one by email). Retried with one idempotency key.
    pub async fn add_member(&self, request: pb::AddAccountMemberRequest) -> Result<Created<pb::AccountMember>, Error> {
        let created = self.create(request, |r| async move { self.members().add_account_member(r).await }).await?;
        let member = created.value.member.ok_or_else(|| missing("member"))?;
        Ok(Created { value: member, replayed: created.replayed })
    }

    /// Removes a member. Sent once.
    pub async fn delete_member(&self, request: pb::DeleteAccountMemberRequest) -> Result<(), Error> {
        self.call(Rule::Once, request, |r| async move { self.members().delete_account_member(r).await }).await?;
        Ok(())
    }

    /// The tokens of an account. Retried.
    pub async fn list_tokens(&self, request: pb::ListTokensRequest) -> Result<pb::ListTokensResponse, Error> {
        let answer = self.call(Rule::Read, request, |r| async move { self.tokens().list_tokens(r).await }).await?;
        Ok(answer.into_inner())
    }

    /// Issues a token; its secret is `value`, shown once (empty when `replayed`). Retried
    /// with one idempotency key.
    pub async fn create_token(
        &self,
        request: pb::CreateTokenRequest,
    ) -> Result<Created<pb::CreateTokenResponse>, Error> {
        self.create(request, |r| async move { self.tokens().create_token(r).await }).await
    }

    /// Deletes a token. Sent once.
    pub async fn delete_token(&self, request: pb::DeleteTokenRequest) -> Result<(), Error> {
        self.call(Rule::Once, request, |r| async move { self.tokens().delete_token(r).await }).await?;
        Ok(())
    }

    /// The caller: its user, factors and memberships. Retried.
    pub async fn me(&self) -> Result<pb::GetMeResponse, Error> {
        let answer =
            self.call(Rule::Read, pb::GetMeRequest {}, |r| async move { self.users().get_me(r).await }).await?;
        Ok(answer.into_inner())
    }

    /// One user. Retried.
    pub async fn get_user(&self, user_id: &str) -> Result<pb::User, Error> {
        let request = pb::GetUserRequest { user_id: user_id.into() };
        let answer = self.call(Rule::Read, request, |r| async move { self.users().get_user(r).await }).await?;
        answer.into_inner().user.ok_or_else(|| missing("user"))
    }

    /// Creates a user. Retried with one idempotency key.
    pub async fn create_user(&self, request: pb::CreateUserRequest) -> Result<Created<pb::User>, Error> {
        let created = self.create(request, |r| async move { self.users().create_user(r).await }).await?;
        let user = created.value.user.ok_or_else(|| missing("user"))?;
        Ok(Created { value: user, replayed: created.replayed })
    }
}

/// Whether a call may be sent more than once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rule {
    /// Changes nothing: retried.
    Read,
    /// Creates, with an idempotency key: retried, applied once.
    Create,
    /// Updates and deletes: sent once.
    Once,
}

fn missing(what: &str) -> Error {
    Error::Other { code: tonic::Code::Internal, message: format!("the answer has no {what}") }
}
