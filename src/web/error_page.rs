//! The HTML pages a person sees when a page or an artifact file cannot be shown (no such artifact,
//! no access, a version gone, a viewing link expired): a short explanation and a way forward,
//! never raw JSON. Every text is escaped.

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::bridge;
use super::pages::PAGE_CSP;
use super::viewer::SANDBOX_CSP;
use crate::ingest::escape_html;

/// Why a file under a viewing grant could not be served; the review page's frame reads it from
/// the page's `<meta name="artifact-review-error">` through the bridge.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameError {
    /// The grant expired or died (signed out, access removed, version or artifact deleted).
    Grant,
    /// The grant is good but the version has no such file.
    Missing,
    /// The share link was turned off (or its artifact deleted) since its page was opened.
    Link,
}

/// A page of this server's own (a review page that cannot be shown).
pub fn page(status: StatusCode, title: &str, message: &str, links: &[(&str, &str)]) -> Response {
    let html = document(title, message, links, None);
    respond(status, html.into_bytes(), PAGE_CSP)
}

/// A page shown inside the artifact frame, sandboxed like the artifact's own files and carrying
/// the bridge, so the review page learns what went wrong.
pub fn in_frame(error: FrameError, path: &str) -> Response {
    let (title, message, meta) = match error {
        FrameError::Grant => (
            "This view has expired",
            "The link that showed this artifact is no longer valid: it expired, you signed out, or \
             your access changed. Reload the review page to see the artifact again."
                .to_string(),
            "grant",
        ),
        FrameError::Missing => (
            "No such file in this version",
            format!("This version has no file named \u{201c}{path}\u{201d}."),
            "missing",
        ),
        FrameError::Link => (
            "This link is no longer available",
            "The share link that showed this artifact was turned off by its owner, or the \
             artifact was deleted."
                .to_string(),
            "link",
        ),
    };
    let html = document(title, &message, &[], Some(meta));
    let mut response = respond(
        StatusCode::NOT_FOUND,
        bridge::inject(html.as_bytes()),
        SANDBOX_CSP,
    );
    response.headers_mut().insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        HeaderValue::from_static("*"),
    );
    response
}

fn document(title: &str, message: &str, links: &[(&str, &str)], meta: Option<&str>) -> String {
    let mut html = String::from(
        "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
    );
    if let Some(meta) = meta {
        html.push_str(&format!(
            "<meta name=\"artifact-review-error\" content=\"{}\">\n",
            escape_html(meta)
        ));
    }
    html.push_str(&format!(
        "<title>{} · Artifact Review</title>\n\
         <link rel=\"icon\" href=\"/assets/favicon.svg\" type=\"image/svg+xml\">\n\
         <link rel=\"stylesheet\" href=\"/assets/app.css\">\n</head>\n<body>\n\
         <main class=\"error-page\">\n<h1>{}</h1>\n<p>{}</p>\n",
        escape_html(title),
        escape_html(title),
        escape_html(message)
    ));
    if !links.is_empty() {
        html.push_str("<p class=\"error-links\">");
        for (i, (href, label)) in links.iter().enumerate() {
            if i > 0 {
                html.push_str(" · ");
            }
            html.push_str(&format!(
                "<a href=\"{}\">{}</a>",
                escape_html(href),
                escape_html(label)
            ));
        }
        html.push_str("</p>\n");
    }
    html.push_str("</main>\n</body>\n</html>\n");
    html
}

fn respond(status: StatusCode, body: Vec<u8>, csp: &'static str) -> Response {
    let html = HeaderValue::from_static("text/html; charset=utf-8");
    super::document(status, body, html, csp, "no-store")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_is_escaped() {
        let html = document(
            "<img src=x onerror=alert(1)>",
            "a \"quoted\" <b>message</b>",
            &[("/a/x\"y", "<home>")],
            None,
        );
        assert!(!html.contains("<img"));
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
        assert!(html.contains("<a href=\"/a/x&quot;y\">&lt;home&gt;</a>"));
    }

    #[test]
    fn frame_errors_say_which_and_carry_the_bridge() {
        let response = in_frame(FrameError::Missing, "<x>.html");
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(
            response.headers()[header::CONTENT_SECURITY_POLICY],
            SANDBOX_CSP
        );
    }
}
