//! The log in segment files on the local disk (the module's doc says how they are
//! written and made durable).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use bson::DateTime;

use super::fs::{Fs, WalFile};
use super::record::{self, record_size, Kind, SegmentHeader, RECORD_HEADER_LEN, SEGMENT_HEADER_LEN};
use super::MAX_PAYLOAD;
use super::{entry, manifest::Manifest, recovery, segment, Entry, Options, Progress, Recovered, SegmentReader};
use crate::config::Durability;
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::timings::Timings;

/// A flushed buffer larger than this is freed rather than kept for reuse.
const MAX_SPARE_BUFFER: usize = 8 * 1024 * 1024;
/// Room kept at the end of every segment for its seal record.
const SEAL_RESERVE: u64 = (RECORD_HEADER_LEN + 64) as u64;

/// The log in segment files. Every method takes `&self`.
pub struct Segments {
    inner: Arc<Inner>,
    /// Held by [`Segments::append`] from its first record to its last.
    appending: Mutex<()>,
    writer: Mutex<Option<JoinHandle<()>>>,
}

struct Inner {
    fs: Arc<dyn Fs>,
    dir: PathBuf,
    options: Options,
    state: Mutex<State>,
    /// Signalled when a flush ends, when writers wait for the log-writer thread, and
    /// at close; heard by that thread and by rotation. Committing writers are woken
    /// one by one instead (see `Waiter`).
    changed: Condvar,
    /// `State::durable`, readable without the lock.
    durable: AtomicU64,
    /// How long each fsync of log data took.
    sync_times: Timings,
    /// Bytes of records written since open.
    bytes_written: AtomicU64,
}

struct State {
    next_lsn: Lsn,
    last_time_ms: i64,
    /// Encoded records not yet written, for the active segment.
    pending: Vec<u8>,
    /// The buffer the last flush wrote, kept to be the next `pending` without
    /// growing a new one.
    spare: Vec<u8>,
    /// The last LSN appended (so the last one in `pending`, when it is not empty).
    appended: Lsn,
    written: Lsn,
    durable: Lsn,
    /// A leader is writing; it has taken the segment's file.
    flushing: bool,
    /// Writers parked until their record is written or synced.
    waiters: Vec<Waiter>,
    /// The log-writer thread sleeps: a writer that finds no flush in progress leads
    /// its own instead of waking it.
    writer_idle: bool,
    /// fsyncs done since open, to see how many commits share one.
    syncs: u64,
    /// The next segment, zero-filled ahead of need by a background thread, so that
    /// rotating costs a header write and a rename, not the filling of 64 MiB.
    next_segment: NextSegment,
    poisoned: Option<String>,
    segment: ActiveSegment,
    manifest: Manifest,
    closed: bool,
}

/// The zero-filled file that becomes the next segment.
enum NextSegment {
    Absent,
    Preparing(JoinHandle<()>),
    Ready,
}

/// A writer parked in [`Inner::wait`]. A flush wakes exactly the writers it covered;
/// the log-writer thread flushes for the others. Waking every writer after every
/// fsync would spend the CPU on wake-ups that group commit exists to save.
struct Waiter {
    lsn: Lsn,
    sync: bool,
    thread: std::thread::Thread,
}

struct ActiveSegment {
    salt: u32,
    /// Its seal record is appended: nothing more goes in, the next append rotates.
    sealed: bool,
    /// Taken by the leader while it writes.
    file: Option<Box<dyn WalFile>>,
    /// Where `pending` will be written.
    write_offset: u64,
}

impl ActiveSegment {
    /// Whether a record of `size` bytes fits after `pending`, keeping room for the seal.
    fn has_room(&self, pending: usize, size: u64, segment_size: u64) -> bool {
        !self.sealed && self.write_offset + pending as u64 + size + SEAL_RESERVE <= segment_size
    }
}

impl Segments {
    /// Opens (recovering) or creates the log in `dir`. `progress` hears from recovery
    /// at least every 250 ms.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: Options,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Segments, Recovered)> {
        let min_segment = (SEGMENT_HEADER_LEN as u64) + SEAL_RESERVE + 1024;
        if options.segment_size < min_segment {
            return Err(Error::Config(format!("segment size must be at least {min_segment} bytes")));
        }
        fs.create_dir_all(dir)?;
        let manifest = Manifest::load(fs.as_ref(), dir)?;
        let recovered = recovery::recover(fs.as_ref(), dir, &manifest, recovery::Mode::Repair, progress)?;
        let next_lsn = recovered.last_lsn.next();
        // After a kill, the last segment's records may sit in the page cache only:
        // sync them before calling them durable (earlier segments were synced when
        // they were sealed).
        let last_file = match recovered.segments.last() {
            Some(last) => {
                let mut file = fs.open(&last.path)?;
                file.sync_data()?;
                Some((last, file))
            }
            None => None,
        };
        for stale in [segment::NEXT, segment::CREATING] {
            match fs.remove(&dir.join(stale)) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e.into()),
                _ => {}
            }
        }
        let segment = match last_file {
            Some((last, file)) if !last.sealed => {
                ActiveSegment { salt: last.salt, sealed: false, file: Some(file), write_offset: last.end_offset }
            }
            _ => create_segment(fs.as_ref(), dir, next_lsn, options.segment_size)?,
        };
        let state = State {
            next_lsn,
            last_time_ms: recovered.last_time_ms,
            pending: Vec::new(),
            spare: Vec::new(),
            appended: recovered.last_lsn,
            written: recovered.last_lsn,
            durable: recovered.last_lsn,
            flushing: false,
            waiters: Vec::new(),
            writer_idle: false,
            syncs: 0,
            next_segment: NextSegment::Absent,
            poisoned: None,
            segment,
            manifest,
            closed: false,
        };
        let inner = Arc::new(Inner {
            fs,
            dir: dir.to_path_buf(),
            options,
            state: Mutex::new(state),
            changed: Condvar::new(),
            durable: AtomicU64::new(recovered.last_lsn.0),
            sync_times: Timings::default(),
            bytes_written: AtomicU64::new(0),
        });
        inner.prepare_next_segment(&mut inner.lock());
        let writer = spawn_writer(inner.clone())?;
        Ok((Segments { inner, appending: Mutex::new(()), writer: Mutex::new(Some(writer)) }, recovered))
    }

    /// Records in the manifest that everything up to `applied` is durable in the
    /// materialized store, so recovery need not scan the segments below it.
    pub fn checkpoint(&self, applied: Lsn) -> Result<()> {
        let mut st = self.inner.lock();
        st.usable()?;
        let mut manifest = st.manifest;
        if applied.0 <= manifest.checkpoint_lsn {
            return Ok(());
        }
        manifest.checkpoint_lsn = applied.0;
        manifest.store(self.inner.fs.as_ref(), &self.inner.dir)?;
        st.manifest = manifest;
        Ok(())
    }

    /// Deletes the segments whose records all lie below `lsn` and below the last
    /// checkpoint. The active segment is never deleted. Returns how many went.
    pub fn remove_segments_below(&self, lsn: Lsn) -> Result<usize> {
        let limit = lsn.min(self.inner.lock().manifest.checkpoint());
        let listed = segment::list(self.inner.fs.as_ref(), &self.inner.dir)?;
        let mut removed = 0;
        for pair in listed.windows(2) {
            // A segment ends just before the next one begins.
            if pair[1].0 > limit {
                break;
            }
            self.inner.fs.remove(&pair[0].1)?;
            removed += 1;
        }
        if removed > 0 {
            self.inner.fs.sync_dir(&self.inner.dir)?;
        }
        Ok(removed)
    }

    /// The durability mode the log was opened with.
    pub fn durability(&self) -> Durability {
        self.inner.options.durability
    }

    /// Appends `entry` to the buffer without waiting; see [`Segments::wait`]. Returns the
    /// LSN that commits it: a transaction larger than one record is framed (see
    /// `record.rs`) and committed by its last record.
    pub fn append(&self, entry: &Entry) -> Result<(Lsn, DateTime)> {
        let mut payload = entry.encode()?;
        let piece = self.inner.options.record_limit.clamp(1, MAX_PAYLOAD);
        let pieces = payload.len().div_ceil(piece).max(1);
        let kind = entry.kind();
        if pieces > 1 && !matches!(kind, Kind::Txn | Kind::Group) {
            return Err(Error::bad_value(format!("a WAL record of {} bytes is over the limit", payload.len())));
        }
        let segment_size = self.inner.options.segment_size;
        if record_size(piece.min(payload.len())) as u64 + SEAL_RESERVE + SEGMENT_HEADER_LEN as u64 > segment_size {
            return Err(Error::bad_value(format!("a WAL record of {} bytes is over the limit", payload.len())));
        }
        // One append at a time: the pieces of a frame stay together even when a
        // rotation lets go of the state lock between them.
        let _appending = self.appending.lock().unwrap_or_else(|p| p.into_inner());
        let mut st = self.inner.lock();
        let time = st.next_time();
        entry::stamp_time(&mut payload, time);
        let mut lsn = Lsn::ZERO;
        for (i, bytes) in payload.chunks(piece).enumerate() {
            let (kind, flags) = match (i, i + 1 == pieces) {
                (0, true) => (kind, 0),
                (0, false) => (Kind::Fragment, record::FRAME_START),
                (_, false) => (Kind::Fragment, 0),
                (_, true) => (kind, record::FRAME_END),
            };
            let size = record_size(bytes.len()) as u64;
            loop {
                st.usable()?;
                if st.segment.has_room(st.pending.len(), size, segment_size) {
                    break;
                }
                st = self.inner.rotate(st)?;
            }
            lsn = st.push(kind, flags, bytes);
        }
        Ok((lsn, time))
    }

    /// Waits until `lsn` is written to the OS (`sync: false`) or fsynced (`sync: true`).
    pub fn wait(&self, lsn: Lsn, sync: bool) -> Result<()> {
        self.inner.wait(lsn, sync)
    }

    /// The highest LSN known to be fsynced.
    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.inner.durable.load(Ordering::Acquire))
    }

    /// fsyncs of log data since the log was opened.
    pub fn sync_count(&self) -> u64 {
        self.inner.lock().syncs
    }

    /// How long the fsyncs of log data took.
    pub fn sync_times(&self) -> crate::timings::Snapshot {
        self.inner.sync_times.snapshot()
    }

    /// Bytes of records written since the log was opened.
    pub fn bytes_written(&self) -> u64 {
        self.inner.bytes_written.load(Ordering::Relaxed)
    }

    /// The last LSN appended.
    pub fn last_lsn(&self) -> Lsn {
        self.inner.lock().appended
    }

    /// Reads the records from `from` on, up to `stop` (inclusive) when given, and
    /// never past what has been written to the OS.
    pub fn read(&self, from: Lsn, stop: Option<Lsn>) -> Result<SegmentReader> {
        let written = self.inner.lock().written;
        let stop = stop.map_or(written, |s| s.min(written));
        SegmentReader::new(self.inner.fs.clone(), &self.inner.dir, from, Some(stop))
    }

    /// Flushes and fsyncs everything, and records a clean shutdown in the manifest.
    pub fn close(&self) -> Result<()> {
        self.stop_writer();
        let last = self.last_lsn();
        self.inner.wait(last, true)?;
        let mut st = self.inner.lock();
        st.closed = true;
        let mut manifest = st.manifest;
        manifest.clean_lsn = last.0;
        manifest.store(self.inner.fs.as_ref(), &self.inner.dir)?;
        st.manifest = manifest;
        Ok(())
    }
}

impl Segments {
    /// Stops the log-writer thread (waits lead their own flushes from then on) and
    /// lets a segment being prepared finish, so no thread of this log outlives it.
    fn stop_writer(&self) {
        if let Some(writer) = self.writer.lock().unwrap_or_else(|p| p.into_inner()).take() {
            self.inner.lock().closed = true;
            self.inner.changed.notify_all();
            let _ = writer.join();
        }
        let preparing = std::mem::replace(&mut self.inner.lock().next_segment, NextSegment::Absent);
        if let NextSegment::Preparing(handle) = preparing {
            let _ = handle.join();
        }
    }
}

impl Drop for Segments {
    /// A log dropped without `close` is as after a crash: nothing more is flushed.
    fn drop(&mut self) {
        self.stop_writer();
    }
}

impl State {
    /// Whether `lsn` is written (or, with `sync`, fsynced).
    fn reached(&self, lsn: Lsn, sync: bool) -> bool {
        (if sync { self.durable } else { self.written }) >= lsn
    }

    /// After a flush: wakes the waiters it satisfied (all of them once poisoned).
    fn wake_waiters(&mut self) {
        let poisoned = self.poisoned.is_some();
        let waiters = std::mem::take(&mut self.waiters);
        let mut rest = Vec::with_capacity(waiters.len());
        for w in waiters {
            if poisoned || self.reached(w.lsn, w.sync) {
                w.thread.unpark();
            } else {
                rest.push(w);
            }
        }
        self.waiters = rest;
    }

    fn usable(&self) -> Result<()> {
        match &self.poisoned {
            Some(why) => Err(Error::WalPoisoned(why.clone())),
            None => Ok(()),
        }
    }

    /// A commit time no earlier than the last.
    fn next_time(&mut self) -> DateTime {
        let time_ms = DateTime::now().timestamp_millis().max(self.last_time_ms);
        self.last_time_ms = time_ms;
        DateTime::from_millis(time_ms)
    }

    /// Encodes a record with the next LSN.
    fn push(&mut self, kind: Kind, flags: u16, payload: &[u8]) -> Lsn {
        let lsn = self.next_lsn;
        let stamp = record::Stamp { lsn, salt: self.segment.salt, kind, flags, durable: self.durable };
        record::encode(&mut self.pending, stamp, payload);
        self.next_lsn = lsn.next();
        self.appended = lsn;
        lsn
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn wait(&self, lsn: Lsn, sync: bool) -> Result<()> {
        let me = std::thread::current();
        let mut st = self.lock();
        loop {
            st.usable()?;
            if st.reached(lsn, sync) {
                return Ok(());
            }
            if !st.flushing && st.writer_idle {
                let do_sync = sync || self.options.durability == Durability::Strict;
                st = self.flush(st, do_sync);
                continue;
            }
            if st.closed {
                // The log-writer thread is stopping or gone, so nobody flushes for a
                // parked writer that the flush in progress does not cover: wait for
                // that flush to end, then lead our own.
                st = self.changed.wait(st).unwrap_or_else(|p| p.into_inner());
                continue;
            }
            st.waiters.push(Waiter { lsn, sync, thread: me.clone() });
            drop(st);
            std::thread::park();
            st = self.lock();
            // A spurious wake-up leaves our entry behind; drop it before looking again.
            st.waiters.retain(|w| w.thread.id() != me.id());
        }
    }

    /// Writes (and optionally fsyncs) everything pending, releasing the lock during
    /// the I/O so that other writers keep appending. Call with `flushing` false.
    fn flush<'a>(&'a self, mut st: MutexGuard<'a, State>, sync: bool) -> MutexGuard<'a, State> {
        st.flushing = true;
        let spare = std::mem::take(&mut st.spare);
        let mut buf = std::mem::replace(&mut st.pending, spare);
        let end = st.appended;
        let offset = st.segment.write_offset;
        st.segment.write_offset += buf.len() as u64;
        let mut file = st.segment.file.take();
        drop(st);
        let result = match file.as_mut() {
            Some(file) => file.write_at(offset, &buf).and_then(|()| {
                self.bytes_written.fetch_add(buf.len() as u64, Ordering::Relaxed);
                if !sync {
                    return Ok(());
                }
                let started = Instant::now();
                let synced = file.sync_data();
                self.sync_times.record(started.elapsed());
                synced
            }),
            None => Err(std::io::Error::other("the segment file is missing")),
        };
        let mut st = self.lock();
        st.segment.file = file;
        st.flushing = false;
        if buf.capacity() <= MAX_SPARE_BUFFER {
            buf.clear();
            st.spare = buf;
        }
        match result {
            Ok(()) => {
                st.written = st.written.max(end);
                if sync {
                    st.syncs += 1;
                    st.durable = st.durable.max(end);
                    self.durable.store(st.durable.0, Ordering::Release);
                }
            }
            Err(e) => {
                tracing::error!(error = %e, "WAL write failed: no further writes will be acknowledged");
                st.poisoned = Some(e.to_string());
            }
        }
        st.wake_waiters();
        self.changed.notify_all();
        st
    }

    /// Seals the active segment and starts the next one. Returns with the lock held
    /// and the new segment active, or, when a flush was in progress, after waiting for
    /// it (the caller checks again). Once the seal is appended the segment takes no
    /// more records, so nothing can slip in behind the seal while it is flushed.
    fn rotate<'a>(self: &'a Arc<Self>, st: MutexGuard<'a, State>) -> Result<MutexGuard<'a, State>> {
        if st.flushing {
            return Ok(self.changed.wait(st).unwrap_or_else(|p| p.into_inner()));
        }
        let mut st = st;
        if !st.segment.sealed {
            let mut seal = Entry::Seal.encode()?;
            let time = st.next_time();
            entry::stamp_time(&mut seal, time);
            st.push(Kind::Seal, 0, &seal);
            st.segment.sealed = true;
        }
        st = self.flush(st, true);
        st.usable()?;
        debug_assert!(st.pending.is_empty() && st.durable == st.appended);
        let prepared = matches!(st.next_segment, NextSegment::Ready);
        let first_lsn = st.next_lsn;
        let created = if prepared {
            st.next_segment = NextSegment::Absent;
            activate_segment(self.fs.as_ref(), &self.dir, segment::NEXT, first_lsn)
        } else {
            create_segment(self.fs.as_ref(), &self.dir, first_lsn, self.options.segment_size)
        };
        match created {
            Ok(segment) => st.segment = segment,
            Err(e) => {
                st.poisoned = Some(e.to_string());
                return Err(e);
            }
        }
        self.prepare_next_segment(&mut st);
        Ok(st)
    }

    /// Starts filling the next segment in the background, unless one is there or on
    /// its way. A failure only means the next rotation creates its segment itself.
    fn prepare_next_segment(self: &Arc<Self>, st: &mut State) {
        if !matches!(st.next_segment, NextSegment::Absent) || st.closed {
            return;
        }
        let inner = self.clone();
        let spawned = std::thread::Builder::new().name("wal-segment".into()).spawn(move || {
            let path = inner.dir.join(segment::NEXT);
            let prepared = inner.fs.create_segment(&path, inner.options.segment_size, &[0; SEGMENT_HEADER_LEN]);
            let mut st = inner.lock();
            match prepared {
                // Dropping the handle: the rotation that uses the file reopens it.
                Ok(_) => st.next_segment = NextSegment::Ready,
                Err(e) => {
                    tracing::warn!(error = %e, "cannot prepare the next WAL segment; the rotation will create it");
                    st.next_segment = NextSegment::Absent;
                }
            }
        });
        match spawned {
            Ok(handle) => st.next_segment = NextSegment::Preparing(handle),
            Err(e) => tracing::warn!(error = %e, "cannot start preparing the next WAL segment"),
        }
    }
}

/// Creates the segment starting at `first_lsn` when none was prepared: zero-filled
/// under a temporary name, then activated as a prepared one, so a segment file never
/// exists without its header.
fn create_segment(fs: &dyn Fs, dir: &Path, first_lsn: Lsn, size: u64) -> Result<ActiveSegment> {
    fs.create_segment(&dir.join(segment::CREATING), size, &[0; SEGMENT_HEADER_LEN])?;
    activate_segment(fs, dir, segment::CREATING, first_lsn)
}

/// Turns the zero-filled file `name` into the segment starting at `first_lsn`: its
/// header written and synced, then renamed into place and the directory synced.
fn activate_segment(fs: &dyn Fs, dir: &Path, name: &str, first_lsn: Lsn) -> Result<ActiveSegment> {
    let salt = segment::new_salt();
    let header = SegmentHeader { first_lsn, salt }.encode();
    let prepared = dir.join(name);
    let mut file = fs.open(&prepared)?;
    file.write_at(0, &header)?;
    file.sync_data()?;
    let path = segment::path(dir, first_lsn);
    fs.rename(&prepared, &path)?;
    fs.sync_dir(dir)?;
    let file = fs.open(&path)?;
    Ok(ActiveSegment { salt, sealed: false, file: Some(file), write_offset: SEGMENT_HEADER_LEN as u64 })
}

/// The log-writer thread: flushes for parked writers as long as there are any (one
/// write, and one fsync when any of them needs it, per round), and in `batched` and
/// `none` fsyncs every interval. It ends when the log is closed, dropped or poisoned.
fn spawn_writer(inner: Arc<Inner>) -> Result<JoinHandle<()>> {
    let spawned = std::thread::Builder::new().name("wal-writer".into()).spawn(move || {
        let strict = inner.options.durability == Durability::Strict;
        let interval = inner.options.batch_interval;
        let mut last_sync = Instant::now();
        let mut st = inner.lock();
        loop {
            // Once closed, it still serves the writers already parked, so none is left
            // without a flush to wake it.
            if st.poisoned.is_some() || (st.closed && st.waiters.is_empty() && !st.flushing) {
                st.writer_idle = true;
                // Writers waiting to lead their own flushes may do so now.
                inner.changed.notify_all();
                return;
            }
            let interval_due = !strict && last_sync.elapsed() >= interval && st.durable < st.appended;
            if !st.flushing && (!st.waiters.is_empty() || interval_due) {
                let sync = strict || interval_due || st.waiters.iter().any(|w| w.sync);
                st = inner.flush(st, sync);
                if sync {
                    last_sync = Instant::now();
                }
                continue;
            }
            st.writer_idle = true;
            st = if strict {
                inner.changed.wait(st).unwrap_or_else(|p| p.into_inner())
            } else {
                let left = interval.saturating_sub(last_sync.elapsed()).max(Duration::from_millis(1));
                inner.changed.wait_timeout(st, left).unwrap_or_else(|p| p.into_inner()).0
            };
            st.writer_idle = false;
        }
    });
    Ok(spawned?)
}
