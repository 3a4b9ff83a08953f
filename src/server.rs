//! The server: the accept loop, the connection limit, graceful shutdown, and the
//! state every connection shares.

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio::task::JoinSet;

use crate::config::Settings;
use crate::context::{ConnectionInfo, Context};
use crate::cursor::Cursors;
use crate::error::{Error, Result};
use crate::fail_points::FailPoints;
use crate::memory::{Budget, StageLimits};
use crate::metrics::Metrics;
use crate::operations::Operations;
use crate::profiling::Profiling;
use crate::sessions::Sessions;
use crate::store::{self, Store};
use crate::tls::{Accepted, Tls};
use crate::ttl;
use crate::wal::{self, fs::StdFs, Wal};

/// How long shutdown waits for connections to finish their current request.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// How often, at most, a read replica looks whether its writer's users and roles
/// changed.
const SECURITY_FOLLOW: Duration = Duration::from_millis(100);

/// How often a read replica looks in object storage for what its writer made
/// durable (each look lists and reads the storage's manifest and log objects).
#[cfg(feature = "slatedb")]
const REPLICA_POLL: Duration = Duration::from_millis(100);

/// A bound, not yet running server.
pub struct Server {
    listener: TcpListener,
    /// The Prometheus endpoint's socket, with `--metrics-bind`.
    metrics: Option<TcpListener>,
    shared: Arc<Context>,
}

impl Server {
    /// Opens (recovering) the data directory and binds the listening socket (port 0
    /// picks a free port).
    pub async fn bind(settings: Settings, argv: Vec<String>) -> Result<Server> {
        let (wal, store) = match (&settings.storage, &settings.replica_of) {
            (None, None) => {
                let wal = Arc::new(open_wal(&settings).await?);
                (wal.clone(), open_store(&settings, wal).await?)
            }
            #[cfg(feature = "slatedb")]
            (Some(url), _) => open_in_objects(&settings, url, false).await?,
            #[cfg(feature = "slatedb")]
            (None, Some(url)) => open_in_objects(&settings, url, true).await?,
            #[cfg(not(feature = "slatedb"))]
            (Some(url), _) | (None, Some(url)) => {
                return Err(Error::Config(format!("storage '{url}': this build has no object storage")))
            }
        };
        let root = root_user()?;
        let tls = Tls::load(&settings)?;
        let mut settings = settings;
        settings.auth |= root.is_some();
        let listener = TcpListener::bind(&settings.bind)
            .await
            .map_err(|e| Error::Config(format!("cannot listen on {}: {e}", settings.bind)))?;
        let address = listener.local_addr()?;
        if !settings.auth && !settings.allow_unauthenticated && !address.ip().is_loopback() {
            return Err(Error::Config(format!(
                "refusing to serve {address} without access control: anyone who can reach it could read and drop \
                 every database. Turn on --auth (BRANCHDB_ROOT_USERNAME and BRANCHDB_ROOT_PASSWORD create the first \
                 user), or pass --allow-unauthenticated"
            )));
        }
        let metrics = match &settings.metrics_bind {
            Some(bind) => Some(
                TcpListener::bind(bind)
                    .await
                    .map_err(|e| Error::Config(format!("cannot serve metrics on {bind}: {e}")))?,
            ),
            None => None,
        };
        let mut startup_warnings = Vec::new();
        if settings.durability == crate::config::Durability::None {
            startup_warnings.push("durability is 'none': acknowledged writes are lost on a crash".to_owned());
        }
        for warning in &startup_warnings {
            tracing::warn!("{warning}");
        }
        let ttl = Arc::new(ttl::Monitor::new(settings.ttl_monitor_sleep_secs));
        let memory = Budget::new(crate::memory::split(settings.max_memory()).operations);
        let security = crate::auth::Security::new(settings.auth, false);
        let shared = Arc::new(Context {
            settings,
            argv,
            started: Instant::now(),
            connections_current: AtomicI64::new(0),
            connections_total: AtomicI64::new(0),
            connections_refused: AtomicU64::new(0),
            startup_warnings,
            feed: crate::stream::Feed::new(store.clone(), wal.clone()),
            low_priority: crate::low_priority::LowPriority::for_this_machine()?,
            wal,
            store,
            cursors: Cursors::default(),
            operations: Operations::default(),
            sessions: Sessions::default(),
            fail_points: FailPoints::default(),
            memory,
            stage_limits: StageLimits::default(),
            metrics: Metrics::default(),
            profiling: Profiling::default(),
            top: crate::profiling::top::Top::default(),
            query_stats: Default::default(),
            security,
            ttl,
            shutdown: tokio::sync::Notify::new(),
            cluster_settings: Default::default(),
            index_usage: Default::default(),
            index_filters: Default::default(),
            tls,
        });
        let root = root.as_ref().map(|(user, password)| (user.as_str(), password.as_str()));
        // A read replica's users are its writer's, which creates the first one.
        let root = root.filter(|_| shared.settings.replica_of.is_none());
        crate::command::start_security(&shared, root)?;
        Ok(Server { listener, metrics, shared })
    }

    /// The address actually bound.
    pub fn local_addr(&self) -> Result<SocketAddr> {
        Ok(self.listener.local_addr()?)
    }

    /// The address the metrics endpoint is bound to, with `--metrics-bind`.
    pub fn metrics_addr(&self) -> Result<Option<SocketAddr>> {
        Ok(self.metrics.as_ref().map(TcpListener::local_addr).transpose()?)
    }

    /// Serves until `shutdown` completes (or a `shutdown` command asks), then stops accepting, lets every connection
    /// finish the request it is serving, and returns.
    pub async fn run(self, shutdown: impl std::future::Future<Output = ()>) -> Result<()> {
        let Server { listener, metrics, shared } = self;
        let limit = Arc::new(Semaphore::new(shared.settings.max_connections));
        let (stop_tx, stop_rx) = watch::channel(false);
        let mut connections = JoinSet::new();
        // A read replica deletes nothing: its writer's expirer does.
        let expirer = match shared.settings.replica_of {
            None => Some(shared.ttl.start(shared.store.clone())?),
            Some(_) => None,
        };
        let reaper = tokio::spawn(reap_sessions(shared.clone(), stop_rx.clone()));
        if shared.settings.replica_of.is_some() {
            tokio::spawn(follow_security(shared.clone(), stop_rx.clone()));
        }
        if let Some(metrics) = metrics {
            tracing::info!(addr = %metrics.local_addr()?, "serving metrics at /metrics");
            tokio::spawn(crate::metrics::serve(metrics, shared.clone(), stop_rx.clone()));
        }
        tracing::info!(addr = %listener.local_addr()?, "listening");
        tokio::pin!(shutdown);
        let fence = shared.wal.fenced();
        let mut fenced = false;
        loop {
            let (stream, peer) = tokio::select! {
                _ = &mut shutdown => break,
                _ = taken_over(fence.clone()) => {
                    tracing::error!("another server has taken over the storage: this one stops");
                    fenced = true;
                    break;
                }
                _ = shared.shutdown.notified() => {
                    tracing::info!("shutdown command received");
                    break;
                }
                Some(_) = connections.join_next(), if !connections.is_empty() => continue,
                accepted = listener.accept() => match accepted {
                    Ok(accepted) => accepted,
                    Err(e) => {
                        // Out of file descriptors and the like: back off, keep serving.
                        tracing::warn!(error = %e, "accept failed");
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        continue;
                    }
                },
            };
            let Ok(permit) = limit.clone().try_acquire_owned() else {
                shared.connections_refused.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(%peer, limit = shared.settings.max_connections, "connection refused: too many open connections");
                drop(stream);
                continue;
            };
            let id = shared.connections_total.fetch_add(1, Ordering::Relaxed) + 1;
            let mut info = ConnectionInfo::new(id, peer);
            let shared = shared.clone();
            let stop = stop_rx.clone();
            let tls = shared.tls.clone();
            connections.spawn(async move {
                shared.connections_current.fetch_add(1, Ordering::Relaxed);
                if let Err(e) = stream.set_nodelay(true) {
                    tracing::debug!(%peer, error = %e, "cannot set TCP_NODELAY");
                }
                match tls.accept(stream).await {
                    Ok(Accepted::Plain(stream)) => crate::connection::serve(stream, info, &shared, stop).await,
                    Ok(Accepted::Tls(stream, subject)) => {
                        info.certificate_subject = subject;
                        crate::connection::serve_tls(*stream, info, &shared, stop).await
                    }
                    Err(e) => tracing::info!(%peer, reason = %e, "closing connection before its first message"),
                }
                shared.connections_current.fetch_sub(1, Ordering::Relaxed);
                drop(permit);
            });
        }
        tracing::info!(open = connections.len(), "shutting down: no new connections");
        shared.ttl.stop();
        drop(listener);
        let _ = stop_tx.send(true);
        let drained =
            tokio::time::timeout(SHUTDOWN_GRACE, async { while connections.join_next().await.is_some() {} }).await;
        if drained.is_err() {
            tracing::warn!(open = connections.len(), "connections still busy after the grace period; closing them");
            connections.shutdown().await;
        }
        reaper.abort();
        let (store, wal, feed) = (shared.store.clone(), shared.wal.clone(), shared.feed.clone());
        tokio::task::spawn_blocking(move || {
            feed.close();
            if expirer.is_some_and(|expirer| expirer.join().is_err()) {
                tracing::error!("the TTL monitor's thread panicked");
            }
            store.close()?;
            wal.close()
        })
        .await
        .map_err(|e| Error::Internal(format!("closing the store and the WAL panicked: {e}")))??;
        tracing::info!(durable_lsn = %shared.wal.durable_lsn(), "shutdown complete");
        match fenced {
            true => Err(Error::Store("another server has taken over the storage; this one stopped".into())),
            false => Ok(()),
        }
    }
}

/// Resolves when another server takes the storage over (never for a log on disk).
async fn taken_over(fence: Option<watch::Receiver<bool>>) {
    if let Some(mut fence) = fence {
        if fence.wait_for(|fenced| *fenced).await.is_ok() {
            return;
        }
    }
    std::future::pending().await
}

/// Opens the log in `<data_dir>/wal`, reporting recovery progress in the log and, on
/// a terminal, as a progress bar.
async fn open_wal(settings: &Settings) -> Result<Wal> {
    let dir = settings.data_dir.join("wal");
    let options = wal::Options {
        durability: settings.durability,
        batch_interval: Duration::from_millis(settings.batch_interval_ms.max(1)),
        ..wal::Options::default()
    };
    let started = Instant::now();
    let (wal, recovered) = tokio::task::spawn_blocking(move || {
        let bar = std::io::stderr().is_terminal();
        let opened = Wal::open(Arc::new(StdFs), &dir, options, &mut |p| {
            tracing::info!(segment = p.segment, segments = p.segments, records = p.records, bytes = p.bytes, lsn = %p.lsn, "recovering the WAL");
            if bar {
                let done = (p.segment * 30).checked_div(p.segments).unwrap_or(30);
                eprint!("\rrecovering [{}{}] segment {}/{} LSN {}", "#".repeat(done), " ".repeat(30 - done), p.segment, p.segments, p.lsn);
            }
        });
        if bar {
            eprintln!();
        }
        opened
    })
    .await
    .map_err(|e| Error::Internal(format!("WAL recovery panicked: {e}")))??;
    tracing::info!(
        last_lsn = %recovered.last_lsn, records = recovered.records, segments = recovered.segments.len(),
        ms = started.elapsed().as_millis() as u64, "WAL open"
    );
    Ok(wal)
}

/// Opens the store in `<data_dir>/store` and replays the log records it lacks.
async fn open_store(settings: &Settings, wal: Arc<Wal>) -> Result<Arc<Store>> {
    let dir = settings.data_dir.join("store");
    let options = store::Options {
        retention: settings.retention()?,
        background: true,
        cache_bytes: crate::memory::split(settings.max_memory()).cache,
        follower: false,
    };
    tokio::task::spawn_blocking(move || Store::open(store::Location::Dir(&dir), wal, options))
        .await
        .map_err(|e| Error::Internal(format!("opening the store panicked: {e}")))?
}

/// Opens the log and the store in object storage: one SlateDB database holds both.
/// SlateDB's flush interval is the group commit: 5 ms under `strict` durability,
/// `batch_interval_ms` otherwise. A `replica` follows the writer of that storage
/// with SlateDB's reader, looking for what it made durable every
/// [`REPLICA_POLL`].
#[cfg(feature = "slatedb")]
async fn open_in_objects(settings: &Settings, url: &str, replica: bool) -> Result<(Arc<Wal>, Arc<Store>)> {
    use crate::config::Durability;
    use crate::objects::{Location, Objects};
    let location = Location::parse(url).map_err(|e| Error::Config(e.to_string()))?;
    let flush_interval = match settings.durability {
        Durability::Strict => Duration::from_millis(5),
        Durability::Batched | Durability::None => Duration::from_millis(settings.batch_interval_ms.max(1)),
    };
    let log_options = wal::Options { durability: settings.durability, ..wal::Options::default() };
    // The data directory is a cache of objects read, and can be lost at any time.
    // The store's share of memory is halved between writes not yet in object
    // storage and the tables read, decoded.
    let cache = crate::memory::split(settings.max_memory()).cache;
    let objects_options = crate::objects::Options {
        flush_interval,
        max_unflushed_bytes: (cache / 2).clamp(64 << 20, 1 << 30),
        cache_dir: Some(settings.data_dir.join("objects-cache")),
        cache_dir_bytes: settings.storage_cache_size,
        memory_cache_bytes: (cache / 2).clamp(16 << 20, 1 << 30) as u64,
    };
    let options = store::Options {
        retention: settings.retention()?,
        background: !replica,
        cache_bytes: cache,
        follower: replica,
    };
    let started = Instant::now();
    let url = url.to_owned();
    tokio::task::spawn_blocking(move || {
        let objects = Arc::new(match replica {
            true => Objects::open_reader(&location, &objects_options, REPLICA_POLL)?,
            false => Objects::open(&location, &objects_options)?,
        });
        let (wal, last) = Wal::on_objects(objects.clone(), log_options)?;
        let ms = started.elapsed().as_millis() as u64;
        match replica {
            true => {
                tracing::info!(replica_of = %url, last_lsn = %last, ms, "following the writer's log in object storage")
            }
            false => tracing::info!(storage = %url, last_lsn = %last, ms, "log open in object storage"),
        }
        let wal = Arc::new(wal);
        let engine = Arc::new(store::engine::SlateEngine::new(objects));
        let store = Store::open(store::Location::Engine(engine), wal.clone(), options)?;
        Ok((wal, store))
    })
    .await
    .map_err(|e| Error::Internal(format!("opening object storage panicked: {e}")))?
}

/// Resolves when the process receives SIGINT or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for SIGINT");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => tracing::info!("SIGINT received"),
        _ = term => tracing::info!("SIGTERM received"),
    }
}

/// Once a second, aborts transactions past `transactionLifetimeLimitSeconds` and
/// forgets sessions idle past their timeout, until the server stops.
async fn reap_sessions(shared: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut tick = tokio::time::interval(Duration::from_secs(1));
    loop {
        tokio::select! {
            _ = tick.tick() => {
                let aborted = shared.sessions.reap();
                if aborted > 0 {
                    tracing::info!(aborted, "aborted transactions open past transactionLifetimeLimitSeconds");
                }
            }
            _ = stop.wait_for(|&stop| stop) => break,
        }
    }
}

/// A read replica: looks at its writer's users and roles each time it has caught
/// up with the writer (at most every [`SECURITY_FOLLOW`]), so that a user made,
/// changed or dropped there holds here too.
async fn follow_security(shared: Arc<Context>, mut stop: watch::Receiver<bool>) {
    let mut published = shared.store.subscribe();
    let mut seen = None;
    let mut failing = false;
    loop {
        let context = shared.clone();
        let previous = seen.take();
        let looked = tokio::task::spawn_blocking(move || crate::command::follow_security(&context, previous)).await;
        match looked {
            Ok(Ok(now)) => {
                seen = Some(now);
                failing = false;
            }
            Ok(Err(e)) if !failing => {
                tracing::warn!(error = %e, "reading the writer's users and roles failed; trying again");
                failing = true;
            }
            Ok(Err(_)) => {}
            Err(e) => {
                tracing::error!(error = %e, "following the writer's users and roles panicked");
                return;
            }
        }
        tokio::select! {
            changed = published.changed() => if changed.is_err() { return },
            _ = stop.wait_for(|&stop| stop) => return,
        }
        tokio::time::sleep(SECURITY_FOLLOW).await;
    }
}

/// The root user to create on an empty data directory, from
/// `BRANCHDB_ROOT_USERNAME` and `BRANCHDB_ROOT_PASSWORD` (read from the
/// environment only, so that the password shows in no command line).
fn root_user() -> Result<Option<(String, String)>> {
    let get = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
    match (get("BRANCHDB_ROOT_USERNAME"), get("BRANCHDB_ROOT_PASSWORD")) {
        (Some(user), Some(password)) => Ok(Some((user, password))),
        (None, None) => Ok(None),
        _ => Err(Error::Config("BRANCHDB_ROOT_USERNAME and BRANCHDB_ROOT_PASSWORD go together".into())),
    }
}
