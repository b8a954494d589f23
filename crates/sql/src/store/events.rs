//! The [`EventFeed`]: the audit trail in commit order (migration 0012 and the dialect's
//! `FEED_*` items say how each database keeps it).

use accountd_domain::{EventFeed, FeedEvent, FeedFilter, FeedPosition};
use async_trait::async_trait;
use const_format::concatcp;

use super::{SqlStore, dialect};
use crate::Context as _;
use crate::rows::{FeedRow, SELECT_FEED_EVENTS};

/// After the position (`$1`, `$2`), at or after `$3`, of the types in `$4`.
const AFTER: &str = "WHERE (xact_id, seq) > ($1, $2) AND ($3 IS NULL OR occurred_at >= $3)";
const ORDER: &str = " ORDER BY xact_id, seq LIMIT $5";

const ALL: &str = concatcp!(SELECT_FEED_EVENTS, AFTER, dialect::FEED_SETTLED, dialect::FEED_TYPES, ORDER);
const OF_ACCOUNT: &str =
    concatcp!(SELECT_FEED_EVENTS, AFTER, " AND account_id = $6", dialect::FEED_SETTLED, dialect::FEED_TYPES, ORDER);

const HEAD: &str = concatcp!(
    "SELECT xact_id, seq FROM audit_events WHERE 1 = 1",
    dialect::FEED_SETTLED,
    " ORDER BY xact_id DESC, seq DESC LIMIT 1"
);

#[async_trait]
impl EventFeed for SqlStore {
    async fn feed_events(
        &self,
        after: FeedPosition,
        filter: &FeedFilter,
        limit: u32,
    ) -> anyhow::Result<Vec<FeedEvent>> {
        let query = sqlx::query_as::<_, FeedRow>(if filter.account_id.is_some() { OF_ACCOUNT } else { ALL })
            .bind(after.xact)
            .bind(after.seq)
            .bind(filter.since)
            .bind(filter.types.names().join(","))
            .bind(i64::from(limit));
        let query = match filter.account_id {
            Some(id) => query.bind(id.as_uuid()),
            None => query,
        };
        let rows = query.fetch_all(&self.pool).await.context("reading the event feed")?;
        rows.into_iter().map(FeedEvent::try_from).collect()
    }

    async fn feed_head(&self) -> anyhow::Result<FeedPosition> {
        let head: Option<(i64, i64)> =
            sqlx::query_as(HEAD).fetch_optional(&self.pool).await.context("reading the event feed's head")?;
        Ok(head.map_or(FeedPosition::START, |(xact, seq)| FeedPosition { xact, seq }))
    }
}
