//! Latency samples and what the report says of them: throughput and nearest-rank percentiles.

/// One side (accountd or pgbench) of one scenario, as measured.
#[derive(Debug, Clone, PartialEq)]
pub struct Measurement {
    /// Requests (or pgbench transactions) completed successfully per second.
    pub throughput: f64,
    /// Median latency in milliseconds.
    pub p50_ms: f64,
    /// 99th-percentile latency in milliseconds.
    pub p99_ms: f64,
    /// Completed requests or transactions.
    pub count: usize,
    /// Failed requests or transactions.
    pub errors: usize,
}

impl Measurement {
    /// Summarises latencies in microseconds collected over `seconds`.
    pub fn from_latencies(mut micros: Vec<u64>, errors: usize, seconds: f64) -> Self {
        micros.sort_unstable();
        let ms = |p| percentile(&micros, p).map_or(f64::NAN, |us| us as f64 / 1000.0);
        Self {
            throughput: if seconds > 0.0 { micros.len() as f64 / seconds } else { 0.0 },
            p50_ms: ms(50.0),
            p99_ms: ms(99.0),
            count: micros.len(),
            errors,
        }
    }
}

/// The nearest-rank percentile `p` (0–100] of `sorted` (ascending); `None` when empty.
pub fn percentile(sorted: &[u64], p: f64) -> Option<u64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// A tiny xorshift generator: the load needs cheap, reproducible picks, not cryptography.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number in `0..bound` (`bound` > 0).
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles_pick_real_samples() {
        let sorted: Vec<u64> = (1..=100).collect();
        assert_eq!(percentile(&sorted, 50.0), Some(50));
        assert_eq!(percentile(&sorted, 99.0), Some(99));
        assert_eq!(percentile(&sorted, 100.0), Some(100));
        assert_eq!(percentile(&[7], 99.0), Some(7));
        assert_eq!(percentile(&[1, 2, 3, 1000], 50.0), Some(2));
        assert_eq!(percentile(&[1, 2, 3, 1000], 99.0), Some(1000));
        assert_eq!(percentile(&[], 50.0), None);
    }

    #[test]
    fn a_measurement_sorts_its_samples_and_reports_milliseconds() {
        let m = Measurement::from_latencies(vec![3000, 1000, 2000, 10_000], 1, 2.0);
        assert_eq!(m.throughput, 2.0);
        assert_eq!(m.p50_ms, 2.0);
        assert_eq!(m.p99_ms, 10.0);
        assert_eq!((m.count, m.errors), (4, 1));
    }

    #[test]
    fn the_generator_stays_in_bounds_and_varies() {
        let mut rng = Rng::new(42);
        let picks: Vec<u64> = (0..1000).map(|_| rng.below(10)).collect();
        assert!(picks.iter().all(|&p| p < 10));
        assert!((0..10).all(|v| picks.contains(&v)));
    }
}
