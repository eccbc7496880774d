//! `IngestError`: every way an upload can be refused, each with a stable `code()` and a message
//! that names the limit and the actual size, length or paths, so a person or an agent can fix the
//! upload without guessing.

use super::{MAX_ARCHIVE, MAX_EXTRACTED_FILE, MAX_EXTRACTED_TOTAL, MAX_FILES, MB};

/// How many offending paths a message lists before it says "and N more".
pub const LIST_CAP: usize = 20;

/// Longest rendering of one path inside a message, in characters.
const PATH_DISPLAY_CHARS: usize = 120;

/// Why an upload was refused. The main project turns every variant into an HTTP 400 with
/// `{"error": self.to_string(), "code": self.code()}`.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    #[error("fileType {given:?} is not supported; use \"html\", \"markdown\" or \"zip\"")]
    UnsupportedFileType { given: String },

    /// Neither a usable `fileType` nor a `fileName` with a known extension; each as it was sent
    /// (`file_type` is then blank, if given at all).
    #[error("{}", undetectable_type(.file_type.as_deref(), .file_name.as_deref()))]
    UnknownFileType {
        file_type: Option<String>,
        file_name: Option<String>,
    },

    #[error("fileName {}: {reason}", quote(.name))]
    InvalidFileName { name: String, reason: String },

    /// A ZIP's content (base64 text starting `UEsDB`, or bytes starting `PK`) given as a single
    /// document: published so, it would be a page of base64 text.
    #[error("the content looks like a ZIP ({how}), but the upload is taken as {taken}; give fileType \"zip\" (or a fileName ending in .zip) to publish it as a site")]
    LooksLikeZip { how: &'static str, taken: String },

    #[error(
        "entryPoint is for ZIP uploads: {taken} is its own entry point (name it with fileName)"
    )]
    EntryPointWithoutZip { taken: String },

    #[error("{subject} is {size} bytes; the limit is {limit} bytes ({} MB)", limit / MB)]
    FileTooLarge {
        subject: &'static str,
        size: u64,
        limit: u64,
    },

    #[error(
        "the archive contains files larger than the limit of {MAX_EXTRACTED_FILE} bytes ({} MB) \
         per file: {}",
        MAX_EXTRACTED_FILE / MB,
        list_sized(.files)
    )]
    ArchiveFilesTooLarge { files: Vec<(String, u64)> },

    #[error(
        "ZIP archive is {size} bytes{}; the limit is {MAX_ARCHIVE} bytes ({} MB)",
        if *.from_base64 { " once decoded from base64" } else { "" },
        MAX_ARCHIVE / MB
    )]
    ArchiveTooLarge { size: u64, from_base64: bool },

    #[error(
        "the archive contains {count} files; the limit is {MAX_FILES} files (folders and macOS \
         metadata such as __MACOSX/ and .DS_Store are not counted)"
    )]
    TooManyFiles { count: usize },

    #[error(
        "the archive has {records} entry records in its central directory (folders and macOS \
         metadata included); at most {max_records} are read, and at most {MAX_FILES} of them may \
         be files"
    )]
    TooManyEntries { records: usize, max_records: usize },

    #[error(
        "the files in the archive add up to {total} bytes when extracted; the limit is \
         {MAX_EXTRACTED_TOTAL} bytes ({} MB) in total",
        MAX_EXTRACTED_TOTAL / MB
    )]
    ExtractedTooLarge { total: u64 },

    #[error(
        "{} in the archive declares {declared} bytes but expands to more: decompression was \
         stopped after {read} bytes (a decompression bomb or a corrupt archive; each file may hold \
         at most {MAX_EXTRACTED_FILE} bytes ({} MB))",
        display_path(.path),
        MAX_EXTRACTED_FILE / MB
    )]
    ExpandsBeyondDeclaredSize {
        path: String,
        declared: u64,
        read: u64,
    },

    #[error(
        "the archive contains forbidden files: {} (executables, videos and office documents are \
         not allowed)",
        list(.paths)
    )]
    ForbiddenFileType { paths: Vec<String> },

    #[error("the archive contains unsafe paths: {}", list_reasons(.paths))]
    UnsafePath { paths: Vec<(String, &'static str)> },

    #[error(
        "the archive contains symbolic links, which are not allowed: {}",
        list(.paths)
    )]
    SymlinkNotAllowed { paths: Vec<String> },

    #[error(
        "the archive contains the same path more than once: {} (paths that differ only in \
         letter case count as the same, and a path cannot be both a file and a folder)",
        list(.paths)
    )]
    DuplicatePath { paths: Vec<String> },

    #[error(
        "the archive contains encrypted files, which cannot be read: {} (upload an archive \
         without a password)",
        list(.paths)
    )]
    EncryptedEntry { paths: Vec<String> },

    #[error("{}", no_entry_point(.found, *.file_count))]
    NoEntryPoint {
        found: Vec<String>,
        file_count: usize,
    },

    #[error("entryPoint {}: {reason}; {}", quote(.given), list_candidates(.candidates))]
    InvalidEntryPoint {
        given: String,
        reason: &'static str,
        candidates: Vec<String>,
    },

    #[error("{subject} is empty ({detail}); upload a file with content")]
    EmptyFile {
        subject: &'static str,
        detail: &'static str,
    },

    #[error("the upload is not a valid ZIP archive: {detail}")]
    InvalidZip { detail: String },

    #[error("content is not valid base64: {detail}")]
    InvalidBase64 { detail: String },

    #[error(
        "{subject} is not valid UTF-8: the first invalid byte is at offset {offset} of {size} \
         bytes (save the file as UTF-8)"
    )]
    InvalidEncoding {
        subject: &'static str,
        offset: usize,
        size: u64,
    },

    #[error("no file number {index}: the upload holds {count} files")]
    NoSuchFile { index: usize, count: usize },

    #[error(
        "the archive's central directory (its list of entries) is {size} bytes; at most \
         {max} bytes of it are read (long names or comments on its entries make it this large)"
    )]
    DirectoryTooLarge { size: u64, max: u64 },

    /// An archive with more than one kind of problem: the first found gives the code, and the
    /// message names every kind, so that one round of fixes is enough.
    #[error("{first}; also, {}", also.iter().map(ToString::to_string).collect::<Vec<_>>().join("; also, "))]
    Several {
        first: Box<IngestError>,
        also: Vec<IngestError>,
    },

    /// The server could not keep the upload while checking it (its disk): not the client's fault.
    #[error("the upload could not be kept for checking: {detail}")]
    Spool {
        detail: String,
        /// The disk is full (else it refused the write some other way: permissions, read-only).
        full: bool,
    },
}

impl IngestError {
    /// The stable snake_case code sent to clients next to the message.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UnsupportedFileType { .. } | Self::UnknownFileType { .. } => {
                "unsupported_file_type"
            }
            Self::InvalidFileName { .. } => "invalid_file_name",
            Self::LooksLikeZip { .. } => "unsupported_file_type",
            Self::EntryPointWithoutZip { .. } => "invalid_entry_point",
            Self::FileTooLarge { .. } | Self::ArchiveFilesTooLarge { .. } => "file_too_large",
            Self::ArchiveTooLarge { .. } => "archive_too_large",
            Self::TooManyFiles { .. } | Self::TooManyEntries { .. } => "too_many_files",
            Self::ExtractedTooLarge { .. } | Self::ExpandsBeyondDeclaredSize { .. } => {
                "extracted_too_large"
            }
            Self::ForbiddenFileType { .. } => "forbidden_file_type",
            Self::UnsafePath { .. } => "unsafe_path",
            Self::SymlinkNotAllowed { .. } => "symlink_not_allowed",
            Self::DuplicatePath { .. } => "duplicate_path",
            Self::EncryptedEntry { .. } => "encrypted_entry",
            Self::NoEntryPoint { .. } => "no_entry_point",
            Self::InvalidEntryPoint { .. } => "invalid_entry_point",
            Self::EmptyFile { .. } => "empty_file",
            Self::InvalidZip { .. } => "invalid_zip",
            Self::InvalidBase64 { .. } => "invalid_base64",
            Self::InvalidEncoding { .. } => "invalid_encoding",
            Self::NoSuchFile { .. } => "no_such_file",
            Self::DirectoryTooLarge { .. } => "too_many_files",
            Self::Spool { .. } => "spool_failed",
            Self::Several { first, .. } => first.code(),
        }
    }

    /// The request field at fault, where one field is (named in the answer's `field`); problems
    /// with the content itself come from the `content` of a JSON upload or the `file` of a
    /// multipart one, so they name none.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Self::UnsupportedFileType { .. }
            | Self::UnknownFileType { .. }
            | Self::LooksLikeZip { .. } => Some("fileType"),
            Self::InvalidFileName { .. } => Some("fileName"),
            Self::EntryPointWithoutZip { .. } | Self::InvalidEntryPoint { .. } => {
                Some("entryPoint")
            }
            Self::InvalidBase64 { .. } => Some("content"),
            _ => None,
        }
    }

    /// The refusal for every problem found, in order: `None` when there is none, the problem
    /// itself when there is one, else `Several`.
    pub(crate) fn all(mut problems: Vec<IngestError>) -> Option<IngestError> {
        if problems.len() <= 1 {
            return problems.pop();
        }
        let first = Box::new(problems.remove(0));
        Some(Self::Several {
            first,
            also: problems,
        })
    }

    pub(crate) fn invalid_zip(detail: impl Into<String>) -> Self {
        Self::InvalidZip {
            detail: detail.into(),
        }
    }
}

/// A path made safe to print: control characters escaped, long paths shortened with "…".
pub fn display_path(path: &str) -> String {
    let mut out = String::new();
    for (count, c) in path.chars().enumerate() {
        if count == PATH_DISPLAY_CHARS {
            out.push('…');
            break;
        }
        if c.is_control() || crate::text::misleading_char(c) {
            out.extend(c.escape_default());
        } else {
            out.push(c);
        }
    }
    out
}

fn quote(s: &str) -> String {
    format!("\"{}\"", display_path(s))
}

fn capped<T>(items: &[T], render: impl Fn(&T) -> String) -> String {
    let mut parts: Vec<String> = items.iter().take(LIST_CAP).map(render).collect();
    if items.len() > LIST_CAP {
        parts.push(format!("and {} more", items.len() - LIST_CAP));
    }
    parts.join(", ")
}

fn list(paths: &[String]) -> String {
    capped(paths, |p| display_path(p))
}

fn list_sized(files: &[(String, u64)]) -> String {
    capped(files, |(p, size)| {
        format!("{} ({size} bytes)", display_path(p))
    })
}

fn list_reasons(paths: &[(String, &'static str)]) -> String {
    capped(paths, |(p, why)| format!("{} ({why})", quote(p)))
}

fn undetectable_type(file_type: Option<&str>, file_name: Option<&str>) -> String {
    let name = match file_name {
        Some(name) if name.trim().is_empty() => "fileName is blank".to_string(),
        Some(name) => format!("fileName {} has no recognised extension", quote(name)),
        None => "no fileName was given".to_string(),
    };
    let got = match (file_type, file_name) {
        (None, None) => "neither fileType nor fileName was given".to_string(),
        (None, Some(_)) => name,
        (Some(_), _) => format!("fileType is blank and {name}"),
    };
    format!(
        "cannot tell the file type: {got}; set fileType to \"html\", \"markdown\" or \"zip\", or \
         give a fileName ending in .html, .htm, .md, .markdown or .zip"
    )
}

fn no_entry_point(found: &[String], file_count: usize) -> String {
    if file_count == 0 {
        return "the archive contains no files (folders and macOS metadata such as __MACOSX/ and \
                .DS_Store are ignored), so there is nothing to show"
            .to_string();
    }
    let rule = "the archive has no entry point (looked for index.html, then any .html file, then \
                README.md or index.md, then any .md file, at the root after stripping a common \
                folder)";
    if found.is_empty() {
        format!("{rule}; its {file_count} files include no HTML or Markdown file at all")
    } else {
        format!(
            "{rule}; HTML and Markdown files found: {}; set entryPoint to one of them",
            list(found)
        )
    }
}

fn list_candidates(found: &[String]) -> String {
    if found.is_empty() {
        "the archive contains no HTML or Markdown files".to_string()
    } else {
        format!("HTML and Markdown files in the archive: {}", list(found))
    }
}
