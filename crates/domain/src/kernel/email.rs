//! Email addresses as accountd accepts them: a pragmatic subset of RFC 5321 mailboxes.

use std::fmt;

use crate::FieldError;

/// A syntactically valid email address, trimmed. Comparison for uniqueness is
/// case-insensitive; that is the stores' business (they index `lower(email)`).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct EmailAddress(String);

impl EmailAddress {
    pub const MAX_LEN: usize = 254;

    /// Parses `input`; the error names the field `email`, use [`FieldError::at`] to rename it.
    pub fn parse(input: &str) -> Result<Self, FieldError> {
        let value = input.trim();
        let invalid = |message: &str| FieldError::new("email", "invalid_email", message);
        if value.is_empty() {
            return Err(FieldError::new("email", "required", "must not be empty"));
        }
        if value.len() > Self::MAX_LEN {
            return Err(FieldError::new("email", "too_long", "must be at most 254 characters"));
        }
        let Some((local, domain)) = value.rsplit_once('@') else {
            return Err(invalid("must contain @"));
        };
        if local.is_empty() || local.len() > 64 {
            return Err(invalid("must have a local part of 1 to 64 characters"));
        }
        if !is_dot_atom(local) {
            return Err(invalid("has a local part that is not a dot-atom"));
        }
        if !is_hostname(domain) || !domain.contains('.') {
            return Err(invalid("must have a valid domain"));
        }
        Ok(Self(value.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// True for an RFC 5321 dot-atom: atoms of letters, digits and `!#$%&'*+/=?^_`{|}~-`,
/// joined by single dots.
pub(crate) fn is_dot_atom(local: &str) -> bool {
    local.split('.').all(|atom| {
        !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c))
    })
}

/// True for a DNS hostname: labels of letters, digits and inner hyphens, 1–63 chars each.
pub(crate) fn is_hostname(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
}

impl fmt::Display for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for EmailAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "EmailAddress({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_an_ordinary_address_and_trims_it() {
        assert_eq!(EmailAddress::parse("  Abuse@Example.com ").unwrap().as_str(), "Abuse@Example.com");
    }

    #[test]
    fn rejects_addresses_without_at_or_domain() {
        for bad in ["abuse", "abuse@", "@example.com", "a@b", "a b@example.com", "a..b@example.com"] {
            assert_eq!(EmailAddress::parse(bad).unwrap_err().code, "invalid_email", "{bad}");
        }
    }

    #[test]
    fn rejects_an_empty_address_as_required() {
        assert_eq!(EmailAddress::parse(" ").unwrap_err().code, "required");
    }

    #[test]
    fn rejects_an_overlong_address() {
        let long = format!("{}@example.com", "a".repeat(250));
        assert_eq!(EmailAddress::parse(&long).unwrap_err().code, "too_long");
    }
}
