//! One module per area of the console, like the REST adapter's resources.

pub mod accounts;
pub mod audit;
pub mod me;
pub mod members;
pub mod sign_in;
pub mod tokens;

use accountd_domain::{AccountId, FieldError, PageRequest, UserId};

use crate::error::ConsoleError;

/// Rows per console page.
pub const PAGE_SIZE: i64 = 50;

/// The page after `token` (a `next_page_token`), or the first.
pub fn page_after(token: Option<&str>) -> Result<PageRequest, ConsoleError> {
    PageRequest::parse(Some(PAGE_SIZE), token.filter(|t| !t.is_empty())).map_err(|e| ConsoleError::from_domain(&e))
}

/// An id from the path; a malformed one is a page that does not exist.
pub fn account_id(raw: &str) -> Result<AccountId, ConsoleError> {
    AccountId::parse(raw, "account_id").map_err(|_| ConsoleError::not_found())
}

pub fn user_id(raw: &str) -> Result<UserId, ConsoleError> {
    UserId::parse(raw, "user_id").map_err(|_| ConsoleError::not_found())
}

/// An optional form field: absent or blank is `None`.
pub fn given(value: &Option<String>) -> Option<String> {
    value.as_deref().map(str::trim).filter(|v| !v.is_empty()).map(str::to_owned)
}

/// A field error of the form itself (not from a service).
pub fn field(field: &str, code: &'static str, message: &str) -> Vec<FieldError> {
    vec![FieldError::new(field, code, message)]
}
