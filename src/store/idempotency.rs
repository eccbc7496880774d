//! Answers kept for `Idempotency-Key` retries: one per account and key, for `KEPT_FOR`.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreResult;
use crate::clock::DAY_MS;

/// How long an answer is kept for a retry.
pub const KEPT_FOR: i64 = DAY_MS;

/// A kept answer, and the request it answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub method: String,
    pub path: String,
    /// The SHA-256 of what the request asked for (None for answers kept before schema 8).
    pub fingerprint: Option<[u8; 32]>,
    pub status: u16,
    pub body: Vec<u8>,
}

/// The answer kept for this account and key, if it is younger than `KEPT_FOR`.
pub fn get(conn: &Connection, user_id: i64, key: &str, now: i64) -> StoreResult<Option<Answer>> {
    Ok(conn
        .prepare_cached(
            "SELECT method, path, fingerprint, status, body FROM idempotent_answers
              WHERE user_id = ?1 AND key = ?2 AND created_at > ?3",
        )?
        .query_row(params![user_id, key, now - KEPT_FOR], |r| {
            Ok(Answer {
                method: r.get(0)?,
                path: r.get(1)?,
                fingerprint: r.get(2)?,
                status: r.get(3)?,
                body: r.get(4)?,
            })
        })
        .optional()?)
}

/// The status of a mark left by `mark_done`: the work was committed, its answer not kept yet.
pub const DONE_UNANSWERED: u16 = 0;

/// Marks, inside the write that does a keyed request's work, that the work is done: the answer
/// that `put` keeps after it replaces the mark. A server that stops between the two leaves the
/// mark, so a retry learns that the work was done instead of doing it again.
pub fn mark_done(
    conn: &Connection,
    user_id: i64,
    key: &str,
    asked: (&str, &str, [u8; 32]),
    now: i64,
) -> StoreResult<()> {
    let (method, path, fingerprint) = asked;
    put(
        conn,
        user_id,
        key,
        &Answer {
            method: method.to_string(),
            path: path.to_string(),
            fingerprint: Some(fingerprint),
            status: DONE_UNANSWERED,
            body: Vec::new(),
        },
        now,
    )
}

/// Keeps an answer (replacing one too old to be replayed, or the mark of its own request), and removes some of those past their
/// time, a hundred at most, so the table stays small without a sweep of its own.
pub fn put(
    conn: &Connection,
    user_id: i64,
    key: &str,
    answer: &Answer,
    now: i64,
) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT OR REPLACE INTO idempotent_answers (user_id, key, method, path, fingerprint, status, body, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?
    .execute(params![
        user_id,
        key,
        answer.method,
        answer.path,
        answer.fingerprint,
        answer.status,
        answer.body,
        now
    ])?;
    conn.prepare_cached(
        "DELETE FROM idempotent_answers WHERE (user_id, key) IN
            (SELECT user_id, key FROM idempotent_answers WHERE created_at <= ?1 LIMIT 100)",
    )?
    .execute([now - KEPT_FOR])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::schema;

    #[test]
    fn an_answer_is_kept_for_a_day_per_account_and_key() {
        let conn = schema::in_memory();
        conn.execute_batch(
            "INSERT INTO users (email, name, password_hash, role, created_at, updated_at)
                 VALUES ('a@example.com', 'A', 'x', 'admin', 1, 1), ('b@example.com', 'B', 'x', 'member', 1, 1);",
        )
        .expect("users");
        let answer = Answer {
            method: "POST".into(),
            path: "/api/v1/artifacts".into(),
            fingerprint: Some([7; 32]),
            status: 201,
            body: b"{}".to_vec(),
        };
        put(&conn, 1, "k", &answer, 1_000).expect("kept");
        assert_eq!(
            get(&conn, 1, "k", 2_000).expect("read"),
            Some(answer.clone())
        );
        assert_eq!(
            get(&conn, 2, "k", 2_000).expect("read"),
            None,
            "another account's"
        );
        assert_eq!(
            get(&conn, 1, "k", 1_000 + KEPT_FOR).expect("read"),
            None,
            "a day later"
        );
        // A later answer removes the old ones.
        put(&conn, 2, "other", &answer, 1_000 + KEPT_FOR).expect("kept");
        let left: i64 = conn
            .query_row("SELECT count(*) FROM idempotent_answers", [], |r| r.get(0))
            .expect("count");
        assert_eq!(left, 1);
    }
}
