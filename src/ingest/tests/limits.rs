//! ZIP limits: file count, per-file and total extracted size, archive size (raw and base64).

use std::io::{Cursor, Write};

use zip::ZipWriter;

use super::builders::{
    deflated, prepare_zip, refusal, set_declared_size, upload, zip_named, zip_of, TestResult,
};
use crate::ingest::{prepare, UploadContent, MAX_ARCHIVE, MAX_EXTRACTED_FILE, MAX_FILES};

fn numbered(count: usize) -> Vec<String> {
    let mut names = vec!["index.html".to_string()];
    names.extend((1..count).map(|i| format!("pages/p{i:03}.html")));
    names
}

#[test]
fn an_archive_of_500_files_is_accepted() -> TestResult {
    let names = numbered(MAX_FILES);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    assert_eq!(prepare_zip(zip_named(&refs)?)?.files.len(), 500);
    Ok(())
}

#[test]
fn an_archive_of_501_files_is_refused_naming_both_counts() -> TestResult {
    let names = numbered(MAX_FILES + 1);
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, msg) = refusal(prepare_zip(zip_named(&refs)?));
    assert_eq!(code, "too_many_files");
    assert!(
        msg.starts_with("the archive contains 501 files; the limit is 500 files"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn folders_and_junk_do_not_count_towards_the_file_limit() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..MAX_FILES {
        w.start_file(format!("f{i:03}.html"), deflated())?;
        w.write_all(b"x")?;
        w.add_directory(format!("d{i:03}/"), deflated())?;
        w.start_file(format!("__MACOSX/._f{i:03}.html"), deflated())?;
        w.write_all(b"x")?;
    }
    assert_eq!(prepare_zip(w.finish()?.into_inner())?.files.len(), 500);
    Ok(())
}

#[test]
fn a_central_directory_with_too_many_records_is_refused_before_parsing() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for i in 0..=crate::ingest::archive::MAX_ENTRY_RECORDS {
        w.add_directory(format!("d{i}/"), deflated())?;
    }
    let (code, msg) = refusal(prepare_zip(w.finish()?.into_inner()));
    assert_eq!(code, "too_many_files");
    assert!(msg.contains("5001 entry records"), "{msg}");
    Ok(())
}

#[test]
fn a_file_of_exactly_5_mb_inside_a_zip_is_accepted() -> TestResult {
    let big = vec![b'a'; MAX_EXTRACTED_FILE as usize];
    let p = prepare_zip(zip_of(&[("index.html", b"<p>x</p>"), ("data.bin", &big)])?)?;
    assert_eq!(p.files[0].size, MAX_EXTRACTED_FILE);
    assert_eq!(p.contents(0)?, big);
    Ok(())
}

#[test]
fn a_file_of_5_mb_plus_one_byte_inside_a_zip_is_refused_with_its_size() -> TestResult {
    let big = vec![b'a'; MAX_EXTRACTED_FILE as usize + 1];
    let (code, msg) = refusal(prepare_zip(zip_of(&[
        ("index.html", b"x"),
        ("data.bin", &big),
    ])?));
    assert_eq!(code, "file_too_large");
    assert!(
        msg.contains("limit of 5242880 bytes (5 MB) per file: data.bin (5242881 bytes)"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn declared_sizes_adding_up_past_250_mb_are_refused_before_reading() -> TestResult {
    let names: Vec<String> = (0..51).map(|i| format!("f{i:02}.html")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let mut bytes = zip_named(&refs)?;
    for name in &names {
        set_declared_size(&mut bytes, name, MAX_EXTRACTED_FILE as u32);
    }
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "extracted_too_large");
    assert!(msg.contains("add up to 267386880 bytes"), "{msg}");
    assert!(msg.contains("262144000 bytes (250 MB) in total"), "{msg}");
    Ok(())
}

#[test]
fn an_archive_over_50_mb_is_refused() {
    let bytes = vec![0u8; MAX_ARCHIVE as usize + 1];
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "archive_too_large");
    assert_eq!(
        msg,
        "ZIP archive is 52428801 bytes; the limit is 52428800 bytes (50 MB)"
    );
}

#[test]
fn base64_over_50_mb_is_refused_from_its_length_before_decoding() {
    // 17_476_268 quads decode to 52_428_804 bytes; the text is not valid ZIP or even checked
    // beyond its characters, so a refusal naming that size proves nothing was decoded.
    let text = "AAAA".repeat(17_476_268);
    let (code, msg) = refusal(prepare(upload(
        Some("zip"),
        None,
        UploadContent::Text(text),
    )));
    assert_eq!(code, "archive_too_large");
    assert_eq!(
        msg,
        "ZIP archive is 52428804 bytes once decoded from base64; the limit is 52428800 bytes \
         (50 MB)"
    );
}
