//! Ingestion: turning an upload (HTML or Markdown text, a base64 ZIP in JSON, or multipart bytes)
//! into checked, fingerprinted files. No SQL, no HTTP, no async: `prepare` is CPU-bound and the
//! caller runs it on a blocking thread, then stores `Prepared::files` reading each file's bytes
//! with `Prepared::contents`.

mod archive;
mod base64_content;
mod content_type;
mod decompress;
mod entry_point;
mod error;
mod markdown;
mod paths;
mod single;
mod spool;
mod text_encoding;
mod upload;
mod utf8_check;

#[cfg(test)]
mod tests;

use std::fmt;

pub use content_type::{content_type_for, is_text};
pub use error::IngestError;
pub use markdown::{escape_html, render_markdown, Cut, RENDERING};
pub use text_encoding::decode as decode_text;
pub use upload::{detect_type, FileType, Upload, UploadContent};

pub use spool::{SpoolWriter, Spooled};

pub const MB: u64 = 1_048_576;
/// Largest HTML or Markdown upload.
pub const MAX_SINGLE_FILE: u64 = 5 * MB;
/// Largest ZIP archive (compressed, after base64 decoding).
pub const MAX_ARCHIVE: u64 = 50 * MB;
/// Most files in a ZIP (folders and macOS metadata do not count).
pub const MAX_FILES: usize = 500;
/// Largest file inside a ZIP once extracted.
pub const MAX_EXTRACTED_FILE: u64 = 5 * MB;
/// Largest sum of extracted sizes in one ZIP (this project's own bound).
pub const MAX_EXTRACTED_TOTAL: u64 = 250 * MB;

/// One checked file of an upload.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// Normalised relative path (`/`-separated, no `..`, no leading `/`).
    pub path: String,
    pub size: u64,
    pub sha256: [u8; 32],
    pub content_type: &'static str,
}

/// A validated upload: its files' metadata, and the source to read their bytes from.
pub struct Prepared {
    pub file_type: FileType,
    /// The path of the file a viewer opens first; always one of `files`.
    pub entry_point: String,
    /// Bytes received: the document's length, or the ZIP's length after base64 decoding.
    pub upload_size: u64,
    /// Every file, sorted by path.
    pub files: Vec<FileEntry>,
    source: Source,
}

enum Source {
    Single(Vec<u8>),
    /// The archive, and for each of `files` the index of its entry in the archive.
    Zip {
        archive: zip::ZipArchive<spool::SpoolReader>,
        indices: Vec<usize>,
    },
}

impl Prepared {
    /// The bytes of `files[i]`, re-read from the source (for a ZIP: decompressed again through a
    /// capped reader and checked against the recorded sha256). Memory: one file at a time.
    pub fn contents(&self, i: usize) -> Result<Vec<u8>, IngestError> {
        let no_such_file = || IngestError::NoSuchFile {
            index: i,
            count: self.files.len(),
        };
        let entry = self.files.get(i).ok_or_else(no_such_file)?;
        match &self.source {
            Source::Single(bytes) => Ok(bytes.clone()),
            Source::Zip { archive, indices } => {
                let index = *indices.get(i).ok_or_else(no_such_file)?;
                decompress::read_verified(&mut archive.clone(), index, entry)
            }
        }
    }
}

impl fmt::Debug for Prepared {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prepared")
            .field("file_type", &self.file_type)
            .field("entry_point", &self.entry_point)
            .field("upload_size", &self.upload_size)
            .field("files", &self.files)
            .finish_non_exhaustive()
    }
}

/// Whether a stored path is a Markdown file (`.md`, `.markdown`), which is rendered for viewing.
pub fn is_markdown_path(path: &str) -> bool {
    paths::is_markdown(path)
}

/// Whether a stored file is a document the review page frames with its bridge, where passages can
/// be quoted: an HTML page (by its type) or a Markdown file (rendered as one).
pub fn is_document(path: &str, content_type: &str) -> bool {
    is_markdown_path(path) || content_type.starts_with("text/html")
}

/// Whether a stored path is an HTML file (`.html`, `.htm`).
pub fn is_html_path(path: &str) -> bool {
    paths::is_html(path)
}

/// Validates and fingerprints an upload. CPU-bound; the caller runs it on a blocking thread.
pub fn prepare(upload: Upload) -> Result<Prepared, IngestError> {
    let file_type = upload::detect_type(upload.file_type.as_deref(), upload.file_name.as_deref())?;
    match file_type {
        FileType::Html | FileType::Markdown => {
            let taken = if file_type == FileType::Html {
                "an HTML document"
            } else {
                "a Markdown document"
            };
            if upload
                .entry_point
                .as_deref()
                .is_some_and(|e| !e.trim().is_empty())
            {
                return Err(IngestError::EntryPointWithoutZip {
                    taken: taken.to_string(),
                });
            }
            if let Some(how) = upload.content.zip_signature() {
                return Err(IngestError::LooksLikeZip {
                    how,
                    taken: taken.to_string(),
                });
            }
            single::prepare_single(file_type, upload.file_name.as_deref(), upload.content)
        }
        FileType::Zip => archive::prepare_zip(upload.content, upload.entry_point.as_deref()),
    }
}
