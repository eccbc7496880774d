//! What every request handler shares: the store, the server's configuration, and the in-memory
//! guards (password hashing limit, sign-in throttle, setup gate, key-usage throttle).

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use bytes::Bytes;

use crate::event_streams::StreamSlots;
use crate::failed_sign_ins::FailedSignIns;
use crate::identity_cache::IdentityCache;
use crate::key_usage::KeyUsage;
use crate::link_key::LinkKey;
use crate::memory_budget::MemoryBudget;
use crate::password::Passwords;
use crate::quota::Quotas;
use crate::rendered_markdown::RenderedMarkdown;
use crate::setup::SetupGate;
use crate::store::Store;
use crate::throttle::LoginThrottle;
use crate::view_counter::ViewCounter;

/// This server's route table: handlers that each get the shared state.
pub type Routes = crate::http::router::Router<AppState>;

/// A cheap handle (one reference count) to what handlers share.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl AppState {
    pub fn new(shared: Shared) -> AppState {
        AppState(Arc::new(shared))
    }
}

impl std::ops::Deref for AppState {
    type Target = Shared;
    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub store: Store,
    pub site: Arc<Site>,
    pub passwords: Passwords,
    pub login_throttle: Arc<LoginThrottle>,
    /// Failed sign-ins on their way to the audit trail (unknown accounts coalesced).
    pub failed_sign_ins: Arc<FailedSignIns>,
    pub setup: Arc<SetupGate>,
    pub key_usage: Arc<KeyUsage>,
    /// Who keys and session tokens belong to, while the database provably has not changed.
    pub identities: Arc<IdentityCache>,
    /// Discovery and OpenAPI documents, rendered once the route table exists.
    pub docs: Arc<OnceLock<Docs>>,
    /// The open event streams, against their caps.
    pub event_streams: Arc<StreamSlots>,
    /// Markdown documents rendered once, per content.
    pub rendered: Arc<RenderedMarkdown>,
    /// The memory uploads and Markdown renders reserve their share of.
    pub memory: Arc<MemoryBudget>,
    /// The storage quota, and what uploads in progress will add per account.
    pub quotas: Arc<Quotas>,
    /// Where uploads are spooled while they are checked (the database's folder).
    pub spool_dir: PathBuf,
    /// Views counted lately, so repeats cost no write.
    pub views: Arc<ViewCounter>,
    /// Derives share-link addresses.
    pub link_key: Arc<LinkKey>,
    /// Bytes of upload bodies received, for the metrics.
    pub uploads: Arc<crate::http::counters::UploadBytes>,
    /// The requests running now under an `Idempotency-Key`.
    pub idempotency: Arc<crate::api::idempotency::Running>,
    /// Becomes true when the server starts shutting down (long-lived streams end then).
    pub shutdown: tokio::sync::watch::Receiver<bool>,
}

/// The discovery documents (the API index, the health answer, OpenAPI as JSON and YAML,
/// `llms.txt`), rendered once the route table exists (`api::discovery::render`).
#[derive(Debug)]
pub struct Docs {
    pub index: Bytes,
    pub health: Bytes,
    pub openapi_json: Bytes,
    pub openapi_yaml: Bytes,
    pub llms_txt: Bytes,
}

/// Where the server is reachable.
#[derive(Debug, Clone)]
pub struct Site {
    /// e.g. `http://127.0.0.1:8787`, no trailing slash.
    pub base_url: String,
    /// Scheme + host + port of the base URL, as browsers send it in `Origin`.
    pub origin: String,
    /// Host names (with port when not the default) accepted in the `Host` header.
    pub allowed_hosts: Vec<String>,
    /// Whether cookies get `Secure` (the base URL is https).
    pub secure_cookies: bool,
}

impl Site {
    /// Describes a server bound to `bound` and reachable at `base_url`.
    pub fn new(base_url: &str, bound: std::net::SocketAddr) -> Site {
        let base_url = base_url.trim_end_matches('/').to_string();
        let secure_cookies = base_url.starts_with("https://");
        let after_scheme = base_url
            .split_once("://")
            .map(|(_, rest)| rest)
            .unwrap_or(&base_url);
        let authority = after_scheme.split('/').next().unwrap_or_default();
        let scheme = if secure_cookies { "https" } else { "http" };
        let origin = format!("{scheme}://{authority}");
        let port = bound.port();
        let mut allowed_hosts = vec![authority.to_ascii_lowercase()];
        // The scheme's default port, written out, is the same host (`Host: name:443`).
        if !authority.ends_with(']') && !authority.contains(':') {
            let default_port = if secure_cookies { 443 } else { 80 };
            allowed_hosts.push(format!("{}:{default_port}", authority.to_ascii_lowercase()));
        }
        for name in ["localhost", "127.0.0.1", "[::1]"] {
            allowed_hosts.push(name.to_string());
            allowed_hosts.push(format!("{name}:{port}"));
        }
        if !bound.ip().is_unspecified() {
            allowed_hosts.push(bound.to_string());
        }
        Site {
            base_url,
            origin,
            allowed_hosts,
            secure_cookies,
        }
    }

    /// Whether a `Host` header names this server (DNS-rebinding protection).
    pub fn host_allowed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.allowed_hosts.contains(&host)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_names_and_the_base_url_host_are_allowed() {
        let site = Site::new(
            "https://review.example.com/",
            "0.0.0.0:8787".parse().expect("addr"),
        );
        assert_eq!(site.base_url, "https://review.example.com");
        assert_eq!(site.origin, "https://review.example.com");
        assert!(site.secure_cookies);
        assert!(site.host_allowed("review.example.com"));
        assert!(site.host_allowed("Review.Example.com"));
        assert!(site.host_allowed("localhost:8787"));
        assert!(site.host_allowed("127.0.0.1:8787"));
        assert!(!site.host_allowed("attacker.example"));
        assert!(!site.host_allowed("0.0.0.0:8787"));
    }

    #[test]
    fn a_specific_bound_address_is_allowed() {
        let site = Site::new(
            "http://127.0.0.1:9000",
            "192.168.1.5:9000".parse().expect("addr"),
        );
        assert!(site.host_allowed("192.168.1.5:9000"));
        assert!(site.host_allowed("127.0.0.1:9000"));
        assert!(!site.secure_cookies);
    }
}
