//! A request body that must keep arriving. Every body gets `--body-timeout` from the moment its
//! request's headers were read, plus one second for every `--min-body-rate` bytes received: a
//! small JSON body finishes within seconds, and an upload may take longer only while its bytes
//! keep coming. A client that falls behind gets an error from the body (the handler answers 408
//! and the connection closes), so a trickle of bytes cannot hold a connection for long.
//!
//! The clock starts when the request arrives; a timer exists only while the body is waiting for
//! bytes, so a body that arrives with its headers costs nothing extra.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use hyper::body::{Body, Frame, Incoming, SizeHint};
use tokio::time::{Instant, Sleep};

use crate::limits::ByteSize;

/// The pace every body must keep.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    pub timeout: Duration,
    /// Bytes per second.
    pub min_rate: u64,
}

impl Pace {
    /// When a body that started at `started` and has delivered `received` bytes must be done.
    fn deadline(&self, started: Instant, received: u64) -> Instant {
        let earned = Duration::from_secs_f64(received as f64 / self.min_rate.max(1) as f64);
        started + self.timeout + earned
    }
}

/// What went wrong while reading a body.
#[derive(Debug)]
pub enum BodyError {
    /// The client fell behind the pace.
    TooSlow {
        received: u64,
        waited: Duration,
        pace: Pace,
    },
    /// The connection failed (reset, malformed chunking...).
    Read(hyper::Error),
}

impl fmt::Display for BodyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BodyError::TooSlow {
                received,
                waited,
                pace,
            } => write!(
                f,
                "the request body arrived too slowly: {received} bytes in {:.1} s; a body gets {} s plus 1 s per {} received (--body-timeout, --min-body-rate)",
                waited.as_secs_f64(),
                pace.timeout.as_secs(),
                ByteSize(pace.min_rate)
            ),
            BodyError::Read(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for BodyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            BodyError::TooSlow { .. } => None,
            BodyError::Read(e) => Some(e),
        }
    }
}

/// The `TooSlow` error somewhere in `error`'s chain of sources, if that is what it is.
pub fn too_slow<'a>(error: &'a (dyn std::error::Error + 'static)) -> Option<&'a BodyError> {
    let mut current = Some(error);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<BodyError>() {
            return matches!(found, BodyError::TooSlow { .. }).then_some(found);
        }
        current = e.source();
    }
    None
}

/// hyper's body with the pace enforced.
pub struct PacedBody {
    inner: Incoming,
    pace: Pace,
    started: Instant,
    received: u64,
    timer: Option<Pin<Box<Sleep>>>,
    failed: bool,
}

impl PacedBody {
    pub fn new(inner: Incoming, pace: Pace) -> PacedBody {
        PacedBody {
            inner,
            pace,
            started: Instant::now(),
            received: 0,
            timer: None,
            failed: false,
        }
    }

    fn too_slow(&mut self) -> BodyError {
        self.failed = true;
        BodyError::TooSlow {
            received: self.received,
            waited: self.started.elapsed(),
            pace: self.pace,
        }
    }
}

impl Body for PacedBody {
    type Data = Bytes;
    type Error = BodyError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BodyError>>> {
        let this = self.get_mut();
        if this.failed {
            // Stays failed: reporting an end now would let the rest of the body be read as the
            // next request.
            return Poll::Ready(Some(Err(this.too_slow())));
        }
        match Pin::new(&mut this.inner).poll_frame(cx) {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(data) = frame.data_ref() {
                    this.received += data.len() as u64;
                    if let Some(timer) = this.timer.as_mut() {
                        timer
                            .as_mut()
                            .reset(this.pace.deadline(this.started, this.received));
                    }
                }
                Poll::Ready(Some(Ok(frame)))
            }
            Poll::Ready(Some(Err(e))) => Poll::Ready(Some(Err(BodyError::Read(e)))),
            Poll::Ready(None) => Poll::Ready(None),
            Poll::Pending => {
                let deadline = this.pace.deadline(this.started, this.received);
                if Instant::now() >= deadline {
                    return Poll::Ready(Some(Err(this.too_slow())));
                }
                let timer = this
                    .timer
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
                if timer.as_mut().poll(cx).is_ready() {
                    return Poll::Ready(Some(Err(this.too_slow())));
                }
                Poll::Pending
            }
        }
    }

    fn is_end_stream(&self) -> bool {
        !self.failed && self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_deadline_grows_with_what_arrived() {
        let pace = Pace {
            timeout: Duration::from_secs(10),
            min_rate: 64 * 1024,
        };
        let t0 = Instant::now();
        assert_eq!(pace.deadline(t0, 0), t0 + Duration::from_secs(10));
        assert_eq!(
            pace.deadline(t0, 1),
            t0 + Duration::from_secs(10) + Duration::from_secs_f64(1.0 / 65536.0)
        );
        assert_eq!(
            pace.deadline(t0, 64 * 1024 * 30),
            t0 + Duration::from_secs(40)
        );
    }

    #[test]
    fn a_slow_body_is_found_behind_wrappers_and_says_its_limits() {
        let pace = Pace {
            timeout: Duration::from_secs(10),
            min_rate: 64 * 1024,
        };
        let slow = BodyError::TooSlow {
            received: 1,
            waited: Duration::from_millis(10_020),
            pace,
        };
        let message = slow.to_string();
        assert!(message.contains("1 bytes in 10.0 s"), "{message}");
        assert!(message.contains("10 s plus 1 s per 64 KiB"), "{message}");
        let wrapped: Box<dyn std::error::Error + Send + Sync> = Box::new(slow);
        assert!(too_slow(wrapped.as_ref()).is_some());
        let other = std::io::Error::other("reset");
        assert!(too_slow(&other).is_none());
    }
}
