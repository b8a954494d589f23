//! Keyset pagination as every listing does it: rows after the cursor's id, one more than
//! the page holds, so the extra row says whether a next page exists.

use accountd_domain::{Page, PageRequest};
use uuid::Uuid;

/// The `LIMIT` of a page's query: its size and one more.
pub(crate) fn limit(page: PageRequest) -> i64 {
    i64::from(page.size.get()) + 1
}

/// The id a page starts after: the cursor's, or the nil id for the first page.
pub(crate) fn after(page: PageRequest) -> Uuid {
    page.after.map_or(Uuid::nil(), |c| c.key())
}

/// The page of domain values the over-fetched `rows` hold, keyed for the next cursor by `key`.
pub(crate) fn page_of<R, T>(rows: Vec<R>, page: PageRequest, key: impl Fn(&T) -> Uuid) -> anyhow::Result<Page<T>>
where
    T: TryFrom<R, Error = anyhow::Error>,
{
    let items = rows.into_iter().map(T::try_from).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(Page::from_overfetch(items, page.size, key))
}
