//! Archives for tests, built in the tests themselves: written with `zip::ZipWriter`, patched in
//! place (flags, names, declared sizes), or assembled by hand around a DEFLATE stream (a 1 GiB bomb
//! of zeros in about 1 MB). Shared by the ingest unit tests and the integration tests.
#![allow(dead_code)]

use std::io::{Cursor, Write};

use zip::write::SimpleFileOptions;
use zip::{CompressionMethod, ZipWriter};

pub fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Deflated)
}

pub fn stored() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(CompressionMethod::Stored)
}

/// A Deflated archive holding `files` in order.
pub fn zip_of(files: &[(&str, &[u8])]) -> Result<Vec<u8>, zip::result::ZipError> {
    let mut w = ZipWriter::new(Cursor::new(Vec::new()));
    for (name, data) in files {
        w.start_file(*name, deflated())?;
        w.write_all(data)?;
    }
    Ok(w.finish()?.into_inner())
}

/// A Deflated archive whose files are named `names` and hold a short text each.
pub fn zip_named(names: &[&str]) -> Result<Vec<u8>, zip::result::ZipError> {
    let files: Vec<(&str, &[u8])> = names.iter().map(|n| (*n, &b"<p>hi</p>"[..])).collect();
    zip_of(&files)
}

fn u16_at(bytes: &[u8], at: usize) -> usize {
    usize::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]))
}

fn u32_at(bytes: &[u8], at: usize) -> usize {
    u32::from_le_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]) as usize
}

/// One entry's header positions in a finished archive without comments or data descriptors.
pub struct Headers {
    pub local: usize,
    pub central: usize,
    pub name: Vec<u8>,
}

/// Walks the central directory (found through the end record) of an archive `ZipWriter` made.
pub fn headers(bytes: &[u8]) -> Vec<Headers> {
    let eocd = bytes.len() - 22;
    assert_eq!(
        &bytes[eocd..eocd + 4],
        b"PK\x05\x06",
        "archive has a comment or is zip64"
    );
    let count = u16_at(bytes, eocd + 10);
    let mut pos = u32_at(bytes, eocd + 16);
    let mut out = Vec::new();
    for _ in 0..count {
        assert_eq!(&bytes[pos..pos + 4], b"PK\x01\x02");
        let name_len = u16_at(bytes, pos + 28);
        let name = bytes[pos + 46..pos + 46 + name_len].to_vec();
        let local = u32_at(bytes, pos + 42);
        out.push(Headers {
            local,
            central: pos,
            name,
        });
        pos += 46 + name_len + u16_at(bytes, pos + 30) + u16_at(bytes, pos + 32);
    }
    out
}

fn find(bytes: &[u8], name: &str) -> Headers {
    let found = headers(bytes)
        .into_iter()
        .find(|h| h.name == name.as_bytes());
    found.unwrap_or_else(|| panic!("no entry {name} in the test archive"))
}

/// Sets general-purpose flag bits in both the local and the central header of `name`.
pub fn set_flags(bytes: &mut [u8], name: &str, bits: u16) {
    let h = find(bytes, name);
    for at in [h.local + 6, h.central + 8] {
        let flags = u16::from_le_bytes([bytes[at], bytes[at + 1]]) | bits;
        bytes[at..at + 2].copy_from_slice(&flags.to_le_bytes());
    }
}

/// Sets the compression method of `name` in both headers.
pub fn set_method(bytes: &mut [u8], name: &str, method: u16) {
    let h = find(bytes, name);
    for at in [h.local + 8, h.central + 10] {
        bytes[at..at + 2].copy_from_slice(&method.to_le_bytes());
    }
}

/// Overwrites the declared uncompressed size of `name` in both headers (the lie of a bomb).
pub fn set_declared_size(bytes: &mut [u8], name: &str, size: u32) {
    let h = find(bytes, name);
    for at in [h.local + 22, h.central + 24] {
        bytes[at..at + 4].copy_from_slice(&size.to_le_bytes());
    }
}

/// Renames `from` to `to` (same length) in both headers, e.g. to make an exact duplicate.
pub fn rename(bytes: &mut [u8], from: &str, to: &str) {
    assert_eq!(from.len(), to.len());
    let h = find(bytes, from);
    for at in [h.local + 30, h.central + 46] {
        bytes[at..at + to.len()].copy_from_slice(to.as_bytes());
    }
}

/// Writes bits least-significant first, as DEFLATE does.
struct BitWriter {
    out: Vec<u8>,
    acc: u64,
    bits: u32,
}

impl BitWriter {
    fn put(&mut self, value: u64, count: u32) {
        self.acc |= value << self.bits;
        self.bits += count;
        while self.bits >= 8 {
            self.out.push(self.acc as u8);
            self.acc >>= 8;
            self.bits -= 8;
        }
    }

    /// A Huffman code, which DEFLATE packs most-significant bit first.
    fn code(&mut self, code: u64, len: u32) {
        for i in (0..len).rev() {
            self.put((code >> i) & 1, 1);
        }
    }
}

/// A raw DEFLATE stream of `n` (>= 1) zero bytes in one dynamic-Huffman block whose codes are
/// literal 0 = `10`, end of block = `11`, length 258 = `0`, distance 1 = `0`: one literal, then
/// 2 bits per 258 zeros, so 1 GiB takes about 1 MB, like zlib's own output.
pub fn deflate_zeros(n: u64) -> Vec<u8> {
    let mut w = BitWriter {
        out: Vec::with_capacity((n / 1032 + 64) as usize),
        acc: 0,
        bits: 0,
    };
    w.put(1, 1); // final block
    w.put(2, 2); // dynamic Huffman codes
    w.put(29, 5); // 286 literal/length codes
    w.put(0, 5); // 1 distance code
    w.put(14, 4); // 18 code-length code lengths
                  // Code-length alphabet in its transmission order; 18 -> `0`, 1 -> `10`, 2 -> `11`.
    for symbol in [16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1] {
        let len = match symbol {
            18 => 1,
            1 | 2 => 2,
            _ => 0,
        };
        w.put(len, 3);
    }
    let (cl_one, cl_two, cl_zeros) = ((0b10, 2), (0b11, 2), (0b0, 1));
    w.code(cl_two.0, cl_two.1); // literal 0: length 2
    w.code(cl_zeros.0, cl_zeros.1); // literals 1..=138: unused
    w.put(127, 7);
    w.code(cl_zeros.0, cl_zeros.1); // literals 139..=255: unused
    w.put(106, 7);
    w.code(cl_two.0, cl_two.1); // end of block: length 2
    w.code(cl_zeros.0, cl_zeros.1); // length codes 257..=284: unused
    w.put(17, 7);
    w.code(cl_one.0, cl_one.1); // length code 285 (258 bytes): length 1
    w.code(cl_one.0, cl_one.1); // distance code 0 (distance 1): length 1
    w.code(0b10, 2); // literal 0
    let mut matches = (n - 1) / 258;
    while matches > 0 {
        let batch = matches.min(16);
        w.put(0, 2 * batch as u32); // each match: `0` (length 258) then `0` (distance 1)
        matches -= batch;
    }
    for _ in 0..(n - 1) % 258 {
        w.code(0b10, 2);
    }
    w.code(0b11, 2); // end of block
    w.put(0, 7); // pad to a byte boundary
    w.out
}

/// CRC-32 (the ZIP polynomial), bit by bit: only for small test data.
pub fn crc32(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &byte in data {
        crc ^= u32::from(byte);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A one-entry Deflated archive built by hand around `compressed`, declaring `declared`
/// uncompressed bytes and checksum `crc`.
pub fn raw_deflated_zip(name: &str, compressed: &[u8], declared: u32, crc: u32) -> Vec<u8> {
    let name = name.as_bytes();
    let fields = |out: &mut Vec<u8>| {
        out.extend_from_slice(&20u16.to_le_bytes()); // version needed
        out.extend_from_slice(&0u16.to_le_bytes()); // flags
        out.extend_from_slice(&8u16.to_le_bytes()); // Deflated
        out.extend_from_slice(&[0, 0, 0x21, 0]); // 1980-01-01 00:00
        out.extend_from_slice(&crc.to_le_bytes());
        out.extend_from_slice(&(compressed.len() as u32).to_le_bytes());
        out.extend_from_slice(&declared.to_le_bytes());
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(&0u16.to_le_bytes()); // extra length
    };
    let mut out = Vec::with_capacity(compressed.len() + 200);
    out.extend_from_slice(b"PK\x03\x04");
    fields(&mut out);
    out.extend_from_slice(name);
    out.extend_from_slice(compressed);
    let central = out.len();
    out.extend_from_slice(b"PK\x01\x02");
    out.extend_from_slice(&0x0314u16.to_le_bytes()); // made by: Unix, 2.0
    fields(&mut out);
    out.extend_from_slice(&[0; 6]); // comment length, disk, internal attributes
    out.extend_from_slice(&(0o100_644u32 << 16).to_le_bytes()); // regular file
    out.extend_from_slice(&0u32.to_le_bytes()); // local header offset
    out.extend_from_slice(name);
    let central_size = out.len() - central;
    out.extend_from_slice(b"PK\x05\x06");
    out.extend_from_slice(&[0, 0, 0, 0, 1, 0, 1, 0]);
    out.extend_from_slice(&(central_size as u32).to_le_bytes());
    out.extend_from_slice(&(central as u32).to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}
