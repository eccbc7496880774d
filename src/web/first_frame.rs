//! The review page and a share link's page as served with their frame's first document:
//! `<meta name="artifact-frame">` names the folder the version's files are served under (the
//! review page: a viewing grant made with the page, so its script asks for none), the version and
//! the file; for a file with a bridge (HTML, Markdown) the frame's `src` is in the page, so the
//! artifact loads while the page's own scripts do, instead of after they have asked for the
//! artifact and its files.

use bytes::Bytes;
use percent_encoding::utf8_percent_encode;
use warp::reply::Response;

use super::pages::{embedded, respond, serve_with};
use super::review::{QUERY_VALUE, REVIEW_CSP};
use crate::http::error::ApiError;
use crate::ingest::{self, escape_html};

/// The line of an embedded page that carries the frame's folder once filled.
const MARKER: &str = "<meta name=\"artifact-frame\">";
/// The start of the frame's tag (in `parts/artifact-stage.html`), where its `src` goes.
const FRAME: &str = "<iframe id=\"artifact-frame\" ";

/// A page and the document its frame starts on.
pub(super) struct FirstFrame<'a> {
    /// The embedded page (`review.html`, `share.html`).
    pub page: &'static str,
    /// `/v/{grant}/` or `/share/{linkToken}/`: where the version's files are served.
    pub folder: &'a str,
    /// When the folder stops serving (a viewing grant's expiry), if it does.
    pub expires_at: Option<i64>,
    pub version: i64,
    pub file: &'a str,
    /// `no-store` when the folder is a capability of the reader's own.
    pub cache: &'static str,
}

/// The page, its frame started on the file when that has a bridge.
pub(super) fn page(first: &FirstFrame) -> Result<Response, ApiError> {
    let page = embedded(first.page)?;
    let Some(html) = std::str::from_utf8(&page)
        .ok()
        .filter(|p| p.contains(MARKER) && p.contains(FRAME))
    else {
        // The embedded pages always have both (a test checks it); without them, the script
        // starts the frame itself.
        return serve_with(first.page, REVIEW_CSP);
    };
    let mut filled = html.replacen(MARKER, &meta(first), 1);
    if has_bridge(first.file) {
        let src = frame_src(first.folder, first.file);
        filled = filled.replacen(FRAME, &format!("{FRAME}src=\"{}\" ", escape_html(&src)), 1);
    }
    Ok(respond(
        first.page,
        Bytes::from(filled),
        REVIEW_CSP,
        first.cache,
    ))
}

/// The filled marker: the folder, and what the script checks before it keeps the frame's document
/// (the file, the version) and when it renews a grant (its expiry).
fn meta(first: &FirstFrame) -> String {
    let expires = first
        .expires_at
        .map(|at| format!(" data-expires=\"{at}\""))
        .unwrap_or_default();
    format!(
        "<meta name=\"artifact-frame\" content=\"{}\" data-file=\"{}\" data-version=\"{}\"{expires}>",
        escape_html(first.folder),
        escape_html(first.file),
        first.version,
    )
}

/// The file's address in the folder, each segment percent-encoded.
fn frame_src(folder: &str, file: &str) -> String {
    let segments: Vec<String> = file
        .split('/')
        .map(|segment| utf8_percent_encode(segment, QUERY_VALUE).to_string())
        .collect();
    format!("{folder}{}", segments.join("/"))
}

/// Whether the file's document carries the bridge, by its name (as the page's script judges a
/// file it has no type for). Other files (an image, a stylesheet) are started by the script,
/// which tells them by their `load`.
fn has_bridge(file: &str) -> bool {
    ingest::is_html_path(file) || ingest::is_markdown_path(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_pages_have_the_marker_and_the_frame_once() {
        for name in ["review.html", "share.html"] {
            let page = embedded(name).unwrap();
            let html = std::str::from_utf8(&page).unwrap();
            assert_eq!(html.matches(MARKER).count(), 1, "{name}");
            assert_eq!(html.matches(FRAME).count(), 1, "{name}");
        }
    }

    #[test]
    fn the_address_encodes_each_segment_and_the_attributes_are_escaped() {
        let file = "docs/a \"b\" & <c>#?.html";
        let mut first = FirstFrame {
            page: "review.html",
            folder: "/v/abc_DEF-123/",
            expires_at: Some(42),
            version: 3,
            file,
            cache: "no-store",
        };
        assert_eq!(
            meta(&first),
            "<meta name=\"artifact-frame\" content=\"/v/abc_DEF-123/\" \
             data-file=\"docs/a &quot;b&quot; &amp; &lt;c&gt;#?.html\" data-version=\"3\" data-expires=\"42\">"
        );
        first.expires_at = None;
        assert!(meta(&first).ends_with("data-version=\"3\">"));
        assert_eq!(
            frame_src(first.folder, file),
            "/v/abc_DEF-123/docs/a%20%22b%22%20%26%20%3Cc%3E%23%3F.html"
        );
        assert!(has_bridge(file) && has_bridge("README.MD") && has_bridge("x/index.htm"));
        assert!(!has_bridge("css/site.css") && !has_bridge("logo.png") && !has_bridge("html"));
    }
}
