//! Test helpers: uploads and their outcomes; the archive builders are shared with the integration
//! tests (`tests/common/zips.rs`).

#[path = "../../../tests/common/zips.rs"]
mod zips;
pub use zips::*;

use crate::ingest::{prepare, IngestError, Prepared, Upload, UploadContent};

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

pub fn upload(file_type: Option<&str>, file_name: Option<&str>, content: UploadContent) -> Upload {
    Upload {
        file_type: file_type.map(str::to_string),
        file_name: file_name.map(str::to_string),
        content,
        entry_point: None,
    }
}

pub fn zip_upload(bytes: Vec<u8>) -> Upload {
    upload(Some("zip"), None, UploadContent::Bytes(bytes))
}

pub fn prepare_zip(bytes: Vec<u8>) -> Result<Prepared, IngestError> {
    prepare(zip_upload(bytes))
}

pub fn prepare_zip_with_entry(bytes: Vec<u8>, entry: &str) -> Result<Prepared, IngestError> {
    prepare(Upload {
        entry_point: Some(entry.to_string()),
        ..zip_upload(bytes)
    })
}

/// The error's code and message, or a description of the unexpected success.
pub fn refusal(result: Result<Prepared, IngestError>) -> (&'static str, String) {
    match result {
        Ok(p) => ("accepted", format!("{p:?}")),
        Err(e) => (e.code(), e.to_string()),
    }
}

pub fn paths_of(prepared: &Prepared) -> Vec<&str> {
    prepared.files.iter().map(|f| f.path.as_str()).collect()
}
