//! Response bodies that more than one resource shows: a user (`/v1/users`, `/v1/me`), a
//! membership (`/v1/accounts/{account_id}/members`, `/v1/me/memberships`), an alias (its own
//! routes, and an account created with its primary alias) and the caller's MFA state (its
//! factors, and `GET /v1/me`). A body only one resource shows stays in that resource's
//! module; one that a second resource needs moves here, so resource modules never import
//! from one another.

use accountd_domain::{Alias, Factor, Member, MfaStatus, User};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

/// A user.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: String,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    /// `active` or `disabled`.
    pub status: &'static str,
    /// Platform-wide permissions; empty for ordinary users.
    pub root_permissions: Vec<&'static str>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&User> for UserBody {
    fn from(u: &User) -> Self {
        Self {
            id: u.id.to_string(),
            email: u.email.to_string(),
            first_name: u.first_name.as_ref().map(|n| n.as_str().to_owned()),
            last_name: u.last_name.as_ref().map(|n| n.as_str().to_owned()),
            status: u.status.as_str(),
            root_permissions: u.root_permissions.names(),
            version: u.version.get(),
            created_at: u.created_at,
            updated_at: u.updated_at,
        }
    }
}

/// A user's membership of an account.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    pub account_id: String,
    pub user_id: String,
    pub roles: Vec<&'static str>,
    /// `member`, or `invited` until the user accepts.
    pub status: &'static str,
    /// The user who added the member; null when the system did, and for callers without root
    /// `users:read` when a root user (the platform) did.
    pub invited_by: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Member> for MemberBody {
    fn from(m: &Member) -> Self {
        Self {
            account_id: m.account_id.to_string(),
            user_id: m.user_id.to_string(),
            roles: m.roles.iter().map(|r| r.as_str()).collect(),
            status: m.status.as_str(),
            invited_by: m.invited_by.map(|u| u.to_string()),
            created_at: m.created_at,
            updated_at: m.updated_at,
        }
    }
}

/// An email alias (seed 001's email account). Its password is never part of it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AliasBody {
    pub id: String,
    pub account_id: String,
    pub user_id: Option<String>,
    pub domain_id: String,
    pub domain: String,
    pub local_part: String,
    /// `local_part@domain`, lower-case.
    pub address: String,
    pub display_name: Option<String>,
    /// active or disabled.
    pub status: &'static str,
    /// The account's primary address, made with the account.
    pub is_primary: bool,
    /// The user's first alias in the account.
    pub is_default: bool,
    pub has_password: bool,
    pub password_changed_at: Option<DateTime<Utc>>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl From<&Alias> for AliasBody {
    fn from(a: &Alias) -> Self {
        Self {
            id: a.id.to_string(),
            account_id: a.account_id.to_string(),
            user_id: a.user_id.map(|u| u.to_string()),
            domain_id: a.domain_id.to_string(),
            domain: a.domain.to_string(),
            local_part: a.local_part.as_str().to_owned(),
            address: a.address(),
            display_name: a.display_name.as_ref().map(|d| d.as_str().to_owned()),
            status: a.status.as_str(),
            is_primary: a.is_primary,
            is_default: a.is_default,
            has_password: a.has_password(),
            password_changed_at: a.password_changed_at,
            version: a.version.get(),
            created_at: a.created_at,
            updated_at: a.updated_at,
        }
    }
}

/// An MFA factor, without its secret.
#[derive(Debug, Serialize, ToSchema)]
pub struct FactorBody {
    pub id: String,
    /// Always `totp`.
    #[serde(rename = "type")]
    pub factor_type: &'static str,
    /// `pending` until activated with a code, then `active`.
    pub status: &'static str,
    pub created_at: DateTime<Utc>,
    pub activated_at: Option<DateTime<Utc>>,
}

impl From<&Factor> for FactorBody {
    fn from(f: &Factor) -> Self {
        Self {
            id: f.id.to_string(),
            factor_type: "totp",
            status: f.status.as_str(),
            created_at: f.created_at,
            activated_at: f.activated_at,
        }
    }
}

/// The caller's MFA state, as `GET /v1/me` shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct MfaBody {
    /// True when at least one factor is active.
    pub mfa_enabled: bool,
    pub mfa_factors: Vec<FactorBody>,
}

impl From<&MfaStatus> for MfaBody {
    fn from(s: &MfaStatus) -> Self {
        Self { mfa_enabled: s.enabled(), mfa_factors: s.factors.iter().map(FactorBody::from).collect() }
    }
}
