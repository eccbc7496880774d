//! Single HTML and Markdown uploads: limits, emptiness, encoding, names, type detection.

use sha2::{Digest, Sha256};

use super::builders::{refusal, upload, TestResult};
use crate::ingest::{prepare, FileType, UploadContent, MAX_SINGLE_FILE};

fn text(s: &str) -> UploadContent {
    UploadContent::Text(s.to_string())
}

#[test]
fn html_text_becomes_one_file_that_is_its_own_entry_point() -> TestResult {
    let html = "<!doctype html><p>Hello</p>";
    let p = prepare(upload(None, Some("docs/Report.html"), text(html)))?;
    assert_eq!(p.file_type, FileType::Html);
    assert_eq!(p.entry_point, "Report.html");
    assert_eq!(p.upload_size, html.len() as u64);
    assert_eq!(p.files.len(), 1);
    assert_eq!(p.files[0].path, "Report.html");
    assert_eq!(p.files[0].content_type, "text/html; charset=utf-8");
    assert_eq!(p.files[0].sha256, <[u8; 32]>::from(Sha256::digest(html)));
    Ok(())
}

#[test]
fn contents_returns_the_exact_bytes_of_a_single_file() -> TestResult {
    let md = "# Title\n\nSome *text*.\n";
    let p = prepare(upload(Some("markdown"), None, text(md)))?;
    assert_eq!(p.entry_point, "README.md");
    assert_eq!(p.files[0].content_type, "text/markdown; charset=utf-8");
    let bytes = p.contents(0)?;
    assert_eq!(bytes, md.as_bytes());
    assert_eq!(<[u8; 32]>::from(Sha256::digest(&bytes)), p.files[0].sha256);
    assert_eq!(p.contents(1).err().map(|e| e.code()), Some("no_such_file"));
    Ok(())
}

#[test]
fn type_comes_from_file_type_first_then_from_the_file_name() -> TestResult {
    let p = prepare(upload(Some("markdown"), Some("page.html"), text("# x")))?;
    assert_eq!(
        (p.file_type, p.entry_point.as_str()),
        (FileType::Markdown, "page.html.md")
    );
    let p = prepare(upload(None, Some("notes.MD"), text("# x")))?;
    assert_eq!(
        (p.file_type, p.entry_point.as_str()),
        (FileType::Markdown, "notes.MD")
    );
    let p = prepare(upload(None, Some("x.htm"), text("<p>x")))?;
    assert_eq!(p.file_type, FileType::Html);
    Ok(())
}

#[test]
fn an_unknown_type_is_refused_explaining_both_ways() {
    let (code, msg) = refusal(prepare(upload(None, Some("a.pdf"), text("x"))));
    assert_eq!(code, "unsupported_file_type");
    assert!(
        msg.contains("fileType") && msg.contains("fileName"),
        "{msg}"
    );
    let (code, msg) = refusal(prepare(upload(Some("docx"), None, text("x"))));
    assert_eq!(code, "unsupported_file_type");
    assert!(msg.contains("\"docx\"") && msg.contains("\"zip\""), "{msg}");
}

#[test]
fn html_of_exactly_5_mb_is_accepted_and_one_byte_more_is_refused() -> TestResult {
    let at_limit = "a".repeat(MAX_SINGLE_FILE as usize);
    assert_eq!(
        prepare(upload(Some("html"), None, text(&at_limit)))?.files[0].size,
        MAX_SINGLE_FILE
    );
    let over = at_limit + "a";
    let (code, msg) = refusal(prepare(upload(Some("html"), None, text(&over))));
    assert_eq!(code, "file_too_large");
    assert_eq!(
        msg,
        "HTML file is 5242881 bytes; the limit is 5242880 bytes (5 MB)"
    );
    Ok(())
}

#[test]
fn markdown_of_exactly_5_mb_is_accepted_and_one_byte_more_is_refused() -> TestResult {
    let at_limit = vec![b'#'; MAX_SINGLE_FILE as usize];
    let p = prepare(upload(
        Some("markdown"),
        None,
        UploadContent::Bytes(at_limit.clone()),
    ))?;
    assert_eq!(p.upload_size, MAX_SINGLE_FILE);
    let mut over = at_limit;
    over.push(b'#');
    let (code, msg) = refusal(prepare(upload(
        Some("markdown"),
        None,
        UploadContent::Bytes(over),
    )));
    assert_eq!(code, "file_too_large");
    assert_eq!(
        msg,
        "Markdown file is 5242881 bytes; the limit is 5242880 bytes (5 MB)"
    );
    Ok(())
}

#[test]
fn the_size_limit_is_checked_before_the_encoding() {
    let over = vec![0xFF; MAX_SINGLE_FILE as usize + 1];
    let (code, _) = refusal(prepare(upload(
        Some("html"),
        None,
        UploadContent::Bytes(over),
    )));
    assert_eq!(code, "file_too_large");
}

#[test]
fn empty_and_whitespace_only_documents_are_refused() {
    for content in ["", " \n\t "] {
        let (code, msg) = refusal(prepare(upload(Some("html"), None, text(content))));
        assert_eq!(code, "empty_file", "{content:?}");
        assert!(msg.starts_with("HTML file is empty"), "{msg}");
    }
}

#[test]
fn invalid_utf8_is_refused_with_the_offset_of_the_first_bad_byte() {
    let bytes = b"# ok\n\xC3\x28".to_vec();
    let (code, msg) = refusal(prepare(upload(
        Some("markdown"),
        None,
        UploadContent::Bytes(bytes),
    )));
    assert_eq!(code, "invalid_encoding");
    assert!(msg.contains("offset 5 of 7 bytes"), "{msg}");
}

#[test]
fn an_entry_point_for_a_single_file_is_refused_and_a_blank_one_ignored() -> TestResult {
    let mut u = upload(Some("html"), Some("a.html"), text("<p>x"));
    u.entry_point = Some("other.html".to_string());
    let refused = prepare(u).expect_err("a single document is its own entry point");
    assert_eq!(refused.code(), "invalid_entry_point");
    let mut u = upload(Some("html"), Some("a.html"), text("<p>x"));
    u.entry_point = Some("  ".to_string());
    assert_eq!(prepare(u)?.entry_point, "a.html");
    Ok(())
}

#[test]
fn a_zip_given_as_a_document_is_refused_whether_base64_text_or_bytes() {
    let as_text = upload(Some("html"), Some("a.html"), text("UEsDBBQAAAAIAA"));
    assert_eq!(
        prepare(as_text).expect_err("base64 of a ZIP").code(),
        "unsupported_file_type"
    );
    let as_bytes = upload(
        Some("markdown"),
        Some("a.md"),
        UploadContent::Bytes(b"PK\x03\x04rest of a zip".to_vec()),
    );
    assert_eq!(
        prepare(as_bytes).expect_err("a ZIP's bytes").code(),
        "unsupported_file_type"
    );
}

#[test]
fn prepared_can_move_between_threads() {
    fn assert_send_sync<T: Send + Sync + 'static>() {}
    assert_send_sync::<crate::ingest::Prepared>();
    assert_send_sync::<crate::ingest::IngestError>();
}
