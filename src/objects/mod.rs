//! Object storage: one SlateDB database (an LSM tree whose write-ahead log and
//! sorted tables are objects in S3-compatible storage, a local directory or
//! memory), which the object-storage mode's log (`wal/objects.rs`) and the store's
//! engine (`store/engine/slate.rs`) share, each in key ranges of its own under a
//! leading tag byte. The only module that names SlateDB; `requests.rs` counts what
//! it asks of the storage.
//!
//! Whatever SlateDB holds durably is a prefix of the writes in the order they were
//! made (a log record and the changes that apply it are one write). Opening the
//! database fences the writer that had it: that one's writes fail from then on,
//! and it never acknowledges another.
//!
//! Writes take turns (`turns.rs`): one at a time, each knowing its sequence number
//! before it is made, and refused while the storage leaves too much undurable.
//!
//! SlateDB is asynchronous. [`Objects`] owns a runtime for it, and its calls are
//! polled on whatever thread makes them (a command's blocking thread, a background
//! pass, a test), inside that runtime's context; a scan is advanced the same way,
//! one entry at a time, as its caller reads.

use std::future::Future;
use std::ops::Bound;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use slatedb::config::{DbReaderOptions, ObjectStoreCacheOptions, ScanOptions, Settings, WriteOptions};
use slatedb::db_cache::moka::{MokaCache, MokaCacheOptions};
use slatedb::db_cache::{DbCache, SplitCache};
use slatedb::object_store::aws::AmazonS3Builder;
pub use slatedb::object_store::{local::LocalFileSystem, memory::InMemory, ObjectStore};
use slatedb::{CloseReason, Db, DbIterator, DbReader, DbSnapshot, ErrorKind, IterationOrder, WriteHandle};
use tokio::sync::watch;

use crate::error::{Error, ErrorCode, Result};

mod requests;
mod turns;
pub use requests::{Kind as RequestKind, Requests};
use turns::Turns;
pub use turns::UNREACHABLE_AFTER;

/// Where the database lives: `s3://bucket/prefix` (endpoint, region and
/// credentials from the usual `AWS_*` environment variables) or `file:///path`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    S3 { bucket: String, prefix: String },
    File(PathBuf),
}

impl Location {
    pub fn parse(url: &str) -> Result<Location> {
        let bad = |why: &str| Error::bad_value(format!("storage URL '{url}': {why}"));
        if let Some(rest) = url.strip_prefix("s3://") {
            let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
            if bucket.is_empty() {
                return Err(bad("names no bucket"));
            }
            let prefix = prefix.trim_matches('/');
            return Ok(Location::S3 { bucket: bucket.to_owned(), prefix: prefix.to_owned() });
        }
        if let Some(path) = url.strip_prefix("file://") {
            if !path.starts_with('/') {
                return Err(bad("a file URL takes an absolute path: file:///path"));
            }
            return Ok(Location::File(PathBuf::from(path)));
        }
        Err(bad("expected s3://bucket/prefix or file:///path"))
    }

    /// The object store and the database's path in it.
    fn open(&self) -> Result<(Arc<dyn ObjectStore>, String)> {
        match self {
            Location::S3 { bucket, prefix } => {
                let store = AmazonS3Builder::from_env()
                    .with_bucket_name(bucket)
                    .build()
                    .map_err(|e| Error::bad_value(format!("S3 storage for bucket '{bucket}': {e}")))?;
                let path = if prefix.is_empty() { "branchdb".to_owned() } else { prefix.clone() };
                Ok((Arc::new(store), path))
            }
            Location::File(dir) => {
                std::fs::create_dir_all(dir)?;
                let store = LocalFileSystem::new_with_prefix(dir)
                    .map_err(|e| Error::bad_value(format!("storage directory {}: {e}", dir.display())))?;
                Ok((Arc::new(store), "branchdb".to_owned()))
            }
        }
    }
}

/// How the database is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// How long SlateDB gathers writes before it puts them in object storage: a
    /// durable write waits up to this long (the group commit).
    pub flush_interval: Duration,
    /// Writes held in memory before they are in object storage, at most: past it,
    /// writes wait for flushes. A memtable is frozen at a quarter of it (or SlateDB's
    /// 64 MiB, if smaller).
    pub max_unflushed_bytes: usize,
    /// A directory on the local disk where objects read are cached; `None`: none.
    pub cache_dir: Option<PathBuf>,
    /// The most that directory holds, in bytes.
    pub cache_dir_bytes: u64,
    /// The memory for the tables' blocks, indexes and filters once read and
    /// decoded; 0: none, and every read decodes its tables' indexes again.
    pub memory_cache_bytes: u64,
}

impl Options {
    /// SlateDB's cache of objects, in `cache_dir`: those read, and the tables a
    /// writer puts and compacts, which it reads next.
    fn cache(&self, defaults: &ObjectStoreCacheOptions) -> ObjectStoreCacheOptions {
        ObjectStoreCacheOptions {
            root_folder: self.cache_dir.clone().filter(|_| self.cache_dir_bytes > 0),
            max_cache_size_bytes: Some(self.cache_dir_bytes as usize),
            cache_on_flush: true,
            cache_on_compaction: true,
            ..defaults.clone()
        }
    }

    /// SlateDB's cache in memory: a quarter of it for the tables' indexes and
    /// filters, which every read of a table needs, the rest for their blocks.
    fn memory_cache(&self) -> Option<Arc<dyn DbCache>> {
        if self.memory_cache_bytes == 0 {
            return None;
        }
        let part = |max_capacity| -> Option<Arc<dyn DbCache>> {
            Some(Arc::new(MokaCache::new_with_opts(MokaCacheOptions {
                max_capacity,
                time_to_live: None,
                time_to_idle: None,
            })))
        };
        let meta = self.memory_cache_bytes / 4;
        let cache =
            SplitCache::new().with_meta_cache(part(meta)).with_block_cache(part(self.memory_cache_bytes - meta));
        Some(Arc::new(cache))
    }
}

impl Default for Options {
    fn default() -> Self {
        Options {
            flush_interval: Duration::from_millis(10),
            max_unflushed_bytes: 256 << 20,
            cache_dir: None,
            cache_dir_bytes: 16 << 30,
            memory_cache_bytes: 64 << 20,
        }
    }
}

/// An open database: its writer, or a reader that follows the writer.
pub struct Objects {
    db: Handle,
    /// SlateDB's tasks; `None` once dropped.
    runtime: Option<tokio::runtime::Runtime>,
    /// Set once another writer has taken the database over.
    fenced: Arc<watch::Sender<bool>>,
    requests: Arc<Requests>,
    /// Whose turn it is to write (a writer's; see `turns.rs`).
    turns: Mutex<Turns>,
}

#[derive(Clone)]
enum Handle {
    Writer(Arc<Db>),
    Reader(Arc<DbReader>),
}

/// A write made, to wait for its durability.
#[derive(Clone)]
pub struct Written(WriteHandle);

/// A writer's turn to write: no other write is made until it writes or is dropped.
pub struct Turn<'a> {
    objects: &'a Objects,
    db: Arc<Db>,
    turns: MutexGuard<'a, Turns>,
}

impl Turn<'_> {
    /// The sequence number the write is given if asked: after every write made,
    /// and after `floor`.
    pub fn next_seq(&self, floor: u64) -> u64 {
        self.turns.next_seq(floor)
    }

    /// Puts (`Some`) and deletes (`None`) atomically, visible at once, durable
    /// later, as the write with sequence number `seq` (from [`Turn::next_seq`])
    /// or, when `None`, SlateDB's next.
    pub fn write<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        mut self,
        changes: impl IntoIterator<Item = (K, Option<V>)>,
        seq: Option<u64>,
    ) -> Result<Written> {
        let mut batch = slatedb::WriteBatch::new();
        let mut bytes = 0;
        for (key, value) in changes {
            let (key, value) = (key.as_ref(), value.as_ref().map(AsRef::as_ref));
            bytes += key.len() + value.map_or(0, <[u8]>::len);
            match value {
                Some(value) => batch.put(key, value),
                None => batch.delete(key),
            }
        }
        let options = WriteOptions { seqnum: seq.unwrap_or(0) };
        let db = self.db.clone();
        let handle = self.objects.run(async move { db.write_with_options(batch, &options).await })?;
        self.turns.made(handle.seqnum(), bytes);
        Ok(Written(handle))
    }
}

impl Objects {
    /// Opens (or creates) the database at `location`.
    pub fn open(location: &Location, options: &Options) -> Result<Objects> {
        let (store, path) = location.open()?;
        Objects::open_in(store, &path, options)
    }

    /// Opens (or creates) the database under `path` in `store`.
    pub fn open_in(store: Arc<dyn ObjectStore>, path: &str, options: &Options) -> Result<Objects> {
        let runtime = runtime()?;
        let defaults = Settings::default();
        let settings = Settings {
            flush_interval: Some(options.flush_interval),
            max_unflushed_bytes: options.max_unflushed_bytes,
            // A memtable is frozen at this size; SlateDB wants room for more than one.
            l0_sst_size_bytes: defaults.l0_sst_size_bytes.min(options.max_unflushed_bytes / 4),
            object_store_cache_options: options.cache(&defaults.object_store_cache_options),
            ..defaults
        };
        let path = path.to_owned();
        let (store, requests) = counted(store);
        let fenced = Arc::new(watch::Sender::new(false));
        let mut builder = Db::builder(path, store).with_settings(settings).with_db_cache_disabled();
        if let Some(cache) = options.memory_cache() {
            builder = builder.with_db_cache(cache, 0);
        }
        let db = runtime.block_on(async move { builder.build().await }).map_err(|e| slate_error(e, &fenced))?;
        let last_seq = db.snapshot().map_err(|e| slate_error(e, &fenced))?.seq().max(db.status().durable_seq);
        Ok(Objects {
            db: Handle::Writer(Arc::new(db)),
            runtime: Some(runtime),
            fenced,
            requests,
            turns: Mutex::new(Turns::new(last_seq, options.max_unflushed_bytes)),
        })
    }

    /// Opens a reader of the database at `location`, which a writer made: it sees
    /// what the writer has made durable, looking for more every `poll`, and writes
    /// nothing of the database's (it keeps a checkpoint of the state it reads in
    /// the storage's manifest, so that the writer's garbage collection spares it).
    pub fn open_reader(location: &Location, options: &Options, poll: Duration) -> Result<Objects> {
        let (store, path) = location.open()?;
        let runtime = runtime()?;
        let defaults = DbReaderOptions::default();
        let reader_options = DbReaderOptions {
            manifest_poll_interval: poll,
            object_store_cache_options: options.cache(&defaults.object_store_cache_options),
            ..defaults
        };
        let (store, requests) = counted(store);
        let fenced = Arc::new(watch::Sender::new(false));
        let mut builder = DbReader::builder(path, store).with_options(reader_options).with_db_cache_disabled();
        if let Some(cache) = options.memory_cache() {
            builder = builder.with_db_cache(cache, 0);
        }
        let reader = runtime
            .block_on(async move { builder.build().await })
            .map_err(|e| Error::Store(format!("cannot follow the object storage (has a writer opened it?): {e}")))?;
        Ok(Objects {
            db: Handle::Reader(Arc::new(reader)),
            runtime: Some(runtime),
            fenced,
            requests,
            turns: Mutex::new(Turns::new(0, options.max_unflushed_bytes)),
        })
    }

    /// Whether this is a reader, which takes no writes.
    pub fn is_reader(&self) -> bool {
        matches!(self.db, Handle::Reader(_))
    }

    fn writer(&self) -> Result<Arc<Db>> {
        match &self.db {
            Handle::Writer(db) => Ok(db.clone()),
            Handle::Reader(_) => Err(reader_error()),
        }
    }

    /// The requests made of the storage so far.
    pub fn requests(&self) -> &Requests {
        &self.requests
    }

    /// Becomes `true` when another writer has taken the database over: every
    /// write fails from then on with [`fenced_error`].
    pub fn fenced(&self) -> watch::Receiver<bool> {
        self.fenced.subscribe()
    }

    /// Puts (`Some`) and deletes (`None`) atomically, visible at once, durable later.
    pub fn write<K: AsRef<[u8]>, V: AsRef<[u8]>>(
        &self,
        changes: impl IntoIterator<Item = (K, Option<V>)>,
    ) -> Result<Written> {
        self.turn()?.write(changes, None)
    }

    /// Waits for this writer's turn to write (`turns.rs`): writes are made one at a
    /// time, and while the storage leaves too much written undurable they wait for
    /// it, at most [`UNREACHABLE_AFTER`], and are then refused with
    /// `HostUnreachable`, nothing written.
    pub fn turn(&self) -> Result<Turn<'_>> {
        let db = self.writer()?;
        // What SlateDB has made durable.
        let status = db.subscribe();
        let turns = lock(&self.turns);
        let turns = turns::take_turn(
            turns,
            || status.borrow().durable_seq,
            |left| {
                let mut status = status.clone();
                status.borrow_and_update();
                // Checked again every 50 ms: a change between reading the status
                // and waiting for the next is not waited for.
                let _context = self.handle().enter();
                let _ = futures::executor::block_on(tokio::time::timeout(
                    left.min(Duration::from_millis(50)),
                    status.changed(),
                ));
            },
        )?;
        Ok(Turn { objects: self, db, turns })
    }

    /// Waits until `written`, and so every write before it, is in object storage
    /// (while the storage is unreachable, until it is back).
    pub fn await_durable(&self, written: &Written) -> Result<()> {
        let handle = written.0.clone();
        self.run(async move { handle.await_durable().await })
    }

    /// Waits until `written`, and so every write before it, is in object storage,
    /// for at most `within`: `false` if it is not by then. SlateDB goes on trying
    /// (requests that fail are retried with backoff, without end), so a write not
    /// durable in time may still become durable.
    pub fn await_durable_within(&self, written: &Written, within: Duration) -> Result<bool> {
        let handle = written.0.clone();
        self.run(async move {
            match tokio::time::timeout(within, handle.await_durable()).await {
                Ok(outcome) => outcome.map(|()| true),
                Err(_elapsed) => Ok(false),
            }
        })
    }

    /// Puts everything written so far in object storage (a reader has nothing to put).
    pub fn flush(&self) -> Result<()> {
        match self.db.clone() {
            Handle::Writer(db) => self.run(async move { db.flush().await }),
            Handle::Reader(_) => Ok(()),
        }
    }

    /// Closes the database, everything written made durable first.
    pub fn close(&self) -> Result<()> {
        match self.db.clone() {
            Handle::Writer(db) => self.run(async move { db.close().await }),
            Handle::Reader(reader) => self.run(async move { reader.close().await }),
        }
    }

    /// A writer's consistent state: everything written so far, durable or not. A
    /// reader's is no snapshot: each read sees the newest state it has followed, so
    /// its caller reads what later writes do not change (versions at a fixed LSN).
    pub fn snapshot(&self) -> Result<ObjectSnapshot> {
        let source = match &self.db {
            Handle::Writer(db) => Source::Snapshot(db.snapshot().map_err(|e| slate_error(e, &self.fenced))?),
            Handle::Reader(reader) => Source::Reader(reader.clone()),
        };
        Ok(ObjectSnapshot { source, runtime: self.handle().clone(), fenced: self.fenced.clone() })
    }

    fn run<T>(&self, work: impl Future<Output = std::result::Result<T, slatedb::Error>>) -> Result<T> {
        run(self.handle(), &self.fenced, work)
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        // The runtime is taken only by `drop`.
        self.runtime.as_ref().map(tokio::runtime::Runtime::handle).expect("the runtime lives as long as the database")
    }
}

impl Drop for Objects {
    /// Stops SlateDB's tasks without waiting for them, as a crash would: what was
    /// not made durable is gone ([`Objects::close`] is the clean way out).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// A read-only state of the database (see [`Objects::snapshot`]).
pub struct ObjectSnapshot {
    source: Source,
    runtime: tokio::runtime::Handle,
    fenced: Arc<watch::Sender<bool>>,
}

/// What an [`ObjectSnapshot`] reads.
#[derive(Clone)]
enum Source {
    Snapshot(Arc<DbSnapshot>),
    Reader(Arc<DbReader>),
}

impl Source {
    async fn get(&self, key: Vec<u8>) -> std::result::Result<Option<Bytes>, slatedb::Error> {
        match self {
            Source::Snapshot(snapshot) => snapshot.get(key).await,
            Source::Reader(reader) => reader.get(key).await,
        }
    }

    async fn scan(
        &self,
        range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
        options: &ScanOptions,
    ) -> std::result::Result<DbIterator, slatedb::Error> {
        match self {
            Source::Snapshot(snapshot) => snapshot.scan_with_options(range, options).await,
            Source::Reader(reader) => reader.scan_with_options(range, options).await,
        }
    }
}

impl ObjectSnapshot {
    pub fn get(&self, key: Vec<u8>) -> Result<Option<Bytes>> {
        let source = self.source.clone();
        run(&self.runtime, &self.fenced, async move { source.get(key).await })
    }

    /// The entries between `lower` and `upper`, ascending or, when `reverse`,
    /// descending.
    pub fn scan(&self, lower: Bound<Vec<u8>>, upper: Bound<Vec<u8>>, reverse: bool) -> Entries {
        let order = if reverse { IterationOrder::Descending } else { IterationOrder::Ascending };
        // The store reads one document's versions with a short scan: its blocks
        // are cached as a point read's are.
        let options = ScanOptions { order, cache_blocks: true, ..ScanOptions::default() };
        let source = self.source.clone();
        let state = match run(&self.runtime, &self.fenced, async move { source.scan((lower, upper), &options).await }) {
            Ok(entries) => Scan::Open(Box::new(entries)),
            Err(e) => Scan::Failed(e),
        };
        Entries { state, runtime: self.runtime.clone(), fenced: self.fenced.clone() }
    }
}

/// The entries of a scan, in its order; an error ends them.
pub struct Entries {
    state: Scan,
    runtime: tokio::runtime::Handle,
    fenced: Arc<watch::Sender<bool>>,
}

enum Scan {
    Open(Box<DbIterator>),
    Failed(Error),
    Done,
}

impl Iterator for Entries {
    type Item = Result<(Bytes, Bytes)>;

    fn next(&mut self) -> Option<Self::Item> {
        let mut entries = match std::mem::replace(&mut self.state, Scan::Done) {
            Scan::Open(entries) => entries,
            Scan::Failed(e) => return Some(Err(e)),
            Scan::Done => return None,
        };
        let next = {
            let _context = self.runtime.enter();
            futures::executor::block_on(entries.next())
        };
        match next {
            Ok(Some(entry)) => {
                self.state = Scan::Open(entries);
                Some(Ok((entry.key, entry.value)))
            }
            Ok(None) => None,
            Err(e) => Some(Err(slate_error(e, &self.fenced))),
        }
    }
}

/// Runs `work`, which needs SlateDB's runtime, on the calling thread and waits for
/// it: reads answered from memory take no trip to another thread and back.
fn run<T>(
    runtime: &tokio::runtime::Handle,
    fenced: &watch::Sender<bool>,
    work: impl Future<Output = std::result::Result<T, slatedb::Error>>,
) -> Result<T> {
    let _context = runtime.enter();
    futures::executor::block_on(work).map_err(|e| slate_error(e, fenced))
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

/// SlateDB's error as ours; a fenced database says so to its watchers.
fn slate_error(e: slatedb::Error, fenced: &watch::Sender<bool>) -> Error {
    if e.kind() == ErrorKind::Closed(CloseReason::Fenced) {
        fenced.send_replace(true);
        return fenced_error();
    }
    Error::Store(format!("object storage: {e}"))
}

/// `store` with its requests counted, and the counts.
fn counted(store: Arc<dyn ObjectStore>) -> (Arc<dyn ObjectStore>, Arc<Requests>) {
    let requests = Arc::new(Requests::default());
    (Arc::new(requests::Counted::new(store, requests.clone())), requests)
}

/// SlateDB's runtime: its own two threads.
fn runtime() -> Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).thread_name("slatedb").enable_all().build()?)
}

/// What a reader answers a write: it is no primary.
pub fn reader_error() -> Error {
    Error::replica_write()
}

/// What a writer that another took over answers: it is no longer the primary.
pub fn fenced_error() -> Error {
    Error::command(
        ErrorCode::NotWritablePrimary,
        "not primary: another server has taken over this storage, and this one takes no more writes",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn storage_urls() {
        assert_eq!(
            Location::parse("s3://bucket/some/prefix/").expect("s3"),
            Location::S3 { bucket: "bucket".into(), prefix: "some/prefix".into() }
        );
        assert_eq!(
            Location::parse("s3://bucket").expect("s3"),
            Location::S3 { bucket: "bucket".into(), prefix: String::new() }
        );
        assert_eq!(Location::parse("file:///var/lib/x").expect("file"), Location::File("/var/lib/x".into()));
        for bad in ["s3://", "file://relative", "http://host/x", "/plain/path"] {
            assert!(Location::parse(bad).is_err(), "{bad}");
        }
    }
}

#[cfg(test)]
mod outage_tests;
