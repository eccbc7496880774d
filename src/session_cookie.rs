//! The browser session cookie: its name, reading it from a request, and the `Set-Cookie` values
//! that set and clear it.
//!
//! Behind https the cookie is `__Host-ar_session`: browsers accept a cookie of that name only with
//! `Secure`, `Path=/` and no `Domain`, set by this very host over https, so a sibling subdomain or
//! a plain-http page cannot plant one. Over plain http it is `ar_session`. Cookies are not
//! separated by port, so a page on another port of the same host can still plant a second
//! `ar_session` with a narrower `Path`, which the browser then sends first (cookie tossing: a
//! person signed in as themself would act in the planter's account). A request carrying more than
//! one session cookie is therefore treated as signed out, and its answer clears every one of them.

use warp::http::{header, HeaderMap, HeaderValue};

use crate::state::Site;

/// The cookie's name over plain http.
pub const PLAIN_NAME: &str = "ar_session";
/// The cookie's name behind https.
pub const HOST_NAME: &str = "__Host-ar_session";
/// Paths cleared at most for one request with planted cookies.
const MAX_CLEARED_PATHS: usize = 32;

/// The session cookie a request presents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Presented {
    None,
    One(String),
    /// More than one cookie of our name: treated as signed out.
    Several,
}

/// The session cookie's name on this site.
pub fn name(site: &Site) -> &'static str {
    if site.secure_cookies {
        HOST_NAME
    } else {
        PLAIN_NAME
    }
}

/// The session cookie(s) in the request's `Cookie` header(s).
pub fn presented(site: &Site, headers: &HeaderMap) -> Presented {
    let name = name(site);
    let mut values = headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .filter(|(n, _)| *n == name)
        .map(|(_, value)| value);
    match (values.next(), values.next()) {
        (None, _) => Presented::None,
        (Some(_), Some(_)) => Presented::Several,
        (Some(""), None) => Presented::None,
        (Some(value), None) => Presented::One(value.to_string()),
    }
}

/// `Set-Cookie` for a new session.
pub fn set(site: &Site, token: &str, max_age_secs: i64) -> String {
    format!(
        "{}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age_secs}{}",
        name(site),
        secure(site)
    )
}

/// `Set-Cookie` that ends the session cookie (signing out).
pub fn clear(site: &Site) -> String {
    clear_at(site, "/")
}

fn clear_at(site: &Site, path: &str) -> String {
    format!(
        "{}=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0{}",
        name(site),
        secure(site)
    )
}

fn secure(site: &Site) -> &'static str {
    if site.secure_cookies {
        "; Secure"
    } else {
        ""
    }
}

/// For a request to `path` that carries several session cookies: the `Set-Cookie` values that
/// clear each of them, whatever path it was planted on (any path the browser would send with this
/// request: `/`, `/api`, `/api/`, `/api/v1`, ... up to `path` itself). `None` otherwise.
pub fn clear_planted(site: &Site, path: &str, headers: &HeaderMap) -> Option<Vec<HeaderValue>> {
    if presented(site, headers) != Presented::Several {
        return None;
    }
    let mut paths = vec!["/".to_string()];
    if !site.secure_cookies {
        // `__Host-` cookies always have `Path=/`; plain ones may be planted on any prefix.
        let mut prefix = String::new();
        for segment in path.split('/').skip(1).filter(|s| !s.is_empty()) {
            prefix.push('/');
            prefix.push_str(segment);
            paths.push(prefix.clone());
            paths.push(format!("{prefix}/"));
        }
    }
    paths.dedup();
    Some(
        paths
            .iter()
            .take(MAX_CLEARED_PATHS)
            .filter(|p| !p.contains(';') && !p.contains(','))
            .filter_map(|p| HeaderValue::from_str(&clear_at(site, p)).ok())
            .collect(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn site(base: &str) -> Site {
        Site::new(base, "127.0.0.1:8787".parse().expect("addr"))
    }

    fn cookies(value: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_str(value).expect("header"),
        );
        h
    }

    #[test]
    fn behind_https_the_cookie_is_host_prefixed_and_plain_ones_are_ignored() {
        let https = site("https://review.example.com");
        assert!(set(&https, "t", 60).starts_with("__Host-ar_session=t; Path=/;"));
        assert!(set(&https, "t", 60).ends_with("; Secure"));
        assert_eq!(
            presented(&https, &cookies("ar_session=planted")),
            Presented::None
        );
        assert_eq!(
            presented(
                &https,
                &cookies("ar_session=planted; __Host-ar_session=mine")
            ),
            Presented::One("mine".into())
        );
        let http = site("http://127.0.0.1:8787");
        assert!(set(&http, "t", 60).starts_with("ar_session=t;"));
        assert!(!set(&http, "t", 60).contains("Secure"));
    }

    #[test]
    fn two_session_cookies_are_signed_out_and_cleared_on_every_path_they_could_have() {
        let http = site("http://127.0.0.1:8787");
        let two = cookies("ar_session=planted; theme=dark; ar_session=mine");
        assert_eq!(presented(&http, &two), Presented::Several);
        let clears: Vec<String> = clear_planted(&http, "/api/v1/keys", &two)
            .expect("clears")
            .iter()
            .map(|v| v.to_str().expect("ascii").to_string())
            .collect();
        for path in ["/", "/api", "/api/", "/api/v1", "/api/v1/", "/api/v1/keys"] {
            assert!(
                clears.contains(&format!(
                    "ar_session=; Path={path}; HttpOnly; SameSite=Strict; Max-Age=0"
                )),
                "{path}: {clears:?}"
            );
        }
        assert!(clear_planted(&http, "/api/v1/keys", &cookies("ar_session=mine")).is_none());
        assert_eq!(presented(&http, &cookies("ar_session=")), Presented::None);
    }
}
