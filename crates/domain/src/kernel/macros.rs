//! Small macros the domain's value types share.

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
