//! Constraint violations both databases report alike, by kind. What each reports differently
//! (which unique index an alias address hit) is its dialect's.

/// True when `err` is a unique-constraint violation.
pub(crate) fn is_unique_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.kind(), sqlx::error::ErrorKind::UniqueViolation))
}

/// True when `err` is a foreign-key violation, which both databases report in kind.
pub(crate) fn is_foreign_key_violation(err: &sqlx::Error) -> bool {
    matches!(err, sqlx::Error::Database(db) if matches!(db.kind(), sqlx::error::ErrorKind::ForeignKeyViolation))
}
