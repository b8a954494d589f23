//! The authorization decision as a value: [`Rights`] as [`Deps`](crate::Deps) loads them, asked
//! about accounts of one tree. How the store's rows become these values (root users and the
//! system exempt from two-factor enforcement, an active factor lifting it, invitations
//! granting nothing) is checked over real stores by the conformance suite
//! (`conformance/authz.rs`).
//!
//! The tree of every test: 1 ─┬─ 2 ── 3
//!                            └─ 4
//! and 5, a root account of its own (another tenant).

use Decision::*;
use Permission::*;

use super::Rights;
use crate::test_fixtures::{account, id, policy, token};
use crate::{AccessError, Account, Effect, Permission, PermissionSet, Role, Token};

/// What [`Rights::check`] answers, in a form a test can compare.
#[derive(Debug, PartialEq, Eq)]
enum Decision {
    Allowed,
    NotFound,
    Forbidden,
    TwoFactorRequired,
}

fn decision(rights: &Rights, account: &Account, permission: Permission) -> Decision {
    match rights.check(account, permission) {
        Ok(()) => Allowed,
        Err(AccessError::NotFound) => NotFound,
        Err(AccessError::Forbidden(missing)) => {
            assert_eq!(missing, permission, "a refusal names the permission asked for");
            Forbidden
        }
        Err(AccessError::TwoFactorRequired) => TwoFactorRequired,
        Err(AccessError::Unknown(e)) => panic!("a decision on values cannot fail: {e}"),
    }
}

/// The accounts of the tree, by number.
fn tree(n: u128) -> Account {
    match n {
        1 | 5 => account(n, &[]),
        2 | 4 => account(n, &[1]),
        3 => account(3, &[1, 2]),
        _ => unreachable!("the tree has five accounts"),
    }
}

fn every_account() -> Vec<Account> {
    (1..=5).map(tree).collect()
}

fn every_account_permission() -> Vec<Permission> {
    PermissionSet::account_scoped().iter().collect()
}

/// A platform token allowing every account permission and naming no account: it narrows
/// nothing, so a test sees the user's roles alone.
fn unnarrowed() -> Token {
    Token { account_id: None, ..token(vec![policy(Effect::Allow, &every_account_permission(), &[])]) }
}

/// A token of user 8 under account `under`, with `policies`.
fn token_under(under: u128, policies: Vec<crate::Policy>) -> Token {
    Token { account_id: Some(id(under)), ..token(policies) }
}

/// A user without root permissions holding `roles` on the numbered accounts, calling
/// through `token`.
fn member(memberships: &[(u128, &[Role])], token: Token) -> Rights {
    blocked_member(memberships, token, &[])
}

/// `member` without an active factor, shut out by two-factor enforcement on the numbered
/// accounts, calling through a token that narrows nothing.
fn shut_out(memberships: &[(u128, &[Role])], blocked: &[u128]) -> Rights {
    blocked_member(memberships, unnarrowed(), blocked)
}

fn blocked_member(memberships: &[(u128, &[Role])], token: Token, blocked: &[u128]) -> Rights {
    let memberships = memberships.iter().map(|(n, roles)| (id(*n), Role::union_of(roles))).collect();
    Rights::loaded(PermissionSet::EMPTY, memberships, Some(token), blocked.iter().copied().map(id).collect())
}

#[test]
fn the_system_holds_every_permission_on_every_account() {
    let system = Rights::loaded(PermissionSet::all(), Vec::new(), None, Vec::new());
    for account in every_account() {
        assert_eq!(system.on(&account), PermissionSet::all());
        for permission in Permission::ALL {
            assert_eq!(decision(&system, &account, *permission), Allowed, "{permission} on {}", account.id);
        }
    }
}

#[test]
fn root_permissions_hold_on_every_account_without_a_membership() {
    let root = Rights::loaded(PermissionSet::all(), Vec::new(), Some(unnarrowed()), Vec::new());
    for account in every_account() {
        for permission in every_account_permission() {
            assert_eq!(decision(&root, &account, permission), Allowed, "{permission} on {}", account.id);
        }
    }
    let reader = Rights::loaded(PermissionSet::of(&[AccountsRead]), Vec::new(), Some(unnarrowed()), Vec::new());
    for account in every_account() {
        assert_eq!(decision(&reader, &account, AccountsRead), Allowed);
        assert_eq!(decision(&reader, &account, AccountsWrite), Forbidden, "a root reader sees but may not write");
    }
}

#[test]
fn root_permissions_and_roles_add_up() {
    let reader_and_admin = Rights::loaded(
        PermissionSet::of(&[AccountsRead]),
        vec![(id(2), Role::Administrator.permissions())],
        Some(unnarrowed()),
        Vec::new(),
    );
    assert_eq!(decision(&reader_and_admin, &tree(3), AccountsWrite), Allowed, "the role, inherited");
    assert_eq!(decision(&reader_and_admin, &tree(5), AccountsRead), Allowed, "the root permission");
    assert_eq!(decision(&reader_and_admin, &tree(5), AccountsWrite), Forbidden);
}

#[test]
fn a_role_on_an_account_grants_on_the_account_and_every_descendant() {
    let admin = member(&[(1, &[Role::Administrator])], unnarrowed());
    for n in [1, 2, 3, 4] {
        assert_eq!(admin.on(&tree(n)), PermissionSet::account_scoped(), "account {n}");
        assert_eq!(decision(&admin, &tree(n), MembersWrite), Allowed, "account {n}");
    }
}

#[test]
fn a_role_on_a_child_grants_nothing_on_its_parent_its_sibling_or_another_tree() {
    let admin = member(&[(2, &[Role::Administrator])], unnarrowed());
    assert_eq!(decision(&admin, &tree(2), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(3), AccountsWrite), Allowed);
    for n in [1, 4, 5] {
        assert_eq!(decision(&admin, &tree(n), AccountsRead), NotFound, "account {n}");
        assert!(admin.on(&tree(n)).is_empty(), "account {n}");
    }
}

#[test]
fn the_roles_of_several_memberships_add_up_where_they_meet() {
    let rights = member(&[(1, &[Role::Viewer]), (2, &[Role::Billing])], unnarrowed());
    let on_three = rights.on(&tree(3));
    assert_eq!(on_three, Role::Viewer.permissions().union(Role::Billing.permissions()));
    assert_eq!(decision(&rights, &tree(3), AuditRead), Allowed, "the viewer role, from the grandparent");
    assert_eq!(decision(&rights, &tree(3), SubscriptionsWrite), Allowed, "the billing role, from the parent");
    assert_eq!(decision(&rights, &tree(1), SubscriptionsWrite), Forbidden, "billing reaches no ancestor");
    assert_eq!(decision(&rights, &tree(4), SubscriptionsWrite), Forbidden, "nor a sibling");
    assert_eq!(decision(&rights, &tree(4), AuditRead), Allowed);
    // Several roles of one membership add up the same way.
    let both = member(&[(5, &[Role::Billing, Role::Viewer])], unnarrowed());
    assert_eq!(both.on(&tree(5)), on_three);
}

#[test]
fn holding_nothing_is_not_found_and_holding_something_else_is_forbidden() {
    let viewer = member(&[(1, &[Role::Viewer])], unnarrowed());
    assert_eq!(decision(&viewer, &tree(1), AccountsWrite), Forbidden);
    assert_eq!(decision(&viewer, &tree(5), AccountsRead), NotFound, "existence does not leak");
    assert_eq!(viewer.check_any(&tree(2)).expect("holds something"), Role::Viewer.permissions());
    assert!(matches!(viewer.check_any(&tree(5)), Err(AccessError::NotFound)));
    let nobody = member(&[], unnarrowed());
    assert!(every_account().iter().all(|a| decision(&nobody, a, AccountsRead) == NotFound));
}

#[test]
fn a_token_never_grants_more_than_its_user_holds() {
    let member = member(&[(1, &[Role::Member])], unnarrowed());
    assert_eq!(member.on(&tree(2)), Role::Member.permissions(), "a full token adds nothing to the role");
    assert_eq!(decision(&member, &tree(2), AccountsWrite), Forbidden);
    assert_eq!(decision(&member, &tree(2), MembersWrite), Forbidden);
    assert_eq!(decision(&member, &tree(5), AccountsRead), NotFound, "nor reaches where the user is nobody");
}

#[test]
fn an_allow_policy_narrows_what_the_user_holds() {
    let narrowed = token_under(1, vec![policy(Effect::Allow, &[AliasesRead], &[])]);
    let admin = member(&[(1, &[Role::Administrator])], narrowed);
    assert_eq!(admin.on(&tree(3)), PermissionSet::of(&[AliasesRead]));
    assert_eq!(decision(&admin, &tree(3), AliasesRead), Allowed);
    assert_eq!(decision(&admin, &tree(3), AccountsRead), Forbidden, "the token holds something here");
    assert_eq!(decision(&admin, &tree(3), AliasesWrite), Forbidden);
}

#[test]
fn a_deny_policy_wins_over_an_allow_policy() {
    let everything = every_account_permission();
    let denied =
        token_under(1, vec![policy(Effect::Allow, &everything, &[]), policy(Effect::Deny, &[AccountsWrite], &[])]);
    let admin = member(&[(1, &[Role::Administrator])], denied);
    assert_eq!(decision(&admin, &tree(2), AccountsWrite), Forbidden);
    assert_eq!(decision(&admin, &tree(2), AccountsRead), Allowed);
    // The order of the policies does not matter.
    let reversed =
        token_under(1, vec![policy(Effect::Deny, &[AccountsWrite], &[]), policy(Effect::Allow, &everything, &[])]);
    assert_eq!(decision(&member(&[(1, &[Role::Administrator])], reversed), &tree(2), AccountsWrite), Forbidden);
    // A token denying all it allows holds nothing: the account is not found.
    let nothing =
        token_under(1, vec![policy(Effect::Allow, &[AccountsRead], &[]), policy(Effect::Deny, &[AccountsRead], &[])]);
    assert_eq!(decision(&member(&[(1, &[Role::Administrator])], nothing), &tree(2), AccountsRead), NotFound);
}

#[test]
fn a_deny_on_a_descendant_leaves_its_ancestors_and_siblings_alone() {
    let token = token_under(
        1,
        vec![policy(Effect::Allow, &every_account_permission(), &[1]), policy(Effect::Deny, &[AccountsWrite], &[2])],
    );
    let admin = member(&[(1, &[Role::Administrator])], token);
    assert_eq!(decision(&admin, &tree(1), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(4), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(2), AccountsWrite), Forbidden);
    assert_eq!(decision(&admin, &tree(3), AccountsWrite), Forbidden, "a deny covers descendants too");
}

#[test]
fn a_policy_without_resources_covers_the_token_account_and_its_descendants_only() {
    let token = token_under(2, vec![policy(Effect::Allow, &every_account_permission(), &[])]);
    let admin = member(&[(1, &[Role::Administrator])], token);
    assert_eq!(decision(&admin, &tree(2), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(3), AccountsWrite), Allowed);
    for n in [1, 4] {
        assert_eq!(decision(&admin, &tree(n), AccountsRead), NotFound, "the user's role reaches {n}, the token not");
    }
}

#[test]
fn a_policy_naming_an_account_covers_it_and_its_descendants_not_its_ancestors() {
    let token = token_under(1, vec![policy(Effect::Allow, &every_account_permission(), &[2])]);
    let admin = member(&[(1, &[Role::Administrator])], token);
    assert_eq!(decision(&admin, &tree(2), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(3), AccountsWrite), Allowed);
    assert_eq!(decision(&admin, &tree(1), AccountsRead), NotFound, "not even the token's own account");
    assert_eq!(decision(&admin, &tree(4), AccountsRead), NotFound);
}

#[test]
fn a_root_users_account_token_reaches_only_its_account_and_descendants() {
    let token = token_under(2, vec![policy(Effect::Allow, &every_account_permission(), &[])]);
    let root = Rights::loaded(PermissionSet::all(), Vec::new(), Some(token), Vec::new());
    assert_eq!(decision(&root, &tree(3), AccountsWrite), Allowed);
    for n in [1, 4, 5] {
        assert_eq!(decision(&root, &tree(n), AccountsRead), NotFound, "account {n}");
    }
}

#[test]
fn two_factor_enforcement_shuts_a_member_out_of_the_account_and_its_descendants() {
    let rights = shut_out(&[(1, &[Role::Administrator])], &[2]);
    for n in [2, 3] {
        assert_eq!(decision(&rights, &tree(n), AccountsRead), TwoFactorRequired, "account {n}");
        assert!(matches!(rights.check_any(&tree(n)), Err(AccessError::TwoFactorRequired)));
    }
    for n in [1, 4] {
        assert_eq!(decision(&rights, &tree(n), AccountsWrite), Allowed, "account {n} does not enforce");
    }
}

#[test]
fn two_factor_enforcement_on_an_ancestor_reaches_a_membership_below_it() {
    let rights = shut_out(&[(2, &[Role::Viewer])], &[1]);
    assert_eq!(decision(&rights, &tree(2), AccountsRead), TwoFactorRequired);
    assert_eq!(decision(&rights, &tree(3), AccountsRead), TwoFactorRequired);
}

#[test]
fn two_factor_required_comes_after_not_found_and_before_forbidden() {
    let rights = shut_out(&[(2, &[Role::Viewer])], &[2, 5]);
    assert_eq!(decision(&rights, &tree(5), AccountsRead), NotFound, "an enforcing stranger's account stays hidden");
    assert_eq!(decision(&rights, &tree(2), AccountsWrite), TwoFactorRequired, "not Forbidden: enrolling is the fix");
}

#[test]
fn listings_leave_shut_out_accounts_out() {
    let rights = shut_out(&[(1, &[Role::Viewer]), (5, &[Role::Viewer])], &[2]);
    let listed: Vec<_> = every_account().into_iter().filter(|a| !rights.on(a).is_empty()).map(|a| a.id).collect();
    assert_eq!(listed, [id(1), id(4), id(5)]);
    assert!(rights.on(&tree(3)).is_empty(), "a descendant of the enforcing account too");
}

#[test]
fn nothing_blocked_lets_every_member_in() {
    // What Deps loads for a member with an active factor, a root user and the system.
    let rights = shut_out(&[(1, &[Role::Viewer])], &[]);
    for n in [1, 2, 3, 4] {
        assert_eq!(decision(&rights, &tree(n), AccountsRead), Allowed, "account {n}");
    }
}
