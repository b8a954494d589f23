//! The accountd domain: entities, value types that are valid by construction, the port
//! traits storage adapters implement, and the services that hold every rule of the product.
//!
//! Nothing here knows about SQL, HTTP or gRPC. Adapters turn wire input into the `*Input`
//! types of this crate, call `validate()` to get domain commands, and hand those to a service.
//!
//! The code lives by area, one folder each: its entities, service(s), ports and errors
//! together. Every public item is named by its root name (`accountd_domain::Account`,
//! `accountd_domain::AccountRepository`): the areas are private, so there is one way to name
//! a thing, and a move inside the crate never reaches an adapter.

#[macro_use]
mod kernel;

mod accounts;
mod aliases;
mod audit;
mod authz;
mod billing;
mod events;
mod identity;
mod mfa;
mod ports;
mod services;
#[cfg(test)]
mod test_fixtures;

#[cfg(feature = "conformance")]
pub mod conformance;

pub(crate) use kernel::text;

pub use accounts::*;
pub use aliases::*;
pub use audit::*;
pub use authz::*;
pub use billing::*;
pub use events::*;
pub use identity::*;
pub use kernel::changes::*;
pub use kernel::clock::*;
pub use kernel::email::*;
pub use kernel::error::*;
pub use kernel::id::*;
pub use kernel::idempotency::*;
pub use kernel::page::*;
pub use kernel::text::*;
pub use kernel::throttle::*;
pub use kernel::version::*;
pub use mfa::*;
pub use ports::*;
pub use services::*;
