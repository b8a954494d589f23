//! How a committed transaction's [`Fact`]s travel to other instances: the payload of one
//! PostgreSQL notification on [`CHANNEL`] — the announcing hub's origin, then the facts (at
//! most 8000 bytes in all, so a long list becomes [`Fact::Everything`]) — and what a
//! heartbeat looks like.

use accountd_domain::{AccountId, Fact, TokenId, UserId};
use uuid::Uuid;

/// The notification channel every instance of one database listens on.
pub(crate) const CHANNEL: &str = "accountd_changes";

/// The payload of a listener's heartbeat: proof that notifications still arrive, no change.
pub(crate) const HEARTBEAT: &str = "~";

/// More facts than this go as `*`: 33 bytes each stays well under PostgreSQL's 8000.
const MOST_FACTS: usize = 200;

/// The payload announcing `facts` (none: a commit that altered none) from the hub `origin`.
pub(crate) fn encode(origin: u128, facts: &[Fact]) -> String {
    let origin = format!("o{origin:032x}");
    if facts.len() > MOST_FACTS || facts.contains(&Fact::Everything) {
        return format!("{origin} *");
    }
    let word = |fact: &Fact| {
        let (kind, id) = match fact {
            Fact::Token(id) => ('t', id.as_uuid()),
            Fact::User(id) => ('u', id.as_uuid()),
            Fact::Account(id) => ('a', id.as_uuid()),
            Fact::AccountDeleted(id) => ('d', id.as_uuid()),
            Fact::Everything => unreachable!("sent as *"),
        };
        format!("{kind}{}", id.simple())
    };
    std::iter::once(origin).chain(facts.iter().map(word)).collect::<Vec<_>>().join(" ")
}

/// The hub a payload came from (`None` when it names none) and the facts it announces; a
/// fact that cannot be read is taken to say everything changed (dropping too much is
/// safe, too little is not).
pub(crate) fn decode(payload: &str) -> (Option<u128>, Vec<Fact>) {
    let mut words = payload.split_whitespace().peekable();
    let origin = words.peek().and_then(|w| w.strip_prefix('o')).and_then(|hex| u128::from_str_radix(hex, 16).ok());
    if origin.is_some() {
        words.next();
    }
    let fact = |word: &str| -> Option<Fact> {
        let kind = word.chars().next()?;
        let id = Uuid::try_parse(word.get(1..)?).ok()?;
        Some(match kind {
            't' => Fact::Token(TokenId::from_uuid(id)),
            'u' => Fact::User(UserId::from_uuid(id)),
            'a' => Fact::Account(AccountId::from_uuid(id)),
            'd' => Fact::AccountDeleted(AccountId::from_uuid(id)),
            _ => return None,
        })
    };
    (origin, words.map(|word| fact(word).unwrap_or(Fact::Everything)).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn facts_round_trip_through_a_payload() {
        let facts = vec![
            Fact::Token(TokenId::from_uuid(Uuid::now_v7())),
            Fact::User(UserId::from_uuid(Uuid::now_v7())),
            Fact::Account(AccountId::from_uuid(Uuid::now_v7())),
            Fact::AccountDeleted(AccountId::from_uuid(Uuid::now_v7())),
        ];
        assert_eq!(decode(&encode(7, &facts)), (Some(7), facts));
        assert_eq!(decode(&encode(u128::MAX, &[])), (Some(u128::MAX), Vec::new()), "a commit that altered nothing");
    }

    #[test]
    fn too_many_facts_or_an_unreadable_payload_mean_everything() {
        let many: Vec<Fact> = (0..=MOST_FACTS).map(|_| Fact::User(UserId::from_uuid(Uuid::now_v7()))).collect();
        assert_eq!(decode(&encode(1, &many)), (Some(1), vec![Fact::Everything]));
        assert!(encode(u128::MAX, &many[..MOST_FACTS]).len() < 8000);
        assert_eq!(decode("x123 u-not-a-uuid"), (None, vec![Fact::Everything, Fact::Everything]));
    }
}
