//! The versioned store: the materialized state of every branch at every retained
//! LSN, in an ordered key-value [`engine`] (on disk, redb's B-tree) so that data
//! can outgrow memory.
//!
//! The store is a cache of the log. A write takes the writer lock, reads the
//! branch's latest state through a [`Batch`], appends one record to the WAL, applies
//! it here (a non-durable engine commit), releases the lock and waits for the log to
//! make the record durable; then it is *published*: reads that name no point see the
//! newest published LSN, so a client always reads its own acknowledged writes and
//! never one the log could still lose. A background thread checkpoints
//! (`checkpoint.rs`): it fixes the applied LSN, waits for the log to be durable up
//! to it, flushes the engine and records the checkpoint in the WAL manifest, while
//! writes go on; startup replays the log after it.

mod apply;
mod batch;
mod branches;
pub mod capped;
mod changes;
mod checkpoint;
mod claims;
mod compact;
pub mod diff;
pub mod engine;
mod follower;
mod gate;
mod gc;
mod lifecycle;
mod merge;
mod sessions;
mod superseded;
mod tables;
mod transaction;
mod view;

use std::path::Path;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::{DateTime, Timestamp};
use tokio::sync::watch;

pub use crate::wal::{BranchSettings, PutKind};
pub use batch::{Batch, IndexBuild, PROGRESS_EVERY};
pub use branches::{Branch, MergeMark, MAX_DEPTH};
pub use compact::AutoCompact;
pub use follower::Lag;
pub use gc::GcStats;
pub use lifecycle::LogEntry;
pub use merge::{Conflict, MergeRequest, Merged, Strategy};
pub use sessions::{Retryable, SessionRecord};
pub use tables::prefix_end;
pub use transaction::Transaction;
pub use view::{decode, Collection, Measured, Natural, Snapshot, View};

/// Bytes a document's key holds besides its encoded `_id`: the collection id before
/// it, the branch and the LSN after it.
pub const DOC_KEY_OVERHEAD: usize = tables::ID_LEN + tables::VERSION_SUFFIX;

use apply::Meta;
use branches::Branches;
use engine::{Engine, MemoryEngine, RedbEngine, Shared, Staged};

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::{DbRef, Point, MAIN_BRANCH};
use crate::timings::Timings;
use crate::wal::{self, BranchId, BranchOp, Entry, Session, Txn, Wal};

/// How often the background thread makes the store durable.
const CHECKPOINT_INTERVAL: Duration = Duration::from_secs(2);
/// How often it drops branches past their `expireAt`.
const EXPIRY_INTERVAL: Duration = Duration::from_secs(1);
/// How often it collects history older than the retention.
const GC_INTERVAL: Duration = Duration::from_secs(60);
/// Records applied per engine transaction during replay.
const REPLAY_BATCH: usize = 4096;

/// Which engine holds the store.
pub enum Location<'a> {
    /// redb, in `<dir>/store.redb`.
    Dir(&'a Path),
    /// A fresh in-memory engine, for tests.
    Memory,
    /// An engine already open (a test reopening the same in-memory engine).
    Engine(Arc<dyn Engine>),
}

/// A committed write: its LSN and commit time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Commit {
    pub lsn: Lsn,
    pub time: DateTime,
}

impl Commit {
    /// The cluster time of SPEC §4.
    pub fn cluster_time(&self) -> Timestamp {
        wal::cluster_time(self.lsn, self.time)
    }
}

/// How a store is opened.
#[derive(Debug, Clone)]
pub struct Options {
    /// History younger than this stays readable; older history no branch base
    /// needs is collected.
    pub retention: Duration,
    /// Run the checkpoint and collection thread.
    pub background: bool,
    /// The most the engine's page cache holds, in bytes.
    pub cache_bytes: usize,
    /// A read replica's store: the engine is the writer's, read as it follows
    /// (see [`Store::catch_up`]); no replay, no background work, no writes.
    pub follower: bool,
}

/// A page cache for tools and tests: 64 MiB.
pub const DEFAULT_CACHE: usize = 64 << 20;

/// The open store. Share it behind an `Arc`; every method takes `&self`.
pub struct Store {
    engine: Arc<dyn Engine>,
    wal: Arc<Wal>,
    /// Held by writers (and checkpoints) for the whole of append-and-apply.
    writer: Mutex<Meta>,
    branches: RwLock<Branches>,
    /// The newest LSN reads see by default, with its commit time; receivers wait
    /// on it for new commits.
    published: watch::Sender<Commit>,
    /// The oldest readable LSN.
    horizon: AtomicU64,
    /// The applied LSN last made durable.
    checkpointed: AtomicU64,
    /// Records applied but not yet committed to the engine: a group that writers
    /// read through and [`Store::settle`] commits in one engine transaction, as
    /// the WAL shares one fsync among the writers waiting for it. Touched only with
    /// the writer lock held.
    pending: Mutex<Option<Shared>>,
    /// The groups settled while a checkpoint flushes (`checkpoint.rs`).
    deferred: Mutex<checkpoint::Deferred>,
    /// The LSN up to which every applied record is visible to readers.
    committed: AtomicU64,
    /// Held by a checkpoint or a history collection throughout: one at a time.
    maintenance: Mutex<()>,
    /// Set when applying a logged record failed: the store is behind the log and
    /// takes no more writes until a restart replays it.
    failed: Mutex<Option<String>>,
    /// Documents open transactions have written (`claims.rs`).
    claims: Arc<claims::Claims>,
    /// The next transaction's number, its name in `claims`.
    next_transaction: AtomicU64,
    options: Options,
    stop: AtomicBool,
    background: Mutex<Option<JoinHandle<()>>>,
    /// What the background work has done, for the metrics.
    pub work: Work,
    /// Closed by `fsync {lock: true}`: changes wait (`gate.rs`).
    pub gate: gate::Gate,
    /// A read replica's lag, as its last catch-up found it.
    lag: Mutex<Lag>,
    /// What `autoCompact` asked for, while it is on (`compact.rs`).
    auto_compact: Mutex<Option<compact::AutoCompact>>,
}

/// Checkpoints and history collection, counted.
#[derive(Debug, Default)]
pub struct Work {
    pub checkpoints: Timings,
    pub collections: Timings,
    /// Versions and WAL segments history collection deleted.
    pub versions_collected: AtomicU64,
    pub segments_removed: AtomicU64,
    /// How far the running history collection has come.
    collecting: Mutex<Option<Progress>>,
}

/// How far a long piece of background work has come: `done` of `total` keys
/// (unknown when the engine keeps no count).
#[derive(Debug, Clone, Copy)]
pub struct Progress {
    pub done: u64,
    pub total: Option<u64>,
    pub started: Instant,
    /// When it was last logged.
    logged: Instant,
}

impl Work {
    /// How far the running history collection has come, if one is running.
    pub fn collecting(&self) -> Option<Progress> {
        *lock(&self.collecting)
    }
}

impl Store {
    /// Opens the store and brings it up to date with the log: the records after its
    /// last applied LSN are replayed.
    pub fn open(location: Location<'_>, wal: Arc<Wal>, options: Options) -> Result<Arc<Store>> {
        let engine: Arc<dyn Engine> = match location {
            Location::Dir(dir) => Arc::new(RedbEngine::open(dir, options.cache_bytes)?),
            Location::Memory => Arc::new(MemoryEngine::new()),
            Location::Engine(engine) => engine,
        };
        if !options.follower {
            // A follower's engine is its writer's, which did this.
            changes::index_existing(&*engine)?;
        }
        let snapshot = engine.snapshot()?;
        let meta = Meta::load(&*snapshot)?;
        let branches = apply::load_branches(&*snapshot)?;
        drop(snapshot);
        let last = wal.last_lsn();
        if meta.applied > last {
            return Err(Error::Store(format!(
                "the store has applied LSN {} but the log ends at LSN {last}; the WAL is missing records",
                meta.applied
            )));
        }
        let store = Arc::new(Store {
            engine,
            wal,
            published: watch::Sender::new(Commit { lsn: meta.applied, time: meta.applied_time }),
            horizon: AtomicU64::new(meta.horizon.0),
            checkpointed: AtomicU64::new(meta.applied.0),
            work: Work::default(),
            gate: gate::Gate::default(),
            pending: Mutex::new(None),
            deferred: Mutex::default(),
            committed: AtomicU64::new(meta.applied.0),
            maintenance: Mutex::new(()),
            auto_compact: Mutex::new(None),
            writer: Mutex::new(meta),
            branches: RwLock::new(branches),
            failed: Mutex::new(None),
            claims: Arc::default(),
            next_transaction: AtomicU64::new(1),
            options,
            stop: AtomicBool::new(false),
            background: Mutex::new(None),
            lag: Mutex::default(),
        });
        if store.options.follower {
            store.start_background("follower", Store::follow_loop)?;
            return Ok(store);
        }
        store.replay()?;
        if store.options.background {
            store.start_background("background", Store::background_loop)?;
        }
        Ok(store)
    }

    /// Applies the log records after the store's applied LSN, then checkpoints.
    fn replay(&self) -> Result<()> {
        let started = Instant::now();
        let mut meta = self.lock_writer()?;
        let from = meta.applied.next();
        let mut records = 0u64;
        let mut reader = self.wal.read(from, None)?;
        let first = reader.next().transpose()?;
        // The first record read, a framed one's first fragment included, must be the
        // next one.
        if let Some(seen) = reader.first_seen().filter(|&seen| seen != from) {
            return Err(Error::Store(format!(
                "the store has applied LSN {} but the log's oldest record is LSN {seen}",
                meta.applied
            )));
        }
        let mut reader = first.map(Ok).into_iter().chain(reader).peekable();
        let mut last_report = Instant::now();
        let through = self.wal.last_lsn();
        while reader.peek().is_some() {
            let mut staged = Staged::new(self.engine.snapshot()?);
            let mut branches = write(&self.branches);
            for record in reader.by_ref().take(REPLAY_BATCH) {
                let record = record?;
                apply::apply(&mut staged, &mut branches, &mut meta, record.lsn, record.time, &record.entry)?;
                records += 1;
            }
            meta.save(&mut staged);
            self.engine.commit(&staged.into_batch(), false)?;
            if last_report.elapsed() >= Duration::from_millis(250) {
                tracing::info!(records, lsn = %meta.applied, through = %through, "replaying the WAL into the store");
                last_report = Instant::now();
            }
        }
        self.committed.store(meta.applied.0, Ordering::Release);
        self.published.send_replace(Commit { lsn: meta.applied, time: meta.applied_time });
        drop(meta);
        self.checkpoint()?;
        tracing::info!(records, ms = started.elapsed().as_millis() as u64, "store up to date with the WAL");
        Ok(())
    }

    /// Runs `f` against the latest state of the branch `target` names and commits
    /// what it changed as one record. Returns `f`'s result and the commit, if it
    /// changed anything. `j` waits for an fsync whatever the durability mode. A
    /// retryable write's record carries its session and the statements `f` recorded.
    pub fn write<T>(
        &self,
        target: &DbRef,
        j: bool,
        retryable: Option<&Retryable>,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T>,
    ) -> Result<(T, Option<Commit>)> {
        self.write_waiting(target, j, retryable, &|| Ok(()), f)
    }

    /// As [`Store::write`]; while the write gate is closed it waits, asking
    /// `keep_waiting` every so often (its error ends the wait).
    pub fn write_waiting<T>(
        &self,
        target: &DbRef,
        j: bool,
        retryable: Option<&Retryable>,
        keep_waiting: &dyn Fn() -> Result<()>,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T>,
    ) -> Result<(T, Option<Commit>)> {
        self.check_writable(target)?;
        let mut meta = self.lock_writer_open(keep_waiting)?;
        let (branch, created) = self.branch_for_write(&mut meta, target)?;
        let chain = read(&self.branches).chain(branch, Lsn(u64::MAX))?;
        let snapshot = Snapshot::of(target, meta.applied, chain);
        let view = View::new(snapshot, self.writer_snapshot()?);
        // What the batch read: applied, maybe not yet durable.
        let read_at = Commit { lsn: meta.applied, time: meta.applied_time };
        let mut batch = Batch::new(view, &mut meta.next_collection);
        let outcome = f(&mut batch);
        let (ops, statements) = batch.into_parts();
        let commit = match (&outcome, ops.is_empty()) {
            (Err(_), _) | (Ok(_), true) => created,
            (Ok(_), false) => {
                let mut txn = Txn::new(branch, ops);
                txn.session = retryable.map(|r| Session { lsid: r.lsid.clone(), txn_number: r.txn_number, statements });
                Some(self.append_and_apply(&mut meta, &Entry::Txn(txn))?)
            }
        };
        drop(meta);
        // A reply, even one that changed nothing (a duplicate key, no match), rests
        // on what the batch read: it waits until that is acknowledged too.
        self.settle(commit.unwrap_or(read_at), j)?;
        Ok((outcome?, commit))
    }

    /// The branch `target` names, for a write: a database's `main` is created by its
    /// first write (the commit of its creation is returned).
    fn branch_for_write(&self, meta: &mut Meta, target: &DbRef) -> Result<(BranchId, Option<Commit>)> {
        let existing = match read(&self.branches).find(&target.db, &target.branch) {
            Some(branch) => {
                refuse_read_only(branch)?;
                Some(branch.id)
            }
            None => None,
        };
        match existing {
            Some(branch) => Ok((branch, None)),
            None if target.branch == MAIN_BRANCH => {
                let id = BranchId(meta.next_branch);
                let create = BranchOp::Create {
                    id,
                    db: target.db.clone(),
                    name: MAIN_BRANCH.to_owned(),
                    parent: None,
                    base_lsn: Lsn::ZERO,
                };
                Ok((id, Some(self.append_and_apply(meta, &Entry::Branch(create))?)))
            }
            None => Err(missing_branch(&target.db, &target.branch)),
        }
    }

    /// What the session table holds for `lsid`: its newest retryable write or
    /// committed transaction, applied if not yet acknowledged (a write that failed
    /// [`Error::NotDurable`]): a retry finds it, and waits for it with
    /// [`Store::acknowledge`] instead of running it twice.
    pub fn session_record(&self, lsid: &bson::Document) -> Result<Option<SessionRecord>> {
        // Under the writer lock: the pending group is not committed under us.
        let _meta = self.lock_writer()?;
        sessions::load(&*self.writer_snapshot()?, lsid)
    }

    /// Waits until `commit`, applied earlier, may be acknowledged (fsynced when
    /// `j`) and makes it visible, as the write that made it would have.
    pub fn acknowledge(&self, commit: Commit, j: bool) -> Result<()> {
        self.settle(commit, j)
    }

    /// Refuses a write to a `~<point>` view or a read-only branch (code 20) and to a
    /// branch that does not exist (26; a database's `main` is created by its first
    /// write).
    pub fn check_writable(&self, target: &DbRef) -> Result<()> {
        if self.options.follower {
            return Err(Error::replica_write());
        }
        if target.point.is_some() {
            return Err(Error::command(
                ErrorCode::IllegalOperation,
                format!("cannot write to '{target}': a view of a past point (~) is read-only"),
            ));
        }
        match read(&self.branches).find(&target.db, &target.branch) {
            Some(branch) => refuse_read_only(branch),
            None if target.branch == MAIN_BRANCH => Ok(()),
            None => Err(missing_branch(&target.db, &target.branch)),
        }
    }

    /// Creates branch `name` of `db` from branch `from` at `at` (default: now).
    pub fn create_branch(&self, db: &str, name: &str, from: &str, at: Option<Lsn>) -> Result<(Branch, Commit)> {
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let (parent, base) = {
            let branches = read(&self.branches);
            if branches.find(db, name).is_some() || name == MAIN_BRANCH {
                return Err(Error::command(
                    ErrorCode::NamespaceExists,
                    format!("branch '{name}' of database '{db}' already exists"),
                ));
            }
            // At a point before a reset of `from`, the branch the reset replaced.
            let found = match at {
                Some(at) => branches.find_at(db, from, at),
                None => branches.find(db, from),
            };
            let parent = match found {
                Some(parent) => Some(parent.clone()),
                None if from == MAIN_BRANCH => None,
                None => return Err(missing_branch(db, from)),
            };
            if let Some(parent) = &parent {
                if branches.depth(parent.id) + 1 >= MAX_DEPTH {
                    return Err(Error::bad_value(format!("branches nest at most {MAX_DEPTH} deep")));
                }
            }
            let published = self.published().lsn;
            let base = match at {
                None => published,
                Some(at) => {
                    self.check_point(db, from, parent.as_ref(), at)?;
                    at
                }
            };
            (parent, base)
        };
        // A database's main exists from its first write; branching from a main that
        // has none yet creates it, empty.
        let parent = match parent {
            Some(parent) => parent.id,
            None => {
                let id = BranchId(meta.next_branch);
                let create = BranchOp::Create {
                    id,
                    db: db.to_owned(),
                    name: from.to_owned(),
                    parent: None,
                    base_lsn: Lsn::ZERO,
                };
                self.append_and_apply(&mut meta, &Entry::Branch(create))?;
                id
            }
        };
        let id = BranchId(meta.next_branch);
        let create =
            BranchOp::Create { id, db: db.to_owned(), name: name.to_owned(), parent: Some(parent), base_lsn: base };
        let commit = self.append_and_apply(&mut meta, &Entry::Branch(create))?;
        drop(meta);
        self.settle(commit, false)?;
        let branch = read(&self.branches).get(id).cloned().ok_or_else(|| missing_branch(db, name))?;
        Ok((branch, commit))
    }

    /// Drops branch `name` of `db`: refused for `main`, for a protected branch and
    /// while other branches are based on it.
    pub fn drop_branch(&self, db: &str, name: &str) -> Result<Commit> {
        self.drop_branch_if(db, name, |_| true)?.ok_or_else(|| missing_branch(db, name))
    }

    /// As [`Store::drop_branch`], when `still` holds of the branch under the writer
    /// lock (`None` when it does not).
    fn drop_branch_if(&self, db: &str, name: &str, still: impl Fn(&Branch) -> bool) -> Result<Option<Commit>> {
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let id = {
            let branches = read(&self.branches);
            let branch = branches.require(db, name)?;
            if branch.name == MAIN_BRANCH {
                return Err(Error::command(ErrorCode::IllegalOperation, "branch 'main' cannot be dropped"));
            }
            refuse_protected(branch, "dropped")?;
            let children: Vec<&str> = branches.children(branch.id).map(|c| c.name.as_str()).collect();
            if !children.is_empty() {
                return Err(Error::command(
                    ErrorCode::IllegalOperation,
                    format!("branch '{name}' has branches based on it: {}", children.join(", ")),
                ));
            }
            if !still(branch) {
                return Ok(None);
            }
            branch.id
        };
        let commit = self.append_and_apply(&mut meta, &Entry::Branch(BranchOp::Drop { id }))?;
        drop(meta);
        self.settle(commit, false)?;
        Ok(Some(commit))
    }

    /// The live branches of `db`, `main` first.
    pub fn branches(&self, db: &str) -> Vec<Branch> {
        read(&self.branches).of_db(db).into_iter().cloned().collect()
    }

    /// Every live branch of every database.
    pub fn all_branches(&self) -> Vec<Branch> {
        read(&self.branches).all().into_iter().cloned().collect()
    }

    /// Branch `name` of `db`, or `NamespaceNotFound` (26).
    pub fn branch(&self, db: &str, name: &str) -> Result<Branch> {
        read(&self.branches).require(db, name).cloned()
    }

    /// A view of what `target` names: its point if it has one, else `at` (from
    /// `readConcern.atClusterTime`), else the latest published state.
    pub fn view(&self, target: &DbRef, at: Option<Lsn>) -> Result<View> {
        // The LSN is chosen first (it is published, so applied), then the engine
        // snapshot is taken (it holds that LSN's versions), then the horizon is
        // checked: history collection moves the horizon before it deletes, so a
        // snapshot that could miss collected versions sees the moved horizon.
        let lsn = self.point_of(target, at)?;
        let engine = self.readable()?;
        let snapshot = self.snapshot_at(target, lsn)?;
        Ok(View::new(snapshot, engine))
    }

    /// The LSN a read of `target` reads at: its point, else `at`, else the latest
    /// published state.
    fn point_of(&self, target: &DbRef, at: Option<Lsn>) -> Result<Lsn> {
        Ok(match (target.point, at) {
            (Some(Point::Lsn(lsn)), _) => lsn,
            (Some(Point::Time(time)), _) => self.resolve_time(time)?,
            (None, Some(lsn)) => lsn,
            (None, None) => self.published().lsn,
        })
    }

    /// What a read of `target` at `lsn` sees, once the point is checked: at a point
    /// before a reset of the branch, the branch the reset replaced.
    fn snapshot_at(&self, target: &DbRef, lsn: Lsn) -> Result<Snapshot> {
        let branches = read(&self.branches);
        let branch = match target.point {
            Some(_) => branches.find_at(&target.db, &target.branch, lsn),
            None => branches.find(&target.db, &target.branch),
        };
        if branch.is_none() && target.branch != MAIN_BRANCH {
            return Err(missing_branch(&target.db, &target.branch));
        }
        self.check_point(&target.db, &target.branch, branch, lsn)?;
        let chain = match branch {
            Some(branch) => branches.chain(branch.id, lsn)?,
            None => Vec::new(),
        };
        Ok(Snapshot::of(target, lsn, chain))
    }

    /// A fresh view of an earlier snapshot (a cursor's next batch), as long as its
    /// history is still retained.
    pub fn reopen(&self, snapshot: &Snapshot) -> Result<View> {
        let engine = self.readable()?;
        self.check_retained(snapshot)?;
        Ok(View::new(snapshot.clone(), engine))
    }

    /// Refuses a snapshot whose history is no longer retained: below the horizon, or
    /// of a dropped branch (its versions go at the next collection).
    pub fn check_retained(&self, snapshot: &Snapshot) -> Result<()> {
        let horizon = Lsn(self.horizon.load(Ordering::Acquire));
        if snapshot.lsn < horizon {
            return Err(too_old(snapshot.lsn, horizon));
        }
        if let Some((id, _)) = snapshot.chain.first() {
            if read(&self.branches).get(*id).is_none_or(|b| b.dropped_lsn.is_some()) {
                return Err(missing_branch(&snapshot.db, &snapshot.branch));
            }
        }
        Ok(())
    }

    /// Checks that branch `name` (`None`: a `main` with no writes yet) can be read at
    /// `lsn`: not past the head of the log, not before the retained history, not
    /// before the branch's base.
    fn check_point(&self, db: &str, name: &str, branch: Option<&Branch>, lsn: Lsn) -> Result<()> {
        let published = self.published().lsn;
        if lsn > published {
            return Err(Error::bad_value(format!(
                "LSN {lsn} is beyond the head of branch '{name}' of database '{db}' (the last LSN is {published})"
            )));
        }
        let horizon = Lsn(self.horizon.load(Ordering::Acquire));
        if lsn < horizon {
            return Err(too_old(lsn, horizon));
        }
        if let Some(branch) = branch {
            if lsn < branch.base_lsn {
                return Err(Error::bad_value(format!(
                    "LSN {lsn} is before branch '{name}' of database '{db}' begins (its base is LSN {})",
                    branch.base_lsn
                )));
            }
        }
        Ok(())
    }

    /// The last LSN committed at or before `time` (SPEC §3 `resolvePoint`).
    pub fn resolve_time(&self, time: DateTime) -> Result<Lsn> {
        let published = self.published();
        if time > DateTime::now() {
            return Err(Error::bad_value(format!(
                "{} is in the future; the last commit is LSN {} at {}",
                rfc3339(time),
                published.lsn,
                rfc3339(published.time)
            )));
        }
        let lsn = self.last_at_or_before(time.timestamp_millis())?;
        Ok(lsn.min(published.lsn))
    }

    /// The last LSN whose cluster time is at or before `ts` (`atClusterTime`).
    pub fn resolve_cluster_time(&self, ts: Timestamp) -> Result<Lsn> {
        // Every commit of an earlier second, and the commits of second `ts.time`
        // whose ordinal (the LSN's low 32 bits) is at most `ts.increment`.
        let end_of_second = DateTime::from_millis(i64::from(ts.time) * 1000 + 999);
        let before = self.resolve_time(DateTime::from_millis(i64::from(ts.time) * 1000 - 1))?;
        let through = self.resolve_time(end_of_second.min(DateTime::now()))?;
        let wanted = (through.0 & !0xFFFF_FFFF) | u64::from(ts.increment);
        Ok(if through.0 as u32 <= ts.increment { through } else { Lsn(wanted.max(before.0)) })
    }

    /// The cluster time of the newest published write, for `operationTime`.
    pub fn operation_time(&self) -> Timestamp {
        self.published().cluster_time()
    }

    /// The newest published commit.
    pub fn published(&self) -> Commit {
        *self.published.borrow()
    }

    /// A receiver of the newest published commit, to wait for new ones (tailable
    /// cursors, change streams): `changed()` wakes after each publish.
    pub fn subscribe(&self) -> watch::Receiver<Commit> {
        self.published.subscribe()
    }

    /// The oldest readable LSN.
    pub fn horizon(&self) -> Lsn {
        Lsn(self.horizon.load(Ordering::Acquire))
    }

    /// Stops the background thread and checkpoints.
    pub fn close(&self) -> Result<()> {
        self.stop.store(true, Ordering::Release);
        // A shutdown releases `fsync`'s locks, as MongoDB's does.
        while self.gate.unlock().is_some_and(|left| left > 0) {}
        if let Some(handle) = lock(&self.background).take() {
            let _ = handle.join();
        }
        match self.options.follower {
            true => Ok(()),
            false => self.checkpoint(),
        }
    }

    /// Runs `work` on the store's one thread of its own (`store-<name>`), which
    /// [`Store::close`] stops and joins.
    fn start_background(self: &Arc<Self>, name: &str, work: fn(&Store)) -> Result<()> {
        let store = self.clone();
        let handle = std::thread::Builder::new()
            .name(format!("store-{name}"))
            .spawn(move || work(&store))
            .map_err(|e| Error::Internal(format!("cannot start the store's {name} thread: {e}")))?;
        *lock(&self.background) = Some(handle);
        Ok(())
    }

    fn background_loop(&self) {
        let mut last_checkpoint = Instant::now();
        let mut last_gc = Instant::now();
        let mut last_expiry = Instant::now();
        let mut last_compaction = Instant::now();
        while !self.stop.load(Ordering::Acquire) {
            std::thread::sleep(Duration::from_millis(100));
            if self.gate.is_closed() {
                // `fsync` holds the files still: no checkpoint, expiry or collection.
                continue;
            }
            if last_checkpoint.elapsed() >= CHECKPOINT_INTERVAL {
                if let Err(e) = self.checkpoint() {
                    tracing::error!(error = %e, "checkpoint failed");
                }
                last_checkpoint = Instant::now();
            }
            if last_expiry.elapsed() >= EXPIRY_INTERVAL {
                if let Err(e) = self.expire_branches(DateTime::now()) {
                    tracing::error!(error = %e, "dropping expired branches failed");
                }
                last_expiry = Instant::now();
            }
            if last_gc.elapsed() >= GC_INTERVAL {
                match self.collect_garbage(DateTime::now()) {
                    Ok(stats) if stats.versions > 0 || stats.segments > 0 => {
                        tracing::info!(versions = stats.versions, segments = stats.segments, horizon = %stats.horizon, "history collected")
                    }
                    Ok(_) => {}
                    Err(e) => tracing::error!(error = %e, "history collection failed"),
                }
                last_gc = Instant::now();
            }
            if last_compaction.elapsed() >= compact::AUTO_COMPACT_INTERVAL {
                self.compact_if_asked();
                last_compaction = Instant::now();
            }
        }
    }

    /// Appends `entry` to the log and applies it to the pending group. Called with
    /// the writer lock held, so records are applied in LSN order.
    fn append_and_apply(&self, meta: &mut Meta, entry: &Entry) -> Result<Commit> {
        if self.wal.carries_changes() {
            return self.append_carrying(meta, entry);
        }
        let (lsn, time) = self.wal.append(entry)?;
        let applied = (|| {
            let mut pending = lock(&self.pending);
            let group = match pending.as_ref() {
                Some(group) => group.clone(),
                None => pending.insert(Shared::new(Staged::new(self.readable()?))).clone(),
            };
            drop(pending);
            let mut staged = group.write();
            let mut next = *meta;
            apply::apply(&mut staged, &mut write(&self.branches), &mut next, lsn, time, entry)?;
            next.save(&mut staged);
            *meta = next;
            Ok(())
        })();
        if let Err(e) = applied {
            self.fail(format!("applying LSN {lsn} failed: {e}"));
            return Err(e);
        }
        Ok(Commit { lsn, time })
    }

    /// Appends `entry` to a log that writes the changes applying it with the
    /// record, in one atomic write (object storage, where the engine shares the
    /// log's database): the engine is never behind the log, and no group is
    /// pending. Called with the writer lock held, as [`Store::append_and_apply`].
    fn append_carrying(&self, meta: &mut Meta, entry: &Entry) -> Result<Commit> {
        let mut applied = None;
        let mut applying = false;
        let appended = self.wal.append_carrying(entry, &mut |lsn, time| {
            let mut staged = Staged::new(self.writer_snapshot()?);
            let mut next = *meta;
            applying = true;
            apply::apply(&mut staged, &mut write(&self.branches), &mut next, lsn, time, entry)?;
            next.save(&mut staged);
            applied = Some(next);
            self.engine.in_log_database(staged.into_batch()).ok_or_else(|| {
                Error::Internal("the log carries the engine's changes, but the engine is not in its database".into())
            })
        });
        let (lsn, time) = match appended {
            Ok(appended) => appended,
            Err(e) => {
                // Applying may have changed the branches in memory, which no
                // longer match the engine. A fenced log takes no more writes and
                // answers each as a server that is no longer primary.
                if applying && e.code() != ErrorCode::NotWritablePrimary {
                    self.fail(format!("writing a record with its changes failed: {e}"));
                }
                return Err(e);
            }
        };
        *meta = applied.ok_or_else(|| Error::Internal(format!("LSN {lsn} was written without its changes")))?;
        self.committed.store(lsn.0, Ordering::Release);
        Ok(Commit { lsn, time })
    }

    /// What a writer reads, with the writer lock held: the engine with the
    /// pending group on it.
    fn writer_snapshot(&self) -> Result<Box<dyn engine::Snapshot>> {
        match lock(&self.pending).as_ref() {
            Some(group) => Ok(Box::new(group.clone())),
            None => self.readable(),
        }
    }

    /// Makes `commit` visible once it is acknowledged (fsynced when `j`): waits for
    /// the log, commits the pending group to the engine unless a writer of a later
    /// record already did (one engine transaction for all the writers that waited
    /// together), and publishes.
    fn settle(&self, commit: Commit, j: bool) -> Result<()> {
        self.wal.wait_for_ack(commit.lsn, j).map_err(|e| match e {
            Error::NotDurable { message, .. } => {
                Error::NotDurable { lsn: commit.lsn, time: Some(commit.time), message }
            }
            other => other,
        })?;
        if self.committed.load(Ordering::Acquire) < commit.lsn.0 {
            let meta = self.lock_writer()?;
            if self.committed.load(Ordering::Acquire) < commit.lsn.0 {
                self.commit_pending(&meta)?;
            }
        }
        self.publish(commit);
        Ok(())
    }

    /// Stops writes until a restart replays the log: the engine is behind it.
    fn fail(&self, why: String) {
        tracing::error!("{why}; no more writes until a restart replays the log");
        *lock(&self.failed) = Some(why);
    }

    fn publish(&self, commit: Commit) {
        self.published.send_if_modified(|published| {
            let newer = commit.lsn > published.lsn;
            if newer {
                *published = commit;
            }
            newer
        });
    }

    /// The writer lock once the write gate is open (see [`gate`]): a change waits
    /// while `fsync` holds the store still, asking `keep_waiting` every so often.
    /// The gate is checked again under the lock, so no change slips in after
    /// [`Store::freeze`] drained the writers.
    fn lock_writer_open(&self, keep_waiting: &dyn Fn() -> Result<()>) -> Result<MutexGuard<'_, Meta>> {
        if self.options.follower {
            return Err(Error::replica_write());
        }
        loop {
            self.gate.wait_open(keep_waiting)?;
            let meta = self.lock_writer()?;
            if !self.gate.is_closed() {
                return Ok(meta);
            }
        }
    }

    /// Closes the write gate (one more lock); the first lock waits for the writer
    /// holding the lock, if any, and checkpoints, so that the files hold everything
    /// written and stay as they are until the last unlock. Returns the number of
    /// locks.
    pub fn freeze(&self) -> Result<u64> {
        let locks = self.gate.lock();
        if locks == 1 {
            let flushed = self.lock_writer().map(drop).and_then(|()| self.checkpoint());
            if let Err(e) = flushed {
                self.gate.unlock();
                return Err(e);
            }
        }
        Ok(locks)
    }

    fn lock_writer(&self) -> Result<MutexGuard<'_, Meta>> {
        if let Some(why) = lock(&self.failed).as_ref() {
            return Err(Error::Store(format!("{why}; restart to recover")));
        }
        Ok(lock(&self.writer))
    }
}

/// Refuses a write to a read-only branch (code 20).
fn refuse_read_only(branch: &Branch) -> Result<()> {
    refuse_if(branch, branch.settings.read_only, "is read-only", "readOnly: false allows writes")
}

/// Refuses to drop, reset or merge into a protected branch (code 20).
fn refuse_protected(branch: &Branch, what: &str) -> Result<()> {
    let why = format!("is protected and cannot be {what}");
    refuse_if(branch, branch.settings.protected, &why, "protected: false allows it")
}

/// Code 20 naming the branch, why, and the setting that lifts it, when `refused`.
fn refuse_if(branch: &Branch, refused: bool, why: &str, lift: &str) -> Result<()> {
    match refused {
        true => Err(Error::command(
            ErrorCode::IllegalOperation,
            format!("branch '{}' of database '{}' {why} (updateBranch with {lift})", branch.name, branch.db),
        )),
        false => Ok(()),
    }
}

fn missing_branch(db: &str, name: &str) -> Error {
    Error::command(ErrorCode::NamespaceNotFound, format!("branch '{name}' of database '{db}' does not exist"))
}

fn too_old(lsn: Lsn, horizon: Lsn) -> Error {
    Error::command(
        ErrorCode::SnapshotTooOld,
        format!("LSN {lsn} is before the retained history, which begins at LSN {horizon}"),
    )
}

fn rfc3339(time: DateTime) -> String {
    time.try_to_rfc3339_string().unwrap_or_else(|_| time.timestamp_millis().to_string())
}

/// Locks a mutex, taking the data of a poisoned one (a panicking holder leaves
/// nothing half-done that the next holder cannot see).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|p| p.into_inner())
}

fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|p| p.into_inner())
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|p| p.into_inner())
}

#[cfg(test)]
mod lifecycle_tests;
#[cfg(test)]
mod model_tests;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod transaction_tests;
