//! Recording a key's last use about once a minute: the one write per key per minute that
//! authentication lets through, however many requests arrive (writing it on every request cut
//! authenticated throughput by about three quarters).

use std::collections::HashMap;
use std::sync::Mutex;

use crate::clock::MINUTE_MS;

/// Remembers when each key's last use was written, so that at most one write per key per minute
/// reaches the database however many requests arrive.
#[derive(Debug, Default)]
pub struct KeyUsage {
    written: Mutex<HashMap<i64, i64>>,
}

/// Entries kept before old ones are swept.
const KEY_USAGE_SWEEP_AT: usize = 100_000;

impl KeyUsage {
    /// Whether this use should be written: the stored value is a minute old (or unset) and no other
    /// request has just written it.
    pub fn should_record(&self, key_id: i64, stored: Option<i64>, now: i64) -> bool {
        if stored.is_some_and(|at| now - at < MINUTE_MS) {
            return false;
        }
        let mut written = self.written.lock().unwrap_or_else(|p| p.into_inner());
        if written.get(&key_id).is_some_and(|at| now - at < MINUTE_MS) {
            return false;
        }
        if written.len() >= KEY_USAGE_SWEEP_AT {
            written.retain(|_, at| now - *at < MINUTE_MS);
        }
        written.insert(key_id, now);
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_use_is_recorded_at_most_once_a_minute() {
        let usage = KeyUsage::default();
        let t0 = 1_000_000;
        assert!(usage.should_record(1, None, t0));
        assert!(
            !usage.should_record(1, None, t0 + 5),
            "a second request raced the first"
        );
        assert!(!usage.should_record(1, Some(t0), t0 + MINUTE_MS - 1));
        assert!(usage.should_record(1, Some(t0), t0 + MINUTE_MS));
        assert!(
            usage.should_record(2, None, t0),
            "keys are throttled separately"
        );
    }
}
