//! Reading one ZIP entry's bytes through a capped reader: a decompression bomb (an entry that
//! expands past its declared size) is stopped while reading, memory stays at one 64 KiB buffer
//! for fingerprinting and one file for `contents`, and the size read must equal the declared one.

use std::io::{ErrorKind, Read, Seek};

use sha2::{Digest, Sha256};
use zip::ZipArchive;

use super::archive::describe;
use super::error::display_path;
use super::utf8_check::Utf8Check;
use super::{FileEntry, IngestError, MAX_EXTRACTED_FILE};

const BUFFER: usize = 64 * 1024;

/// Streams entry `index` (named `path` in messages, declared `declared` bytes, already checked
/// to be within `MAX_EXTRACTED_FILE`) into `sink`, refusing it as soon as it expands past its
/// declared size.
fn stream<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    path: &str,
    declared: u64,
    mut sink: impl FnMut(&[u8]),
) -> Result<(), IngestError> {
    let file = archive.by_index(index).map_err(|e| {
        IngestError::invalid_zip(format!(
            "cannot read {}: {}",
            display_path(path),
            describe(&e)
        ))
    })?;
    // The zip crate also stops at the declared size; this cap holds even if it did not.
    let mut reader = file.take(MAX_EXTRACTED_FILE + 1);
    let mut buffer = vec![0u8; BUFFER];
    let mut total: u64 = 0;
    let beyond = |read: u64| IngestError::ExpandsBeyondDeclaredSize {
        path: path.to_string(),
        declared,
        read,
    };
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                let message = e.to_string();
                if message.contains("checksum") {
                    return Err(IngestError::invalid_zip(format!(
                        "{} fails its CRC-32 check (the archive is corrupt)",
                        display_path(path)
                    )));
                }
                if message.contains("declared") || total >= declared {
                    return Err(beyond(total.max(declared) + 1));
                }
                return Err(IngestError::invalid_zip(format!(
                    "cannot decompress {}: {message}",
                    display_path(path)
                )));
            }
        };
        total += n as u64;
        if total > declared {
            return Err(beyond(total));
        }
        sink(&buffer[..n]);
    }
    if total != declared {
        return Err(IngestError::invalid_zip(format!(
            "{} holds {total} bytes but its header declares {declared}",
            display_path(path)
        )));
    }
    Ok(())
}

/// What one pass over an entry's bytes tells.
pub struct Fingerprint {
    pub sha256: [u8; 32],
    /// Whether the bytes are UTF-8 (a text file in a legacy encoding is not).
    pub utf8: bool,
}

/// Decompresses entry `index` once and returns its SHA-256 and whether it is UTF-8, keeping no
/// bytes.
pub fn fingerprint<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    path: &str,
    declared: u64,
) -> Result<Fingerprint, IngestError> {
    let mut hasher = Sha256::new();
    let mut utf8 = Utf8Check::default();
    stream(archive, index, path, declared, |chunk| {
        hasher.update(chunk);
        utf8.update(chunk);
    })?;
    Ok(Fingerprint {
        sha256: hasher.finalize().into(),
        utf8: utf8.is_utf8(),
    })
}

/// Decompresses entry `index` again and returns its bytes, checked against `entry.sha256`.
pub fn read_verified<R: Read + Seek>(
    archive: &mut ZipArchive<R>,
    index: usize,
    entry: &FileEntry,
) -> Result<Vec<u8>, IngestError> {
    let capacity = usize::try_from(entry.size.min(MAX_EXTRACTED_FILE)).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    stream(archive, index, &entry.path, entry.size, |chunk| {
        bytes.extend_from_slice(chunk)
    })?;
    let actual: [u8; 32] = Sha256::digest(&bytes).into();
    if actual != entry.sha256 {
        return Err(IngestError::invalid_zip(format!(
            "{} no longer matches the SHA-256 recorded when it was checked",
            display_path(&entry.path)
        )));
    }
    Ok(bytes)
}
