//! Text fields written by people and agents: trimming, length limits counted in Unicode scalar
//! values (not bytes), and the characters we refuse. Every refusal names the field, the limit and the
//! actual length, so the caller can fix the request without guessing.

/// Limits of SPEC section 5, in Unicode scalar values after trimming.
pub const NAME_MAX: usize = 100;
pub const ARTIFACT_NAME_MAX: usize = 200;
pub const DESCRIPTION_MAX: usize = 500;
pub const VERSION_NAME_MAX: usize = 100;
pub const COMMENT_MAX: usize = 10_000;
pub const REPLY_MAX: usize = 5_000;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 1_000;
pub const EMAIL_MAX: usize = 254;
/// Longest token accepted from a link (setup, invite); ours are 43 characters.
pub const TOKEN_MAX: usize = 200;

/// Why a text field was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("{field} must not be empty")]
    Empty { field: &'static str },
    #[error("{field} is {} long; the limit is {max} characters", characters(*actual))]
    TooLong {
        field: &'static str,
        max: usize,
        actual: usize,
    },
    #[error("{field} is {} long; it must be at least {min} characters", characters(*actual))]
    TooShort {
        field: &'static str,
        min: usize,
        actual: usize,
    },
    #[error("{field} must not contain NUL characters")]
    Nul { field: &'static str },
    #[error("{field} must not contain control characters or line breaks")]
    Control { field: &'static str },
    #[error("{field} must not contain bidirectional control characters (U+202A to U+202E, U+2066 to U+2069): they make a name read otherwise than it is")]
    Bidi { field: &'static str },
    #[error("{field} is not a valid email address")]
    Email { field: &'static str },
    #[error("{field} has no visible character (only spaces or invisible ones such as zero-width spaces)")]
    Invisible { field: &'static str },
    #[error("{field} must not contain invisible characters such as zero-width spaces (it has U+{code:04X}): a name with one reads the same as the name without it")]
    Hidden { field: &'static str, code: u32 },
}

impl TextError {
    /// The field the error is about.
    pub fn field(&self) -> &'static str {
        match self {
            TextError::Empty { field }
            | TextError::TooLong { field, .. }
            | TextError::TooShort { field, .. }
            | TextError::Nul { field }
            | TextError::Control { field }
            | TextError::Bidi { field }
            | TextError::Email { field }
            | TextError::Invisible { field }
            | TextError::Hidden { field, .. } => field,
        }
    }
}

/// "1 character", "2 characters".
pub fn characters(n: usize) -> String {
    if n == 1 {
        "1 character".to_string()
    } else {
        format!("{n} characters")
    }
}

/// Number of Unicode scalar values.
/// The form under which two texts are the same to a reader regardless of case and of how accents
/// are encoded: Unicode NFC, full case folding, NFC again (folding can leave a sequence that
/// composes). "CAFÉ", "café" and a decomposed "cafe\u{301}" are one.
pub fn folded(s: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    let composed: String = s.nfc().collect();
    unicase::UniCase::new(composed)
        .to_folded_case()
        .nfc()
        .collect()
}

/// Whether two names read as one: the same once `folded`, or drawn alike (UTS #39's confusable
/// skeleton, of the names as given and as folded): "Claude" and "Claude" with a Cyrillic "С", or
/// with a capital "I" for the "l".
pub fn look_alike(a: &str, b: &str) -> bool {
    let skeleton = |s: &str| unicode_security::skeleton(s).collect::<String>();
    let (fa, fb) = (folded(a), folded(b));
    fa == fb || skeleton(a) == skeleton(b) || skeleton(&fa) == skeleton(&fb)
}

pub fn char_len(s: &str) -> usize {
    s.chars().count()
}

/// A one-line label (key, agent, artifact or version name, agent role): trimmed, 1..=max
/// characters, no control characters, at least one visible one.
pub fn label(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let trimmed = value.trim();
    if trimmed.contains('\0') {
        return Err(TextError::Nul { field });
    }
    if trimmed.chars().any(char::is_control) {
        return Err(TextError::Control { field });
    }
    // An override or isolate turns "Helper\u{202e} gnidoc" into "Helpercoding" on screen: a
    // person approving a key for an agent would approve a name that is not the one stored.
    // "Claude" and "Claude\u{200b}" are two agents that read as one: invisible characters that
    // join or select nothing have no place in a name. Those that shape what is seen stay (joiners
    // in emoji and Indic or Persian words, variation selectors, emoji tags, direction marks).
    let misleading = misleading(trimmed);
    if misleading == Some(Misleading::Bidi) {
        return Err(TextError::Bidi { field });
    }
    visible(field, trimmed)?;
    if let Some(Misleading::Hidden(code)) = misleading {
        return Err(TextError::Hidden { field, code });
    }
    bounded(field, trimmed, max)
}

/// What makes a name read otherwise than it is, if it holds one: a bidirectional override or
/// isolate ("evil\u{202e}lmth.js" shows as "eviljs.html"), or an invisible character that joins or
/// selects nothing ("ind\u{200b}ex.html" beside "index.html").
pub fn misleading(name: &str) -> Option<Misleading> {
    if name.chars().any(bidi_control) {
        return Some(Misleading::Bidi);
    }
    name.chars()
        .find(|c| invisible(*c) && !shapes_text(*c))
        .map(|c| Misleading::Hidden(u32::from(c)))
}

/// Whether `c` is one of the characters `misleading` refuses, to be shown escaped where a refused
/// name is quoted back (an error message must not reorder itself).
pub fn misleading_char(c: char) -> bool {
    bidi_control(c) || (invisible(c) && !shapes_text(c))
}

/// A bidirectional override or isolate.
fn bidi_control(c: char) -> bool {
    matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// Why `misleading` refused a name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Misleading {
    Bidi,
    /// The code point of an invisible character.
    Hidden(u32),
}

/// The invisible characters that change how the visible ones around them are drawn (and so
/// belong in some names): zero-width joiner and non-joiner, direction marks, variation selectors,
/// emoji tag characters.
fn shapes_text(c: char) -> bool {
    matches!(
        c,
        '\u{200C}'..='\u{200F}' | '\u{061C}' | '\u{FE00}'..='\u{FE0F}' | '\u{180B}'..='\u{180D}' | '\u{E0020}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}'
    )
}

/// Free text (comments, replies, descriptions): trimmed, 1..=max characters, line breaks allowed,
/// NUL refused, at least one visible character.
pub fn body(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    let trimmed = value.trim();
    if trimmed.contains('\0') {
        return Err(TextError::Nul { field });
    }
    visible(field, trimmed)?;
    bounded(field, trimmed, max)
}

/// Refuses text that is not empty but shows nothing: only invisible characters (a name of one
/// zero-width space looked blank wherever it was shown). Empty text is `bounded`'s to refuse.
fn visible(field: &'static str, text: &str) -> Result<(), TextError> {
    if !text.is_empty() && text.chars().all(|c| c.is_whitespace() || invisible(c)) {
        return Err(TextError::Invisible { field });
    }
    Ok(())
}

/// Characters that take no room and draw nothing: Unicode's default-ignorable code points
/// (zero-width spaces and joiners, direction marks, word joiners, variation selectors, tags, the
/// byte-order mark, Hangul fillers and the like).
fn invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{034F}'
            | '\u{061C}'
            | '\u{115F}'..='\u{1160}'
            | '\u{17B4}'..='\u{17B5}'
            | '\u{180B}'..='\u{180F}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{206F}'
            | '\u{3164}'
            | '\u{FE00}'..='\u{FE0F}'
            | '\u{FEFF}'
            | '\u{FFA0}'
            | '\u{1BCA0}'..='\u{1BCA3}'
            | '\u{1D173}'..='\u{1D17A}'
            | '\u{E0000}'..='\u{E0FFF}'
    )
}

/// Optional free text that may be empty (an artifact description): trimmed, 0..=max characters.
pub fn optional_body(field: &'static str, value: &str, max: usize) -> Result<String, TextError> {
    if value.trim().is_empty() {
        return Ok(String::new());
    }
    body(field, value, max)
}

/// An email address: trimmed, lower-cased, one `@` with text on both sides, no spaces.
pub fn email(field: &'static str, value: &str) -> Result<String, TextError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    let actual = char_len(trimmed);
    if actual > EMAIL_MAX {
        return Err(TextError::TooLong {
            field,
            max: EMAIL_MAX,
            actual,
        });
    }
    let mut parts = trimmed.split('@');
    let (local, domain) = match (parts.next(), parts.next(), parts.next()) {
        (Some(l), Some(d), None) => (l, d),
        _ => return Err(TextError::Email { field }),
    };
    let ok = !local.is_empty()
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !trimmed
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '<' || c == '>');
    if !ok {
        return Err(TextError::Email { field });
    }
    Ok(trimmed.to_lowercase())
}

/// An email typed at sign-in: trimmed and lower-cased as stored emails are, at most `EMAIL_MAX`
/// characters (no account has a longer one). Not otherwise checked: a malformed one matches no
/// account.
pub fn sign_in_email(field: &'static str, value: &str) -> Result<String, TextError> {
    let trimmed = value.trim();
    at_most(field, trimmed, EMAIL_MAX)?;
    Ok(trimmed.to_lowercase())
}

/// Text someone typed or pasted that is checked as it is (a password, a token, a sign-in email):
/// at most `max` characters, not trimmed.
pub fn at_most(field: &'static str, value: &str, max: usize) -> Result<(), TextError> {
    let actual = char_len(value);
    if actual > max {
        return Err(TextError::TooLong { field, max, actual });
    }
    Ok(())
}

/// A new password: at least 8 characters (not trimmed: spaces count), at most 1000, no NUL.
pub fn password(field: &'static str, value: &str) -> Result<(), TextError> {
    if value.contains('\0') {
        return Err(TextError::Nul { field });
    }
    let actual = char_len(value);
    if actual < PASSWORD_MIN {
        return Err(TextError::TooShort {
            field,
            min: PASSWORD_MIN,
            actual,
        });
    }
    if actual > PASSWORD_MAX {
        return Err(TextError::TooLong {
            field,
            max: PASSWORD_MAX,
            actual,
        });
    }
    Ok(())
}

fn bounded(field: &'static str, trimmed: &str, max: usize) -> Result<String, TextError> {
    if trimmed.is_empty() {
        return Err(TextError::Empty { field });
    }
    let actual = char_len(trimmed);
    if actual > max {
        return Err(TextError::TooLong { field, max, actual });
    }
    Ok(trimmed.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_bidirectional_override_is_named_before_an_invisible_character_wherever_it_stands() {
        assert_eq!(
            label("name", "a\u{200b}b\u{202e}c", NAME_MAX),
            Err(TextError::Bidi { field: "name" })
        );
        assert_eq!(misleading("a\u{200b}b\u{202e}c"), Some(Misleading::Bidi));
        assert_eq!(misleading("a\u{200b}b"), Some(Misleading::Hidden(0x200b)));
        assert_eq!(misleading("team-\u{1F469}\u{200D}\u{1F4BB}"), None);
    }

    #[test]
    fn names_drawn_alike_are_one_name_and_distinct_names_stay_distinct() {
        for (a, b) in [
            ("Claude", "claude"),
            ("Claude", "\u{421}laude"),       // Cyrillic capital Es
            ("Claude", "CIaude"),             // capital I for the l
            ("Claude", "Cl\u{430}ude"),       // Cyrillic small a
            ("José", "Jose\u{301}"),          // the accent composed or not
            ("Reviewer", "\u{1D42B}eviewer"), // mathematical bold r
        ] {
            assert!(look_alike(a, b), "{a:?} and {b:?} read as one name");
        }
        for (a, b) in [
            ("Claude", "Claudette"),
            ("Claude", "Clade"),
            ("CI", "QA"),
            ("José", "Jose"),
            ("Bot 1", "Bot 2"),
        ] {
            assert!(!look_alike(a, b), "{a:?} and {b:?} are different names");
        }
    }

    #[test]
    fn text_that_shows_nothing_is_refused_and_text_with_invisible_marks_kept() {
        for blank in [
            "\u{200B}",
            " \u{200B}\u{200D} ",
            "\u{FEFF}",
            "\u{2060}\u{E0041}",
        ] {
            assert_eq!(
                label("name", blank, NAME_MAX),
                Err(TextError::Invisible { field: "name" })
            );
            assert_eq!(
                body("content", blank, COMMENT_MAX),
                Err(TextError::Invisible { field: "content" })
            );
        }
        // A visible character with joiners (an emoji sequence) is a name.
        assert_eq!(
            label("name", "👩\u{200D}💻", NAME_MAX).as_deref(),
            Ok("👩\u{200D}💻")
        );
        assert!(matches!(
            label("name", "", NAME_MAX),
            Err(TextError::Empty { .. })
        ));
    }

    #[test]
    fn limits_count_characters_not_bytes() {
        for ch in ["a", "é", "😀"] {
            assert!(body("content", &ch.repeat(COMMENT_MAX), COMMENT_MAX).is_ok());
            assert_eq!(
                body("content", &ch.repeat(COMMENT_MAX + 1), COMMENT_MAX),
                Err(TextError::TooLong {
                    field: "content",
                    max: COMMENT_MAX,
                    actual: COMMENT_MAX + 1
                })
            );
        }
    }

    #[test]
    fn surrounding_whitespace_does_not_count() {
        assert_eq!(label("name", "  CI  ", NAME_MAX), Ok("CI".to_string()));
        assert_eq!(
            label("name", "   ", NAME_MAX),
            Err(TextError::Empty { field: "name" })
        );
    }

    #[test]
    fn labels_refuse_control_characters_and_bodies_refuse_nul() {
        assert_eq!(
            label("name", "a\nb", NAME_MAX),
            Err(TextError::Control { field: "name" })
        );
        assert_eq!(
            label("name", "Helper\u{202e} gnidoc", 100),
            Err(TextError::Bidi { field: "name" })
        );
        assert_eq!(
            label("name", "a\u{2067}b", 100),
            Err(TextError::Bidi { field: "name" })
        );
        assert_eq!(
            label("name", "مساعد Claude", 100),
            Ok("مساعد Claude".into())
        );
        for hidden in [
            "Claude\u{200b}",
            "Cla\u{2060}ude",
            "\u{feff}Claude",
            "Clau\u{ad}de",
            "Claude\u{3164}",
        ] {
            assert!(
                matches!(
                    label("name", hidden, 100),
                    Err(TextError::Hidden { field: "name", .. })
                ),
                "{hidden:?}"
            );
        }
        assert_eq!(
            label("name", "Claude\u{200b}", 100)
                .expect_err("hidden")
                .to_string(),
            "name must not contain invisible characters such as zero-width spaces (it has U+200B): a name with one reads the same as the name without it"
        );
        // What joins or selects glyphs stays: a ZWJ emoji, a Persian half-space, a flag of England.
        for shaped in [
            "Dev \u{1F469}\u{200D}\u{1F4BB}",
            "می\u{200C}خواهم",
            "\u{2764}\u{FE0F} bot",
            "\u{1F3F4}\u{E0067}\u{E0062}\u{E0065}\u{E006E}\u{E0067}\u{E007F} team",
        ] {
            assert_eq!(
                label("name", shaped, 100),
                Ok(shaped.to_string()),
                "{shaped:?}"
            );
        }
        assert!(body("content", "line one\nline two", COMMENT_MAX).is_ok());
        assert_eq!(
            body("content", "a\0b", COMMENT_MAX),
            Err(TextError::Nul { field: "content" })
        );
    }

    #[test]
    fn messages_name_the_limit_and_the_actual_length() {
        let err = label("name", &"x".repeat(101), NAME_MAX).unwrap_err();
        assert_eq!(
            err.to_string(),
            "name is 101 characters long; the limit is 100 characters"
        );
    }

    #[test]
    fn emails_are_normalised_and_checked() {
        assert_eq!(
            email("email", " Ada@Example.COM "),
            Ok("ada@example.com".to_string())
        );
        for bad in [
            "",
            "ada",
            "@example.com",
            "ada@",
            "a@b@c",
            "a b@c.d",
            "a@.com",
        ] {
            assert!(email("email", bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn passwords_need_eight_characters() {
        assert_eq!(
            password("password", "1").unwrap_err().to_string(),
            "password is 1 character long; it must be at least 8 characters"
        );
        assert!(password("password", "1234567").is_err());
        assert!(password("password", "12345678").is_ok());
    }

    proptest! {
        #[test]
        fn accepted_text_is_trimmed_and_within_its_limit(s in "\\PC{0,300}", max in 1usize..250) {
            if let Ok(v) = body("content", &s, max) {
                prop_assert!(!v.is_empty());
                prop_assert!(char_len(&v) <= max);
                prop_assert_eq!(v.trim(), v.as_str());
                prop_assert!(!v.contains('\0'));
            }
        }

        #[test]
        fn labels_never_panic_and_hold_no_control_characters(s in ".{0,300}") {
            if let Ok(v) = label("name", &s, NAME_MAX) {
                prop_assert!(!v.chars().any(char::is_control));
                prop_assert!(char_len(&v) <= NAME_MAX);
            }
        }
    }
}
