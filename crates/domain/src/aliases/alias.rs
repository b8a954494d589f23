//! Managed mail domains and the email aliases (mailboxes) accounts own on them (seeds 000
//! and 001): the entities, their value types, mailbox passwords and the brute-force
//! throttle of mailbox authentication.

use std::fmt;

use chrono::{DateTime, Utc};
use secrecy::{ExposeSecret, SecretString};

use crate::text::{self, Lines};
use crate::{
    AccountId, AliasId, Collector, DomainId, FieldError, Snapshot, UserId, ValidationErrors, Version, is_dot_atom,
    is_hostname,
};

/// What every response carrying a mailbox password says next to it (seed 001).
pub const PASSWORD_NOTE: &str = "Save this password now. It will not be shown again.";

/// The note of an idempotent replay of an alias creation, which does not show the password.
pub const REPLAY_PASSWORD_NOTE: &str =
    "The password was shown once, with the first response; reset it if that response was lost.";

named_enum!(
    /// Where a managed domain stands: aliases can be created only on `active` ones.
    DomainStatus, "status" {
        Pending => "pending",
        Active => "active",
        Disabled => "disabled",
    }
);

named_enum!(
    /// Whether an alias receives mail and may authenticate.
    AliasStatus, "status" {
        Active => "active",
        Disabled => "disabled",
    }
);

/// A fully qualified domain name, stored lower-case without a trailing dot: at least two
/// DNS labels, and a top-level label that is not all digits (so no IPv4 address passes).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct DomainName(String);

impl DomainName {
    /// Parses `input`; the error names the field `name`, use [`FieldError::at`] to rename it.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let trimmed = input.trim();
        let name = trimmed.strip_suffix('.').unwrap_or(trimmed).to_ascii_lowercase();
        if name.is_empty() {
            return Err(FieldError::new("name", "required", "must not be empty"));
        }
        let tld_alphabetic = name.rsplit('.').next().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()));
        if !is_hostname(&name) || !name.contains('.') || !tld_alphabetic {
            return Err(FieldError::new(
                "name",
                "invalid_domain",
                "must be a fully qualified domain name such as mail.example.com",
            ));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DomainName({})", self.0)
    }
}

/// A domain whose addresses accountd manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain {
    pub id: DomainId,
    pub name: DomainName,
    pub status: DomainStatus,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Domain {
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default().with("name", self.name.as_str()).with("status", self.status.as_str())
    }
}

/// A validated domain creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewDomain {
    pub name: DomainName,
    /// `pending` unless given.
    pub status: DomainStatus,
}

/// Raw domain creation input.
#[derive(Debug, Clone, Default)]
pub struct NewDomainInput {
    pub name: Option<String>,
    pub status: Option<String>,
}

impl NewDomainInput {
    pub fn validate(self) -> Result<NewDomain, ValidationErrors> {
        let mut errors = Collector::default();
        let name = errors.take(DomainName::parse(self.name.as_deref().unwrap_or_default()));
        let status = errors.take_opt(non_empty(self.status).map(|s| DomainStatus::parse(&s)));
        errors.finish()?;
        Ok(NewDomain {
            name: name.expect("checked by finish"),
            status: status.flatten().unwrap_or(DomainStatus::Pending),
        })
    }
}

/// A domain named by id or by name, as paths and requests may do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DomainRef {
    Id(DomainId),
    Name(DomainName),
}

impl DomainRef {
    /// A UUID names a domain by id, anything else must be a domain name; errors name `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, FieldError> {
        match uuid::Uuid::try_parse(input.trim()) {
            Ok(id) => Ok(Self::Id(DomainId::from_uuid(id))),
            Err(_) => DomainName::parse(input).map(Self::Name).map_err(|e| e.at(field)),
        }
    }
}

/// The part of an address before the `@`: an RFC 5321 dot-atom of at most 64 characters,
/// stored lower-case, so that addresses are unique whatever case a client sends.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct LocalPart(String);

impl LocalPart {
    pub const MAX_LEN: usize = 64;

    /// Parses `input`; the error names the field `local_part`.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        if value.is_empty() {
            return Err(FieldError::new("local_part", "required", "must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(FieldError::new("local_part", "too_long", "must be at most 64 characters"));
        }
        if !is_dot_atom(value) {
            return Err(FieldError::new(
                "local_part",
                "invalid_local_part",
                "must be a dot-atom: letters, digits and !#$%&'*+/=?^_`{|}~- in dot-separated parts",
            ));
        }
        Ok(Self(value.to_ascii_lowercase()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for LocalPart {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LocalPart({})", self.0)
    }
}

/// A full mailbox address split into its parts, as mailbox authentication receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    pub local_part: LocalPart,
    pub domain: DomainName,
}

impl Address {
    /// Parses `local@domain`; errors name `field`.
    pub fn parse(input: &str, field: &str) -> Result<Self, FieldError> {
        let (local, domain) = input
            .trim()
            .rsplit_once('@')
            .ok_or_else(|| FieldError::new(field, "invalid_address", "must be an address such as name@example.com"))?;
        Ok(Self {
            local_part: LocalPart::parse(local).map_err(|e| e.at(field))?,
            domain: DomainName::parse(domain).map_err(|e| e.at(field))?,
        })
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.local_part.0, self.domain)
    }
}

/// The human name shown with an address: trimmed, 1–100 characters, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayName(String);

impl DisplayName {
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        text::clean(input, "display_name", 100, Lines::One).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// An email alias: an address on a managed domain, owned by an account and optionally
/// assigned to one of its users. Its mailbox password is never part of it: only whether one
/// is set and when it last changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alias {
    pub id: AliasId,
    pub account_id: AccountId,
    pub user_id: Option<UserId>,
    pub domain_id: DomainId,
    pub domain: DomainName,
    pub local_part: LocalPart,
    pub display_name: Option<DisplayName>,
    pub status: AliasStatus,
    /// The account's primary address, made with the account (seed 000); one per account.
    pub is_primary: bool,
    /// The first alias of its user in the account; one per user and account (seed 001).
    pub is_default: bool,
    /// When the mailbox password was last set; `None` while the alias has none.
    pub password_changed_at: Option<DateTime<Utc>>,
    pub version: Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Alias {
    /// `local_part@domain`, lower-case.
    pub fn address(&self) -> String {
        format!("{}@{}", self.local_part.0, self.domain)
    }

    pub fn has_password(&self) -> bool {
        self.password_changed_at.is_some()
    }

    /// The audited fields; the password appears only as the time it changed.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("address", self.address())
            .with("user_id", self.user_id.map(|u| u.to_string()))
            .with("display_name", self.display_name.as_ref().map(|d| d.as_str().to_owned()))
            .with("status", self.status.as_str())
            .with("is_primary", self.is_primary)
            .with("is_default", self.is_default)
            .with("password_changed_at", self.password_changed_at.map(|t| t.to_rfc3339()))
    }
}

/// A mailbox password in clear: generated or given, hashed at once, shown to the client at
/// most once. Its `Debug` output is redacted.
#[derive(Debug, Clone)]
pub struct MailboxPassword(SecretString);

impl MailboxPassword {
    /// Length of generated passwords (base62, so about 143 bits).
    pub const GENERATED_LEN: usize = 24;
    pub const MIN_LEN: usize = 12;
    pub const MAX_LEN: usize = 128;

    /// A new password from the operating system's CSPRNG.
    pub fn generate() -> Self {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
        let mut password = String::with_capacity(Self::GENERATED_LEN);
        while password.len() < Self::GENERATED_LEN {
            let mut bytes = [0u8; 32];
            // The OS generator failing is unrecoverable for a service that issues credentials.
            getrandom::fill(&mut bytes).expect("the operating system's random generator failed");
            // Rejection sampling keeps every character equally likely: 248 = 4 × 62.
            for b in bytes.into_iter().filter(|b| *b < 248) {
                if password.len() < Self::GENERATED_LEN {
                    password.push(char::from(ALPHABET[usize::from(b % 62)]));
                }
            }
        }
        Self(SecretString::from(password))
    }

    /// Accepts a client's password when it is strong enough: 12–128 characters, no control
    /// characters, at least 6 distinct characters, and — below 20 characters — at least three
    /// of lower-case letters, upper-case letters, digits and other characters.
    pub fn parse(secret: SecretString) -> Result<Self, FieldError> {
        let weak = |message: &str| FieldError::new("password", "weak_password", message);
        let value = secret.expose_secret();
        let chars = value.chars().count();
        if chars < Self::MIN_LEN {
            return Err(weak("must be at least 12 characters"));
        }
        if chars > Self::MAX_LEN {
            return Err(FieldError::new("password", "too_long", "must be at most 128 characters"));
        }
        if value.chars().any(char::is_control) {
            return Err(FieldError::new("password", "invalid_characters", "must not contain control characters"));
        }
        let mut distinct: Vec<char> = value.chars().collect();
        distinct.sort_unstable();
        distinct.dedup();
        if distinct.len() < 6 {
            return Err(weak("must use at least 6 different characters"));
        }
        let classes = [
            value.chars().any(|c| c.is_lowercase()),
            value.chars().any(|c| c.is_uppercase()),
            value.chars().any(|c| c.is_ascii_digit()),
            value.chars().any(|c| !c.is_alphanumeric()),
        ]
        .into_iter()
        .filter(|present| *present)
        .count();
        if chars < 20 && classes < 3 {
            return Err(weak(
                "must mix three of lower-case, upper-case, digits and symbols, or be at least 20 characters",
            ));
        }
        Ok(Self(secret))
    }

    pub fn expose(&self) -> &str {
        self.0.expose_secret()
    }
}

/// A validated alias creation.
#[derive(Debug, Clone)]
pub struct NewAlias {
    pub local_part: LocalPart,
    pub domain: DomainRef,
    pub display_name: Option<DisplayName>,
    pub user_id: Option<UserId>,
    /// `None`: a password is generated.
    pub password: Option<MailboxPassword>,
}

/// Raw alias creation input as both wire adapters receive it.
#[derive(Debug, Default)]
pub struct NewAliasInput {
    pub local_part: Option<String>,
    /// The domain's name (seed 001) or id.
    pub domain: Option<String>,
    pub domain_id: Option<String>,
    pub display_name: Option<String>,
    pub user_id: Option<String>,
    pub password: Option<SecretString>,
}

impl NewAliasInput {
    pub fn validate(self) -> Result<NewAlias, ValidationErrors> {
        let mut errors = Collector::default();
        let local_part = errors.take(LocalPart::parse(self.local_part.as_deref().unwrap_or_default()));
        let domain = match (non_empty(self.domain_id), non_empty(self.domain)) {
            (Some(id), None) => errors.take(DomainId::parse(&id, "domain_id").map(DomainRef::Id)),
            (None, Some(name)) => errors.take(DomainRef::parse(&name, "domain")),
            (Some(_), Some(_)) => {
                errors.take(Err(FieldError::new("domain", "ambiguous", "give domain or domain_id, not both")))
            }
            (None, None) => {
                errors.take(Err(FieldError::new("domain", "required", "name the domain (domain or domain_id)")))
            }
        };
        let display_name = errors.take_opt(self.display_name.map(|d| DisplayName::parse(&d)));
        let user_id = errors.take_opt(non_empty(self.user_id).map(|id| UserId::parse(&id, "user_id")));
        let password =
            errors.take_opt(self.password.filter(|p| !p.expose_secret().is_empty()).map(MailboxPassword::parse));
        errors.finish()?;
        Ok(NewAlias {
            local_part: local_part.expect("checked by finish"),
            domain: domain.expect("checked by finish"),
            display_name: display_name.flatten().filter(|d| !d.as_str().is_empty()),
            user_id: user_id.flatten(),
            password: password.flatten(),
        })
    }
}

/// A validated alias update; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasPatch {
    /// `Some(None)` clears the display name.
    pub display_name: Option<Option<DisplayName>>,
    pub status: Option<AliasStatus>,
}

/// Raw alias update input.
#[derive(Debug, Clone, Default)]
pub struct AliasPatchInput {
    /// An empty string clears the display name.
    pub display_name: Option<String>,
    pub status: Option<String>,
}

impl AliasPatchInput {
    pub fn validate(self) -> Result<AliasPatch, ValidationErrors> {
        let mut errors = Collector::default();
        let display_name = errors.take_opt(
            self.display_name.map(|d| DisplayName::parse(&d).map(|d| Some(d).filter(|d| !d.as_str().is_empty()))),
        );
        let status = errors.take_opt(non_empty(self.status).map(|s| AliasStatus::parse(&s)));
        errors.finish()?;
        Ok(AliasPatch { display_name: display_name.flatten(), status: status.flatten() })
    }
}

/// Which aliases a listing returns; every filter given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AliasFilter {
    pub account: Option<AccountId>,
    pub domain: Option<DomainId>,
    pub user: Option<UserId>,
    /// Only aliases of accounts where this user is an accepted member of the account or of
    /// one of its ancestors.
    pub visible_to: Option<UserId>,
}

/// What mailbox authentication needs to know about an address.
#[derive(Debug, Clone)]
pub struct Mailbox {
    pub alias: Alias,
    pub domain_status: DomainStatus,
    /// The argon2id PHC string, when the alias has a password.
    pub password_hash: Option<String>,
}

fn non_empty(value: Option<String>) -> Option<String> {
    value.filter(|v| !v.trim().is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn domain_names_are_lower_cased_and_lose_a_trailing_dot() {
        assert_eq!(DomainName::parse(" Mail.Example.COM. ").unwrap().as_str(), "mail.example.com");
    }

    #[test]
    fn a_new_domain_is_pending_unless_told_and_reports_both_fields() {
        let command = NewDomainInput { name: Some("Example.com".into()), status: None }.validate().unwrap();
        assert_eq!((command.name.as_str(), command.status), ("example.com", DomainStatus::Pending));
        let errors =
            NewDomainInput { name: Some("nodots".into()), status: Some("live".into()) }.validate().unwrap_err();
        assert!(errors.mentions("name") && errors.mentions("status"), "{errors}");
    }

    #[test]
    fn domain_names_need_two_labels_and_an_alphabetic_tld() {
        for bad in ["localhost", "10.0.0.1", "-bad.example.com", "a..example.com", "exa_mple.com", "", "ex ample.com"] {
            assert!(DomainName::parse(bad).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(DomainName::parse("").unwrap_err().code, "required");
        assert_eq!(DomainName::parse("localhost").unwrap_err().code, "invalid_domain");
    }

    #[test]
    fn local_parts_are_dot_atoms_of_at_most_64_characters_stored_lower_case() {
        assert_eq!(LocalPart::parse("Billing.Team+x").unwrap().as_str(), "billing.team+x");
        assert_eq!(LocalPart::parse(&"a".repeat(64)).unwrap().as_str().len(), 64);
        assert_eq!(LocalPart::parse(&"a".repeat(65)).unwrap_err().code, "too_long");
        for bad in [".lead", "trail.", "two..dots", "sp ace", "quote\"", "at@sign", "ünï"] {
            assert_eq!(LocalPart::parse(bad).unwrap_err().code, "invalid_local_part", "{bad:?}");
        }
        assert_eq!(LocalPart::parse("  ").unwrap_err().code, "required");
    }

    #[test]
    fn addresses_split_at_the_last_at_sign() {
        let address = Address::parse("Support@Customer.com", "address").unwrap();
        assert_eq!(address.to_string(), "support@customer.com");
        assert_eq!(Address::parse("no-at-sign", "address").unwrap_err().field, "address");
        assert_eq!(Address::parse("a@b", "address").unwrap_err().field, "address");
    }

    #[test]
    fn generated_passwords_are_long_distinct_and_strong_enough_to_be_accepted() {
        let a = MailboxPassword::generate();
        let b = MailboxPassword::generate();
        assert_eq!(a.expose().len(), MailboxPassword::GENERATED_LEN);
        assert!(a.expose().bytes().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a.expose(), b.expose());
        assert!(
            MailboxPassword::parse(SecretString::from(a.expose().to_owned())).is_ok_and(|p| p.expose() == a.expose())
        );
    }

    #[test]
    fn weak_passwords_are_refused_with_the_reason() {
        let parse = |p: &str| MailboxPassword::parse(SecretString::from(p.to_owned()));
        assert_eq!(parse("Sh0rt!").unwrap_err().code, "weak_password");
        assert_eq!(parse("aaaaaaaaaaaaaaaaaaaaaaaa").unwrap_err().code, "weak_password");
        assert_eq!(parse("alllowercaseletters").unwrap_err().code, "weak_password");
        assert_eq!(parse(&"Ab1!".repeat(40)).unwrap_err().code, "too_long");
        assert_eq!(parse("Tab\there-Is-Bad1").unwrap_err().code, "invalid_characters");
        assert_eq!(parse("Correct-Horse-9").unwrap().expose(), "Correct-Horse-9");
        assert_eq!(parse("correct horse battery staple").unwrap().expose(), "correct horse battery staple");
    }

    #[test]
    fn a_password_never_shows_in_debug_output() {
        let password = MailboxPassword::generate();
        assert!(!format!("{password:?}").contains(password.expose()));
    }

    #[test]
    fn create_input_reports_every_bad_field_at_once() {
        let errors = NewAliasInput {
            local_part: Some("bad..part".into()),
            domain: None,
            domain_id: None,
            display_name: Some("x".repeat(101)),
            user_id: Some("nope".into()),
            password: Some(SecretString::from("weak".to_owned())),
        }
        .validate()
        .unwrap_err();
        for field in ["local_part", "domain", "display_name", "user_id", "password"] {
            assert!(errors.mentions(field), "{field} missing from {errors}");
        }
    }

    #[test]
    fn a_domain_is_named_by_id_or_by_name() {
        let id = DomainId::from_uuid(uuid::Uuid::now_v7());
        assert_eq!(DomainRef::parse(&id.to_string(), "domain").unwrap(), DomainRef::Id(id));
        assert_eq!(
            DomainRef::parse("Customer.com", "domain").unwrap(),
            DomainRef::Name(DomainName::parse("customer.com").unwrap())
        );
        assert_eq!(DomainRef::parse("not a domain", "domain").unwrap_err().field, "domain");
    }
}
