//! Keys of this server found in text it is asked to store: comment and reply text, artifact names
//! and descriptions, the text files of uploads. A string of the key format whose checksum holds is
//! almost certainly a real key (one in 2^32 random strings passes), so an active key found this way
//! is revoked at once (see `store::keys::revoke_leaked`), as GitHub's secret scanning does for pushed
//! tokens. In comments and replies the key is masked before the text is stored.

use crate::keys::{self, StoredForm, BODY_LEN, DISPLAY_PREFIX_LEN, KEY_PREFIX};
use crate::store::Touches;

/// A key found in a text: where it stands (byte range) and what the database would know it by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub start: usize,
    pub end: usize,
    pub stored: StoredForm,
}

fn key_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// Every well-formed key (prefix, 32 characters of the alphabet, a checksum that holds) in `text`,
/// standing on its own (not inside a longer run of key characters).
pub fn find(text: &str) -> Vec<Found> {
    let bytes = text.as_bytes();
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(at) = text[from..].find(KEY_PREFIX) {
        let start = from + at;
        let end = start + KEY_PREFIX.len() + BODY_LEN;
        from = start + KEY_PREFIX.len();
        let before_ok = start == 0 || !key_byte(bytes[start - 1]);
        let after_ok = bytes.get(end).is_none_or(|b| !key_byte(*b));
        if end > bytes.len() || !before_ok || !after_ok {
            continue;
        }
        // The range is ASCII when parse accepts it, so it is a valid str slice.
        if let Some(candidate) = text.get(start..end) {
            if let Ok(stored) = keys::parse(candidate) {
                found.push(Found { start, end, stored });
                from = end;
            }
        }
    }
    found
}

/// `text` with every key in `found` masked: its display prefix kept (as the keys page shows it),
/// the rest replaced by `*`.
pub fn mask(text: &str, found: &[Found]) -> String {
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    for f in found {
        let keep = f.start + KEY_PREFIX.len() + DISPLAY_PREFIX_LEN;
        out.push_str(&text[at..keep]);
        out.extend(std::iter::repeat_n('*', f.end - keep));
        at = f.end;
    }
    out.push_str(&text[at..]);
    out
}

/// Text about to be stored, with the keys found in it masked, and the digests of those keys (to
/// revoke in the same write).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scanned {
    pub text: String,
    pub digests: Vec<[u8; 32]>,
}

impl Scanned {
    /// Scans `text` and masks what it finds.
    pub fn of(text: &str) -> Scanned {
        let found = find(text);
        if found.is_empty() {
            return Scanned {
                text: text.to_string(),
                digests: Vec::new(),
            };
        }
        let mut digests: Vec<[u8; 32]> = found.iter().map(|f| f.stored.hash).collect();
        digests.sort_unstable();
        digests.dedup();
        Scanned {
            text: mask(text, &found),
            digests,
        }
    }

    /// What the write storing it touches: identities when a key may be revoked (so the very next
    /// request with that key is refused), else content only.
    pub fn touches(&self) -> Touches {
        touches(&self.digests)
    }
}

/// What a write revoking `digests` touches.
pub fn touches(digests: &[[u8; 32]]) -> Touches {
    if digests.is_empty() {
        Touches::ContentOnly
    } else {
        Touches::Identities
    }
}

/// Whether files of this content type are text worth scanning (pages, documents, scripts, data).
pub fn scannable(content_type: &str) -> bool {
    let t = content_type.to_ascii_lowercase();
    t.starts_with("text/")
        || ["json", "javascript", "xml", "yaml", "svg", "toml"]
            .iter()
            .any(|kind| t.contains(kind))
}

/// The digests of the keys found in any of `texts`, without repeats.
pub fn digests<'a>(texts: impl IntoIterator<Item = &'a str>) -> Vec<[u8; 32]> {
    let mut all: Vec<[u8; 32]> = texts
        .into_iter()
        .flat_map(find)
        .map(|f| f.stored.hash)
        .collect();
    all.sort_unstable();
    all.dedup();
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a_key() -> String {
        keys::generate().expect("key").secret.expose().to_string()
    }

    #[test]
    fn a_key_in_text_is_found_and_masked_keeping_its_display_prefix() {
        let key = a_key();
        let text = format!("here is my key: {key}. Do not share it.");
        let found = find(&text);
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].start..found[0].end], key);
        let masked = mask(&text, &found);
        assert!(!masked.contains(&key));
        assert_eq!(
            masked,
            format!(
                "here is my key: {}{}. Do not share it.",
                &key[..16],
                "*".repeat(24)
            )
        );
        assert_eq!(digests([text.as_str(), text.as_str()]).len(), 1);
    }

    #[test]
    fn strings_that_only_look_like_keys_are_left_alone() {
        let key = a_key();
        let mut wrong = key.clone();
        let last = wrong.pop().expect("a char");
        wrong.push(if last == 'A' { 'B' } else { 'A' });
        for text in [
            wrong.clone(),                    // the checksum fails
            format!("x{key}"),                // inside a longer word
            format!("{key}x"),                // longer than a key
            key[..key.len() - 1].to_string(), // too short
            "ar_live_".to_string(),
        ] {
            assert!(find(&text).is_empty(), "{text}");
        }
        // Keys side by side with punctuation, and non-ASCII around them, are all found.
        let two = format!("«{key}»,({})é", a_key());
        assert_eq!(find(&two).len(), 2);
        assert_eq!(
            mask(&two, &find(&two))
                .chars()
                .filter(|c| *c == '*')
                .count(),
            48
        );
    }
}
