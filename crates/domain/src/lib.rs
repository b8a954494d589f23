//! The accountd domain: entities, value types that are valid by construction, the port
//! traits storage adapters implement, and the services that hold every rule of the product.
//!
//! Nothing here knows about SQL, HTTP or gRPC. Adapters turn wire input into the `*Input`
//! types of this crate, call `validate()` to get domain commands, and hand those to a service.

#[macro_use]
mod macros;

pub mod account;
mod account_user_service;
pub mod alias;
mod alias_service;
pub mod audit;
mod audit_service;
pub mod clock;
pub mod email;
pub mod error;
pub mod id;
pub mod idempotency;
mod identity_error;
pub mod member;
mod member_service;
pub mod mfa;
mod mfa_service;
pub mod page;
pub mod password;
pub mod permission;
pub mod ports;
pub mod principal;
mod services;
mod services_bundle;
pub mod subscription;
mod subscription_service;
pub mod text;
pub mod token;
mod token_service;
pub mod user;
mod user_service;

#[cfg(feature = "conformance")]
pub mod conformance;

// Adapters name every item by its root name; the modules are where each rule lives.
pub use alias::*;
pub use audit::*;
pub use error::*;
pub use idempotency::*;
pub use member::*;
pub use mfa::*;
pub use ports::*;
pub use subscription::*;
pub use token::*;
pub use user::*;

pub use account::{
    Account, AccountCreated, AccountName, AccountPatch, AccountPatchInput, AccountProfile, AccountProfileInput,
    AccountService, AccountSettings, AccountStatus, AccountType, CreateAccountError, DeleteAccountError,
    GetAccountError, IfMatch, ListAccountsError, MoveAccountError, NewAccount, NewAccountInput, PrimaryAlias,
    UpdateAccountError, Version,
};
pub use account_user_service::{AccountUserService, AccountUsers};
pub use alias::{
    Alias, AliasFilter, AliasPatch, AliasPatchInput, AliasStatus, Domain, DomainName, DomainRef, DomainStatus,
    MailboxPassword, NewAlias, NewAliasInput, NewDomain, NewDomainInput, PASSWORD_NOTE, REPLAY_PASSWORD_NOTE,
};
pub use alias_service::{AliasService, AliasWithPassword, DomainService, MailboxLogin};
pub use audit::{Actor, ActorKind, AuditEvent, AuditQuery, AuditQueryInput, AuditValue, Changes, Direction, Snapshot};
pub use audit_service::AuditService;
pub use clock::{Clock, IdGenerator, SystemClock, UuidV7Generator};
pub use email::EmailAddress;
pub use error::{ErrorKind, FieldError, HasErrorKind, StoreContention, StoreUnavailable, ValidationErrors};
pub use id::{AccountId, AliasId, AuditEventId, DomainId, FactorId, SubscriptionId, TokenId, UserId};
pub use idempotency::{Created, IdempotencyKey, WithSecret};
pub use identity_error::IdentityError;
pub use member_service::{MemberRef, MemberService, parse_roles};
pub use mfa::{KeySealer, SealingKey, SecretSealer};
pub use mfa_service::{Enrolment, MAX_FACTORS, MfaService, MfaStatus, TotpSetup};
pub use page::{Cursor, Page, PageRequest, PageSize};
pub use password::Argon2idHasher;
pub use permission::{Permission, PermissionSet, Role};
pub use principal::{Principal, RequestInfo};
pub use services::AccessError;
pub use services_bundle::Services;
pub use subscription_service::SubscriptionService;
pub use token_service::{AuthError, Authenticator, IssuedToken, TokenService};
pub use user_service::{Bootstrapped, MyPermissions, UserService};
