//! Small macros the domain's value types and operation errors share.

/// Defines a closed set of values with a canonical lower-case name each.
macro_rules! named_enum {
    ($(#[$doc:meta])* $name:ident, $field:literal { $($variant:ident => $text:literal),+ $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$variant),+];

            pub fn as_str(&self) -> &'static str {
                match self { $(Self::$variant => $text),+ }
            }

            /// Parses the canonical name; the error names the wire field.
            pub fn parse(input: &str) -> Result<Self, $crate::FieldError> {
                match input.trim() {
                    $($text => Ok(Self::$variant),)+
                    _ => Err($crate::FieldError::new(
                        $field,
                        "unknown_value",
                        format!("must be one of {}", [$($text),+].join(", ")),
                    )),
                }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

/// The `From` conversions of an operation error from the shared pieces it is built of, one
/// word per source: `access` (the authorization decision → `NotFound`, `Denied`, `Unknown`),
/// `idempotency` (→ `IdempotencyKeyReused`, `Unknown`), `attempt` (the throttle →
/// `Throttled`, `Unknown`), `insert_user` (→ `EmailTaken`, `Unknown`) and `validation`
/// (→ `Invalid`). The error declares those variants itself, each with its message.
macro_rules! operation_error_from {
    ($error:ident: $($source:ident),+ $(,)?) => { $(operation_error_from!(@$source $error);)+ };
    (@access $error:ident) => {
        impl From<$crate::AccessError> for $error {
            fn from(e: $crate::AccessError) -> Self {
                match e {
                    $crate::AccessError::NotFound => Self::NotFound,
                    $crate::AccessError::Forbidden(p) => Self::Denied($crate::Denied::Permission(p)),
                    $crate::AccessError::TwoFactorRequired => Self::Denied($crate::Denied::TwoFactorRequired),
                    $crate::AccessError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    };
    (@idempotency $error:ident) => {
        impl From<$crate::IdempotencyError> for $error {
            fn from(e: $crate::IdempotencyError) -> Self {
                match e {
                    $crate::IdempotencyError::KeyReused => Self::IdempotencyKeyReused,
                    $crate::IdempotencyError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    };
    (@attempt $error:ident) => {
        impl From<$crate::AttemptError> for $error {
            fn from(e: $crate::AttemptError) -> Self {
                match e {
                    $crate::AttemptError::Throttled { retry_after_secs } => Self::Throttled { retry_after_secs },
                    $crate::AttemptError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    };
    (@insert_user $error:ident) => {
        impl From<$crate::InsertUserError> for $error {
            fn from(e: $crate::InsertUserError) -> Self {
                match e {
                    $crate::InsertUserError::EmailTaken => Self::EmailTaken,
                    $crate::InsertUserError::Unknown(e) => Self::Unknown(e),
                }
            }
        }
    };
    (@validation $error:ident) => {
        impl From<$crate::ValidationErrors> for $error {
            fn from(e: $crate::ValidationErrors) -> Self {
                Self::Invalid(e)
            }
        }
    };
}
