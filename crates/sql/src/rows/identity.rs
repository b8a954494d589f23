//! Users, members and tokens: their rows, their conversions and the columns their `SELECT`s
//! read.

use accountd_domain::{
    AccountId, Effect, EmailAddress, Member, MemberStatus, PermissionSet, PersonName, Policy, Role, Token,
    TokenCondition, TokenId, TokenName, TokenStatus, User, UserId, UserStatus, Version,
};
use anyhow::Context;
use chrono::{DateTime, Utc};
use const_format::concatcp;
use ipnet::IpNet;
use sqlx::types::Json;
use uuid::Uuid;

use super::corrupt;

/// The columns of `users` that [`UserRow`] reads.
pub(crate) const USER_COLUMNS: &str =
    "id, email, first_name, last_name, status, root_permissions, version, created_at, updated_at";

/// The columns of a user joined as `u` that [`JoinedUserRow`] reads.
pub(crate) const JOINED_USER_COLUMNS: &str = "u.email AS u_email, u.first_name AS u_first_name, \
    u.last_name AS u_last_name, u.status AS u_status, u.root_permissions AS u_root_permissions, \
    u.version AS u_version, u.created_at AS u_created_at, u.updated_at AS u_updated_at";

/// The columns of `members` that [`MemberRow`] reads.
pub(crate) const MEMBER_COLUMNS: &str = "account_id, user_id, roles, status, invited_by, created_at, updated_at";

/// The columns of `tokens` that [`TokenRow`] reads, qualified with the alias `t`.
pub(crate) const TOKEN_COLUMNS: &str = "t.id, t.account_id, t.user_id, t.name, t.policies, t.ip_in, t.ip_not_in, \
    t.not_before, t.expires_on, t.status, t.hint, t.last_used_on, t.created_at, t.updated_at";

/// `SELECT` every column [`UserRow`] reads `FROM users`, for the clauses to follow.
pub(crate) const SELECT_USERS: &str = concatcp!("SELECT ", USER_COLUMNS, " FROM users ");
/// `SELECT` every column [`MemberRow`] reads `FROM members`, for the clauses to follow.
pub(crate) const SELECT_MEMBERS: &str = concatcp!("SELECT ", MEMBER_COLUMNS, " FROM members ");
/// `SELECT` every column [`TokenRow`] reads `FROM tokens t`, for the clauses to follow.
pub(crate) const SELECT_TOKENS: &str = concatcp!("SELECT ", TOKEN_COLUMNS, " FROM tokens t ");

/// A row of `users`.
#[derive(Debug, sqlx::FromRow)]
pub struct UserRow {
    pub id: Uuid,
    pub email: String,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: String,
    pub root_permissions: String,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Comma-joined names, the stored form of permission and role lists.
pub fn join_names<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names.into_iter().collect::<Vec<_>>().join(",")
}

fn split_names(text: &str) -> Vec<String> {
    text.split(',').filter(|s| !s.is_empty()).map(str::to_owned).collect()
}

impl TryFrom<UserRow> for User {
    type Error = anyhow::Error;

    fn try_from(row: UserRow) -> anyhow::Result<Self> {
        let name = |value: Option<String>, field: &'static str| {
            value.map(|v| PersonName::parse(&v, field)).transpose().map_err(corrupt("user name"))
        };
        Ok(User {
            id: UserId::from_uuid(row.id),
            email: EmailAddress::parse(&row.email).map_err(corrupt("user email"))?,
            first_name: name(row.first_name, "first_name")?,
            last_name: name(row.last_name, "last_name")?,
            status: UserStatus::parse(&row.status).map_err(corrupt("user status"))?,
            root_permissions: PermissionSet::parse(&split_names(&row.root_permissions), "root_permissions")
                .map_err(corrupt("root permissions"))?,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `members`.
#[derive(Debug, sqlx::FromRow)]
pub struct MemberRow {
    pub account_id: Uuid,
    pub user_id: Uuid,
    pub roles: String,
    pub status: String,
    pub invited_by: Option<Uuid>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

pub fn parse_roles(text: &str) -> anyhow::Result<Vec<Role>> {
    Role::parse_list(&split_names(text)).map_err(corrupt("member roles"))
}

impl TryFrom<MemberRow> for Member {
    type Error = anyhow::Error;

    fn try_from(row: MemberRow) -> anyhow::Result<Self> {
        Ok(Member {
            account_id: AccountId::from_uuid(row.account_id),
            user_id: UserId::from_uuid(row.user_id),
            roles: parse_roles(&row.roles)?,
            status: MemberStatus::parse(&row.status).map_err(corrupt("member status"))?,
            invited_by: row.invited_by.map(UserId::from_uuid),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}

/// A row of `tokens`, joined with its user's row (`u_*`) where a lookup needs both.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenRow {
    pub id: Uuid,
    pub account_id: Option<Uuid>,
    pub user_id: Uuid,
    pub name: String,
    pub policies: Json<serde_json::Value>,
    pub ip_in: String,
    pub ip_not_in: String,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_on: Option<DateTime<Utc>>,
    pub status: String,
    pub hint: String,
    pub last_used_on: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// The JSON form of token policies: `[{"effect", "permission_groups": [..], "resources": [..]}]`.
pub fn policies_to_json(policies: &[Policy]) -> serde_json::Value {
    serde_json::Value::Array(
        policies
            .iter()
            .map(|p| {
                serde_json::json!({
                    "effect": p.effect.as_str(),
                    "permission_groups": p.permissions.names(),
                    "resources": p.resources.iter().map(ToString::to_string).collect::<Vec<_>>(),
                })
            })
            .collect(),
    )
}

fn policies_from_json(value: serde_json::Value) -> anyhow::Result<Vec<Policy>> {
    let strings = |v: &serde_json::Value, key: &str| -> Vec<String> {
        v[key].as_array().map(|a| a.iter().filter_map(|s| s.as_str().map(str::to_owned)).collect()).unwrap_or_default()
    };
    value
        .as_array()
        .context("stored token policies are not a list")?
        .iter()
        .map(|p| {
            Ok(Policy {
                effect: Effect::parse(p["effect"].as_str().unwrap_or_default()).map_err(corrupt("policy effect"))?,
                permissions: PermissionSet::parse(&strings(p, "permission_groups"), "policies")
                    .map_err(corrupt("policy permissions"))?,
                resources: strings(p, "resources")
                    .iter()
                    .map(|r| AccountId::parse(r, "resources"))
                    .collect::<Result<_, _>>()
                    .map_err(corrupt("policy resources"))?,
            })
        })
        .collect()
}

/// The stored form of an IP range list.
pub fn join_nets(nets: &[IpNet]) -> String {
    nets.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

fn split_nets(text: &str) -> anyhow::Result<Vec<IpNet>> {
    text.split(',').filter(|s| !s.is_empty()).map(|s| s.parse().context("stored IP range")).collect()
}

impl TryFrom<TokenRow> for Token {
    type Error = anyhow::Error;

    fn try_from(row: TokenRow) -> anyhow::Result<Self> {
        Ok(Token {
            id: TokenId::from_uuid(row.id),
            account_id: row.account_id.map(AccountId::from_uuid),
            user_id: UserId::from_uuid(row.user_id),
            name: TokenName::parse(&row.name).map_err(corrupt("token name"))?,
            policies: policies_from_json(row.policies.0)?,
            condition: TokenCondition { ip_in: split_nets(&row.ip_in)?, ip_not_in: split_nets(&row.ip_not_in)? },
            not_before: row.not_before,
            expires_on: row.expires_on,
            status: TokenStatus::parse(&row.status).map_err(corrupt("token status"))?,
            hint: row.hint,
            last_used_on: row.last_used_on,
            created_at: row.created_at,
            updated_at: row.updated_at,
            user_hidden: false,
        })
    }
}

/// The columns of a `users` row joined to another table, prefixed `u_` (the user's id is
/// the other row's `user_id`); see [`JOINED_USER_COLUMNS`].
#[derive(Debug, sqlx::FromRow)]
pub struct JoinedUserRow {
    pub u_email: String,
    pub u_first_name: Option<String>,
    pub u_last_name: Option<String>,
    pub u_status: String,
    pub u_root_permissions: String,
    pub u_version: i64,
    pub u_created_at: DateTime<Utc>,
    pub u_updated_at: DateTime<Utc>,
}

impl JoinedUserRow {
    /// The user with id `id` these columns describe.
    pub fn into_user(self, id: Uuid) -> anyhow::Result<User> {
        User::try_from(UserRow {
            id,
            email: self.u_email,
            first_name: self.u_first_name,
            last_name: self.u_last_name,
            status: self.u_status,
            root_permissions: self.u_root_permissions,
            version: self.u_version,
            created_at: self.u_created_at,
            updated_at: self.u_updated_at,
        })
    }
}

/// A token row and its user's, from the one-query lookup by digest.
#[derive(Debug, sqlx::FromRow)]
pub struct TokenUserRow {
    #[sqlx(flatten)]
    pub token: TokenRow,
    #[sqlx(flatten)]
    pub user: JoinedUserRow,
}

impl TryFrom<TokenUserRow> for (Token, User) {
    type Error = anyhow::Error;

    fn try_from(row: TokenUserRow) -> anyhow::Result<Self> {
        let user = row.user.into_user(row.token.user_id)?;
        Ok((Token::try_from(row.token)?, user))
    }
}
