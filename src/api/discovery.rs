//! The unauthenticated descriptions of the API: discovery (`GET /api/v1`), health, and the OpenAPI
//! document in JSON and YAML. The documents are computed once, when the server starts; health
//! asks the database each time.

use std::time::Duration;

use bytes::Bytes;
use serde_json::{json, Value};
use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::reply;
use super::request::Request;
use super::router::RouteInfo;
use crate::error::ApiError;
use crate::keys::KEY_PREFIX;
use crate::state::{AppState, Site};

pub const API_NAME: &str = "Artifact Review Agent API";
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

/// The OpenAPI description of every route, as written by hand next to this file.
const OPENAPI_SOURCE: &str = include_str!("openapi.json");

/// The pre-rendered documents.
#[derive(Debug)]
pub struct Docs {
    index: Bytes,
    health: Bytes,
    openapi_json: Bytes,
    openapi_yaml: Bytes,
}

impl Docs {
    pub fn new(site: &Site, routes: &[RouteInfo]) -> Result<Docs, serde_json::Error> {
        let index = json!({
            "name": API_NAME,
            "version": VERSION,
            "baseUrl": site.base_url,
            "authentication": {
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
                "settings": "/settings"
            },
            "endpoints": routes
        });
        let mut openapi = openapi_document()?;
        openapi["info"]["version"] = json!(VERSION);
        openapi["servers"] = json!([{ "url": site.base_url }]);
        Ok(Docs {
            index: serde_json::to_vec(&index)?.into(),
            health: serde_json::to_vec(&json!({"status": "ok", "version": VERSION}))?.into(),
            openapi_json: serde_json::to_vec_pretty(&openapi)?.into(),
            openapi_yaml: super::yaml::to_yaml(&openapi).into(),
        })
    }
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

pub async fn index(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(&docs(&state)?.index, "application/json"))
}

/// How long the health check waits for the database to answer.
pub const HEALTH_DEADLINE: Duration = Duration::from_secs(2);

/// 200 when the database answers a read through the pool and the writer thread commits an empty
/// transaction, both within `HEALTH_DEADLINE`; else 503 saying which failed.
pub async fn health(state: AppState, _: Request) -> Result<Response, ApiError> {
    let health = state.store.health(HEALTH_DEADLINE).await;
    if health.ok() {
        return Ok(document(&docs(&state)?.health, "application/json"));
    }
    let check = |r: &Result<(), String>| match r {
        Ok(()) => "ok".to_string(),
        Err(e) => e.clone(),
    };
    let failed: Vec<&str> = [&health.database, &health.writer]
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
            "checks": {"database": check(&health.database), "writer": check(&health.writer)},
        }),
    ))
}

pub async fn openapi_json(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(&docs(&state)?.openapi_json, "application/json"))
}

pub async fn openapi_yaml(state: AppState, _: Request) -> Result<Response, ApiError> {
    Ok(document(
        &docs(&state)?.openapi_yaml,
        "application/yaml; charset=utf-8",
    ))
}
