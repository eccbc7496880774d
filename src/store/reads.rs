//! When each person last looked at an artifact: the time they last opened its review page, and the
//! newest of its events they had then seen. What others did after that is "new" to them.

use rusqlite::{params, Connection};

use super::error::StoreResult;

/// Records that `user_id` has seen the events of `artifact_id` up to `event_id` (delivered live to
/// their open review page), or all of them so far when None (they opened it), without moving what
/// they saw backwards.
pub fn mark_seen(
    conn: &Connection,
    user_id: i64,
    artifact_id: i64,
    event_id: Option<i64>,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO artifact_reads (user_id, artifact_id, seen_at, seen_event)
         VALUES (?1, ?2, ?3,
                 coalesce(?4, (SELECT max(id) FROM audit_events WHERE artifact_id = ?2), 0))
         ON CONFLICT (user_id, artifact_id)
         DO UPDATE SET seen_at = excluded.seen_at, seen_event = max(seen_event, excluded.seen_event)",
    )?
    .execute(params![user_id, artifact_id, now, event_id])?;
    Ok(())
}
