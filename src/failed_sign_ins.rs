//! Recording failed sign-ins in the audit trail without letting strangers fill it.
//!
//! A wrong password for an existing account is one event on that account (its id, never the text
//! typed); the throttle bounds how many there can be. Failures for accounts that do not exist are
//! counted in memory and written as one summary event at most every `SUMMARY_EVERY` for the whole
//! server (how many attempts, from which addresses, between when), so however fast strangers try,
//! the trail grows by a small fixed amount. What was typed as an account name is never stored: it
//! may well be a password typed into the wrong field.

use std::collections::BTreeSet;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::clock::now_ms;
use crate::store::audit::{self, AuditCtx, AuditEvent};
use crate::store::{Store, StoreResult};

/// At most one summary of failures for unknown accounts per this long.
pub const SUMMARY_EVERY: Duration = Duration::from_secs(60);
/// Addresses named in one summary, at most.
pub const ADDRESSES_KEPT: usize = 10;

/// Failures for unknown accounts not yet written.
#[derive(Debug, Default)]
struct Pending {
    attempts: u64,
    addresses: BTreeSet<IpAddr>,
    more_addresses: bool,
    first_at: i64,
    last_at: i64,
    last_ip: Option<IpAddr>,
}

#[derive(Debug, Default)]
struct State {
    pending: Pending,
    last_written: Option<Instant>,
    flush_scheduled: bool,
}

/// The server's recorder of failed sign-ins.
#[derive(Debug, Default)]
pub struct FailedSignIns {
    state: Mutex<State>,
}

/// What `note_unknown` decided.
enum Next {
    WriteNow(Summary),
    FlushAt(Instant),
    Nothing,
}

/// One summary event's content.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Summary {
    attempts: u64,
    addresses: Vec<String>,
    more_addresses: bool,
    first_at: i64,
    last_at: i64,
    ip: Option<String>,
}

impl FailedSignIns {
    /// Records a wrong password for the existing account `user_id`, tried from `ip`.
    pub async fn wrong_password(&self, store: &Store, user_id: i64, ip: IpAddr) -> StoreResult<()> {
        let ctx = AuditCtx {
            user_id: Some(user_id),
            ip: Some(ip.to_string()),
            ..AuditCtx::default()
        };
        store
            .write_content(move |conn| {
                audit::record(conn, &ctx, &AuditEvent::SessionFailed { user_id }, now_ms())
            })
            .await
    }

    /// Counts a sign-in for an account that does not exist; writes the summary now when the last
    /// one is `SUMMARY_EVERY` old, else makes sure a flush is scheduled for when it will be.
    pub async fn unknown_account(
        self: &std::sync::Arc<Self>,
        store: &Store,
        ip: IpAddr,
    ) -> StoreResult<()> {
        match self.note_unknown(ip, now_ms(), Instant::now()) {
            Next::WriteNow(summary) => write(store, summary).await,
            Next::FlushAt(at) => {
                let me = self.clone();
                let store = store.clone();
                tokio::spawn(async move {
                    tokio::time::sleep_until(at.into()).await;
                    if let Some(summary) = me.take(Instant::now()) {
                        if let Err(e) = write(&store, summary).await {
                            log::warn!(
                                "could not record failed sign-ins for unknown accounts: {e}"
                            );
                        }
                    }
                });
                Ok(())
            }
            Next::Nothing => Ok(()),
        }
    }

    fn note_unknown(&self, ip: IpAddr, at_ms: i64, now: Instant) -> Next {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let pending = &mut state.pending;
        if pending.attempts == 0 {
            pending.first_at = at_ms;
        }
        pending.attempts += 1;
        pending.last_at = at_ms;
        pending.last_ip = Some(ip);
        if pending.addresses.len() < ADDRESSES_KEPT {
            pending.addresses.insert(ip);
        } else if !pending.addresses.contains(&ip) {
            pending.more_addresses = true;
        }
        if state.flush_scheduled {
            return Next::Nothing;
        }
        match state.last_written.map(|t| t + SUMMARY_EVERY) {
            Some(due) if due > now => {
                state.flush_scheduled = true;
                Next::FlushAt(due)
            }
            _ => Next::WriteNow(Self::drain(&mut state, now)),
        }
    }

    /// The pending summary, if any, for a scheduled flush.
    fn take(&self, now: Instant) -> Option<Summary> {
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.flush_scheduled = false;
        (state.pending.attempts > 0).then(|| Self::drain(&mut state, now))
    }

    fn drain(state: &mut State, now: Instant) -> Summary {
        let pending = std::mem::take(&mut state.pending);
        state.last_written = Some(now);
        Summary {
            attempts: pending.attempts,
            addresses: pending.addresses.iter().map(IpAddr::to_string).collect(),
            more_addresses: pending.more_addresses,
            first_at: pending.first_at,
            last_at: pending.last_at,
            ip: pending.last_ip.map(|ip| ip.to_string()),
        }
    }
}

async fn write(store: &Store, summary: Summary) -> StoreResult<()> {
    store
        .write_content(move |conn| {
            let ctx = AuditCtx {
                ip: summary.ip.clone(),
                ..AuditCtx::default()
            };
            audit::record(
                conn,
                &ctx,
                &AuditEvent::SessionFailedUnknown {
                    attempts: summary.attempts,
                    addresses: &summary.addresses,
                    more_addresses: summary.more_addresses,
                    first_at: summary.first_at,
                    last_at: summary.last_at,
                },
                now_ms(),
            )
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(last: u8) -> IpAddr {
        IpAddr::V4(std::net::Ipv4Addr::new(192, 0, 2, last))
    }

    #[test]
    fn the_first_failure_is_written_at_once_and_later_ones_wait_for_one_summary() {
        let f = FailedSignIns::default();
        let t0 = Instant::now();
        let Next::WriteNow(first) = f.note_unknown(ip(1), 1_000, t0) else {
            panic!("the first failure is written at once");
        };
        assert_eq!(first.attempts, 1);
        assert_eq!(first.addresses, vec!["192.0.2.1".to_string()]);
        let Next::FlushAt(due) = f.note_unknown(ip(2), 2_000, t0) else {
            panic!("a second failure within the minute is held");
        };
        assert_eq!(due, t0 + SUMMARY_EVERY);
        for i in 0..100u8 {
            assert!(matches!(f.note_unknown(ip(i), 3_000, t0), Next::Nothing));
        }
        let summary = f.take(due).expect("held failures");
        assert_eq!(summary.attempts, 101);
        assert_eq!(summary.addresses.len(), ADDRESSES_KEPT);
        assert!(summary.more_addresses);
        assert_eq!((summary.first_at, summary.last_at), (2_000, 3_000));
        assert!(f.take(due).is_none(), "nothing left");
        assert!(matches!(
            f.note_unknown(ip(1), 4_000, due),
            Next::FlushAt(_)
        ));
        assert!(
            matches!(
                f.note_unknown(ip(1), 5_000, due + SUMMARY_EVERY * 2),
                Next::Nothing
            ),
            "a flush is already scheduled"
        );
    }
}
