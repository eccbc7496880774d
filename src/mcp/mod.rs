//! `POST /mcp`: the Model Context Protocol over Streamable HTTP, so an agent (Claude Code, Cursor,
//! VS Code, Codex...) can publish, read feedback, wait for it, reply and resolve with no code of
//! its own: point the client at this URL with an API key header.
//!
//! Written here rather than with the `rmcp` SDK: what is needed is five methods over one stateless
//! POST, and owning them keeps this endpoint's answers the API's own (the same 401, 413 and key
//! check), its limits the API's, and the dependency tree small (see the README).
//!
//! Each POST is checked in this order: its `Origin` (present and foreign: 403), its API key (the
//! API's 401, with no OAuth challenge: clients would switch to an OAuth flow), its size (the
//! upload limit, since publishing carries files), then the JSON-RPC message and what its protocol
//! generation requires (`era`). Both generations are served: `initialize` then requests (legacy),
//! or stateless requests with `_meta` (2026-07-28, with `server/discover`). No session id is ever
//! issued; every request is authenticated on its own.

mod catalog;
mod era;
mod feedback;
mod jsonrpc;
mod tools;

use serde::Serialize;
use serde_json::value::RawValue;
use serde_json::{json, Value};
use warp::http::{header, HeaderMap, StatusCode};
use warp::reply::Response;

use crate::api::upload::UPLOAD_BODY_LIMIT;
use crate::auth::{self, Caller};
use crate::http::error::ApiError;
use crate::http::request::Request;
use crate::memory_budget::Work;
use crate::scopes::Scope;
use crate::state::AppState;
use crate::state::Routes;
use era::Era;
use jsonrpc::{
    Incoming, RpcError, INTERNAL_ERROR, INVALID_PARAMS, INVALID_REQUEST, METHOD_NOT_FOUND,
};

/// The endpoint's path.
pub const PATH: &str = "/mcp";

/// How long clients of the stateless revision may cache `tools/list` and `server/discover`.
const CACHE_TTL_MS: u64 = 60 * 60 * 1000;

/// What this server tells an agent about itself.
pub const INSTRUCTIONS: &str = "Artifact Review: publish HTML pages, Markdown documents or ZIPs of small \
static sites for people to review, then read and answer their comments. The loop: publish_artifact \
(its shareUrl opens the review page for you and the reviewers you add with add_reviewer) -> wait_for_feedback (returns new comments and replies; pass its cursor \
back as `after`) -> fix the artifact -> reply and resolve (resolve takes a note saying what changed) \
-> publish_version. list_comments shows the open comments of every version (with their newest \
replies; get_comment pages through all of a thread's); add_comment takes the passage you mean as \
plain text in `quote`.";

/// The protocol versions served, newest first.
pub fn protocol_versions() -> Vec<&'static str> {
    era::supported()
}

/// One line per tool: its name and description.
pub fn tool_summaries() -> Vec<(String, String)> {
    catalog::tools()
        .as_array()
        .map(|all| {
            all.iter()
                .map(|t| {
                    (
                        t["name"].as_str().unwrap_or_default().to_string(),
                        t["description"].as_str().unwrap_or_default().to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Messages up to this size are read without reserving memory.
const SMALL_MESSAGE: u64 = 1024 * 1024;

pub fn routes(r: &mut Routes) {
    // GET and DELETE (a legacy client's event stream and session end) get the router's 405.
    // Any key reaches the endpoint; each tool needs its own scope (`catalog::needs`).
    r.post(PATH, handle).needs(Scope::Reader);
}

/// Every answer of the endpoint is a JSON-RPC message: a refusal before the message was read (a
/// bad key: 401 with its challenge; too large: 413; busy: 429 or 503) keeps its HTTP status and
/// headers, and carries the API's `{error, code, ...}` as the JSON-RPC error's `data`, its text
/// as the `message`: SDKs that read only JSON-RPC errors (Python's) show why.
async fn handle(state: AppState, req: Request) -> Result<Response, ApiError> {
    Ok(match answer_request(state, req).await {
        Ok(response) => response,
        Err(e) => e.into_response_as(|body| {
            let message = body["error"].clone();
            json!({
                "jsonrpc": "2.0",
                "id": null,
                "error": { "code": REFUSED, "message": message, "data": body },
            })
        }),
    })
}

/// The JSON-RPC error code of a request refused before its message was read (JSON-RPC's range
/// for server errors); `data.code` says which refusal.
const REFUSED: i64 = -32000;

async fn answer_request(state: AppState, mut req: Request) -> Result<Response, ApiError> {
    if !auth::origin_is_own(&state, &req) {
        // Refused before the message is read: its id is not known (JSON-RPC's null).
        return Ok(jsonrpc::error(None, &RpcError::new(
            INVALID_REQUEST,
            "Forbidden: requests from this Origin may not use the MCP endpoint (DNS rebinding protection); MCP clients send no Origin, and this server's own pages are the only origin allowed",
            StatusCode::FORBIDDEN,
        )));
    }
    let caller = auth::key_only(&state, &req).await?;
    // A message that may carry a document or an archive is held whole and parsed: it reserves
    // its share of the memory budget first (small ones, nearly all, do not need to).
    let declared = req
        .header(header::CONTENT_LENGTH)
        .and_then(|v| v.parse::<u64>().ok());
    let _reservation = match declared {
        Some(len) if len <= SMALL_MESSAGE => None,
        // Unannounced: it may be as large as the limit.
        _ => {
            let size = declared.unwrap_or(UPLOAD_BODY_LIMIT).min(UPLOAD_BODY_LIMIT);
            match state.memory.reserve(Work::Message(size)).await {
                Ok(reservation) => Some(reservation),
                Err(busy) => return Err(req.refuse_after_body(UPLOAD_BODY_LIMIT, busy).await),
            }
        }
    };
    let body = req.body_bytes(UPLOAD_BODY_LIMIT).await?;
    let message = match jsonrpc::parse(&body) {
        Ok(m) => m,
        Err(e) => return Ok(jsonrpc::error(jsonrpc::readable_id(&body).as_ref(), &e)),
    };
    drop(body);
    let era = match era::of(&req.headers, &message) {
        Ok(era) => era,
        Err(e) => return Ok(jsonrpc::error(message.id.as_ref(), &e)),
    };
    let Some(id) = message.id.clone() else {
        // A notification (notifications/initialized, notifications/cancelled...) or a response.
        return Ok(jsonrpc::accepted());
    };
    Ok(
        match answer(&state, &caller, &req.headers, era, &message).await {
            Ok(result) => jsonrpc::result(&id, &result),
            Err(e) => jsonrpc::error(Some(&id), &e),
        },
    )
}

/// The scope of the caller's key (MCP takes keys only).
fn key_scope(caller: &Caller) -> Scope {
    caller
        .key()
        .map_or(Scope::Reader, |k| Scope::of_stored(&k.scopes))
}

/// Where results of the stateless era name the server (in `_meta`).
const SERVER_INFO_KEY: &str = "io.modelcontextprotocol/serverInfo";
/// The stateless era's `resultType` of a finished result.
const RESULT_COMPLETE: &str = "complete";

#[derive(Serialize, Clone, Copy)]
struct ServerInfo {
    name: &'static str,
    title: &'static str,
    version: &'static str,
}

const SERVER_INFO: ServerInfo = ServerInfo {
    name: "artifact-review",
    title: "Artifact Review",
    version: env!("CARGO_PKG_VERSION"),
};

/// The version an `initialize` asks for, once its params have what the handshake requires
/// (`protocolVersion`, `capabilities`, `clientInfo` with `name` and `version`): a message without
/// them is not an MCP client's, and is told what is missing.
fn initialize_params(message: &Incoming) -> Result<&str, RpcError> {
    let params = &message.params;
    let client = params.get("clientInfo").and_then(Value::as_object);
    let missing: Vec<&str> = [
        (
            "protocolVersion",
            params.get("protocolVersion").is_some_and(Value::is_string),
        ),
        (
            "capabilities",
            params.get("capabilities").is_some_and(Value::is_object),
        ),
        (
            "clientInfo",
            client.is_some_and(|c| {
                c.get("name").is_some_and(Value::is_string)
                    && c.get("version").is_some_and(Value::is_string)
            }),
        ),
    ]
    .into_iter()
    .filter_map(|(name, ok)| (!ok).then_some(name))
    .collect();
    if !missing.is_empty() {
        return Err(RpcError::new(
            INVALID_PARAMS,
            format!(
                "initialize needs params.protocolVersion (a string), params.capabilities (an object) and params.clientInfo ({{\"name\", \"version\"}}); missing or wrong: {}",
                missing.join(", ")
            ),
            StatusCode::OK,
        ));
    }
    Ok(message.param_str("protocolVersion").unwrap_or_default())
}

/// What the revision of the stateless era adds to every result.
fn decorate(era: Era, mut result: Value) -> Value {
    if era == Era::Modern {
        result["resultType"] = json!(RESULT_COMPLETE);
        result["_meta"] = json!({ SERVER_INFO_KEY: SERVER_INFO });
    }
    result
}

async fn answer(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    era: Era,
    message: &Incoming,
) -> Result<Box<RawValue>, RpcError> {
    let result = match (era, message.method.as_str()) {
        (_, "tools/call") => return call(state, caller, headers, era, message).await,
        (Era::Legacy, "initialize") => json!({
            "protocolVersion": era::negotiate(Some(initialize_params(message)?)),
            "capabilities": { "tools": { "listChanged": false } },
            "serverInfo": SERVER_INFO,
            "instructions": INSTRUCTIONS,
        }),
        (Era::Legacy, "ping") => json!({}),
        (Era::Modern, "server/discover") => json!({
            "supportedVersions": era::supported(),
            "capabilities": { "tools": { "listChanged": false } },
            "instructions": INSTRUCTIONS,
            "ttlMs": CACHE_TTL_MS,
            "cacheScope": "private",
        }),
        (_, "tools/list") => {
            let mut list = json!({ "tools": catalog::tools_for(key_scope(caller)) });
            if era == Era::Modern {
                list["ttlMs"] = json!(CACHE_TTL_MS);
                list["cacheScope"] = json!("private");
            }
            list
        }
        (era, method) => {
            return Err(RpcError::new(
                METHOD_NOT_FOUND,
                match (era, method) {
                    (Era::Modern, "initialize" | "ping") => format!("Method not found: {method:?} belongs to the 2025 protocol versions (sent without the 2026-07-28 MCP-Protocol-Version); in 2026-07-28 this server answers server/discover, tools/list and tools/call"),
                    (Era::Legacy, "server/discover") => "Method not found: \"server/discover\" belongs to protocol version 2026-07-28 (send it with that MCP-Protocol-Version); in the 2025 versions this server answers initialize, ping, tools/list and tools/call".to_string(),
                    (Era::Modern, _) => format!("Method not found: {method:?}; in 2026-07-28 this server answers server/discover, tools/list and tools/call"),
                    (Era::Legacy, _) => format!("Method not found: {method:?}; in the 2025 protocol versions this server answers initialize, ping, tools/list and tools/call"),
                },
                if era == Era::Modern {
                    StatusCode::NOT_FOUND
                } else {
                    StatusCode::OK
                },
            ))
        }
    };
    raw(&decorate(era, result))
}

/// A `tools/call` result, written without building a tree of values: the tool's JSON once, as
/// `structuredContent` and (escaped) as the text content that clients without structured output
/// read; a refusal as text alone, with `isError`.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ToolResult<'a> {
    content: [TextContent<'a>; 1],
    #[serde(skip_serializing_if = "Option::is_none")]
    structured_content: Option<&'a RawValue>,
    is_error: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_type: Option<&'static str>,
    #[serde(rename = "_meta", skip_serializing_if = "Option::is_none")]
    meta: Option<ServerMeta>,
}

#[derive(Serialize)]
struct TextContent<'a> {
    #[serde(rename = "type")]
    kind: &'static str,
    text: &'a str,
}

#[derive(Serialize)]
struct ServerMeta {
    #[serde(rename = "io.modelcontextprotocol/serverInfo")]
    server_info: ServerInfo,
}

impl<'a> ToolResult<'a> {
    fn new(era: Era, text: &'a str, structured: Option<&'a RawValue>) -> ToolResult<'a> {
        let modern = era == Era::Modern;
        ToolResult {
            content: [TextContent { kind: "text", text }],
            structured_content: structured,
            is_error: structured.is_none(),
            result_type: modern.then_some(RESULT_COMPLETE),
            meta: modern.then_some(ServerMeta {
                server_info: SERVER_INFO,
            }),
        }
    }
}

/// An answer as JSON; failing to write one is our fault, logged.
fn raw(value: &impl Serialize) -> Result<Box<RawValue>, RpcError> {
    serde_json::value::to_raw_value(value).map_err(|e| {
        log::error!("MCP: writing an answer failed: {e}");
        RpcError::new(
            INTERNAL_ERROR,
            "the server failed to write its answer; it has been logged",
            StatusCode::INTERNAL_SERVER_ERROR,
        )
    })
}

/// `tools/call`: the tool's structured result and its JSON as text; the API's refusals as tool
/// errors (`isError`) the model can act on; a fault of ours as a JSON-RPC internal error.
async fn call(
    state: &AppState,
    caller: &Caller,
    headers: &HeaderMap,
    era: Era,
    message: &Incoming,
) -> Result<Box<RawValue>, RpcError> {
    let name = message.param_str("name").unwrap_or_default();
    if !catalog::exists(name) {
        let message = if name.is_empty() {
            "tools/call needs params.name, the tool to call; tools/list names them".to_string()
        } else {
            // Named as sent, up to a point: a name of 100,000 characters is not echoed whole.
            let shown: String = name.chars().take(80).collect();
            let cut = if shown.len() < name.len() { "…" } else { "" };
            format!("Unknown tool: {shown:?}{cut}; tools/list names them")
        };
        return Err(RpcError::new(INVALID_PARAMS, message, StatusCode::OK));
    }
    let needed = catalog::needs(name);
    let scope = key_scope(caller);
    if !scope.allows(needed) {
        let refused = ApiError::forbidden(
            "insufficient_scope",
            format!(
                "this key's scope is {scope}; the tool {name} needs a key with the {needed} scope"
            ),
        );
        let text = json!({ "error": refused.to_string(), "code": refused.code() }).to_string();
        return raw(&ToolResult::new(era, &text, None));
    }
    let arguments = match message.params.get("arguments") {
        None | Some(Value::Null) => json!({}),
        Some(a @ Value::Object(_)) => a.clone(),
        Some(_) => {
            return Err(RpcError::new(
                INVALID_PARAMS,
                "arguments must be an object",
                StatusCode::OK,
            ))
        }
    };
    match tools::call(state, caller, headers, name, arguments).await {
        Ok(structured) => raw(&ToolResult::new(era, structured.get(), Some(&structured))),
        Err(ApiError::Internal(cause)) => {
            log::error!("MCP tool {name} failed: {cause}");
            Err(RpcError::new(
                INTERNAL_ERROR,
                "the server failed to run this tool; it has been logged",
                StatusCode::INTERNAL_SERVER_ERROR,
            ))
        }
        Err(refused) => {
            let text = refused.body(&refused.to_string()).to_string();
            raw(&ToolResult::new(era, &text, None))
        }
    }
}
