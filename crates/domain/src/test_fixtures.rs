//! Values for unit tests, named by small numbers so a test reads like its picture:
//! `account(3, &[1, 2])` is account 3 under account 2 under account 1.

use chrono::Utc;

use crate::{
    Account, AccountId, AccountName, AccountSettings, AccountStatus, AccountType, Effect, EmailAddress, Permission,
    PermissionSet, Policy, Token, TokenCondition, TokenId, TokenName, TokenStatus, User, UserId, UserStatus, Version,
};

/// The account id numbered `n`.
pub(crate) fn id(n: u128) -> AccountId {
    AccountId::from_uuid(uuid::Uuid::from_u128(n))
}

/// Account `n` whose ancestors are `hierarchy`, root first.
pub(crate) fn account(n: u128, hierarchy: &[u128]) -> Account {
    let now = Utc::now();
    Account {
        id: id(n),
        name: AccountName::parse("a").unwrap(),
        account_type: AccountType::Agency,
        status: AccountStatus::Verified,
        owner_id: None,
        hierarchy: hierarchy.iter().copied().map(id).collect(),
        settings: AccountSettings::default(),
        profile: Default::default(),
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    }
}

/// A policy with `effect` on `permissions` over the accounts numbered `resources`.
pub(crate) fn policy(effect: Effect, permissions: &[Permission], resources: &[u128]) -> Policy {
    Policy {
        effect,
        permissions: PermissionSet::of(permissions),
        resources: resources.iter().copied().map(id).collect(),
    }
}

/// An active token of user 8 under account 1, without conditions.
pub(crate) fn token(policies: Vec<Policy>) -> Token {
    let now = Utc::now();
    Token {
        id: TokenId::from_uuid(uuid::Uuid::from_u128(9)),
        account_id: Some(id(1)),
        user_id: UserId::from_uuid(uuid::Uuid::from_u128(8)),
        name: TokenName::parse("t").unwrap(),
        policies,
        condition: TokenCondition::default(),
        not_before: None,
        expires_on: None,
        status: TokenStatus::Active,
        hint: String::new(),
        last_used_on: None,
        created_at: now,
        updated_at: now,
        user_hidden: false,
    }
}

/// Active user `n` (`user8@example.com` is the user of [`token`]), with no root permission.
pub(crate) fn user(n: u128) -> User {
    let now = Utc::now();
    User {
        id: UserId::from_uuid(uuid::Uuid::from_u128(n)),
        email: EmailAddress::parse(&format!("user{n}@example.com")).unwrap(),
        first_name: None,
        last_name: None,
        status: UserStatus::Active,
        root_permissions: PermissionSet::EMPTY,
        version: Version::INITIAL,
        created_at: now,
        updated_at: now,
    }
}

/// Token `n` of user 8 under account 1, allowing everything (as [`token`] with its own id).
pub(crate) fn numbered_token(n: u128) -> Token {
    Token { id: TokenId::from_uuid(uuid::Uuid::from_u128(1000 + n)), ..token(Vec::new()) }
}
