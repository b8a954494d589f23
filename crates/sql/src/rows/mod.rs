//! Row types both stores decode, one module per area, and their conversion to domain
//! values. A row that breaks a domain rule means the database was changed behind accountd's
//! back: it is an error, never silently repaired.
//!
//! Beside each row type is the column list that reads it, as a `const`, so a statement is
//! assembled at compile time from the list and its clauses (`concatcp!`).

mod accounts;
mod aliases;
mod audit;
mod billing;
mod idempotency;
mod identity;
mod mfa;

pub(crate) use accounts::*;
pub(crate) use aliases::*;
pub(crate) use audit::*;
pub(crate) use billing::*;
pub(crate) use idempotency::*;
pub(crate) use identity::*;
pub(crate) use mfa::*;

use accountd_domain::FieldError;
use anyhow::anyhow;

pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(FieldError) -> anyhow::Error {
    move |e| anyhow!("stored {what} breaks a domain rule: {e}")
}
