//! Billing: the rate-plan catalogue, subscriptions and their state machine
//! ([`SubscriptionService`]), and their ports.

mod ports;
mod service;
mod subscription;

pub use ports::*;
pub use service::*;
pub use subscription::*;
