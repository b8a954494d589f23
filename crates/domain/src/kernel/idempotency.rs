//! Idempotent creation (SPEC §3): a client may send an `Idempotency-Key` with any POST
//! create; the first request with that key creates the resource, and a replay within
//! [`IDEMPOTENCY_RETENTION`] returns that resource instead of creating another.
//!
//! One mechanism serves every create ([`Deps::begin_create`] and [`Pending::finish`]): the
//! service begins its transaction through it, which *claims* the key first (a row keyed by
//! caller and key, so a concurrent request with the same key waits on it, or finds it
//! committed); the service then creates as usual and `finish` names the created resource in
//! the same transaction before commit. A crash therefore leaves neither a key without its
//! resource nor a resource without its key, and of two concurrent requests with one key
//! exactly one creates. The same key with another operation or another request body is
//! refused. A replay returns the resource *as it is now*; a secret shown once on creation
//! (a token's value, a mailbox password) is neither shown again nor generated anew
//! ([`WithSecret::secret`] is `None`).

use std::fmt;

use async_trait::async_trait;
use chrono::{DateTime, Duration, Utc};

use crate::{Deps, FieldError, Principal, Transaction};

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
    /// The create it guarded (`account.create`, `token.create`, …).
    pub operation: String,
    /// The canonical form of the request, to refuse a key reused for a different request.
    pub fingerprint: String,
    pub resource_type: String,
    /// Empty while the creating transaction has claimed the key and not yet finished.
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

/// A created resource with the secret its creation generated or accepted. `secret` is
/// `None` on an idempotent replay: the secret was shown once, and a replay neither shows it
/// again nor makes a new one (the client rolls or resets it if it lost the first answer).
#[derive(Debug, Clone)]
pub struct WithSecret<T, S> {
    pub resource: T,
    pub secret: Option<S>,
}

/// Why an idempotent create could not proceed.
#[derive(Debug, thiserror::Error)]
pub enum IdempotencyError {
    /// The key was used, within the retention, for another operation or request body.
    #[error("this idempotency key was used for a different request")]
    KeyReused,
    #[error(transparent)]
    Unknown(#[from] anyhow::Error),
}

/// How a create begins: with a transaction to create in, or with the resource an earlier
/// request with the same key created.
pub(crate) enum Begun {
    /// Create inside the transaction, then call [`Pending::finish`] before committing.
    Fresh(Box<dyn Transaction>, Pending),
    /// Answer the resource with this id (as stored in [`IdempotencyRecord::resource_id`]).
    Replay(String),
}

/// A claimed key waiting for the id of the resource its transaction creates; nothing when
/// the request carried no key.
#[must_use = "finish names the created resource in the key's record"]
pub(crate) struct Pending(Option<IdempotencyRecord>);

impl Pending {
    /// Names the created resource in the claimed record, inside the creating transaction.
    pub(crate) async fn finish(
        self,
        tx: &mut dyn Transaction,
        resource_type: &str,
        resource_id: impl fmt::Display,
    ) -> anyhow::Result<()> {
        let Some(record) = self.0 else { return Ok(()) };
        let done =
            tx.complete_idempotency_record(&record.scope, &record.key, resource_type, &resource_id.to_string()).await?;
        anyhow::ensure!(done, "the claimed idempotency record vanished inside its own transaction");
        Ok(())
    }
}

/// The canonical form of a create request, compared when a key is replayed. Explicit and
/// versioned per operation, so it stays stable across releases that change `Debug` output;
/// each value is length-prefixed, so no two requests share a fingerprint. Stored as a
/// SHA-256 digest: requests may carry secrets (a client's mailbox password).
pub(crate) struct Fingerprint(String);

impl Fingerprint {
    pub(crate) fn new(operation: &str) -> Self {
        Self(format!("{operation}/v1"))
    }

    /// Adds a field; `None` and an empty list differ from every present value.
    pub(crate) fn field(mut self, name: &str, value: Option<impl fmt::Display>) -> Self {
        match value {
            None => self.0.push_str(&format!("|{name}=-")),
            Some(v) => {
                let v = v.to_string();
                self.0.push_str(&format!("|{name}={}:{v}", v.len()));
            }
        }
        self
    }

    pub(crate) fn finish(self) -> String {
        use sha2::{Digest, Sha256};
        let digest = Sha256::digest(self.0.as_bytes());
        digest.iter().map(|b| format!("{b:02x}")).collect()
    }
}

/// The id an idempotency record names, parsed by the resource's id type.
pub(crate) fn stored_id<T>(id: &str, parse: impl FnOnce(&str, &str) -> Result<T, FieldError>) -> anyhow::Result<T> {
    parse(id, "resource_id").map_err(|e| anyhow::anyhow!("stored idempotency record names no resource: {e}"))
}

/// How many expired idempotency records one keyed creation purges at most.
const PURGE_BATCH: u32 = 100;

impl Deps {
    /// Begins the transaction of the create `operation`. Without a key it is a plain
    /// `begin`. With one, a record of the caller's key within the retention means a replay
    /// (when operation and `fingerprint` match; otherwise [`IdempotencyError::KeyReused`]);
    /// else the key is claimed in the new transaction, where a concurrent request with the
    /// same key waits until this one ends and then finds the record.
    pub(crate) async fn begin_create(
        &self,
        principal: &Principal,
        key: Option<&IdempotencyKey>,
        operation: &str,
        fingerprint: impl FnOnce() -> String,
    ) -> Result<Begun, IdempotencyError> {
        let Some(key) = key else { return Ok(Begun::Fresh(self.store.begin().await?, Pending(None))) };
        let scope = principal.idempotency_scope();
        let fingerprint = fingerprint();
        // Expired keys mean nothing any more: a bounded purge in its own statement, before
        // the creation's transaction, keeps the table near one retention period of keyed
        // creations (each removes up to PURGE_BATCH, so the purge outpaces the inserts).
        // Housekeeping: a failed purge is retried by the next keyed creation and must not fail
        // this one.
        if let Err(error) =
            self.store.purge_idempotency_records(self.clock.now() - IDEMPOTENCY_RETENTION, PURGE_BATCH).await
        {
            tracing::warn!(error = format!("{error:#}"), "purging expired idempotency keys failed");
        }
        // Two rounds: the second runs only when a concurrent request with this key committed
        // its claim between our read and our claim, and then finds its record.
        for _ in 0..2 {
            let now = self.clock.now();
            let not_before = now - IDEMPOTENCY_RETENTION;
            let mut tx = self.store.begin().await?;
            if let Some(record) = tx.find_idempotency_record(&scope, key, not_before).await? {
                if record.operation != operation || record.fingerprint != fingerprint {
                    return Err(IdempotencyError::KeyReused);
                }
                return Ok(Begun::Replay(record.resource_id));
            }
            let claim = IdempotencyRecord {
                scope: scope.clone(),
                key: key.clone(),
                operation: operation.to_owned(),
                fingerprint: fingerprint.clone(),
                resource_type: String::new(),
                resource_id: String::new(),
                created_at: now,
            };
            if tx.save_idempotency_record(&claim, not_before).await? {
                return Ok(Begun::Fresh(tx, Pending(Some(claim))));
            }
        }
        Err(anyhow::anyhow!("an idempotency record was neither found nor claimed").into())
    }
}

/// Idempotency records, read and written inside the transaction of the creation they guard.
#[async_trait]
pub trait IdempotencyWrites: Send {
    /// The record of `key` in `scope` created at or after `not_before`; `Ok(None)` when there
    /// is none or only an older one.
    async fn find_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<Option<IdempotencyRecord>>;

    /// Saves `record`, replacing a record of the same scope and key created before
    /// `not_before`. MUST return `Ok(false)`, writing nothing, when a newer record exists —
    /// including one a concurrent transaction committed after this one began — so that of
    /// two requests with one key exactly one creates the resource.
    async fn save_idempotency_record(
        &mut self,
        record: &IdempotencyRecord,
        not_before: DateTime<Utc>,
    ) -> anyhow::Result<bool>;

    /// Names the resource in the record of `key` in `scope` that this transaction saved.
    /// Returns `Ok(false)` when there is no such record.
    async fn complete_idempotency_record(
        &mut self,
        scope: &str,
        key: &IdempotencyKey,
        resource_type: &str,
        resource_id: &str,
    ) -> anyhow::Result<bool>;
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
