//! What the HTTP layer counts for the operators' metrics, only ever adding to atomics on the
//! request path: requests per route (method and path template) and status, with their latency up
//! to the response headers (one `RouteStats` per route of the table, made when the table is built),
//! and the bytes of uploads received.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use crate::histogram::Histogram;

/// The statuses this server answers with, each counted on its own; any other is counted as "other".
pub const STATUSES: [u16; 32] = [
    101, 200, 201, 202, 204, 206, 301, 302, 303, 304, 307, 308, 400, 401, 403, 404, 405, 406, 408,
    409, 410, 413, 415, 416, 422, 429, 431, 500, 501, 503, 504, 507,
];

/// One route's counters.
#[derive(Debug)]
pub struct RouteStats {
    /// The route's path template (`unmatched` for requests no route took), as the debug log
    /// names it: never the path itself, which may hold a share link's or a viewing grant's token.
    pub route: &'static str,
    /// Requests per status, in `STATUSES` order, then "other".
    statuses: [AtomicU64; STATUSES.len() + 1],
    pub latency: Histogram,
}

impl RouteStats {
    /// The counters of the route with this path template.
    pub fn new(route: &'static str) -> RouteStats {
        RouteStats {
            route,
            statuses: std::array::from_fn(|_| AtomicU64::new(0)),
            latency: Histogram::default(),
        }
    }

    /// Counts one answered request.
    pub fn record(&self, status: u16, took: Duration) {
        let slot = STATUSES
            .iter()
            .position(|s| *s == status)
            .unwrap_or(STATUSES.len());
        self.statuses[slot].fetch_add(1, Ordering::Relaxed);
        self.latency.record(took);
    }

    /// (status label, requests) for every status seen at least once.
    pub fn by_status(&self) -> Vec<(String, u64)> {
        self.statuses
            .iter()
            .enumerate()
            .filter_map(|(i, n)| {
                let n = n.load(Ordering::Relaxed);
                let label = STATUSES
                    .get(i)
                    .map_or_else(|| "other".to_string(), u16::to_string);
                (n > 0).then_some((label, n))
            })
            .collect()
    }
}

/// A route as the metrics name it.
#[derive(Debug, Clone)]
pub struct RouteLabel {
    pub method: String,
    pub route: &'static str,
}

/// Bytes of uploads received (request bodies of the upload routes), counted as they arrive.
#[derive(Debug, Default)]
pub struct UploadBytes(AtomicU64);

impl UploadBytes {
    pub fn add(&self, bytes: u64) {
        self.0.fetch_add(bytes, Ordering::Relaxed);
    }

    /// Bytes counted so far.
    pub fn total(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}
