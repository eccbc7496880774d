//! Comment targets: the file of a version a comment is about and, optionally, the passage in it,
//! given by a W3C-style selector or by several selectors of the same passage (W3C allows a list:
//! the review page sends a `TextQuoteSelector` and a `TextPositionSelector`). A target without a
//! selector is a comment on the whole file. Parsed and checked here (pure functions); the JSON
//! itself is stored and returned exactly as the client sent it.

use std::fmt;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;

use crate::text::char_len;

/// Longest `exact` quote, in characters.
pub const EXACT_MAX: usize = 2_000;
/// Longest `prefix` or `suffix`, in characters.
pub const CONTEXT_MAX: usize = 500;
/// Longest CSS selector, in characters.
pub const CSS_MAX: usize = 2_000;
/// Longest `source` path, in bytes.
pub const SOURCE_MAX: usize = 1_024;
/// Most selectors in one list (one of each type).
pub const SELECTORS_MAX: usize = 3;

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    pub source: String,
    /// None (left out; `null` is refused as a likely mistake): the comment is about the whole file.
    #[serde(default, deserialize_with = "present")]
    pub selector: Option<Selectors>,
}

fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Selectors>, D::Error> {
    Selectors::deserialize(d).map(Some)
}

/// One selector, or a list of selectors that all describe the same passage.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selectors(pub Vec<Selector>);

impl<'de> Deserialize<'de> for Selectors {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct OneOrList;
        impl<'de> Visitor<'de> for OneOrList {
            type Value = Selectors;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a selector object, or a list of selector objects for the same passage")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Selectors, A::Error> {
                let one = Selector::deserialize(de::value::MapAccessDeserializer::new(map))?;
                Ok(Selectors(vec![one]))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Selectors, A::Error> {
                let mut list = Vec::new();
                while let Some(one) = seq.next_element::<Selector>()? {
                    if list.len() == SELECTORS_MAX {
                        return Err(de::Error::custom(format!(
                            "a selector list holds at most {SELECTORS_MAX} selectors, one of each type"
                        )));
                    }
                    list.push(one);
                }
                Ok(Selectors(list))
            }
        }
        d.deserialize_any(OneOrList)
    }
}

// The variants are named exactly as the W3C Web Annotation selector types they are read from (the
// `type` tag), so each ends in "Selector".
#[allow(clippy::enum_variant_names)]
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(tag = "type", deny_unknown_fields)]
pub enum Selector {
    TextQuoteSelector {
        exact: String,
        #[serde(default)]
        prefix: Option<String>,
        #[serde(default)]
        suffix: Option<String>,
    },
    /// Signed, so that a negative position is refused by `check` naming its member (a type error
    /// inside an internally tagged enum can only name the selector).
    TextPositionSelector {
        start: i64,
        end: i64,
    },
    CssSelector {
        value: String,
    },
}

/// Why a target was refused: the field at fault (its path in the request, e.g.
/// `target.selector.exact`), and a message that names it, the limit and the actual length.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct TargetError {
    pub field: &'static str,
    pub message: String,
}

fn refuse(field: &'static str, message: impl Into<String>) -> TargetError {
    TargetError {
        field,
        message: message.into(),
    }
}

/// The largest position a client can hold exactly (JavaScript's `Number.MAX_SAFE_INTEGER`).
const POSITION_MAX: i64 = (1 << 53) - 1;

impl Target {
    /// Checks lengths and shapes (not whether `source` is a file of the version: the caller knows).
    pub fn check(&self) -> Result<(), TargetError> {
        if self.source.trim().is_empty() {
            return Err(refuse(
                "target.source",
                "target.source must name a file of the version, e.g. \"index.html\"",
            ));
        }
        if self.source.len() > SOURCE_MAX || self.source.contains('\0') {
            return Err(refuse(
                "target.source",
                format!(
                    "target.source must be a file path of at most {SOURCE_MAX} bytes without NUL characters"
                ),
            ));
        }
        let Some(selectors) = &self.selector else {
            return Ok(());
        };
        if selectors.0.is_empty() {
            return Err(refuse(
                "target.selector",
                "target.selector must not be an empty list; leave it out to comment on the whole file",
            ));
        }
        for (i, selector) in selectors.0.iter().enumerate() {
            let later = &selectors.0[i + 1..];
            if later.iter().any(|s| s.kind() == selector.kind()) {
                return Err(refuse(
                    "target.selector",
                    format!(
                        "target.selector lists more than one {}; give one selector of each type",
                        selector.kind()
                    ),
                ));
            }
            selector.check()?;
        }
        Ok(())
    }
}

impl Selector {
    /// The W3C type name.
    pub fn kind(&self) -> &'static str {
        match self {
            Selector::TextQuoteSelector { .. } => "TextQuoteSelector",
            Selector::TextPositionSelector { .. } => "TextPositionSelector",
            Selector::CssSelector { .. } => "CssSelector",
        }
    }

    fn check(&self) -> Result<(), TargetError> {
        match self {
            Selector::TextQuoteSelector {
                exact,
                prefix,
                suffix,
            } => {
                bounded("target.selector.exact", exact, 1, EXACT_MAX)?;
                if let Some(p) = prefix {
                    bounded("target.selector.prefix", p, 0, CONTEXT_MAX)?;
                }
                if let Some(s) = suffix {
                    bounded("target.selector.suffix", s, 0, CONTEXT_MAX)?;
                }
            }
            Selector::TextPositionSelector { start, end } => {
                for (field, position) in [
                    ("target.selector.start", start),
                    ("target.selector.end", end),
                ] {
                    if *position < 0 {
                        return Err(refuse(
                            field,
                            format!("{field} is {position}; positions count characters from 0, so it must be 0 or more"),
                        ));
                    }
                }
                if start > end {
                    return Err(refuse(
                        "target.selector.start",
                        format!(
                            "target.selector.start ({start}) must not be after target.selector.end ({end})"
                        ),
                    ));
                }
                if *end > POSITION_MAX {
                    return Err(refuse(
                        "target.selector.end",
                        format!(
                            "target.selector.end is {end}; the limit is {POSITION_MAX} (the largest whole number JavaScript holds exactly)"
                        ),
                    ));
                }
            }
            Selector::CssSelector { value } => {
                bounded("target.selector.value", value, 1, CSS_MAX)?;
            }
        }
        Ok(())
    }
}

fn bounded(field: &'static str, value: &str, min: usize, max: usize) -> Result<(), TargetError> {
    if value.contains('\0') {
        return Err(refuse(
            field,
            format!("{field} must not contain NUL characters"),
        ));
    }
    let len = char_len(value);
    if len < min {
        return Err(refuse(field, format!("{field} must not be empty")));
    }
    if len > max {
        return Err(refuse(
            field,
            format!("{field} is {len} characters long; the limit is {max} characters"),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn parse(json: &str) -> Result<Target, String> {
        let t: Target = serde_json::from_str(json).map_err(|e| e.to_string())?;
        t.check().map_err(|e| e.message)?;
        Ok(t)
    }

    #[test]
    fn the_three_selector_types_are_accepted() {
        assert!(parse(r#"{"source":"index.html","selector":{"type":"TextQuoteSelector","exact":"Monthly revenue","prefix":"The ","suffix":" chart"}}"#).is_ok());
        assert!(parse(
            r#"{"source":"index.html","selector":{"type":"TextQuoteSelector","exact":"x"}}"#
        )
        .is_ok());
        assert!(parse(
            r#"{"source":"a.md","selector":{"type":"TextPositionSelector","start":3,"end":9}}"#
        )
        .is_ok());
        assert!(parse(
            r#"{"source":"a.html","selector":{"type":"CssSelector","value":"main > h1"}}"#
        )
        .is_ok());
    }

    #[test]
    fn a_file_alone_and_lists_of_selectors_of_one_passage_are_accepted() {
        let whole = parse(r#"{"source":"index.html"}"#).expect("a whole-file target");
        assert_eq!(whole.selector, None);
        let both = parse(
            r#"{"source":"index.html","selector":[{"type":"TextQuoteSelector","exact":"Revenue","prefix":"The ","suffix":" grew"},{"type":"TextPositionSelector","start":4,"end":11}]}"#,
        )
        .expect("a quote with its position");
        assert_eq!(
            both.selector
                .map(|s| s.0.iter().map(Selector::kind).collect::<Vec<_>>()),
            Some(vec!["TextQuoteSelector", "TextPositionSelector"])
        );
        let err = parse(
            r#"{"source":"a.html","selector":[{"type":"TextQuoteSelector","exact":"x"},{"type":"TextQuoteSelector","exact":"y"}]}"#,
        )
        .unwrap_err();
        assert!(err.contains("more than one TextQuoteSelector"), "{err}");
    }

    #[test]
    fn limits_are_at_the_character() {
        let quote = |exact: &str, prefix: &str| {
            parse(&serde_json::json!({"source": "a.html", "selector": {"type": "TextQuoteSelector", "exact": exact, "prefix": prefix}}).to_string())
        };
        assert!(quote(&"😀".repeat(EXACT_MAX), &"é".repeat(CONTEXT_MAX)).is_ok());
        let err = quote(&"😀".repeat(EXACT_MAX + 1), "").unwrap_err();
        assert_eq!(
            err,
            "target.selector.exact is 2001 characters long; the limit is 2000 characters"
        );
        assert!(quote("x", &"é".repeat(CONTEXT_MAX + 1)).is_err());
        assert!(quote("", "").unwrap_err().contains("must not be empty"));
    }

    #[test]
    fn a_negative_position_is_refused_naming_its_member() {
        for (json, field) in [
            (
                r#"{"source":"a.html","selector":{"type":"TextPositionSelector","start":-1,"end":3}}"#,
                "target.selector.start",
            ),
            (
                r#"{"source":"a.html","selector":[{"type":"TextQuoteSelector","exact":"b"},{"type":"TextPositionSelector","start":0,"end":-4}]}"#,
                "target.selector.end",
            ),
        ] {
            let target: Target = serde_json::from_str(json).expect("well formed");
            let refusal = target.check().expect_err("negative position accepted");
            assert_eq!(refusal.field, field);
            assert!(
                refusal.message.contains("must be 0 or more"),
                "{}",
                refusal.message
            );
        }
    }

    #[test]
    fn wrong_shapes_are_refused() {
        for bad in [
            r#"{"source":"a.html","selector":{"type":"RangeSelector","exact":"x"}}"#,
            r#"{"source":"a.html","selector":{"type":"TextQuoteSelector"}}"#,
            r#"{"source":"a.html","selector":{"type":"TextQuoteSelector","exact":"x","extra":1}}"#,
            r#"{"source":"a.html","selector":{"type":"TextPositionSelector","start":9,"end":3}}"#,
            r#"{"source":"a.html","selector":{"type":"TextPositionSelector","start":-1,"end":3}}"#,
            r#"{"source":"","selector":{"type":"CssSelector","value":"h1"}}"#,
            r#"{"selector":{"type":"CssSelector","value":"h1"}}"#,
            r#"{"source":"a.html","selector":[]}"#,
            r#"{"source":"a.html","selector":null}"#,
            r#"{"source":"a.html","selector":"x"}"#,
            r#"{"source":"a.html","selector":[{"type":"CssSelector","value":"h1"},{"type":"CssSelector","value":"h2"}]}"#,
            r#"{"source":"a.html","selector":[{"type":"TextQuoteSelector","exact":""}]}"#,
            r#"{"source":"a.html","selector":[{"type":"CssSelector","value":"a"},{"type":"TextQuoteSelector","exact":"b"},{"type":"TextPositionSelector","start":0,"end":1},{"type":"CssSelector","value":"c"}]}"#,
        ] {
            assert!(parse(bad).is_err(), "{bad} was accepted");
        }
    }

    proptest! {
        #[test]
        fn checking_never_panics_and_accepted_quotes_are_within_limits(
            exact in "\\PC{0,2100}", prefix in proptest::option::of("\\PC{0,600}"), source in "\\PC{0,40}"
        ) {
            let target = Target {
                source,
                selector: Some(Selectors(vec![Selector::TextQuoteSelector { exact: exact.clone(), prefix: prefix.clone(), suffix: None }])),
            };
            if target.check().is_ok() {
                prop_assert!((1..=EXACT_MAX).contains(&char_len(&exact)));
                prop_assert!(prefix.is_none_or(|p| char_len(&p) <= CONTEXT_MAX));
            }
        }

        #[test]
        fn arbitrary_json_never_panics(json in "\\PC{0,200}") {
            let _ = parse(&json);
        }

        #[test]
        fn positions_are_accepted_exactly_when_ordered_and_exact_in_javascript(start in prop_oneof![any::<i64>(), -2..=2i64], end in prop_oneof![any::<i64>(), -2..=POSITION_MAX + 2]) {
            let target = Target { source: "a.html".into(), selector: Some(Selectors(vec![Selector::TextPositionSelector { start, end }])) };
            prop_assert_eq!(target.check().is_ok(), 0 <= start && start <= end && end <= POSITION_MAX);
        }
    }
}
