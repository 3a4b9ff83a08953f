//! Durations of one kind of work (an fsync, a checkpoint), counted into fixed
//! buckets with atomics: cheap enough for the paths that record them, and read by
//! the metrics endpoint as a histogram. It knows nothing of how it is exported.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in seconds: 50 µs to 10 s.
pub const BOUNDS: [f64; 16] =
    [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0];

/// A histogram of durations.
#[derive(Debug, Default)]
pub struct Timings {
    count: AtomicU64,
    nanos: AtomicU64,
    /// Per bucket (not cumulative); past the last bound, only `count` grows.
    buckets: [AtomicU64; BOUNDS.len()],
}

/// What a [`Timings`] held when read.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub count: u64,
    pub sum_seconds: f64,
    /// `(upper bound in seconds, durations in this bucket)`, not cumulative.
    pub buckets: Vec<(f64, u64)>,
}

impl Timings {
    pub fn record(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        self.count.fetch_add(1, Ordering::Relaxed);
        self.nanos.fetch_add(u64::try_from(took.as_nanos()).unwrap_or(u64::MAX), Ordering::Relaxed);
        if let Some(at) = BOUNDS.iter().position(|&bound| seconds <= bound) {
            self.buckets[at].fetch_add(1, Ordering::Relaxed);
        }
    }

    pub fn snapshot(&self) -> Snapshot {
        Snapshot {
            count: self.count.load(Ordering::Relaxed),
            sum_seconds: self.nanos.load(Ordering::Relaxed) as f64 / 1e9,
            buckets: BOUNDS.iter().zip(&self.buckets).map(|(&bound, n)| (bound, n.load(Ordering::Relaxed))).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_the_first_bucket_that_holds_them() {
        let timings = Timings::default();
        for micros in [10, 50, 51, 700, 20_000_000] {
            timings.record(Duration::from_micros(micros));
        }
        let snapshot = timings.snapshot();
        assert_eq!(snapshot.count, 5);
        assert!((snapshot.sum_seconds - 20.000811).abs() < 1e-9);
        let counts: Vec<u64> = snapshot.buckets.iter().map(|(_, n)| *n).collect();
        assert_eq!(&counts[..5], &[2, 1, 0, 0, 1], "10 and 50 µs, 51 µs, 700 µs; 20 s is past every bound");
        assert_eq!(counts.iter().sum::<u64>(), 4);
    }
}
