//! The raw upload as the API receives it: which type it is (from `fileType`, else from
//! `fileName`'s extension) and its bytes, with the size limit checked before anything is copied
//! or decoded.

use std::fmt;
use std::io::Read;
use std::str::FromStr;

use super::base64_content::{self, Base64Decoder};
use super::spool::Spooled;
use super::{paths, IngestError};

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
#[derive(Clone)]
pub enum UploadContent {
    /// A JSON string: the document itself for html/markdown; for zip, the archive in base64
    /// (the only way JSON carries a ZIP).
    Text(String),
    /// Raw bytes (a multipart file part).
    Bytes(Vec<u8>),
    /// Content spooled as it streamed in: `text` when it came as text (a JSON string or a form's
    /// `content` field, read like `Text`), else raw bytes like `Bytes`.
    Spooled { content: Spooled, text: bool },
}

impl UploadContent {
    /// How it shows itself to be a ZIP, if it does: base64 text starting as a ZIP's first bytes
    /// do ("UEsDB", "UEsFB" for an empty one), or bytes starting with a ZIP's signature.
    pub fn zip_signature(&self) -> Option<&'static str> {
        const TEXT: &str = "base64 text starting with UEsDB or UEsFB, a ZIP's first bytes";
        const BYTES: &str = "its bytes start with PK, a ZIP's signature";
        let text_is_zip = |head: &[u8]| {
            let head = head.trim_ascii_start();
            head.starts_with(b"UEsDB") || head.starts_with(b"UEsFB")
        };
        let bytes_are_zip =
            |head: &[u8]| head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06");
        match self {
            UploadContent::Text(t) => text_is_zip(t.as_bytes()).then_some(TEXT),
            UploadContent::Bytes(b) => bytes_are_zip(b).then_some(BYTES),
            UploadContent::Spooled { content, text } => {
                let mut head = [0u8; 64];
                let mut reader = content.reader();
                let mut got = 0;
                while got < head.len() {
                    match std::io::Read::read(&mut reader, &mut head[got..]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => got += n,
                    }
                }
                let head = &head[..got];
                if *text {
                    text_is_zip(head).then_some(TEXT)
                } else {
                    bytes_are_zip(head).then_some(BYTES)
                }
            }
        }
    }
}

impl fmt::Debug for UploadContent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (kind, len) = match self {
            UploadContent::Text(t) => ("Text", t.len() as u64),
            UploadContent::Bytes(b) => ("Bytes", b.len() as u64),
            UploadContent::Spooled { content, text } => (
                if *text { "SpooledText" } else { "SpooledBytes" },
                content.len(),
            ),
        };
        write!(f, "{kind}({len} bytes)")
    }
}

/// One upload, with its fields exactly as the client sent them; `prepare` validates them.
#[derive(Debug, Clone)]
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
    file_name
        .filter(|n| !n.trim().is_empty())
        .and_then(FileType::from_file_name)
        .ok_or_else(|| IngestError::UnknownFileType {
            file_type: file_type.map(str::to_string),
            file_name: file_name.map(str::to_string),
        })
}

/// The upload's bytes in memory (for a single document, which is small), refusing more than
/// `limit` before copying or decoding anything. `too_large(size, from_base64)` builds the error
/// for an oversized upload.
pub fn into_bytes(
    content: UploadContent,
    text_is_base64: bool,
    limit: u64,
    too_large: impl Fn(u64, bool) -> IngestError,
) -> Result<Vec<u8>, IngestError> {
    let within = |size: u64, from_base64: bool| {
        if size > limit {
            Err(too_large(size, from_base64))
        } else {
            Ok(())
        }
    };
    match content {
        UploadContent::Bytes(bytes) => within(bytes.len() as u64, false).map(|()| bytes),
        UploadContent::Text(text) if !text_is_base64 => {
            within(text.len() as u64, false).map(|()| text.into_bytes())
        }
        UploadContent::Text(text) => {
            base64_content::decode_all(text.as_bytes(), limit, |size| too_large(size, true))
        }
        UploadContent::Spooled { content, text } if text && text_is_base64 => {
            let decoded = decode_spooled(&content, limit, |size| too_large(size, true))?;
            decoded.read_all().map_err(spool_failed)
        }
        UploadContent::Spooled { content, .. } => {
            within(content.len(), false)?;
            content.read_all().map_err(spool_failed)
        }
    }
}

/// The upload's bytes, spooled (for an archive, which may be large), refusing more than `limit`
/// with `too_large(size, from_base64)`; text is base64.
pub fn into_spooled(
    content: UploadContent,
    limit: u64,
    too_large: impl Fn(u64, bool) -> IngestError,
) -> Result<Spooled, IngestError> {
    let spooled = match content {
        UploadContent::Spooled {
            content,
            text: false,
        } => {
            if content.len() > limit {
                return Err(too_large(content.len(), false));
            }
            return Ok(content);
        }
        UploadContent::Spooled {
            content,
            text: true,
        } => decode_spooled(&content, limit, |size| too_large(size, true))?,
        other => Spooled::from_vec(into_bytes(other, true, limit, &too_large)?),
    };
    Ok(spooled)
}

/// Decodes spooled base64 into a new spool beside it, refusing with `too_large(size)` when it
/// decodes to more than `limit` bytes.
fn decode_spooled(
    text: &Spooled,
    limit: u64,
    too_large: impl Fn(u64) -> IngestError,
) -> Result<Spooled, IngestError> {
    let mut out = text.sibling();
    let mut decoder = Base64Decoder::new(limit);
    let mut reader = text.reader();
    let mut piece = vec![0u8; 256 * 1024];
    let mut sink = |bytes: &[u8]| out.write(bytes).map_err(spool_failed);
    loop {
        let n = reader.read(&mut piece).map_err(spool_failed)?;
        if n == 0 {
            break;
        }
        decoder.feed(&piece[..n], &mut sink)?;
    }
    let size = decoder.finish(&mut sink)?;
    if size > limit {
        return Err(too_large(size));
    }
    out.finish().map_err(spool_failed)
}

fn spool_failed(e: std::io::Error) -> IngestError {
    IngestError::Spool {
        detail: e.to_string(),
        full: e.kind() == std::io::ErrorKind::StorageFull,
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
    fn the_message_says_what_was_given_blank_rather_than_missing() {
        let message = |file_type: Option<&str>, file_name: Option<&str>| {
            detect_type(file_type, file_name)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert!(message(None, None).contains("neither fileType nor fileName was given"));
        for blank in ["", "  "] {
            let got = message(None, Some(blank));
            assert!(got.contains("fileName is blank"), "{got}");
            assert!(!got.contains("neither"), "{got}");
            let got = message(Some(""), Some(blank));
            assert!(
                got.contains("fileType is blank and fileName is blank"),
                "{got}"
            );
        }
        let got = message(Some(" "), None);
        assert!(
            got.contains("fileType is blank and no fileName was given"),
            "{got}"
        );
        let got = message(Some(""), Some("README"));
        assert!(
            got.contains("fileType is blank and fileName \"README\" has no recognised extension"),
            "{got}"
        );
    }

    #[test]
    fn file_type_round_trips_through_its_string() -> Result<(), IngestError> {
        for t in [FileType::Html, FileType::Markdown, FileType::Zip] {
            assert_eq!(t.as_str().parse::<FileType>()?, t);
        }
        Ok(())
    }
}
