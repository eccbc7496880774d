//! ZIP uploads that are refused for what they contain or for not being a ZIP at all.

use std::io::{Cursor, Write};

use zip::ZipWriter;

use super::builders::TestResult;
use super::builders::{
    deflated, prepare_zip, refusal, rename, set_flags, set_method, zip_named, zip_of,
};

#[test]
fn a_zip_slip_entry_is_refused() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&["index.html", "../../evil.html"])?));
    assert_eq!(code, "unsafe_path");
    assert!(
        msg.contains("\"../../evil.html\" (goes outside the archive root with ..)"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn an_absolute_entry_is_refused_not_re_rooted() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&["index.html", "/etc/passwd"])?));
    assert_eq!(code, "unsafe_path");
    assert!(msg.contains("\"/etc/passwd\" (absolute path)"), "{msg}");
    Ok(())
}

#[test]
fn a_drive_letter_entry_is_refused() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&["index.html", "C:\\x.html"])?));
    assert_eq!(code, "unsafe_path");
    assert!(
        msg.contains("\"C:\\x.html\" (starts with a drive letter)"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn every_unsafe_path_is_listed_in_one_error() -> TestResult {
    let names = [
        "ok.html",
        "../a.html",
        "/b.html",
        "c/../../d.html",
        "e\u{1}.html",
    ];
    let (code, msg) = refusal(prepare_zip(zip_named(&names)?));
    assert_eq!(code, "unsafe_path");
    for shown in [
        "\"../a.html\"",
        "\"/b.html\"",
        "\"c/../../d.html\"",
        "\"e\\u{1}.html\"",
    ] {
        assert!(msg.contains(shown), "{shown} missing from {msg}");
    }
    Ok(())
}

#[test]
fn a_name_that_is_not_utf8_is_refused() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", deflated())?;
    w.write_all(b"x")?;
    w.start_file_with_options(deflated().name(b"caf\xE9.html"))?;
    w.write_all(b"x")?;
    let (code, msg) = refusal(prepare_zip(w.finish()?.into_inner()));
    assert_eq!(code, "unsafe_path");
    assert!(msg.contains("not valid UTF-8"), "{msg}");
    Ok(())
}

#[test]
fn a_symlink_entry_is_refused() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", deflated())?;
    w.write_all(b"<p>x</p>")?;
    w.add_symlink("secrets.html", "/etc/shadow", deflated())?;
    let (code, msg) = refusal(prepare_zip(w.finish()?.into_inner()));
    assert_eq!(code, "symlink_not_allowed");
    assert!(msg.ends_with(": secrets.html"), "{msg}");
    Ok(())
}

#[test]
fn every_kind_of_problem_is_named_in_one_refusal() -> TestResult {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", deflated())?;
    w.write_all(b"<p>x</p>")?;
    w.add_symlink("secrets.html", "/etc/shadow", deflated())?;
    w.start_file("tools/setup.exe", deflated())?;
    w.write_all(b"MZ")?;
    w.start_file("../escape.html", deflated())?;
    w.write_all(b"x")?;
    let (code, msg) = refusal(prepare_zip(w.finish()?.into_inner()));
    // The first kind found gives the code; the message names them all, each with its paths.
    assert_eq!(code, "unsafe_path");
    assert!(
        msg.starts_with("the archive contains unsafe paths: \"../escape.html\""),
        "{msg}"
    );
    assert!(
        msg.contains(
            "; also, the archive contains symbolic links, which are not allowed: secrets.html"
        ),
        "{msg}"
    );
    assert!(
        msg.contains("; also, the archive contains forbidden files: tools/setup.exe"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn an_exact_duplicate_path_is_refused() -> TestResult {
    let mut bytes = zip_named(&["index.html", "other.html"])?;
    rename(&mut bytes, "other.html", "index.html");
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "duplicate_path");
    assert!(msg.contains("index.html (2 times)"), "{msg}");
    Ok(())
}

#[test]
fn paths_equal_after_normalisation_or_ignoring_case_are_duplicates() -> TestResult {
    let names = [
        "index.html",
        "a/b.html",
        "a/./b.html",
        "Logo.PNG",
        "logo.png",
    ];
    let (code, msg) = refusal(prepare_zip(zip_named(&names)?));
    assert_eq!(code, "duplicate_path");
    assert!(msg.contains("a/b.html (twice)"), "{msg}");
    assert!(msg.contains("Logo.PNG and logo.png"), "{msg}");
    Ok(())
}

#[test]
fn a_path_that_is_both_a_file_and_a_folder_is_refused() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&[
        "index.html",
        "docs",
        "docs/a.html",
    ])?));
    assert_eq!(code, "duplicate_path");
    assert!(msg.contains("docs (both a file and a folder)"), "{msg}");
    Ok(())
}

#[test]
fn an_encrypted_entry_is_refused_without_decrypting() -> TestResult {
    let mut bytes = zip_named(&["index.html", "secret.html"])?;
    set_flags(&mut bytes, "secret.html", 1);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "encrypted_entry");
    assert!(
        msg.contains(": secret.html (upload an archive without a password)"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn a_forbidden_exe_among_good_files_is_named() -> TestResult {
    let (code, msg) = refusal(prepare_zip(zip_named(&[
        "index.html",
        "bin/tool.exe",
        "a.css",
    ])?));
    assert_eq!(code, "forbidden_file_type");
    assert_eq!(
        msg,
        "the archive contains forbidden files: bin/tool.exe (executables, videos and office \
         documents are not allowed)"
    );
    Ok(())
}

#[test]
fn several_forbidden_files_are_all_listed_whatever_their_case() -> TestResult {
    let names = [
        "index.html",
        "run.SH",
        "clip.mp4",
        "docs/spec.docx",
        "x.PS1",
        "y.xlsx",
    ];
    let (code, msg) = refusal(prepare_zip(zip_named(&names)?));
    assert_eq!(code, "forbidden_file_type");
    for name in &names[1..] {
        assert!(msg.contains(name), "{name} missing from {msg}");
    }
    Ok(())
}

#[test]
fn a_long_list_of_offenders_is_capped_with_a_count_of_the_rest() -> TestResult {
    let names: Vec<String> = (0..25).map(|i| format!("tool{i:02}.exe")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (code, msg) = refusal(prepare_zip(zip_named(&refs)?));
    assert_eq!(code, "forbidden_file_type");
    assert!(msg.contains("tool19.exe, and 5 more"), "{msg}");
    assert!(!msg.contains("tool20.exe"), "{msg}");
    Ok(())
}

#[test]
fn an_unsupported_compression_method_is_refused_before_reading() -> TestResult {
    let mut bytes = zip_named(&["index.html"])?;
    set_method(&mut bytes, "index.html", 12);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "invalid_zip");
    assert!(msg.contains("index.html (Bzip2)"), "{msg}");
    Ok(())
}

#[test]
fn a_truncated_archive_is_refused_as_invalid() -> TestResult {
    let bytes = zip_of(&[("index.html", &[b'x'; 4000][..])])?;
    for cut in [bytes.len() - 1, bytes.len() / 2, 10, 0] {
        let (code, msg) = refusal(prepare_zip(bytes[..cut].to_vec()));
        assert_eq!(code, "invalid_zip", "cut at {cut}: {msg}");
    }
    Ok(())
}

#[test]
fn random_bytes_are_refused_as_invalid_with_a_hint() {
    let noise: Vec<u8> = (0..5000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    let (code, msg) = refusal(prepare_zip(noise));
    assert_eq!(code, "invalid_zip");
    assert!(msg.contains("is it a ZIP file?"), "{msg}");
}

#[test]
fn corrupt_compressed_data_is_refused_as_invalid() -> TestResult {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let text: Vec<u8> = (0..20_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            b'a' + (state % 26) as u8
        })
        .collect();
    let mut bytes = zip_of(&[("index.html", &text)])?;
    assert!(
        bytes.len() > 5_000,
        "the test text must not compress to nothing"
    );
    for b in &mut bytes[300..400] {
        *b ^= 0x5A;
    }
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "invalid_zip", "{msg}");
    Ok(())
}
