//! Properties over arbitrary input: path normalisation is safe and idempotent, and nothing
//! presented as a ZIP, as base64 or as Markdown makes ingestion panic.

use proptest::prelude::*;

use super::builders::{upload, zip_named};
use crate::ingest::paths::normalise;
use crate::ingest::{content_type_for, prepare, render_markdown, UploadContent};

/// Entry names built from the pieces that matter to normalisation.
fn tricky_name() -> impl Strategy<Value = Vec<u8>> {
    let piece = prop_oneof![
        Just(b"..".to_vec()),
        Just(b".".to_vec()),
        Just(b"/".to_vec()),
        Just(b"\\".to_vec()),
        Just(b"C:".to_vec()),
        Just(b"a".to_vec()),
        Just(b"index.html".to_vec()),
        Just(b"\0".to_vec()),
        Just(b"\x1b".to_vec()),
        Just("é".as_bytes().to_vec()),
        Just(b"\xff".to_vec()),
        Just(b" ".to_vec()),
    ];
    prop::collection::vec(piece, 0..10).prop_map(|pieces| pieces.concat())
}

fn assert_safe(raw: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(path) = normalise(raw) {
        prop_assert!(!path.is_empty());
        prop_assert!(!path.starts_with('/'), "{path:?}");
        prop_assert!(!path.contains('\\'), "{path:?}");
        prop_assert!(!path.chars().any(char::is_control), "{path:?}");
        prop_assert!(
            path.split('/')
                .all(|s| s != ".." && s != "." && !s.is_empty()),
            "{path:?}"
        );
        prop_assert_eq!(normalise(path.as_bytes()), Ok(path.clone()));
    }
    Ok(())
}

proptest! {
    #[test]
    fn normalising_arbitrary_bytes_is_safe_and_idempotent(raw in prop::collection::vec(any::<u8>(), 0..64)) {
        assert_safe(&raw)?;
    }

    #[test]
    fn normalising_tricky_names_is_safe_and_idempotent(raw in tricky_name()) {
        assert_safe(&raw)?;
    }

    #[test]
    fn arbitrary_bytes_as_a_zip_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..2048)) {
        let _ = prepare(upload(Some("zip"), None, UploadContent::Bytes(bytes)));
    }

    #[test]
    fn arbitrary_text_as_base64_never_panics(text in "[A-Za-z0-9+/= \n_!-]{0,200}|\\PC{0,100}") {
        let _ = prepare(upload(Some("zip"), None, UploadContent::Text(text)));
    }

    #[test]
    fn a_valid_archive_with_corrupted_bytes_never_panics(
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8)
    ) {
        let mut bytes = zip_named(&["site/index.html", "site/a.css", "site/img/b.png"])
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if let Ok(p) = prepare(upload(Some("zip"), None, UploadContent::Bytes(bytes))) {
            for i in 0..p.files.len() {
                let _ = p.contents(i);
            }
        }
    }

    #[test]
    fn markdown_rendering_and_content_types_never_panic(text in "\\PC{0,300}") {
        let page = render_markdown(&text, "t").html;
        prop_assert!(page.starts_with("<!DOCTYPE html>"));
        let _ = content_type_for(&text);
    }
}
