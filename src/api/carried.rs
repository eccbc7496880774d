//! Where the comments of earlier versions stand in the latest one, as the server can tell from the
//! files: the review page anchors them in the browser ("From earlier versions", "Not found in this
//! version"), and an agent that published a fix needs the same answer to know which comments its
//! change may have addressed.

use std::collections::HashMap;

use serde::Serialize;

use super::comments::{document_html, CommentView};
use crate::http::error::ApiError;
use crate::passage::{self, NotPlaced};
use crate::state::AppState;
use crate::store::{blobs, versions};
use crate::target::{Selector, Target};

/// Where a comment's place stands in the latest version.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum InLatest {
    /// The comment was made on the latest version.
    MadeOnIt,
    /// Its file is the same bytes in the latest version: the passage stands as it did.
    FileUnchanged,
    /// Its file changed, and the passage it quotes is still in the file's text.
    Found,
    /// Its file changed, and the passage it quotes is no longer in the file's text.
    NotFound,
    /// The latest version has no file of that name.
    FileRemoved,
    /// It is about the whole file, which is there, changed.
    FileChanged,
    /// Its file changed, and the server cannot tell: the comment names its passage without its
    /// text (positions or a CSS selector only), or by text the page's own scripts may write.
    Unknown,
}

/// For each comment (of the artifact `artifact_id`), where it stands in the latest version. Each
/// changed file's text is built once, on a bulk thread.
pub async fn in_latest(
    state: &AppState,
    artifact_id: i64,
    comments: &[CommentView],
) -> Result<Vec<InLatest>, ApiError> {
    let Some((latest_id, latest)) = state
        .store
        .read(move |conn| versions::latest_id(conn, artifact_id))
        .await?
    else {
        return Err(ApiError::not_found("artifact"));
    };
    let mut texts: HashMap<String, Option<passage::DocumentText>> = HashMap::new();
    // Per (version, file): whether the latest version has the file, and the same bytes.
    let mut files: HashMap<(i64, String), (bool, bool)> = HashMap::new();
    let mut out = Vec::with_capacity(comments.len());
    for comment in comments {
        let number = comment
            .version
            .trim_start_matches('v')
            .parse::<i64>()
            .unwrap_or(latest);
        if number == latest {
            out.push(InLatest::MadeOnIt);
            continue;
        }
        let Ok(target) = serde_json::from_str::<Target>(comment.target.get()) else {
            out.push(InLatest::Unknown);
            continue;
        };
        let file = (number, target.source.clone());
        let (there, unchanged) = match files.get(&file) {
            Some(known) => *known,
            None => {
                let source = target.source.clone();
                let known = state
                    .store
                    .read(move |conn| {
                        Ok((
                            blobs::describe(conn, latest_id, &source)?.is_some(),
                            blobs::same_file(conn, artifact_id, number, latest_id, &source)?,
                        ))
                    })
                    .await?;
                files.insert(file, known);
                known
            }
        };
        let quote = target.selector.as_ref().and_then(|s| {
            s.0.iter().find_map(|one| match one {
                Selector::TextQuoteSelector { exact, .. } => Some(exact.clone()),
                _ => None,
            })
        });
        // A quote kept as given (`scripted`: text an HTML page's own scripts write, with no
        // position in the file's text) may be there once the page has run: the file cannot tell.
        let scripted = target.selector.as_ref().is_some_and(|s| {
            !s.0.iter()
                .any(|one| matches!(one, Selector::TextPositionSelector { .. }))
        }) && !crate::ingest::is_markdown_path(&target.source);
        out.push(match (there, unchanged, target.selector.is_some(), quote) {
            (false, _, _, _) => InLatest::FileRemoved,
            (true, true, _, _) => InLatest::FileUnchanged,
            (true, false, false, _) => InLatest::FileChanged,
            (true, false, true, None) => InLatest::Unknown,
            (true, false, true, Some(quote)) => {
                if !texts.contains_key(&target.source) {
                    let text = latest_text(state, latest_id, &target.source).await?;
                    texts.insert(target.source.clone(), text);
                }
                match texts.get(&target.source).and_then(Option::as_ref) {
                    Some(text) => match passage::locate(text, &quote, None, &target.source) {
                        Err(NotPlaced::Missing { .. }) if scripted => InLatest::Unknown,
                        // Where the review page can draw no highlight (a form field, SVG...),
                        // it does not find the passage either.
                        Err(NotPlaced::Missing { .. } | NotPlaced::Unmarkable { .. }) => {
                            InLatest::NotFound
                        }
                        _ => InLatest::Found,
                    },
                    None => InLatest::Unknown,
                }
            }
        });
    }
    Ok(out)
}

/// The text of the latest version's file `path` as the review page measures it; None for a file
/// that is not a document.
async fn latest_text(
    state: &AppState,
    latest_id: i64,
    path: &str,
) -> Result<Option<passage::DocumentText>, ApiError> {
    let lookup = path.to_string();
    let Some((file, bytes)) = state
        .store
        .read(move |conn| blobs::read(conn, latest_id, &lookup))
        .await?
    else {
        return Ok(None);
    };
    if !crate::ingest::is_document(&file.path, &file.content_type) {
        return Ok(None);
    }
    let html = document_html(state, &file, bytes).await?;
    let text = crate::bulk::run(move || passage::text_of_html(&html))
        .await
        .map_err(|e| ApiError::Internal(format!("reading a document's text failed: {e}")))?;
    Ok(Some(text))
}
