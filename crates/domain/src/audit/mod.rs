//! The audit trail: events with their before/after snapshots, the one way a service records
//! one, reading the log ([`AuditService`]), and its ports.

mod event;
mod ports;
mod recorder;
mod service;

pub use event::*;
pub use ports::*;
pub(crate) use recorder::AuditEntry;
pub use service::*;
