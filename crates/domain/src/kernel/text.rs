//! Free text from clients: the one rule every name, label, identifier-like string and filter
//! goes through before it reaches a store, so that both stores see the same values. A NUL
//! byte is the sharp case (PostgreSQL refuses it in `text` and `jsonb`, SQLite stores it),
//! and no other control character belongs in a name either.

use crate::FieldError;

/// Which control characters a text may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lines {
    /// Names, labels, ids and filters: no control character at all.
    One,
    /// Free-form notes (an address, a product's metadata): line feeds, carriage returns and
    /// tabs, and no other control character.
    Many,
}

impl Lines {
    fn allows(self, c: char) -> bool {
        !c.is_control() || (self == Lines::Many && matches!(c, '\n' | '\r' | '\t'))
    }
}

/// Checks `input` as the text of `field`: trimmed, at most `max_chars` characters, and no
/// control character that `lines` does not allow. Returns the trimmed text, which may be
/// empty: whether an empty value is allowed is the caller's rule.
pub fn clean(input: &str, field: &str, max_chars: usize, lines: Lines) -> Result<String, FieldError> {
    let text = input.trim();
    if let Some(c) = text.chars().find(|c| !lines.allows(*c)) {
        let message = match lines {
            Lines::One => "must not contain control characters",
            Lines::Many => "must not contain control characters other than line breaks and tabs",
        };
        return Err(FieldError::new(field, "invalid_characters", format!("{message} (found U+{:04X})", c as u32)));
    }
    if text.chars().count() > max_chars {
        return Err(FieldError::new(field, "too_long", format!("must be at most {max_chars} characters")));
    }
    Ok(text.to_owned())
}

/// [`clean`] for an optional value: `None` when absent or empty after trimming.
pub fn clean_opt(
    input: Option<&str>,
    field: &str,
    max_chars: usize,
    lines: Lines,
) -> Option<Result<String, FieldError>> {
    match input.map(|v| clean(v, field, max_chars, lines)) {
        Some(Ok(v)) if v.is_empty() => None,
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_nul_or_other_control_character_is_refused_with_the_field() {
        for bad in ["a\0b", "\u{7}bell", "esc\u{1b}[0m", "line\nbreak", "del\u{7f}", "c1\u{85}x"] {
            let err = clean(bad, "rate_plan", 64, Lines::One).unwrap_err();
            assert_eq!((err.field.as_str(), err.code), ("rate_plan", "invalid_characters"), "{bad:?}");
        }
        let err = clean("multi\0line", "business_address", 500, Lines::Many).unwrap_err();
        assert_eq!(err.code, "invalid_characters");
    }

    #[test]
    fn notes_keep_line_breaks_and_tabs_and_everything_is_trimmed() {
        assert_eq!(clean("  1 Main St\r\n\tTown  ", "a", 500, Lines::Many).unwrap(), "1 Main St\r\n\tTown");
        assert_eq!(clean("  Zoë — 東京 ", "name", 100, Lines::One).unwrap(), "Zoë — 東京");
    }

    #[test]
    fn length_counts_characters_after_trimming() {
        assert!(clean(&format!(" {} ", "é".repeat(100)), "name", 100, Lines::One).is_ok());
        assert_eq!(clean(&"é".repeat(101), "name", 100, Lines::One).unwrap_err().code, "too_long");
    }

    #[test]
    fn an_absent_or_blank_optional_text_is_none() {
        assert!(clean_opt(None, "f", 10, Lines::One).is_none());
        assert!(clean_opt(Some("   "), "f", 10, Lines::One).is_none());
        assert_eq!(clean_opt(Some(" x "), "f", 10, Lines::One), Some(Ok("x".to_owned())));
        assert!(matches!(clean_opt(Some("\0"), "f", 10, Lines::One), Some(Err(_))));
    }
}
