//! Accounts (tenants): the entity, its value types, the commands that change it, and the
//! [`AccountService`] that enforces their rules.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::text::{self, Lines};
use crate::{
    AccountId, AuditValue, Collector, DomainId, EmailAddress, FieldError, LocalPart, Snapshot, UserId,
    ValidationErrors, Version,
};

/// An account's display name: trimmed, 1–100 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct AccountName(String);

impl AccountName {
    pub const MAX_CHARS: usize = 100;

    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let name = text::clean(input, "name", Self::MAX_CHARS, Lines::One)?;
        if name.is_empty() {
            return Err(FieldError::new("name", "required", "must not be empty"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// What an account search looks for: the start of a name (trimmed, one line, at most as
/// long as a name), compared case-insensitively. Never empty.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountNamePrefix(String);

impl AccountNamePrefix {
    pub fn parse(input: &str, field: &str) -> Result<Self, FieldError> {
        let prefix = text::clean(input, field, AccountName::MAX_CHARS, Lines::One)?;
        if prefix.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        Ok(Self(prefix))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for AccountName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AccountName({:?})", self.0)
    }
}

named_enum!(
    /// What kind of tenant an account is (seeds 003 and 004).
    AccountType, "type" {
        Standard => "standard",
        Enterprise => "enterprise",
        AdAccount => "ad_account",
        BusinessManager => "business_manager",
        Agency => "agency",
    }
);

impl AccountType {
    /// Only containers may have child accounts.
    pub fn is_container(&self) -> bool {
        matches!(self, Self::Enterprise | Self::BusinessManager | Self::Agency)
    }
}

named_enum!(
    /// Where an account stands in verification (seed 003, plus `suspended`).
    AccountStatus, "status" {
        Unverified => "unverified",
        Pending => "pending",
        Verified => "verified",
        Suspended => "suspended",
    }
);

/// Per-account settings (seed 004).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountSettings {
    pub abuse_contact_email: Option<EmailAddress>,
    pub enforce_twofactor: bool,
}

/// The business behind an account (seed 004 account profile). Every field is optional.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountProfile {
    pub business_name: Option<String>,
    pub business_address: Option<String>,
    pub business_email: Option<EmailAddress>,
    pub business_phone: Option<String>,
    /// Opaque to accountd: whatever the product stores there.
    pub external_metadata: Option<String>,
}

/// Raw profile input; an absent or empty field is cleared (the profile is replaced whole).
#[derive(Debug, Clone, Default)]
pub struct AccountProfileInput {
    pub business_name: Option<String>,
    pub business_address: Option<String>,
    pub business_email: Option<String>,
    pub business_phone: Option<String>,
    pub external_metadata: Option<String>,
}

impl AccountProfileInput {
    pub fn validate(self) -> Result<AccountProfile, ValidationErrors> {
        let mut errors = Collector::default();
        let text = |value: Option<String>, field: &'static str, max: usize, lines: Lines| {
            text::clean_opt(value.as_deref(), field, max, lines).transpose()
        };
        let name = errors.take(text(self.business_name, "business_name", 100, Lines::One));
        let address = errors.take(text(self.business_address, "business_address", 500, Lines::Many));
        let email = errors.take_opt(
            non_empty(self.business_email).map(|e| EmailAddress::parse(&e).map_err(|e| e.at("business_email"))),
        );
        let phone = errors.take(text(self.business_phone, "business_phone", 32, Lines::One).and_then(|p| match p {
            Some(p)
                if !p.chars().all(|c| c.is_ascii_digit() || " +-().".contains(c))
                    || !p.chars().any(|c| c.is_ascii_digit()) =>
            {
                Err(FieldError::new(
                    "business_phone",
                    "invalid_phone",
                    "must be a phone number: digits, spaces and + - ( ) .",
                ))
            }
            other => Ok(other),
        }));
        let metadata = errors.take(text(self.external_metadata, "external_metadata", 4096, Lines::Many));
        errors.finish()?;
        Ok(AccountProfile {
            business_name: name.flatten(),
            business_address: address.flatten(),
            business_email: email.flatten(),
            business_phone: phone.flatten(),
            external_metadata: metadata.flatten(),
        })
    }
}

/// A tenant. Fields are public so stores can rebuild one; every field holds a value type
/// that was validated when it was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    pub id: AccountId,
    pub name: AccountName,
    pub account_type: AccountType,
    pub status: AccountStatus,
    /// The owning user; set once users exist.
    pub owner_id: Option<UserId>,
    /// Ancestor ids, root first; empty for a top-level account. The parent is the last one.
    pub hierarchy: Vec<AccountId>,
    pub settings: AccountSettings,
    pub profile: AccountProfile,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Where an account sits in the tree: what a decision about it reads (the roles held on it
/// or an ancestor, policies naming it or an ancestor). An [`Account`] is one; so is a
/// [`Placement`], which the decision cache keeps instead of the whole account.
pub trait TreePosition {
    fn account_id(&self) -> AccountId;
    /// Ancestor ids, root first.
    fn ancestors(&self) -> &[AccountId];

    /// Whether this account is `id` or lies under it.
    fn is_within(&self, id: AccountId) -> bool {
        self.account_id() == id || self.ancestors().contains(&id)
    }
}

impl TreePosition for Account {
    fn account_id(&self) -> AccountId {
        self.id
    }

    fn ancestors(&self) -> &[AccountId] {
        &self.hierarchy
    }
}

/// An account's place in the tree and whether it enforces two-factor authentication:
/// everything a decision reads of an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    pub id: AccountId,
    /// Ancestor ids, root first.
    pub hierarchy: Vec<AccountId>,
    pub enforce_twofactor: bool,
}

impl TreePosition for Placement {
    fn account_id(&self) -> AccountId {
        self.id
    }

    fn ancestors(&self) -> &[AccountId] {
        &self.hierarchy
    }
}

impl Account {
    /// Levels of accounts a tree may have, the top-level account counting as 1 (SPEC §1).
    pub const MAX_DEPTH: usize = 8;

    pub fn parent_id(&self) -> Option<AccountId> {
        self.hierarchy.last().copied()
    }

    /// 1 for a top-level account, one more per ancestor.
    pub fn depth(&self) -> usize {
        self.hierarchy.len() + 1
    }

    /// The audited image of this account.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("name", self.name.as_str())
            .with("type", self.account_type.as_str())
            .with("status", self.status.as_str())
            .with("owner_id", self.owner_id.map(|id| id.to_string()))
            .with("parent_id", self.parent_id().map(|id| id.to_string()))
            .with("hierarchy", AuditValue::List(self.hierarchy.iter().map(|id| id.to_string().into()).collect()))
            .with("abuse_contact_email", self.settings.abuse_contact_email.as_ref().map(|e| e.to_string()))
            .with("enforce_twofactor", self.settings.enforce_twofactor)
            .with("profile.business_name", self.profile.business_name.clone())
            .with("profile.business_address", self.profile.business_address.clone())
            .with("profile.business_email", self.profile.business_email.as_ref().map(|e| e.to_string()))
            .with("profile.business_phone", self.profile.business_phone.clone())
            .with("profile.external_metadata", self.profile.external_metadata.clone())
    }

    /// This account with `patch` applied; version and timestamps are the caller's business.
    pub(crate) fn patched(&self, patch: &AccountPatch) -> Account {
        let mut next = self.clone();
        if let Some(name) = &patch.name {
            next.name = name.clone();
        }
        if let Some(status) = patch.status {
            next.status = status;
        }
        if let Some(email) = &patch.abuse_contact_email {
            next.settings.abuse_contact_email = email.clone();
        }
        if let Some(enforce) = patch.enforce_twofactor {
            next.settings.enforce_twofactor = enforce;
        }
        if let Some(profile) = &patch.profile {
            next.profile = profile.clone();
        }
        next
    }
}

/// A validated request to create an account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewAccount {
    pub name: AccountName,
    pub account_type: AccountType,
    pub parent_id: Option<AccountId>,
    /// The owner; the creating user when absent. Naming another user needs root.
    pub owner_id: Option<UserId>,
    pub settings: AccountSettings,
    /// The account's primary alias, `local_part@domain`, created with it (seed 000).
    pub primary_alias: Option<PrimaryAlias>,
}

/// The primary alias requested with a new account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PrimaryAlias {
    pub local_part: LocalPart,
    pub domain_id: DomainId,
}

impl NewAccount {
    /// The canonical form of this command, compared when an idempotency key is replayed.
    /// Explicit and versioned, so it stays stable across releases that change `Debug` output
    /// or add optional fields (a new field joins with its default omitted).
    pub fn fingerprint(&self) -> String {
        let field = |value: Option<&str>| value.map_or_else(|| "-".to_owned(), |v| format!("{}:{v}", v.len()));
        let base = format!(
            "account/v1|name={}|type={}|parent={}|owner={}|abuse={}|2fa={}",
            field(Some(self.name.as_str())),
            self.account_type.as_str(),
            field(self.parent_id.map(|id| id.to_string()).as_deref()),
            field(self.owner_id.map(|id| id.to_string()).as_deref()),
            field(self.settings.abuse_contact_email.as_ref().map(EmailAddress::as_str)),
            self.settings.enforce_twofactor,
        );
        // Joins only when present, so that fingerprints of requests without it are unchanged.
        match &self.primary_alias {
            None => base,
            Some(alias) => format!("{base}|alias={}@{}", alias.local_part.as_str(), alias.domain_id),
        }
    }
}

/// Raw create input as both wire adapters receive it.
#[derive(Debug, Clone, Default)]
pub struct NewAccountInput {
    pub name: Option<String>,
    /// Canonical type name; `None` or empty means `standard`.
    pub account_type: Option<String>,
    pub parent_id: Option<String>,
    pub owner_id: Option<String>,
    pub abuse_contact_email: Option<String>,
    pub enforce_twofactor: Option<bool>,
    /// With `domain_id`: the primary alias `local_part@domain` (seed 000).
    pub local_part: Option<String>,
    pub domain_id: Option<String>,
}

impl NewAccountInput {
    pub fn validate(self) -> Result<NewAccount, ValidationErrors> {
        let mut errors = Collector::default();
        let name = errors.take(AccountName::parse(self.name.as_deref().unwrap_or_default()));
        let account_type = errors.take_opt(non_empty(self.account_type).map(|t| AccountType::parse(&t)));
        let parent_id = errors.take_opt(non_empty(self.parent_id).map(|id| AccountId::parse(&id, "parent_id")));
        let owner_id = errors.take_opt(non_empty(self.owner_id).map(|id| UserId::parse(&id, "owner_id")));
        let abuse = errors.take_opt(non_empty(self.abuse_contact_email).map(|e| parse_abuse_email(&e)));
        let primary_alias = match (non_empty(self.local_part), non_empty(self.domain_id)) {
            (None, None) => None,
            (Some(local_part), Some(domain_id)) => {
                let local_part = errors.take(LocalPart::parse(&local_part));
                let domain_id = errors.take(DomainId::parse(&domain_id, "domain_id"));
                local_part.zip(domain_id).map(|(local_part, domain_id)| PrimaryAlias { local_part, domain_id })
            }
            (Some(_), None) => {
                errors.take::<()>(Err(FieldError::new("domain_id", "required", "the primary alias needs a domain")));
                None
            }
            (None, Some(_)) => {
                errors.take::<()>(Err(FieldError::new(
                    "local_part",
                    "required",
                    "the primary alias needs a local part",
                )));
                None
            }
        };
        errors.finish()?;
        Ok(NewAccount {
            name: name.expect("checked by finish"),
            account_type: account_type.flatten().unwrap_or(AccountType::Standard),
            parent_id: parent_id.flatten(),
            owner_id: owner_id.flatten(),
            settings: AccountSettings {
                abuse_contact_email: abuse.flatten(),
                enforce_twofactor: self.enforce_twofactor.unwrap_or(false),
            },
            primary_alias,
        })
    }
}

/// A validated partial update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountPatch {
    pub name: Option<AccountName>,
    pub status: Option<AccountStatus>,
    /// `Some(None)` clears the address.
    pub abuse_contact_email: Option<Option<EmailAddress>>,
    pub enforce_twofactor: Option<bool>,
    /// Replaces the whole profile.
    pub profile: Option<AccountProfile>,
}

/// Raw update input as both wire adapters receive it.
#[derive(Debug, Clone, Default)]
pub struct AccountPatchInput {
    pub name: Option<String>,
    pub status: Option<String>,
    /// An empty string clears the address.
    pub abuse_contact_email: Option<String>,
    pub enforce_twofactor: Option<bool>,
}

impl AccountPatchInput {
    pub fn validate(self) -> Result<AccountPatch, ValidationErrors> {
        let mut errors = Collector::default();
        let name = errors.take_opt(self.name.map(|n| AccountName::parse(&n)));
        let status = errors.take_opt(self.status.map(|s| AccountStatus::parse(&s)));
        let abuse = errors.take_opt(
            self.abuse_contact_email
                .map(|e| if e.trim().is_empty() { Ok(None) } else { parse_abuse_email(&e).map(Some) }),
        );
        errors.finish()?;
        Ok(AccountPatch {
            name: name.flatten(),
            status: status.flatten(),
            abuse_contact_email: abuse.flatten(),
            enforce_twofactor: self.enforce_twofactor,
            profile: None,
        })
    }
}

fn parse_abuse_email(input: &str) -> Result<EmailAddress, FieldError> {
    EmailAddress::parse(input).map_err(|e| e.at("settings.abuse_contact_email"))
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_name_prefix_is_trimmed_one_line_and_never_empty() {
        assert_eq!(super::AccountNamePrefix::parse("  Acme ", "q").expect("valid").as_str(), "Acme");
        assert_eq!(super::AccountNamePrefix::parse("   ", "q").expect_err("empty").code, "required");
        assert_eq!(super::AccountNamePrefix::parse("a\u{0}b", "q").expect_err("nul").code, "invalid_characters");
        let long = "x".repeat(101);
        let error = super::AccountNamePrefix::parse(&long, "q").expect_err("too long");
        assert_eq!((error.field.as_str(), error.code), ("q", "too_long"));
    }

    use super::*;

    fn input(name: &str) -> NewAccountInput {
        NewAccountInput { name: Some(name.to_owned()), ..Default::default() }
    }

    #[test]
    fn a_name_is_trimmed() {
        assert_eq!(AccountName::parse("  Acme  ").unwrap().as_str(), "Acme");
    }

    #[test]
    fn create_account_rejects_an_empty_name() {
        let err = input("   ").validate().unwrap_err();
        assert_eq!(err.fields()[0], FieldError::new("name", "required", "must not be empty"));
    }

    #[test]
    fn create_account_rejects_a_101_character_name_and_accepts_100() {
        assert_eq!(input(&"é".repeat(101)).validate().unwrap_err().fields()[0].code, "too_long");
        assert_eq!(input(&"é".repeat(100)).validate().unwrap().name.as_str().chars().count(), 100);
    }

    #[test]
    fn create_account_rejects_control_characters_in_a_name() {
        assert_eq!(input("a\u{0}b").validate().unwrap_err().fields()[0].code, "invalid_characters");
    }

    #[test]
    fn create_account_rejects_an_unknown_type_naming_the_field() {
        let err = NewAccountInput { account_type: Some("galaxy".into()), ..input("Acme") }.validate().unwrap_err();
        assert_eq!(err.fields()[0].field, "type");
        assert_eq!(err.fields()[0].code, "unknown_value");
    }

    #[test]
    fn create_account_defaults_to_a_standard_account() {
        let account = input("Acme").validate().unwrap();
        assert_eq!(account.account_type, AccountType::Standard);
        assert_eq!(account.settings, AccountSettings::default());
    }

    #[test]
    fn create_account_reports_every_bad_field_at_once() {
        let err = NewAccountInput {
            name: None,
            account_type: Some("x".into()),
            parent_id: Some("nope".into()),
            owner_id: Some("nobody".into()),
            abuse_contact_email: Some("nope".into()),
            enforce_twofactor: None,
            local_part: Some("two..dots".into()),
            domain_id: Some("not-a-domain-id".into()),
        }
        .validate()
        .unwrap_err();
        for field in
            ["name", "type", "parent_id", "owner_id", "settings.abuse_contact_email", "local_part", "domain_id"]
        {
            assert!(err.mentions(field), "{field} missing from {err}");
        }
    }

    #[test]
    fn a_primary_alias_needs_both_local_part_and_domain_id() {
        let only_local =
            NewAccountInput { name: Some("A".into()), local_part: Some("sales".into()), ..Default::default() };
        assert!(only_local.validate().unwrap_err().mentions("domain_id"));
        let only_domain = NewAccountInput {
            name: Some("A".into()),
            domain_id: Some(uuid::Uuid::now_v7().to_string()),
            ..Default::default()
        };
        assert!(only_domain.validate().unwrap_err().mentions("local_part"));
        let both = NewAccountInput {
            name: Some("A".into()),
            local_part: Some("Sales".into()),
            domain_id: Some(uuid::Uuid::now_v7().to_string()),
            ..Default::default()
        };
        let command = both.validate().expect("valid");
        assert_eq!(command.primary_alias.expect("alias").local_part.as_str(), "sales");
    }

    #[test]
    fn only_enterprise_business_manager_and_agency_are_containers() {
        let containers: Vec<_> = AccountType::ALL.iter().filter(|t| t.is_container()).collect();
        assert_eq!(containers, [&AccountType::Enterprise, &AccountType::BusinessManager, &AccountType::Agency]);
    }

    #[test]
    fn a_patch_with_an_empty_abuse_email_clears_it() {
        let patch = AccountPatchInput { abuse_contact_email: Some(String::new()), ..Default::default() };
        assert_eq!(patch.validate().unwrap().abuse_contact_email, Some(None));
    }

    #[test]
    fn a_profile_is_validated_field_by_field() {
        let err = AccountProfileInput {
            business_name: Some("n".repeat(101)),
            business_email: Some("nope".into()),
            business_phone: Some("call me".into()),
            external_metadata: Some("m".repeat(4097)),
            ..Default::default()
        }
        .validate()
        .unwrap_err();
        for field in ["business_name", "business_email", "business_phone", "external_metadata"] {
            assert!(err.mentions(field), "{field}: {err}");
        }
        let ok = AccountProfileInput { business_phone: Some("+1 (555) 010-0100".into()), ..Default::default() };
        assert_eq!(ok.validate().unwrap().business_phone.as_deref(), Some("+1 (555) 010-0100"));
    }

    #[test]
    fn a_patch_rejects_an_unknown_status() {
        let patch = AccountPatchInput { status: Some("gone".into()), ..Default::default() };
        assert_eq!(patch.validate().unwrap_err().fields()[0].field, "status");
    }
}
