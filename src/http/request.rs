//! One incoming request as handlers see it: path parameters, query, headers, client address, and a
//! body that is read only on demand, through a size cap and a deadline.

use std::net::IpAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::de::DeserializeOwned;
use warp::http::{header, HeaderMap, Method};

use super::counters::UploadBytes;
use crate::http::error::ApiError;
use crate::scopes::Scope;

/// The request body as a stream of chunks.
pub type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, warp::Error>> + Send + Sync>>;

/// The body, shared between the handler (which may read it) and the router (which drains what the
/// handler left unread, so the connection can serve the next request).
pub type BodySlot = Arc<Mutex<Option<BodyStream>>>;

/// Largest JSON body for ordinary routes (a 10,000-character comment of 4-byte characters with its
/// target is about 45 KB).
pub const JSON_LIMIT: u64 = 1024 * 1024;
/// Bytes past the limit that are read and thrown away before answering 413, so that an ordinary
/// client gets the answer instead of a connection reset while it is still sending. Beyond this the
/// connection is simply closed.
pub const DRAIN_MAX: u64 = 16 * 1024 * 1024;

pub struct Request {
    pub method: Method,
    /// The raw (still percent-encoded) path.
    pub path: String,
    /// Path parameters by their names in the route's template, percent-decoded.
    pub params: Vec<(&'static str, String)>,
    /// The raw query string, without `?` (empty when none).
    pub query: String,
    pub headers: HeaderMap,
    pub client: IpAddr,
    /// The scope a key needs for this request's route (see `scopes`).
    pub scope: Scope,
    body: BodySlot,
}

impl Request {
    pub fn new(
        method: Method,
        path: String,
        params: Vec<(&'static str, String)>,
        query: String,
        headers: HeaderMap,
        client: IpAddr,
        body: BodySlot,
    ) -> Request {
        Request {
            method,
            path,
            params,
            query,
            headers,
            client,
            scope: Scope::Reader,
            body,
        }
    }

    /// The request as its route needs it: a key must have `scope`.
    pub fn needing(mut self, scope: Scope) -> Request {
        self.scope = scope;
        self
    }

    /// A request with these headers and no body, for checking a long-lived caller's credentials
    /// again (an event stream re-checks its caller now and then).
    pub fn probe(method: Method, headers: HeaderMap, client: IpAddr) -> Request {
        Request::new(
            method,
            String::new(),
            Vec::new(),
            String::new(),
            headers,
            client,
            Arc::new(Mutex::new(None)),
        )
    }

    /// Path parameter `name` as the route's template names it (`{shareToken}`, `{path..}`); empty
    /// when the template has no such parameter (a route served by two templates, one shorter).
    pub fn param(&self, name: &str) -> &str {
        self.params
            .iter()
            .find(|(n, _)| *n == name)
            .map_or("", |(_, value)| value.as_str())
    }

    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: impl header::AsHeaderName) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// Refuses a request that loads an artifact's file into one of this server's own pages as a
    /// script, a style or a worker (`Sec-Fetch-Site: same-origin` with such a `Sec-Fetch-Dest`).
    /// Our pages load code only from `/assets/`, and an artifact's own pages run in an opaque
    /// origin, so their requests come `cross-site`: such a request can only come from markup
    /// injected into one of our pages, which this keeps from running an uploaded script with the
    /// reader's session (defence in depth behind the pages' escaping and CSP).
    pub fn refuse_as_our_code(&self) -> Result<(), ApiError> {
        const CODE: [&str; 8] = [
            "script",
            "style",
            "worker",
            "sharedworker",
            "serviceworker",
            "audioworklet",
            "paintworklet",
            "xslt",
        ];
        let site = self.header("sec-fetch-site");
        let dest = self.header("sec-fetch-dest").unwrap_or_default();
        if site == Some("same-origin") && CODE.contains(&dest) {
            return Err(ApiError::forbidden(
                "not_for_this_origin",
                format!(
                    "an artifact's files are not loaded into this server's own pages (as a {dest})"
                ),
            ));
        }
        Ok(())
    }

    /// Whether the client holds this answer already: `If-None-Match` lists `etag`.
    pub fn holds(&self, etag: &str) -> bool {
        self.header(header::IF_NONE_MATCH)
            .is_some_and(|v| v.split(',').any(|t| t.trim() == etag))
    }

    /// The client address as text, for the audit trail.
    pub fn ip(&self) -> String {
        self.client.to_string()
    }

    /// The query string parsed into `T`; 400 naming the problem otherwise.
    pub fn query<T: DeserializeOwned>(&self) -> Result<T, ApiError> {
        serde_urlencoded::from_str(&self.query).map_err(|e| {
            ApiError::bad_request("invalid_query", format!("invalid query string: {e}"))
        })
    }

    /// Reads the whole body, refusing more than `limit` bytes with 413 (whether or not the client
    /// announced a Content-Length) and a client slower than the body pace with 408.
    pub async fn body_bytes(&mut self, limit: u64) -> Result<Bytes, ApiError> {
        let mut body = self.body_stream(limit).await?;
        // Sized up front when announced, so a body is not copied while growing.
        let mut buf = BytesMut::with_capacity(body.declared.unwrap_or(0) as usize);
        while let Some(chunk) = body.next().await {
            buf.extend_from_slice(&chunk?);
        }
        Ok(buf.freeze())
    }

    /// The body as it arrives, refusing more than `limit` bytes with 413 (at once when the client
    /// announced that much) and a client slower than the body pace with 408.
    pub async fn body_stream(&mut self, limit: u64) -> Result<LimitedBody, ApiError> {
        // A compressed body would be read as its compressed bytes: refused, naming the coding,
        // rather than answered with a confusing parse error or stored as garbage.
        if let Some(coding) = self
            .header(header::CONTENT_ENCODING)
            .map(str::trim)
            .filter(|c| !c.is_empty() && !c.eq_ignore_ascii_case("identity"))
        {
            let coding: String = coding.chars().take(40).collect();
            return Err(ApiError::UnsupportedEncoding(coding));
        }
        let declared = self
            .header(header::CONTENT_LENGTH)
            .and_then(|v| v.parse::<u64>().ok());
        if let Some(declared) = declared.filter(|d| *d > limit) {
            // A client that waits for `100 Continue` has sent nothing yet: it gets the refusal at
            // once (reading the body would ask it for every byte). One that sends its body
            // unasked gets it once a slight excess is read, rather than a reset connection.
            let waits = self
                .header(header::EXPECT)
                .is_some_and(|v| v.eq_ignore_ascii_case("100-continue"));
            if let Some(mut stream) = take(&self.body) {
                if !waits && declared - limit <= DRAIN_MAX {
                    drain(&mut stream, declared).await;
                }
            }
            return Err(ApiError::PayloadTooLarge {
                limit,
                declared: Some(declared),
            });
        }
        Ok(LimitedBody {
            stream: take(&self.body),
            slot: self.body.clone(),
            limit,
            seen: 0,
            declared,
            counted: None,
        })
    }

    /// Answers `refusal` only once the body has arrived (read and dropped, up to `max` bytes): a
    /// client that sends its whole body before it reads (most do) would otherwise see its
    /// connection reset instead of the answer, and could not honour a `Retry-After`.
    pub async fn refuse_after_body(&mut self, max: u64, refusal: ApiError) -> ApiError {
        if let Some(mut stream) = take(&self.body) {
            drain(&mut stream, max).await;
        }
        refusal
    }

    /// Reads and parses a JSON body of at most `JSON_LIMIT` bytes.
    pub async fn json<T: DeserializeOwned>(&mut self) -> Result<T, ApiError> {
        let bytes = self.body_bytes(JSON_LIMIT).await?;
        parse_json(&bytes)
    }
}

/// A body being read, within its size limit. Whatever is left unread when it is dropped goes back
/// to the request, for the router to drain so the client gets its answer.
pub struct LimitedBody {
    stream: Option<BodyStream>,
    slot: BodySlot,
    limit: u64,
    seen: u64,
    /// The Content-Length the client announced, if any.
    pub declared: Option<u64>,
    /// Where the bytes read are added up, for the metrics.
    counted: Option<Arc<UploadBytes>>,
}

impl LimitedBody {
    /// Adds every byte read from now on to `total`.
    pub fn counting(mut self, total: Arc<UploadBytes>) -> LimitedBody {
        self.counted = Some(total);
        self
    }

    /// The next chunk; an error (413, 408 or 400) ends the body.
    pub async fn next(&mut self) -> Option<Result<Bytes, ApiError>> {
        let stream = self.stream.as_mut()?;
        match stream.next().await {
            None => {
                self.stream = None;
                None
            }
            Some(Err(e)) => {
                self.stream = None;
                Some(Err(read_error(&e)))
            }
            Some(Ok(chunk)) => {
                self.seen += chunk.len() as u64;
                if let Some(total) = &self.counted {
                    total.add(chunk.len() as u64);
                }
                if self.seen > self.limit {
                    if let Some(mut rest) = self.stream.take() {
                        drain(&mut rest, DRAIN_MAX).await;
                    }
                    return Some(Err(ApiError::PayloadTooLarge {
                        limit: self.limit,
                        declared: self.declared,
                    }));
                }
                Some(Ok(chunk))
            }
        }
    }
}

impl Drop for LimitedBody {
    fn drop(&mut self) {
        if let Some(rest) = self.stream.take() {
            *self.slot.lock().unwrap_or_else(|p| p.into_inner()) = Some(rest);
        }
    }
}

/// A failure to read the body as the client's error: 408 when it fell behind the body pace,
/// else 400.
pub fn read_error(e: &warp::Error) -> ApiError {
    match super::body_pace::too_slow(e) {
        Some(slow) => ApiError::RequestTimeout(slow.to_string()),
        None => ApiError::bad_request(
            "body_read_failed",
            format!("could not read the request body: {e}"),
        ),
    }
}

/// Takes the body out of its slot (a poisoned lock still holds a usable body).
pub fn take(slot: &BodySlot) -> Option<BodyStream> {
    slot.lock().unwrap_or_else(|p| p.into_inner()).take()
}

/// Reads and discards up to `max` bytes of what is left of a body; returns whether it was read to
/// the end (only then can the connection carry another request).
pub async fn drain(stream: &mut BodyStream, max: u64) -> bool {
    let mut seen = 0u64;
    tokio::time::timeout(Duration::from_secs(10), async {
        while let Some(chunk) = stream.next().await {
            match chunk {
                Ok(chunk) => seen += chunk.len() as u64,
                Err(_) => return false,
            }
            if seen > max {
                return false;
            }
        }
        true
    })
    .await
    .unwrap_or(false)
}

/// Parses a JSON body into `T`, with an error that says what is wrong and where: the field path
/// for a wrong value ("agentId: invalid type: ..."), the position for broken JSON.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // A UTF-8 byte-order mark may begin the body (RFC 8259 lets a parser ignore it; Windows
    // PowerShell 5 writes one): skipped.
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            "missing_body",
            "this endpoint needs a JSON body",
        ));
    }
    // Every body is an object. serde would also read a struct from an array, field by field in
    // order, which no client means and which would slip past `deny_unknown_fields`.
    if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
        // Broken JSON is reported as such; well-formed JSON of another kind is the wrong shape.
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(bytes) {
            return Err(json_error(&e, None));
        }
        return Err(ApiError::bad_request(
            "invalid_request",
            "the request body must be a JSON object, such as {\"name\": \"...\"}",
        ));
    }
    parse_locating(bytes).map_err(|(path, e)| json_error(&e, path))
}

/// For a body field where `null` means "clear it": distinguishes one given as `null` (Some(None))
/// from an absent one (None, with `#[serde(default)]`).
pub fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    <Option<String> as serde::Deserialize>::deserialize(d).map(Some)
}

/// Parses JSON into `T` with the plain parser (every request passes here); only refused JSON is
/// parsed again, tracking the path, to say where it went wrong: the path to the value at fault
/// (`None` at the top level) and the error.
pub fn parse_locating<T: DeserializeOwned>(
    bytes: &[u8],
) -> Result<T, (Option<String>, serde_json::Error)> {
    serde_json::from_slice(bytes).map_err(|plain| {
        let mut de = serde_json::Deserializer::from_slice(bytes);
        match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Err(e) => {
                let path = e.path().to_string();
                ((path != ".").then_some(path), e.into_inner())
            }
            // What follows the value (trailing characters) is what the plain parser refused.
            Ok(_) => (None, de.end().err().unwrap_or(plain)),
        }
    })
}

fn json_error(e: &serde_json::Error, path: Option<String>) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Data => {
            let plain = in_plain_words(&e.to_string());
            let message = match &path {
                Some(path) => format!("invalid request: {path}: {plain}"),
                None => format!("invalid request: {plain}"),
            };
            // A field left out is `required`, as a text field sent empty is.
            let code = if e.to_string().starts_with("missing field `") {
                "required"
            } else {
                "invalid_request"
            };
            match field_at_fault(e, path) {
                Some(field) => ApiError::invalid(field, code, message),
                None => ApiError::bad_request("invalid_request", message),
            }
        }
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            "invalid_json",
            format!("the request body is not valid JSON: {e}"),
        ),
    }
}

/// serde's message with the Rust types it names said as JSON's: `expected i64` is "expected a
/// whole number", a `floating point` value is "the number".
pub fn in_plain_words(message: &str) -> String {
    const WORDS: [(&str, &str); 12] = [
        ("expected i64", "expected a whole number"),
        ("expected i32", "expected a whole number"),
        ("expected i16", "expected a whole number"),
        ("expected isize", "expected a whole number"),
        ("expected u64", "expected a whole number, 0 or more"),
        ("expected u32", "expected a whole number, 0 or more"),
        ("expected u16", "expected a whole number, 0 or more"),
        ("expected u8", "expected a whole number, 0 or more"),
        ("expected usize", "expected a whole number, 0 or more"),
        ("expected f64", "expected a number"),
        ("expected f32", "expected a number"),
        ("floating point `", "the number `"),
    ];
    WORDS
        .iter()
        .fold(message.to_string(), |text, (rust, json)| {
            text.replace(rust, json)
        })
}

/// The body field a refused value concerns, for the answer's `field`: the path to a wrong value
/// or an unknown field (the path ends at it), or, for a missing field (serde names it in
/// backquotes, at the path of the object that lacks it), that field under the path.
pub fn field_at_fault(e: &serde_json::Error, path: Option<String>) -> Option<String> {
    let message = e.to_string();
    // A field left out, or given twice (serde names it so, at the object's path).
    let missing = ["missing field `", "duplicate field `"]
        .iter()
        .find_map(|start| {
            message
                .strip_prefix(start)
                .and_then(|rest| rest.split_once('`'))
                .map(|(name, _)| name)
        });
    match (path, missing) {
        (Some(path), Some(name)) => Some(format!("{path}.{name}")),
        (None, Some(name)) => Some(name.to_string()),
        (path, None) => path,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Named {
        #[allow(dead_code)]
        name: String,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Outer {
        #[allow(dead_code)]
        inner: Named,
    }

    fn field(e: &ApiError) -> Option<String> {
        match e {
            ApiError::Invalid { field, .. } => Some(field.to_string()),
            _ => None,
        }
    }

    #[test]
    fn json_errors_say_what_is_wrong() {
        let e = parse_json::<Named>(b"{\"name\": 5}").unwrap_err();
        assert_eq!(e.code(), "invalid_request");
        assert!(e.to_string().contains("name: invalid type"), "{e}");
        assert!(e.to_string().contains("expected a string"), "{e}");
        let e = parse_json::<Named>(b"{\"name\": \"x\"} trailing").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        let e = parse_json::<Named>(b"{\"name\": \"x\"").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
        let e = parse_json::<Named>(b"{\"nmae\": \"x\"}").unwrap_err();
        assert!(e.to_string().contains("unknown field `nmae`"), "{e}");
        assert_eq!(field(&e), Some("nmae".into()));
        let e = parse_json::<Named>(b"{}").unwrap_err();
        assert!(e.to_string().contains("missing field `name`"), "{e}");
        assert_eq!(field(&e), Some("name".into()));
        assert_eq!(e.code(), "required");
        let e = parse_json::<Named>(b"{\"name\": 5}").unwrap_err();
        assert_eq!(field(&e), Some("name".into()));
        let e = parse_json::<Outer>(b"{\"inner\": {}}").unwrap_err();
        assert_eq!(field(&e), Some("inner.name".into()), "{e}");
        let e = parse_json::<Outer>(b"{\"inner\": {\"name\": \"x\", \"b\": 1}}").unwrap_err();
        assert_eq!(field(&e), Some("inner.b".into()), "{e}");
        let e = parse_json::<Named>(b"{\"name\": \"x\"").unwrap_err();
        assert_eq!(field(&e), None, "broken JSON names no field");
        let e = parse_json::<Named>(b"").unwrap_err();
        assert_eq!(e.code(), "missing_body");
        let e = parse_json::<Named>(b"[\"x\"]").unwrap_err();
        assert_eq!(
            e.code(),
            "invalid_request",
            "an array is not read as a struct"
        );
        let e = parse_json::<Named>(b"{\"name\": \"\xff\"}").unwrap_err();
        assert_eq!(e.code(), "invalid_json");
    }

    #[test]
    fn numbers_refused_are_said_as_json_says_them_not_as_rust_types() {
        #[derive(Debug, serde::Deserialize)]
        struct Numbers {
            #[allow(dead_code)]
            at: Option<i64>,
            #[allow(dead_code)]
            days: Option<u32>,
        }
        let e = parse_json::<Numbers>(b"{\"at\": 1e20}").unwrap_err();
        assert_eq!(
            e.to_string(),
            "invalid request: at: invalid type: the number `1e+20`, expected a whole number at line 1 column 11"
        );
        assert_eq!(field(&e), Some("at".into()));
        let e = parse_json::<Numbers>(b"{\"days\": -1}").unwrap_err();
        assert!(
            e.to_string()
                .contains("integer `-1`, expected a whole number, 0 or more"),
            "{e}"
        );
        let e = parse_json::<Numbers>(b"{\"at\": \"2027-01-01\"}").unwrap_err();
        assert!(
            e.to_string()
                .contains("string \"2027-01-01\", expected a whole number"),
            "{e}"
        );
    }

    #[test]
    fn deeply_nested_json_is_refused_not_overflowed() {
        let deep = "[".repeat(100_000);
        let e = parse_json::<serde_json::Value>(deep.as_bytes()).unwrap_err();
        assert_eq!(e.code(), "invalid_json");
    }

    #[test]
    fn a_byte_order_mark_before_the_json_is_skipped_and_a_repeated_member_named() {
        let named: Named = parse_json(b"\xEF\xBB\xBF{\"name\": \"Ada\"}").expect("parsed");
        assert_eq!(named.name, "Ada");
        let refusal = parse_json::<Named>(br#"{"name": "a", "name": "b"}"#).expect_err("twice");
        assert!(
            matches!(refusal, ApiError::Invalid { ref field, .. } if field == "name"),
            "{refusal:?}"
        );
    }
}
