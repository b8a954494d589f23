//! The event feed: every committed change, in commit order, for products that keep copies
//! (issue 13). The audit trail is the outbox: each change appends its audit event in its
//! own transaction, and the feed hands those events out once nothing before them can still
//! commit, each with an opaque [`EventCursor`] to resume from.

mod feed;
mod ports;
mod service;

pub use feed::*;
pub use ports::*;
pub use service::*;
