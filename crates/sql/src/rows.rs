//! Row types both stores decode, and their conversion to domain values. A row that breaks a
//! domain rule means the database was changed behind accountd's back: it is an error, never
//! silently repaired.

use accountd_domain::audit::AuditOutcome;
use accountd_domain::idempotency::{IdempotencyKey, IdempotencyRecord};
use accountd_domain::{
    Account, AccountId, AccountName, AccountSettings, AccountStatus, AccountType, Actor, ActorKind, AuditEvent,
    AuditEventId, EmailAddress, FieldError, RequestInfo, UserId, Version,
};
use anyhow::{Context, anyhow, ensure};
use chrono::{DateTime, Utc};
use sqlx::types::Json;
use uuid::Uuid;

/// A row of `accounts`.
#[derive(Debug, sqlx::FromRow)]
pub struct AccountRow {
    pub id: Uuid,
    pub name: String,
    pub account_type: String,
    pub status: String,
    pub owner_id: Option<Uuid>,
    /// Ancestor ids and the account's own id, `/`-separated, root first.
    pub path: String,
    pub abuse_contact_email: Option<String>,
    pub enforce_twofactor: bool,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The stored path of `account`: its hierarchy and then its own id, `/`-separated.
pub fn path_of(account: &Account) -> String {
    let mut path = String::with_capacity(37 * (account.hierarchy.len() + 1));
    for ancestor in &account.hierarchy {
        path.push_str(&ancestor.to_string());
        path.push('/');
    }
    path.push_str(&account.id.to_string());
    path
}

/// Bounds such that `low <= p < high` holds exactly for the paths strictly below `path`
/// (`'0'` is the character after `'/'`). Both stores compare paths bytewise, so this range
/// is served by the path index.
pub fn subtree_bounds(path: &str) -> (String, String) {
    (format!("{path}/"), format!("{path}0"))
}

fn corrupt(what: &'static str) -> impl FnOnce(FieldError) -> anyhow::Error {
    move |e| anyhow!("stored {what} breaks a domain rule: {e}")
}

impl TryFrom<AccountRow> for Account {
    type Error = anyhow::Error;

    fn try_from(row: AccountRow) -> anyhow::Result<Self> {
        let mut path = row
            .path
            .split('/')
            .map(|id| AccountId::parse(id, "path"))
            .collect::<Result<Vec<_>, _>>()
            .map_err(corrupt("account path"))?;
        let own = path.pop();
        ensure!(own == Some(AccountId::from_uuid(row.id)), "stored account path {} does not end in its id", row.path);
        Ok(Account {
            id: AccountId::from_uuid(row.id),
            name: AccountName::parse(&row.name).map_err(corrupt("account name"))?,
            account_type: AccountType::parse(&row.account_type).map_err(corrupt("account type"))?,
            status: AccountStatus::parse(&row.status).map_err(corrupt("account status"))?,
            owner_id: row.owner_id.map(UserId::from_uuid),
            hierarchy: path,
            settings: AccountSettings {
                abuse_contact_email: row
                    .abuse_contact_email
                    .as_deref()
                    .map(EmailAddress::parse)
                    .transpose()
                    .map_err(corrupt("abuse contact email"))?,
                enforce_twofactor: row.enforce_twofactor,
            },
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `audit_events`.
#[derive(Debug, sqlx::FromRow)]
pub struct AuditRow {
    pub id: Uuid,
    pub account_id: Option<Uuid>,
    pub actor_type: String,
    pub actor_id: Option<String>,
    pub actor_email: Option<String>,
    pub action: String,
    pub outcome: String,
    pub resource_type: String,
    pub resource_id: String,
    pub changes: Json<serde_json::Value>,
    pub request_ip: Option<String>,
    pub user_agent: Option<String>,
    pub request_id: Option<String>,
    pub occurred_at: DateTime<Utc>,
}

impl TryFrom<AuditRow> for AuditEvent {
    type Error = anyhow::Error;

    fn try_from(row: AuditRow) -> anyhow::Result<Self> {
        Ok(AuditEvent {
            id: AuditEventId::from_uuid(row.id),
            account_id: row.account_id.map(AccountId::from_uuid),
            actor: Actor {
                kind: ActorKind::parse(&row.actor_type)
                    .with_context(|| format!("unknown actor type {}", row.actor_type))?,
                id: row.actor_id,
                email: row.actor_email,
            },
            action: row.action,
            outcome: AuditOutcome::parse(&row.outcome).with_context(|| format!("unknown outcome {}", row.outcome))?,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            changes: crate::changes_from_json(row.changes.0)?,
            request: RequestInfo {
                ip: row.request_ip.as_deref().map(str::parse).transpose().context("stored request ip")?,
                user_agent: row.user_agent,
                request_id: row.request_id,
            },
            occurred_at: row.occurred_at,
        })
    }
}

/// A row of `idempotency_keys`.
#[derive(Debug, sqlx::FromRow)]
pub struct IdempotencyRow {
    pub scope: String,
    pub key: String,
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
            fingerprint: row.fingerprint,
            resource_type: row.resource_type,
            resource_id: row.resource_id,
            created_at: row.created_at,
        })
    }
}
