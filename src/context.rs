//! The context a server builds and every command runs in: its settings, the log
//! and the store, the registries of cursors, operations and sessions, and its
//! counters. Commands depend on this, not on the server that accepts connections.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use bson::Document;

use crate::auth::{ConnectionAuth, Security};
use crate::config::Settings;
use crate::cursor::Cursors;
use crate::fail_points::FailPoints;
use crate::memory::{Budget, StageLimits};
use crate::metrics::Metrics;
use crate::operations::Operations;
use crate::profiling::Profiling;
use crate::sessions::Sessions;
use crate::store::Store;
use crate::ttl;
use crate::wal::Wal;

/// What every connection and command of a server shares.
pub struct Context {
    pub settings: Settings,
    /// The process's command line, for `getCmdLineOpts`.
    pub argv: Vec<String>,
    pub started: Instant,
    /// Connections open now.
    pub connections_current: AtomicI64,
    /// Connections accepted since start; also the source of connection ids.
    pub connections_total: AtomicI64,
    /// Connections refused because the limit was reached.
    pub connections_refused: AtomicU64,
    /// Warnings logged at startup, for `getLog: "startupWarnings"`.
    pub startup_warnings: Vec<String>,
    /// The write-ahead log.
    pub wal: Arc<Wal>,
    /// The materialized state of every branch.
    pub store: Arc<Store>,
    /// The published records change streams read (`stream::Feed`).
    pub feed: Arc<crate::stream::Feed>,
    /// Where change stream batches run: threads that take only the CPU writers leave.
    pub low_priority: crate::low_priority::LowPriority,
    /// Open query cursors.
    pub cursors: Cursors,
    /// Commands being served, for `currentOp` and `killOp`.
    pub operations: Operations,
    /// Logical sessions and their transactions.
    pub sessions: Sessions,
    /// The test commands' `failCommand` fail point.
    pub fail_points: FailPoints,
    /// The TTL expirer's parameters and counters; its thread runs while the server does.
    pub ttl: Arc<ttl::Monitor>,
    /// What operations hold, against their share of `--max-memory`.
    pub memory: Arc<Budget>,
    /// What one blocking stage may hold.
    pub stage_limits: StageLimits,
    /// Commands counted for `/metrics`.
    pub metrics: Metrics,
    /// `slowms` and `sampleRate`: the slow operation log.
    pub profiling: Profiling,
    /// Each collection's usage, for `top`.
    pub top: crate::profiling::top::Top,
    pub query_stats: crate::profiling::query_stats::QueryStats,
    /// Access control: whether it is on, and when users last changed.
    pub security: Security,
    /// Notified by the `shutdown` command: the server stops as on SIGTERM.
    pub shutdown: tokio::sync::Notify,
    /// The cluster-wide settings, as last read from `config.settings`.
    pub cluster_settings: crate::command::ClusterSettings,
    /// How many operations each index served, for `$indexStats`.
    pub index_usage: crate::index::usage::IndexUsage,
    /// The planner's index filters (`planCacheSetFilter`).
    pub index_filters: crate::command::IndexFilters,
    /// TLS for the connections accepted from now on (`rotateCertificates` reloads it).
    pub tls: crate::tls::Tls,
}

/// What the server knows about one client connection.
pub struct ConnectionInfo {
    pub id: i64,
    pub peer: SocketAddr,
    /// The `client` document of the first `hello`, which may not change afterwards.
    pub client_metadata: Mutex<Option<Document>>,
    /// Who the connection is authenticated as.
    auth: Mutex<ConnectionAuth>,
    /// The subject of the client's TLS certificate, if it sent one (MONGODB-X509).
    pub certificate_subject: Option<String>,
}

impl ConnectionInfo {
    pub fn new(id: i64, peer: SocketAddr) -> ConnectionInfo {
        ConnectionInfo {
            id,
            peer,
            client_metadata: Mutex::new(None),
            auth: Mutex::default(),
            certificate_subject: None,
        }
    }

    /// The connection's authentication, locked.
    pub fn auth(&self) -> std::sync::MutexGuard<'_, ConnectionAuth> {
        self.auth.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
use {crate::store, crate::wal, std::time::Duration};

#[cfg(test)]
impl Context {
    /// State for handler tests: default settings, one open connection.
    pub(crate) fn for_tests() -> Arc<Context> {
        let wal = Arc::new(
            Wal::open(
                Arc::new(wal::faulty::FaultyFs::new()),
                std::path::Path::new("/wal"),
                wal::Options::default(),
                &mut |_| {},
            )
            .expect("in-memory WAL")
            .0,
        );
        let store = Store::open(
            store::Location::Memory,
            wal.clone(),
            store::Options {
                retention: Duration::from_secs(3600),
                background: false,
                cache_bytes: store::DEFAULT_CACHE,
                follower: false,
            },
        )
        .expect("in-memory store");
        Arc::new(Context {
            settings: Settings::default(),
            argv: vec!["branchdb".into(), "serve".into()],
            started: Instant::now(),
            connections_current: AtomicI64::new(1),
            connections_total: AtomicI64::new(1),
            connections_refused: AtomicU64::new(0),
            startup_warnings: vec![],
            wal: wal.clone(),
            feed: crate::stream::Feed::new(store.clone(), wal.clone()),
            low_priority: crate::low_priority::LowPriority::new(1).expect("low-priority thread"),
            store,
            cursors: Cursors::default(),
            operations: Operations::default(),
            sessions: Sessions::default(),
            fail_points: FailPoints::default(),
            ttl: Arc::new(ttl::Monitor::new(Settings::default().ttl_monitor_sleep_secs)),
            memory: Budget::new(crate::memory::split(1 << 30).operations),
            stage_limits: StageLimits::default(),
            metrics: Metrics::default(),
            profiling: Profiling::default(),
            top: crate::profiling::top::Top::default(),
            query_stats: Default::default(),
            security: Security::default(),
            shutdown: tokio::sync::Notify::new(),
            cluster_settings: Default::default(),
            index_usage: Default::default(),
            index_filters: Default::default(),
            tls: crate::tls::Tls::disabled(),
        })
    }
}

#[cfg(test)]
impl ConnectionInfo {
    /// A connection from 127.0.0.1:5000 with the given id.
    pub(crate) fn for_tests(id: i64) -> ConnectionInfo {
        ConnectionInfo::new(id, SocketAddr::from(([127, 0, 0, 1], 5000)))
    }
}
