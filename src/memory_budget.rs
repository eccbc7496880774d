//! The memory budget (`--memory-budget`, 400 MiB): the server's peak resident memory target. Of
//! it, `BASELINE` is left to everything that is not admitted one by one (connections, SQLite's
//! page caches, the kept Markdown documents); uploads in progress and Markdown renders reserve
//! their share of the rest before they start, and give it back when done. Those shares are what
//! each one can use at most, measured: an upload is streamed to a spool and stored one file at a
//! time (`UPLOAD`), a render is bounded by `ingest::render_markdown` (`RENDER`). A reservation that
//! does not fit waits a moment for others to finish, then is refused with a 429 and `Retry-After`:
//! whatever the number of parallel uploads, the server stays within its budget.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use crate::http::error::ApiError;
use crate::limits::{ByteSize, MIB};

/// What the server uses besides admitted work, kept out of the budget.
pub const BASELINE: u64 = 96 * MIB;
/// The most one upload uses while it is received, checked and stored: buffers, the ZIP's central
/// directory (at most 4 MB, kept twice by the zip crate), one file of up to 5 MB decompressed and
/// SQLite's copy of it.
pub const UPLOAD: u64 = 24 * MIB;
/// The most one Markdown render uses: the source (5 MB), the parser's nodes (at most ~50 MB) and
/// the document (at most 16 MiB), measured on 30 pathological documents.
pub const RENDER: u64 = 64 * MIB;
/// The smallest budget accepted (`--memory-budget`): the baseline and room for the largest work.
pub const FLOOR: u64 = BASELINE + if RENDER > UPLOAD { RENDER } else { UPLOAD };
/// How long a reservation waits for room before it is refused.
pub const QUEUE_WAIT: Duration = Duration::from_secs(2);
/// What a refused client is told to wait.
const RETRY_AFTER_SECS: u64 = 2;

/// Work admitted against the budget.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Work {
    Upload,
    Render,
    /// A large request read whole and parsed (an MCP message that publishes: its body, the
    /// parsed message and the decoded content), of this many body bytes: three times that.
    Message(u64),
}

impl Work {
    fn bytes(self) -> u64 {
        match self {
            Work::Upload => UPLOAD,
            Work::Render => RENDER,
            Work::Message(body) => body.saturating_mul(3).max(UPLOAD),
        }
    }
}

#[derive(Debug)]
pub struct MemoryBudget {
    budget: u64,
    /// One permit per MiB of what may be reserved.
    room: Arc<Semaphore>,
    room_mib: u32,
    /// How long a reservation waits for room (`QUEUE_WAIT`).
    wait: Duration,
}

/// Reserved memory; given back when dropped.
#[derive(Debug)]
pub struct Reservation {
    _permit: OwnedSemaphorePermit,
}

impl MemoryBudget {
    /// A budget of `budget` bytes. However small, it admits one piece of work at a time.
    pub fn new(budget: u64) -> MemoryBudget {
        MemoryBudget::waiting(budget, QUEUE_WAIT)
    }

    /// A budget whose reservations wait up to `wait` for room.
    fn waiting(budget: u64, wait: Duration) -> MemoryBudget {
        // The command line refuses less than `FLOOR`; however small, one piece of work fits.
        let room = budget.saturating_sub(BASELINE).max(FLOOR - BASELINE);
        let room_mib = u32::try_from(room / MIB).unwrap_or(u32::MAX);
        MemoryBudget {
            budget,
            room: Arc::new(Semaphore::new(room_mib as usize)),
            room_mib,
            wait,
        }
    }

    /// Reserves room for `work`, waiting up to `QUEUE_WAIT` for it; a 429 with `Retry-After` when the
    /// budget stays full.
    pub async fn reserve(&self, work: Work) -> Result<Reservation, ApiError> {
        let mib = u32::try_from(work.bytes().div_ceil(MIB))
            .unwrap_or(u32::MAX)
            .min(self.room_mib);
        let wanted = self.room.clone().acquire_many_owned(mib);
        match tokio::time::timeout(self.wait, wanted).await {
            Ok(Ok(permit)) => Ok(Reservation { _permit: permit }),
            Ok(Err(_)) | Err(_) => Err(self.full(work)),
        }
    }

    fn full(&self, work: Work) -> ApiError {
        let (what, each) = match work {
            Work::Upload => ("uploads", UPLOAD),
            Work::Render => ("Markdown renders", RENDER),
            Work::Message(_) => ("messages of this size", work.bytes()),
        };
        let in_use = u64::from(self.room_mib) - self.room.available_permits() as u64;
        ApiError::TooManyRequests {
            message: format!(
                "the server is busy: uploads and Markdown renders in progress already hold {} of the {} they may use within its memory budget of {} (--memory-budget), and {what} need {} each; retry in {RETRY_AFTER_SECS} s",
                ByteSize(in_use * MIB),
                ByteSize(u64::from(self.room_mib) * MIB),
                ByteSize(self.budget),
                ByteSize(each)
            ),
            retry_after_secs: RETRY_AFTER_SECS,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reservations_beyond_the_budget_wait_then_are_refused_with_the_figures() {
        // 96 MiB baseline + room for three uploads; a short wait, so the fourth is refused soon.
        let budget = MemoryBudget::waiting(BASELINE + 3 * UPLOAD, Duration::from_millis(20));
        let a = budget.reserve(Work::Upload).await.expect("first");
        let _b = budget.reserve(Work::Upload).await.expect("second");
        let _c = budget.reserve(Work::Upload).await.expect("third");
        let refused = budget
            .reserve(Work::Upload)
            .await
            .expect_err("fourth waits, then no");
        assert_eq!(refused.status(), warp::http::StatusCode::TOO_MANY_REQUESTS);
        let message = refused.to_string();
        assert!(message.contains("72 MiB of the 72 MiB"), "{message}");
        assert!(message.contains("--memory-budget"), "{message}");
        drop(a);
        assert!(budget.reserve(Work::Upload).await.is_ok(), "room again");
    }

    #[tokio::test]
    async fn a_waiting_reservation_gets_room_that_frees_in_time() {
        // A wait far longer than the test: the reservation is granted when room frees, not
        // refused when its time is up.
        let budget = Arc::new(MemoryBudget::waiting(
            BASELINE + 3 * UPLOAD,
            Duration::from_secs(600),
        ));
        let held = budget.reserve(Work::Upload).await.expect("first");
        let _others = [
            budget.reserve(Work::Upload).await.expect("second"),
            budget.reserve(Work::Upload).await.expect("third"),
        ];
        let waiting = {
            let budget = budget.clone();
            tokio::spawn(async move { budget.reserve(Work::Upload).await.is_ok() })
        };
        // Let it run up to its wait: with nothing free it neither gets room nor gives up.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(
            !waiting.is_finished(),
            "the fourth reservation waits for room"
        );
        drop(held);
        assert!(waiting.await.expect("joined"));
    }

    #[test]
    fn a_tiny_budget_still_admits_one_piece_of_work() {
        let budget = MemoryBudget::new(MIB);
        assert_eq!(u64::from(budget.room_mib) * MIB, RENDER);
    }
}
