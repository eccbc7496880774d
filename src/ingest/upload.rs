//! The raw upload as the API receives it: which type it is (from `fileType`, else from
//! `fileName`'s extension) and its bytes, with the size limit checked before anything is copied
//! or decoded.

use std::fmt;
use std::str::FromStr;

use super::{base64_content, paths, IngestError};

/// What kind of artifact an upload is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FileType {
    Html,
    Markdown,
    Zip,
}

impl FileType {
    /// `"html"`, `"markdown"` or `"zip"`, as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Html => "html",
            Self::Markdown => "markdown",
            Self::Zip => "zip",
        }
    }

    /// The type a file name's extension implies (.html/.htm, .md/.markdown, .zip; any case).
    pub fn from_file_name(name: &str) -> Option<Self> {
        let ext = paths::extension(name.trim())?;
        let is = |e: &str| ext.eq_ignore_ascii_case(e);
        if is("html") || is("htm") {
            Some(Self::Html)
        } else if is("md") || is("markdown") {
            Some(Self::Markdown)
        } else if is("zip") {
            Some(Self::Zip)
        } else {
            None
        }
    }
}

impl fmt::Display for FileType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for FileType {
    type Err = IngestError;

    /// Parses `"html"`, `"markdown"` or `"zip"` (surrounding whitespace and ASCII case ignored).
    fn from_str(s: &str) -> Result<Self, IngestError> {
        let t = s.trim();
        let is = |e: &str| t.eq_ignore_ascii_case(e);
        if is("html") {
            Ok(Self::Html)
        } else if is("markdown") {
            Ok(Self::Markdown)
        } else if is("zip") {
            Ok(Self::Zip)
        } else {
            Err(IngestError::UnsupportedFileType {
                given: s.to_string(),
            })
        }
    }
}

/// The content as it arrived.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UploadContent {
    /// A JSON string: the document itself for html/markdown; for zip, the archive in base64
    /// (the only way JSON carries a ZIP), so it is decoded exactly like `Base64`.
    Text(String),
    /// Base64 text to decode, whatever the type.
    Base64(String),
    /// Raw bytes (a multipart file part).
    Bytes(Vec<u8>),
}

/// One upload, with its fields exactly as the client sent them; `prepare` validates them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Upload {
    pub file_type: Option<String>,
    pub file_name: Option<String>,
    pub content: UploadContent,
    pub entry_point: Option<String>,
}

/// The type from `fileType` when given (and not blank), else from `fileName`'s extension.
pub fn detect_type(
    file_type: Option<&str>,
    file_name: Option<&str>,
) -> Result<FileType, IngestError> {
    if let Some(given) = file_type.filter(|t| !t.trim().is_empty()) {
        return given.parse();
    }
    let file_name = file_name.filter(|n| !n.trim().is_empty());
    file_name
        .and_then(FileType::from_file_name)
        .ok_or_else(|| IngestError::UnknownFileType {
            file_name: file_name.map(str::to_string),
        })
}

/// The upload's bytes, refusing more than `limit` before copying or decoding anything.
/// `too_large(size, from_base64)` builds the error for an oversized upload.
pub fn into_bytes(
    content: UploadContent,
    text_is_base64: bool,
    limit: u64,
    too_large: impl Fn(u64, bool) -> IngestError,
) -> Result<Vec<u8>, IngestError> {
    let (text, base64) = match content {
        UploadContent::Bytes(bytes) => {
            let size = bytes.len() as u64;
            return if size > limit {
                Err(too_large(size, false))
            } else {
                Ok(bytes)
            };
        }
        UploadContent::Text(text) => (text, text_is_base64),
        UploadContent::Base64(text) => (text, true),
    };
    if base64 {
        let size = base64_content::decoded_len(&text)?;
        if size > limit {
            return Err(too_large(size, true));
        }
        base64_content::decode(&text, size)
    } else {
        let size = text.len() as u64;
        if size > limit {
            return Err(too_large(size, false));
        }
        Ok(text.into_bytes())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_type_wins_over_the_file_name() -> Result<(), IngestError> {
        assert_eq!(
            detect_type(Some("markdown"), Some("page.html"))?,
            FileType::Markdown
        );
        assert_eq!(detect_type(Some(" ZIP "), None)?, FileType::Zip);
        Ok(())
    }

    #[test]
    fn the_file_name_extension_decides_when_file_type_is_absent() -> Result<(), IngestError> {
        assert_eq!(detect_type(None, Some("a.HTM"))?, FileType::Html);
        assert_eq!(
            detect_type(None, Some("notes.markdown"))?,
            FileType::Markdown
        );
        assert_eq!(detect_type(Some(""), Some("site.zip"))?, FileType::Zip);
        Ok(())
    }

    #[test]
    fn an_unknown_file_type_names_the_allowed_values() {
        let err = detect_type(Some("pdf"), Some("a.html")).err();
        let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
        assert_eq!(err.map(|e| e.code()), Some("unsupported_file_type"));
        assert!(
            msg.contains("\"pdf\"") && msg.contains("\"markdown\""),
            "{msg}"
        );
    }

    #[test]
    fn neither_type_nor_known_extension_explains_both_ways() {
        for name in [None, Some("report.pdf"), Some("README")] {
            let err = detect_type(None, name).err();
            let msg = err.as_ref().map(ToString::to_string).unwrap_or_default();
            assert_eq!(err.map(|e| e.code()), Some("unsupported_file_type"));
            assert!(
                msg.contains("fileType") && msg.contains(".markdown"),
                "{msg}"
            );
        }
    }

    #[test]
    fn file_type_round_trips_through_its_string() -> Result<(), IngestError> {
        for t in [FileType::Html, FileType::Markdown, FileType::Zip] {
            assert_eq!(t.as_str().parse::<FileType>()?, t);
        }
        Ok(())
    }
}
