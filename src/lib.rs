//! Artifact Review: a self-hosted review server for HTML, Markdown and ZIP artifacts made by people
//! and AI agents. One binary: a JSON API, an embedded settings UI, one SQLite file.
//!
//! Only the modules the binary (`main.rs`) and the integration tests use are public; the rest are
//! private, so the compiler reports what nothing uses.

/// The HTTP API: route table, request/response plumbing, one module per resource.
mod api;
/// Who is calling: API key or session -> Caller; cross-site checks.
mod auth;
/// Bulk work (uploads, Markdown renders) on threads of lower CPU priority.
mod bulk;
/// The admin sub-commands working directly on the database file.
pub mod cli;
/// Milliseconds since the Unix epoch.
pub mod clock;
/// Command-line flags, environment variables and defaults.
pub mod config;
/// The caps on open connections, overall and per client address, and the answer beyond them.
mod connections;
/// The files that go with a database file (WAL, WAL-index, journal, link key, server lock).
mod db_files;
pub use db_files::folder_problem;
/// The open event streams and feedback waits, counted against their caps.
mod event_streams;
/// Failed sign-ins in the audit trail: per account, or coalesced for unknown accounts.
mod failed_sign_ins;
/// A stored file as a response body, read a slice at a time as the client takes it.
mod file_body;
/// Latency histograms of atomics, recorded without a lock.
mod histogram;
/// The HTTP layer under the API, the pages and MCP: route table, request, reply, error, ids.
mod http;
/// Who keys and session tokens belong to, cached while the database provably has not changed.
mod identity_cache;
/// Turning uploads (HTML, Markdown, base64 or multipart ZIP) into checked, fingerprinted files.
mod ingest;
/// A key's last use, written at most once a minute.
mod key_usage;
/// The API key format: generation, checksum, parsing, hashing.
pub mod keys;
/// Keys of this server found in text it stores: found, masked, revoked.
mod leaks;
/// The fairness limits (connections per address, body pace, memory budget, quota) and sizes.
mod limits;
/// The server's key from which share-link addresses are derived (never stored).
mod link_key;
/// Litestream beside the server: restore on a new machine, replication as a supervised child.
pub mod litestream;
/// The MCP endpoint: tools for agents over Streamable HTTP.
mod mcp;
/// The memory budget that uploads and Markdown renders reserve their share of.
mod memory_budget;
/// Prometheus metrics on their own listener (`--metrics-addr`).
mod metrics;
/// Finding a passage quoted in plain text in a document's text, as the review bridge sees it.
mod passage;
/// argon2id password hashing with a concurrency limit.
mod password;
/// Background threads at a lower CPU priority.
mod priority;
/// The client address behind trusted reverse proxies (`--trusted-proxy`).
pub mod proxy;
/// The storage quota per account, and uploads of one account counted together.
mod quota;
/// Markdown documents rendered once and kept per content.
mod rendered_markdown;
/// What a key may do: reader, commenter, editor.
mod scopes;
/// Random tokens, SHA-256 digests, and a redacting secret type.
pub mod secrets;
/// The accept loop: timeouts, connection cap, Host check, graceful shutdown.
pub mod server;
/// One server per database: the lock a running server holds.
pub mod server_lock;
/// The session cookie: its name, reading it (never more than one), setting and clearing it.
mod session_cookie;
/// The first-run setup token.
mod setup;
/// What request handlers share.
mod state;
/// All SQL: the SQLite store, its schema and one module per resource.
pub mod store;
/// Comment targets: source file and selector, validated.
mod target;
/// Text field limits and validation.
mod text;
/// Sign-in throttling per account and client address.
mod throttle;
/// Counting views of versions: one write per counted view, none for repeats.
mod view_counter;
/// The embedded settings UI pages and assets.
mod web;
