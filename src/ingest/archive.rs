//! A ZIP upload. First pass, over the central directory only (nothing is decompressed): skip
//! folders and macOS junk, and refuse too many files, declared sizes over the limits, unsafe
//! paths, symlinks, encrypted entries, forbidden extensions, collisions and unsupported
//! compression, listing every offending path. Then strip the common folder and choose the entry
//! point. Second pass: decompress each file through a capped reader to fingerprint it.

use std::collections::HashMap;
use std::io::{Read, Seek};

use zip::result::ZipError;
use zip::{CompressionMethod, ZipArchive};

use super::content_type::without_charset;
use super::spool::Spooled;
use super::upload::{into_spooled, FileType, UploadContent};
use super::{content_type_for, FileEntry, IngestError, Prepared, Source};
use super::{decompress, entry_point, paths};
use super::{MAX_ARCHIVE, MAX_EXTRACTED_FILE, MAX_EXTRACTED_TOTAL, MAX_FILES};

/// Most central directory records read at all (folders and macOS junk included). Checked before
/// the zip crate parses the directory, so a 50 MB archive of a million empty entries cannot make
/// it allocate hundreds of megabytes of entry metadata.
pub const MAX_ENTRY_RECORDS: usize = 10 * MAX_FILES;
/// Largest central directory read, in bytes: the zip crate keeps every name in it (twice), so a
/// 50 MB archive of 5,000 entries with 10 KB names would otherwise cost 100 MB to open.
pub const MAX_DIRECTORY: u64 = 4 * 1024 * 1024;

const CENTRAL_HEADER_SIGNATURE: &[u8; 4] = b"PK\x01\x02";
const END_SIGNATURE: &[u8; 4] = b"PK\x05\x06";
const ZIP64_LOCATOR_SIGNATURE: &[u8; 4] = b"PK\x06\x07";
const ZIP64_END_SIGNATURE: &[u8; 4] = b"PK\x06\x06";
const S_IFMT: u32 = 0o170_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;

/// A file that passed the first pass.
struct Candidate {
    index: usize,
    path: String,
    size: u64,
}

/// Everything wrong with an archive's entries, collected so one error can list them all.
#[derive(Default)]
struct Problems {
    unsafe_paths: Vec<(String, &'static str)>,
    symlinks: Vec<String>,
    encrypted: Vec<String>,
    forbidden: Vec<String>,
    oversized: Vec<(String, u64)>,
    unsupported: Vec<String>,
}

/// Validates and fingerprints a ZIP upload.
pub fn prepare_zip(
    content: UploadContent,
    requested_entry: Option<&str>,
) -> Result<Prepared, IngestError> {
    let bytes = into_spooled(content, MAX_ARCHIVE, |size, from_base64| {
        IngestError::ArchiveTooLarge { size, from_base64 }
    })?;
    let upload_size = bytes.len();
    let records = count_records(&bytes)?;
    if records > MAX_ENTRY_RECORDS {
        return Err(IngestError::TooManyEntries {
            records,
            max_records: MAX_ENTRY_RECORDS,
        });
    }
    if let Some(size) = directory_size(&bytes)?.filter(|size| *size > MAX_DIRECTORY) {
        return Err(IngestError::DirectoryTooLarge {
            size,
            max: MAX_DIRECTORY,
        });
    }
    let looks_like_zip = read_range(&bytes, 0, 2)? == b"PK";
    let mut archive = ZipArchive::new(bytes.reader()).map_err(|e| {
        let hint = if looks_like_zip {
            "the archive is truncated or corrupt"
        } else {
            "the content does not start with the ZIP signature \"PK\": is it a ZIP file?"
        };
        IngestError::invalid_zip(format!("{} ({hint})", describe(&e)))
    })?;

    let mut candidates = first_pass(&archive, &bytes)?;
    candidates.sort_by(|a, b| a.path.cmp(&b.path));
    let mut stripped: Vec<String> = candidates.iter().map(|c| c.path.clone()).collect();
    let prefix = entry_point::strip_common_folder(&mut stripped);
    let entry_point = entry_point::choose(&stripped, requested_entry, &prefix)?;

    let mut files = Vec::with_capacity(candidates.len());
    let mut indices = Vec::with_capacity(candidates.len());
    for (candidate, path) in candidates.iter().zip(stripped) {
        let fingerprint = decompress::fingerprint(
            &mut archive,
            candidate.index,
            &candidate.path,
            candidate.size,
        )?;
        let content_type = content_type_for(&path);
        files.push(FileEntry {
            // A page in a legacy encoding is not served as UTF-8: the browser follows its own
            // `<meta charset>` instead.
            content_type: if fingerprint.utf8 {
                content_type
            } else {
                without_charset(content_type)
            },
            path,
            size: candidate.size,
            sha256: fingerprint.sha256,
        });
        indices.push(candidate.index);
    }
    Ok(Prepared {
        file_type: FileType::Zip,
        entry_point,
        upload_size,
        files,
        source: Source::Zip { archive, indices },
    })
}

/// Reads the central directory (no decompression) and returns the files to keep, or every kind
/// of problem found, each listing every entry that has it.
fn first_pass<R: Read + Seek>(
    archive: &ZipArchive<R>,
    bytes: &Spooled,
) -> Result<Vec<Candidate>, IngestError> {
    let mut problems = Problems::default();
    let mut candidates = Vec::new();
    let mut file_count = 0usize;
    let mut total: u64 = 0;
    for index in 0..archive.len() {
        let entry = archive
            .by_index_data(index)
            .map_err(|e| IngestError::invalid_zip(format!("entry {index}: {}", describe(&e))))?;
        let mode = entry.unix_mode().unwrap_or(0) & S_IFMT;
        // A folder: named with a trailing slash, or marked as one and empty.
        if entry.is_dir() || (mode == S_IFDIR && entry.size() == 0) {
            continue;
        }
        let path = match paths::normalise(entry.name_raw()) {
            Ok(path) => path,
            Err(reason) => {
                file_count += 1;
                let shown = String::from_utf8_lossy(entry.name_raw()).into_owned();
                problems.unsafe_paths.push((shown, reason));
                continue;
            }
        };
        if paths::is_macos_junk(&path) {
            continue;
        }
        file_count += 1;
        if entry.is_symlink() || mode == S_IFLNK {
            problems.symlinks.push(path.clone());
        }
        if entry.encrypted() {
            problems.encrypted.push(path.clone());
        }
        if paths::is_forbidden(&path) {
            problems.forbidden.push(path.clone());
        }
        let method = entry.compression();
        if method != CompressionMethod::Stored && method != CompressionMethod::Deflated {
            problems.unsupported.push(format!("{path} ({method})"));
        }
        let size = entry.size();
        if size > MAX_EXTRACTED_FILE {
            problems.oversized.push((path.clone(), size));
        }
        total = total.saturating_add(size);
        candidates.push(Candidate { index, path, size });
    }

    if file_count > MAX_FILES {
        return Err(IngestError::TooManyFiles { count: file_count });
    }
    // Every kind of problem is reported at once, in this order; the first gives the code.
    let mut found = Vec::new();
    if !problems.oversized.is_empty() {
        found.push(IngestError::ArchiveFilesTooLarge {
            files: problems.oversized,
        });
    }
    if total > MAX_EXTRACTED_TOTAL {
        found.push(IngestError::ExtractedTooLarge { total });
    }
    if !problems.unsafe_paths.is_empty() {
        found.push(IngestError::UnsafePath {
            paths: problems.unsafe_paths,
        });
    }
    if !problems.symlinks.is_empty() {
        found.push(IngestError::SymlinkNotAllowed {
            paths: problems.symlinks,
        });
    }
    if !problems.encrypted.is_empty() {
        found.push(IngestError::EncryptedEntry {
            paths: problems.encrypted,
        });
    }
    if !problems.forbidden.is_empty() {
        found.push(IngestError::ForbiddenFileType {
            paths: problems.forbidden,
        });
    }
    let mut collisions = Vec::new();
    if archive.has_duplicate_names() {
        let start = archive.central_directory_start();
        let directory = read_range(
            bytes,
            start,
            MAX_DIRECTORY.min(bytes.len().saturating_sub(start)),
        )?;
        collisions = raw_duplicate_names(&directory);
        if collisions.is_empty() {
            collisions.push("an entry name listed twice in the central directory".to_string());
        }
    }
    let paths: Vec<String> = candidates.iter().map(|c| c.path.clone()).collect();
    collisions.extend(paths::collisions(&paths));
    if !collisions.is_empty() {
        found.push(IngestError::DuplicatePath { paths: collisions });
    }
    if !problems.unsupported.is_empty() {
        found.push(IngestError::invalid_zip(format!(
            "files use a compression method other than Deflate or Stored: {}; re-create the \
             archive with standard ZIP compression",
            problems.unsupported.join(", ")
        )));
    }
    if let Some(refusal) = IngestError::all(found) {
        return Err(refusal);
    }
    Ok(candidates)
}

/// The zip crate's error without its "invalid Zip archive" prefix (the message already says so).
pub fn describe(error: &ZipError) -> String {
    match error {
        ZipError::InvalidArchive(detail) => detail.to_string(),
        ZipError::UnsupportedArchive(detail) => format!("unsupported: {detail}"),
        other => other.to_string(),
    }
}

/// Names that appear more than once in the central directory (`bytes`, from its start). The zip
/// crate keeps one entry per name, so the repeats are found by walking the raw directory records.
fn raw_duplicate_names(bytes: &[u8]) -> Vec<String> {
    let mut counts: HashMap<&[u8], usize> = HashMap::new();
    let mut order: Vec<&[u8]> = Vec::new();
    let mut pos = 0usize;
    while let Some(header) = bytes.get(pos..pos.saturating_add(46)) {
        if &header[..4] != CENTRAL_HEADER_SIGNATURE {
            break;
        }
        let field = |at: usize| usize::from(u16::from_le_bytes([header[at], header[at + 1]]));
        let (name_len, extra_len, comment_len) = (field(28), field(30), field(32));
        let Some(name) = bytes.get(pos + 46..pos + 46 + name_len) else {
            break;
        };
        let count = counts.entry(name).or_insert(0);
        *count += 1;
        if *count == 2 {
            order.push(name);
        }
        pos += 46 + name_len + extra_len + comment_len;
    }
    order
        .into_iter()
        .map(|name| {
            let times = counts.get(name).copied().unwrap_or(2);
            format!("{} ({times} times)", String::from_utf8_lossy(name))
        })
        .collect()
}

/// `len` bytes of the archive from `offset` (fewer at its end).
fn read_range(bytes: &Spooled, offset: u64, len: u64) -> Result<Vec<u8>, IngestError> {
    let mut reader = bytes.reader();
    reader
        .seek(std::io::SeekFrom::Start(offset))
        .map_err(spooled)?;
    let mut out = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    reader.take(len).read_to_end(&mut out).map_err(spooled)?;
    Ok(out)
}

fn spooled(e: std::io::Error) -> IngestError {
    IngestError::Spool {
        detail: e.to_string(),
        full: e.kind() == std::io::ErrorKind::StorageFull,
    }
}

/// How many central directory record signatures the whole archive holds, read a megabyte at a
/// time (a signature may straddle two pieces).
fn count_records(bytes: &Spooled) -> Result<usize, IngestError> {
    let mut reader = bytes.reader();
    let mut window = vec![0u8; 1024 * 1024 + 3];
    let mut kept = 0usize;
    let mut count = 0usize;
    loop {
        let n = reader.read(&mut window[kept..]).map_err(spooled)?;
        if n == 0 {
            break;
        }
        let filled = kept + n;
        count += window[..filled]
            .windows(4)
            .filter(|w| w == CENTRAL_HEADER_SIGNATURE)
            .count();
        kept = filled.min(3);
        window.copy_within(filled - kept..filled, 0);
    }
    Ok(count)
}

/// The central directory's size as the archive's end record says (the ZIP64 one when there is
/// one); `None` when no end record is found (the zip crate then refuses the archive).
fn directory_size(bytes: &Spooled) -> Result<Option<u64>, IngestError> {
    let len = bytes.len();
    let tail_len = len.min(22 + u64::from(u16::MAX));
    let tail = read_range(bytes, len - tail_len, tail_len)?;
    let u16_at = |b: &[u8], at: usize| u64::from(u16::from_le_bytes([b[at], b[at + 1]]));
    let u32_at = |b: &[u8], at: usize| {
        u64::from(u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]]))
    };
    let u64_at = |b: &[u8], at: usize| {
        let mut raw = [0u8; 8];
        raw.copy_from_slice(&b[at..at + 8]);
        u64::from_le_bytes(raw)
    };
    let Some(end) = (0..tail.len().saturating_sub(21)).rev().find(|&pos| {
        &tail[pos..pos + 4] == END_SIGNATURE
            && pos as u64 + 22 + u16_at(&tail, pos + 20) <= tail.len() as u64
    }) else {
        return Ok(None);
    };
    let size = u32_at(&tail, end + 12);
    if size != u64::from(u32::MAX) {
        return Ok(Some(size));
    }
    let Some(locator) = end
        .checked_sub(20)
        .filter(|at| &tail[*at..*at + 4] == ZIP64_LOCATOR_SIGNATURE)
    else {
        return Ok(None);
    };
    let record = read_range(bytes, u64_at(&tail, locator + 8), 56)?;
    if record.len() < 56 || &record[..4] != ZIP64_END_SIGNATURE {
        return Ok(None);
    }
    Ok(Some(u64_at(&record, 40)))
}
