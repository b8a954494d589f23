//! `accountd-client`: a typed async client of accountd's gRPC API, for products that
//! delegate *who may do what* to accountd.
//!
//! - [`Client::authorize`] asks `AuthorizationService/Check` whether a token a customer
//!   presented (or a user) may do permissions on accounts, and answers a [`Decision`].
//! - Typed methods for accounts, members, tokens and users; the generated service clients
//!   ([`Client::accounts`], …) for every other RPC, with the token attached.
//! - Token auth: the bearer token is a [`secrecy::SecretString`]; no `Debug` shows it.
//! - A per-call timeout (each attempt) and a connect timeout.
//! - Retries of idempotent calls only ([`RetryPolicy`]): reads, `authorize`, and creates,
//!   which carry one generated `idempotency-key` over every attempt so the server applies
//!   them once. Updates and deletes are sent once.
//! - [`Error`] keeps the gRPC code's meaning, the message and a bad request's fields.
//!
//! # Codegen
//!
//! The client compiles the same `proto/accountd/v1/*.proto` files as the server, in its own
//! build script (protox, no system protoc), generating client stubs only. It does not reuse
//! `accountd-grpc`'s generated code because that crate depends on the domain and, through
//! it, on the whole server; a product linking the client links no server code.
//!
//! # Example
//!
//! ```no_run
//! use accountd_client::{Check, Client, Subject};
//!
//! # async fn example() -> Result<(), accountd_client::Error> {
//! let accountd = Client::connect("http://localhost:50051", "acd_service_token".into()).await?;
//! let customer = Subject::token("acd_customer_token".into()).from_ip("203.0.113.7".parse().unwrap());
//! let decision = accountd.authorize(customer, [Check::new("0190…", "aliases:write")]).await?;
//! if !decision.allowed("0190…", "aliases:write") {
//!     // answer 403
//! }
//! # Ok(()) }
//! ```

mod authorize;
mod client;
mod error;
mod redact;
mod retry;

pub use authorize::{Check, CheckResult, Decision, DecisionSubject, Subject};
pub use client::{Authed, Bearer, Client, ClientBuilder, Created};
pub use error::{Error, FieldViolation};
pub use retry::RetryPolicy;
pub use secrecy::SecretString;

/// Generated protobuf messages and client stubs of package `accountd.v1`.
pub mod pb {
    #![allow(missing_debug_implementations, clippy::all)]
    tonic::include_proto!("accountd.v1");
}
