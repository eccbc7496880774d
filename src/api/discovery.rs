//! The unauthenticated descriptions of the API: discovery (`GET /api/v1`), health, and the OpenAPI
//! document in JSON and YAML. The documents are computed once, when the server starts; health
//! asks the database each time.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use crate::http::error::ApiError;
use crate::http::reply;
use crate::http::request::Request;
use crate::http::router::RouteInfo;
use crate::keys::KEY_PREFIX;
use crate::state::{AppState, Docs, Site};

pub const API_NAME: &str = "Artifact Review Agent API";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The OpenAPI description of every route, as written by hand next to this file.
const OPENAPI_SOURCE: &str = include_str!("openapi.json");

/// What agents are told about the MCP endpoint (discovery and `/llms.txt` are written from it).
pub struct AgentsGuide {
    pub mcp_path: &'static str,
    pub protocol_versions: Vec<&'static str>,
    pub instructions: &'static str,
    /// Each tool's name and description, in order.
    pub tools: Vec<(String, String)>,
}

/// The discovery documents of this server, given its route table and MCP catalogue.
pub fn render(
    site: &Site,
    routes: &[RouteInfo],
    agents: &AgentsGuide,
) -> Result<Docs, serde_json::Error> {
    let index = json!({
        "name": API_NAME,
        "version": VERSION,
        "baseUrl": site.base_url,
        "documentation": format!("{}/api/v1/openapi.json", site.base_url),
        "health": format!("{}/api/v1/health", site.base_url),
        "authentication": {
            "header": "X-API-Key",
            "prefix": KEY_PREFIX,
            "schemes": [
                {"type": "apiKey", "in": "header", "name": "X-API-Key"},
                {"type": "http", "scheme": "bearer", "header": "Authorization"}
            ],
            "keyPrefix": KEY_PREFIX,
            "session": {"cookie": crate::session_cookie::name(site), "signIn": "/api/v1/session"}
        },
        "links": {
            "openapi": "/api/v1/openapi.json",
            "openapiYaml": "/api/v1/openapi.yaml",
            "health": "/api/v1/health",
            "settings": "/settings",
            "llms": "/llms.txt",
            "mcp": agents.mcp_path
        },
        "mcp": {
            "url": format!("{}{}", site.base_url, agents.mcp_path),
            "transport": "streamable-http",
            "protocolVersions": agents.protocol_versions,
            "authentication": "an API key in X-API-Key or Authorization: Bearer (never a session)",
            "tools": agents.tools.iter().map(|(name, _)| name).collect::<Vec<_>>()
        },
        "endpoints": endpoints(routes, &openapi_document()?)
    });
    let mut openapi = openapi_document()?;
    openapi["info"]["version"] = json!(VERSION);
    openapi["servers"] = json!([{ "url": site.base_url }]);
    Ok(Docs {
        index: serde_json::to_vec(&index)?.into(),
        health: serde_json::to_vec(&json!({"status": "ok", "version": VERSION}))?.into(),
        openapi_json: serde_json::to_vec_pretty(&openapi)?.into(),
        openapi_yaml: super::yaml::to_yaml(
            &openapi,
            &["openapi", "info", "servers", "tags", "paths", "components"],
        )
        .into(),
        llms_txt: agents_guide(site, routes, agents).into(),
    })
}

/// The route table as discovery lists it: each route with the `auth` it takes, as its OpenAPI
/// operation says (`none`, `key`, `session`, `key or session`), for the routes described there.
fn endpoints(routes: &[RouteInfo], openapi: &Value) -> Vec<Value> {
    routes
        .iter()
        .map(|route| {
            let mut entry = json!(route);
            if let Some(auth) = auth_of(route, openapi) {
                entry["auth"] = json!(auth);
            }
            entry
        })
        .collect()
}

/// What a route takes to authenticate, as its OpenAPI operation's `security` says.
fn auth_of(route: &RouteInfo, openapi: &Value) -> Option<&'static str> {
    let schemes = openapi["paths"][route.documented_path()][route.method.to_ascii_lowercase()]
        ["security"]
        .as_array()?;
    let named = |name: &str| schemes.iter().any(|s| s.get(name).is_some());
    Some(match (named("ApiKeyHeader"), named("SessionCookie")) {
        (false, false) => "none",
        (true, false) => "key",
        (false, true) => "session",
        (true, true) => "key or session",
    })
}

/// `/llms.txt`: what an agent needs to use this server, written from the route table and the MCP
/// tool catalogue when the server starts, so it cannot fall behind either.
fn agents_guide(site: &Site, routes: &[RouteInfo], agents: &AgentsGuide) -> String {
    let base = &site.base_url;
    let mcp = format!("{base}{}", agents.mcp_path);
    let mut out = format!(
        "# Artifact Review\n\n\
> A self-hosted review server for what AI agents and people produce: HTML pages, Markdown \
documents and ZIPs of small static sites. Agents publish; people comment on passages in the \
browser; agents read the comments, reply, resolve them and publish the next version.\n\n\
Base URL: {base}\n\n\
Authentication: an API key (`{KEY_PREFIX}` + 32 characters), made by a person on {base}/settings#keys \
(or with `artifact-review key create`), sent as `X-API-Key: <key>` or `Authorization: Bearer <key>`. \
A key acts as one identity, the person or one of their named agents, and everything it does is \
shown under that name. An agent without a key can ask for one: `POST /api/v1/key-requests` with \
`{{\"agentName\"}}`, show the person the `userCode` and `verificationUri`, then poll \
`POST /api/v1/key-requests/poll` with the `pollToken` every `interval` seconds until the key comes.\n\n\
## The loop\n\n\
1. Publish: `publish_artifact` (MCP) or `POST /api/v1/artifacts` with `{{\"name\", \"fileName\", \"content\"}}` \
(HTML or Markdown as text, a ZIP as base64; or multipart: `curl -F file=@site.zip -F name=...`). \
Give people the `shareUrl`: it opens the review page for you and for the reviewers you add \
(`POST /api/v1/artifacts/{{shareToken}}/access` with `{{\"email\", \"role\": \"can-comment\"}}`).\n\
2. Wait for feedback: `wait_for_feedback` (MCP; pass back the `cursor` it returns as `after`), or \
`GET /api/v1/artifacts/{{shareToken}}/events` (Server-Sent Events; resume with `Last-Event-ID`).\n\
3. Read the open comments of every version: `list_comments`, or \
`GET /api/v1/artifacts/{{shareToken}}/comments?version=all&status=open`.\n\
4. Fix the artifact, then answer: `reply` and `resolve` (with a `note` saying what changed), or \
`POST /api/v1/comments/{{id}}/replies` and `PATCH /api/v1/comments/{{id}}` with `{{\"resolved\": true}}`.\n\
5. Publish the fix: `publish_version`, or `POST /api/v1/artifacts/{{shareToken}}/versions`.\n\n\
To comment on a passage, give its text: `add_comment` with `quote` (and `near` when the text \
repeats), or `POST /api/v1/artifacts/{{shareToken}}/comments` with `{{\"content\", \"quote\", \"near\"}}`. \
The server finds it and anchors the comment; a missing or repeated quote is refused with the count. \
Text that the page's own scripts write is not in the file: add `scripted: true` and a quote the \
file lacks is kept as given, for the review page to find once the page has run.\n\n\
## MCP\n\n\
Endpoint: {mcp} (Streamable HTTP, JSON answers; protocol versions {versions}).\n\n\
- Claude Code: `claude mcp add --transport http artifact-review {mcp} --header \"X-API-Key: $AR_API_KEY\"`\n\
- Cursor (`.cursor/mcp.json`) and VS Code (`.vscode/mcp.json`): a server of type http at {mcp} \
with the header `X-API-Key`.\n\n\
{instructions}\n\n\
Tools:\n\n",
        versions = agents.protocol_versions.join(", "),
        instructions = agents.instructions,
    );
    for (name, description) in &agents.tools {
        out.push_str(&format!("- `{name}`: {description}\n"));
    }
    out.push_str(&format!(
        "\n## REST endpoints\n\nFull description: {base}/api/v1/openapi.json (YAML: /api/v1/openapi.yaml). \
Errors are `{{\"error\", \"code\"}}` with a 4xx status; timestamps are milliseconds since the Unix \
epoch; ids are strings.\n\n"
    ));
    let openapi = openapi_document().unwrap_or_default();
    for route in routes.iter().filter(|r| r.path.starts_with("/api/v1")) {
        let note = match auth_of(route, &openapi) {
            Some("none") => " (no key needed)",
            Some("session") => " (a person's session only: keys are refused)",
            _ => "",
        };
        out.push_str(&format!(
            "- `{} {}`{note}\n",
            route.method,
            route.documented_path()
        ));
    }
    out
}

/// The OpenAPI document as shipped (before the server adds its own URL).
pub fn openapi_document() -> Result<Value, serde_json::Error> {
    serde_json::from_str(OPENAPI_SOURCE)
}

fn docs(state: &AppState) -> Result<&Docs, ApiError> {
    state.docs.get().ok_or_else(|| {
        ApiError::Internal("API documents requested before start-up finished".into())
    })
}

fn document(body: &Bytes, content_type: &'static str) -> Response {
    let mut response = Response::new(body.clone().into());
    *response.status_mut() = StatusCode::OK;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

pub async fn llms_txt(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(
        &docs(&state)?.llms_txt,
        "text/markdown; charset=utf-8",
    ))
}

pub async fn index(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(&docs(&state)?.index, "application/json"))
}

/// How long the health check waits for the database to answer.
pub const HEALTH_DEADLINE: Duration = Duration::from_secs(2);

/// 200 when the pool of read connections answers (it answered a read within `HEALTH_DEADLINE`,
/// else it answers one now within it) and the writer thread is taking work (a transaction begun
/// or ended within it, else an empty one committed within it); else 503 saying which failed.
pub async fn health(state: AppState, _: Request) -> Result<Response, ApiError> {
    let health = state.store.health(HEALTH_DEADLINE).await;
    if health.ok() {
        return Ok(document(&docs(&state)?.health, "application/json"));
    }
    let check = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    let failed: Vec<&str> = [&health.database, &health.writer, &health.disk]
        .into_iter()
        .filter_map(|r| r.as_ref().err().map(String::as_str))
        .collect();
    Ok(reply::json(
        StatusCode::SERVICE_UNAVAILABLE,
        &json!({
            "status": "unavailable",
            "version": VERSION,
            "error": failed.join("; "),
            "code": "unavailable",
            "checks": {
                "database": check(&health.database),
                "writer": check(&health.writer),
                "disk": check(&health.disk),
            },
        }),
    ))
}

pub async fn openapi_json(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(&docs(&state)?.openapi_json, "application/json"))
}

pub async fn openapi_yaml(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(
        &docs(&state)?.openapi_yaml,
        "text/yaml; charset=utf-8",
    ))
}
