//! The feed: the records the log published lately, read once by one thread, decoded
//! once and shared by every change stream, and the waiters that streams park while
//! they wait for a write that concerns them.
//!
//! Writers never see the feed: its thread follows the store's publish notifications
//! and reads the new records back from the log (from the page cache, where the log
//! wrote them), so a stream costs a writer nothing, however slow it is. The thread
//! runs only while a stream is open. It keeps the newest records up to [`CAPACITY`]
//! bytes; a stream that falls behind them reads the log itself (`mod.rs`).
//! After each read it wakes the waiters whose scope the new records touch, and only
//! those: a thousand streams on one collection are not woken by writes elsewhere.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::Duration;

use bson::DateTime;

use super::scope::{Scope, Touched};
use super::token::Position;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::store::Store;
use crate::wal::{Entry, Reader, Record, Wal};

/// The bytes of decoded records the feed keeps (the size of their documents).
pub const CAPACITY: usize = 64 << 20;
/// The most records one pull hands a stream.
const PULL: usize = 256;

/// One published record as streams read it.
pub struct Published {
    pub lsn: Lsn,
    pub time: DateTime,
    pub entry: Entry,
    /// What it touches, to wake and pick the streams it concerns.
    pub touched: Vec<Touched>,
    /// About how much memory it holds.
    pub size: usize,
    /// What is worked out once per record for every stream (`events.rs`).
    pub(super) analysis: super::events::Analysis,
}

impl Published {
    /// A record read from the log; `None` for those that change no data (checkpoint
    /// marks, segment seals).
    pub fn new(store: &Store, record: Record) -> Option<Published> {
        if matches!(record.entry, Entry::Checkpoint { .. } | Entry::Seal) {
            return None;
        }
        let touched = super::scope::touched(store, &record.entry);
        let size = super::scope::size_of(&record.entry);
        Some(Published {
            lsn: record.lsn,
            time: record.time,
            entry: record.entry,
            touched,
            size,
            analysis: Default::default(),
        })
    }

    /// Whether a stream over `scope` may find events here.
    pub fn concerns(&self, scope: &Scope) -> bool {
        self.touched.iter().any(|t| scope.touches(t))
    }
}

/// A stream waiting for records that concern it.
pub struct Waiter {
    pub notify: tokio::sync::Notify,
    scope: Scope,
}

impl Waiter {
    pub fn scope(&self) -> &Scope {
        &self.scope
    }
}

/// What [`Feed::pull`] gives a stream.
pub enum Pulled {
    /// The records after the position, in order (at most [`PULL`]), and the LSN up
    /// to which the feed has read (every record up to it that follows them is in a
    /// later pull).
    Records(Vec<Arc<Published>>, Lsn),
    /// The position is older than what the feed keeps: read the log from it.
    Behind,
}

pub struct Feed {
    store: Arc<Store>,
    wal: Arc<Wal>,
    state: Mutex<State>,
    /// Wakes the thread when a stream opens.
    opened: Condvar,
    streams: AtomicUsize,
    stop: AtomicBool,
    thread: Mutex<Option<std::thread::JoinHandle<()>>>,
}

struct State {
    records: VecDeque<Arc<Published>>,
    /// Every record after `since` and up to `through` that changes data is in
    /// `records`.
    since: Lsn,
    through: Lsn,
    bytes: usize,
    waiters: Waiters,
    /// The newest record that touched each scope, so that whether a stream has
    /// news is one lookup, not a walk of the records after its position.
    newest: Newest,
}

/// The newest LSN that touched what streams watch.
#[derive(Default)]
struct Newest {
    /// Anything a whole-server stream sees.
    cluster: Lsn,
    branches: HashMap<(String, String), BranchNewest>,
}

#[derive(Default)]
struct BranchNewest {
    /// Anything a database stream on the branch sees.
    any: Lsn,
    /// The branch as a whole (not its creation): every collection stream sees it.
    whole: Lsn,
    collections: HashMap<String, Lsn>,
}

impl Newest {
    fn note(&mut self, lsn: Lsn, touched: &Touched) {
        let user = touched.collection.as_deref().is_none_or(|c| !c.starts_with("system."));
        if user && !super::scope::INTERNAL_DATABASES.contains(&touched.db.as_str()) {
            self.cluster = lsn;
        }
        let branch = self.branches.entry((touched.db.clone(), touched.branch.clone())).or_default();
        if user {
            branch.any = lsn;
        }
        match &touched.collection {
            None if !touched.created => branch.whole = lsn,
            None => {}
            Some(collection) => {
                branch.collections.insert(collection.clone(), lsn);
            }
        }
    }

    /// The newest LSN that touched `scope`.
    fn of(&self, scope: &Scope) -> Lsn {
        let branch = |db: &String, name: &String| self.branches.get(&(db.clone(), name.clone()));
        match scope {
            Scope::Cluster => self.cluster,
            Scope::Database { db, branch: name } => branch(db, name).map_or(Lsn::ZERO, |b| b.any),
            Scope::Collection { db, branch: name, collection } => branch(db, name)
                .map_or(Lsn::ZERO, |b| b.whole.max(b.collections.get(collection).copied().unwrap_or(Lsn::ZERO))),
        }
    }
}

/// The parked waiters, by what they watch, so that a record wakes only the streams
/// it concerns without looking at the others.
#[derive(Default)]
struct Waiters {
    cluster: Vec<Weak<Waiter>>,
    /// By database and branch: database streams, and collection streams by name.
    branches: HashMap<(String, String), BranchWaiters>,
}

#[derive(Default)]
struct BranchWaiters {
    database: Vec<Weak<Waiter>>,
    collections: HashMap<String, Vec<Weak<Waiter>>>,
}

impl Waiters {
    fn add(&mut self, waiter: &Arc<Waiter>) {
        let list = match &waiter.scope {
            Scope::Cluster => &mut self.cluster,
            Scope::Database { db, branch } => {
                &mut self.branches.entry((db.clone(), branch.clone())).or_default().database
            }
            Scope::Collection { db, branch, collection } => self
                .branches
                .entry((db.clone(), branch.clone()))
                .or_default()
                .collections
                .entry(collection.clone())
                .or_default(),
        };
        list.retain(|w| w.strong_count() > 0);
        list.push(Arc::downgrade(waiter));
    }

    /// The live waiters whose scope a record touching `touched` concerns (a few may
    /// be woken for nothing: they look again and wait again).
    fn concerned(&mut self, touched: &[Touched], out: &mut Vec<Arc<Waiter>>) {
        let mut take = |list: &mut Vec<Weak<Waiter>>| {
            list.retain(|w| w.strong_count() > 0);
            out.extend(list.iter().filter_map(Weak::upgrade).filter(|w| touched.iter().any(|t| w.scope.touches(t))));
        };
        take(&mut self.cluster);
        for t in touched {
            let Some(branch) = self.branches.get_mut(&(t.db.clone(), t.branch.clone())) else { continue };
            take(&mut branch.database);
            match &t.collection {
                Some(collection) => {
                    if let Some(list) = branch.collections.get_mut(collection) {
                        take(list);
                    }
                }
                None => branch.collections.values_mut().for_each(&mut take),
            }
        }
        self.branches.retain(|_, b| {
            b.collections.retain(|_, list| !list.is_empty());
            !b.database.is_empty() || !b.collections.is_empty()
        });
    }
}

/// Keeps the feed running while it lives: one per open stream.
pub struct Subscription {
    feed: Arc<Feed>,
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.feed.streams.fetch_sub(1, Ordering::AcqRel);
    }
}

impl Feed {
    pub fn new(store: Arc<Store>, wal: Arc<Wal>) -> Arc<Feed> {
        let published = store.published().lsn;
        Arc::new(Feed {
            store,
            wal,
            state: Mutex::new(State {
                records: VecDeque::new(),
                since: published,
                through: published,
                bytes: 0,
                waiters: Waiters::default(),
                newest: Newest::default(),
            }),
            opened: Condvar::new(),
            streams: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            thread: Mutex::new(None),
        })
    }

    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn wal(&self) -> &Arc<Wal> {
        &self.wal
    }

    /// Counts a stream as open (the thread runs while one is), starting the thread
    /// the first time.
    pub fn subscribe(self: &Arc<Self>) -> Result<Subscription> {
        self.streams.fetch_add(1, Ordering::AcqRel);
        let subscription = Subscription { feed: self.clone() };
        let mut thread = self.thread.lock().unwrap_or_else(|p| p.into_inner());
        if thread.is_none() {
            let feed = Arc::downgrade(self);
            *thread = Some(std::thread::Builder::new().name("change-feed".into()).spawn(move || run(feed))?);
        }
        drop(thread);
        self.opened.notify_all();
        Ok(subscription)
    }

    /// How many streams are open.
    pub fn streams(&self) -> usize {
        self.streams.load(Ordering::Acquire)
    }

    /// Stops the thread (at shutdown).
    pub fn close(&self) {
        self.stop.store(true, Ordering::Release);
        self.opened.notify_all();
        let thread = self.thread.lock().unwrap_or_else(|p| p.into_inner()).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }

    /// Parks a stream over `scope` until records that touch it arrive.
    pub fn waiter(&self, scope: Scope) -> Arc<Waiter> {
        let waiter = Arc::new(Waiter { notify: tokio::sync::Notify::new(), scope });
        self.lock().waiters.add(&waiter);
        waiter
    }

    /// Whether a stream over `scope` at `position` has anything to read: a record
    /// after it that touches its scope, or history older than the feed keeps.
    /// `Err(lsn)` when it has not: no record up to `lsn` concerns it.
    pub fn news(&self, scope: &Scope, position: Position) -> std::result::Result<(), Lsn> {
        let state = self.lock();
        if position.lsn < state.since {
            return Ok(());
        }
        let newest = state.newest.of(scope);
        match newest > position.lsn || (newest == position.lsn && !position.covers(newest)) {
            true => Ok(()),
            false => Err(state.through),
        }
    }

    /// The records after `position`, or `Behind` when the feed no longer has them.
    pub fn pull(&self, position: Position) -> Pulled {
        let state = self.lock();
        if position.lsn < state.since {
            return Pulled::Behind;
        }
        let first = state.records.partition_point(|r| r.lsn < position.lsn);
        let records: Vec<_> =
            state.records.range(first..).filter(|r| !position.covers(r.lsn)).take(PULL).cloned().collect();
        let through = match records.len() {
            PULL => records.last().map_or(state.through, |r| r.lsn),
            _ => state.through,
        };
        Pulled::Records(records, through)
    }

    /// The LSN up to which the feed has read.
    pub fn through(&self) -> Lsn {
        self.lock().through
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the records after `through` up to `target`, keeps them, and wakes the
    /// waiters they concern.
    fn read(&self, reader: &mut Option<Reader>, through: Lsn, target: Lsn) -> Result<()> {
        // Published records are acknowledged; with `durability: none` they may not be
        // written to the OS yet.
        self.wal.wait(target, false)?;
        let reader = match reader {
            Some(reader) => {
                reader.extend(target);
                reader
            }
            None => reader.insert(self.wal.read(through.next(), Some(target))?),
        };
        let mut fresh = Vec::new();
        for record in reader.by_ref() {
            if let Some(published) = Published::new(&self.store, record?) {
                fresh.push(Arc::new(published));
            }
        }
        let waiters = {
            let mut state = self.lock();
            for record in &fresh {
                state.bytes += record.size;
                state.records.push_back(record.clone());
                for touched in &record.touched {
                    state.newest.note(record.lsn, touched);
                }
            }
            while state.bytes > CAPACITY {
                let Some(old) = state.records.pop_front() else { break };
                state.bytes -= old.size;
                state.since = old.lsn;
            }
            state.through = target;
            let mut waiters = Vec::new();
            for record in &fresh {
                state.waiters.concerned(&record.touched, &mut waiters);
            }
            waiters
        };
        for waiter in waiters {
            waiter.notify.notify_one();
        }
        Ok(())
    }
}

/// The feed's thread: while streams are open, reads each newly published record;
/// while none is, forgets what the feed kept and sleeps. It holds the feed only
/// while it works, and ends once the feed is gone or closed.
fn run(feed: Weak<Feed>) {
    // Reading and decoding every record is work writers must not wait for: the
    // thread takes only the CPU no other thread wants (`low_priority.rs`).
    crate::low_priority::lower_this_thread();
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_time().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            tracing::error!(error = %e, "the change feed cannot start");
            return;
        }
    };
    let mut published = match feed.upgrade() {
        Some(feed) => feed.store.subscribe(),
        None => return,
    };
    let mut reader: Option<Reader> = None;
    while let Some(feed) = feed.upgrade() {
        if feed.stop.load(Ordering::Acquire) {
            return;
        }
        if feed.streams() == 0 {
            reader = None;
            let mut state = feed.lock();
            let now = feed.store.published().lsn;
            state.records.clear();
            state.newest = Newest::default();
            state.bytes = 0;
            (state.since, state.through) = (now, now);
            let _idle = feed.opened.wait_timeout(state, Duration::from_secs(1));
            continue;
        }
        let target = feed.store.published().lsn;
        let through = feed.through();
        if target <= through {
            drop(feed);
            runtime.block_on(async {
                let _ = tokio::time::timeout(Duration::from_millis(200), published.changed()).await;
            });
            continue;
        }
        if let Err(e) = feed.read(&mut reader, through, target) {
            // The log is unreadable from here: streams read it themselves and report
            // the error.
            tracing::error!(error = %e, "the change feed cannot read the log");
            reader = None;
            let mut state = feed.lock();
            state.records.clear();
            state.newest = Newest::default();
            state.bytes = 0;
            (state.since, state.through) = (target, target);
        }
    }
}
