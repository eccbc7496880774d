//! The bridge: a small script that runs inside every HTML document served under a viewing grant,
//! so the review page can learn what the reader selects and draw highlights without the artifact
//! ever leaving its sandbox (see `docs/review-bridge.md`). Its tag is inserted right after the
//! doctype, before anything of the artifact, so the artifact's own `<meta>` CSP or `<base>` (which
//! only apply to what follows them) can neither block nor redirect it.

use std::sync::LazyLock;

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::secrets::{hex, sha256};
use crate::state::AppState;
use crate::state::Routes;

/// Where the bridge is served; the query carries its version so it can be cached for ever.
const PATH: &str = "/_ar/bridge.js";

/// One function scope around the vendored matcher and the bridge, so neither adds a global to the
/// artifact's window (an artifact's own `search` function cannot replace ours).
const SCRIPT: &str = concat!(
    "(() => {\n'use strict';\n",
    include_str!("../../assets/vendor/approx-string-match.js"),
    "\n",
    include_str!("../../assets/bridge/bridge.js"),
    "\n})();\n"
);

/// The tag that loads the bridge, with its version.
static TAG: LazyLock<(String, String)> = LazyLock::new(|| {
    let version = hex(&sha256(SCRIPT.as_bytes()))[..16].to_string();
    (
        format!("<script src=\"{PATH}?v={version}\"></script>"),
        version,
    )
});

pub(super) fn routes(r: &mut Routes) {
    r.get(PATH, serve);
}

async fn serve(_: AppState, _: Request) -> Result<Response, ApiError> {
    let mut response = Response::new(SCRIPT.into());
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

/// The bridge's version, for the ETag of documents that carry it.
pub(super) fn version() -> &'static str {
    &TAG.1
}

/// `html` with the bridge's tag as its first element: right after the doctype (past a byte-order
/// mark, whitespace and comments before it), or at the very start when there is no doctype. A
/// UTF-16 document (known by its byte-order mark) is served as UTF-8 with a UTF-8 mark: the tag's
/// ASCII bytes put before its mark made the browser read it all as windows-1252. (A browser reads
/// a document's `<meta charset="utf-16">` as UTF-8 anyway, so nothing else changes.)
pub fn inject(html: &[u8]) -> Vec<u8> {
    if let Some(utf8) = from_utf16(html) {
        return inject(&utf8);
    }
    let at = insertion_point(html);
    let tag = TAG.0.as_bytes();
    let mut out = Vec::with_capacity(html.len() + tag.len());
    out.extend_from_slice(&html[..at]);
    out.extend_from_slice(tag);
    out.extend_from_slice(&html[at..]);
    out
}

/// A document that starts with a UTF-16 byte-order mark, as UTF-8 with a UTF-8 mark.
fn from_utf16(html: &[u8]) -> Option<Vec<u8>> {
    let (encoding, _) = encoding_rs::Encoding::for_bom(html)?;
    if encoding == encoding_rs::UTF_8 {
        return None;
    }
    let (text, _) = encoding.decode_with_bom_removal(html);
    Some(format!("\u{feff}{text}").into_bytes())
}

fn insertion_point(html: &[u8]) -> usize {
    let start = if html.starts_with(b"\xEF\xBB\xBF") {
        3
    } else {
        0
    };
    let mut at = start;
    loop {
        while html.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        if html[at..].starts_with(b"<!--") {
            match find(&html[at + 4..], b"-->") {
                Some(end) => at += 4 + end + 3,
                None => return start,
            }
            continue;
        }
        break;
    }
    let doctype = b"<!doctype";
    let is_doctype = html
        .get(at..at + doctype.len())
        .is_some_and(|s| s.eq_ignore_ascii_case(doctype));
    if !is_doctype {
        return start;
    }
    match html[at..].iter().position(|b| *b == b'>') {
        Some(end) => at + end + 1,
        None => start,
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn injected(html: &str) -> String {
        String::from_utf8(inject(html.as_bytes())).expect("utf-8 stays utf-8")
    }

    #[test]
    fn a_utf16_document_is_served_as_utf8_with_the_tag_after_its_doctype() {
        let page = "<!DOCTYPE html><p>h\u{e9}llo \u{65e5}\u{672c}</p>";
        let tag = &TAG.0;
        let expected = format!("\u{feff}<!DOCTYPE html>{tag}<p>h\u{e9}llo \u{65e5}\u{672c}</p>");
        for little in [true, false] {
            let mut bytes = if little {
                vec![0xFF, 0xFE]
            } else {
                vec![0xFE, 0xFF]
            };
            for unit in page.encode_utf16() {
                bytes.extend(if little {
                    unit.to_le_bytes()
                } else {
                    unit.to_be_bytes()
                });
            }
            assert_eq!(String::from_utf8(inject(&bytes)).expect("utf-8"), expected);
        }
    }

    #[test]
    fn the_tag_goes_right_after_the_doctype() {
        let tag = &TAG.0;
        assert_eq!(
            injected("<!DOCTYPE html><html><head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">"),
            format!("<!DOCTYPE html>{tag}<html><head><meta http-equiv=\"Content-Security-Policy\" content=\"script-src 'none'\">")
        );
        assert_eq!(
            injected("\u{feff}\n  <!-- made by a bot --> <!doctype html SYSTEM \"about:legacy-compat\">\n<p>x"),
            format!("\u{feff}\n  <!-- made by a bot --> <!doctype html SYSTEM \"about:legacy-compat\">{tag}\n<p>x")
        );
    }

    #[test]
    fn without_a_doctype_the_tag_comes_first() {
        let tag = &TAG.0;
        assert_eq!(
            injected("<base href=\"https://elsewhere.example/\"><p>x"),
            format!("{tag}<base href=\"https://elsewhere.example/\"><p>x")
        );
        assert_eq!(injected("\u{feff}<p>x"), format!("\u{feff}{tag}<p>x"));
        assert_eq!(injected(""), tag.to_string());
        assert_eq!(
            injected("<!-- never closed"),
            format!("{tag}<!-- never closed")
        );
        assert_eq!(injected("<!doctype html"), format!("{tag}<!doctype html"));
    }

    #[test]
    fn the_script_wraps_the_matcher_and_the_bridge_in_one_scope() {
        let script = SCRIPT;
        assert!(script.starts_with("(() => {\n'use strict';\n"));
        assert!(script.contains("function search("));
        assert!(!script
            .lines()
            .any(|l| l.trim_start().starts_with("export ")));
        assert!(script.trim_end().ends_with("})();"));
        assert_eq!(version().len(), 16);
        assert!(TAG.0.contains(version()));
    }
}
