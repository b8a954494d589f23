//! Domains, aliases and mailbox authentication failures: their rows, their conversions and
//! the columns their `SELECT`s read.

use accountd_domain::{
    AccountId, Alias, AliasId, AliasStatus, Domain, DomainId, DomainName, DomainStatus, UserId, Version,
};
use accountd_domain::{AuthFailures, DisplayName, LocalPart};
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::corrupt;

/// The columns of an alias joined with its domain (`a`, `d`) that [`AliasRow`] reads, but
/// the password hash, which only mailbox authentication selects.
pub(crate) const ALIAS_COLUMNS: &str = "a.id, a.account_id, a.user_id, a.domain_id, d.name AS domain_name, \
    d.status AS domain_status, a.local_part, a.display_name, a.status, a.is_primary, a.is_default, \
    a.password_changed_at, a.version, a.created_at, a.updated_at";

/// The join [`ALIAS_COLUMNS`] read from.
pub(crate) const FROM_ALIASES: &str = " FROM aliases a JOIN domains d ON d.id = a.domain_id ";

/// `SELECT` an alias joined with its domain, as [`AliasRow`] reads it; the clauses follow.
pub(crate) const SELECT_ALIASES: &str = concatcp!("SELECT ", ALIAS_COLUMNS, FROM_ALIASES);

/// `SELECT` the columns [`DomainRow`] reads `FROM domains`; the clauses follow.
pub(crate) const SELECT_DOMAINS: &str = "SELECT id, name, status, version, created_at, updated_at FROM domains ";

/// A row of `domains`.
#[derive(Debug, sqlx::FromRow)]
pub struct DomainRow {
    pub id: Uuid,
    pub name: String,
    pub status: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<DomainRow> for Domain {
    type Error = anyhow::Error;

    fn try_from(row: DomainRow) -> anyhow::Result<Self> {
        Ok(Domain {
            id: DomainId::from_uuid(row.id),
            name: DomainName::parse(&row.name).map_err(corrupt("domain name"))?,
            status: DomainStatus::parse(&row.status).map_err(corrupt("domain status"))?,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `aliases` joined with its domain's name and status (and, for mailbox
/// authentication only, its password hash).
#[derive(Debug, sqlx::FromRow)]
pub struct AliasRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub user_id: Option<Uuid>,
    pub domain_id: Uuid,
    pub domain_name: String,
    pub domain_status: String,
    pub local_part: String,
    pub display_name: Option<String>,
    pub status: String,
    pub is_primary: bool,
    pub is_default: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Selected only by mailbox authentication; never part of an [`Alias`].
    #[sqlx(default)]
    pub password_hash: Option<String>,
}

impl TryFrom<AliasRow> for Alias {
    type Error = anyhow::Error;

    fn try_from(row: AliasRow) -> anyhow::Result<Self> {
        Ok(Alias {
            id: AliasId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            user_id: row.user_id.map(UserId::from_uuid),
            domain_id: DomainId::from_uuid(row.domain_id),
            domain: DomainName::parse(&row.domain_name).map_err(corrupt("domain name"))?,
            local_part: LocalPart::parse(&row.local_part).map_err(corrupt("alias local part"))?,
            display_name: row
                .display_name
                .map(|d| DisplayName::parse(&d))
                .transpose()
                .map_err(corrupt("alias display name"))?,
            status: AliasStatus::parse(&row.status).map_err(corrupt("alias status"))?,
            is_primary: row.is_primary,
            is_default: row.is_default,
            password_changed_at: row.password_changed_at,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `mailbox_auth_failures`.
#[derive(Debug, sqlx::FromRow)]
pub struct AuthFailuresRow {
    pub failures: i64,
    pub last_failure_at: DateTime<Utc>,
}

impl From<AuthFailuresRow> for AuthFailures {
    fn from(row: AuthFailuresRow) -> Self {
        Self { count: u32::try_from(row.failures.max(0)).unwrap_or(u32::MAX), last_at: row.last_failure_at }
    }
}
