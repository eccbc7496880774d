//! When something last happened, kept in an atomic so that any thread can read it without a lock
//! (the writer's transactions, the last read the pool answered: what the health check looks at).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug)]
pub struct Stamp {
    epoch: Instant,
    /// Milliseconds after `epoch` plus one; 0 when nothing is stamped.
    at: AtomicU64,
}

impl Stamp {
    /// An empty stamp; stamps compared with each other should share `epoch`.
    pub fn new(epoch: Instant) -> Stamp {
        Stamp {
            epoch,
            at: AtomicU64::new(0),
        }
    }

    fn now(&self) -> u64 {
        u64::try_from(self.epoch.elapsed().as_millis())
            .unwrap_or(u64::MAX - 1)
            .saturating_add(1)
    }

    /// Stamps the present moment.
    pub fn set(&self) {
        self.at.store(self.now(), Ordering::Release);
    }

    /// Empties the stamp.
    pub fn clear(&self) {
        self.at.store(0, Ordering::Release);
    }

    /// How long ago the stamped moment was; `None` when empty.
    pub fn ago(&self) -> Option<Duration> {
        match self.at.load(Ordering::Acquire) {
            0 => None,
            at => Some(Duration::from_millis(self.now().saturating_sub(at))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stamp_says_how_long_ago_until_cleared() {
        let stamp = Stamp::new(Instant::now() - Duration::from_secs(5));
        assert_eq!(stamp.ago(), None, "nothing stamped yet");
        stamp.set();
        assert!(stamp.ago().is_some_and(|d| d < Duration::from_secs(1)));
        stamp.clear();
        assert_eq!(stamp.ago(), None);
    }
}
