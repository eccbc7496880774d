//! Slowing down password (and token) guessing without letting one person lock out everyone.
//!
//! Failures are counted per *subject* (an account, named by the normalised email typed at sign-in,
//! known or not, so the throttle never tells which accounts exist; or the setup or invite token
//! forms) and client address, in a sliding window: at most `PAIR_LIMIT` wrong guesses for one
//! subject from one address per `WINDOW`, and at most `SUBJECT_LIMIT` for one subject over all
//! addresses. An attempt is *reserved* before its password is checked and counts as a failure
//! until it is proven right, so a burst of parallel guesses cannot all be evaluated before the
//! first refusal; at most `VERIFYING_PER_ADDRESS` checks from one address run at once. A right
//! password clears only that subject's count for that address: signing into your own account
//! does not buy guesses on someone else's, and someone else's guesses on one account never keep
//! another account's right password out.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crate::secrets::sha256;

/// How long a failure is remembered.
pub const WINDOW: Duration = Duration::from_secs(15 * 60);
/// Wrong guesses allowed for one subject from one address within `WINDOW`.
pub const PAIR_LIMIT: usize = 10;
/// Wrong guesses allowed for one subject from all addresses together within `WINDOW`.
pub const SUBJECT_LIMIT: usize = 50;
/// Password checks from one address that may run at the same time.
pub const VERIFYING_PER_ADDRESS: u32 = 2;
/// Entries kept per map before expired ones are swept; past it (after a sweep), new subjects or
/// pairs are refused until old failures expire. A failure needs a password check (about 20 ms,
/// two at once), so a window holds far fewer than this.
const MAX_TRACKED: usize = 100_000;

/// What is being guessed.
#[derive(Debug, Clone, Copy)]
pub enum Subject<'a> {
    /// An account's password, by the normalised email typed (existing or not).
    Account(&'a str),
    /// The one-time setup token.
    SetupToken,
    /// Invite links.
    InviteToken,
    /// Password-reset links.
    ResetToken,
    /// Agent key request codes typed by this account.
    KeyRequestCode(i64),
}

impl Subject<'_> {
    fn key(&self) -> u128 {
        let digest = match self {
            Subject::Account(email) => sha256(format!("account:{email}").as_bytes()),
            Subject::SetupToken => sha256(b"setup-token"),
            Subject::InviteToken => sha256(b"invite-token"),
            Subject::ResetToken => sha256(b"reset-token"),
            Subject::KeyRequestCode(user_id) => {
                sha256(format!("key-request-code:{user_id}").as_bytes())
            }
        };
        let mut first = [0u8; 16];
        first.copy_from_slice(&digest[..16]);
        u128::from_be_bytes(first)
    }
}

/// Why an attempt may not be made now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Too many wrong guesses for this subject from this address.
    FromThisAddress { wait: Duration },
    /// Too many wrong guesses for this subject from all addresses together.
    ForThisSubject { wait: Duration },
    /// This address already has `VERIFYING_PER_ADDRESS` checks running.
    Busy,
    /// The throttle tracks as many failures as it will hold.
    Full,
}

impl Refusal {
    /// How long the client should wait (at least one second).
    pub fn wait(&self) -> Duration {
        match self {
            Refusal::FromThisAddress { wait } | Refusal::ForThisSubject { wait } => {
                (*wait).max(Duration::from_secs(1))
            }
            Refusal::Busy | Refusal::Full => Duration::from_secs(1),
        }
    }
}

/// Failures within the window (oldest first) and attempts still being checked.
#[derive(Debug, Default)]
struct Window {
    failures: VecDeque<Instant>,
    in_flight: u32,
}

impl Window {
    fn expire(&mut self, now: Instant) {
        while self
            .failures
            .front()
            .is_some_and(|t| now.duration_since(*t) >= WINDOW)
        {
            self.failures.pop_front();
        }
    }

    fn used(&self) -> usize {
        self.failures.len() + self.in_flight as usize
    }

    /// Until the oldest failure leaves the window (a second when only attempts in flight fill it).
    fn wait(&self, now: Instant) -> Duration {
        self.failures
            .front()
            .map(|t| (*t + WINDOW).saturating_duration_since(now))
            .unwrap_or(Duration::from_secs(1))
    }

    fn idle(&self, now: Instant) -> bool {
        self.in_flight == 0
            && self
                .failures
                .back()
                .is_none_or(|t| now.duration_since(*t) >= WINDOW)
    }
}

#[derive(Debug, Default)]
struct Counts {
    pairs: HashMap<(u128, IpAddr), Window>,
    subjects: HashMap<u128, Window>,
    verifying: HashMap<IpAddr, u32>,
}

/// The server's guess counter, shared by every sign-in path.
#[derive(Debug, Default)]
pub struct LoginThrottle {
    counts: Mutex<Counts>,
}

impl LoginThrottle {
    /// Reserves one attempt at `subject` from `ip`, or says why not. The attempt counts as a
    /// failure until `Attempt::succeeded` is called (dropping it counts it as failed).
    pub fn reserve(
        self: &Arc<Self>,
        subject: Subject<'_>,
        ip: IpAddr,
        now: Instant,
    ) -> Result<Attempt, Refusal> {
        let key = subject.key();
        let mut counts = self.lock();
        let Counts {
            pairs,
            subjects,
            verifying,
        } = &mut *counts;
        if verifying.get(&ip).copied().unwrap_or(0) >= VERIFYING_PER_ADDRESS {
            return Err(Refusal::Busy);
        }
        if let Some(w) = pairs.get_mut(&(key, ip)) {
            w.expire(now);
            if w.used() >= PAIR_LIMIT {
                return Err(Refusal::FromThisAddress { wait: w.wait(now) });
            }
        }
        if let Some(w) = subjects.get_mut(&key) {
            w.expire(now);
            if w.used() >= SUBJECT_LIMIT {
                return Err(Refusal::ForThisSubject { wait: w.wait(now) });
            }
        }
        if !room_for(pairs, &(key, ip), now) || !room_for(subjects, &key, now) {
            return Err(Refusal::Full);
        }
        pairs.entry((key, ip)).or_default().in_flight += 1;
        subjects.entry(key).or_default().in_flight += 1;
        *verifying.entry(ip).or_default() += 1;
        Ok(Attempt {
            throttle: self.clone(),
            key,
            ip,
            at: now,
            settled: false,
        })
    }

    /// Forgets the wrong guesses at `subject` made before `since`, from every address: they were
    /// guesses at a password that has since been replaced (an admin's reset), so they no longer
    /// stand between the account's owner and the new one.
    pub fn forgive_before(&self, subject: Subject<'_>, since: Instant) {
        let key = subject.key();
        let mut counts = self.lock();
        let Counts {
            pairs, subjects, ..
        } = &mut *counts;
        let forget = |w: &mut Window| w.failures.retain(|t| *t >= since);
        for ((k, _), w) in pairs.iter_mut() {
            if *k == key {
                forget(w);
            }
        }
        if let Some(w) = subjects.get_mut(&key) {
            forget(w);
        }
    }

    /// Wrong guesses for `subject` from `ip` still in the window.
    #[cfg(test)]
    pub fn failures(&self, subject: Subject<'_>, ip: IpAddr, now: Instant) -> usize {
        let mut counts = self.lock();
        counts
            .pairs
            .get_mut(&(subject.key(), ip))
            .map(|w| {
                w.expire(now);
                w.failures.len()
            })
            .unwrap_or(0)
    }

    fn settle(&self, key: u128, ip: IpAddr, outcome: Outcome) {
        let mut counts = self.lock();
        let Counts {
            pairs,
            subjects,
            verifying,
        } = &mut *counts;
        if let Some(n) = verifying.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                verifying.remove(&ip);
            }
        }
        for window in [pairs.get_mut(&(key, ip)), subjects.get_mut(&key)]
            .into_iter()
            .flatten()
        {
            window.in_flight = window.in_flight.saturating_sub(1);
            if let Outcome::Failed(at) = outcome {
                // Attempts settle in any order; the window stays sorted, oldest first.
                let i = window.failures.partition_point(|t| *t <= at);
                window.failures.insert(i, at);
            }
        }
        if outcome == Outcome::Succeeded {
            // Only this subject from this address is forgiven; the subject's count over all
            // addresses keeps the guesses made from elsewhere.
            if let Some(pair) = pairs.get_mut(&(key, ip)) {
                pair.failures.clear();
            }
        }
        if pairs.get(&(key, ip)).is_some_and(|w| w.used() == 0) {
            pairs.remove(&(key, ip));
        }
    }

    fn lock(&self) -> MutexGuard<'_, Counts> {
        // A poisoned map only means a panic elsewhere while holding it; the counts are still usable.
        self.counts.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Whether `map` can take `key` (it has it, or has room, if need be after sweeping idle entries).
fn room_for<K: std::hash::Hash + Eq>(map: &mut HashMap<K, Window>, key: &K, now: Instant) -> bool {
    if map.contains_key(key) || map.len() < MAX_TRACKED {
        return true;
    }
    map.retain(|_, w| !w.idle(now));
    map.len() < MAX_TRACKED
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    Failed(Instant),
    Succeeded,
}

/// One reserved attempt. Settle it with `failed` or `succeeded`; if it is dropped unsettled (the
/// request ended early), it counts as a failure.
#[derive(Debug)]
pub struct Attempt {
    throttle: Arc<LoginThrottle>,
    key: u128,
    ip: IpAddr,
    /// When it was reserved; a failure counts from then.
    at: Instant,
    settled: bool,
}

impl Attempt {
    pub fn failed(mut self) {
        self.settled = true;
        self.throttle
            .settle(self.key, self.ip, Outcome::Failed(self.at));
    }

    pub fn succeeded(mut self) {
        self.settled = true;
        self.throttle.settle(self.key, self.ip, Outcome::Succeeded);
    }
}

impl Drop for Attempt {
    fn drop(&mut self) {
        if !self.settled {
            self.throttle
                .settle(self.key, self.ip, Outcome::Failed(self.at));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOME: IpAddr = IpAddr::V4(std::net::Ipv4Addr::LOCALHOST);

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, last))
    }

    fn throttle() -> Arc<LoginThrottle> {
        Arc::new(LoginThrottle::default())
    }

    #[test]
    fn ten_wrong_guesses_per_account_and_address_then_a_wait_until_the_oldest_expires() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..PAIR_LIMIT {
            t.reserve(Subject::Account("v@x"), HOME, now)
                .expect("within the limit")
                .failed();
        }
        match t.reserve(Subject::Account("v@x"), HOME, now) {
            Err(Refusal::FromThisAddress { wait }) => assert!(wait <= WINDOW),
            other => panic!("expected a refusal, got {other:?}"),
        }
        assert!(
            t.reserve(Subject::Account("other@x"), HOME, now).is_ok(),
            "another account from the same address is not held up"
        );
        assert!(
            t.reserve(Subject::Account("v@x"), ip(2), now).is_ok(),
            "the same account from another address is not held up"
        );
    }

    #[test]
    fn attempts_in_flight_count_and_an_address_checks_at_most_two_at_once() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..PAIR_LIMIT - 1 {
            t.reserve(Subject::Account("v@x"), HOME, now)
                .expect("within the limit")
                .failed();
        }
        let last = t
            .reserve(Subject::Account("v@x"), HOME, now)
            .expect("the tenth");
        assert!(
            matches!(
                t.reserve(Subject::Account("v@x"), HOME, now),
                Err(Refusal::FromThisAddress { .. })
            ),
            "the guess being checked already counts"
        );
        let other = t
            .reserve(Subject::Account("w@x"), HOME, now)
            .expect("another account");
        assert_eq!(
            t.reserve(Subject::Account("z@x"), HOME, now).unwrap_err(),
            Refusal::Busy,
            "two checks from one address are running"
        );
        last.succeeded();
        other.failed();
        assert_eq!(t.failures(Subject::Account("v@x"), HOME, now), 0);
        assert_eq!(t.failures(Subject::Account("w@x"), HOME, now), 1);
    }

    #[test]
    fn success_clears_only_that_account_from_that_address() {
        let t = throttle();
        let now = Instant::now();
        for _ in 0..3 {
            t.reserve(Subject::Account("victim@x"), HOME, now)
                .expect("ok")
                .failed();
            t.reserve(Subject::Account("victim@x"), ip(9), now)
                .expect("ok")
                .failed();
        }
        t.reserve(Subject::Account("mine@x"), HOME, now)
            .expect("ok")
            .succeeded();
        assert_eq!(t.failures(Subject::Account("victim@x"), HOME, now), 3);
        t.reserve(Subject::Account("victim@x"), HOME, now)
            .expect("ok")
            .succeeded();
        assert_eq!(t.failures(Subject::Account("victim@x"), HOME, now), 0);
        assert_eq!(t.failures(Subject::Account("victim@x"), ip(9), now), 3);
    }

    #[test]
    fn an_account_takes_at_most_fifty_wrong_guesses_over_all_addresses() {
        let t = throttle();
        let now = Instant::now();
        for i in 0..SUBJECT_LIMIT {
            t.reserve(Subject::Account("v@x"), ip((i / PAIR_LIMIT) as u8), now)
                .expect("within both limits")
                .failed();
        }
        assert!(matches!(
            t.reserve(Subject::Account("v@x"), ip(200), now),
            Err(Refusal::ForThisSubject { .. })
        ));
        assert!(t
            .reserve(Subject::Account("v@x"), ip(200), now + WINDOW)
            .is_ok());
    }

    #[test]
    fn an_unsettled_attempt_counts_as_a_failure() {
        let t = throttle();
        let now = Instant::now();
        drop(t.reserve(Subject::SetupToken, HOME, now).expect("ok"));
        assert_eq!(t.failures(Subject::SetupToken, HOME, now), 1);
        assert_eq!(t.failures(Subject::InviteToken, HOME, now), 0);
    }
}
