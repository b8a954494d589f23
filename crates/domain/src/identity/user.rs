//! Users: the people (and services) that act on accounts through tokens.

use std::fmt;

use chrono::{DateTime, Utc};

use crate::text::{self, Lines};
use crate::{AuditValue, Collector, EmailAddress, FieldError, PermissionSet, Snapshot, UserId, ValidationErrors};

/// A first or last name: trimmed, 1–100 characters, no control characters.
#[derive(Clone, PartialEq, Eq)]
pub struct PersonName(String);

impl PersonName {
    pub fn parse(input: &str, field: &str) -> Result<Self, FieldError> {
        let name = text::clean(input, field, 100, Lines::One)?;
        if name.is_empty() {
            return Err(FieldError::new(field, "required", "must not be empty"));
        }
        Ok(Self(name))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PersonName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PersonName({:?})", self.0)
    }
}

named_enum!(
    /// Whether a user may act. A disabled user's tokens stop working at once.
    UserStatus, "status" {
        Active => "active",
        Disabled => "disabled",
    }
);

/// A user. Names are unknown for a user created by an invitation until they are given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: UserId,
    pub email: EmailAddress,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub status: UserStatus,
    /// Platform-wide permissions; a user holding any is a root user.
    pub root_permissions: PermissionSet,
    pub version: crate::Version,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl User {
    pub fn is_root(&self) -> bool {
        !self.root_permissions.is_empty()
    }

    pub fn is_active(&self) -> bool {
        self.status == UserStatus::Active
    }

    /// The audited image of this user.
    pub fn snapshot(&self) -> Snapshot {
        Snapshot::default()
            .with("email", self.email.as_str())
            .with("first_name", self.first_name.as_ref().map(|n| n.as_str().to_owned()))
            .with("last_name", self.last_name.as_ref().map(|n| n.as_str().to_owned()))
            .with("status", self.status.as_str())
            .with(
                "root_permissions",
                AuditValue::List(self.root_permissions.names().into_iter().map(AuditValue::from).collect()),
            )
    }
}

/// A validated request to create a user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    pub email: EmailAddress,
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub root_permissions: PermissionSet,
}

impl NewUser {
    /// The canonical form of this command for idempotent `operation`s that create a user.
    pub(crate) fn fingerprint(&self, operation: &str) -> crate::Fingerprint {
        crate::Fingerprint::new(operation)
            .field("email", Some(self.email.as_str().to_lowercase()))
            .field("first_name", self.first_name.as_ref().map(PersonName::as_str))
            .field("last_name", self.last_name.as_ref().map(PersonName::as_str))
            .field("root", Some(self.root_permissions.names().join(",")))
    }
}

/// Raw create input as the wire adapters receive it.
#[derive(Debug, Clone, Default)]
pub struct NewUserInput {
    pub email: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub root_permissions: Vec<String>,
}

impl NewUserInput {
    /// Validates; `names_required` is true where the seed makes names mandatory.
    pub fn validate(self, email_field: &str, names_required: bool) -> Result<NewUser, ValidationErrors> {
        let mut errors = Collector::default();
        let email =
            errors.take(EmailAddress::parse(self.email.as_deref().unwrap_or_default()).map_err(|e| e.at(email_field)));
        let name = |value: Option<String>, field: &str| match value.filter(|v| !v.trim().is_empty()) {
            Some(v) => PersonName::parse(&v, field).map(Some),
            None if names_required => Err(FieldError::new(field, "required", "must not be empty")),
            None => Ok(None),
        };
        let first_name = errors.take(name(self.first_name, "first_name"));
        let last_name = errors.take(name(self.last_name, "last_name"));
        let root = errors.take(PermissionSet::parse(&self.root_permissions, "root_permissions"));
        errors.finish()?;
        Ok(NewUser {
            email: email.expect("checked by finish"),
            first_name: first_name.flatten(),
            last_name: last_name.flatten(),
            root_permissions: root.unwrap_or_default(),
        })
    }
}

/// A validated change to a user; `None` keeps a field.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserPatch {
    pub first_name: Option<PersonName>,
    pub last_name: Option<PersonName>,
    pub status: Option<UserStatus>,
    pub root_permissions: Option<PermissionSet>,
}

/// Raw update input.
#[derive(Debug, Clone, Default)]
pub struct UserPatchInput {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub status: Option<String>,
    pub root_permissions: Option<Vec<String>>,
}

impl UserPatchInput {
    pub fn validate(self) -> Result<UserPatch, ValidationErrors> {
        let mut errors = Collector::default();
        let first_name = errors.take_opt(self.first_name.map(|n| PersonName::parse(&n, "first_name")));
        let last_name = errors.take_opt(self.last_name.map(|n| PersonName::parse(&n, "last_name")));
        let status = errors.take_opt(self.status.map(|s| UserStatus::parse(&s)));
        let root = errors.take_opt(self.root_permissions.map(|p| PermissionSet::parse(&p, "root_permissions")));
        errors.finish()?;
        Ok(UserPatch {
            first_name: first_name.flatten(),
            last_name: last_name.flatten(),
            status: status.flatten(),
            root_permissions: root.flatten(),
        })
    }
}

impl User {
    /// This user with `patch` applied; version and timestamps are the caller's business.
    pub(crate) fn patched(&self, patch: &UserPatch) -> User {
        let mut next = self.clone();
        if let Some(n) = &patch.first_name {
            next.first_name = Some(n.clone());
        }
        if let Some(n) = &patch.last_name {
            next.last_name = Some(n.clone());
        }
        if let Some(s) = patch.status {
            next.status = s;
        }
        if let Some(r) = patch.root_permissions {
            next.root_permissions = r;
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_user_needs_a_valid_email_and_names_where_required() {
        let err = NewUserInput { email: Some("nope".into()), ..Default::default() }
            .validate("email_address", true)
            .unwrap_err();
        for field in ["email_address", "first_name", "last_name"] {
            assert!(err.mentions(field), "{field}: {err}");
        }
        let ok = NewUserInput { email: Some("a@example.com".into()), ..Default::default() }
            .validate("email", false)
            .unwrap();
        assert_eq!(ok.first_name, None);
    }

    #[test]
    fn unknown_root_permissions_are_refused() {
        let err = NewUserInput {
            email: Some("a@example.com".into()),
            root_permissions: vec!["galaxy:rule".into()],
            ..Default::default()
        }
        .validate("email", false)
        .unwrap_err();
        assert!(err.mentions("root_permissions"));
    }

    #[test]
    fn names_are_limited_to_100_characters() {
        assert_eq!(PersonName::parse(&"n".repeat(101), "first_name").unwrap_err().code, "too_long");
        assert_eq!(PersonName::parse(" Ada ", "first_name").unwrap().as_str(), "Ada");
    }
}
