//! Random secrets and their digests: tokens for sessions, setup, invites, viewing grants and share
//! links, all drawn from the operating system's secure random source and stored only as SHA-256.

use std::fmt;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::rngs::SysRng;
use rand::TryRng;
use sha2::{Digest, Sha256};

/// The operating system's random source failed; nothing secret can be made.
#[derive(Debug, thiserror::Error)]
#[error("the operating system's random source failed: {0}")]
pub struct RandomError(String);

/// Fills `buf` from the operating system's secure random source.
pub fn fill_random(buf: &mut [u8]) -> Result<(), RandomError> {
    SysRng
        .try_fill_bytes(buf)
        .map_err(|e| RandomError(e.to_string()))
}

/// A URL-safe token carrying `bytes` random bytes (unpadded base64url, 4 characters per 3 bytes).
pub fn random_token(bytes: usize) -> Result<Secret, RandomError> {
    let mut buf = vec![0u8; bytes];
    fill_random(&mut buf)?;
    Ok(Secret(URL_SAFE_NO_PAD.encode(buf)))
}

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    Sha256::digest(data).into()
}

/// Lower-case hex of a byte string (content digests shown to clients).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// A secret string (a token, a key, a password). Its `Debug` and `Display` never show the value, so
/// it cannot reach a log line or an error message by accident; `expose()` is the only way in.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Self {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The SHA-256 digest under which the secret is stored and looked up.
    pub fn digest(&self) -> [u8; 32] {
        sha256(self.0.as_bytes())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_url_safe_and_distinct() {
        let a = random_token(32).expect("OS random source works in tests");
        let b = random_token(32).expect("OS random source works in tests");
        assert_eq!(a.expose().len(), 43);
        assert_ne!(a, b);
        assert!(a
            .expose()
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'));
    }

    #[test]
    fn secrets_never_print_their_value() {
        let s = Secret::new("hunter2-very-secret".into());
        assert!(!format!("{s:?}").contains("hunter2"));
        assert!(!format!("{s}").contains("hunter2"));
    }

    #[test]
    fn hex_is_lower_case_and_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0xab, 0x0f, 0xff]), "00ab0fff");
    }
}
