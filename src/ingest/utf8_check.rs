//! Whether a stream of chunks is UTF-8, a character split across two chunks included, without
//! keeping the chunks: a ZIP entry is checked in the same pass that fingerprints it.

/// The state of the check so far.
#[derive(Debug, Default)]
pub struct Utf8Check {
    /// The first bytes of a character the last chunk ended inside (at most 3).
    pending: Vec<u8>,
    broken: bool,
}

impl Utf8Check {
    pub fn update(&mut self, mut chunk: &[u8]) {
        if self.broken {
            return;
        }
        // Finish the character the previous chunk ended inside, a byte at a time.
        while !self.pending.is_empty() {
            let Some((&first, rest)) = chunk.split_first() else {
                return;
            };
            self.pending.push(first);
            chunk = rest;
            match std::str::from_utf8(&self.pending) {
                Ok(_) => self.pending.clear(),
                Err(e) if e.error_len().is_some() || self.pending.len() >= 4 => {
                    self.broken = true;
                    return;
                }
                Err(_) => {}
            }
        }
        match std::str::from_utf8(chunk) {
            Ok(_) => {}
            // The chunk ends inside a character: keep its first bytes for the next chunk.
            Err(e) if e.error_len().is_none() => {
                self.pending.extend_from_slice(&chunk[e.valid_up_to()..]);
            }
            Err(_) => self.broken = true,
        }
    }

    /// Whether everything seen is UTF-8 (a character cut off at the end is not).
    pub fn is_utf8(&self) -> bool {
        !self.broken && self.pending.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Utf8Check;

    fn check(chunks: &[&[u8]]) -> bool {
        let mut c = Utf8Check::default();
        for chunk in chunks {
            c.update(chunk);
        }
        c.is_utf8()
    }

    #[test]
    fn a_character_split_at_every_point_is_still_utf8() {
        let text = "Grüße, 東京 and 🎉!".as_bytes();
        for i in 0..=text.len() {
            for j in i..=text.len() {
                assert!(check(&[&text[..i], &text[i..j], &text[j..]]), "{i} {j}");
            }
        }
        // One byte at a time.
        let bytes: Vec<&[u8]> = text.chunks(1).collect();
        assert!(check(&bytes));
    }

    #[test]
    fn legacy_encodings_and_cut_off_characters_are_not() {
        // "Grüße" in Latin-1.
        assert!(!check(&[b"Gr\xfc\xdfe"]));
        assert!(!check(&[b"ok", b"\xe9t\xe9"]));
        // A three-byte character cut off at the end.
        assert!(!check(&["東".as_bytes()[..2].as_ref()]));
        // A continuation byte that does not continue, across the chunk boundary.
        assert!(!check(&[b"a\xe6", b"b"]));
        assert!(check(&[]));
        assert!(check(&[b""]));
    }
}
