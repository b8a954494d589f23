//! API tokens (seed 004): a token acts for one user, narrowed by its policies and
//! conditions. Its effective rights are its policies intersected with what its user holds
//! now, so removing the user from an account removes the token's power there at once.

use std::fmt;
use std::net::IpAddr;

use chrono::{DateTime, Utc};
use ipnet::IpNet;

use crate::text::{self, Lines};
use crate::{
    AccountId, AuditValue, Collector, FieldError, Permission, PermissionSet, Snapshot, TokenId, TreePosition, UserId,
    ValidationErrors,
};

/// A token's display name: trimmed, 1–100 characters.
#[derive(Clone, PartialEq, Eq)]
pub struct TokenName(String);

impl TokenName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = text::clean(input, "name", 100, Lines::One)?;
        if name.is_empty() {
            return Err(FieldError::new("name", "required", "must not be empty"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for TokenName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TokenName({:?})", self.0)
    }
}

named_enum!(
    /// Whether a policy grants or takes away.
    Effect, "effect" {
        Allow => "allow",
        Deny => "deny",
    }
);

named_enum!(
    /// The stored status; `expired` is derived from `expires_on` when shown.
    TokenStatus, "status" {
        Active => "active",
        Disabled => "disabled",
        Expired => "expired",
    }
);

/// One policy: `effect` on `permissions` over `resources` (accounts and their descendants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    pub effect: Effect,
    pub permissions: PermissionSet,
    /// Empty means the token's own account (every account for a platform token).
    pub resources: Vec<AccountId>,
}

impl Policy {
    /// Whether this policy speaks about `account` for a token bound to `token_account`.
    fn covers(&self, account: &impl TreePosition, token_account: Option<AccountId>) -> bool {
        let within = |r: &AccountId| account.is_within(*r);
        if self.resources.is_empty() {
            token_account.is_none_or(|t| within(&t))
        } else {
            self.resources.iter().any(within)
        }
    }
}

/// Request conditions (seed 004): client IP ranges that must or must not match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenCondition {
    pub ip_in: Vec<IpNet>,
    pub ip_not_in: Vec<IpNet>,
}

impl TokenCondition {
    /// Whether a request from `ip` may use the token. An unknown address passes only when
    /// there is no condition at all: a restriction never fails open.
    pub fn admits(&self, ip: Option<IpAddr>) -> bool {
        match ip {
            None => self.ip_in.is_empty() && self.ip_not_in.is_empty(),
            Some(ip) => {
                let ip = canonical(ip);
                (self.ip_in.is_empty() || self.ip_in.iter().any(|n| n.contains(&ip)))
                    && !self.ip_not_in.iter().any(|n| n.contains(&ip))
            }
        }
    }
}

/// IPv4 clients reaching a dual-stack listener appear as `::ffff:a.b.c.d`.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// An API token. The secret is never part of it; only its digest is stored beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub id: TokenId,
    /// The account it was created under; `None` for a platform token.
    pub account_id: Option<AccountId>,
    pub user_id: UserId,
    pub name: TokenName,
    pub policies: Vec<Policy>,
    pub condition: TokenCondition,
    pub not_before: Option<DateTime<Utc>>,
    pub expires_on: Option<DateTime<Utc>>,
    /// `Active` or `Disabled`; see [`Token::status_at`].
    pub status: TokenStatus,
    pub hint: String,
    pub last_used_on: Option<DateTime<Utc>>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Set on a root user's token shown to a tenant: the wire shows no `user_id` (the
    /// platform's ids are not the tenant's to know; docs/ARCHITECTURE.md rule 5).
    pub user_hidden: bool,
}

impl Token {
    /// The status as of `now`: an active token past `expires_on` is expired.
    pub fn status_at(&self, now: DateTime<Utc>) -> TokenStatus {
        match self.status {
            TokenStatus::Active if self.expires_on.is_some_and(|e| now >= e) => TokenStatus::Expired,
            status => status,
        }
    }

    /// Whether the token may be used at `now` (active, after `not_before`, before expiry).
    pub fn usable_at(&self, now: DateTime<Utc>) -> bool {
        self.status_at(now) == TokenStatus::Active && self.not_before.is_none_or(|nb| now >= nb)
    }

    /// What the token allows on every account alike: platform permissions need a platform
    /// token whose allow policies name no resources (deny policies still subtract).
    pub fn platform_grant(&self) -> PermissionSet {
        if self.account_id.is_some() {
            return PermissionSet::EMPTY;
        }
        allow_minus_deny(self.policies.iter().filter(|p| p.effect == Effect::Deny || p.resources.is_empty()))
    }

    /// Whether the token may manage its own user's MFA factors: some allow policy grants
    /// `mfa:write` (explicitly, or by granting every account permission) and no deny policy
    /// takes it away. A token narrowed to, say, `aliases:read` may not.
    pub fn allows_mfa_write(&self) -> bool {
        allows_mfa_write(&self.policies)
    }

    /// What the token's policies allow on `account`, before intersecting with the user's rights.
    pub fn grant_on(&self, account: &impl TreePosition) -> PermissionSet {
        grant(&self.policies, self.account_id, account)
    }

    pub fn snapshot(&self) -> Snapshot {
        let list = |items: Vec<String>| AuditValue::List(items.into_iter().map(AuditValue::from).collect());
        Snapshot::default()
            .with("name", self.name.as_str())
            .with("user_id", self.user_id.to_string())
            .with("status", self.status.as_str())
            .with(
                "policies",
                list(
                    self.policies
                        .iter()
                        .map(|p| {
                            let resources: Vec<String> = p.resources.iter().map(ToString::to_string).collect();
                            format!("{} {} on {}", p.effect, p.permissions.names().join(","), resources.join(","))
                        })
                        .collect(),
                ),
            )
            .with("ip_in", list(self.condition.ip_in.iter().map(ToString::to_string).collect()))
            .with("ip_not_in", list(self.condition.ip_not_in.iter().map(ToString::to_string).collect()))
            .with("not_before", self.not_before.map(|t| t.to_rfc3339()))
            .with("expires_on", self.expires_on.map(|t| t.to_rfc3339()))
    }
}

/// Whether `policies` allow `mfa:write` (on any account: factors are the user's).
pub(crate) fn allows_mfa_write(policies: &[Policy]) -> bool {
    allow_minus_deny(policies.iter()).contains(Permission::MfaWrite)
}

/// Allow minus deny over the policies that cover `account`.
pub(crate) fn grant(
    policies: &[Policy],
    token_account: Option<AccountId>,
    account: &impl TreePosition,
) -> PermissionSet {
    allow_minus_deny(policies.iter().filter(|p| p.covers(account, token_account)))
}

/// Allow minus deny over `policies`. Permissions added to the catalogue later are implied
/// by a policy that named everything before them, so such a token is not narrowed (tokens
/// made before they existed, the bootstrap token and the default tokens made from them):
/// an allow policy naming every account permission but `mfa:write` implies `mfa:write`, and
/// one naming every permission but `mfa:write`, `authz:check` and `events:read` (a full
/// platform token, which could already make itself any other token) implies `authz:check`
/// and `events:read` too.
fn allow_minus_deny<'a>(policies: impl Iterator<Item = &'a Policy>) -> PermissionSet {
    let later = |set: PermissionSet, added: &[Permission]| set.difference(PermissionSet::of(added));
    let full_account = later(PermissionSet::account_scoped(), &[Permission::MfaWrite]);
    let full_platform =
        later(PermissionSet::all(), &[Permission::MfaWrite, Permission::AuthzCheck, Permission::EventsRead]);
    let implied = |named: PermissionSet| {
        let covers = |full: PermissionSet| named.intersection(full) == full;
        match (covers(full_platform), covers(full_account)) {
            (true, _) => {
                named.union(PermissionSet::of(&[Permission::MfaWrite, Permission::AuthzCheck, Permission::EventsRead]))
            }
            (false, true) => named.union(PermissionSet::of(&[Permission::MfaWrite])),
            (false, false) => named,
        }
    };
    let (allow, deny) =
        policies.fold((PermissionSet::EMPTY, PermissionSet::EMPTY), |(allow, deny), p| match p.effect {
            Effect::Allow => (allow.union(implied(p.permissions)), deny),
            Effect::Deny => (allow, deny.union(p.permissions)),
        });
    allow.difference(deny)
}

/// Raw policy input.
#[derive(Debug, Clone, Default)]
pub struct PolicyInput {
    pub effect: Option<String>,
    pub permission_groups: Vec<String>,
    pub resources: Vec<String>,
}

/// Raw token input, for create (all fields) and update (absent fields kept).
#[derive(Debug, Clone, Default)]
pub struct TokenInput {
    pub name: Option<String>,
    /// Create only: whose token it is (the caller when absent).
    pub user_id: Option<String>,
    pub status: Option<String>,
    pub policies: Option<Vec<PolicyInput>>,
    pub ip_in: Option<Vec<String>>,
    pub ip_not_in: Option<Vec<String>>,
    /// RFC 3339; an empty string clears.
    pub not_before: Option<String>,
    pub expires_on: Option<String>,
}

/// Validated token fields; `None` keeps (update) or defaults (create).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TokenFields {
    pub name: Option<TokenName>,
    pub user_id: Option<UserId>,
    pub status: Option<TokenStatus>,
    pub policies: Option<Vec<Policy>>,
    pub ip_in: Option<Vec<IpNet>>,
    pub ip_not_in: Option<Vec<IpNet>>,
    pub not_before: Option<Option<DateTime<Utc>>>,
    pub expires_on: Option<Option<DateTime<Utc>>>,
}

impl TokenFields {
    /// The canonical form of these fields for the idempotent create `operation`.
    pub(crate) fn fingerprint(&self, operation: &str) -> crate::Fingerprint {
        let list =
            |items: Option<&Vec<IpNet>>| items.map(|l| l.iter().map(ToString::to_string).collect::<Vec<_>>().join(","));
        let time = |t: Option<Option<DateTime<Utc>>>| t.map(|t| t.map(|t| t.to_rfc3339()).unwrap_or_default());
        let policies = self.policies.as_ref().map(|policies| {
            policies
                .iter()
                .map(|p| {
                    let resources = p.resources.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
                    format!("{}:{}:{resources}", p.effect.as_str(), p.permissions.names().join(","))
                })
                .collect::<Vec<_>>()
                .join(";")
        });
        crate::Fingerprint::new(operation)
            .field("name", self.name.as_ref().map(TokenName::as_str))
            .field("user", self.user_id)
            .field("status", self.status.map(|s| s.as_str()))
            .field("policies", policies)
            .field("ip_in", list(self.ip_in.as_ref()))
            .field("ip_not_in", list(self.ip_not_in.as_ref()))
            .field("not_before", time(self.not_before))
            .field("expires_on", time(self.expires_on))
    }
}

impl TokenInput {
    pub fn validate(self) -> Result<TokenFields, ValidationErrors> {
        let mut errors = Collector::default();
        let name = errors.take_opt(self.name.map(|n| TokenName::parse(&n)));
        let user_id = errors.take_opt(self.user_id.filter(|u| !u.is_empty()).map(|u| UserId::parse(&u, "user_id")));
        let status = errors.take_opt(self.status.map(|s| match TokenStatus::parse(&s) {
            Ok(TokenStatus::Expired) => {
                Err(FieldError::new("status", "unknown_value", "must be one of active, disabled"))
            }
            other => other,
        }));
        let policies = errors.take_opt(self.policies.map(parse_policies));
        let ip_in = errors.take_opt(self.ip_in.map(|l| parse_cidrs(&l, "condition.request_ip.in")));
        let ip_not_in = errors.take_opt(self.ip_not_in.map(|l| parse_cidrs(&l, "condition.request_ip.not_in")));
        let not_before = errors.take_opt(self.not_before.map(|t| parse_time(&t, "not_before")));
        let expires_on = errors.take_opt(self.expires_on.map(|t| parse_time(&t, "expires_on")));
        if let (Some(Some(Some(nb))), Some(Some(Some(exp)))) = (&not_before, &expires_on)
            && exp <= nb
        {
            errors.take::<()>(Err(FieldError::new("expires_on", "before_not_before", "must be later than not_before")));
        }
        errors.finish()?;
        Ok(TokenFields {
            name: name.flatten(),
            user_id: user_id.flatten(),
            status: status.flatten(),
            policies: policies.flatten(),
            ip_in: ip_in.flatten(),
            ip_not_in: ip_not_in.flatten(),
            not_before: not_before.flatten(),
            expires_on: expires_on.flatten(),
        })
    }
}

fn parse_policies(inputs: Vec<PolicyInput>) -> Result<Vec<Policy>, FieldError> {
    if inputs.len() > 50 {
        return Err(FieldError::new("policies", "too_many", "must be at most 50 policies"));
    }
    inputs
        .into_iter()
        .enumerate()
        .map(|(i, p)| {
            let at = |f: &str| format!("policies[{i}].{f}");
            let effect = match p.effect.as_deref() {
                None | Some("") => Effect::Allow,
                Some(e) => Effect::parse(e).map_err(|e| e.at(at("effect")))?,
            };
            if p.permission_groups.is_empty() {
                return Err(FieldError::new(at("permission_groups"), "required", "must name at least one permission"));
            }
            let permissions = PermissionSet::parse(&p.permission_groups, &at("permission_groups"))?;
            let resources =
                p.resources.iter().map(|r| AccountId::parse(r, &at("resources"))).collect::<Result<Vec<_>, _>>()?;
            Ok(Policy { effect, permissions, resources })
        })
        .collect()
}

fn parse_cidrs(items: &[String], field: &str) -> Result<Vec<IpNet>, FieldError> {
    if items.len() > 100 {
        return Err(FieldError::new(field, "too_many", "must be at most 100 ranges"));
    }
    items
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>().or_else(|_| s.parse::<IpAddr>().map(IpNet::from)).map(|n| n.trunc()).map_err(|_| {
                FieldError::new(field, "invalid_cidr", format!("{s:?} is not an IP address or CIDR range"))
            })
        })
        .collect()
}

fn parse_time(text: &str, field: &str) -> Result<Option<DateTime<Utc>>, FieldError> {
    if text.trim().is_empty() {
        return Ok(None);
    }
    DateTime::parse_from_rfc3339(text.trim())
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|_| FieldError::new(field, "invalid_time", "must be an RFC 3339 timestamp"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Permission;
    use crate::test_fixtures::{account, policy, token};

    #[test]
    fn a_policy_without_resources_covers_the_token_account_and_its_descendants_only() {
        let token_account = Some(AccountId::from_uuid(uuid::Uuid::from_u128(1)));
        let policies = [policy(Effect::Allow, &[Permission::AccountsRead], &[])];
        assert!(grant(&policies, token_account, &account(1, &[])).contains(Permission::AccountsRead));
        assert!(grant(&policies, token_account, &account(2, &[1])).contains(Permission::AccountsRead));
        assert!(grant(&policies, token_account, &account(3, &[])).is_empty());
        assert!(grant(&policies, None, &account(3, &[])).contains(Permission::AccountsRead), "platform token");
    }

    #[test]
    fn deny_wins_over_allow() {
        let policies = [
            policy(Effect::Allow, &[Permission::AccountsRead, Permission::AccountsWrite], &[1]),
            policy(Effect::Deny, &[Permission::AccountsWrite], &[2]),
        ];
        assert_eq!(grant(&policies, None, &account(2, &[1])), PermissionSet::of(&[Permission::AccountsRead]));
        assert!(grant(&policies, None, &account(1, &[])).contains(Permission::AccountsWrite));
    }

    #[test]
    fn mfa_write_is_granted_explicitly_or_by_every_other_account_permission_and_denied_by_deny() {
        let everything_else: Vec<Permission> =
            PermissionSet::account_scoped().iter().filter(|p| *p != Permission::MfaWrite).collect();
        assert!(token(vec![policy(Effect::Allow, &everything_else, &[])]).allows_mfa_write(), "a full token");
        assert!(token(vec![policy(Effect::Allow, &[Permission::MfaWrite], &[])]).allows_mfa_write());
        assert!(!token(vec![policy(Effect::Allow, &[Permission::AliasesRead], &[])]).allows_mfa_write(), "narrowed");
        let denied =
            vec![policy(Effect::Allow, &everything_else, &[]), policy(Effect::Deny, &[Permission::MfaWrite], &[])];
        assert!(!token(denied).allows_mfa_write());
        // A full token's grant on its account carries mfa:write too, so it may pass it on.
        let full = token(vec![policy(Effect::Allow, &everything_else, &[])]);
        assert!(full.grant_on(&account(1, &[])).contains(Permission::MfaWrite));
    }

    #[test]
    fn a_full_platform_token_made_before_authz_check_implies_it_and_a_narrower_one_does_not() {
        let before: Vec<Permission> = Permission::ALL
            .iter()
            .copied()
            .filter(|p| !matches!(p, Permission::AuthzCheck | Permission::EventsRead))
            .collect();
        let platform = |policies| Token { account_id: None, ..token(policies) };
        assert!(platform(vec![policy(Effect::Allow, &before, &[])]).platform_grant().contains(Permission::AuthzCheck));
        let without_users: Vec<Permission> = before.iter().copied().filter(|p| *p != Permission::UsersWrite).collect();
        let narrower = platform(vec![policy(Effect::Allow, &without_users, &[])]);
        assert!(!narrower.platform_grant().contains(Permission::AuthzCheck));
        let denied =
            platform(vec![policy(Effect::Allow, &before, &[]), policy(Effect::Deny, &[Permission::AuthzCheck], &[])]);
        assert!(!denied.platform_grant().contains(Permission::AuthzCheck));
    }

    #[test]
    fn ip_conditions_admit_and_refuse() {
        let input = TokenInput {
            ip_in: Some(vec!["10.0.0.0/8".into(), "2001:db8::/32".into()]),
            ip_not_in: Some(vec!["10.1.2.3".into()]),
            ..Default::default()
        };
        let fields = input.validate().unwrap();
        let condition = TokenCondition { ip_in: fields.ip_in.unwrap(), ip_not_in: fields.ip_not_in.unwrap() };
        assert!(condition.admits(Some("10.9.9.9".parse().unwrap())));
        assert!(condition.admits(Some("::ffff:10.9.9.9".parse().unwrap())), "v4-mapped v6 is the v4 address");
        assert!(!condition.admits(Some("10.1.2.3".parse().unwrap())));
        assert!(!condition.admits(Some("192.0.2.1".parse().unwrap())));
        assert!(!condition.admits(None));
        assert!(TokenCondition::default().admits(None));
        let deny_only = TokenCondition { ip_in: vec![], ip_not_in: vec!["10.0.0.0/8".parse().unwrap()] };
        assert!(!deny_only.admits(None), "an unknown address does not slip past a deny list");
    }

    #[test]
    fn bad_token_input_names_each_field() {
        let err = TokenInput {
            name: Some(" ".into()),
            status: Some("expired".into()),
            policies: Some(vec![PolicyInput { effect: Some("maybe".into()), ..Default::default() }]),
            ip_in: Some(vec!["not-an-ip".into()]),
            not_before: Some("2030-01-02T00:00:00Z".into()),
            expires_on: Some("2030-01-01T00:00:00Z".into()),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        for field in ["name", "status", "policies[0].effect", "condition.request_ip.in", "expires_on"] {
            assert!(err.mentions(field), "{field}: {err}");
        }
    }

    #[test]
    fn expiry_and_not_before_bound_use() {
        let now = Utc::now();
        let mut token = Token { not_before: Some(now + chrono::Duration::hours(1)), ..token(vec![]) };
        assert!(!token.usable_at(now), "not yet valid");
        token.not_before = None;
        token.expires_on = Some(now - chrono::Duration::seconds(1));
        assert_eq!(token.status_at(now), TokenStatus::Expired);
        assert!(!token.usable_at(now));
    }
}
