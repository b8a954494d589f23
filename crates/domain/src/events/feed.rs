//! The feed's values: where an event stands in commit order ([`FeedPosition`]), the opaque
//! cursor a follower resumes from ([`EventCursor`]), and a validated feed query.

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chrono::{DateTime, Utc};

use crate::{AccountId, AuditEvent, Collector, FieldError, ValidationErrors};

/// An event's place in the feed: the id of the transaction that wrote it, then its sequence
/// number. Ordered by both, in that order. The store hands out an event only once every
/// event before it in this order has committed (see [`EventFeed`](crate::EventFeed)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FeedPosition {
    pub xact: i64,
    pub seq: i64,
}

impl FeedPosition {
    /// Before every event.
    pub const START: FeedPosition = FeedPosition { xact: 0, seq: 0 };
}

/// One event of the feed with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedEvent {
    pub position: FeedPosition,
    pub event: AuditEvent,
}

/// Where a follower stands: a position, and the time up to which the feed was complete
/// there (the event's time, or when the caller last found nothing after it). A cursor whose
/// time is older than the feed's retention is refused as gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EventCursor {
    pub position: FeedPosition,
    pub as_of: DateTime<Utc>,
}

impl EventCursor {
    /// Version tag inside the token, so the format can change without misreading old ones.
    const TAG: u8 = 1;
    const LEN: usize = 1 + 8 * 3;

    pub fn encode(&self) -> String {
        let mut bytes = Vec::with_capacity(Self::LEN);
        bytes.push(Self::TAG);
        bytes.extend_from_slice(&self.position.xact.to_be_bytes());
        bytes.extend_from_slice(&self.position.seq.to_be_bytes());
        bytes.extend_from_slice(&self.as_of.timestamp_micros().to_be_bytes());
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Decodes a cursor made by [`EventCursor::encode`]; the error names `field`.
    pub fn decode(token: &str, field: &str) -> Result<Self, FieldError> {
        let invalid = || FieldError::new(field, "invalid_cursor", "is not an event cursor this service issued");
        let bytes = URL_SAFE_NO_PAD.decode(token.trim()).map_err(|_| invalid())?;
        if bytes.len() != Self::LEN || bytes[0] != Self::TAG {
            return Err(invalid());
        }
        let word = |i: usize| {
            let mut b = [0u8; 8];
            b.copy_from_slice(&bytes[1 + 8 * i..9 + 8 * i]);
            i64::from_be_bytes(b)
        };
        let (xact, seq) = (word(0), word(1));
        let as_of = DateTime::from_timestamp_micros(word(2)).ok_or_else(invalid)?;
        if xact < 0 || seq < 0 {
            return Err(invalid());
        }
        Ok(Self { position: FeedPosition { xact, seq }, as_of })
    }
}

/// Event types to follow (`alias.create`, `member.update`, …): empty means all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EventTypes(Vec<String>);

impl EventTypes {
    /// At most this many types in one filter.
    pub const MAX: usize = 50;

    /// Each type is `<resource>.<verb>`: lower-case letters, digits and `_`, one dot at
    /// least; duplicates are dropped. The error names `field`.
    pub fn parse(types: &[String], field: &str) -> Result<Self, FieldError> {
        let mut out: Vec<String> = Vec::new();
        for t in types.iter().map(|t| t.trim()).filter(|t| !t.is_empty()) {
            let well_formed = t.len() <= 64
                && t.split('.').count() >= 2
                && t.split('.').all(|part| {
                    !part.is_empty() && part.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
                });
            if !well_formed {
                return Err(FieldError::new(field, "invalid_event_type", "must name event types such as alias.create"));
            }
            if !out.iter().any(|o| o == t) {
                out.push(t.to_owned());
            }
        }
        if out.len() > Self::MAX {
            return Err(FieldError::new(field, "too_many", "may name at most 50 event types"));
        }
        Ok(Self(out))
    }

    pub fn all() -> Self {
        Self(Vec::new())
    }

    pub fn names(&self) -> &[String] {
        &self.0
    }

    pub fn matches(&self, action: &str) -> bool {
        self.0.is_empty() || self.0.iter().any(|t| t == action)
    }
}

/// What a store is asked for, besides the position and a limit.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FeedFilter {
    /// Only this account's events.
    pub account_id: Option<AccountId>,
    pub types: EventTypes,
    /// Only events that occurred at or after this instant (the retention horizon, when a
    /// follower starts without a cursor).
    pub since: Option<DateTime<Utc>>,
}

/// Events per answer: 1–1000, 100 when the client does not say.
pub const DEFAULT_EVENT_LIMIT: u32 = 100;
pub const MAX_EVENT_LIMIT: u32 = 1000;

/// The longest a long poll waits for a new event.
pub const MAX_WAIT: Duration = Duration::from_secs(60);

/// A feed query as the wire adapters receive it.
#[derive(Debug, Clone, Default)]
pub struct EventQueryInput {
    pub after: Option<String>,
    pub account_id: Option<String>,
    pub types: Vec<String>,
    pub limit: Option<i64>,
    /// A duration such as `30s`, `500ms`, `1m` or plain seconds (`30`); at most 60 s.
    pub wait: Option<String>,
}

/// A validated feed query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventQuery {
    pub after: Option<EventCursor>,
    pub account_id: Option<AccountId>,
    pub types: EventTypes,
    pub limit: u32,
    pub wait: Duration,
}

impl EventQueryInput {
    pub fn validate(self) -> Result<EventQuery, ValidationErrors> {
        let mut errors = Collector::default();
        let after = errors
            .take_opt(self.after.as_deref().filter(|a| !a.trim().is_empty()).map(|a| EventCursor::decode(a, "after")));
        let account_id = errors.take_opt(
            self.account_id
                .as_deref()
                .filter(|a| !a.trim().is_empty())
                .map(|a| AccountId::parse(a.trim(), "account_id")),
        );
        let types = errors.take(EventTypes::parse(&self.types, "types"));
        let limit = errors.take(match self.limit {
            None => Ok(DEFAULT_EVENT_LIMIT),
            Some(n) if (1..=i64::from(MAX_EVENT_LIMIT)).contains(&n) => Ok(n as u32),
            Some(_) => Err(FieldError::new("limit", "out_of_range", "must be between 1 and 1000")),
        });
        let wait = errors.take_opt(self.wait.as_deref().filter(|w| !w.trim().is_empty()).map(parse_wait));
        errors.finish()?;
        Ok(EventQuery {
            after: after.flatten(),
            account_id: account_id.flatten(),
            types: types.unwrap_or_default(),
            limit: limit.unwrap_or(DEFAULT_EVENT_LIMIT),
            wait: wait.flatten().unwrap_or(Duration::ZERO),
        })
    }
}

/// `30s`, `500ms`, `1m` or `30` (seconds), at most [`MAX_WAIT`].
fn parse_wait(input: &str) -> Result<Duration, FieldError> {
    let invalid = || FieldError::new("wait", "invalid_duration", "must be a duration such as 30s, at most 60s");
    let input = input.trim();
    let digits = input.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = input.split_at(digits);
    let n: u64 = number.parse().map_err(|_| invalid())?;
    let wait = match unit {
        "" | "s" => Duration::from_secs(n),
        "ms" => Duration::from_millis(n),
        "m" => Duration::from_secs(n.checked_mul(60).ok_or_else(invalid)?),
        _ => return Err(invalid()),
    };
    if wait > MAX_WAIT { Err(invalid()) } else { Ok(wait) }
}

/// One answer of the feed: events in order, each with its cursor, and where to go on from.
#[derive(Debug, Clone)]
pub struct EventPage {
    pub events: Vec<(EventCursor, AuditEvent)>,
    /// Pass as `after` next: past every event returned, and past events scanned that the
    /// caller may not see or did not ask for.
    pub next_cursor: EventCursor,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cursor_round_trips_and_a_foreign_token_is_refused() {
        let as_of = DateTime::from_timestamp_micros(1_700_000_000_123_456).expect("valid time");
        let cursor = EventCursor { position: FeedPosition { xact: 7_000_000_001, seq: 42 }, as_of };
        assert_eq!(EventCursor::decode(&cursor.encode(), "after"), Ok(cursor));
        for bad in ["", "abc", "AQ", &crate::Cursor::after(uuid::Uuid::nil()).encode()] {
            let error = EventCursor::decode(bad, "after").expect_err(bad);
            assert_eq!((error.field.as_str(), error.code), ("after", "invalid_cursor"));
        }
    }

    #[test]
    fn positions_order_by_transaction_then_sequence() {
        let p = |xact, seq| FeedPosition { xact, seq };
        assert!(p(5, 100) < p(6, 1));
        assert!(p(6, 1) < p(6, 2));
        assert!(FeedPosition::START < p(0, 1));
    }

    #[test]
    fn waits_take_human_durations_up_to_a_minute() {
        assert_eq!(parse_wait("30s"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("30"), Ok(Duration::from_secs(30)));
        assert_eq!(parse_wait("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(parse_wait("1m"), Ok(Duration::from_secs(60)));
        for bad in ["61s", "2m", "-1s", "1h", "s", "1.5s", "99999999999999999999m"] {
            assert_eq!(parse_wait(bad).expect_err(bad).field, "wait");
        }
    }

    #[test]
    fn event_types_are_named_resource_dot_verb() {
        let names = |v: &[&str]| v.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
        let types =
            EventTypes::parse(&names(&["alias.create", " member.update", "alias.create", ""]), "types").expect("valid");
        assert_eq!(types.names(), ["alias.create", "member.update"]);
        assert!(types.matches("member.update") && !types.matches("account.create"));
        assert!(EventTypes::all().matches("anything.at_all"));
        for bad in ["alias", "Alias.create", "alias..create", "alias.create;drop", ".x"] {
            assert_eq!(EventTypes::parse(&names(&[bad]), "types").expect_err(bad).code, "invalid_event_type");
        }
        let many: Vec<String> = (0..51).map(|i| format!("r.v{i}")).collect();
        assert_eq!(EventTypes::parse(&many, "types").expect_err("too many").code, "too_many");
    }

    #[test]
    fn a_query_reports_every_bad_field_at_once() {
        let input = EventQueryInput {
            after: Some("nope".into()),
            account_id: Some("x".into()),
            types: vec!["BAD".into()],
            limit: Some(0),
            wait: Some("2h".into()),
        };
        let errors = input.validate().expect_err("all bad");
        let mut fields: Vec<&str> = errors.fields().iter().map(|f| f.field.as_str()).collect();
        fields.sort_unstable();
        assert_eq!(fields, ["account_id", "after", "limit", "types", "wait"]);
        let query = EventQueryInput::default().validate().expect("defaults");
        assert_eq!((query.limit, query.wait, query.after), (DEFAULT_EVENT_LIMIT, Duration::ZERO, None));
    }
}
