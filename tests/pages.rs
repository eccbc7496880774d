//! The embedded settings pages: served from the binary with a strict CSP, and sent to the right
//! place before they load (the settings need a session; the sign-in page does not).

mod common;

use common::*;

#[test]
fn the_settings_page_needs_a_session_and_the_sign_in_page_does_not() -> TestResult {
    let server = Server::start();
    let resp = server.get("/settings", &Auth::None);
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("location").as_deref(), Some("/login"));
    let login = server.get("/login", &Auth::None);
    assert_eq!(login.status, 200);
    assert!(login.text().contains("<!doctype html>") || login.text().contains("<!DOCTYPE html>"));
    let cookie = server.setup_owner();
    let page = server.get("/settings", &Auth::Cookie(cookie.clone()));
    assert_eq!(page.status, 200);
    assert_eq!(
        page.header("content-type").as_deref(),
        Some("text/html; charset=utf-8")
    );
    let csp = page.header("content-security-policy").ok_or("csp")?;
    assert!(csp.contains("script-src 'self'"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(page.header("x-frame-options").as_deref(), Some("DENY"));
    let home = server.get("/", &Auth::Cookie(cookie.clone()));
    assert_eq!(home.status, 200, "the artifacts home");
    let resp = server.get("/login", &Auth::Cookie(cookie));
    assert_eq!(resp.status, 303);
    assert_eq!(resp.header("location").as_deref(), Some("/"));
    assert_eq!(
        server.get("/", &Auth::None).header("location").as_deref(),
        Some("/login")
    );
    Ok(())
}

#[test]
fn assets_are_served_from_the_binary_with_their_types() -> TestResult {
    let server = Server::start();
    let js = server.get("/assets/js/main.js", &Auth::None);
    assert_eq!(js.status, 200);
    assert_eq!(
        js.header("content-type").as_deref(),
        Some("text/javascript; charset=utf-8")
    );
    assert_eq!(
        server
            .get("/assets/app.css", &Auth::None)
            .header("content-type")
            .as_deref(),
        Some("text/css; charset=utf-8")
    );
    let icon = server.get("/favicon.ico", &Auth::None);
    assert_eq!(icon.status, 200);
    assert_eq!(
        icon.header("content-type").as_deref(),
        Some("image/svg+xml")
    );
    for path in [
        "/assets/nope.js",
        "/assets/../Cargo.toml",
        "/assets/%2e%2e/Cargo.toml",
        "/assets/",
    ] {
        assert_eq!(server.get(path, &Auth::None).status, 404, "{path}");
    }
    for path in ["/setup", "/invite", "/invite/anything"] {
        assert_eq!(server.get(path, &Auth::None).status, 200, "{path}");
    }
    Ok(())
}

#[test]
fn every_page_script_and_style_is_loaded_from_this_server_only() -> TestResult {
    let server = Server::start();
    let html = server.get("/login", &Auth::None).text();
    for needle in ["http://", "https://", "<script>", " style=", "onclick="] {
        assert!(!html.contains(needle), "the page contains {needle:?}");
    }
    Ok(())
}
