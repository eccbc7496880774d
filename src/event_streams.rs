//! The open event streams (and MCP feedback waits), counted against their caps so that idle
//! streams cannot take the server's connections: at most `MAX_STREAMS` at once (a quarter of the
//! connection cap) and `MAX_STREAMS_PER_USER` per account, beyond which the answer is a fast 429
//! with `Retry-After`.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::http::error::ApiError;

/// Open event streams at most, server-wide (the server holds 4,096 connections).
pub const MAX_STREAMS: usize = 1024;
/// Open event streams at most per account (tabs, agents waiting for feedback).
pub const MAX_STREAMS_PER_USER: usize = 16;

/// Counts open streams against the caps.
#[derive(Debug, Default)]
pub struct StreamSlots {
    open: Mutex<(usize, HashMap<i64, usize>)>,
}

/// One open stream's place; given back when dropped.
pub struct Slot {
    slots: Arc<StreamSlots>,
    user_id: i64,
}

impl StreamSlots {
    /// Streams (and feedback waits) open now.
    pub fn open(&self) -> usize {
        self.open.lock().unwrap_or_else(|p| p.into_inner()).0
    }

    /// A place for one more stream (or long wait) of this account; a 429 saying which cap when full.
    pub fn take(self: &Arc<Self>, user_id: i64) -> Result<Slot, ApiError> {
        let mut open = self.open.lock().unwrap_or_else(|p| p.into_inner());
        let mine = open.1.get(&user_id).copied().unwrap_or(0);
        if mine >= MAX_STREAMS_PER_USER {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "this account already has {mine} open event streams and feedback waits; the limit is {MAX_STREAMS_PER_USER}: close one, or poll the comments instead"
                ),
                retry_after_secs: 30,
            });
        }
        if open.0 >= MAX_STREAMS {
            return Err(ApiError::TooManyRequests {
                message: format!(
                    "the server has {MAX_STREAMS} open event streams and feedback waits, its limit; try again later or poll the comments instead"
                ),
                retry_after_secs: 30,
            });
        }
        open.0 += 1;
        *open.1.entry(user_id).or_default() += 1;
        Ok(Slot {
            slots: self.clone(),
            user_id,
        })
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut open = self.slots.open.lock().unwrap_or_else(|p| p.into_inner());
        open.0 = open.0.saturating_sub(1);
        if let Some(n) = open.1.get_mut(&self.user_id) {
            *n -= 1;
            if *n == 0 {
                open.1.remove(&self.user_id);
            }
        }
    }
}
