//! The review page as served to a signed-in reader: `<meta name="artifact-frame">` holds a viewing
//! grant made with the page (so its script asks for none), and for a file with a bridge (HTML,
//! Markdown) the frame's `src` is in the page, so the artifact loads while the page's own scripts
//! do, instead of after they have asked for the file list and a grant. The grant makes the page
//! personal and a capability: it is never stored by a cache (`no-store`).

use bytes::Bytes;
use percent_encoding::utf8_percent_encode;
use warp::reply::Response;

use super::pages::{embedded, respond, serve_with};
use super::review::{QUERY_VALUE, REVIEW_CSP};
use crate::api::view_grants::Grant;
use crate::http::error::ApiError;
use crate::ingest::escape_html;

const PAGE: &str = "review.html";
/// The line of the embedded page that carries the grant once filled.
const MARKER: &str = "<meta name=\"artifact-frame\">";
/// The start of the frame's tag (in `parts/artifact-stage.html`), where its `src` goes.
const FRAME: &str = "<iframe id=\"artifact-frame\" ";

/// The review page with a grant on version `number`, its frame started on `file` when it has a
/// bridge.
pub(super) fn page(grant: &Grant, number: i64, file: &str) -> Result<Response, ApiError> {
    let page = embedded(PAGE)?;
    let Some(html) = std::str::from_utf8(&page)
        .ok()
        .filter(|p| p.contains(MARKER) && p.contains(FRAME))
    else {
        // The embedded page always has both (a test checks it); without them, the script asks
        // for a grant itself.
        return serve_with(PAGE, REVIEW_CSP);
    };
    let mut filled = html.replacen(MARKER, &meta(grant, number, file), 1);
    if has_bridge(file) {
        let src = format!("{FRAME}src=\"{}\" ", escape_html(&frame_src(grant, file)));
        filled = filled.replacen(FRAME, &src, 1);
    }
    Ok(respond(PAGE, Bytes::from(filled), REVIEW_CSP, "no-store"))
}

/// The filled marker: the grant, and what the script checks before it keeps the frame's document
/// (the file, the version) and when it renews the grant (its expiry).
fn meta(grant: &Grant, number: i64, file: &str) -> String {
    format!(
        "<meta name=\"artifact-frame\" content=\"{}\" data-file=\"{}\" data-version=\"{number}\" data-expires=\"{}\">",
        escape_html(&grant.path),
        escape_html(file),
        grant.expires_at,
    )
}

/// The file's address under the grant, each segment percent-encoded.
fn frame_src(grant: &Grant, file: &str) -> String {
    let segments: Vec<String> = file
        .split('/')
        .map(|segment| utf8_percent_encode(segment, QUERY_VALUE).to_string())
        .collect();
    format!("{}{}", grant.path, segments.join("/"))
}

/// Whether the file's document carries the bridge, by its name (as the page's script judges a
/// file it has no type for). Other files (an image, a stylesheet) are started by the script,
/// which tells them by their `load`.
fn has_bridge(file: &str) -> bool {
    let lower = file.to_ascii_lowercase();
    [".html", ".htm", ".md", ".markdown"]
        .iter()
        .any(|ext| lower.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_embedded_review_page_has_the_marker_and_the_frame_once() {
        let page = embedded(PAGE).unwrap();
        let html = std::str::from_utf8(&page).unwrap();
        assert_eq!(html.matches(MARKER).count(), 1);
        assert_eq!(html.matches(FRAME).count(), 1);
    }

    #[test]
    fn the_address_encodes_each_segment_and_the_attributes_are_escaped() {
        let grant = Grant {
            path: "/v/abc_DEF-123/".into(),
            expires_at: 42,
        };
        let file = "docs/a \"b\" & <c>#?.html";
        assert_eq!(
            meta(&grant, 3, file),
            "<meta name=\"artifact-frame\" content=\"/v/abc_DEF-123/\" \
             data-file=\"docs/a &quot;b&quot; &amp; &lt;c&gt;#?.html\" data-version=\"3\" data-expires=\"42\">"
        );
        assert_eq!(
            frame_src(&grant, file),
            "/v/abc_DEF-123/docs/a%20%22b%22%20%26%20%3Cc%3E%23%3F.html"
        );
        assert!(has_bridge(file) && has_bridge("README.MD") && has_bridge("x/index.htm"));
        assert!(!has_bridge("css/site.css") && !has_bridge("logo.png") && !has_bridge("html"));
    }
}
