//! A JSON upload body, split as it streams in. Its `content` string (a document, or a ZIP in
//! base64: up to 70 MB) goes, unescaped and checked, into a spool; everything else goes into a
//! small skeleton where `content` is `""`, which the usual strict parser then reads (unknown
//! fields, types, a missing or repeated `content`: the same answers as for any JSON body). So an
//! upload is never held in memory whole, nor copied into a `String`.
//!
//! Only the top-level object's `content` member is split out, and only when its value is a
//! string; the skeleton is the body with that string replaced, so it is valid JSON exactly when
//! the body is (the string itself is checked here as serde_json would: escapes, surrogate pairs,
//! control characters, UTF-8).

use std::fmt;
use std::path::Path;

use crate::ingest::{SpoolWriter, Spooled};

/// Bytes of the body other than the content string kept at most.
pub const SKELETON_MAX: usize = 1024 * 1024;
/// Unescaped content gathered before it is written to the spool.
const FLUSH_AT: usize = 256 * 1024;
/// Longest raw key compared with `content` (escaped, it is at most 42 bytes).
const KEY_MAX: usize = 64;

/// Why a body could not be split.
#[derive(Debug)]
pub enum SplitError {
    /// Not valid JSON (what, and at which byte of the body).
    Invalid(String),
    /// The fields other than `content` are too large.
    FieldsTooLarge,
    /// The spool failed (the server's disk).
    Spool(std::io::Error),
}

impl fmt::Display for SplitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SplitError::Invalid(what) => write!(f, "the request body is not valid JSON: {what}"),
            SplitError::FieldsTooLarge => write!(
                f,
                "the upload's fields other than content take more than {SKELETON_MAX} bytes; \
                 name, description and the other fields are short texts"
            ),
            SplitError::Spool(e) => write!(f, "the upload could not be kept for checking: {e}"),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// Before the top-level value.
    Start,
    /// The top-level value is not an object: everything is skeleton.
    NotObject,
    /// In the object, expecting a key or its end.
    Member,
    /// In a key (after a backslash when `escaped`).
    Key { escaped: bool },
    /// After a key, expecting `:`.
    Colon { content: bool },
    /// After `:`, expecting the value.
    ValueStart { content: bool },
    /// In a value other than the content string, `depth` brackets deep.
    Value {
        depth: usize,
        string: bool,
        escaped: bool,
    },
    /// In a number, `true`, `false` or `null`.
    Scalar,
    /// In the content string.
    Content(Escape),
    /// After a value, expecting `,` or the end.
    AfterValue,
    /// After the object (or anything unexpected): the rest is skeleton, for the parser to judge.
    Rest,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escape {
    None,
    Backslash,
    Hex {
        digits: u8,
        value: u32,
    },
    /// After a high surrogate: `\` must follow, then `u`.
    WantBackslash,
    WantU,
}

pub struct JsonSplit {
    state: State,
    skeleton: Vec<u8>,
    key: Vec<u8>,
    spool_dir: std::path::PathBuf,
    spool: Option<SpoolWriter>,
    out: Vec<u8>,
    /// Bytes of `out` already checked as UTF-8 (the rest may be an incomplete character).
    high_surrogate: Option<u32>,
    content: Option<Spooled>,
    offset: u64,
    /// How many bytes of a UTF-8 byte-order mark began the body (skipped: RFC 8259 lets a parser
    /// ignore one, and Windows PowerShell 5 writes one).
    bom: u8,
}

const UTF8_BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl JsonSplit {
    /// Spools the content string into `spool_dir`.
    pub fn new(spool_dir: &Path) -> JsonSplit {
        JsonSplit {
            state: State::Start,
            skeleton: Vec::new(),
            key: Vec::new(),
            spool_dir: spool_dir.to_path_buf(),
            spool: None,
            out: Vec::new(),
            high_surrogate: None,
            content: None,
            offset: 0,
            bom: 0,
        }
    }

    /// Takes the next piece of the body.
    pub fn feed(&mut self, bytes: &[u8]) -> Result<(), SplitError> {
        let mut i = 0;
        while i < bytes.len() {
            if let State::Content(Escape::None) = self.state {
                // The bulk of an upload: copy plain runs at once.
                let run = bytes[i..]
                    .iter()
                    .position(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                    .unwrap_or(bytes.len() - i);
                if run > 0 {
                    self.emit(&bytes[i..i + run])?;
                    i += run;
                    self.offset += run as u64;
                    continue;
                }
            }
            self.byte(bytes[i])?;
            i += 1;
            self.offset += 1;
        }
        if self.skeleton.len() > SKELETON_MAX {
            return Err(SplitError::FieldsTooLarge);
        }
        Ok(())
    }

    /// Ends the body: the skeleton, and the content string if there was one.
    pub fn finish(mut self) -> Result<(Vec<u8>, Option<Spooled>), SplitError> {
        if let State::Scalar = self.state {
            self.state = State::AfterValue;
        }
        if let State::Content(_) = self.state {
            // The parser reports the unterminated string.
            return Ok((self.skeleton, None));
        }
        Ok((self.skeleton, self.content))
    }

    fn invalid(&self, what: &str) -> SplitError {
        SplitError::Invalid(format!(
            "{what} in the content string at byte {}",
            self.offset
        ))
    }

    fn byte(&mut self, b: u8) -> Result<(), SplitError> {
        match self.state {
            State::Content(escape) => return self.content_byte(b, escape),
            State::Start
                if self.offset == u64::from(self.bom)
                    && UTF8_BOM.get(usize::from(self.bom)) == Some(&b) =>
            {
                self.bom += 1;
                return Ok(());
            }
            State::Start if (1..3).contains(&self.bom) => {
                // Part of a byte-order mark, then something else: not skipped, so refused as JSON.
                let part = usize::from(std::mem::replace(&mut self.bom, 3));
                self.skeleton.extend_from_slice(&UTF8_BOM[..part]);
                self.state = State::NotObject;
            }
            State::Start if is_space(b) => {}
            State::Start if b == b'{' => self.state = State::Member,
            State::Start => self.state = State::NotObject,
            State::NotObject | State::Rest => {}
            State::Member if is_space(b) => {}
            State::Member if b == b'"' => {
                self.key.clear();
                self.state = State::Key { escaped: false };
            }
            State::Member => self.state = State::Rest,
            State::Key { escaped } => {
                if !escaped && b == b'"' {
                    self.state = State::Colon {
                        content: self.key_is_content(),
                    };
                } else {
                    if self.key.len() <= KEY_MAX {
                        self.key.push(b);
                    }
                    self.state = State::Key {
                        escaped: !escaped && b == b'\\',
                    };
                }
            }
            State::Colon { .. } if is_space(b) => {}
            State::Colon { content } if b == b':' => self.state = State::ValueStart { content },
            State::Colon { .. } => self.state = State::Rest,
            State::ValueStart { .. } if is_space(b) => {}
            State::ValueStart { content: true } if b == b'"' => {
                self.skeleton.extend_from_slice(b"\"\"");
                self.spool = Some(SpoolWriter::new(&self.spool_dir));
                self.out.clear();
                self.high_surrogate = None;
                self.state = State::Content(Escape::None);
                return Ok(());
            }
            State::ValueStart { .. } => {
                self.state = match b {
                    b'{' | b'[' => State::Value {
                        depth: 1,
                        string: false,
                        escaped: false,
                    },
                    b'"' => State::Value {
                        depth: 0,
                        string: true,
                        escaped: false,
                    },
                    _ => State::Scalar,
                }
            }
            State::Value {
                depth,
                string,
                escaped,
            } => {
                self.state = if string {
                    match (escaped, b) {
                        (false, b'\\') => State::Value {
                            depth,
                            string,
                            escaped: true,
                        },
                        (false, b'"') if depth == 0 => State::AfterValue,
                        (false, b'"') => State::Value {
                            depth,
                            string: false,
                            escaped: false,
                        },
                        _ => State::Value {
                            depth,
                            string,
                            escaped: false,
                        },
                    }
                } else {
                    match b {
                        b'"' => State::Value {
                            depth,
                            string: true,
                            escaped: false,
                        },
                        b'{' | b'[' => State::Value {
                            depth: depth + 1,
                            string,
                            escaped,
                        },
                        b'}' | b']' if depth <= 1 => State::AfterValue,
                        b'}' | b']' => State::Value {
                            depth: depth - 1,
                            string,
                            escaped,
                        },
                        _ => State::Value {
                            depth,
                            string,
                            escaped,
                        },
                    }
                };
            }
            State::Scalar => {
                if b == b',' || b == b'}' || is_space(b) {
                    self.state = State::AfterValue;
                    return self.byte(b);
                }
            }
            State::AfterValue if is_space(b) => {}
            State::AfterValue if b == b',' => self.state = State::Member,
            State::AfterValue => self.state = State::Rest,
        }
        self.skeleton.push(b);
        Ok(())
    }

    /// Whether the key just read is `content` (as the parser will read it, escapes and all).
    fn key_is_content(&self) -> bool {
        if self.key.len() > KEY_MAX {
            return false;
        }
        let mut quoted = Vec::with_capacity(self.key.len() + 2);
        quoted.push(b'"');
        quoted.extend_from_slice(&self.key);
        quoted.push(b'"');
        serde_json::from_slice::<String>(&quoted).is_ok_and(|k| k == "content")
    }

    fn content_byte(&mut self, b: u8, escape: Escape) -> Result<(), SplitError> {
        let next = match escape {
            Escape::None => match b {
                b'"' => return self.end_content(),
                b'\\' => Escape::Backslash,
                0x00..=0x1f => return Err(self.invalid("a control character")),
                _ => {
                    self.emit(&[b])?;
                    Escape::None
                }
            },
            Escape::Backslash => {
                let plain = match b {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        self.state = State::Content(Escape::Hex {
                            digits: 0,
                            value: 0,
                        });
                        return Ok(());
                    }
                    _ => return Err(self.invalid("an invalid escape")),
                };
                self.emit(&[plain])?;
                Escape::None
            }
            Escape::Hex { digits, value } => {
                let digit = (b as char)
                    .to_digit(16)
                    .ok_or_else(|| self.invalid("an invalid \\u escape"))?;
                let value = value * 16 + digit;
                if digits < 3 {
                    Escape::Hex {
                        digits: digits + 1,
                        value,
                    }
                } else {
                    self.code_unit(value)?
                }
            }
            Escape::WantBackslash if b == b'\\' => Escape::WantU,
            Escape::WantU if b == b'u' => Escape::Hex {
                digits: 0,
                value: 0,
            },
            Escape::WantBackslash | Escape::WantU => {
                return Err(self.invalid("a lone leading surrogate"))
            }
        };
        self.state = State::Content(next);
        Ok(())
    }

    /// One `\uXXXX` code unit: a character, or half of a surrogate pair.
    fn code_unit(&mut self, unit: u32) -> Result<Escape, SplitError> {
        let scalar = match (self.high_surrogate.take(), unit) {
            (None, 0xD800..=0xDBFF) => {
                self.high_surrogate = Some(unit);
                return Ok(Escape::WantBackslash);
            }
            (None, 0xDC00..=0xDFFF) => return Err(self.invalid("a lone trailing surrogate")),
            (None, _) => unit,
            (Some(high), 0xDC00..=0xDFFF) => 0x10000 + ((high - 0xD800) << 10) + (unit - 0xDC00),
            (Some(_), _) => return Err(self.invalid("a lone leading surrogate")),
        };
        let c = char::from_u32(scalar).ok_or_else(|| self.invalid("an invalid \\u escape"))?;
        let mut buf = [0u8; 4];
        self.emit(c.encode_utf8(&mut buf).as_bytes())?;
        Ok(Escape::None)
    }

    fn emit(&mut self, bytes: &[u8]) -> Result<(), SplitError> {
        self.out.extend_from_slice(bytes);
        if self.out.len() >= FLUSH_AT {
            self.flush(false)?;
        }
        Ok(())
    }

    /// Checks the gathered content as UTF-8 and writes it to the spool, keeping an incomplete
    /// character at the end for the next piece unless `last`.
    fn flush(&mut self, last: bool) -> Result<(), SplitError> {
        let whole = match std::str::from_utf8(&self.out) {
            Ok(_) => self.out.len(),
            Err(e) if e.error_len().is_none() && !last => e.valid_up_to(),
            Err(_) => return Err(self.invalid("invalid UTF-8")),
        };
        if let Some(spool) = self.spool.as_mut() {
            spool.write(&self.out[..whole]).map_err(SplitError::Spool)?;
        }
        self.out.drain(..whole);
        Ok(())
    }

    fn end_content(&mut self) -> Result<(), SplitError> {
        self.flush(true)?;
        if let Some(spool) = self.spool.take() {
            self.content = Some(spool.finish().map_err(SplitError::Spool)?);
        }
        self.state = State::AfterValue;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::Value;

    /// Splits `body` fed in pieces of `piece` bytes; the skeleton with the content put back, as a
    /// value, or the error.
    fn split(body: &[u8], piece: usize) -> Result<(Vec<u8>, Option<String>), String> {
        let dir = tempfile::tempdir().map_err(|e| e.to_string())?;
        let mut s = JsonSplit::new(dir.path());
        for part in body.chunks(piece.max(1)) {
            s.feed(part).map_err(|e| e.to_string())?;
        }
        let (skeleton, content) = s.finish().map_err(|e| e.to_string())?;
        let content = content
            .map(|c| {
                c.read_all()
                    .map(|b| String::from_utf8(b).unwrap_or_default())
            })
            .transpose()
            .map_err(|e| e.to_string())?;
        Ok((skeleton, content))
    }

    /// What the usual parser makes of the skeleton, with the split content put back.
    fn reassembled(body: &[u8], piece: usize) -> Result<Value, String> {
        let (skeleton, content) = split(body, piece)?;
        let mut value: Value = serde_json::from_slice(&skeleton).map_err(|e| e.to_string())?;
        if let Some(c) = content {
            value["content"] = Value::String(c);
        }
        Ok(value)
    }

    #[test]
    fn the_content_string_is_split_out_and_unescaped() -> Result<(), String> {
        let body = [
            &br#" {"name": "x", "content": "a\"b\\c\/d\n\u00e9\ud83d\ude00 \u0000 "#[..],
            "café".as_bytes(),
            br#"", "fileType": "html"} "#,
        ]
        .concat();
        for piece in [1, 2, 3, 7, 1000] {
            let (skeleton, content) = split(&body, piece)?;
            assert_eq!(
                String::from_utf8_lossy(&skeleton),
                r#" {"name": "x", "content": "", "fileType": "html"} "#
            );
            assert_eq!(
                content.as_deref(),
                Some("a\"b\\c/d\n\u{e9}\u{1f600} \u{0} caf\u{e9}")
            );
        }
        Ok(())
    }

    #[test]
    fn only_a_top_level_content_string_is_split() -> Result<(), String> {
        for body in [
            &br#"{"x": {"content": "inner"}, "y": ["content", "}"]}"#[..],
            br#"{"content": 5}"#,
            br#"{"content": ["a"]}"#,
            br#"["content", "a"]"#,
        ] {
            let (skeleton, content) = split(body, 3)?;
            assert_eq!(skeleton, body, "{}", String::from_utf8_lossy(body));
            assert_eq!(content, None);
        }
        // An escaped key is still `content`, as the parser reads it.
        let (_, content) = split(br#"{"con\u0074ent": "yes"}"#, 1)?;
        assert_eq!(content.as_deref(), Some("yes"));
        Ok(())
    }

    #[test]
    fn a_broken_content_string_is_refused_as_invalid_json() {
        for body in [
            &br#"{"content": "a\x"}"#[..],
            br#"{"content": "a\ud800"}"#,
            br#"{"content": "a\ud800\u0041"}"#,
            br#"{"content": "\udc00"}"#,
            br#"{"content": "\u12G4"}"#,
            b"{\"content\": \"a\nb\"}",
            b"{\"content\": \"\xff\"}",
            b"{\"content\": \"\xc3\"}",
        ] {
            for piece in [1, 100] {
                let err = split(body, piece).err().unwrap_or_default();
                assert!(
                    err.contains("not valid JSON"),
                    "{}: {err}",
                    String::from_utf8_lossy(body)
                );
                assert!(serde_json::from_slice::<Value>(body).is_err());
            }
        }
    }

    #[test]
    fn a_byte_order_mark_is_skipped_in_whatever_pieces_it_comes() -> Result<(), String> {
        let mut body = UTF8_BOM.to_vec();
        body.extend_from_slice(br#"{"name": "n", "content": "<p>x</p>"}"#);
        for piece in [1, 2, 3, 4, 64] {
            let (skeleton, content) = split(&body, piece)?;
            assert_eq!(
                skeleton,
                br#"{"name": "n", "content": ""}"#.to_vec(),
                "{piece}"
            );
            assert_eq!(content.as_deref(), Some("<p>x</p>"));
        }
        // Part of one is no byte-order mark: the skeleton keeps it, and the parser refuses it.
        let (skeleton, _) = split(b"\xEF\xBB{\"content\": \"x\"}", 1)?;
        assert!(skeleton.starts_with(b"\xEF\xBB{"));
        Ok(())
    }

    #[test]
    fn large_other_fields_are_refused_not_held() {
        let body = format!(r#"{{"description": "{}"}}"#, "d".repeat(SKELETON_MAX + 10));
        let err = split(body.as_bytes(), 64 * 1024).err().unwrap_or_default();
        assert!(err.contains("other than content"), "{err}");
    }

    proptest! {
        #[test]
        fn splitting_agrees_with_the_parser(
            content in "\\PC{0,60}",
            name in "[a-z\"\\\\]{0,8}",
            order in 0usize..3,
            piece in 1usize..40,
        ) {
            let mut fields = [
                format!("\"name\": {}", Value::String(name)),
                format!("\"content\": {}", Value::String(content.clone())),
                "\"nested\": {\"content\": [1, \"}\", null]}".to_string(),
            ];
            fields.rotate_left(order);
            let body = format!("{{ {} }}", fields.join(" , "));
            let expected: Value = serde_json::from_str(&body).map_err(|e| TestCaseError::fail(e.to_string()))?;
            let got = reassembled(body.as_bytes(), piece).map_err(TestCaseError::fail)?;
            prop_assert_eq!(got, expected);
        }

        #[test]
        fn a_mangled_body_is_refused_when_the_parser_refuses_it(
            body in proptest::collection::vec(any::<u8>(), 0..40),
            piece in 1usize..10,
        ) {
            let mut full = br#"{"content": "#.to_vec();
            full.extend_from_slice(&body);
            let parsed = serde_json::from_slice::<Value>(&full);
            let split = reassembled(&full, piece);
            prop_assert_eq!(parsed.is_ok(), split.is_ok(), "{:?} vs {:?}", parsed, split);
            if let (Ok(a), Ok(b)) = (parsed, split) {
                prop_assert_eq!(a, b);
            }
        }
    }
}
