//! Base64 content (a ZIP sent inside JSON): standard alphabet, padding optional, ASCII whitespace
//! and line breaks tolerated, an optional `data:...;base64,` prefix. Decoded as it streams in,
//! 4,096 characters at a time, every character checked; past the size limit nothing more is
//! decoded, only counted, so the refusal can say how large the content is.

use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine;

use super::IngestError;

/// Characters decoded per chunk (a multiple of 4, so every chunk but the last is whole).
const CHUNK: usize = 4096;
/// The longest `data:...;base64,` header looked for.
const DATA_URL_MAX: usize = 1024;

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

/// Where the decoder's output goes.
pub type Sink<'a> = dyn FnMut(&[u8]) -> Result<(), IngestError> + 'a;

/// Decodes base64 fed to it in pieces of any size.
pub struct Base64Decoder {
    /// The start of the text, held until it is clear whether it is a data URL.
    head: Option<Vec<u8>>,
    /// Characters looked at (after a data URL prefix), for messages.
    offset: u64,
    data: u64,
    padding: u64,
    chunk: Vec<u8>,
    decoded: u64,
    /// Decoded bytes past which nothing more is written, only counted.
    limit: u64,
}

impl Base64Decoder {
    pub fn new(limit: u64) -> Base64Decoder {
        Base64Decoder {
            head: Some(Vec::new()),
            offset: 0,
            data: 0,
            padding: 0,
            chunk: Vec::with_capacity(CHUNK),
            decoded: 0,
            limit,
        }
    }

    /// Checks and decodes the next piece of text.
    pub fn feed(&mut self, text: &[u8], sink: &mut Sink<'_>) -> Result<(), IngestError> {
        match self.head.as_mut() {
            Some(head) => {
                head.extend_from_slice(text);
                if let Some(start) = data_url_end(head) {
                    let head = self.head.take().unwrap_or_default();
                    self.characters(&head[start..], sink)
                } else {
                    Ok(())
                }
            }
            None => self.characters(text, sink),
        }
    }

    /// Ends the text; returns the number of bytes it decodes to (more than were written when
    /// that is over the limit).
    pub fn finish(mut self, sink: &mut Sink<'_>) -> Result<u64, IngestError> {
        if let Some(head) = self.head.take() {
            let start = data_url_end(&head).unwrap_or(0);
            self.characters(&head[start..], sink)?;
        }
        let data = self.data;
        if data % 4 == 1 {
            return Err(invalid(format!(
                "{data} base64 characters cannot be decoded (one too many or too few: is the text \
                 truncated?)"
            )));
        }
        if self.padding > 0 && !(data + self.padding).is_multiple_of(4) {
            return Err(invalid(format!(
                "{} '=' padding characters do not fit {data} data characters",
                self.padding
            )));
        }
        self.flush(sink)?;
        let expected = data / 4 * 3 + [0, 0, 1, 2][(data % 4) as usize];
        if expected <= self.limit && self.decoded != expected {
            return Err(invalid(format!(
                "decoded {} bytes where {expected} were expected",
                self.decoded
            )));
        }
        Ok(expected)
    }

    fn characters(&mut self, text: &[u8], sink: &mut Sink<'_>) -> Result<(), IngestError> {
        for (i, &b) in text.iter().enumerate() {
            let offset = self.offset;
            self.offset += 1;
            if b.is_ascii_whitespace() {
                continue;
            }
            if b == b'=' {
                self.padding += 1;
                if self.padding > 2 {
                    return Err(invalid(format!(
                        "more than two '=' padding characters (at offset {offset})"
                    )));
                }
            } else if is_alphabet(b) {
                if self.padding > 0 {
                    return Err(invalid(format!(
                        "data continues after '=' padding (at offset {offset})"
                    )));
                }
                self.data += 1;
                self.chunk.push(b);
                if self.chunk.len() == CHUNK {
                    self.flush(sink)?;
                }
            } else if b == b'-' || b == b'_' {
                return Err(invalid(format!(
                    "character {:?} at offset {offset} belongs to the URL-safe alphabet; encode with \
                     the standard alphabet (+ and /)",
                    b as char
                )));
            } else {
                let rest = &text[i..text.len().min(i + 4)];
                let valid = match std::str::from_utf8(rest) {
                    Ok(s) => s,
                    Err(e) => std::str::from_utf8(&rest[..e.valid_up_to()]).unwrap_or_default(),
                };
                let shown = valid.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER);
                return Err(invalid(format!(
                    "invalid character {shown:?} at offset {offset}"
                )));
            }
        }
        Ok(())
    }

    /// Decodes the characters gathered so far (past the limit, only counts them).
    fn flush(&mut self, sink: &mut Sink<'_>) -> Result<(), IngestError> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        let whole = self.chunk.len() / 4 * 3 + [0, 0, 1, 2][self.chunk.len() % 4];
        if self.decoded + whole as u64 > self.limit {
            self.decoded += whole as u64;
            self.chunk.clear();
            return Ok(());
        }
        let mut out = [0u8; CHUNK / 4 * 3];
        let n = ENGINE.decode_slice(&self.chunk, &mut out).map_err(|e| {
            invalid(format!(
                "{e} (the final characters do not form a whole byte: is the text truncated?)"
            ))
        })?;
        self.chunk.clear();
        self.decoded += n as u64;
        sink(&out[..n])
    }
}

/// Where the base64 starts in `head`: after a `data:<type>;base64,` prefix (which some clients
/// add), or at 0. `None` while `head` could still turn out to be such a prefix.
fn data_url_end(head: &[u8]) -> Option<usize> {
    let start = head
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(head.len());
    let rest = &head[start..];
    let scheme = b"data:";
    let compared = rest.len().min(scheme.len());
    if !rest[..compared].eq_ignore_ascii_case(&scheme[..compared]) {
        return Some(0);
    }
    if rest.len() < scheme.len() {
        return None;
    }
    match rest.iter().position(|b| *b == b',') {
        Some(comma) if rest[..comma].to_ascii_lowercase().ends_with(b";base64") => {
            Some(start + comma + 1)
        }
        Some(_) => Some(0),
        None if rest.len() > DATA_URL_MAX => Some(0),
        None => None,
    }
}

/// Decodes a whole text at once into memory, refusing (with `too_large(size)`) more than `limit`
/// decoded bytes.
pub fn decode_all(
    text: &[u8],
    limit: u64,
    too_large: impl Fn(u64) -> IngestError,
) -> Result<Vec<u8>, IngestError> {
    let mut decoder = Base64Decoder::new(limit);
    let mut out = Vec::new();
    let mut sink = |bytes: &[u8]| {
        out.extend_from_slice(bytes);
        Ok(())
    };
    decoder.feed(text, &mut sink)?;
    let size = decoder.finish(&mut sink)?;
    if size > limit {
        return Err(too_large(size));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roundtrip(text: &str) -> Result<Vec<u8>, IngestError> {
        decode_all(text.as_bytes(), u64::MAX, |size| {
            IngestError::ArchiveTooLarge {
                size,
                from_base64: true,
            }
        })
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

    #[test]
    fn pieces_of_any_size_decode_like_the_whole() -> Result<(), IngestError> {
        let data: Vec<u8> = (0..10_000u32).map(|i| (i * 13 % 256) as u8).collect();
        let text = format!(
            "  data:application/zip;base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&data)
        );
        for piece in [1, 3, 5, 64, 4096, 100_000] {
            let mut decoder = Base64Decoder::new(u64::MAX);
            let mut out = Vec::new();
            let mut sink = |b: &[u8]| {
                out.extend_from_slice(b);
                Ok(())
            };
            for part in text.as_bytes().chunks(piece) {
                decoder.feed(part, &mut sink)?;
            }
            assert_eq!(decoder.finish(&mut sink)?, data.len() as u64);
            assert_eq!(out, data, "pieces of {piece}");
        }
        Ok(())
    }

    #[test]
    fn past_the_limit_the_size_is_still_counted() {
        let text = base64::engine::general_purpose::STANDARD.encode(vec![7u8; 10_000]);
        let err = decode_all(text.as_bytes(), 5_000, |size| {
            IngestError::ArchiveTooLarge {
                size,
                from_base64: true,
            }
        })
        .err();
        assert!(
            matches!(err, Some(IngestError::ArchiveTooLarge { size: 10_000, .. })),
            "{err:?}"
        );
    }
}
