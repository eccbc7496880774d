//! Ids on the wire: strings holding a positive integer. Clients may also send a JSON number.

use serde::Deserialize;

use crate::error::ApiError;

/// An id as a client may send it in a body.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum IdValue {
    Text(String),
    Number(i64),
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

/// A positive integer id from text.
pub fn parse(text: &str) -> Option<i64> {
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

/// The wire form of an optional id.
pub fn wire_opt(id: Option<i64>) -> Option<String> {
    id.map(wire)
}
