//! Ids on the wire: strings holding a positive integer. Clients may also send a JSON number.

use std::fmt;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::http::error::ApiError;

/// An id as a client may send it in a body: a string such as "12", or the number 12.
#[derive(Debug, Clone)]
pub enum IdValue {
    Text(String),
    Number(i64),
}

impl<'de> Deserialize<'de> for IdValue {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct IdVisitor;
        impl Visitor<'_> for IdVisitor {
            type Value = IdValue;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id: a string such as \"12\"")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<IdValue, E> {
                Ok(IdValue::Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<IdValue, E> {
                Ok(IdValue::Number(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<IdValue, E> {
                i64::try_from(v)
                    .map(IdValue::Number)
                    .map_err(|_| E::custom("id is too large"))
            }
        }
        d.deserialize_any(IdVisitor)
    }
}

impl IdValue {
    /// The id, if it is a positive integer.
    pub fn parse(&self) -> Option<i64> {
        match self {
            IdValue::Text(s) => parse(s),
            IdValue::Number(n) => Some(*n).filter(|n| *n > 0),
        }
    }
}

/// A positive integer id from text, written as the server writes it (digits, no leading zero or
/// sign: an id is a string, and "01" or "+1" is not the string "1" names).
pub fn parse(text: &str) -> Option<i64> {
    if text.starts_with('0') || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok().filter(|n| *n > 0)
}

/// A path id; anything that is not a positive integer cannot name a thing, so it is a 404.
pub fn path_id(text: &str, what: &str) -> Result<i64, ApiError> {
    parse(text).ok_or_else(|| ApiError::not_found(what))
}

/// The wire form of an id.
pub fn wire(id: i64) -> String {
    id.to_string()
}

/// An id as it goes on the wire (a string), written straight into the JSON without a `String`.
#[derive(Debug, Clone, Copy)]
pub struct WireId(pub i64);

impl serde::Serialize for WireId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.0)
    }
}

/// The wire form of an optional id.
pub fn wire_opt(id: Option<i64>) -> Option<String> {
    id.map(wire)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_id_is_read_only_in_the_form_the_server_writes_it() {
        assert_eq!(parse("12"), Some(12));
        assert_eq!(parse(&wire(i64::MAX)), Some(i64::MAX));
        for text in [
            "",
            "0",
            "01",
            "+1",
            "-1",
            " 1",
            "1 ",
            "1e3",
            "9223372036854775808",
            "١",
        ] {
            assert_eq!(parse(text), None, "{text:?}");
        }
        assert_eq!(IdValue::Text("007".into()).parse(), None);
        assert_eq!(IdValue::Number(7).parse(), Some(7));
    }
}
