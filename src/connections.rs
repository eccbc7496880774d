//! Who holds the server's connections. At most `MAX_CONNECTIONS` are open at once, and at most
//! `--max-connections-per-address` from one client address (an IPv6 address counts as its /64
//! network, which one host usually has whole), so one address cannot take every slot. A
//! connection beyond either cap is not left waiting in the kernel's queue: it is accepted and
//! answered at once (429 for its address, 503 for the server, both with `Retry-After`), without
//! reading its request, then closed. Connections from a `--trusted-proxy` are counted only
//! against the server-wide cap: every client behind the proxy shares its address.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::proxy::TrustedProxies;

/// Open connections at most, server-wide.
pub const MAX_CONNECTIONS: usize = 4096;
/// Refusals being written at once; past this a connection over a cap is simply closed.
const MAX_REFUSING: usize = 1024;
/// How long a refused connection is kept to read (and discard) what its client sends, so the
/// refusal reaches it rather than a reset.
const LINGER: Duration = Duration::from_secs(2);
/// What a client is told to wait before trying again.
const RETRY_AFTER_SECS: u64 = 1;

/// Where a connection counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Origin {
    /// A client address, or an IPv6 /64.
    Address(IpAddr),
    /// A trusted proxy: only the server-wide cap applies.
    Proxy,
}

#[derive(Debug)]
pub struct ConnectionSlots {
    per_address: usize,
    proxies: TrustedProxies,
    open: AtomicUsize,
    by_origin: Mutex<HashMap<IpAddr, usize>>,
    refusing: AtomicUsize,
    /// Connections refused since the start: over their address's share, over the server's cap.
    refused_address: AtomicU64,
    refused_server: AtomicU64,
}

/// One admitted connection; its slot is given back when dropped.
#[derive(Debug)]
pub struct Slot {
    slots: Arc<ConnectionSlots>,
    origin: Origin,
}

/// Why a connection was not admitted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// Its address already holds its share.
    Address { open: usize, limit: usize },
    /// The server holds all it can.
    Server { limit: usize },
}

impl ConnectionSlots {
    pub fn new(per_address: usize, proxies: TrustedProxies) -> Arc<ConnectionSlots> {
        Arc::new(ConnectionSlots {
            per_address,
            proxies,
            open: AtomicUsize::new(0),
            by_origin: Mutex::new(HashMap::new()),
            refusing: AtomicUsize::new(0),
            refused_address: AtomicU64::new(0),
            refused_server: AtomicU64::new(0),
        })
    }

    /// Takes a slot for a connection from `peer`, or says which cap it is over.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Result<Slot, Refusal> {
        let origin = self.origin(peer);
        let mut by_origin = self.by_origin.lock().unwrap_or_else(|p| p.into_inner());
        if self.open.load(Ordering::SeqCst) >= MAX_CONNECTIONS {
            self.refused_server.fetch_add(1, Ordering::Relaxed);
            return Err(Refusal::Server {
                limit: MAX_CONNECTIONS,
            });
        }
        if let Origin::Address(key) = origin {
            let mine = by_origin.entry(key).or_insert(0);
            if *mine >= self.per_address {
                self.refused_address.fetch_add(1, Ordering::Relaxed);
                return Err(Refusal::Address {
                    open: *mine,
                    limit: self.per_address,
                });
            }
            *mine += 1;
        }
        self.open.fetch_add(1, Ordering::SeqCst);
        Ok(Slot {
            slots: self.clone(),
            origin,
        })
    }

    /// Connections open now.
    pub fn open(&self) -> usize {
        self.open.load(Ordering::SeqCst)
    }

    /// Connections refused since the start: (over their address's share, over the server's cap).
    pub fn refused(&self) -> (u64, u64) {
        (
            self.refused_address.load(Ordering::Relaxed),
            self.refused_server.load(Ordering::Relaxed),
        )
    }

    fn origin(&self, peer: IpAddr) -> Origin {
        let peer = peer.to_canonical();
        if self.proxies.trusts(peer) {
            return Origin::Proxy;
        }
        match peer {
            IpAddr::V4(_) => Origin::Address(peer),
            IpAddr::V6(v6) => {
                let mut octets = v6.octets();
                octets[8..].fill(0);
                Origin::Address(IpAddr::from(octets))
            }
        }
    }

    /// Answers a connection over a cap and closes it, in the background. Never waits for the
    /// client before answering; past `MAX_REFUSING` refusals at once the connection is just closed.
    pub fn refuse(self: &Arc<Self>, stream: TcpStream, refusal: Refusal) {
        if self.refusing.fetch_add(1, Ordering::SeqCst) >= MAX_REFUSING {
            self.refusing.fetch_sub(1, Ordering::SeqCst);
            drop(stream);
            return;
        }
        let slots = self.clone();
        tokio::spawn(async move {
            answer_and_close(stream, refusal).await;
            slots.refusing.fetch_sub(1, Ordering::SeqCst);
        });
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        let mut by_origin = self
            .slots
            .by_origin
            .lock()
            .unwrap_or_else(|p| p.into_inner());
        if let Origin::Address(key) = self.origin {
            if let Some(n) = by_origin.get_mut(&key) {
                *n -= 1;
                if *n == 0 {
                    by_origin.remove(&key);
                }
            }
        }
        self.slots.open.fetch_sub(1, Ordering::SeqCst);
    }
}

impl Refusal {
    /// The whole HTTP answer: status line, headers and the usual JSON error.
    pub fn response(&self) -> Vec<u8> {
        let (status, code, message) = match self {
            Refusal::Address { open, limit } => (
                "429 Too Many Requests",
                "too_many_connections",
                format!(
                    "this address already has {open} open connections to the server; the limit is {limit} per address (--max-connections-per-address): reuse a connection or close one, then retry"
                ),
            ),
            Refusal::Server { limit } => (
                "503 Service Unavailable",
                "server_busy",
                format!(
                    "the server has {limit} open connections, its limit; retry in a moment"
                ),
            ),
        };
        let body = serde_json::json!({ "error": message, "code": code }).to_string();
        format!(
            "HTTP/1.1 {status}\r\ncontent-type: application/json\r\nretry-after: {RETRY_AFTER_SECS}\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .into_bytes()
    }
}

/// Writes the refusal, says nothing more will come, and reads what the client still sends for a
/// moment (closing with unread data would reset the connection and could lose the answer).
async fn answer_and_close(mut stream: TcpStream, refusal: Refusal) {
    let answer = refusal.response();
    let _ = tokio::time::timeout(LINGER, async {
        if stream.write_all(&answer).await.is_err() {
            return;
        }
        let _ = stream.shutdown().await;
        let mut sink = [0u8; 4096];
        let mut read = 0usize;
        while read < 64 * 1024 {
            match stream.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(n) => read += n,
            }
        }
    })
    .await;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("address")
    }

    #[test]
    fn each_address_gets_its_share_and_gives_it_back() {
        let slots = ConnectionSlots::new(2, TrustedProxies::default());
        let a1 = slots.admit(ip("10.0.0.1")).expect("first");
        let _a2 = slots.admit(ip("10.0.0.1")).expect("second");
        assert_eq!(
            slots.admit(ip("10.0.0.1")).err(),
            Some(Refusal::Address { open: 2, limit: 2 })
        );
        let _b = slots
            .admit(ip("10.0.0.2"))
            .expect("another address is not affected");
        assert_eq!(slots.open(), 3);
        drop(a1);
        assert!(
            slots.admit(ip("10.0.0.1")).is_ok(),
            "a freed slot is reused"
        );
    }

    #[test]
    fn an_ipv6_host_counts_as_its_slash_64_and_mapped_ipv4_as_ipv4() {
        let slots = ConnectionSlots::new(1, TrustedProxies::default());
        let _a = slots.admit(ip("2001:db8:1:2::1")).expect("first");
        assert!(slots.admit(ip("2001:db8:1:2:ffff::9")).is_err(), "same /64");
        assert!(slots.admit(ip("2001:db8:1:3::1")).is_ok(), "another /64");
        let _v4 = slots.admit(ip("192.0.2.7")).expect("v4");
        assert!(
            slots.admit(ip("::ffff:192.0.2.7")).is_err(),
            "the same v4 host"
        );
    }

    #[test]
    fn a_trusted_proxy_is_only_held_to_the_server_wide_cap() {
        let proxies = TrustedProxies::new(vec!["127.0.0.1".parse().expect("range")]);
        let slots = ConnectionSlots::new(1, proxies);
        let held: Vec<Slot> = (0..10)
            .map(|_| slots.admit(ip("127.0.0.1")).expect("the proxy"))
            .collect();
        assert_eq!(slots.open(), 10);
        drop(held);
        assert_eq!(slots.open(), 0);
    }

    #[test]
    fn a_refusal_is_a_complete_json_answer_with_retry_after() {
        let text =
            String::from_utf8(Refusal::Address { open: 3, limit: 3 }.response()).expect("ascii");
        let (head, body) = text.split_once("\r\n\r\n").expect("head and body");
        assert!(head.starts_with("HTTP/1.1 429 "), "{head}");
        assert!(head.contains("retry-after: 1"), "{head}");
        assert!(head.contains(&format!("content-length: {}", body.len())));
        let json: serde_json::Value = serde_json::from_str(body).expect("json");
        assert_eq!(json["code"], "too_many_connections");
        assert!(json["error"]
            .as_str()
            .unwrap_or_default()
            .contains("limit is 3"));
    }
}
