//! Markdown documents rendered once. The first view of a Markdown file renders it on the blocking
//! pool (bounded in memory, nesting and size: `ingest::render_markdown`), finishes it as the cache
//! was told to (the server puts the review bridge's tag in), and keeps the document per content
//! hash and title; later views of the same content, from any version or artifact, are served from
//! memory without touching the parser. Several first views at once render once. The bridge's
//! version is fixed for the life of the process, so keeping documents with the tag already in is
//! the same as injecting it at serve time. At most `CAPACITY` bytes are kept, the least recently
//! used going first. A render first reserves its share of the memory budget
//! (`memory_budget::RENDER`), so several different documents rendering at once cannot take the
//! server past it. Every render is logged: that is how an operator, and the tests, see that a
//! second view did no rendering.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bytes::Bytes;
use tokio::sync::OnceCell;

use crate::bulk;
use crate::http::error::ApiError;
use crate::ingest::{self, Cut};
use crate::memory_budget::{MemoryBudget, Work};
use crate::secrets::hex;

/// Bytes of rendered documents kept at most.
pub const CAPACITY: usize = 32 * 1024 * 1024;

/// A document is its content and the title it falls back on (its file name).
type Key = ([u8; 32], String);

/// What a rendered document goes through before it is kept and served.
pub type Finish = fn(&[u8]) -> Vec<u8>;

pub struct RenderedMarkdown {
    memory: Arc<MemoryBudget>,
    finish: Finish,
    kept: Mutex<Kept>,
    pending: Mutex<HashMap<Key, Arc<OnceCell<Bytes>>>>,
}

#[derive(Default)]
struct Kept {
    docs: HashMap<Key, (Bytes, u64)>,
    bytes: usize,
    clock: u64,
}

impl RenderedMarkdown {
    /// Renders within `memory`; every document goes through `finish` once, before it is kept.
    pub fn new(memory: Arc<MemoryBudget>, finish: Finish) -> RenderedMarkdown {
        RenderedMarkdown {
            memory,
            finish,
            kept: Mutex::default(),
            pending: Mutex::default(),
        }
    }

    /// The rendered document for `sha256` (titled `title` when it has no heading): kept, or
    /// rendered from the source `load` returns.
    pub async fn get<F, Fut>(
        &self,
        sha256: [u8; 32],
        title: &str,
        load: F,
    ) -> Result<Bytes, ApiError>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Vec<u8>, ApiError>>,
    {
        let key = (sha256, title.to_string());
        if let Some(doc) = self.kept(&key) {
            return Ok(doc);
        }
        let cell = self
            .pending
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(key.clone())
            .or_default()
            .clone();
        let result = cell
            .get_or_try_init(|| async {
                // Rendered by another request between the look above and now?
                if let Some(doc) = self.kept(&key) {
                    return Ok(doc);
                }
                let reservation = self.memory.reserve(Work::Render).await?;
                let source = load().await?;
                let title = key.1.clone();
                let finish = self.finish;
                let doc = bulk::run(move || render(sha256, &source, &title, finish))
                    .await
                    .map_err(|e| ApiError::Internal(format!("rendering Markdown failed: {e}")))?;
                drop(reservation);
                self.keep(key.clone(), doc.clone());
                Ok(doc)
            })
            .await
            .cloned();
        let mut pending = self.pending.lock().unwrap_or_else(|p| p.into_inner());
        if pending.get(&key).is_some_and(|c| Arc::ptr_eq(c, &cell)) {
            pending.remove(&key);
        }
        result
    }

    fn kept(&self, key: &Key) -> Option<Bytes> {
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        kept.clock += 1;
        let now = kept.clock;
        let (doc, used) = kept.docs.get_mut(key)?;
        *used = now;
        Some(doc.clone())
    }

    fn keep(&self, key: Key, doc: Bytes) {
        if doc.len() > CAPACITY {
            return;
        }
        let mut kept = self.kept.lock().unwrap_or_else(|p| p.into_inner());
        while kept.bytes + doc.len() > CAPACITY {
            let Some(oldest) = kept
                .docs
                .iter()
                .min_by_key(|(_, (_, used))| *used)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some((gone, _)) = kept.docs.remove(&oldest) {
                kept.bytes -= gone.len();
            }
        }
        kept.clock += 1;
        let now = kept.clock;
        kept.bytes += doc.len();
        if let Some((replaced, _)) = kept.docs.insert(key, (doc, now)) {
            kept.bytes -= replaced.len();
        }
    }
}

/// Renders, finishes and logs one document.
fn render(sha256: [u8; 32], source: &[u8], title: &str, finish: Finish) -> Bytes {
    let started = Instant::now();
    let text = ingest::decode_text(source, false).0;
    let rendered = ingest::render_markdown(&text, title);
    let doc = finish(rendered.html.as_bytes());
    let part = match rendered.cut {
        None => String::new(),
        Some(Cut::Markup { shown, .. }) => {
            format!(", shown in part: its first {shown} bytes (too much markup)")
        }
        Some(Cut::Output { .. }) => ", shown in part: the HTML reached its limit".to_string(),
    };
    log::info!(
        "rendered Markdown {}: {} bytes into {} bytes in {} ms{part}",
        &hex(&sha256)[..12],
        source.len(),
        doc.len(),
        started.elapsed().as_millis()
    );
    Bytes::from(doc)
}
