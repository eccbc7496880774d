//! Metrics for operators, in the Prometheus text format (through `prometheus-client`, the official
//! Prometheus Rust client): requests by route and status with their latency, the database writer's
//! queue and commit time, the identity cache's hits, open connections and event streams, upload
//! bytes, the database and WAL sizes, and Litestream's last upload to its replica. Everything is
//! counted where it happens with atomics (never a lock on the request path) and read only when
//! scraped. Served on a listener of its own, `--metrics-addr`, off unless configured
//! (`endpoint`).

pub mod endpoint;

use std::sync::atomic::Ordering;
use std::sync::Arc;

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};

use crate::connections::ConnectionSlots;
use crate::db_files::Companion;
use crate::event_streams::StreamSlots;
use crate::histogram::Reading;
use crate::http::counters::{RouteLabel, RouteStats, UploadBytes};
use crate::identity_cache::IdentityCache;
use crate::litestream::supervisor::ReplicationStatus;
use crate::store::Store;

/// Everything the metrics read, gathered once the server is assembled.
#[derive(Clone)]
pub struct Exporter {
    pub routes: Arc<Vec<(RouteLabel, Arc<RouteStats>)>>,
    /// Requests that matched no route (404/405 of the table, refusals before routing).
    pub unmatched: Arc<RouteStats>,
    pub store: Store,
    pub identities: Arc<IdentityCache>,
    pub connections: Arc<ConnectionSlots>,
    pub event_streams: Arc<StreamSlots>,
    pub uploads: Arc<UploadBytes>,
    pub replication: Option<Arc<ReplicationStatus>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter").finish_non_exhaustive()
    }
}

impl Exporter {
    /// The metrics now, in the Prometheus text format (0.0.4).
    pub fn render(&self) -> Result<String, std::fmt::Error> {
        let mut registry = Registry::with_prefix("artifact_review");
        registry.register_collector(Box::new(self.clone()));
        let mut out = String::new();
        prometheus_client::encoding::prometheus_text::encode(&mut out, &registry)?;
        Ok(out)
    }
}

/// One metric without labels.
fn single(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    unit: Option<&Unit>,
    metric: &impl EncodeMetric,
) -> Result<(), std::fmt::Error> {
    metric.encode(encoder.encode_descriptor(name, help, unit, metric.metric_type())?)
}

fn histogram(
    encoder: &mut prometheus_client::encoding::MetricEncoder,
    reading: &Reading,
) -> Result<(), std::fmt::Error> {
    encoder.encode_histogram::<NoLabelSet>(
        reading.sum_seconds,
        reading.count,
        &reading.buckets,
        None,
    )
}

fn file_size(path: &std::path::Path) -> i64 {
    std::fs::metadata(path).map_or(0, |m| m.len() as i64)
}

impl Collector for Exporter {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let routes = self
            .routes
            .iter()
            .map(|(label, stats)| (label.method.as_str(), label.route, stats.as_ref()));
        let all: Vec<(&str, &str, &RouteStats)> = routes
            .chain(std::iter::once(("", "unmatched", self.unmatched.as_ref())))
            .collect();

        let mut requests = encoder.encode_descriptor(
            "http_requests",
            "HTTP requests answered, by route (method and path template) and status.",
            None,
            MetricType::Counter,
        )?;
        for (method, route, stats) in &all {
            for (status, n) in stats.by_status() {
                let labels = [("method", *method), ("route", *route), ("status", &status)];
                ConstCounter::new(n).encode(requests.encode_family(&labels)?)?;
            }
        }
        let mut latency = encoder.encode_descriptor(
            "http_request_duration",
            "Time from a request's arrival at the route table to its response headers, by route.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        for (method, route, stats) in &all {
            let reading = stats.latency.read();
            if reading.count > 0 {
                let labels = [("method", *method), ("route", *route)];
                histogram(&mut latency.encode_family(&labels)?, &reading)?;
            }
        }

        let mut info = encoder.encode_descriptor(
            "build",
            "The running server's version.",
            None,
            MetricType::Info,
        )?;
        info.encode_info(&[("version", env!("CARGO_PKG_VERSION"))])?;

        let writer = self.store.writer_stats();
        single(
            &mut encoder,
            "writer_queue_depth",
            "Writes waiting for the database writer thread.",
            None,
            &ConstGauge::new(writer.queued() as i64),
        )?;
        let mut commits = encoder.encode_descriptor(
            "writer_commit_duration",
            "Time the database writer spends on one transaction (a batch of writes), commit included.",
            Some(&Unit::Seconds),
            MetricType::Histogram,
        )?;
        histogram(&mut commits, &writer.commits.read())?;

        let (hits, misses) = self.identities.counts();
        single(
            &mut encoder,
            "identity_cache_hits",
            "Authentications answered from the identity cache.",
            None,
            &ConstCounter::new(hits),
        )?;
        single(
            &mut encoder,
            "identity_cache_misses",
            "Authentications that read the database (nothing cached, or the database changed).",
            None,
            &ConstCounter::new(misses),
        )?;
        let ratio = if hits + misses == 0 {
            0.0
        } else {
            hits as f64 / (hits + misses) as f64
        };
        single(
            &mut encoder,
            "identity_cache_hit_ratio",
            "Share of authentications answered from the identity cache since the start.",
            None,
            &ConstGauge::new(ratio),
        )?;
        single(
            &mut encoder,
            "open_connections",
            "Client connections open now.",
            None,
            &ConstGauge::new(self.connections.open() as i64),
        )?;
        let (by_address, by_server) = self.connections.refused();
        let mut refused = encoder.encode_descriptor(
            "refused_connections",
            "Connections answered 429 (over their address's share) or 503 (over the server's cap) \
             and closed, since the start.",
            None,
            MetricType::Counter,
        )?;
        for (cap, n) in [("address", by_address), ("server", by_server)] {
            ConstCounter::new(n).encode(refused.encode_family(&[("cap", cap)])?)?;
        }
        single(
            &mut encoder,
            "event_streams",
            "Event streams and feedback waits open now.",
            None,
            &ConstGauge::new(self.event_streams.open() as i64),
        )?;
        single(
            &mut encoder,
            "upload",
            "Bytes of upload request bodies received.",
            Some(&Unit::Bytes),
            &ConstCounter::new(self.uploads.total()),
        )?;
        let db = self.store.path();
        single(
            &mut encoder,
            "database_size",
            "Size of the database file.",
            Some(&Unit::Bytes),
            &ConstGauge::new(file_size(db)),
        )?;
        single(
            &mut encoder,
            "wal_size",
            "Size of the database's write-ahead log file.",
            Some(&Unit::Bytes),
            &ConstGauge::new(file_size(&Companion::Wal.of(db))),
        )?;

        if let Some(replication) = &self.replication {
            single(
                &mut encoder,
                "litestream_running",
                "Whether the supervised Litestream process is running (1) or not (0).",
                None,
                &ConstGauge::new(i64::from(replication.running.load(Ordering::Relaxed))),
            )?;
            let last = replication.last_upload_ms.load(Ordering::Relaxed);
            if last > 0 {
                single(
                    &mut encoder,
                    "replication_last_success_timestamp",
                    "When Litestream last uploaded a file to its replica (Unix time); absent before the first upload.",
                    Some(&Unit::Seconds),
                    &ConstGauge::new(last as f64 / 1000.0),
                )?;
            }
            single(
                &mut encoder,
                "replication_uploads",
                "Files Litestream uploaded to its replica.",
                None,
                &ConstCounter::new(replication.uploads.load(Ordering::Relaxed)),
            )?;
            single(
                &mut encoder,
                "replication_errors",
                "Errors Litestream logged (failed syncs, an unreachable replica).",
                None,
                &ConstCounter::new(replication.errors.load(Ordering::Relaxed)),
            )?;
            single(
                &mut encoder,
                "litestream_restarts",
                "Times Litestream exited on its own and was started again.",
                None,
                &ConstCounter::new(replication.restarts.load(Ordering::Relaxed)),
            )?;
        }
        Ok(())
    }
}
