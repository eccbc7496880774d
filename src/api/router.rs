//! The route table. Each route is a method, a path template such as
//! `/api/v1/artifacts/{shareToken}/versions/{number}/files/{path..}` and a plain async handler.
//! The table builds the warp filter (path first, then method, so a known path with the wrong method
//! is a 405 and an unknown path a 404) and remembers every route it holds, so discovery and the
//! OpenAPI test can see exactly what the server answers.

use std::future::Future;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::{Arc, Mutex};

use bytes::Buf;
use futures_util::TryStreamExt;
use percent_encoding::percent_decode_str;
use warp::filters::BoxedFilter;
use warp::http::{HeaderMap, Method};
use warp::path::FullPath;
use warp::reply::Response;
use warp::Filter;

use super::request::{self, BodyStream, Request};
use crate::error::ApiError;
use crate::state::AppState;

/// The client's address, put into each request's extensions by the server's accept loop.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub IpAddr);

/// One route as listed by discovery and checked against the OpenAPI description.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RouteInfo {
    pub method: String,
    pub path: &'static str,
}

pub struct Router {
    state: AppState,
    routes: Vec<RouteInfo>,
    filter: Option<BoxedFilter<(Response,)>>,
}

impl Router {
    pub fn new(state: AppState) -> Router {
        Router {
            state,
            routes: Vec::new(),
            filter: None,
        }
    }

    pub fn get<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::GET, template, handler)
    }

    pub fn post<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::POST, template, handler)
    }

    pub fn put<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::PUT, template, handler)
    }

    pub fn patch<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::PATCH, template, handler)
    }

    pub fn delete<H, Fut>(&mut self, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        self.add(Method::DELETE, template, handler)
    }

    /// Every route added so far, in order.
    pub fn routes(&self) -> &[RouteInfo] {
        &self.routes
    }

    /// The combined filter; unmatched requests reject (404 or 405) for `error::recover`.
    pub fn into_filter(self) -> BoxedFilter<(Response,)> {
        self.filter.unwrap_or_else(|| {
            warp::any()
                .and_then(|| async { Err(warp::reject::not_found()) })
                .boxed()
        })
    }

    fn add<H, Fut>(&mut self, method: Method, template: &'static str, handler: H) -> &mut Self
    where
        H: Fn(AppState, Request) -> Fut + Clone + Send + Sync + 'static,
        Fut: Future<Output = Result<Response, ApiError>> + Send + 'static,
    {
        let pattern = Template::parse(template);
        let state = self.state.clone();
        let matched = warp::path::full().and_then(move |path: FullPath| {
            let params = pattern.matches(path.as_str());
            async move {
                match params {
                    Some(params) => Ok((path.as_str().to_string(), params)),
                    None => Err(warp::reject::not_found()),
                }
            }
        });
        let route = matched
            .untuple_one()
            .and(method_filter(&method))
            .and(warp::method())
            .and(warp::query::raw().or(warp::any().map(String::new)).unify())
            .and(warp::header::headers_cloned())
            .and(warp::ext::optional::<ClientAddr>())
            .and(warp::body::stream().map(body_stream))
            .then(
                move |path: String,
                      params: Vec<String>,
                      method: Method,
                      query: String,
                      headers: HeaderMap,
                      client: Option<ClientAddr>,
                      body: BodyStream| {
                    let handler = handler.clone();
                    let state = state.clone();
                    let client = client.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0);
                    let slot = Arc::new(Mutex::new(Some(body)));
                    let request =
                        Request::new(method, path, params, query, headers, client, slot.clone());
                    async move {
                        let mut response = handler(state, request)
                            .await
                            .unwrap_or_else(ApiError::into_response);
                        // A body the handler did not read (an early refusal) is drained, so the
                        // client sees the answer and the connection stays usable; if it cannot be,
                        // the client is told the connection closes.
                        if let Some(mut rest) = request::take(&slot) {
                            if !request::drain(&mut rest, request::DRAIN_MAX).await {
                                response.headers_mut().insert(
                                    warp::http::header::CONNECTION,
                                    warp::http::HeaderValue::from_static("close"),
                                );
                            }
                        }
                        response
                    }
                },
            )
            .boxed();
        self.filter = Some(match self.filter.take() {
            None => route,
            Some(previous) => previous.or(route).unify().boxed(),
        });
        self.routes.push(RouteInfo {
            method: method.to_string(),
            path: template,
        });
        self
    }
}

fn body_stream<S, B>(stream: S) -> BodyStream
where
    S: futures_util::Stream<Item = Result<B, warp::Error>> + Send + Sync + 'static,
    B: Buf,
{
    Box::pin(stream.map_ok(|mut chunk| chunk.copy_to_bytes(chunk.remaining())))
}

fn method_filter(method: &Method) -> BoxedFilter<()> {
    match *method {
        Method::GET => warp::get().boxed(),
        Method::POST => warp::post().boxed(),
        Method::PUT => warp::put().boxed(),
        Method::PATCH => warp::patch().boxed(),
        Method::DELETE => warp::delete().boxed(),
        Method::HEAD => warp::head().boxed(),
        _ => warp::options().boxed(),
    }
}

/// A parsed path template.
#[derive(Debug, Clone)]
struct Template {
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(&'static str),
    Param,
    /// `{name..}`: the rest of the path, zero or more segments, joined with `/`.
    Rest,
}

impl Template {
    fn parse(template: &'static str) -> Template {
        let segments = template
            .trim_start_matches('/')
            .split('/')
            .map(|s| {
                if s.starts_with('{') && s.ends_with("..}") {
                    Segment::Rest
                } else if s.starts_with('{') && s.ends_with('}') {
                    Segment::Param
                } else {
                    Segment::Literal(s)
                }
            })
            .collect();
        Template { segments }
    }

    /// The decoded parameters when `path` matches.
    fn matches(&self, path: &str) -> Option<Vec<String>> {
        let mut parts = path.strip_prefix('/')?.split('/');
        let mut params = Vec::new();
        for segment in &self.segments {
            match segment {
                Segment::Literal(lit) => {
                    if parts.next()? != *lit {
                        return None;
                    }
                }
                Segment::Param => {
                    let raw = parts.next()?;
                    if raw.is_empty() {
                        return None;
                    }
                    params.push(decode(raw)?);
                }
                Segment::Rest => {
                    let rest: Vec<&str> = parts.by_ref().collect();
                    params.push(decode(&rest.join("/"))?);
                    return Some(params);
                }
            }
        }
        if parts.next().is_some() {
            return None;
        }
        Some(params)
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
    }
}
