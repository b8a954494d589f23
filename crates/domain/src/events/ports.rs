//! The port the feed reads: events in commit order, never one before its predecessors.

use async_trait::async_trait;

use crate::{FeedEvent, FeedFilter, FeedPosition};

/// Reading the audit trail as a feed.
#[async_trait]
pub trait EventFeed: Send + Sync {
    /// At most `limit` events matching `filter`, strictly after `after`, in ascending
    /// [`FeedPosition`] order.
    ///
    /// **Never skip, never reorder.** An adapter MUST return an event only when every event
    /// that will ever have a smaller position is already committed and visible, so a
    /// follower that resumes after the last position it received can never miss one that
    /// commits late: positions follow commit order (PostgreSQL: the writing transaction's
    /// id, returned only below the oldest transaction still running; SQLite: the database
    /// write lock serializes writers, so a sequence taken under it is commit order). An
    /// event's position never changes. Events of a transaction are in the order it
    /// appended them. The error is the store's (unreachable: `StoreUnavailable`).
    async fn feed_events(&self, after: FeedPosition, filter: &FeedFilter, limit: u32)
    -> anyhow::Result<Vec<FeedEvent>>;

    /// The position of the last settled event (one [`EventFeed::feed_events`] could
    /// return), whatever its account or type; [`FeedPosition::START`] when there is none.
    /// Every event at or before it is committed and visible once this returns.
    async fn feed_head(&self) -> anyhow::Result<FeedPosition>;
}
