//! Keyset pagination: a page size, an opaque cursor naming the last item of the previous
//! page, and pages that say whether more follow. A deep page costs what the first one does.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use uuid::Uuid;

use crate::{Collector, FieldError, ValidationErrors};

/// Items per page: 1–1000, 50 when the client does not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageSize(u32);

impl PageSize {
    pub const DEFAULT: u32 = 50;
    pub const MAX: u32 = 1000;

    /// `None` and, as in proto3 where an unset int is 0, nothing else, means the default.
    pub fn parse(input: Option<i64>) -> Result<Self, FieldError> {
        match input {
            None => Ok(Self(Self::DEFAULT)),
            Some(n) if (1..=i64::from(Self::MAX)).contains(&n) => Ok(Self(n as u32)),
            Some(_) => Err(FieldError::new("page_size", "out_of_range", "must be between 1 and 1000")),
        }
    }

    pub fn get(&self) -> u32 {
        self.0
    }
}

/// Where the previous page ended: the sort key of its last item. Clients see it only as an
/// opaque `page_token`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor(Uuid);

impl Cursor {
    /// Version tag inside the token, so the format can change without misreading old tokens.
    const TAG: u8 = 1;

    pub fn after(key: Uuid) -> Self {
        Self(key)
    }

    pub fn key(&self) -> Uuid {
        self.0
    }

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(17);
        bytes.push(Self::TAG);
        bytes.extend_from_slice(self.0.as_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a token produced by [`Cursor::encode`]; the error names the field `page_token`.
    pub fn decode(token: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new("page_token", "invalid_page_token", "is not a page token this service issued");
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
        match bytes.split_first() {
            Some((&Self::TAG, rest)) => Uuid::from_slice(rest).map(Self).map_err(|_| invalid()),
            _ => Err(invalid()),
        }
    }
}

/// A validated page request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PageRequest {
    pub size: PageSize,
    pub after: Option<Cursor>,
}

impl PageRequest {
    /// Validates the wire fields `page_size` and `page_token`; an empty token means the first page.
    pub fn parse(page_size: Option<i64>, page_token: Option<&str>) -> Result<Self, ValidationErrors> {
        let mut errors = Collector::default();
        let size = errors.take(PageSize::parse(page_size));
        let after = errors.take_opt(page_token.filter(|t| !t.is_empty()).map(Cursor::decode));
        errors.finish()?;
        Ok(Self { size: size.unwrap_or(PageSize(PageSize::DEFAULT)), after: after.flatten() })
    }

    pub fn first(size: u32) -> Self {
        Self { size: PageSize(size.clamp(1, PageSize::MAX)), after: None }
    }
}

/// One page of results and the cursor of the next, if there is one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub next: Option<Cursor>,
}

impl<T> Page<T> {
    /// Builds a page from up to `size + 1` rows fetched in order: the extra row only proves
    /// that another page exists, so the last page carries no cursor.
    pub fn from_overfetch(mut rows: Vec<T>, size: PageSize, key: impl Fn(&T) -> Uuid) -> Self {
        let limit = size.get() as usize;
        let next = if rows.len() > limit {
            rows.truncate(limit);
            rows.last().map(|last| Cursor::after(key(last)))
        } else {
            None
        };
        Self { items: rows, next }
    }

    /// The wire form of the next cursor: empty when there are no more pages.
    pub fn next_page_token(&self) -> String {
        self.next.map(|c| c.encode()).unwrap_or_default()
    }

    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Page<U> {
        Page { items: self.items.into_iter().map(f).collect(), next: self.next }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn page_size_defaults_to_fifty() {
        assert_eq!(PageSize::parse(None).unwrap().get(), 50);
    }

    #[test]
    fn page_size_accepts_one_and_a_thousand() {
        assert_eq!(PageSize::parse(Some(1)).unwrap().get(), 1);
        assert_eq!(PageSize::parse(Some(1000)).unwrap().get(), 1000);
    }

    #[test]
    fn page_size_rejects_zero_and_a_thousand_and_one() {
        for n in [0, 1001, -5] {
            let err = PageSize::parse(Some(n)).unwrap_err();
            assert_eq!((err.field.as_str(), err.code), ("page_size", "out_of_range"));
        }
    }

    #[test]
    fn a_cursor_round_trips_through_its_token() {
        let cursor = Cursor::after(Uuid::now_v7());
        assert_eq!(Cursor::decode(&cursor.encode()), Ok(cursor));
    }

    #[test]
    fn a_garbage_page_token_is_a_field_error() {
        for bad in ["garbage!", "AAAA", "", "bm90IGEgdG9rZW4"] {
            assert_eq!(Cursor::decode(bad).unwrap_err().field, "page_token", "{bad}");
        }
    }

    #[test]
    fn a_page_request_reports_both_bad_fields() {
        let err = PageRequest::parse(Some(0), Some("garbage")).unwrap_err();
        assert!(err.mentions("page_size") && err.mentions("page_token"));
    }

    #[test]
    fn an_empty_page_token_means_the_first_page() {
        assert_eq!(PageRequest::parse(None, Some("")).unwrap().after, None);
    }

    #[test]
    fn the_last_page_has_an_empty_next_page_token() {
        let size = PageSize::parse(Some(2)).unwrap();
        let ids: Vec<Uuid> = (0..3).map(|_| Uuid::now_v7()).collect();
        let full = Page::from_overfetch(ids.clone(), size, |u| *u);
        assert_eq!(full.items.len(), 2);
        assert_eq!(full.next, Some(Cursor::after(ids[1])));
        let last = Page::from_overfetch(ids[..2].to_vec(), size, |u| *u);
        assert_eq!(last.next_page_token(), "");
    }
}
