//! The route table. Each route is a method, a path template such as
//! `/api/v1/artifacts/{shareToken}/versions/{number}/files/{path..}` and a plain async handler.
//! The table becomes one warp filter that extracts the request once and dispatches by template:
//! a known path with the wrong method is a 405, an unknown path a 404, both in the usual JSON
//! shape. It remembers every route it holds, so discovery and the OpenAPI test see exactly what
//! the server answers.
//!
//! Why one filter rather than a chain of `.or()`: warp tries or-ed filters one by one, boxing a
//! future for each, and profiles showed that cost on every request once there were dozens of
//! routes. Here a request costs one pass over pre-parsed templates, allocating only for the
//! route that matches.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::pin::Pin;
use std::sync::{Arc, Mutex};

use bytes::Buf;
use futures_util::TryStreamExt;
use percent_encoding::percent_decode_str;
use warp::filters::BoxedFilter;
use warp::http::{header, HeaderMap, Method};
use warp::path::FullPath;
use warp::reply::Response;
use warp::Filter;

use super::counters::{RouteLabel, RouteStats};
use super::reply;
use super::request::{self, BodyStream, Request};
use crate::http::error::ApiError;
use crate::scopes::Scope;

/// The client's address, put into each request's extensions by the server's accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// One route as listed by discovery and checked against the OpenAPI description, with the scope
/// a key needs to use it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    pub method: String,
    /// As the table matches it (`{path..}` for the rest of the path); listed as documented.
    #[serde(serialize_with = "documented")]
    pub path: &'static str,
    pub scope: &'static str,
}

impl RouteInfo {
    /// The path as the OpenAPI description writes it: `{path}` for the rest of the path.
    pub fn documented_path(&self) -> String {
        documented_form(self.path)
    }
}

fn documented<S: serde::Serializer>(path: &&'static str, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&documented_form(path))
}

fn documented_form(path: &str) -> String {
    path.replace("..}", "}")
}

type HandlerFuture = Pin<Box<dyn Future<Output = Result<Response, ApiError>> + Send>>;
type Handler<S> = Arc<dyn Fn(S, Request) -> HandlerFuture + Send + Sync>;

struct Route<S> {
    method: Method,
    template: Template,
    handler: Handler<S>,
    scope: Scope,
    stats: Arc<RouteStats>,
}

/// What a browser is shown at an address that names nothing (given the path): a page with a way
/// forward, where API clients get JSON.
pub type NotFoundPage = fn(&str) -> Response;

/// The route table of handlers that each get a clone of the server's state `S`.
pub struct Router<S> {
    state: S,
    routes: Vec<Route<S>>,
    info: Vec<RouteInfo>,
    unmatched: Arc<RouteStats>,
    not_found_page: Option<NotFoundPage>,
}

impl<S: Clone + Send + Sync + 'static> Router<S> {
    pub fn new(state: S) -> Router<S> {
        Router {
            state,
            routes: Vec::new(),
            info: Vec::new(),
            unmatched: Arc::new(RouteStats::new("unmatched")),
            not_found_page: None,
        }
    }

    /// The page a browser gets (a GET that accepts HTML) at an address outside the API that
    /// names nothing.
    pub fn not_found_page(&mut self, page: NotFoundPage) -> &mut Self {
        self.not_found_page = Some(page);
        self
    }

    pub fn get<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::GET, template, handler)
    }

    pub fn post<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::POST, template, handler)
    }

    pub fn put<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::PUT, template, handler)
    }

    pub fn patch<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::PATCH, template, handler)
    }

    pub fn delete<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::DELETE, template, handler)
    }

    /// The scope a key needs for the route added last (by default `reader` for GET, `editor` for
    /// any other method).
    pub fn needs(&mut self, scope: Scope) -> &mut Self {
        if let (Some(route), Some(info)) = (self.routes.last_mut(), self.info.last_mut()) {
            route.scope = scope;
            info.scope = scope.as_str();
        }
        self
    }

    /// Every route added so far, in order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.info
    }

    /// Each route's request counters, and those of requests that matched none, for the metrics.
    pub fn stats(&self) -> (Vec<(RouteLabel, Arc<RouteStats>)>, Arc<RouteStats>) {
        let routes = self
            .routes
            .iter()
            .zip(&self.info)
            .map(|(route, info)| {
                (
                    RouteLabel {
                        method: info.method.clone(),
                        route: info.path,
                    },
                    route.stats.clone(),
                )
            })
            .collect();
        (routes, self.unmatched.clone())
    }

    /// The filter that answers every request: the matching route's handler, or a JSON 404/405.
    pub fn into_filter(self) -> BoxedFilter<(Response,)> {
        let table = Arc::new(Table {
            state: self.state,
            routes: self.routes,
            unmatched: self.unmatched,
            not_found_page: self.not_found_page,
        });
        warp::path::full()
            .and(warp::method())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::ext::optional::<ClientAddr>())
            .and(warp::body::stream().map(body_stream))
            .then(
                move |path: FullPath,
                      method: Method,
                      query: String,
                      headers: HeaderMap,
                      client: Option<ClientAddr>,
                      body: BodyStream| {
                    let table = table.clone();
                    let client = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
                    async move {
                        table
                            .dispatch(path.as_str(), method, query, headers, client, body)
                            .await
                    }
                },
            )
            .boxed()
    }

    fn add<H, Fut>(&mut self, method: Method, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(S, Request) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let handler: Handler<S> = Arc::new(move |state, req| Box::pin(handler(state, req)));
        let scope = if method == Method::GET {
            Scope::Reader
        } else {
            Scope::Editor
        };
        self.info.push(RouteInfo {
            method: method.to_string(),
            path: template,
            scope: scope.as_str(),
        });
        self.routes.push(Route {
            method,
            template: Template::parse(template),
            handler,
            scope,
            stats: Arc::new(RouteStats::new(template)),
        });
        self
    }
}

/// A path's segments, as route templates are matched against them.
fn segments_of(path: &str) -> Vec<&str> {
    match path.strip_prefix('/') {
        Some(rest) => rest.split('/').collect(),
        None => Vec::new(),
    }
}

struct Table<S> {
    state: S,
    routes: Vec<Route<S>>,
    unmatched: Arc<RouteStats>,
    not_found_page: Option<NotFoundPage>,
}

impl<S: Clone + Send + Sync + 'static> Table<S> {
    /// The answer at a path no route fits. The same path without its trailing slash, if it is
    /// one: a GET is sent there (308), anything else is told so. A browser elsewhere than the API
    /// gets the not-found page; anyone else a JSON 404.
    fn nothing_at(
        &self,
        path: &str,
        method: &Method,
        query: &str,
        headers: &HeaderMap,
    ) -> Response {
        let reading = *method == Method::GET;
        let trimmed = path.trim_end_matches('/');
        if !trimmed.is_empty() && trimmed.len() < path.len() {
            let segments = segments_of(trimmed);
            if self.routes.iter().any(|r| r.template.fits(&segments)) {
                if reading {
                    let location = if query.is_empty() {
                        trimmed.to_string()
                    } else {
                        format!("{trimmed}?{query}")
                    };
                    return reply::permanent_redirect(&location);
                }
                return ApiError::NotFound(format!(
                    "no such route: {path} ends with a slash; send the request to {trimmed}"
                ))
                .into_response();
            }
        }
        match self.not_found_page {
            Some(page) if asks_for_a_page(method, path, headers) => page(path),
            _ => ApiError::NotFound(
                "no such route; see GET /api/v1 for the list of endpoints".into(),
            )
            .into_response(),
        }
    }

    async fn dispatch(
        &self,
        path: &str,
        method: Method,
        query: String,
        headers: HeaderMap,
        client: IpAddr,
        body: BodyStream,
    ) -> Response {
        let began = std::time::Instant::now();
        let asked = log::log_enabled!(log::Level::Debug).then(|| method.clone());
        let (stats, response) = self.route(path, method, query, headers, client, body).await;
        let took = began.elapsed();
        stats.record(response.status().as_u16(), took);
        if let Some(method) = asked {
            // The route's template, not the path: a path may hold a token.
            log::debug!(
                "{method} {} from {client}: {} in {:.1} ms",
                stats.route,
                response.status().as_u16(),
                took.as_secs_f64() * 1000.0
            );
        }
        response
    }

    /// The matching route's answer, with the counters it is counted under.
    async fn route(
        &self,
        path: &str,
        method: Method,
        query: String,
        headers: HeaderMap,
        client: IpAddr,
        body: BodyStream,
    ) -> (&RouteStats, Response) {
        let segments = segments_of(path);
        // HEAD is answered by the GET route (hyper sends the headers without the body).
        let wanted = if method == Method::HEAD {
            &Method::GET
        } else {
            &method
        };
        let mut path_known = false;
        let mut chosen = None;
        for route in &self.routes {
            if !route.template.fits(&segments) {
                continue;
            }
            path_known = true;
            if route.method == *wanted {
                chosen = Some(route);
                break;
            }
        }
        let Some(route) = chosen else {
            let refusal = if path_known {
                // Only a refusal lists the path's methods (no allocation on the way to a route).
                let methods: Vec<&Method> = self
                    .routes
                    .iter()
                    .filter(|r| r.template.fits(&segments))
                    .map(|r| &r.method)
                    .collect();
                ApiError::MethodNotAllowed {
                    allowed: allowed(&methods),
                }
            } else {
                return (
                    &self.unmatched,
                    self.nothing_at(path, wanted, &query, &headers),
                );
            };
            return (&self.unmatched, refusal.into_response());
        };
        let Some(params) = route.template.params(&segments) else {
            // A parameter that is not valid percent-encoded UTF-8 cannot name anything.
            let refusal = ApiError::NotFound(
                "nothing here: a part of the path is not valid percent-encoded UTF-8 (%ff, say), so it names no artifact, file or record".into(),
            );
            return (&self.unmatched, refusal.into_response());
        };
        // A client that waits for `100 Continue` has sent no body yet (curl waits so for any body
        // over 1 MiB, and would otherwise upload it all to hear that its key is wrong).
        let waits = headers
            .get(warp::http::header::EXPECT)
            .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"));
        let slot = Arc::new(Mutex::new(Some(body)));
        let req = Request::new(
            method,
            path.to_string(),
            params,
            query,
            headers,
            client,
            slot.clone(),
        )
        .needing(route.scope);
        let mut response = (route.handler)(self.state.clone(), req)
            .await
            .unwrap_or_else(ApiError::into_response);
        // A body the handler did not read (an early refusal) is drained, so the client sees the
        // answer and the connection stays usable; if it cannot be, the client is told it closes.
        if let Some(mut rest) = request::take(&slot) {
            // A client waiting for `100 Continue` refused for who it is (401, 403: said before any
            // handler reads a body) is not asked for its body: the connection closes instead.
            let unasked = waits && matches!(response.status().as_u16(), 401 | 403);
            if unasked || !request::drain(&mut rest, request::DRAIN_MAX).await {
                response.headers_mut().insert(
                    warp::http::header::CONNECTION,
                    warp::http::HeaderValue::from_static("close"),
                );
            }
        }
        (&route.stats, response)
    }
}

/// Whether a request is a browser asking for a page (a GET or HEAD accepting HTML, elsewhere than
/// the API and MCP): its refusals are pages too, never JSON.
pub fn asks_for_a_page(method: &Method, path: &str, headers: &HeaderMap) -> bool {
    let api = path == "/api" || path.starts_with("/api/") || path.starts_with("/mcp");
    let reading = matches!(*method, Method::GET | Method::HEAD);
    let html = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"));
    reading && html && !api
}

/// The methods a path takes, for a 405's `Allow` header: each once, HEAD after GET.
fn allowed(methods: &[&Method]) -> String {
    let mut names: Vec<&str> = Vec::new();
    for method in methods {
        let with_head: &[&str] = if **method == Method::GET {
            &["GET", "HEAD"]
        } else {
            &[method.as_str()]
        };
        for name in with_head {
            if !names.contains(name) {
                names.push(name);
            }
        }
    }
    names.join(", ")
}

fn body_stream<S, B>(stream: S) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(stream.map_ok(|mut chunk| chunk.copy_to_bytes(chunk.remaining())))
}

/// A parsed path template.
#[derive(Debug, Clone)]
struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    /// `{name}`: one segment.
    Param(&'static str),
    /// `{name..}`: the rest of the path, zero or more segments, joined with `/`.
    Rest(&'static str),
}

impl Template {
    fn parse(template: &'static str) -> Template {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(|s| {
                if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix("..}")) {
                    Segment::Rest(name)
                } else if let Some(name) = s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                    Segment::Param(name)
                } else {
                    Segment::Literal(s)
                }
            })
            .collect();
        Template { segments }
    }

    /// Whether the path's segments fit the template (no allocation).
    fn fits(&self, path: &[&str]) -> bool {
        let mut i = 0;
        for segment in &self.segments {
            match segment {
                Segment::Rest(_) => return true,
                Segment::Literal(lit) => {
                    if path.get(i) != Some(lit) {
                        return false;
                    }
                }
                Segment::Param(_) => {
                    if path.get(i).is_none_or(|p| p.is_empty()) {
                        return false;
                    }
                }
            }
            i += 1;
        }
        i == path.len()
    }

    /// The decoded parameters of a path that fits; `None` if one is not valid UTF-8 once decoded.
    fn params(&self, path: &[&str]) -> Option<Vec<(&'static str, String)>> {
        let mut params = Vec::new();
        for (i, segment) in self.segments.iter().enumerate() {
            match segment {
                Segment::Literal(_) => {}
                Segment::Param(name) => params.push((*name, decode(path.get(i)?)?)),
                Segment::Rest(name) => {
                    let rest = path.get(i..).unwrap_or_default().join("/");
                    params.push((*name, decode(&rest)?));
                    break;
                }
            }
        }
        Some(params)
    }

    #[cfg(test)]
    fn matches(&self, path: &str) -> Option<Vec<String>> {
        let segments: Vec<&str> = path.strip_prefix('/')?.split('/').collect();
        if self.fits(&segments) {
            self.params(&segments)
                .map(|params| params.into_iter().map(|(_, value)| value).collect())
        } else {
            None
        }
    }
}

fn decode(raw: &str) -> Option<String> {
    percent_decode_str(raw)
        .decode_utf8()
        .ok()
        .map(|s| s.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literal_routes_match_exactly() {
        let t = Template::parse("/api/v1/keys");
        assert_eq!(t.matches("/api/v1/keys"), Some(vec![]));
        assert_eq!(t.matches("/api/v1/keys/"), None);
        assert_eq!(t.matches("/api/v1/key"), None);
        assert_eq!(t.matches("/api/v1/keys/1"), None);
        assert_eq!(t.matches("/api/v1"), None);
    }

    #[test]
    fn parameters_are_decoded() {
        let t = Template::parse("/api/v1/keys/{id}");
        assert_eq!(t.matches("/api/v1/keys/42"), Some(vec!["42".to_string()]));
        assert_eq!(
            t.matches("/api/v1/keys/a%20b"),
            Some(vec!["a b".to_string()])
        );
        assert_eq!(t.matches("/api/v1/keys/"), None);
        assert_eq!(t.matches("/api/v1/keys/%ff"), None);
    }

    #[test]
    fn parameters_carry_the_names_their_template_gives_them() {
        let t = Template::parse("/a/{shareToken}/v/{number}/{path..}");
        let segments: Vec<&str> = "a/tok/v/2/css/x.css".split('/').collect();
        assert_eq!(
            t.params(&segments),
            Some(vec![
                ("shareToken", "tok".to_string()),
                ("number", "2".to_string()),
                ("path", "css/x.css".to_string()),
            ])
        );
    }

    #[test]
    fn rest_parameters_take_the_remaining_path() {
        let t = Template::parse("/v/{grant}/{path..}");
        assert_eq!(
            t.matches("/v/abc/css/site%20main.css"),
            Some(vec!["abc".to_string(), "css/site main.css".to_string()])
        );
        assert_eq!(
            t.matches("/v/abc/"),
            Some(vec!["abc".to_string(), String::new()])
        );
        assert_eq!(
            t.matches("/v/abc"),
            Some(vec!["abc".to_string(), String::new()])
        );
        assert_eq!(t.matches("/v"), None);
    }

    #[test]
    fn the_root_is_a_route_of_its_own() {
        let t = Template::parse("/");
        assert_eq!(t.matches("/"), Some(vec![]));
        assert_eq!(t.matches("/settings"), None);
    }
}
