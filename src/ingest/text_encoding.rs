//! A text file's characters as a browser reads them: a byte-order mark decides (UTF-8, UTF-16);
//! else UTF-8 when the bytes are UTF-8; else, for an HTML page, the encoding its `<meta charset>`
//! declares in its first 1,024 bytes (the HTML spec's prescan, simplified: no `http-equiv`
//! subtleties beyond a `charset=` in it); else windows-1252, what browsers in Western locales
//! fall back to. Files are served as stored (without a charset when they are not UTF-8), so the
//! browser does the same: the server's quotes and MCP's `read_file` see the text people see.

use std::borrow::Cow;

use encoding_rs::{Encoding, UTF_8, WINDOWS_1252};

/// How far into an HTML page its declared encoding is looked for.
const PRESCAN: usize = 1024;

/// The text of `bytes`, and the name of the encoding read (`UTF-8` for most).
pub fn decode(bytes: &[u8], html: bool) -> (Cow<'_, str>, &'static str) {
    if let Some((encoding, _)) = Encoding::for_bom(bytes) {
        let (text, _) = encoding.decode_with_bom_removal(bytes);
        return (text, encoding.name());
    }
    if let Ok(text) = std::str::from_utf8(bytes) {
        return (Cow::Borrowed(text), UTF_8.name());
    }
    let encoding = if html { declared(bytes) } else { None }.unwrap_or(WINDOWS_1252);
    let (text, _) = encoding.decode_without_bom_handling(bytes);
    (text, encoding.name())
}

/// The encoding a page's `<meta charset=...>` (or `<meta http-equiv ... content="...;
/// charset=...">`) names in its first bytes; UTF-16 read as UTF-8, as browsers do there.
fn declared(bytes: &[u8]) -> Option<&'static Encoding> {
    let head = &bytes[..bytes.len().min(PRESCAN)];
    let lower: Vec<u8> = head.iter().map(u8::to_ascii_lowercase).collect();
    let mut from = 0;
    while let Some(at) = find(&lower[from..], b"<meta") {
        let start = from + at;
        let end = find(&lower[start..], b">").map_or(lower.len(), |e| start + e);
        let tag = &lower[start..end];
        if let Some(c) = find(tag, b"charset") {
            let rest = &tag[c + b"charset".len()..];
            let rest = trim_start(rest);
            if let Some(rest) = rest.strip_prefix(b"=") {
                let rest = trim_start(rest);
                let rest = rest
                    .strip_prefix(b"\"")
                    .or_else(|| rest.strip_prefix(b"'"))
                    .unwrap_or(rest);
                let label_end = rest
                    .iter()
                    .position(|b| {
                        matches!(b, b'"' | b'\'' | b';' | b'/' | b'>') || b.is_ascii_whitespace()
                    })
                    .unwrap_or(rest.len());
                if let Some(found) = Encoding::for_label(&rest[..label_end]) {
                    return Some(found.output_encoding());
                }
            }
        }
        from = end;
    }
    None
}

fn trim_start(bytes: &[u8]) -> &[u8] {
    let skip = bytes.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &bytes[skip..]
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_read_as_a_browser_reads_it() {
        // UTF-8 as it is.
        assert_eq!(
            decode("café".as_bytes(), true),
            (Cow::Borrowed("café"), "UTF-8")
        );
        // windows-1252 without a declaration: the browser's fallback.
        assert_eq!(decode(b"caf\xe9 tr\xe8s bon", true).0, "café très bon");
        assert_eq!(decode(b"caf\xe9", false).1, "windows-1252");
        // Declared in a meta tag, either form.
        let sjis = b"<html><head><meta charset=\"Shift_JIS\"></head><p>\x93\xfa\x96\x7b\x82\xcc\x8e\xf1\x93\x73</p>";
        assert_eq!(
            decode(sjis, true),
            (
                Cow::Owned::<str>(
                    "<html><head><meta charset=\"Shift_JIS\"></head><p>日本の首都</p>".into()
                ),
                "Shift_JIS"
            )
        );
        let declared =
            b"<meta http-equiv=\"Content-Type\" content=\"text/html; charset=iso-8859-2\"><p>\xb1";
        assert_eq!(decode(declared, true).1, "ISO-8859-2");
        // A byte-order mark decides, and goes.
        let utf16: Vec<u8> = [0xFF, 0xFE]
            .into_iter()
            .chain("hé".encode_utf16().flat_map(u16::to_le_bytes))
            .collect();
        assert_eq!(
            decode(&utf16, true),
            (Cow::Owned::<str>("hé".into()), "UTF-16LE")
        );
    }
}
