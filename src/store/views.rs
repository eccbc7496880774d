//! Counted views of versions, and the statistics read from them. A view is one row; the same viewer
//! opening the same version again within `REPEAT_WINDOW_MS` is not counted again.

use rusqlite::{params, Connection, OptionalExtension};

use super::error::StoreResult;

/// Loads of a version by one viewer within this long count as one view.
pub const REPEAT_WINDOW_MS: i64 = 30 * 60 * 1000;

/// One view to count.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct View {
    pub artifact_id: i64,
    pub version_id: i64,
    /// SHA-256 naming the viewer (see `views` in schema.sql).
    pub viewer: [u8; 32],
    pub user_id: Option<i64>,
    pub via_link: bool,
}

/// Counts the view unless the same viewer's last counted view of the version is recent; returns
/// whether it was counted.
pub fn record(conn: &Connection, view: &View, now: i64) -> StoreResult<bool> {
    let inserted = conn
        .prepare_cached(
            "INSERT INTO views (artifact_id, version_id, viewer, user_id, via_link, viewed_at)
             SELECT ?1, ?2, ?3, ?4, ?5, ?6
              WHERE NOT EXISTS (SELECT 1 FROM views
                                 WHERE version_id = ?2 AND viewer = ?3 AND viewed_at > ?6 - ?7)",
        )?
        .execute(params![
            view.artifact_id,
            view.version_id,
            &view.viewer[..],
            view.user_id,
            view.via_link,
            now,
            REPEAT_WINDOW_MS
        ])?;
    Ok(inserted == 1)
}

/// An artifact's view statistics.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArtifactViews {
    pub total: i64,
    pub unique_viewers: i64,
    pub last_viewed_at: Option<i64>,
    /// The person behind the last view, when it was a signed-in person.
    pub last_viewed_by: Option<String>,
}

/// Views of the artifact's active versions.
pub fn of_artifact(conn: &Connection, artifact_id: i64) -> StoreResult<ArtifactViews> {
    let (total, unique_viewers) = conn
        .prepare_cached(
            "SELECT count(*), count(DISTINCT w.viewer)
               FROM views w JOIN versions v ON v.id = w.version_id
              WHERE w.artifact_id = ?1 AND v.deleted_at IS NULL",
        )?
        .query_row([artifact_id], |r| Ok((r.get(0)?, r.get(1)?)))?;
    let last: Option<(i64, Option<String>)> = conn
        .prepare_cached(
            "SELECT w.viewed_at, u.name
               FROM views w JOIN versions v ON v.id = w.version_id
               LEFT JOIN users u ON u.id = w.user_id
              WHERE w.artifact_id = ?1 AND v.deleted_at IS NULL
              ORDER BY w.viewed_at DESC, w.id DESC LIMIT 1",
        )?
        .query_row([artifact_id], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()?;
    Ok(ArtifactViews {
        total,
        unique_viewers,
        last_viewed_at: last.as_ref().map(|l| l.0),
        last_viewed_by: last.and_then(|l| l.1),
    })
}

/// Per active version of an artifact: (number, comments, views), oldest first.
pub fn per_version(conn: &Connection, artifact_id: i64) -> StoreResult<Vec<(i64, i64, i64)>> {
    let mut stmt = conn.prepare_cached(
        "SELECT number, comment_count, view_count FROM versions
          WHERE artifact_id = ?1 AND deleted_at IS NULL ORDER BY number",
    )?;
    let rows = stmt.query_map([artifact_id], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
    Ok(rows.collect::<Result<_, _>>()?)
}
