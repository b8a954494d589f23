//! Accounts (tenants): the entity and its value types, the commands that change it, the
//! [`AccountService`] that enforces their rules (one error enum per operation), and its ports.

mod account;
mod ports;
mod service;

pub use account::*;
pub use ports::*;
pub use service::*;
