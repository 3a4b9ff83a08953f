//! The engine on object storage: [`slatedb`], an LSM tree whose write-ahead log and
//! sorted tables are objects in S3-compatible storage (or a local directory, or
//! memory), with a writer epoch that fences a stale writer and readers that follow
//! the writer from the same objects.
//!
//! The nine tables share one keyspace: a key is its table's tag byte and then the
//! table's own key, so each table's keys order as their bytes, apart from the
//! others. A commit is one SlateDB write batch; a durable commit waits until
//! SlateDB says the batch is in object storage.
//!
//! SlateDB persists writes on its own schedule (its flush interval), so a commit
//! not asked to be durable may become durable before the store asks. The store's
//! rule that the engine is never durable ahead of the log then holds only with the
//! log in the same database, where whatever is durable is a prefix of both.
//!
//! SlateDB is asynchronous: it runs on a runtime of its own, which this engine
//! owns, and the store's synchronous calls wait for it from whatever thread they
//! are on (a command's blocking thread, a background pass, a test). A scan streams
//! through a bounded channel, so the store's visitor runs on its own thread and a
//! visitor that stops early ends the scan.

use std::collections::BTreeMap;
use std::future::Future;
use std::ops::Bound;
use std::sync::mpsc::sync_channel;
use std::sync::Arc;
use std::time::Duration;

use slatedb::config::{ScanOptions, Settings};
/// The object stores an engine opens on (S3-compatible, a local directory, memory).
pub use slatedb::object_store::{local::LocalFileSystem, memory::InMemory, ObjectStore};
use slatedb::{Db, DbSnapshot, IterationOrder};

use super::{is_empty_range, Engine, Snapshot, Table, Visit, WriteBatch};
use crate::error::{Error, Result};

/// How many entries a scan reads ahead of its visitor.
const SCAN_AHEAD: usize = 256;

/// The SlateDB engine.
pub struct SlateEngine {
    db: Arc<Db>,
    /// SlateDB's tasks; `None` once dropped.
    runtime: Option<tokio::runtime::Runtime>,
}

/// How the engine opens its database.
#[derive(Debug, Clone)]
pub struct SlateOptions {
    /// How long SlateDB gathers writes before it puts them in object storage: a
    /// durable commit waits up to this long (its group commit).
    pub flush_interval: Duration,
}

impl Default for SlateOptions {
    fn default() -> Self {
        SlateOptions { flush_interval: Duration::from_millis(10) }
    }
}

impl SlateEngine {
    /// Opens (or creates) the database under `path` in `store`. Opening fences
    /// any writer that had it open: that one's next write fails.
    pub fn open(store: Arc<dyn ObjectStore>, path: &str, options: &SlateOptions) -> Result<SlateEngine> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("slatedb")
            .enable_all()
            .build()?;
        let settings = Settings { flush_interval: Some(options.flush_interval), ..Settings::default() };
        let path = path.to_owned();
        let db = runtime
            .block_on(async move { Db::builder(path, store).with_settings(settings).build().await })
            .map_err(slate_error)?;
        Ok(SlateEngine { db: Arc::new(db), runtime: Some(runtime) })
    }

    /// Closes the database: everything committed is made durable first.
    pub fn close(&self) -> Result<()> {
        let db = self.db.clone();
        run(self.handle(), async move { db.close().await })
    }

    fn handle(&self) -> &tokio::runtime::Handle {
        // The runtime is taken only by `drop`.
        self.runtime.as_ref().map(tokio::runtime::Runtime::handle).expect("the engine's runtime lives as long as it")
    }
}

impl Drop for SlateEngine {
    /// Stops SlateDB's tasks without waiting for them, as a crash would: what was
    /// not made durable is gone ([`SlateEngine::close`] is the clean way out).
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Engine for SlateEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        let snapshot = self.db.snapshot().map_err(slate_error)?;
        Ok(Box::new(SlateSnapshot { snapshot, runtime: self.handle().clone() }))
    }

    fn commit_all(&self, batches: &[&WriteBatch], durable: bool) -> Result<()> {
        // The batches laid over each other, so that a later change of a key wins.
        let mut changes: BTreeMap<Vec<u8>, Option<&[u8]>> = BTreeMap::new();
        for table in Table::ALL {
            for batch in batches {
                for (key, value) in batch.changes(table) {
                    changes.insert(tagged(table, key), value.as_deref());
                }
            }
        }
        if changes.is_empty() {
            return match durable {
                true => self.flush(),
                false => Ok(()),
            };
        }
        let mut batch = slatedb::WriteBatch::new();
        for (key, value) in changes {
            match value {
                Some(value) => batch.put(key, value),
                None => batch.delete(key),
            }
        }
        let db = self.db.clone();
        run(self.handle(), async move {
            let written = db.write(batch).await?;
            if durable {
                written.await_durable().await?;
            }
            Ok(())
        })
    }

    fn flush(&self) -> Result<()> {
        let db = self.db.clone();
        run(self.handle(), async move { db.flush().await })
    }

    /// SlateDB keeps no count of keys; a count would be a scan.
    fn key_count(&self, _table: Table) -> Result<Option<u64>> {
        Ok(None)
    }

    /// SlateDB's compactor and garbage collector give space back by themselves.
    fn free_bytes(&self) -> Result<u64> {
        Ok(0)
    }

    /// Nothing to give back by hand: see [`SlateEngine::free_bytes`].
    fn compact(&self) -> Result<Option<u64>> {
        self.flush()?;
        Ok(Some(0))
    }
}

struct SlateSnapshot {
    snapshot: Arc<DbSnapshot>,
    runtime: tokio::runtime::Handle,
}

impl Snapshot for SlateSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        let (snapshot, key) = (self.snapshot.clone(), tagged(table, key));
        let value = run(&self.runtime, async move { snapshot.get(key).await })?;
        Ok(value.map(|v| v.to_vec()))
    }

    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        if is_empty_range(lower, upper) {
            return Ok(());
        }
        let range = table_range(table, lower, upper);
        let mut entries = stream(&self.runtime, self.snapshot.clone(), range, reverse);
        while let Some(entry) = futures::executor::block_on(entries.recv()) {
            let (key, value) = entry?;
            if !visit(&key[1..], &value)? {
                break;
            }
        }
        Ok(())
    }
}

/// The entries of `range` in `snapshot`, read on the runtime ahead of the caller;
/// dropping the receiver ends the reading.
fn stream(
    runtime: &tokio::runtime::Handle,
    snapshot: Arc<DbSnapshot>,
    range: (Bound<Vec<u8>>, Bound<Vec<u8>>),
    reverse: bool,
) -> tokio::sync::mpsc::Receiver<Result<(bytes::Bytes, bytes::Bytes)>> {
    let (sender, receiver) = tokio::sync::mpsc::channel(SCAN_AHEAD);
    let order = if reverse { IterationOrder::Descending } else { IterationOrder::Ascending };
    let options = ScanOptions { order, ..ScanOptions::default() };
    runtime.spawn(async move {
        let mut entries = match snapshot.scan_with_options(range, &options).await {
            Ok(entries) => entries,
            Err(e) => {
                let _ = sender.send(Err(slate_error(e))).await;
                return;
            }
        };
        loop {
            let next = match entries.next().await {
                Ok(Some(entry)) => Ok((entry.key, entry.value)),
                Ok(None) => return,
                Err(e) => Err(slate_error(e)),
            };
            let failed = next.is_err();
            // A full channel waits for the visitor; a closed one means it stopped.
            let sent = sender.send(next).await;
            if sent.is_err() || failed {
                return;
            }
        }
    });
    receiver
}

/// Runs `work` on SlateDB's runtime and waits for it, from any thread.
fn run<T: Send + 'static>(
    runtime: &tokio::runtime::Handle,
    work: impl Future<Output = std::result::Result<T, slatedb::Error>> + Send + 'static,
) -> Result<T> {
    let (sender, receiver) = sync_channel(1);
    runtime.spawn(async move {
        let _ = sender.send(work.await);
    });
    match receiver.recv() {
        Ok(outcome) => outcome.map_err(slate_error),
        Err(_) => Err(Error::Store("the object-storage engine stopped".into())),
    }
}

/// The keys of `table` between `lower` and `upper`, tagged.
fn table_range(table: Table, lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
    let lower = match lower {
        Bound::Included(key) => Bound::Included(tagged(table, key)),
        Bound::Excluded(key) => Bound::Excluded(tagged(table, key)),
        Bound::Unbounded => Bound::Included(vec![tag(table)]),
    };
    let upper = match upper {
        Bound::Included(key) => Bound::Included(tagged(table, key)),
        Bound::Excluded(key) => Bound::Excluded(tagged(table, key)),
        Bound::Unbounded => Bound::Excluded(vec![tag(table) + 1]),
    };
    (lower, upper)
}

fn tag(table: Table) -> u8 {
    table.slot() as u8
}

fn tagged(table: Table, key: &[u8]) -> Vec<u8> {
    let mut tagged = Vec::with_capacity(key.len() + 1);
    tagged.push(tag(table));
    tagged.extend_from_slice(key);
    tagged
}

fn slate_error(e: slatedb::Error) -> Error {
    Error::Store(format!("object storage: {e}"))
}
