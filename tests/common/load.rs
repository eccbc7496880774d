//! Load for the crash tests: threads that post comments as fast as the server answers until they
//! are stopped (or the server is gone), keeping every comment it acknowledged with 201.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// An HTTP client that reports every status instead of failing on 4xx/5xx.
pub fn http() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A comment on the passage "Monthly revenue" of `index.html`.
pub fn comment_body(content: &str) -> Value {
    json!({"content": content, "target": {"source": "index.html", "selector": {"type": "TextQuoteSelector", "exact": "Monthly revenue"}}})
}

/// A comment the server acknowledged: its content, and when the 201 arrived.
pub type Acknowledged = HashMap<String, (String, Instant)>;

/// Writers posting to one artifact's comments with one key.
pub struct CommentWriters {
    stop: Arc<AtomicBool>,
    threads: Vec<JoinHandle<()>>,
    acknowledged: Arc<Mutex<Acknowledged>>,
}

impl CommentWriters {
    /// Starts `writers` threads posting to `url` (an artifact's comments) with `key`; each comment
    /// reads "`label` writer W comment N".
    pub fn start(url: &str, key: &str, writers: usize, label: &str) -> CommentWriters {
        let stop = Arc::new(AtomicBool::new(false));
        let acknowledged: Arc<Mutex<Acknowledged>> = Arc::default();
        let threads = (0..writers)
            .map(|w| {
                let (url, key, label) = (url.to_string(), key.to_string(), label.to_string());
                let (stop, acked) = (stop.clone(), acknowledged.clone());
                thread::spawn(move || {
                    let agent = http();
                    let mut n = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        n += 1;
                        let content = format!("{label} writer {w} comment {n}").trim().to_string();
                        let Ok(mut resp) = agent
                            .post(&url)
                            .header("X-API-Key", &key)
                            .send_json(comment_body(&content))
                        else {
                            break; // the server is gone
                        };
                        if resp.status().as_u16() == 201 {
                            let at = Instant::now();
                            if let Ok(v) = resp.body_mut().read_json::<Value>() {
                                if let Some(id) = v["id"].as_str() {
                                    acked
                                        .lock()
                                        .expect("lock")
                                        .insert(id.to_string(), (content, at));
                                }
                            }
                        }
                    }
                })
            })
            .collect();
        CommentWriters {
            stop,
            threads,
            acknowledged,
        }
    }

    /// How many comments have been acknowledged so far.
    pub fn acknowledged(&self) -> usize {
        self.acknowledged.lock().expect("lock").len()
    }

    /// Stops the writers, waits for them, and returns every comment acknowledged.
    pub fn stop(self) -> Acknowledged {
        self.stop.store(true, Ordering::Relaxed);
        for t in self.threads {
            let _ = t.join();
        }
        std::mem::take(&mut *self.acknowledged.lock().expect("lock"))
    }
}
