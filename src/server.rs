//! The HTTP server: our own accept loop over a bound listener (tests pass port 0), serving the warp
//! routes through hyper with a header-read deadline, caps on open connections overall and per
//! client address (`connections`), a pace every request body must keep (`http::body_pace`), a cap
//! on header size, a `Host` check before routing (DNS rebinding), and graceful shutdown that lets
//! in-flight requests finish.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use tokio::net::TcpListener;
use tower_service::Service;
use warp::http::{header, StatusCode};
use warp::reply::Response;
use warp::Filter;

use crate::api::discovery::{self, AgentsGuide};
use crate::connections::ConnectionSlots;
use crate::db_files::Companion;
use crate::event_streams::StreamSlots;
use crate::failed_sign_ins::FailedSignIns;
use crate::http::body_pace::{Pace, PacedBody};
use crate::http::counters::{RouteStats, UploadBytes};
use crate::http::error::{recover, ApiError};
use crate::http::router::{asks_for_a_page, ClientAddr, Router};
use crate::http::send_deadline::SendDeadline;
use crate::identity_cache::IdentityCache;
use crate::key_usage::KeyUsage;
use crate::limits::Limits;
use crate::link_key::LinkKey;
use crate::litestream::supervisor::ReplicationStatus;
use crate::memory_budget::MemoryBudget;
use crate::metrics::{endpoint, Exporter};
use crate::password::Passwords;
use crate::proxy::TrustedProxies;
use crate::quota::Quotas;
use crate::rendered_markdown::RenderedMarkdown;
use crate::session_cookie;
use crate::setup::SetupGate;
use crate::state::{AppState, Shared, Site};
use crate::store::{share_links, users, Store};
use crate::throttle::LoginThrottle;
use crate::view_counter::ViewCounter;
use crate::{api, mcp, web};

/// A client must send its request line and headers within this time, including the first request
/// on a new connection and each request on a kept-alive one; otherwise it is disconnected.
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(5);
/// Total size of request headers accepted.
pub const MAX_HEADER_BYTES: usize = 32 * 1024;
/// How long shutdown waits for in-flight requests.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

/// What operators configured beside the API: where the metrics are served (if anywhere), and the
/// supervised Litestream's reports (when it runs).
#[derive(Default)]
pub struct Operations {
    pub metrics_addr: Option<SocketAddr>,
    pub replication: Option<Arc<ReplicationStatus>>,
}

/// Serves until `shutdown` resolves, then lets in-flight requests finish (up to the grace period)
/// and checkpoints the database.
pub async fn serve(
    listener: TcpListener,
    store: Store,
    base_url: Option<String>,
    proxies: TrustedProxies,
    limits: Limits,
    operations: Operations,
    shutdown: impl Future<Output = ()>,
) -> std::io::Result<()> {
    let bound = listener.local_addr()?;
    let base_url = base_url.unwrap_or_else(|| default_base_url(bound));
    let site = Arc::new(Site::new(&base_url, bound));
    let (stopping, shutdown_seen) = tokio::sync::watch::channel(false);
    let memory = Arc::new(MemoryBudget::new(limits.memory_budget));
    let link_key = Arc::new(LinkKey::load_or_create(store.path())?);
    warn_of_lost_links(&store, &link_key).await;
    let state = AppState::new(Shared {
        store: store.clone(),
        site: site.clone(),
        passwords: Passwords::default(),
        login_throttle: Arc::new(LoginThrottle::default()),
        failed_sign_ins: Arc::new(FailedSignIns::default()),
        setup: Arc::new(SetupGate::default()),
        key_usage: Arc::new(KeyUsage::default()),
        identities: Arc::new(IdentityCache::default()),
        docs: Arc::new(OnceLock::new()),
        event_streams: Arc::new(StreamSlots::default()),
        rendered: Arc::new(RenderedMarkdown::new(memory.clone(), web::inject_bridge)),
        memory,
        quotas: Arc::new(Quotas::new(limits.storage_quota)),
        spool_dir: spool_dir(store.path()),
        views: Arc::new(ViewCounter::default()),
        link_key,
        uploads: Arc::new(UploadBytes::default()),
        idempotency: Arc::default(),
        shutdown: shutdown_seen,
    });
    let mut router = Router::new(state.clone());
    api::routes(&mut router);
    mcp::routes(&mut router);
    web::routes(&mut router);
    let table = router.routes().to_vec();
    let (route_stats, unmatched) = router.stats();
    let routes = router.into_filter();
    let agents = AgentsGuide {
        mcp_path: mcp::PATH,
        protocol_versions: mcp::protocol_versions(),
        instructions: mcp::INSTRUCTIONS,
        tools: mcp::tool_summaries(),
    };
    let docs = discovery::render(&site, &table, &agents).map_err(std::io::Error::other)?;
    let _ = state.docs.set(docs);
    // The table answers every request itself; `recover` only guards against a warp rejection.
    let app = routes.recover(recover).unify();
    let service = warp::service(app);

    announce_setup(&state).await;
    // Contents stored by uploads that a crash interrupted, which no version uses.
    match store.remove_unused_contents().await {
        Ok(0) => {}
        Ok(n) => log::info!(
            "removed {n} stored contents that no version uses (uploads interrupted by a stop)"
        ),
        Err(e) => log::error!("could not look for unused stored contents: {e}"),
    }
    let slots = ConnectionSlots::new(limits.connections_per_address, proxies.clone());
    let metrics = match operations.metrics_addr {
        Some(addr) => {
            let listener = TcpListener::bind(addr).await.map_err(|e| {
                // The usual cause: the metrics given the API's own address.
                let same = if addr.port() == bound.port() {
                    format!(" (the API listens on {bound}: give the metrics another port, such as 127.0.0.1:9187)")
                } else {
                    String::new()
                };
                std::io::Error::new(
                    e.kind(),
                    format!("cannot listen on {addr} for the metrics: {e}{same}"),
                )
            })?;
            log::info!("metrics at http://{}/metrics", listener.local_addr()?);
            if addr.ip().is_unspecified() {
                log::warn!(
                    "the metrics (no authentication) are served on every interface ({addr}): \
                     anyone who can reach this machine can read them; prefer 127.0.0.1 or a \
                     private address"
                );
            }
            let exporter = Exporter {
                routes: Arc::new(route_stats),
                unmatched: unmatched.clone(),
                store: store.clone(),
                identities: state.identities.clone(),
                connections: slots.clone(),
                event_streams: state.event_streams.clone(),
                uploads: state.uploads.clone(),
                replication: operations.replication,
            };
            Some(tokio::spawn(endpoint::serve(listener, exporter)))
        }
        None => None,
    };
    say(format!("listening on http://{bound}"));

    let pace = Pace {
        timeout: limits.body_timeout,
        min_rate: limits.min_body_rate,
    };
    let send_timeout = limits.send_timeout;
    let graceful = GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(pair) => pair,
                Err(e) => {
                    // Out of file descriptors and the like: wait a moment rather than spin.
                    log::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let slot = match slots.admit(peer.ip()) {
            Ok(slot) => slot,
            Err(refusal) => {
                slots.refuse(stream, refusal);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let service = service.clone();
        let site = site.clone();
        let proxies = proxies.clone();
        let unmatched = unmatched.clone();
        let handler = service_fn(move |request| {
            let mut service = service.clone();
            let site = site.clone();
            let proxies = proxies.clone();
            let unmatched = unmatched.clone();
            async move {
                let before = Before {
                    site: &site,
                    proxies: &proxies,
                    unmatched: &unmatched,
                    peer,
                    pace,
                };
                Ok::<_, Infallible>(handle(&mut service, before, request).await)
            }
        });
        let connection = http1::Builder::new()
            .timer(TokioTimer::new())
            .header_read_timeout(HEADER_READ_TIMEOUT)
            .max_buf_size(256 * 1024)
            .serve_connection(
                TokioIo::new(SendDeadline::new(stream, send_timeout)),
                handler,
            );
        let connection = graceful.watch(connection);
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                log::debug!("connection from {peer} ended: {e}");
            }
            drop(slot);
        });
    }

    log::info!("shutting down: finishing in-flight requests");
    drop(listener);
    // Event streams never finish by themselves: tell them to.
    let _ = stopping.send(true);
    if tokio::time::timeout(SHUTDOWN_GRACE, graceful.shutdown())
        .await
        .is_err()
    {
        log::warn!("some connections were still open after {SHUTDOWN_GRACE:?}; closing them");
    }
    if let Some(metrics) = metrics {
        metrics.abort();
    }
    store.close().await;
    log::info!("stopped");
    Ok(())
}

/// What a connection's requests are checked against before routing.
struct Before<'a> {
    site: &'a Site,
    proxies: &'a TrustedProxies,
    /// Where a request refused before routing is counted.
    unmatched: &'a RouteStats,
    peer: SocketAddr,
    pace: Pace,
}

/// Checks what must hold before routing, tags the request with the client address (the forwarded
/// one behind a `--trusted-proxy`), routes it, and has the answer clear planted session cookies.
async fn handle<S>(
    service: &mut S,
    before: Before<'_>,
    request: hyper::Request<Incoming>,
) -> Response
where
    S: Service<hyper::Request<PacedBody>, Response = Response, Error = Infallible>,
{
    let began = std::time::Instant::now();
    match admit(&before, request) {
        Ok(request) => route(service, before.site, request).await,
        Err(refusal) => {
            before
                .unmatched
                .record(refusal.status().as_u16(), began.elapsed());
            *refusal
        }
    }
}

/// The request, paced and tagged with its client address, or the answer refusing it.
fn admit(
    before: &Before<'_>,
    request: hyper::Request<Incoming>,
) -> Result<hyper::Request<PacedBody>, Box<Response>> {
    let pace = before.pace;
    let mut request = request.map(|body| PacedBody::new(body, pace));
    let header_bytes: usize = request
        .headers()
        .iter()
        .map(|(name, value)| name.as_str().len() + value.len() + 4)
        .sum();
    if header_bytes > MAX_HEADER_BYTES {
        let mut response = ApiError::bad_request(
            "headers_too_large",
            format!("the request headers are {header_bytes} bytes; the limit is {MAX_HEADER_BYTES} bytes"),
        )
        .into_response();
        *response.status_mut() = StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE;
        return Err(Box::new(response));
    }
    check_target(&request, before.site).map_err(|refusal| {
        Box::new(
            if asks_for_a_page(request.method(), request.uri().path(), request.headers()) {
                crate::web::wrong_host_page(&refusal.to_string())
            } else {
                refusal.into_response()
            },
        )
    })?;
    let client = before.proxies.client(before.peer.ip(), request.headers());
    request.extensions_mut().insert(ClientAddr(client));
    Ok(request)
}

/// Routes an admitted request; the answer clears the session cookies planted by a sibling site.
async fn route<S>(service: &mut S, site: &Site, request: hyper::Request<PacedBody>) -> Response
where
    S: Service<hyper::Request<PacedBody>, Response = Response, Error = Infallible>,
{
    let planted = session_cookie::clear_planted(site, request.uri().path(), request.headers());
    let mut response = match service.call(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    for clear in planted.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, clear);
    }
    response
}

/// Refuses, before routing, a request for another host (DNS rebinding): exactly one `Host`, and
/// the authority of an absolute-form target when there is one, must name this server. (A request
/// with both `Content-Length` and `Transfer-Encoding` never gets here ambiguous: hyper reads it as
/// chunked, as RFC 9112 allows, and closes the connection after answering.)
fn check_target<B>(request: &hyper::Request<B>, site: &Site) -> Result<(), ApiError> {
    let headers = request.headers();
    let mut hosts = headers.get_all(header::HOST).iter();
    let host = hosts.next().and_then(|h| h.to_str().ok());
    if hosts.next().is_some() {
        return Err(ApiError::bad_request(
            "host_not_allowed",
            "the request has more than one Host header",
        ));
    }
    let authority = request.uri().authority().map(|a| a.as_str());
    let named: Vec<&str> = [host, authority].into_iter().flatten().collect();
    // HTTP/1.0 has no Host; a browser always sends one, so a request without is no rebinding.
    let unnamed_allowed = request.version() == hyper::Version::HTTP_10;
    if named.is_empty() && !unnamed_allowed {
        return Err(ApiError::bad_request(
            "host_not_allowed",
            format!(
                "the request has no Host header, which HTTP/1.1 requires; send Host: {} (the address you connect to)",
                site.base_url
                    .split_once("://")
                    .map_or(site.base_url.as_str(), |(_, host)| host)
            ),
        ));
    }
    if named.iter().any(|h| !site.host_allowed(h)) {
        return Err(ApiError::bad_request(
            "host_not_allowed",
            format!(
                "this server does not answer for the host {:?}; it serves {} (start it with --base-url to add a public name)",
                authority.or(host).unwrap_or_default(),
                site.base_url
            ),
        ));
    }
    Ok(())
}

/// The base URL when none is configured: the bound address, or, bound to every interface
/// (`0.0.0.0`, `::`), the loopback address (a link naming `0.0.0.0` opens nowhere, and browsers
/// refuse it), with a warning that other machines need `--base-url`.
fn default_base_url(bound: SocketAddr) -> String {
    if !bound.ip().is_unspecified() {
        return format!("http://{bound}");
    }
    let loopback = SocketAddr::new(
        match bound {
            SocketAddr::V4(_) => std::net::Ipv4Addr::LOCALHOST.into(),
            SocketAddr::V6(_) => std::net::Ipv6Addr::LOCALHOST.into(),
        },
        bound.port(),
    );
    let base_url = format!("http://{loopback}");
    log::warn!(
        "listening on every interface ({bound}) without --base-url: links name {base_url}, and \
         requests from other machines, which name another host, are refused; start with \
         --base-url set to the address people use (e.g. --base-url http://review.lan:{})",
        bound.port()
    );
    base_url
}

/// Where uploads are spooled: beside the database, which must have room for them anyway (a
/// temporary folder may be a RAM disk).
fn spool_dir(db: &std::path::Path) -> std::path::PathBuf {
    match db.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
        _ => std::path::PathBuf::from("."),
    }
}

/// While the database has no account, opens the setup gate and logs the one-time link.
/// Share links made with another key than the one beside the database (a database restored or
/// copied without its `.link-key`) still work, but their addresses cannot be shown again: said at
/// the start, with what to do.
async fn warn_of_lost_links(store: &Store, key: &LinkKey) {
    let id = key.id();
    match store
        .read(move |conn| share_links::made_with_another_key(conn, &id))
        .await
    {
        Ok(0) => {}
        Ok(n) => log::warn!(
            "{n} share links were made with another share-link key than {}: they still work, but \
             their addresses can no longer be shown to their owners. If this database was \
             restored or copied, put its .link-key beside it and restart; otherwise their owners \
             can give them new addresses",
            Companion::LinkKey.of(store.path()).display()
        ),
        Err(e) => log::warn!("could not check the share links against their key: {e}"),
    }
}

/// A line the person starting the server must see (where it listens, the setup link): logged,
/// or written to stderr when the log level (`RUST_LOG=warn`) would hide it.
fn say(line: String) {
    if log::log_enabled!(log::Level::Info) {
        log::info!("{line}");
    } else {
        eprintln!("{line}");
    }
}

async fn announce_setup(state: &AppState) {
    match state.store.read(users::count).await {
        Ok(0) => match state.setup.open() {
            Ok(token) => say(format!(
                "no account exists yet: finish setup at {}/setup#token={} (this link works once)",
                state.site.base_url,
                token.expose()
            )),
            Err(e) => log::error!("could not make a setup token: {e}"),
        },
        Ok(_) => {}
        Err(e) => log::error!("could not count accounts: {e}"),
    }
}
