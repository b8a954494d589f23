//! The `accounts` row and its conversion, with the columns every account `SELECT` reads.

use accountd_domain::{
    Account, AccountId, AccountName, AccountProfile, AccountSettings, AccountStatus, AccountType, EmailAddress, UserId,
    Version,
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
