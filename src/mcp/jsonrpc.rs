//! JSON-RPC 2.0 as MCP carries it over HTTP: one message per POST (batches were removed from MCP
//! in 2025-06-18 and are refused), a request answered by one JSON object, a notification by
//! `202 Accepted` with no body. Every error says what was wrong.

use serde::de::IgnoredAny;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::value::RawValue;
use serde_json::{json, Map, Value};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

pub const PARSE_ERROR: i64 = -32700;
pub const INVALID_REQUEST: i64 = -32600;
pub const METHOD_NOT_FOUND: i64 = -32601;
pub const INVALID_PARAMS: i64 = -32602;
pub const INTERNAL_ERROR: i64 = -32603;
/// 2026-07-28: a mirrored header is missing or disagrees with the body.
pub const HEADER_MISMATCH: i64 = -32020;
/// 2026-07-28: the protocol version asked for is not one this server speaks.
pub const UNSUPPORTED_VERSION: i64 = -32022;

/// One incoming message.
#[derive(Debug, Clone, PartialEq)]
pub struct Incoming {
    /// None for a notification (or a response, which this server never asks for).
    pub id: Option<Value>,
    /// Empty for a response.
    pub method: String,
    pub params: Map<String, Value>,
}

impl Incoming {
    /// A string member of `params`.
    pub fn param_str(&self, name: &str) -> Option<&str> {
        self.params.get(name).and_then(Value::as_str)
    }
}

/// A JSON-RPC error with the HTTP status it travels with.
#[derive(Debug, Clone, PartialEq)]
pub struct RpcError {
    pub code: i64,
    pub message: String,
    pub data: Option<Value>,
    pub status: StatusCode,
}

impl RpcError {
    pub fn new(code: i64, message: impl Into<String>, status: StatusCode) -> RpcError {
        RpcError {
            code,
            message: message.into(),
            data: None,
            status,
        }
    }

    pub fn with_data(mut self, data: Value) -> RpcError {
        self.data = Some(data);
        self
    }

    fn body(&self) -> Value {
        let mut error = json!({ "code": self.code, "message": self.message });
        if let Some(data) = &self.data {
            error["data"] = data.clone();
        }
        error
    }
}

/// The members of a message this server reads (others are ignored), each `Some` when present,
/// even as `null`. Read straight from the body: no tree of values for the message itself.
#[derive(Deserialize)]
struct Envelope {
    #[serde(default, deserialize_with = "present")]
    jsonrpc: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    id: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    method: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    params: Option<Value>,
    #[serde(default, deserialize_with = "present")]
    result: Option<IgnoredAny>,
    #[serde(default, deserialize_with = "present")]
    error: Option<IgnoredAny>,
}

/// A member that is present, whatever its value (`null` included).
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

/// Reads one message from a request body.
pub fn parse(body: &[u8]) -> Result<Incoming, RpcError> {
    let bad = |code, message: &str| RpcError::new(code, message, StatusCode::BAD_REQUEST);
    let first = body.iter().find(|b| !b.is_ascii_whitespace());
    if first != Some(&b'{') {
        // Not an object: say what it is (a batch, another kind of value, or not JSON).
        let value: Value = serde_json::from_slice(body)
            .map_err(|e| bad(PARSE_ERROR, &format!("the body is not valid JSON: {e}")))?;
        if value.is_array() {
            return Err(bad(
                INVALID_REQUEST,
                "batches are not supported (MCP removed them in 2025-06-18): send one JSON-RPC message per request",
            ));
        }
        return Err(bad(
            INVALID_REQUEST,
            "a JSON-RPC message is a JSON object with jsonrpc, method and, for a request, id",
        ));
    }
    let message: Envelope = serde_json::from_slice(body).map_err(|e| {
        if e.is_data() {
            bad(
                INVALID_REQUEST,
                &format!("the body is not a JSON-RPC message: {e}"),
            )
        } else {
            bad(PARSE_ERROR, &format!("the body is not valid JSON: {e}"))
        }
    })?;
    if message.jsonrpc.as_ref().and_then(Value::as_str) != Some("2.0") {
        return Err(bad(INVALID_REQUEST, "jsonrpc must be \"2.0\""));
    }
    let id = match message.id {
        None => None,
        Some(id @ Value::String(_)) => Some(id),
        Some(Value::Number(n)) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        Some(other) => {
            return Err(bad(
                INVALID_REQUEST,
                &format!("id must be a string or an integer; got {other}"),
            ))
        }
    };
    let method = match message.method {
        Some(Value::String(m)) => m,
        None if message.result.is_some() || message.error.is_some() => {
            // A response: this server sends no requests, so there is nothing to match it with.
            return Ok(Incoming {
                id: None,
                method: String::new(),
                params: Map::new(),
            });
        }
        _ => return Err(bad(INVALID_REQUEST, "method must be a string")),
    };
    let params = match message.params {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(p)) => p,
        Some(_) => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "params must be an object",
                StatusCode::BAD_REQUEST,
            ))
        }
    };
    Ok(Incoming { id, method, params })
}

/// The id of a message `parse` refused, when it can be read (a string or an integer): the error
/// answer carries it (JSON-RPC answers null only when the id cannot be determined).
pub fn readable_id(body: &[u8]) -> Option<Value> {
    let message: Envelope = serde_json::from_slice(body).ok()?;
    match message.id? {
        id @ Value::String(_) => Some(id),
        Value::Number(n) if n.is_i64() || n.is_u64() => Some(Value::Number(n)),
        _ => None,
    }
}

/// The answer to a request (its result already written as JSON).
pub fn result(id: &Value, result: &RawValue) -> Response {
    #[derive(Serialize)]
    struct Answer<'a> {
        jsonrpc: &'static str,
        id: &'a Value,
        result: &'a RawValue,
    }
    respond(
        StatusCode::OK,
        &Answer {
            jsonrpc: "2.0",
            id,
            result,
        },
    )
}

/// An error answer; `id` is null when the request's could not be read.
pub fn error(id: Option<&Value>, error: &RpcError) -> Response {
    respond(
        error.status,
        &json!({ "jsonrpc": "2.0", "id": id.cloned().unwrap_or(Value::Null), "error": error.body() }),
    )
}

/// `202 Accepted` with no body: a notification (or response) was taken.
pub fn accepted() -> Response {
    let mut response = Response::new(Vec::new().into());
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

fn respond(status: StatusCode, body: &impl Serialize) -> Response {
    let mut response = crate::http::reply::json(status, body);
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_notifications_and_responses_are_told_apart() {
        let r = parse(br#"{"jsonrpc":"2.0","id":7,"method":"tools/list"}"#).expect("a request");
        assert_eq!(r.id, Some(json!(7)));
        assert_eq!(r.method, "tools/list");
        let n = parse(br#"{"jsonrpc":"2.0","method":"notifications/initialized"}"#).expect("n");
        assert_eq!(n.id, None);
        let resp = parse(br#"{"jsonrpc":"2.0","id":1,"result":{}}"#).expect("a response");
        assert!(resp.id.is_none() && resp.method.is_empty());
        let err = parse(br#"{"jsonrpc":"2.0","id":1,"error":null}"#).expect("an error response");
        assert!(err.id.is_none() && err.method.is_empty());
        let call = parse(br#" {"jsonrpc":"2.0","id":"a","method":"tools/call","params":{"name":"whoami"},"x":[1]}"#)
            .expect("a call; unknown members ignored");
        assert_eq!(call.id, Some(json!("a")));
        assert_eq!(call.param_str("name"), Some("whoami"));
    }

    #[test]
    fn malformed_messages_are_refused_with_the_reason() {
        for (body, code) in [
            (&b"{nope"[..], PARSE_ERROR),
            (
                br#"[{"jsonrpc":"2.0","id":1,"method":"ping"}]"#,
                INVALID_REQUEST,
            ),
            (br#""ping""#, INVALID_REQUEST),
            (
                br#"{"jsonrpc":"1.0","id":1,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (
                br#"{"jsonrpc":"2.0","id":{"a":1},"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (
                br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (br#"{"jsonrpc":"2.0","id":1,"method":5}"#, INVALID_REQUEST),
            (
                br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
                INVALID_REQUEST,
            ),
            (br#"{"jsonrpc":"2.0","id":1}"#, INVALID_REQUEST),
            (br#" {"jsonrpc":"2.0","id":1,"method":"ping""#, PARSE_ERROR),
            (
                br#"{"jsonrpc":"2.0","id":1,"method":"ping","params":[1]}"#,
                INVALID_PARAMS,
            ),
        ] {
            let err = parse(body).expect_err("refused");
            assert_eq!(err.code, code, "{}", String::from_utf8_lossy(body));
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
        // The refusal names the request when its id can be read, else null.
        assert_eq!(
            readable_id(br#"{"jsonrpc":"1.0","id":5,"method":"tools/list"}"#),
            Some(json!(5))
        );
        assert_eq!(
            readable_id(br#"{"jsonrpc":"2.0","id":"a","method":5}"#),
            Some(json!("a"))
        );
        for body in [
            &br#"{"jsonrpc":"2.0","id":1.5,"method":"ping"}"#[..],
            br#"{"jsonrpc":"2.0","id":null,"method":"ping"}"#,
            br#"{"jsonrpc":"2.0","method":"ping"}"#,
            b"{nope",
            b"[{\"id\":1}]",
        ] {
            assert_eq!(readable_id(body), None, "{}", String::from_utf8_lossy(body));
        }
        assert!(parse(b"[]")
            .expect_err("a batch")
            .message
            .contains("batches"));
    }
}
