//! The API key format: `ar_live_` + 32 characters of the URL-safe base64 alphabet, the last 6 of
//! which are a CRC32 checksum of the first 26. Generation, parsing and hashing; no I/O beyond the
//! OS random source, so a mistyped or invented key is refused without touching the database.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;

use crate::secrets::{fill_random, sha256, RandomError, Secret};

/// Every key starts with this.
pub const KEY_PREFIX: &str = "ar_live_";
/// Characters after the prefix.
pub const BODY_LEN: usize = 32;
/// Random characters at the start of the body (26 × 6 = 156 bits).
pub const RANDOM_LEN: usize = 26;
/// Checksum characters at the end of the body.
pub const CHECKSUM_LEN: usize = BODY_LEN - RANDOM_LEN;
/// Characters of the body kept for display (`ar_live_XXXXXXXX…`).
pub const DISPLAY_PREFIX_LEN: usize = 8;
/// Total length of a key.
pub const KEY_LEN: usize = KEY_PREFIX.len() + BODY_LEN;

/// Longest expiration accepted, in days (ten years).
pub const MAX_EXPIRY_DAYS: i64 = 3650;

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

/// A freshly made key: the secret (shown once) and what may be stored.
#[derive(Debug)]
pub struct NewKey {
    pub secret: Secret,
    pub stored: StoredForm,
}

/// What the database keeps of a key: its SHA-256 and the 8 characters after `ar_live_`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredForm {
    pub hash: [u8; 32],
    pub prefix: String,
}

/// Why a presented string is not a key. The wording never repeats the presented value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyFormatError {
    #[error("API keys start with \"ar_live_\"")]
    WrongPrefix,
    #[error("API keys are \"ar_live_\" followed by exactly 32 characters")]
    WrongLength,
    #[error("API keys use only the characters A-Z, a-z, 0-9, '-' and '_'")]
    WrongAlphabet,
    #[error("API key checksum does not match; the key is mistyped or incomplete")]
    BadChecksum,
}

/// Makes a new key from the OS random source.
pub fn generate() -> Result<NewKey, RandomError> {
    // 20 bytes encode to 27 characters; the first 26 carry 156 uniformly random bits.
    let mut random = [0u8; 20];
    fill_random(&mut random)?;
    let encoded = URL_SAFE_NO_PAD.encode(random);
    let body_random = &encoded[..RANDOM_LEN];
    let key = format!(
        "{KEY_PREFIX}{body_random}{}",
        checksum(body_random.as_bytes())
    );
    let stored = stored_form(&key);
    Ok(NewKey {
        secret: Secret::new(key),
        stored,
    })
}

/// Checks the shape and checksum of a presented key and returns its stored form.
pub fn parse(presented: &str) -> Result<StoredForm, KeyFormatError> {
    check(presented)?;
    Ok(stored_form(presented))
}

/// Checks the shape and checksum of a presented key and returns its SHA-256, what authentication
/// looks up (without the display prefix, which it does not need).
pub fn hash(presented: &str) -> Result<[u8; 32], KeyFormatError> {
    check(presented)?;
    Ok(sha256(presented.as_bytes()))
}

/// The shape and checksum of a presented key, checked on every authenticated request: no
/// allocation, one pass over 40 bytes.
fn check(presented: &str) -> Result<(), KeyFormatError> {
    let body = presented
        .strip_prefix(KEY_PREFIX)
        .ok_or(KeyFormatError::WrongPrefix)?;
    if body.len() != BODY_LEN {
        return Err(KeyFormatError::WrongLength);
    }
    if !body.bytes().all(in_alphabet) {
        return Err(KeyFormatError::WrongAlphabet);
    }
    let (random, check) = body.as_bytes().split_at(RANDOM_LEN);
    if checksum_chars(random) != check {
        return Err(KeyFormatError::BadChecksum);
    }
    Ok(())
}

/// Whether `b` is in the URL-safe base64 alphabet (`ALPHABET`).
fn in_alphabet(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// The 6-character checksum of the random part: CRC32, big-endian in 6-bit groups.
pub fn checksum(random: &[u8]) -> String {
    checksum_chars(random).iter().map(|&b| b as char).collect()
}

fn checksum_chars(random: &[u8]) -> [u8; CHECKSUM_LEN] {
    let crc = crc32fast::hash(random);
    std::array::from_fn(|i| {
        let shift = 6 * (CHECKSUM_LEN - 1 - i);
        ALPHABET[((crc >> shift) & 0x3f) as usize]
    })
}

/// The display form of a stored prefix: `ar_live_XXXXXXXX…`.
pub fn display(prefix: &str) -> String {
    format!("{KEY_PREFIX}{prefix}…")
}

/// How long a rotated key keeps working next to the key that replaced it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overlap {
    None,
    Hour,
    Day,
    Week,
}

impl Overlap {
    pub const NAMES: &'static str = "none, 1h, 1d (the default) or 7d";

    /// `none`, `1h`, `1d` or `7d`.
    pub fn parse(text: &str) -> Option<Overlap> {
        match text {
            "none" => Some(Overlap::None),
            "1h" => Some(Overlap::Hour),
            "1d" => Some(Overlap::Day),
            "7d" => Some(Overlap::Week),
            _ => None,
        }
    }

    pub fn ms(self) -> i64 {
        match self {
            Overlap::None => 0,
            Overlap::Hour => crate::clock::HOUR_MS,
            Overlap::Day => crate::clock::DAY_MS,
            Overlap::Week => 7 * crate::clock::DAY_MS,
        }
    }
}

/// The expiry of a key that replaces one created at `created_at` and expiring at `expires_at`: the
/// same lifetime from `now`, or none.
pub fn replacement_expiry(created_at: i64, expires_at: Option<i64>, now: i64) -> Option<i64> {
    expires_at.map(|at| now + (at - created_at).max(0))
}

/// The expiry time of a key created at `now` that lasts `days` days (1..=3650).
pub fn expires_after_days(days: i64, now: i64) -> Result<i64, String> {
    if !(1..=MAX_EXPIRY_DAYS).contains(&days) {
        return Err(format!(
            "expiresInDays must be a whole number of days from 1 to {MAX_EXPIRY_DAYS}; got {days}"
        ));
    }
    Ok(now + days * crate::clock::DAY_MS)
}

/// Checks an explicit expiry time: in the future, and no further than the longest expiration.
pub fn check_expires_at(at: i64, now: i64) -> Result<i64, String> {
    if at <= now {
        return Err(format!(
            "expiresAt must be in the future (milliseconds since the Unix epoch); got {}, and it is now {}",
            crate::clock::ms_and_iso(at),
            crate::clock::ms_and_iso(now)
        ));
    }
    if at > now + MAX_EXPIRY_DAYS * crate::clock::DAY_MS {
        return Err(format!(
            "expiresAt is more than {MAX_EXPIRY_DAYS} days away; use a nearer date or no expiration"
        ));
    }
    Ok(at)
}

fn stored_form(key: &str) -> StoredForm {
    StoredForm {
        hash: sha256(key.as_bytes()),
        prefix: key[KEY_PREFIX.len()..KEY_PREFIX.len() + DISPLAY_PREFIX_LEN].to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn new_key() -> NewKey {
        generate().expect("OS random source works in tests")
    }

    #[test]
    fn the_alphabet_check_accepts_exactly_the_alphabet() {
        for b in 0..=u8::MAX {
            assert_eq!(in_alphabet(b), ALPHABET.contains(&b), "byte {b}");
        }
    }

    #[test]
    fn hash_is_the_stored_forms_hash_and_refuses_what_parse_refuses() {
        let key = new_key();
        let text = key.secret.expose();
        assert_eq!(hash(text), Ok(key.stored.hash));
        let mistyped = format!("{}A", &text[..text.len() - 1]);
        assert_eq!(hash(&mistyped).err(), parse(&mistyped).err());
        assert!(hash(&mistyped).is_err() || mistyped == text);
    }

    #[test]
    fn generated_keys_have_the_documented_shape() {
        let key = new_key();
        let text = key.secret.expose();
        assert_eq!(text.len(), KEY_LEN);
        assert!(text.starts_with("ar_live_"));
        assert!(text[8..].bytes().all(|b| ALPHABET.contains(&b)));
    }

    #[test]
    fn generated_keys_parse_back_to_their_stored_form() {
        let key = new_key();
        assert_eq!(parse(key.secret.expose()), Ok(key.stored.clone()));
    }

    #[test]
    fn stored_prefix_is_the_eight_characters_after_ar_live() {
        let key = new_key();
        assert_eq!(key.stored.prefix, &key.secret.expose()[8..16]);
    }

    #[test]
    fn stored_hash_is_the_sha256_of_the_whole_key() {
        let key = new_key();
        let expected: [u8; 32] = {
            use sha2::Digest;
            sha2::Sha256::digest(key.secret.expose().as_bytes()).into()
        };
        assert_eq!(key.stored.hash, expected);
    }

    #[test]
    fn two_keys_are_never_the_same() {
        let a = new_key();
        let b = new_key();
        assert_ne!(a.secret, b.secret);
        assert_ne!(a.stored.hash, b.stored.hash);
    }

    #[test]
    fn a_single_changed_character_breaks_the_checksum() {
        let key = new_key();
        let text = key.secret.expose();
        for pos in 8..KEY_LEN {
            let mut bytes = text.as_bytes().to_vec();
            bytes[pos] = if bytes[pos] == b'A' { b'B' } else { b'A' };
            let changed = String::from_utf8(bytes).expect("ASCII stays UTF-8");
            assert!(
                parse(&changed).is_err(),
                "changing position {pos} went unnoticed"
            );
        }
    }

    #[test]
    fn each_wrong_shape_gets_its_own_reason() {
        let key = new_key();
        let text = key.secret.expose();
        assert_eq!(
            parse(&text.replace("ar_live_", "ar_test_")),
            Err(KeyFormatError::WrongPrefix)
        );
        assert_eq!(
            parse(&text[..KEY_LEN - 1]),
            Err(KeyFormatError::WrongLength)
        );
        assert_eq!(parse(&format!("{text}A")), Err(KeyFormatError::WrongLength));
        let mut bad = text.to_string();
        bad.replace_range(10..11, "+");
        assert_eq!(parse(&bad), Err(KeyFormatError::WrongAlphabet));
        assert_eq!(parse(""), Err(KeyFormatError::WrongPrefix));
    }

    #[test]
    fn checksum_is_known_for_a_fixed_input() {
        // CRC32("AAAAAAAAAAAAAAAAAAAAAAAAAA") spelled in 6-bit groups; pins the format for scanners.
        let crc = crc32fast::hash(b"AAAAAAAAAAAAAAAAAAAAAAAAAA");
        let sum = checksum(b"AAAAAAAAAAAAAAAAAAAAAAAAAA");
        let decoded = sum.bytes().fold(0u64, |acc, c| {
            (acc << 6)
                | ALPHABET
                    .iter()
                    .position(|&a| a == c)
                    .expect("alphabet char") as u64
        });
        assert_eq!(decoded, u64::from(crc));
    }

    #[test]
    fn expirations_must_be_in_the_future_and_within_ten_years() {
        let now = 1_700_000_000_000;
        assert_eq!(
            expires_after_days(7, now),
            Ok(now + 7 * crate::clock::DAY_MS)
        );
        assert!(expires_after_days(0, now).is_err());
        assert!(expires_after_days(-1, now).is_err());
        assert!(expires_after_days(MAX_EXPIRY_DAYS + 1, now).is_err());
        assert!(check_expires_at(now, now).is_err());
        assert!(check_expires_at(now - 1, now).is_err());
        assert_eq!(check_expires_at(now + 1, now), Ok(now + 1));
    }

    #[test]
    fn display_form_ends_with_an_ellipsis() {
        assert_eq!(display("AbCdEfGh"), "ar_live_AbCdEfGh…");
    }

    proptest! {
        #[test]
        fn parsing_never_panics(s in ".*") {
            let _ = parse(&s);
        }

        #[test]
        fn parsing_accepts_exactly_well_formed_keys(body in "[A-Za-z0-9_-]{26}") {
            let key = format!("ar_live_{body}{}", checksum(body.as_bytes()));
            let stored = parse(&key).expect("a key with a correct checksum parses");
            prop_assert_eq!(stored.prefix, body[..8].to_string());
            prop_assert_eq!(stored.hash, sha256(key.as_bytes()));
        }

        #[test]
        fn a_wrong_checksum_is_always_refused(body in "[A-Za-z0-9_-]{26}", check in "[A-Za-z0-9_-]{6}") {
            prop_assume!(check != checksum(body.as_bytes()));
            prop_assert_eq!(parse(&format!("ar_live_{body}{check}")), Err(KeyFormatError::BadChecksum));
        }
    }
}
