//! Managed domains and email aliases: their value types, mailbox passwords and their hashing,
//! [`DomainService`], [`AliasService`] with mailbox authentication, and their ports.

mod alias;
mod errors;
mod password;
mod ports;
mod service;

pub use alias::*;
pub use errors::*;
pub use password::*;
pub use ports::*;
pub use service::*;
