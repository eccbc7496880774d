//! Latency histograms made of atomics: recorded on the request path and by the database writer
//! without a lock (three relaxed additions), read by the metrics when Prometheus scrapes.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the buckets, in microseconds (0.5 ms to 10 s); one more bucket takes the rest.
pub const BOUNDS_MICROS: [u64; 14] = [
    500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000, 500_000, 1_000_000,
    2_500_000, 5_000_000, 10_000_000,
];

/// Counts of durations per bucket, and their sum.
#[derive(Debug, Default)]
pub struct Histogram {
    /// Not cumulative: each duration is counted in its own bucket only (the last: over 10 s).
    buckets: [AtomicU64; BOUNDS_MICROS.len() + 1],
    sum_micros: AtomicU64,
}

/// What a histogram held when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Reading {
    /// (upper bound in seconds, count in that bucket alone), the last bound `+Inf`; the encoder
    /// makes them cumulative.
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl Histogram {
    pub fn record(&self, took: Duration) {
        let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
        let slot = BOUNDS_MICROS
            .iter()
            .position(|bound| micros <= *bound)
            .unwrap_or(BOUNDS_MICROS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }

    /// The counts, in seconds.
    pub fn read(&self) -> Reading {
        let mut count = 0;
        let mut buckets = Vec::with_capacity(self.buckets.len());
        for (i, bucket) in self.buckets.iter().enumerate() {
            let n = bucket.load(Ordering::Relaxed);
            count += n;
            let bound = BOUNDS_MICROS
                .get(i)
                .map_or(f64::INFINITY, |b| *b as f64 / 1e6);
            buckets.push((bound, n));
        }
        Reading {
            buckets,
            count,
            sum_seconds: self.sum_micros.load(Ordering::Relaxed) as f64 / 1e6,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_land_in_their_bucket() {
        let h = Histogram::default();
        h.record(Duration::from_micros(400));
        h.record(Duration::from_millis(3));
        h.record(Duration::from_secs(60));
        let r = h.read();
        assert_eq!(r.count, 3);
        assert_eq!(r.buckets[0], (0.0005, 1));
        assert_eq!(r.buckets[3], (0.005, 1));
        assert_eq!(r.buckets[13], (10.0, 0));
        assert_eq!(r.buckets[14], (f64::INFINITY, 1));
        assert!((r.sum_seconds - 60.0034).abs() < 1e-9);
    }
}
