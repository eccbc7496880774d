//! A single HTML or Markdown upload: size limit first, then emptiness and UTF-8, then the stored
//! file name (the sanitised base name of `fileName`, or `index.html` / `README.md`), which is also
//! the entry point. `entryPoint` is ignored for single files.

use sha2::{Digest, Sha256};

use super::content_type::content_type_for;
use super::upload::{into_bytes, FileType, UploadContent};
use super::{paths, FileEntry, IngestError, Prepared, Source, MAX_SINGLE_FILE};

/// Longest stored file name, in bytes.
pub const MAX_NAME_BYTES: usize = 255;

fn subject(file_type: FileType) -> &'static str {
    match file_type {
        FileType::Markdown => "Markdown file",
        FileType::Html | FileType::Zip => "HTML file",
    }
}

/// Validates and fingerprints one HTML or Markdown document.
pub fn prepare_single(
    file_type: FileType,
    file_name: Option<&str>,
    content: UploadContent,
) -> Result<Prepared, IngestError> {
    let subject = subject(file_type);
    let bytes = into_bytes(content, false, MAX_SINGLE_FILE, |size, _| {
        IngestError::FileTooLarge {
            subject,
            size,
            limit: MAX_SINGLE_FILE,
        }
    })?;
    if bytes.is_empty() {
        return Err(IngestError::EmptyFile {
            subject,
            detail: "0 bytes",
        });
    }
    let text = std::str::from_utf8(&bytes).map_err(|e| IngestError::InvalidEncoding {
        subject,
        offset: e.valid_up_to(),
        size: bytes.len() as u64,
    })?;
    if text.trim().is_empty() {
        return Err(IngestError::EmptyFile {
            subject,
            detail: "it contains only whitespace",
        });
    }
    let path = stored_name(file_name, file_type)?;
    let entry = FileEntry {
        size: bytes.len() as u64,
        sha256: Sha256::digest(&bytes).into(),
        content_type: content_type_for(&path),
        path: path.clone(),
    };
    Ok(Prepared {
        file_type,
        entry_point: path,
        upload_size: entry.size,
        files: vec![entry],
        source: Source::Single(bytes),
    })
}

/// The name a single document is stored under: the base name of `file_name` with directories
/// and control characters removed and surrounding whitespace trimmed, given the type's extension
/// (`.html`, `.md`) when it lacks one; `index.html` / `README.md` (as the hosted API names it)
/// when no name was given.
pub fn stored_name(file_name: Option<&str>, file_type: FileType) -> Result<String, IngestError> {
    let (default, extension, has_extension): (&str, &str, fn(&str) -> bool) = match file_type {
        FileType::Markdown => ("README.md", ".md", paths::is_markdown),
        FileType::Html | FileType::Zip => ("index.html", ".html", paths::is_html),
    };
    let Some(given) = file_name.filter(|n| !n.trim().is_empty()) else {
        return Ok(default.to_string());
    };
    let base = given.rsplit(['/', '\\']).next().unwrap_or(given);
    if let Some(reason) = paths::misleading(base) {
        return Err(IngestError::InvalidFileName {
            name: given.to_string(),
            reason: format!("its {reason}; give a plain file name such as report.html"),
        });
    }
    let cleaned: String = base.chars().filter(|c| !c.is_control()).collect();
    let mut name = cleaned.trim().to_string();
    if name.is_empty() || name == "." || name == ".." {
        return Err(IngestError::InvalidFileName {
            name: given.to_string(),
            reason: "nothing is left of it once directories and control characters are removed; \
                     give a plain file name such as report.html"
                .to_string(),
        });
    }
    if !has_extension(&name) {
        name.push_str(extension);
    }
    if name.len() > MAX_NAME_BYTES {
        return Err(IngestError::InvalidFileName {
            name: given.to_string(),
            reason: format!(
                "the file name is {} bytes long; the limit is {MAX_NAME_BYTES} bytes",
                name.len()
            ),
        });
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_name_becomes_index_html_or_readme_md() -> Result<(), IngestError> {
        assert_eq!(stored_name(None, FileType::Html)?, "index.html");
        assert_eq!(stored_name(Some("  "), FileType::Markdown)?, "README.md");
        Ok(())
    }

    #[test]
    fn directories_and_control_characters_are_removed_from_the_name() -> Result<(), IngestError> {
        assert_eq!(
            stored_name(Some("../../etc/Report.HTML"), FileType::Html)?,
            "Report.HTML"
        );
        assert_eq!(
            stored_name(Some("C:\\docs\\no\ttes.md"), FileType::Markdown)?,
            "notes.md"
        );
        Ok(())
    }

    #[test]
    fn a_name_without_the_types_extension_gets_it() -> Result<(), IngestError> {
        assert_eq!(stored_name(Some("report"), FileType::Html)?, "report.html");
        assert_eq!(
            stored_name(Some("notes.txt"), FileType::Markdown)?,
            "notes.txt.md"
        );
        assert_eq!(stored_name(Some("page.htm"), FileType::Html)?, "page.htm");
        Ok(())
    }

    #[test]
    fn unusable_or_overlong_names_are_refused() {
        for bad in [
            "docs/",
            "..",
            "\u{7}",
            "report\u{202e}lmth.md",
            "a\u{200b}.html",
            "dir/\u{2066}x.html",
        ] {
            let code = stored_name(Some(bad), FileType::Html)
                .err()
                .map(|e| e.code());
            assert_eq!(code, Some("invalid_file_name"), "{bad:?}");
        }
        let long = format!("{}.html", "a".repeat(250));
        assert!(stored_name(Some(&long), FileType::Html).is_ok());
        let too_long = format!("{}.html", "a".repeat(251));
        let err = stored_name(Some(&too_long), FileType::Html).err();
        assert!(err
            .map(|e| e.to_string())
            .unwrap_or_default()
            .contains("256 bytes"));
    }
}
