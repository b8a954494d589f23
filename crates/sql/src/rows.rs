//! Row types both stores decode, and their conversion to domain values. A row that breaks a
//! domain rule means the database was changed behind accountd's back: it is an error, never
//! silently repaired.

use accountd_domain::AuditOutcome;
use accountd_domain::{
    Account, AccountId, AccountName, AccountProfile, AccountSettings, AccountStatus, AccountType, Actor, ActorKind,
    AuditEvent, AuditEventId, EmailAddress, FieldError, RequestInfo, UserId, Version,
};
use accountd_domain::{Effect, Policy, Token, TokenCondition, TokenName, TokenStatus};
use accountd_domain::{Frequency, RatePlan, Subscription, SubscriptionState};
use accountd_domain::{IdempotencyKey, IdempotencyRecord};
use accountd_domain::{Member, MemberStatus};
use accountd_domain::{PermissionSet, Role, SubscriptionId, TokenId};
use accountd_domain::{PersonName, User, UserStatus};
use anyhow::{Context, anyhow, ensure};
use chrono::{DateTime, Utc};
use ipnet::IpNet;
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

pub(crate) fn corrupt(what: &'static str) -> impl FnOnce(FieldError) -> anyhow::Error {
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
/// the other row's `user_id`); see [`crate::joined_user_columns!`].
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

/// A row of `rate_plans`.
#[derive(Debug, sqlx::FromRow)]
pub struct RatePlanRow {
    pub id: String,
    pub public_name: String,
    pub currency: String,
    pub monthly_price: i64,
}

impl From<RatePlanRow> for RatePlan {
    fn from(row: RatePlanRow) -> Self {
        RatePlan { id: row.id, public_name: row.public_name, currency: row.currency, monthly_price: row.monthly_price }
    }
}

/// A row of `subscriptions` joined with its rate plan (`plan_*`).
#[derive(Debug, sqlx::FromRow)]
pub struct SubscriptionRow {
    pub id: Uuid,
    pub account_id: Uuid,
    pub rate_plan_id: String,
    pub plan_name: String,
    pub plan_currency: String,
    pub plan_price: i64,
    pub frequency: String,
    pub state: String,
    pub price: i64,
    pub currency: String,
    pub current_period_start: DateTime<Utc>,
    pub current_period_end: DateTime<Utc>,
    pub version: i64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl TryFrom<SubscriptionRow> for Subscription {
    type Error = anyhow::Error;

    fn try_from(row: SubscriptionRow) -> anyhow::Result<Self> {
        Ok(Subscription {
            id: SubscriptionId::from_uuid(row.id),
            account_id: AccountId::from_uuid(row.account_id),
            rate_plan: RatePlan {
                id: row.rate_plan_id,
                public_name: row.plan_name,
                currency: row.plan_currency,
                monthly_price: row.plan_price,
            },
            frequency: Frequency::parse(&row.frequency).map_err(corrupt("subscription frequency"))?,
            state: SubscriptionState::parse(&row.state).map_err(corrupt("subscription state"))?,
            price: row.price,
            currency: row.currency,
            current_period_start: row.current_period_start,
            current_period_end: row.current_period_end,
            version: Version::new(row.version),
            created_at: row.created_at,
            updated_at: row.updated_at,
        })
    }
}
