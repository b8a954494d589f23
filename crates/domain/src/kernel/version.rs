//! The optimistic-concurrency version every aggregate carries, and the client's
//! precondition on it (`If-Match`, gRPC `etag`).

/// Optimistic-concurrency version: 1 on creation, incremented by every change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Version(i64);

impl Version {
    pub const INITIAL: Version = Version(1);

    pub fn new(value: i64) -> Self {
        Self(value)
    }

    pub fn get(&self) -> i64 {
        self.0
    }

    pub fn next(&self) -> Self {
        Self(self.0 + 1)
    }

    /// The strong entity tag of this version, quotes included.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.0)
    }
}

/// A client's precondition on the version it last saw (HTTP `If-Match`, gRPC `etag`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum IfMatch {
    /// No precondition, or `*`.
    #[default]
    Any,
    /// The versions whose strong tags were listed; empty when none was one this service
    /// issues, which matches nothing.
    Versions(Vec<Version>),
}

impl IfMatch {
    /// Parses an entity-tag list as sent in `If-Match`. `If-Match` compares strongly
    /// (RFC 9110 §13.1.1), so weak tags (`W/"3"`) and tags this service never issues match
    /// nothing; the list matches when any of its tags does.
    pub fn parse(header: &str) -> Self {
        let header = header.trim();
        if header.is_empty() || header == "*" {
            return Self::Any;
        }
        let versions = header
            .split(',')
            .filter_map(|tag| tag.trim().strip_prefix('"')?.strip_suffix('"')?.parse::<i64>().ok())
            .map(Version)
            .collect();
        Self::Versions(versions)
    }

    pub fn matches(&self, current: Version) -> bool {
        match self {
            Self::Any => true,
            Self::Versions(versions) => versions.contains(&current),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn if_match_compares_strong_tags_and_accepts_star_and_lists() {
        assert_eq!(IfMatch::parse("\"3\""), IfMatch::Versions(vec![Version(3)]));
        assert!(!IfMatch::parse("W/\"3\"").matches(Version(3)), "weak tags never match strongly");
        assert!(IfMatch::parse("\"1\", \"3\"").matches(Version(3)), "any listed tag may match");
        assert_eq!(IfMatch::parse("*"), IfMatch::Any);
        assert!(!IfMatch::parse("\"garbage\"").matches(Version(3)));
        assert!(IfMatch::parse("\"3\"").matches(Version(3)));
        assert!(!IfMatch::parse("\"2\"").matches(Version(3)));
    }
}
