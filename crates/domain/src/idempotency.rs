//! Idempotent creation (SPEC §3): a client may send an `Idempotency-Key` with a create; the
//! first request with that key creates the resource, and a replay within
//! [`IDEMPOTENCY_RETENTION`] returns that resource instead of creating another. The record is
//! written in the creation's own transaction, so a crash cannot leave one without the other,
//! and two concurrent requests with one key create one resource.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use crate::error::FieldError;

/// How long a key is remembered.
pub const IDEMPOTENCY_RETENTION: Duration = Duration::hours(24);

/// A client-chosen key: 1–255 visible ASCII characters.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let field = "idempotency_key";
        if input.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        if input.len() > Self::MAX_LEN {
            return Err(FieldError::new(field, "too_long", "must be at most 255 characters"));
        }
        if !input.bytes().all(|b| b.is_ascii_graphic()) {
            return Err(FieldError::new(field, "invalid_characters", "must be visible ASCII characters"));
        }
        Ok(Self(input.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({})", self.0)
    }
}

/// What a store remembers of one idempotent creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdempotencyRecord {
    /// Whose key it is: keys of different callers never collide.
    pub scope: String,
    pub key: IdempotencyKey,
    /// The canonical form of the request, to refuse a key reused for a different request.
    pub fingerprint: String,
    pub resource_type: String,
    pub resource_id: String,
    pub created_at: DateTime<Utc>,
}

/// The result of a create that may have been a replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Created<T> {
    pub value: T,
    /// True when an earlier request with the same idempotency key created `value`.
    pub replayed: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_visible_ascii_of_at_most_255_characters() {
        assert!(IdempotencyKey::parse("order-42/retry_1").is_ok());
        assert_eq!(IdempotencyKey::parse("").unwrap_err().code, "required");
        assert_eq!(IdempotencyKey::parse(&"k".repeat(256)).unwrap_err().code, "too_long");
        assert_eq!(IdempotencyKey::parse("with space").unwrap_err().code, "invalid_characters");
        assert_eq!(IdempotencyKey::parse("ключ").unwrap_err().field, "idempotency_key");
    }
}
