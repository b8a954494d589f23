//! The shared kernel every area builds on: ids, pages, errors, the clock, email addresses,
//! free text, versions, idempotent creation, the brute-force throttle and the announcement
//! of committed changes. The crate root
//! re-exports the items of each, and the module `text` itself (its functions read best
//! qualified: `text::clean`).

#[macro_use]
mod macros;

pub mod changes;
pub mod clock;
pub mod email;
pub mod error;
pub mod id;
pub mod idempotency;
pub mod page;
pub mod text;
pub mod throttle;
pub mod version;
