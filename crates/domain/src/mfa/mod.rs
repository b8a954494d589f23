//! Multi-factor authentication: TOTP factors and their sealed secrets, the caller's own
//! factors ([`MfaService`]), seed 002's account users with reset-MFA ([`AccountUserService`]),
//! and their ports.

mod account_users;
mod errors;
mod factor;
mod ports;
mod service;

pub use account_users::*;
pub use errors::*;
pub use factor::*;
pub use ports::*;
pub use service::*;
