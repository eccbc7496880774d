//! The content type a stored file is served with, chosen by extension; text types carry
//! `; charset=utf-8`, anything unknown is `application/octet-stream`.

use super::paths::extension;

/// Extension (lower case) -> content type.
const TYPES: &[(&str, &str)] = &[
    // Documents and code.
    ("html", "text/html; charset=utf-8"),
    ("htm", "text/html; charset=utf-8"),
    ("xhtml", "application/xhtml+xml; charset=utf-8"),
    ("css", "text/css; charset=utf-8"),
    ("js", "text/javascript; charset=utf-8"),
    ("mjs", "text/javascript; charset=utf-8"),
    ("cjs", "text/javascript; charset=utf-8"),
    ("json", "application/json; charset=utf-8"),
    ("map", "application/json; charset=utf-8"),
    ("jsonld", "application/ld+json; charset=utf-8"),
    ("geojson", "application/geo+json; charset=utf-8"),
    ("webmanifest", "application/manifest+json; charset=utf-8"),
    ("md", "text/markdown; charset=utf-8"),
    ("markdown", "text/markdown; charset=utf-8"),
    ("txt", "text/plain; charset=utf-8"),
    ("log", "text/plain; charset=utf-8"),
    ("csv", "text/csv; charset=utf-8"),
    ("tsv", "text/tab-separated-values; charset=utf-8"),
    ("xml", "application/xml; charset=utf-8"),
    ("svg", "image/svg+xml; charset=utf-8"),
    ("yaml", "application/yaml; charset=utf-8"),
    ("yml", "application/yaml; charset=utf-8"),
    ("ics", "text/calendar; charset=utf-8"),
    // Images.
    ("png", "image/png"),
    ("apng", "image/apng"),
    ("jpg", "image/jpeg"),
    ("jpeg", "image/jpeg"),
    ("gif", "image/gif"),
    ("webp", "image/webp"),
    ("avif", "image/avif"),
    ("bmp", "image/bmp"),
    ("ico", "image/x-icon"),
    // Fonts.
    ("woff", "font/woff"),
    ("woff2", "font/woff2"),
    ("ttf", "font/ttf"),
    ("otf", "font/otf"),
    ("eot", "application/vnd.ms-fontobject"),
    // Audio and the one video container that is not forbidden.
    ("mp3", "audio/mpeg"),
    ("wav", "audio/wav"),
    ("ogg", "audio/ogg"),
    ("oga", "audio/ogg"),
    ("m4a", "audio/mp4"),
    ("flac", "audio/flac"),
    ("weba", "audio/webm"),
    ("webm", "video/webm"),
    // Other binary formats a page may load.
    ("wasm", "application/wasm"),
    ("pdf", "application/pdf"),
    ("glb", "model/gltf-binary"),
    ("gltf", "model/gltf+json; charset=utf-8"),
];

const FALLBACK: &str = "application/octet-stream";

/// Content type for `path` by its extension (ignoring ASCII case), with `; charset=utf-8` for
/// text types; `application/octet-stream` when the extension is unknown or missing.
pub fn content_type_for(path: &str) -> &'static str {
    let Some(ext) = extension(path) else {
        return FALLBACK;
    };
    TYPES
        .iter()
        .find(|(known, _)| known.eq_ignore_ascii_case(ext))
        .map_or(FALLBACK, |(_, content_type)| content_type)
}

/// Whether files of this name are text (their type carries a charset).
pub fn is_text(path: &str) -> bool {
    content_type_for(path).ends_with(CHARSET)
}

/// A text type without its `; charset=utf-8`, for a file whose bytes are not UTF-8 (a page in a
/// legacy encoding): the browser then follows the document's own `<meta charset>` or guesses.
pub fn without_charset(content_type: &'static str) -> &'static str {
    content_type.strip_suffix(CHARSET).unwrap_or(content_type)
}

const CHARSET: &str = "; charset=utf-8";

#[cfg(test)]
mod tests {
    use super::{content_type_for, is_text, without_charset};

    #[test]
    fn a_legacy_encoded_text_file_loses_its_charset_only() {
        assert_eq!(without_charset(content_type_for("a.html")), "text/html");
        assert_eq!(without_charset(content_type_for("a.png")), "image/png");
        assert!(is_text("docs/a.CSV") && is_text("x.svg"));
        assert!(!is_text("a.png") && !is_text("LICENSE"));
    }

    #[test]
    fn text_types_carry_a_utf8_charset() {
        assert_eq!(content_type_for("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type_for("app/main.MJS"),
            "text/javascript; charset=utf-8"
        );
        assert_eq!(
            content_type_for("data.json"),
            "application/json; charset=utf-8"
        );
        assert_eq!(
            content_type_for("README.md"),
            "text/markdown; charset=utf-8"
        );
        assert_eq!(content_type_for("logo.svg"), "image/svg+xml; charset=utf-8");
    }

    #[test]
    fn binary_types_have_no_charset() {
        assert_eq!(content_type_for("img/a.PNG"), "image/png");
        assert_eq!(content_type_for("f.woff2"), "font/woff2");
        assert_eq!(content_type_for("m.wasm"), "application/wasm");
        assert_eq!(content_type_for("doc.pdf"), "application/pdf");
    }

    #[test]
    fn unknown_or_missing_extensions_are_octet_stream() {
        assert_eq!(content_type_for("LICENSE"), "application/octet-stream");
        assert_eq!(content_type_for(".htaccess"), "application/octet-stream");
        assert_eq!(content_type_for("x.unknown"), "application/octet-stream");
        assert_eq!(content_type_for("dir.d/file"), "application/octet-stream");
    }
}
