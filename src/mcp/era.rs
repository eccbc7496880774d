//! Which generation of MCP a request speaks, and what that generation requires of it. One endpoint
//! serves both:
//! - **legacy** (2025-03-26, 2025-06-18, 2025-11-25): an `initialize` handshake, then requests
//!   with an `MCP-Protocol-Version` header. This server issues no session id: every request stands
//!   alone (and is authenticated on its own), which the legacy revisions allow.
//! - **modern** (2026-07-28): stateless; every request carries its version, capabilities and
//!   client in `params._meta`, mirrored into `MCP-Protocol-Version`, `Mcp-Method` and (for
//!   `tools/call`) `Mcp-Name` headers that must agree with the body.

use base64::Engine;
use serde_json::{json, Value};
use warp::http::{HeaderMap, StatusCode};

use super::jsonrpc::{Incoming, RpcError, HEADER_MISMATCH, INVALID_PARAMS, UNSUPPORTED_VERSION};

/// The stateless revision.
pub const MODERN: &str = "2026-07-28";
/// Handshake revisions answered, oldest first.
pub const LEGACY: [&str; 3] = ["2025-03-26", "2025-06-18", "2025-11-25"];
/// What `initialize` offers when the client asks for a version this server does not speak.
pub const LATEST_LEGACY: &str = "2025-11-25";

const META_VERSION: &str = "io.modelcontextprotocol/protocolVersion";
const META_CAPABILITIES: &str = "io.modelcontextprotocol/clientCapabilities";

/// Every version this server speaks, newest first.
pub fn supported() -> Vec<&'static str> {
    let mut all = vec![MODERN];
    all.extend(LEGACY.iter().rev());
    all
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Era {
    Legacy,
    Modern,
}

/// The era of a request, after checking what that era requires of it.
pub fn of(headers: &HeaderMap, message: &Incoming) -> Result<Era, RpcError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    let meta = message.params.get("_meta").and_then(Value::as_object);
    let meta_version = meta.and_then(|m| m.get(META_VERSION));
    let Some(version) = meta_version else {
        return legacy(header("mcp-protocol-version"), message);
    };
    let bad = |code, text: String| RpcError::new(code, text, StatusCode::BAD_REQUEST);
    let Some(version) = version.as_str() else {
        return Err(bad(
            INVALID_PARAMS,
            format!("_meta[\"{META_VERSION}\"] must be a string"),
        ));
    };
    let mismatch = |what: String| bad(HEADER_MISMATCH, format!("Header mismatch: {what}"));
    // A header that names another version is a disagreement, whichever of the two is supported.
    if let Some(v) = header("mcp-protocol-version").filter(|v| *v != version) {
        return Err(mismatch(format!(
            "MCP-Protocol-Version header value {v:?} does not match the body's {version:?}"
        )));
    }
    if version != MODERN {
        let text = if LEGACY.contains(&version) {
            format!(
                "Unsupported protocol version {version:?} in _meta: only {MODERN} requests carry \
                 their version there; {version} is agreed by initialize"
            )
        } else {
            format!("Unsupported protocol version {version:?}")
        };
        return Err(bad(UNSUPPORTED_VERSION, text)
            .with_data(json!({ "supported": supported(), "requested": version })));
    }
    if !meta.is_some_and(|m| m.get(META_CAPABILITIES).is_some_and(Value::is_object)) {
        return Err(bad(
            INVALID_PARAMS,
            format!("every request must carry _meta[\"{META_CAPABILITIES}\"] (an object)"),
        ));
    }
    match header("mcp-protocol-version") {
        Some(v) if v == version => {}
        Some(v) => {
            return Err(mismatch(format!(
                "MCP-Protocol-Version header value {v:?} does not match the body's {version:?}"
            )))
        }
        None => {
            return Err(mismatch(
                "the MCP-Protocol-Version header is missing".into(),
            ))
        }
    }
    match header("mcp-method") {
        Some(m) if m == message.method => {}
        Some(m) => {
            return Err(mismatch(format!(
                "Mcp-Method header value {m:?} does not match the body's method {:?}",
                message.method
            )))
        }
        None => return Err(mismatch("the Mcp-Method header is missing".into())),
    }
    if message.method == "tools/call" {
        let name = message.param_str("name").unwrap_or_default();
        match header("mcp-name").map(decode_sentinel) {
            Some(Some(n)) if n == name => {}
            Some(Some(n)) => {
                return Err(mismatch(format!(
                    "Mcp-Name header value {n:?} does not match the body's name {name:?}"
                )))
            }
            Some(None) => {
                return Err(mismatch(
                    "the Mcp-Name header is not a valid =?base64?…?= value".into(),
                ))
            }
            None => return Err(mismatch("the Mcp-Name header is missing".into())),
        }
    }
    Ok(Era::Modern)
}

fn legacy(header: Option<&str>, message: &Incoming) -> Result<Era, RpcError> {
    match header {
        None => Ok(Era::Legacy),
        Some(v) if LEGACY.contains(&v) => Ok(Era::Legacy),
        // `initialize` itself negotiates; an old client may send a header it cannot yet know.
        Some(_) if message.method == "initialize" => Ok(Era::Legacy),
        Some(MODERN) => Err(RpcError::new(
            INVALID_PARAMS,
            format!(
                "a {MODERN} request must carry _meta[\"{META_VERSION}\"] and _meta[\"{META_CAPABILITIES}\"]"
            ),
            StatusCode::BAD_REQUEST,
        )),
        Some(v) => Err(RpcError::new(
            UNSUPPORTED_VERSION,
            format!("Unsupported protocol version {v:?}"),
            StatusCode::BAD_REQUEST,
        )
        .with_data(json!({ "supported": supported(), "requested": v }))),
    }
}

/// The version `initialize` answers: the one asked for when this server speaks it, else the
/// newest handshake revision (the client then decides whether to go on).
pub fn negotiate(requested: Option<&str>) -> &'static str {
    LEGACY
        .iter()
        .find(|v| Some(**v) == requested)
        .copied()
        .unwrap_or(LATEST_LEGACY)
}

/// A header value in the `=?base64?…?=` form decoded, any other value as it is; None when the
/// encoded form is broken.
fn decode_sentinel(value: &str) -> Option<String> {
    match value
        .strip_prefix("=?base64?")
        .and_then(|v| v.strip_suffix("?="))
    {
        Some(encoded) => base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|bytes| String::from_utf8(bytes).ok()),
        None => Some(value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mcp::jsonrpc::parse;
    use warp::http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).expect("ascii"));
        }
        h
    }

    fn modern_call(name: &str) -> Incoming {
        parse(
            json!({"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {
                "name": name, "arguments": {},
                "_meta": {"io.modelcontextprotocol/protocolVersion": "2026-07-28",
                          "io.modelcontextprotocol/clientCapabilities": {}}}})
            .to_string()
            .as_bytes(),
        )
        .expect("parsed")
    }

    #[test]
    fn a_modern_request_needs_its_headers_to_agree_with_its_body() {
        let call = modern_call("whoami");
        let good = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "whoami"),
        ]);
        assert_eq!(of(&good, &call), Ok(Era::Modern));
        let encoded = headers(&[
            ("mcp-protocol-version", "2026-07-28"),
            ("mcp-method", "tools/call"),
            ("mcp-name", "=?base64?d2hvYW1p?="),
        ]);
        assert_eq!(of(&encoded, &call), Ok(Era::Modern));
        for bad in [
            headers(&[("mcp-method", "tools/call"), ("mcp-name", "whoami")]),
            headers(&[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/list"),
                ("mcp-name", "whoami"),
            ]),
            headers(&[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
                ("mcp-name", "read_file"),
            ]),
            headers(&[
                ("mcp-protocol-version", "2026-07-28"),
                ("mcp-method", "tools/call"),
            ]),
        ] {
            let err = of(&bad, &call).expect_err("refused");
            assert_eq!(err.code, HEADER_MISMATCH, "{}", err.message);
            assert_eq!(err.status, StatusCode::BAD_REQUEST);
        }
    }

    #[test]
    fn a_legacy_version_in_meta_is_explained_and_a_header_that_disagrees_is_a_mismatch() {
        let mut call = modern_call("whoami");
        call.params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("2025-06-18");
        let err = of(&HeaderMap::new(), &call).expect_err("refused");
        assert_eq!(err.code, UNSUPPORTED_VERSION);
        assert!(
            err.message.contains("only 2026-07-28 requests carry")
                && err.message.contains("initialize"),
            "{}",
            err.message
        );
        let err =
            of(&headers(&[("mcp-protocol-version", "2026-07-28")]), &call).expect_err("refused");
        assert_eq!(err.code, HEADER_MISMATCH, "{}", err.message);
        assert!(err
            .message
            .contains("\"2026-07-28\" does not match the body's \"2025-06-18\""));
    }

    #[test]
    fn unknown_versions_are_refused_with_the_supported_list() {
        let mut call = modern_call("whoami");
        call.params["_meta"]["io.modelcontextprotocol/protocolVersion"] = json!("1900-01-01");
        let err = of(&HeaderMap::new(), &call).expect_err("refused");
        assert_eq!(err.code, UNSUPPORTED_VERSION);
        assert_eq!(err.message, "Unsupported protocol version \"1900-01-01\"");
        assert_eq!(
            err.data,
            Some(
                json!({"supported": ["2026-07-28", "2025-11-25", "2025-06-18", "2025-03-26"], "requested": "1900-01-01"})
            )
        );
        let legacy_call = parse(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#).expect("ok");
        let err = of(
            &headers(&[("mcp-protocol-version", "1999-01-01")]),
            &legacy_call,
        )
        .expect_err("refused");
        assert_eq!(err.code, UNSUPPORTED_VERSION);
        assert_eq!(of(&HeaderMap::new(), &legacy_call), Ok(Era::Legacy));
        assert_eq!(
            of(
                &headers(&[("mcp-protocol-version", "2025-06-18")]),
                &legacy_call
            ),
            Ok(Era::Legacy)
        );
    }

    #[test]
    fn initialize_answers_a_version_it_speaks() {
        assert_eq!(negotiate(Some("2025-06-18")), "2025-06-18");
        assert_eq!(negotiate(Some("2024-11-05")), LATEST_LEGACY);
        assert_eq!(negotiate(None), LATEST_LEGACY);
    }
}
