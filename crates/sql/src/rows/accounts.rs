//! The `accounts` row and its conversion, with the columns every account `SELECT` reads.

use accountd_domain::{
    Account, AccountId, AccountName, AccountProfile, AccountSettings, AccountStatus, AccountType, EmailAddress,
    Placement, UserId, Version,
};
use anyhow::ensure;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::corrupt;

/// The columns of `accounts` that [`AccountRow`] reads, in its field order.
pub(crate) const ACCOUNT_COLUMNS: &str = "id, name, account_type, status, owner_id, path, abuse_contact_email, \
    enforce_twofactor, version, created_at, updated_at, business_name, business_address, business_email, \
    business_phone, external_metadata";

/// `SELECT` [`ACCOUNT_COLUMNS`] `FROM accounts`; the clauses follow.
pub(crate) const SELECT_ACCOUNTS: &str = concatcp!("SELECT ", ACCOUNT_COLUMNS, " FROM accounts ");

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
    pub business_name: Option<String>,
    pub business_address: Option<String>,
    pub business_email: Option<String>,
    pub business_phone: Option<String>,
    pub external_metadata: Option<String>,
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

/// The ancestors a stored `path` names: every id but the last, which must be `own`.
fn hierarchy_of(path: &str, own: Uuid) -> anyhow::Result<Vec<AccountId>> {
    let mut ids = path
        .split('/')
        .map(|id| AccountId::parse(id, "path"))
        .collect::<Result<Vec<_>, _>>()
        .map_err(corrupt("account path"))?;
    let last = ids.pop();
    ensure!(last == Some(AccountId::from_uuid(own)), "stored account path {path} does not end in its id");
    Ok(ids)
}

/// The columns of `accounts` that [`PlacementRow`] reads.
pub(crate) const SELECT_PLACEMENTS: &str = "SELECT id, path, enforce_twofactor FROM accounts ";

/// What a decision reads of an account row.
#[derive(Debug, sqlx::FromRow)]
pub struct PlacementRow {
    pub id: Uuid,
    pub path: String,
    pub enforce_twofactor: bool,
}

impl TryFrom<PlacementRow> for Placement {
    type Error = anyhow::Error;

    fn try_from(row: PlacementRow) -> anyhow::Result<Self> {
        Ok(Placement {
            id: AccountId::from_uuid(row.id),
            hierarchy: hierarchy_of(&row.path, row.id)?,
            enforce_twofactor: row.enforce_twofactor,
        })
    }
}

impl TryFrom<AccountRow> for Account {
    type Error = anyhow::Error;

    fn try_from(row: AccountRow) -> anyhow::Result<Self> {
        let path = hierarchy_of(&row.path, row.id)?;
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
            profile: AccountProfile {
                business_name: row.business_name,
                business_address: row.business_address,
                business_email: row
                    .business_email
                    .as_deref()
                    .map(EmailAddress::parse)
                    .transpose()
                    .map_err(corrupt("business email"))?,
                business_phone: row.business_phone,
                external_metadata: row.external_metadata,
            },
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
