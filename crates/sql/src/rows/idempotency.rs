//! The `idempotency_keys` row and its conversion.

use accountd_domain::{IdempotencyKey, IdempotencyRecord};
use chrono::{DateTime, Utc};

use super::corrupt;

/// `SELECT` the columns [`IdempotencyRow`] reads `FROM idempotency_keys`; the clauses follow.
pub(crate) const SELECT_IDEMPOTENCY_KEYS: &str = "SELECT scope, key, operation, fingerprint, resource_type, \
    resource_id, created_at FROM idempotency_keys ";

/// A row of `idempotency_keys`.
#[derive(Debug, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub scope: String,
    pub key: String,
    pub operation: String,
    pub fingerprint: String,
    pub resource_type: String,
    pub resource_id: String,
    pub created_at: DateTime<Utc>,
}

impl TryFrom<IdempotencyRow> for IdempotencyRecord {
    type Error = anyhow::Error;

    fn try_from(row: IdempotencyRow) -> anyhow::Result<Self> {
        Ok(IdempotencyRecord {
            scope: row.scope,
            key: IdempotencyKey::parse(&row.key).map_err(corrupt("idempotency key"))?,
            operation: row.operation,
            fingerprint: row.fingerprint,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            created_at: row.created_at,
        })
    }
}
