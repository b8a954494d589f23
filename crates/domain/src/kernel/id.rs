//! Identifiers: 128-bit, time-sortable UUIDv7 values, one newtype per entity so that an
//! account id can never be passed where a user id is expected.

use std::fmt;
use std::str::FromStr;

use uuid::Uuid;

use crate::FieldError;

macro_rules! define_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(Uuid);

        impl $name {
            /// Wraps a UUID read back from storage or produced by an [`crate::IdGenerator`].
            pub fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            pub fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the client-facing form; `field` names the input in the error.
            pub fn parse(input: &str, field: &str) -> Result<Self, FieldError> {
                let trimmed = input.trim();
                if trimmed.is_empty() {
                    return Err(FieldError::new(field, "required", "must not be empty"));
                }
                Uuid::try_parse(trimmed)
                    .map(Self)
                    .map_err(|_| FieldError::new(field, "invalid_id", "is not a valid id"))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(&self.0.hyphenated(), f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.0.hyphenated())
            }
        }

        impl FromStr for $name {
            type Err = FieldError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s, "id")
            }
        }
    };
}

define_id!(
    /// Identifies an [`crate::Account`].
    AccountId
);
define_id!(
    /// Identifies a user.
    UserId
);
define_id!(
    /// Identifies an [`crate::AuditEvent`].
    AuditEventId
);
define_id!(
    /// Identifies an API token (not its secret).
    TokenId
);
define_id!(
    /// Identifies a subscription.
    SubscriptionId
);
define_id!(
    /// Identifies a managed mail domain.
    DomainId
);
define_id!(
    /// Identifies an email alias (a mailbox address on a managed domain).
    AliasId
);
define_id!(
    /// Identifies an MFA factor (not its secret).
    FactorId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_their_text_form() {
        let id = AccountId::from_uuid(Uuid::now_v7());
        assert_eq!(AccountId::parse(&id.to_string(), "account_id"), Ok(id));
    }

    #[test]
    fn a_garbage_id_is_a_field_error_naming_the_field() {
        let err = AccountId::parse("not-an-id", "account_id").unwrap_err();
        assert_eq!(err.field, "account_id");
        assert_eq!(err.code, "invalid_id");
    }

    #[test]
    fn an_empty_id_is_required() {
        assert_eq!(AccountId::parse("  ", "account_id").unwrap_err().code, "required");
    }
}
