//! Decompression bombs: 1 GiB of zeros in one Deflated entry, honest about its size and lying
//! about it. `ZipWriter` needs about a minute in a debug build to deflate 1 GiB, so the 1 GiB
//! stream is generated directly (`deflate_zeros`, ~1 MB like zlib's); a 16 MiB bomb is also
//! streamed through `ZipWriter` itself.

use std::io::{Cursor, Write};

use sha2::{Digest, Sha256};
use zip::ZipWriter;

use super::builders::{
    crc32, deflate_zeros, deflated, prepare_zip, raw_deflated_zip, refusal, set_declared_size,
    TestResult,
};
use crate::ingest::MAX_EXTRACTED_FILE;

const GIB: u64 = 1 << 30;

/// `ZipWriter` streaming `mib` MiB of zeros into a Deflated entry named `bomb.html`, next to
/// an `index.html`.
fn streamed_bomb(mib: usize) -> Result<Vec<u8>, Box<dyn std::error::Error>> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    w.start_file("index.html", deflated())?;
    w.write_all(b"<p>x</p>")?;
    w.start_file("bomb.html", deflated())?;
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..mib {
        w.write_all(&zeros)?;
    }
    Ok(w.finish()?.into_inner())
}

#[test]
fn the_generated_deflate_stream_really_is_zeros() -> TestResult {
    let n = 4 * (1 << 20) + 123;
    let zeros = vec![0u8; n];
    let bytes = raw_deflated_zip(
        "index.html",
        &deflate_zeros(n as u64),
        n as u32,
        crc32(&zeros),
    );
    let p = prepare_zip(bytes)?;
    assert_eq!(p.files[0].size, n as u64);
    assert_eq!(p.files[0].sha256, <[u8; 32]>::from(Sha256::digest(&zeros)));
    Ok(())
}

#[test]
fn an_honest_1_gib_bomb_is_refused_from_its_declared_size_without_decompressing() -> TestResult {
    let stream = deflate_zeros(GIB);
    assert!(stream.len() < 1_100_000, "{} bytes", stream.len());
    let (code, msg) = refusal(prepare_zip(raw_deflated_zip(
        "index.html",
        &stream,
        GIB as u32,
        0,
    )));
    assert_eq!(code, "file_too_large");
    assert!(msg.contains("index.html (1073741824 bytes)"), "{msg}");
    Ok(())
}

#[test]
fn a_1_gib_bomb_that_declares_1000_bytes_is_stopped_while_reading() -> TestResult {
    let bytes = raw_deflated_zip("index.html", &deflate_zeros(GIB), 1000, 0);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "extracted_too_large");
    assert!(
        msg.starts_with("index.html in the archive declares 1000 bytes"),
        "{msg}"
    );
    assert!(msg.contains("stopped after 1001 bytes"), "{msg}");
    Ok(())
}

#[test]
fn a_1_gib_bomb_that_declares_exactly_the_limit_is_stopped_just_past_it() -> TestResult {
    let declared = MAX_EXTRACTED_FILE as u32;
    let bytes = raw_deflated_zip("index.html", &deflate_zeros(GIB), declared, 0);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "extracted_too_large");
    assert!(msg.contains("declares 5242880 bytes"), "{msg}");
    assert!(msg.contains("stopped after 5242881 bytes"), "{msg}");
    Ok(())
}

#[test]
fn a_zipwriter_bomb_is_refused_from_its_declared_size() -> TestResult {
    let (code, msg) = refusal(prepare_zip(streamed_bomb(16)?));
    assert_eq!(code, "file_too_large");
    assert!(msg.contains("bomb.html (16777216 bytes)"), "{msg}");
    Ok(())
}

#[test]
fn a_zipwriter_bomb_whose_central_directory_lies_is_stopped_while_reading() -> TestResult {
    let mut bytes = streamed_bomb(16)?;
    set_declared_size(&mut bytes, "bomb.html", 100);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "extracted_too_large");
    assert!(
        msg.starts_with("bomb.html in the archive declares 100 bytes"),
        "{msg}"
    );
    Ok(())
}

#[test]
fn an_entry_smaller_than_it_declares_is_refused_as_invalid() -> TestResult {
    let mut bytes = streamed_bomb(1)?;
    set_declared_size(&mut bytes, "bomb.html", (2 << 20) as u32);
    let (code, msg) = refusal(prepare_zip(bytes));
    assert_eq!(code, "invalid_zip", "{msg}");
    Ok(())
}
