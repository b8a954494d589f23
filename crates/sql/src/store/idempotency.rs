//! Idempotency records: the [`IdempotencyWrites`] of a transaction. Their purge is the
//! [`Store`](accountd_domain::Store)'s, outside any transaction (see `super`).

use accountd_domain::{IdempotencyKey, IdempotencyRecord, IdempotencyWrites};
use async_trait::async_trait;
use chrono::{DateTime, Utc};
use const_format::concatcp;

use super::SqlTransaction;
use crate::Context as _;
use crate::rows::{IdempotencyRow, SELECT_IDEMPOTENCY_KEYS};

#[async_trait]
impl IdempotencyWrites for SqlTransaction {
    async fn find_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<Option<IdempotencyRecord>> {
        let row: Option<IdempotencyRow> =
            sqlx::query_as(concatcp!(SELECT_IDEMPOTENCY_KEYS, "WHERE scope = $1 AND key = $2 AND created_at >= $3"))
                .bind(scope)
                .bind(key.as_str())
                .bind(not_before)
                .fetch_optional(&mut *self.tx)
                .await
                .context("reading an idempotency record")?;
        row.map(IdempotencyRecord::try_from).transpose()
    }

    async fn save_idempotency_record(
        &mut self,
        record: &IdempotencyRecord,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<bool> {
        // Expired keys are purged outside this transaction
        // (`Store::purge_idempotency_records`); an expired record of this very key
        // is replaced below.
        let done = sqlx::query(
            "INSERT INTO idempotency_keys (scope, key, operation, fingerprint, resource_type, resource_id, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (scope, key) DO UPDATE SET \
             operation = excluded.operation, fingerprint = excluded.fingerprint, \
             resource_type = excluded.resource_type, resource_id = excluded.resource_id, \
             created_at = excluded.created_at WHERE idempotency_keys.created_at < $8",
        )
        .bind(&record.scope)
        .bind(record.key.as_str())
        .bind(&record.operation)
        .bind(&record.fingerprint)
        .bind(&record.resource_type)
        .bind(&record.resource_id)
        .bind(record.created_at)
        .bind(not_before)
        .execute(&mut *self.tx)
        .await
        .context("saving an idempotency record")?;
        Ok(done.rows_affected() == 1)
    }

    async fn complete_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        resource_type: &str,
        resource_id: &str,
    ) -> anyhow::Result<bool> {
        let done = sqlx::query(
            "UPDATE idempotency_keys SET resource_type = $1, resource_id = $2 WHERE scope = $3 AND key = $4",
        )
        .bind(resource_type)
        .bind(resource_id)
        .bind(scope)
        .bind(key.as_str())
        .execute(&mut *self.tx)
        .await
        .context("completing an idempotency record")?;
        Ok(done.rows_affected() == 1)
    }
}
