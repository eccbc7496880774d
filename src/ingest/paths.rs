//! Paths inside an archive: normalising an entry name into a safe relative path (or saying why it
//! is unsafe), recognising macOS junk, forbidden and HTML/Markdown extensions, and finding paths
//! that collide.
//!
//! Names are judged as the systems a reviewer may unpack them on would read them: Windows drops a
//! trailing dot or space (`tool.exe.` is `tool.exe`) and reads `:` as a stream or drive
//! (`tool.exe::$DATA`), so those are refused; macOS and Windows treat names that differ only in
//! Unicode normalisation (`café` as NFC or NFD) or in case, by full Unicode case folding (`Ä`/`ä`,
//! the Kelvin sign `K` and `k`), as one file, so duplicates and forbidden extensions are found on
//! that folded form (`same_name_key`).

use std::collections::{HashMap, HashSet};

use unicode_normalization::UnicodeNormalization;

/// Longest accepted path inside an archive, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;
/// Longest accepted single path segment (file or folder name), in bytes.
pub const MAX_SEGMENT_BYTES: usize = 255;

/// Extensions refused inside a ZIP (compared ignoring ASCII case): executables, videos and office
/// documents.
pub const FORBIDDEN_EXTENSIONS: &[&str] = &[
    "exe", "dll", "bat", "cmd", "sh", "ps1", "mov", "mp4", "avi", "mkv", "wmv", "doc", "docx",
    "xls", "xlsx", "ppt", "pptx",
];

const HTML_EXTENSIONS: &[&str] = &["html", "htm"];
const MARKDOWN_EXTENSIONS: &[&str] = &["md", "markdown"];

/// Why a file name would read otherwise than it is, if it would. As in the names of artifacts,
/// keys and agents: a file list must show what is stored.
pub fn misleading(name: &str) -> Option<&'static str> {
    match crate::text::misleading(name)? {
        crate::text::Misleading::Bidi => Some("name contains a bidirectional control character (U+202A to U+202E, U+2066 to U+2069), which makes it read otherwise than it is"),
        crate::text::Misleading::Hidden(_) => Some("name contains an invisible character (a zero-width space, a soft hyphen or the like), which makes it look like another name"),
    }
}

/// Turns a raw ZIP entry name into a normalised relative path: `\` becomes `/`, empty and `.`
/// segments are dropped. Refuses (with the reason) names that are not UTF-8, contain control
/// characters, are absolute, start with a drive letter, contain a `..` segment or a `:`, have a
/// file or folder name ending in a dot or a space, are empty, or are too long. The result is in
/// Unicode NFC, never starts with `/`, never contains `\`, `..`, `.` or empty
/// segments, and normalising it again returns it unchanged.
pub fn normalise(raw: &[u8]) -> Result<String, &'static str> {
    let name = std::str::from_utf8(raw).map_err(|_| "name is not valid UTF-8")?;
    if name.chars().any(char::is_control) {
        return Err("name contains a control character");
    }
    if let Some(reason) = misleading(name) {
        return Err(reason);
    }
    let name = name.replace('\\', "/");
    if name.starts_with('/') {
        return Err("absolute path");
    }
    let mut kept: Vec<&str> = Vec::new();
    for segment in name.split('/') {
        match segment {
            "" | "." => continue,
            ".." => return Err("goes outside the archive root with .."),
            _ => {}
        }
        if kept.is_empty() && has_drive_letter(segment) {
            return Err("starts with a drive letter");
        }
        if segment.len() > MAX_SEGMENT_BYTES {
            return Err("a file or folder name is longer than 255 bytes");
        }
        if segment.contains(':') {
            return Err("contains ':' (a drive or a stream on Windows)");
        }
        if segment.ends_with('.') || segment.ends_with(' ') {
            return Err("a file or folder name ends with a dot or a space (Windows drops it)");
        }
        kept.push(segment);
    }
    if kept.is_empty() {
        return Err("empty name");
    }
    // One spelling per name: macOS writes "café" decomposed (NFD), links in pages and agents
    // write it composed (NFC), and the two must find one file.
    let path: String = kept.join("/").nfc().collect();
    if path.len() > MAX_PATH_BYTES {
        return Err("path is longer than 1024 bytes");
    }
    Ok(path)
}

fn has_drive_letter(segment: &str) -> bool {
    let bytes = segment.as_bytes();
    bytes.len() >= 2 && bytes[0].is_ascii_alphabetic() && bytes[1] == b':'
}

/// Files that macOS adds to archives and nobody meant to upload: anything under `__MACOSX/` and
/// any `.DS_Store`.
pub fn is_macos_junk(path: &str) -> bool {
    path.split('/').next() == Some("__MACOSX") || file_name(path) == ".DS_Store"
}

/// The last segment of a `/`-separated path.
pub fn file_name(path: &str) -> &str {
    path.rsplit('/').next().unwrap_or(path)
}

/// The extension of the last segment (text after its last `.`), if any. A leading dot alone
/// (`.htaccess`) is not an extension.
pub fn extension(path: &str) -> Option<&str> {
    let name = file_name(path);
    match name.rfind('.') {
        Some(0) | None => None,
        Some(dot) => Some(&name[dot + 1..]),
    }
}

fn has_extension_in(path: &str, set: &[&str]) -> bool {
    extension(path).is_some_and(|ext| set.iter().any(|e| e.eq_ignore_ascii_case(ext)))
}

/// Whether the file's extension is refused, judged on its folded name (`tool.EXE`, and `run.ſh`
/// whose long s folds to `s`).
pub fn is_forbidden(path: &str) -> bool {
    has_extension_in(&same_name_key(path), FORBIDDEN_EXTENSIONS)
}

/// The form under which two names are one file on macOS or Windows: Unicode NFC, full case
/// folding, NFC again (folding can leave a sequence that composes).
pub fn same_name_key(path: &str) -> String {
    crate::text::folded(path)
}

pub fn is_html(path: &str) -> bool {
    has_extension_in(path, HTML_EXTENSIONS)
}

pub fn is_markdown(path: &str) -> bool {
    has_extension_in(path, MARKDOWN_EXTENSIONS)
}

/// Describes every collision among `paths`: the same path twice, two paths that are one file on
/// macOS or Windows (equal under `same_name_key`), and a path that is both a file and a folder.
pub fn collisions(paths: &[String]) -> Vec<String> {
    let mut found = Vec::new();
    let mut seen: HashMap<String, &str> = HashMap::new();
    let mut folders: HashSet<String> = HashSet::new();
    for path in paths {
        let lower = same_name_key(path);
        for (i, _) in lower.match_indices('/') {
            folders.insert(lower[..i].to_string());
        }
        match seen.get(&lower) {
            Some(first) if *first == path => found.push(format!("{path} (twice)")),
            Some(first) => found.push(format!("{first} and {path}")),
            None => {
                seen.insert(lower, path);
            }
        }
    }
    for path in paths {
        if folders.contains(&same_name_key(path)) {
            found.push(format!("{path} (both a file and a folder)"));
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(raw: &str) -> String {
        match normalise(raw.as_bytes()) {
            Ok(p) => p,
            Err(why) => panic!("{raw:?} was refused: {why}"),
        }
    }

    #[test]
    fn backslashes_dot_segments_and_double_slashes_are_normalised() {
        assert_eq!(ok("a\\b\\c.html"), "a/b/c.html");
        assert_eq!(ok("./a/./b.html"), "a/b.html");
        assert_eq!(ok("a//b.html"), "a/b.html");
        // macOS's decomposed "café" is stored composed, as links write it.
        assert_eq!(
            ok("cafe\u{301}/me\u{301}nu.html"),
            "caf\u{e9}/m\u{e9}nu.html"
        );
    }

    #[test]
    fn escaping_absolute_drive_and_control_names_are_refused() {
        for bad in [
            "../../evil.html",
            "a/../b.html",
            "/etc/passwd",
            "\\etc\\passwd",
            "C:\\x.html",
            "c:x.html",
            "./C:/x.html",
            "a\0b.html",
            "a\nb.html",
            "",
            ".",
            "./",
        ] {
            assert!(normalise(bad.as_bytes()).is_err(), "{bad:?} was accepted");
        }
        assert!(normalise(b"caf\xe9.html").is_err());
    }

    #[test]
    fn names_that_windows_reads_differently_are_refused() {
        for bad in [
            "tool.exe.",
            "tool.exe ",
            "tool.exe::$DATA",
            "site/a:b.html",
            "dir./index.html",
            "dir /index.html",
            "...",
        ] {
            assert!(normalise(bad.as_bytes()).is_err(), "{bad:?} was accepted");
        }
        assert_eq!(ok(".well-known/x.html"), ".well-known/x.html");
        assert_eq!(ok("a b/c d.html"), "a b/c d.html");
    }

    #[test]
    fn names_equal_after_normalisation_and_case_folding_collide() {
        let nfc = "caf\u{e9}.html".to_string();
        let nfd = "cafe\u{301}.html".to_string();
        for (a, b) in [
            (nfc.as_str(), nfd.as_str()),
            ("\u{c4}.html", "\u{e4}.html"),
            ("\u{212a}.html", "k.html"),
            ("stra\u{df}e.md", "STRASSE.md"),
            ("docs/\u{c4}/x.md", "docs/a\u{308}/X.md"),
        ] {
            let paths = vec![a.to_string(), b.to_string()];
            assert_eq!(collisions(&paths), vec![format!("{a} and {b}")]);
        }
        assert!(collisions(&["r\u{e9}sum\u{e9}.html".into(), "resume.html".into()]).is_empty());
    }

    #[test]
    fn forbidden_extensions_are_judged_after_folding() {
        assert!(is_forbidden("run.\u{17f}h"), "long s folds to s");
        assert!(is_forbidden("bin/TOOL.EXE"));
        assert!(!is_forbidden("notes.txt"));
    }

    #[test]
    fn overlong_names_are_refused() {
        assert!(normalise("a".repeat(256).as_bytes()).is_err());
        assert!(normalise(["b"; 600].join("/").as_bytes()).is_err());
        assert!(normalise("a".repeat(255).as_bytes()).is_ok());
    }

    #[test]
    fn macos_junk_is_recognised_anywhere() {
        assert!(is_macos_junk("__MACOSX/._index.html"));
        assert!(is_macos_junk("site/.DS_Store"));
        assert!(!is_macos_junk("site/__MACOSX.html"));
    }

    #[test]
    fn forbidden_extensions_ignore_case_and_only_look_at_the_last_extension() {
        assert!(is_forbidden("bin/Tool.EXE"));
        assert!(is_forbidden("docs/spec.docx"));
        assert!(!is_forbidden("notes.exe.txt"));
        assert!(!is_forbidden(".sh"));
    }

    #[test]
    fn collisions_cover_exact_case_and_file_folder_clashes() {
        let paths = ["a.html", "A.HTML", "docs", "docs/x.md", "b.html", "b.html"]
            .map(String::from)
            .to_vec();
        let found = collisions(&paths);
        assert!(
            found.contains(&"a.html and A.HTML".to_string()),
            "{found:?}"
        );
        assert!(found.contains(&"b.html (twice)".to_string()), "{found:?}");
        assert!(found.contains(&"docs (both a file and a folder)".to_string()));
        assert_eq!(found.len(), 3);
    }
}
