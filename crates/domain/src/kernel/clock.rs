//! Time and identity ports, with the implementations the binary uses.

use chrono::{DateTime, SubsecRound, Utc};
use uuid::Uuid;

/// Source of the current time. Services never call `Utc::now()` themselves, so tests can
/// pin time and every timestamp of one operation is the same instant.
pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The wall clock, truncated to microseconds: the precision both stores keep, so a value
/// read back equals the value written.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now().trunc_subsecs(6)
    }
}

/// Source of new identifiers.
pub trait IdGenerator: Send + Sync {
    /// A new, never before returned, time-sortable 128-bit id.
    fn next_id(&self) -> Uuid;
}

/// UUIDv7: time-ordered, so keyset pagination by id is creation order, and monotonic within
/// the process (the `uuid` crate keeps a counter for ids of the same millisecond).
#[derive(Debug, Default, Clone, Copy)]
pub struct UuidV7Generator;

impl IdGenerator for UuidV7Generator {
    fn next_id(&self) -> Uuid {
        Uuid::now_v7()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_generated_in_a_row_sort_in_creation_order() {
        let ids: Vec<Uuid> = (0..1000).map(|_| UuidV7Generator.next_id()).collect();
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted);
    }

    #[test]
    fn the_system_clock_keeps_microsecond_precision() {
        let now = SystemClock.now();
        assert_eq!(now.timestamp_subsec_nanos() % 1000, 0);
    }
}
