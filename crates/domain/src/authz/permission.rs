//! The fixed permission catalogue and the built-in roles (SPEC §1). Permissions are a bit
//! set, so combining a user's roles and narrowing them by a token are single instructions.

use std::fmt;

use crate::FieldError;

named_enum!(
    /// One right. Account permissions apply to an account and, through inheritance, to its
    /// descendants; `users:*` and `domains:write` are platform permissions, meaningful only as root permissions.
    /// `mfa:write` is a token grant: a token must allow it to manage its own user's MFA
    /// factors (every user may manage its own; a token narrowed without it may not).
    /// `authz:check` is a platform permission too: asking the decision API
    /// ([`AuthorizationService`](crate::AuthorizationService)) about any subject.
    /// `events:read` is a platform permission: following every account's events
    /// ([`EventService`](crate::EventService)).
    Permission, "permission" {
        AccountsRead => "accounts:read",
        AccountsWrite => "accounts:write",
        MembersRead => "members:read",
        MembersWrite => "members:write",
        TokensRead => "tokens:read",
        TokensWrite => "tokens:write",
        AliasesRead => "aliases:read",
        AliasesWrite => "aliases:write",
        SubscriptionsRead => "subscriptions:read",
        SubscriptionsWrite => "subscriptions:write",
        AuditRead => "audit:read",
        UsersMfaReset => "users:mfa_reset",
        MfaWrite => "mfa:write",
        UsersRead => "users:read",
        UsersWrite => "users:write",
        DomainsWrite => "domains:write",
        AuthzCheck => "authz:check",
        EventsRead => "events:read",
    }
);

impl Permission {
    fn bit(self) -> u32 {
        1 << (self as u32)
    }

    /// A human name for permission-group listings (`accounts:read` → "Accounts Read").
    pub fn title(&self) -> String {
        self.as_str()
            .split([':', '_'])
            .map(|w| {
                let mut c = w.chars();
                c.next().map(|f| f.to_uppercase().chain(c).collect::<String>()).unwrap_or_default()
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    /// Whether the permission is granted per account (as opposed to platform-wide only).
    pub fn is_account_scoped(&self) -> bool {
        !matches!(self, Self::UsersRead | Self::UsersWrite | Self::DomainsWrite | Self::AuthzCheck | Self::EventsRead)
    }
}

/// A set of permissions.
#[derive(Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct PermissionSet(u32);

impl PermissionSet {
    pub const EMPTY: PermissionSet = PermissionSet(0);

    pub fn all() -> Self {
        Self::of(Permission::ALL)
    }

    /// Every permission that applies to an account.
    pub fn account_scoped() -> Self {
        Self::of_iter(Permission::ALL.iter().copied().filter(Permission::is_account_scoped))
    }

    pub fn of(permissions: &[Permission]) -> Self {
        Self::of_iter(permissions.iter().copied())
    }

    pub fn of_iter(permissions: impl IntoIterator<Item = Permission>) -> Self {
        Self(permissions.into_iter().fold(0, |bits, p| bits | p.bit()))
    }

    /// Parses permission names; the error names `field`.
    pub fn parse(names: &[String], field: &str) -> Result<Self, FieldError> {
        names
            .iter()
            .map(|n| Permission::parse(n).map_err(|e| e.at(field)))
            .collect::<Result<Vec<_>, _>>()
            .map(|v| Self::of(&v))
    }

    pub fn contains(&self, permission: Permission) -> bool {
        self.0 & permission.bit() != 0
    }

    pub fn is_empty(&self) -> bool {
        self.0 == 0
    }

    pub fn union(self, other: Self) -> Self {
        Self(self.0 | other.0)
    }

    pub fn intersection(self, other: Self) -> Self {
        Self(self.0 & other.0)
    }

    pub fn difference(self, other: Self) -> Self {
        Self(self.0 & !other.0)
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        Permission::ALL.iter().copied().filter(|p| self.contains(*p))
    }

    /// The canonical names, in catalogue order.
    pub fn names(&self) -> Vec<&'static str> {
        self.iter().map(|p| p.as_str()).collect()
    }
}

impl fmt::Debug for PermissionSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.names()).finish()
    }
}

named_enum!(
    /// The built-in roles. A member holds one or more; their permissions add up.
    Role, "roles" {
        Owner => "owner",
        Administrator => "administrator",
        Member => "member",
        Billing => "billing",
        Viewer => "viewer",
    }
);

impl Role {
    pub fn permissions(&self) -> PermissionSet {
        use Permission::*;
        match self {
            Self::Owner | Self::Administrator => PermissionSet::account_scoped(),
            Self::Member => PermissionSet::of(&[
                AccountsRead,
                MembersRead,
                TokensRead,
                TokensWrite,
                AliasesRead,
                AliasesWrite,
                SubscriptionsRead,
            ]),
            Self::Billing => PermissionSet::of(&[AccountsRead, SubscriptionsRead, SubscriptionsWrite]),
            Self::Viewer => {
                PermissionSet::of(&[AccountsRead, MembersRead, TokensRead, AliasesRead, SubscriptionsRead, AuditRead])
            }
        }
    }

    pub fn description(&self) -> &'static str {
        match self {
            Self::Owner => "Owns the account: every permission; removed or demoted only by an ownership transfer",
            Self::Administrator => "Every permission on the account and its descendants",
            Self::Member => "Reads the account; manages its own tokens and the account's aliases",
            Self::Billing => "Reads the account; manages its subscriptions",
            Self::Viewer => "Reads everything, changes nothing",
        }
    }

    /// The union of the permissions of `roles`.
    pub fn union_of(roles: &[Role]) -> PermissionSet {
        roles.iter().fold(PermissionSet::EMPTY, |set, r| set.union(r.permissions()))
    }

    /// Parses a non-empty list of role ids, without duplicates, in catalogue order.
    pub fn parse_list(names: &[String]) -> Result<Vec<Role>, FieldError> {
        if names.is_empty() {
            return Err(FieldError::new("roles", "required", "must name at least one role"));
        }
        let parsed = names.iter().map(|n| Role::parse(n)).collect::<Result<Vec<_>, _>>()?;
        Ok(Role::ALL.iter().copied().filter(|r| parsed.contains(r)).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_viewer_reads_and_never_writes() {
        let viewer = Role::Viewer.permissions();
        assert!(viewer.iter().all(|p| p.as_str().ends_with(":read")), "{viewer:?}");
        assert!(viewer.contains(Permission::AccountsRead));
    }

    #[test]
    fn owners_and_administrators_hold_every_account_permission_but_no_platform_one() {
        for role in [Role::Owner, Role::Administrator] {
            assert!(role.permissions().contains(Permission::UsersMfaReset));
            assert!(!role.permissions().contains(Permission::UsersWrite));
            assert!(!role.permissions().contains(Permission::AuthzCheck));
        }
    }

    #[test]
    fn billing_manages_subscriptions_only() {
        let billing = Role::Billing.permissions();
        assert!(billing.contains(Permission::SubscriptionsWrite));
        assert!(!billing.contains(Permission::MembersWrite) && !billing.contains(Permission::AccountsWrite));
    }

    #[test]
    fn set_operations_behave() {
        let a = PermissionSet::of(&[Permission::AccountsRead, Permission::AccountsWrite]);
        let b = PermissionSet::of(&[Permission::AccountsRead, Permission::AuditRead]);
        assert_eq!(a.intersection(b), PermissionSet::of(&[Permission::AccountsRead]));
        assert_eq!(a.difference(b), PermissionSet::of(&[Permission::AccountsWrite]));
        assert_eq!(a.union(b).names(), ["accounts:read", "accounts:write", "audit:read"]);
    }

    #[test]
    fn role_lists_need_one_known_role() {
        assert_eq!(Role::parse_list(&[]).unwrap_err().code, "required");
        assert_eq!(Role::parse_list(&["emperor".into()]).unwrap_err().field, "roles");
        assert_eq!(
            Role::parse_list(&["viewer".into(), "owner".into(), "viewer".into()]),
            Ok(vec![Role::Owner, Role::Viewer])
        );
    }

    #[test]
    fn permissions_have_titles() {
        assert_eq!(Permission::UsersMfaReset.title(), "Users Mfa Reset");
        assert_eq!(Permission::AccountsRead.title(), "Accounts Read");
    }
}
