//! ZIP uploads that are accepted: files, hashes, contents, folder stripping, junk, base64.

use std::io::{Cursor, Write};

use base64::Engine;
use sha2::{Digest, Sha256};
use zip::ZipWriter;

use super::builders::{
    deflated, paths_of, prepare_zip, refusal, stored, upload, zip_named, zip_of, TestResult,
};
use crate::ingest::{prepare, FileType, UploadContent};

fn site() -> Result<Vec<u8>, zip::result::ZipError> {
    zip_of(&[
        (
            "index.html",
            b"<link rel=stylesheet href=css/site.css><h1>Hi</h1>",
        ),
        ("css/site.css", b"h1 { color: red }"),
        ("img/logo.png", &[0x89, b'P', b'N', b'G', 0, 1, 2, 3]),
        ("empty.txt", b""),
    ])
}

#[test]
fn a_site_archive_is_accepted_with_sorted_files_types_sizes_and_hashes() -> TestResult {
    let bytes = site()?;
    let size = bytes.len() as u64;
    let p = prepare_zip(bytes)?;
    assert_eq!(p.file_type, FileType::Zip);
    assert_eq!(p.upload_size, size);
    assert_eq!(p.entry_point, "index.html");
    assert_eq!(
        paths_of(&p),
        ["css/site.css", "empty.txt", "img/logo.png", "index.html"]
    );
    let types: Vec<&str> = p.files.iter().map(|f| f.content_type).collect();
    assert_eq!(
        types,
        [
            "text/css; charset=utf-8",
            "text/plain; charset=utf-8",
            "image/png",
            "text/html; charset=utf-8"
        ]
    );
    assert_eq!(p.files[0].size, 17);
    assert_eq!(p.files[1].size, 0);
    assert_eq!(
        p.files[0].sha256,
        <[u8; 32]>::from(Sha256::digest(b"h1 { color: red }"))
    );
    Ok(())
}

#[test]
fn contents_returns_each_files_exact_bytes_and_its_sha256_matches() -> TestResult {
    let p = prepare_zip(site()?)?;
    let expected: [&[u8]; 4] = [
        b"h1 { color: red }",
        b"",
        &[0x89, b'P', b'N', b'G', 0, 1, 2, 3],
        b"<link rel=stylesheet href=css/site.css><h1>Hi</h1>",
    ];
    for (i, want) in expected.iter().enumerate() {
        let got = p.contents(i)?;
        assert_eq!(&got, want, "{}", p.files[i].path);
        assert_eq!(<[u8; 32]>::from(Sha256::digest(&got)), p.files[i].sha256);
    }
    assert_eq!(p.contents(4).err().map(|e| e.code()), Some("no_such_file"));
    Ok(())
}

#[test]
fn stored_and_deflated_entries_are_both_read() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", stored())?;
    w.write_all(b"<p>stored</p>")?;
    w.start_file("b.html", deflated())?;
    w.write_all(b"<p>deflated</p>")?;
    let p = prepare_zip(w.finish()?.into_inner())?;
    assert_eq!(p.contents(0)?, b"<p>deflated</p>");
    assert_eq!(p.contents(1)?, b"<p>stored</p>");
    Ok(())
}

#[test]
fn a_common_top_level_folder_is_stripped() -> TestResult {
    let p = prepare_zip(zip_named(&["project/index.html", "project/css/a.css"])?)?;
    assert_eq!(paths_of(&p), ["css/a.css", "index.html"]);
    assert_eq!(p.entry_point, "index.html");
    Ok(())
}

#[test]
fn a_common_folder_two_levels_deep_is_stripped() -> TestResult {
    let p = prepare_zip(zip_named(&[
        "project/dist/index.html",
        "project/dist/js/app.js",
    ])?)?;
    assert_eq!(paths_of(&p), ["index.html", "js/app.js"]);
    Ok(())
}

#[test]
fn folders_that_differ_at_the_top_are_not_stripped() -> TestResult {
    let p = prepare_zip(zip_named(&["a/index.html", "b/page.html", "index.html"])?)?;
    assert_eq!(paths_of(&p), ["a/index.html", "b/page.html", "index.html"]);
    Ok(())
}

#[test]
fn macos_junk_is_ignored_and_does_not_prevent_stripping() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.add_directory("site/", deflated())?;
    w.start_file("site/index.html", deflated())?;
    w.write_all(b"<p>x</p>")?;
    w.start_file("site/.DS_Store", deflated())?;
    w.write_all(b"junk")?;
    w.add_directory("__MACOSX/", deflated())?;
    w.start_file("__MACOSX/site/._index.html", deflated())?;
    w.write_all(b"junk")?;
    let p = prepare_zip(w.finish()?.into_inner())?;
    assert_eq!(paths_of(&p), ["index.html"]);
    Ok(())
}

#[test]
fn directory_entries_are_not_files() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.add_directory("assets/", deflated())?;
    w.add_directory("assets/empty/", deflated())?;
    w.start_file("index.html", deflated())?;
    w.write_all(b"<p>x</p>")?;
    let p = prepare_zip(w.finish()?.into_inner())?;
    assert_eq!(paths_of(&p), ["index.html"]);
    Ok(())
}

#[test]
fn dot_segments_and_backslashes_in_entry_names_are_normalised() -> TestResult {
    let p = prepare_zip(zip_named(&["./index.html", "css\\a.css"])?)?;
    assert_eq!(paths_of(&p), ["css/a.css", "index.html"]);
    Ok(())
}

#[test]
fn a_base64_archive_with_line_breaks_is_accepted() -> TestResult {
    let bytes = site()?;
    let encoded = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let wrapped = encoded
        .as_bytes()
        .chunks(76)
        .map(|line| String::from_utf8_lossy(line).into_owned())
        .collect::<Vec<_>>()
        .join("\n");
    let p = prepare(upload(
        None,
        Some("site.zip"),
        UploadContent::Text(wrapped + "\n"),
    ))?;
    assert_eq!(p.upload_size, bytes.len() as u64);
    assert_eq!(p.entry_point, "index.html");
    Ok(())
}

#[test]
fn json_text_content_of_a_zip_is_read_as_base64() -> TestResult {
    let encoded = base64::engine::general_purpose::STANDARD_NO_PAD.encode(site()?);
    let p = prepare(upload(Some("zip"), None, UploadContent::Text(encoded)))?;
    assert_eq!(p.files.len(), 4);
    Ok(())
}

#[test]
fn invalid_base64_is_refused_with_the_offending_character() {
    let (code, msg) = refusal(prepare(upload(
        Some("zip"),
        None,
        UploadContent::Text("UEsDBA==!!".into()),
    )));
    assert_eq!(code, "invalid_base64");
    assert!(msg.contains("offset 8"), "{msg}");
}
