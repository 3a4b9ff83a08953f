//! Prometheus metrics, served as text at `/metrics` on `--metrics-bind`.
//!
//! Commands are counted as they end (by name and outcome, with a latency
//! histogram); everything else is read when the endpoint is scraped: connections,
//! cursors, sessions, the memory budget, the WAL (records, bytes, fsyncs and their
//! latency), checkpoints and history collection, the TTL expirer, the data
//! directory's size, and each branch's documents and their bytes (measured by a walk
//! over every collection, so at most once a minute). Every name starts with
//! `branchdb_`. The encoding is `prometheus-client`'s; the endpoint answers one
//! `GET` per connection and is not a general HTTP server.

use std::fmt::Write as _;
use std::path::Path;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{prometheus_text, DescriptorEncoder, EncodeLabelSet, EncodeMetric, NoLabelSet};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::metrics::MetricType;
use prometheus_client::registry::{Registry, Unit};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use crate::context::Context;
use crate::error::Result;
use crate::namespace::DbRef;
use crate::timings::{self, BOUNDS};

/// How long a measurement of the branches' documents is reused.
const BRANCH_SIZES_MAX_AGE: Duration = Duration::from_secs(60);

/// The metrics commands record, and the branches' sizes last measured.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    commands: Family<CommandLabels, Counter>,
    latency: Family<CommandName, Histogram, fn() -> Histogram>,
    branch_sizes: Mutex<Option<(Instant, Vec<BranchSize>)>>,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandLabels {
    command: &'static str,
    outcome: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct CommandName {
    command: &'static str,
}

#[derive(Debug, Clone, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BranchLabels {
    db: String,
    branch: String,
}

/// One branch's visible documents, as last measured.
#[derive(Debug, Clone)]
struct BranchSize {
    labels: BranchLabels,
    documents: u64,
    bytes: u64,
}

fn latency_histogram() -> Histogram {
    Histogram::new(BOUNDS)
}

impl Default for Metrics {
    fn default() -> Metrics {
        let mut registry = Registry::with_prefix("branchdb");
        let commands = Family::<CommandLabels, Counter>::default();
        let latency = Family::<CommandName, Histogram, fn() -> Histogram>::new_with_constructor(latency_histogram);
        registry.register("commands", "Commands served, by name and outcome (ok or error)", commands.clone());
        registry.register_with_unit(
            "command_duration",
            "Time to serve a command, by name",
            Unit::Seconds,
            latency.clone(),
        );
        Metrics { registry, commands, latency, branch_sizes: Mutex::new(None) }
    }
}

impl Metrics {
    /// Counts a command that ended. `name` is the dispatch table's (an unknown
    /// command is `unknown`, so clients cannot grow the label set).
    pub fn command(&self, name: &'static str, ok: bool, took: Duration) {
        let outcome = if ok { "ok" } else { "error" };
        self.commands.get_or_create(&CommandLabels { command: name, outcome }).inc();
        self.latency.get_or_create(&CommandName { command: name }).observe(took.as_secs_f64());
    }

    /// Every metric, in Prometheus' text format. Blocks for as long as measuring
    /// the branches takes, when that is due.
    pub fn render(context: &Context) -> std::result::Result<String, std::fmt::Error> {
        let mut out = String::new();
        prometheus_text::encode(&mut out, &context.metrics.registry)?;
        let mut state = Registry::with_prefix("branchdb");
        state.register_collector(Box::new(State::read(context)));
        prometheus_text::encode(&mut out, &state)?;
        Ok(out)
    }

    /// The branches' sizes, measured again when the last measurement is too old.
    fn branch_sizes(&self, context: &Context) -> Vec<BranchSize> {
        let mut cached = self.branch_sizes.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, sizes)) = cached.as_ref() {
            if at.elapsed() < BRANCH_SIZES_MAX_AGE {
                return sizes.clone();
            }
        }
        let sizes = measure_branches(context);
        *cached = Some((Instant::now(), sizes.clone()));
        sizes
    }
}

/// Walks the visible documents of every live branch; a branch that fails to read
/// (dropped meanwhile) is left out.
fn measure_branches(context: &Context) -> Vec<BranchSize> {
    let store = &context.store;
    let mut out = Vec::new();
    for branch in store.all_branches() {
        let target = DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: None };
        let measured = (|| -> Result<(u64, u64)> {
            let view = store.view(&target, None)?;
            let (mut documents, mut bytes) = (0u64, 0u64);
            for collection in view.collections()? {
                let measured = view.measure(collection.id, &mut || Ok(()))?;
                documents += measured.documents;
                bytes += measured.data_bytes;
            }
            Ok((documents, bytes))
        })();
        if let Ok((documents, bytes)) = measured {
            out.push(BranchSize { labels: BranchLabels { db: branch.db, branch: branch.name }, documents, bytes });
        }
    }
    out
}

/// What the server holds and has done, read at a scrape.
#[derive(Debug)]
struct State {
    gauges: Vec<(&'static str, &'static str, Option<Unit>, f64)>,
    counters: Vec<(&'static str, &'static str, Option<Unit>, u64)>,
    histograms: Vec<(&'static str, &'static str, timings::Snapshot)>,
    branches: Vec<BranchSize>,
    /// `None` on the embedded store.
    object_requests: Option<ObjectRequests>,
}

/// Requests made of object storage by kind (made, failed), and the bytes read and
/// written.
type ObjectRequests = (Vec<(&'static str, u64, u64)>, u64, u64);

impl State {
    fn read(context: &Context) -> State {
        let wal = &context.wal;
        let store = &context.store;
        let memory = &context.memory;
        let data_dir = &context.settings.data_dir;
        let gauges = vec![
            (
                "connections",
                "Client connections open",
                None,
                context.connections_current.load(Ordering::Relaxed) as f64,
            ),
            ("cursors", "Cursors open", None, context.cursors.len() as f64),
            ("sessions", "Logical sessions held", None, context.sessions.len() as f64),
            ("memory_used", "Memory operations hold now", Some(Unit::Bytes), memory.used() as f64),
            (
                "memory_limit",
                "Memory operations may hold (their share of --max-memory)",
                Some(Unit::Bytes),
                memory.limit() as f64,
            ),
            ("memory_peak", "The most operations held at once", Some(Unit::Bytes), memory.peak() as f64),
            ("wal_durable_lsn", "The highest LSN known fsynced", None, wal.durable_lsn().0 as f64),
            ("history_horizon_lsn", "The oldest LSN still readable", None, store.horizon().0 as f64),
            (
                "store_size",
                "Bytes of the materialized store on disk",
                Some(Unit::Bytes),
                dir_size(&data_dir.join("store")) as f64,
            ),
            ("wal_size", "Bytes of WAL segments on disk", Some(Unit::Bytes), dir_size(&data_dir.join("wal")) as f64),
            ("uptime", "Time since the server started", Some(Unit::Seconds), context.started.elapsed().as_secs_f64()),
        ];
        let mut gauges = gauges;
        if let Some(lag) = store.lag() {
            gauges.extend([
                ("replica_applied_lsn", "The LSN a read replica's reads see", None, lag.applied.0 as f64),
                (
                    "replica_lag_records",
                    "Records of the writer's log a read replica has seen but reads do not see yet",
                    None,
                    lag.records() as f64,
                ),
                (
                    "replica_lag",
                    "How much older what a read replica's reads see is than the newest record it has seen",
                    Some(Unit::Seconds),
                    lag.seconds(),
                ),
            ]);
        }
        let counters = vec![
            (
                "connections_accepted",
                "Client connections accepted",
                None,
                context.connections_total.load(Ordering::Relaxed).max(0) as u64,
            ),
            ("wal_records", "WAL records appended (the last LSN)", None, wal.last_lsn().0),
            ("wal_written", "Bytes of WAL records written", Some(Unit::Bytes), wal.bytes_written()),
            ("wal_fsyncs", "fsyncs of WAL data (commits per fsync: records / fsyncs)", None, wal.sync_count()),
            (
                "history_versions_collected",
                "Old versions history collection deleted",
                None,
                store.work.versions_collected.load(Ordering::Relaxed),
            ),
            (
                "history_segments_removed",
                "WAL segments history collection deleted",
                None,
                store.work.segments_removed.load(Ordering::Relaxed),
            ),
            ("ttl_passes", "Passes of the TTL expirer", None, context.ttl.passes()),
            ("ttl_deleted_documents", "Documents the TTL expirer deleted", None, context.ttl.deleted_documents()),
        ];
        let histograms = vec![
            ("wal_fsync_duration_seconds", "Time an fsync of WAL data took", wal.sync_times()),
            ("checkpoint_duration_seconds", "Time a checkpoint took", store.work.checkpoints.snapshot()),
            (
                "history_collection_duration_seconds",
                "Time a history collection pass took",
                store.work.collections.snapshot(),
            ),
        ];
        State {
            gauges,
            counters,
            histograms,
            branches: context.metrics.branch_sizes(context),
            object_requests: object_requests(context),
        }
    }
}

impl Collector for State {
    fn encode(&self, mut encoder: DescriptorEncoder) -> std::result::Result<(), std::fmt::Error> {
        for (name, help, unit, value) in &self.gauges {
            let gauge = ConstGauge::new(*value);
            gauge.encode(encoder.encode_descriptor(name, help, unit.as_ref(), gauge.metric_type())?)?;
        }
        for (name, help, unit, value) in &self.counters {
            let counter = ConstCounter::new(*value);
            counter.encode(encoder.encode_descriptor(name, help, unit.as_ref(), counter.metric_type())?)?;
        }
        for (name, help, snapshot) in &self.histograms {
            let mut metric = encoder.encode_descriptor(name, help, None, MetricType::Histogram)?;
            metric.encode_histogram::<NoLabelSet>(snapshot.sum_seconds, snapshot.count, &snapshot.buckets, None)?;
        }
        if let Some((kinds, read, written)) = &self.object_requests {
            let mut made = encoder.encode_descriptor(
                "object_store_requests",
                "Requests made of object storage (each retry one more; the cache's answers not counted)",
                None,
                MetricType::Counter,
            )?;
            for (kind, count, _) in kinds {
                ConstCounter::new(*count).encode(made.encode_family(&[("kind", *kind)])?)?;
            }
            let mut failed = encoder.encode_descriptor(
                "object_store_request_errors",
                "Requests of object storage that failed (SlateDB retries them)",
                None,
                MetricType::Counter,
            )?;
            for (kind, _, errors) in kinds {
                ConstCounter::new(*errors).encode(failed.encode_family(&[("kind", *kind)])?)?;
            }
            for (name, help, value) in [
                ("object_store_read", "Bytes of objects read from object storage", *read),
                ("object_store_written", "Bytes of objects written to object storage", *written),
            ] {
                let counter = ConstCounter::new(value);
                counter.encode(encoder.encode_descriptor(name, help, Some(&Unit::Bytes), counter.metric_type())?)?;
            }
        }
        let mut documents = encoder.encode_descriptor(
            "branch_documents",
            "Documents a branch sees (measured at most once a minute)",
            None,
            MetricType::Gauge,
        )?;
        for branch in &self.branches {
            ConstGauge::new(branch.documents as i64).encode(documents.encode_family(&branch.labels)?)?;
        }
        let mut bytes = encoder.encode_descriptor(
            "branch_data",
            "BSON bytes of the documents a branch sees (measured at most once a minute)",
            Some(&Unit::Bytes),
            MetricType::Gauge,
        )?;
        for branch in &self.branches {
            ConstGauge::new(branch.bytes as i64).encode(bytes.encode_family(&branch.labels)?)?;
        }
        Ok(())
    }
}

/// What object storage was asked, when the server runs on it.
#[cfg(feature = "slatedb")]
fn object_requests(context: &Context) -> Option<ObjectRequests> {
    use crate::objects::RequestKind;
    let requests = context.wal.objects()?.requests();
    let kinds = RequestKind::ALL
        .iter()
        .map(|kind| {
            let (made, failed) = requests.count(*kind);
            (kind.name(), made, failed)
        })
        .collect();
    let (read, written) = requests.bytes();
    Some((kinds, read, written))
}

#[cfg(not(feature = "slatedb"))]
fn object_requests(_context: &Context) -> Option<ObjectRequests> {
    None
}

/// The bytes of the files in `dir` (not below it); 0 when it cannot be read.
fn dir_size(dir: &Path) -> u64 {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.filter_map(|entry| entry.ok()?.metadata().ok()).filter(|m| m.is_file()).map(|m| m.len()).sum()
}

/// Serves `/metrics` on `listener` until `stop` turns true.
pub async fn serve(listener: TcpListener, context: Arc<Context>, mut stop: watch::Receiver<bool>) {
    loop {
        let accepted = tokio::select! {
            accepted = listener.accept() => accepted,
            _ = stop.wait_for(|&stop| stop) => return,
        };
        match accepted {
            Ok((stream, _)) => {
                tokio::spawn(answer(stream, context.clone()));
            }
            Err(e) => tracing::debug!(error = %e, "metrics endpoint: accept failed"),
        }
    }
}

/// Reads one request head and answers it.
async fn answer(mut stream: TcpStream, context: Arc<Context>) {
    let mut head = Vec::with_capacity(1024);
    let mut chunk = [0u8; 1024];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") && head.len() < 8192 {
        match tokio::time::timeout(Duration::from_secs(10), stream.read(&mut chunk)).await {
            Ok(Ok(n)) if n > 0 => head.extend_from_slice(&chunk[..n]),
            _ => return,
        }
    }
    let request_line = head.split(|&b| b == b'\n').next().unwrap_or_default();
    let mut parts = std::str::from_utf8(request_line).unwrap_or("").split_whitespace();
    let (method, path) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    let (status, content_type, body) = match (method, path.split('?').next().unwrap_or("")) {
        ("GET", "/metrics") => match tokio::task::spawn_blocking(move || Metrics::render(&context)).await {
            Ok(Ok(body)) => ("200 OK", "text/plain; version=0.0.4; charset=utf-8", body),
            _ => ("500 Internal Server Error", "text/plain", "cannot render the metrics\n".to_owned()),
        },
        ("GET", _) => ("404 Not Found", "text/plain", "only /metrics is served here\n".to_owned()),
        _ => ("405 Method Not Allowed", "text/plain", "only GET is served here\n".to_owned()),
    };
    let mut response = String::new();
    let _ = write!(
        response,
        "HTTP/1.1 {status}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    response.push_str(&body);
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
