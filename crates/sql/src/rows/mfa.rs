//! MFA factors and the account-users view (seed 002): their rows, their conversions and the
//! columns their `SELECT`s read.

use accountd_domain::AccountUser;
use accountd_domain::Member;
use accountd_domain::{Factor, FactorStatus, SealedSecret};
use accountd_domain::{FactorId, UserId};
use chrono::{DateTime, Utc};
use const_format::concatcp;
use uuid::Uuid;

use super::{JOINED_USER_COLUMNS, JoinedUserRow, MemberRow, corrupt};

/// `SELECT` the columns [`FactorRow`] reads `FROM mfa_factors`; the clauses follow.
pub(crate) const SELECT_FACTORS: &str =
    "SELECT id, user_id, status, secret, last_used_step, created_at, activated_at FROM mfa_factors ";

/// `SELECT` memberships joined with their users as [`AccountUserRow`] reads them (`m` is the
/// membership, `u` the user); the clauses follow.
pub(crate) const SELECT_ACCOUNT_USERS: &str = concatcp!(
    "SELECT m.account_id, m.user_id, m.roles, m.status, m.invited_by, m.created_at, m.updated_at, ",
    JOINED_USER_COLUMNS,
    ", EXISTS (SELECT 1 FROM mfa_factors f WHERE f.user_id = u.id AND f.status = 'active') AS mfa_enabled \
     FROM members m JOIN users u ON u.id = m.user_id "
);

/// A row of `mfa_factors`.
#[derive(Debug, sqlx::FromRow)]
pub struct FactorRow {
    pub id: Uuid,
    pub user_id: Uuid,
    pub status: String,
    pub secret: Vec<u8>,
    pub last_used_step: Option<i64>,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl TryFrom<FactorRow> for Factor {
    type Error = anyhow::Error;

    fn try_from(row: FactorRow) -> anyhow::Result<Self> {
        Ok(Factor {
            id: FactorId::from_uuid(row.id),
            user_id: UserId::from_uuid(row.user_id),
            status: FactorStatus::parse(&row.status).map_err(corrupt("factor status"))?,
            secret: SealedSecret(row.secret),
            last_used_step: row.last_used_step,
            created_at: row.created_at,
            activated_at: row.activated_at,
        })
    }
}

/// A membership joined with its user (`u_*`) and whether the user has an active factor.
#[derive(Debug, sqlx::FromRow)]
pub struct AccountUserRow {
    #[sqlx(flatten)]
    pub member: MemberRow,
    #[sqlx(flatten)]
    pub user: JoinedUserRow,
    pub mfa_enabled: bool,
}

impl TryFrom<AccountUserRow> for AccountUser {
    type Error = anyhow::Error;

    fn try_from(row: AccountUserRow) -> anyhow::Result<Self> {
        let user = row.user.into_user(row.member.user_id)?;
        Ok(AccountUser { member: Member::try_from(row.member)?, user, mfa_enabled: row.mfa_enabled })
    }
}
