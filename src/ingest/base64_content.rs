//! Base64 content (a ZIP sent inside JSON): standard alphabet, padding optional, ASCII whitespace
//! and line breaks tolerated, an optional `data:...;base64,` prefix. The text is checked and its
//! decoded size computed before anything is decoded; decoding then works in small chunks so no
//! whitespace-free copy of the text is ever made.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::IngestError;

/// Characters decoded per chunk (a multiple of 4, so every chunk but the last is whole).
const CHUNK: usize = 4096;

const ENGINE: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fn invalid(detail: impl Into<String>) -> IngestError {
    IngestError::InvalidBase64 {
        detail: detail.into(),
    }
}

fn is_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'+' || b == b'/'
}

/// Drops a `data:<type>;base64,` prefix, which some clients add.
fn strip_data_url(text: &str) -> &str {
    let head = text.trim_start();
    let is_data_url = head
        .as_bytes()
        .get(..5)
        .is_some_and(|p| p.eq_ignore_ascii_case(b"data:"));
    if is_data_url {
        if let Some(comma) = head.find(',') {
            if head[..comma].to_ascii_lowercase().ends_with(";base64") {
                return &head[comma + 1..];
            }
        }
    }
    text
}

/// Checks every character of `text` and returns the number of bytes it decodes to, without
/// decoding.
pub fn decoded_len(text: &str) -> Result<u64, IngestError> {
    let text = strip_data_url(text);
    let mut data: u64 = 0;
    let mut padding: u64 = 0;
    for (offset, b) in text.bytes().enumerate() {
        if b.is_ascii_whitespace() {
            continue;
        }
        if b == b'=' {
            padding += 1;
            if padding > 2 {
                return Err(invalid(format!(
                    "more than two '=' padding characters (at offset {offset})"
                )));
            }
        } else if is_alphabet(b) {
            if padding > 0 {
                return Err(invalid(format!(
                    "data continues after '=' padding (at offset {offset})"
                )));
            }
            data += 1;
        } else if b == b'-' || b == b'_' {
            return Err(invalid(format!(
                "character {:?} at offset {offset} belongs to the URL-safe alphabet; encode with \
                 the standard alphabet (+ and /)",
                b as char
            )));
        } else {
            let shown = text[offset..].chars().next().unwrap_or('?');
            return Err(invalid(format!(
                "invalid character {shown:?} at offset {offset}"
            )));
        }
    }
    if data % 4 == 1 {
        return Err(invalid(format!(
            "{data} base64 characters cannot be decoded (one too many or too few: is the text \
             truncated?)"
        )));
    }
    if padding > 0 && !(data + padding).is_multiple_of(4) {
        return Err(invalid(format!(
            "{padding} '=' padding characters do not fit {data} data characters"
        )));
    }
    Ok(data / 4 * 3 + [0, 0, 1, 2][(data % 4) as usize])
}

/// Decodes `text`, which `decoded_len` has accepted, into exactly `expected` bytes.
pub fn decode(text: &str, expected: u64) -> Result<Vec<u8>, IngestError> {
    let text = strip_data_url(text);
    let capacity = usize::try_from(expected).map_err(|_| invalid("content is too large"))?;
    let mut out = Vec::with_capacity(capacity);
    let mut chunk = [0u8; CHUNK];
    let mut filled = 0;
    for b in text.bytes().filter(|b| is_alphabet(*b)) {
        chunk[filled] = b;
        filled += 1;
        if filled == CHUNK {
            decode_chunk(&chunk, &mut out)?;
            filled = 0;
        }
    }
    decode_chunk(&chunk[..filled], &mut out)?;
    if out.len() as u64 != expected {
        return Err(invalid(format!(
            "decoded {} bytes where {expected} were expected",
            out.len()
        )));
    }
    Ok(out)
}

fn decode_chunk(chunk: &[u8], out: &mut Vec<u8>) -> Result<(), IngestError> {
    ENGINE.decode_vec(chunk, out).map_err(|e| {
        invalid(format!(
            "{e} (the final characters do not form a whole byte: is the text truncated?)"
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> Result<Vec<u8>, IngestError> {
        let len = decoded_len(text)?;
        decode(text, len)
    }

    #[test]
    fn padding_is_optional_and_whitespace_is_ignored() -> Result<(), IngestError> {
        assert_eq!(roundtrip("aGVsbG8=")?, b"hello");
        assert_eq!(roundtrip("aGVsbG8")?, b"hello");
        assert_eq!(roundtrip(" aGVs\r\nbG8=\n")?, b"hello");
        assert_eq!(roundtrip("")?, b"");
        Ok(())
    }

    #[test]
    fn long_input_spanning_several_chunks_decodes_exactly() -> Result<(), IngestError> {
        let data: Vec<u8> = (0..20_000u32).map(|i| (i * 7 % 251) as u8).collect();
        let encoded = base64::engine::general_purpose::STANDARD.encode(&data);
        let wrapped: Vec<&str> = encoded
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap_or_default())
            .collect();
        assert_eq!(roundtrip(&wrapped.join("\n"))?, data);
        Ok(())
    }

    #[test]
    fn a_data_url_prefix_is_accepted() -> Result<(), IngestError> {
        assert_eq!(roundtrip("data:application/zip;base64,aGVsbG8=")?, b"hello");
        Ok(())
    }

    #[test]
    fn bad_characters_padding_and_lengths_are_refused() {
        for bad in [
            "aGVs!G8=",
            "aGVsbG8=x",
            "aGVsbG8===",
            "aGVsb",
            "aG-s",
            "aGVsbG9==",
        ] {
            let err = roundtrip(bad).err();
            assert_eq!(err.map(|e| e.code()), Some("invalid_base64"), "{bad:?}");
        }
    }

    #[test]
    fn non_canonical_trailing_bits_are_refused() {
        assert_eq!(
            roundtrip("aGVsbG9").err().map(|e| e.code()),
            Some("invalid_base64")
        );
    }
}
