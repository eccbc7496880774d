//! Slowing down password guessing: failed sign-ins are counted per client address; past a few
//! failures in a window, further attempts from that address are refused for a growing delay.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Failures allowed in the window before attempts are refused.
pub const FREE_FAILURES: u32 = 5;
/// How long failures are remembered.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// The first refusal lasts this long; each further failure doubles it, up to `MAX_DELAY`.
pub const FIRST_DELAY: Duration = Duration::from_secs(30);
pub const MAX_DELAY: Duration = Duration::from_secs(15 * 60);
/// Addresses tracked before old entries are swept.
const SWEEP_AT: usize = 10_000;

#[derive(Debug, Clone, Copy)]
struct Record {
    failures: u32,
    last_failure: Instant,
}

/// Per-address failure counts, shared by every sign-in path.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    records: Mutex<HashMap<IpAddr, Record>>,
}

impl LoginThrottle {
    /// `Err(wait)` when this address must wait before trying again.
    pub fn check(&self, ip: IpAddr, now: Instant) -> Result<(), Duration> {
        let records = self.lock();
        match records.get(&ip) {
            Some(r) if r.failures >= FREE_FAILURES => {
                let until = r.last_failure + delay_for(r.failures);
                if now < until {
                    Err(until - now)
                } else {
                    Ok(())
                }
            }
            _ => Ok(()),
        }
    }

    /// Counts a failed attempt.
    pub fn failed(&self, ip: IpAddr, now: Instant) {
        let mut records = self.lock();
        if records.len() >= SWEEP_AT {
            records.retain(|_, r| now.duration_since(r.last_failure) < WINDOW);
        }
        let record = records.entry(ip).or_insert(Record {
            failures: 0,
            last_failure: now,
        });
        if now.duration_since(record.last_failure) >= WINDOW {
            record.failures = 0;
        }
        record.failures = record.failures.saturating_add(1);
        record.last_failure = now;
    }

    /// A successful sign-in clears the address.
    pub fn succeeded(&self, ip: IpAddr) {
        self.lock().remove(&ip);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<IpAddr, Record>> {
        // A poisoned map only means a panic elsewhere while holding it; the counts are still usable.
        self.records.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The wait after `failures` failures (only called with failures >= FREE_FAILURES).
fn delay_for(failures: u32) -> Duration {
    let doublings = failures.saturating_sub(FREE_FAILURES).min(16);
    FIRST_DELAY.saturating_mul(1 << doublings).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    #[test]
    fn five_failures_are_free_and_the_sixth_attempt_waits() {
        let t = LoginThrottle::default();
        let start = Instant::now();
        for _ in 0..FREE_FAILURES - 1 {
            t.failed(IP, start);
            assert!(t.check(IP, start).is_ok());
        }
        t.failed(IP, start);
        assert_eq!(t.check(IP, start), Err(FIRST_DELAY));
        assert!(t.check(IP, start + FIRST_DELAY).is_ok());
    }

    #[test]
    fn delays_double_and_are_capped() {
        assert_eq!(delay_for(FREE_FAILURES), FIRST_DELAY);
        assert_eq!(delay_for(FREE_FAILURES + 1), FIRST_DELAY * 2);
        assert_eq!(delay_for(FREE_FAILURES + 40), MAX_DELAY);
    }

    #[test]
    fn success_clears_and_other_addresses_are_unaffected() {
        let t = LoginThrottle::default();
        let now = Instant::now();
        for _ in 0..FREE_FAILURES {
            t.failed(IP, now);
        }
        let other: IpAddr = "10.0.0.2".parse().expect("literal address");
        assert!(t.check(other, now).is_ok());
        t.succeeded(IP);
        assert!(t.check(IP, now).is_ok());
    }
}
