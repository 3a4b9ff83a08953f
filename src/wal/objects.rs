//! The log in object storage: each record is one key of the SlateDB database of
//! [`crate::objects`], its LSN (8 bytes, big-endian) under the log's tag byte, its
//! value the record's kind and payload version and then the payload as the segment
//! files hold it. The store's engine shares the database (`store/engine/slate.rs`),
//! so the log that recovery, change streams and `branchLog` read lives in object
//! storage with the data.
//!
//! A record and the store's changes that apply it are one SlateDB write
//! ([`ObjectLog::append_carrying`]), and its LSN is that write's sequence number:
//! the engine is never behind the log nor ahead of it, and a crash leaves nothing
//! to replay. Writes that are not records (history collection, trimming) take
//! sequence numbers too, so LSNs rise with gaps. Records are written in LSN order
//! under the log's lock, visible at once and durable at SlateDB's next flush:
//! SlateDB's flush interval is the group commit. Waiting for durability waits for
//! the write that carried the record, at most [`DURABLE_WITHIN`]: storage that is
//! unreachable fails the wait unacknowledged (`Error::NotDurable`) and the log
//! goes on, since SlateDB retries until the storage is back; while too much is
//! left undurable, new records are refused before they are written
//! (`objects/turns.rs`). Any failure SlateDB reports (a writer that took the
//! database over fences this one) poisons the log, and nothing is acknowledged
//! after it.
//!
//! SlateDB's batches are atomic, so there is no torn tail to recover and no record
//! to frame: a record of any size is one value.

use std::collections::VecDeque;
use std::ops::Bound;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use bson::DateTime;

use super::entry::{self, Entry};
use super::record::{reads_payload_version, Kind, PAYLOAD_VERSION};
use super::{Carry, Options, Record};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::objects::{fenced_error, reader_error, Entries, Objects, Written, UNREACHABLE_AFTER};
use crate::timings::Timings;

/// The log's tag byte: above every table of the engine.
pub const LOG_TAG: u8 = 0x80;

/// How long a write waits to be durable before it fails unacknowledged: object
/// storage that does not answer (SlateDB retries without end) must not hold a
/// client for ever, nor make it believe a write it could lose is safe.
const DURABLE_WITHIN: Duration = UNREACHABLE_AFTER;

/// How many records one trimming write deletes.
const TRIM_BATCH: usize = 10_000;

/// How many writes the log keeps to wait on. Past it the oldest are let go: a wait
/// for an older record then waits on a later write, which SlateDB makes durable
/// with or after it, so only memory is saved.
const MAX_UNSETTLED: usize = 4096;

pub struct ObjectLog {
    objects: Arc<Objects>,
    options: Options,
    state: Mutex<State>,
    /// `State::durable`, readable without the lock.
    durable: AtomicU64,
    /// The last checkpoint: the records at or below it may be trimmed.
    checkpoint: AtomicU64,
    sync_times: Timings,
    bytes_written: AtomicU64,
}

struct State {
    appended: Lsn,
    durable: Lsn,
    last_time_ms: i64,
    /// The write of each record not yet known durable, oldest first (at most
    /// [`MAX_UNSETTLED`] of the newest).
    unsettled: VecDeque<(Lsn, Written)>,
    syncs: u64,
    poisoned: Option<String>,
    /// Another writer took the database over.
    fenced: bool,
}

impl ObjectLog {
    /// Opens the log in `objects`: everything it holds is durable, and appends go
    /// on after its last record. Returns the log and that record's LSN.
    pub fn open(objects: Arc<Objects>, options: Options) -> Result<(ObjectLog, Lsn)> {
        let (appended, last_time_ms) = last_record(&objects)?;
        let state = State {
            appended,
            durable: appended,
            last_time_ms,
            unsettled: VecDeque::new(),
            syncs: 0,
            poisoned: None,
            fenced: false,
        };
        let log = ObjectLog {
            objects,
            options,
            state: Mutex::new(state),
            durable: AtomicU64::new(appended.0),
            checkpoint: AtomicU64::new(0),
            sync_times: Timings::default(),
            bytes_written: AtomicU64::new(0),
        };
        Ok((log, appended))
    }

    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    pub fn options(&self) -> &Options {
        &self.options
    }

    /// Becomes `true` when another writer has taken the database over.
    pub fn fenced(&self) -> tokio::sync::watch::Receiver<bool> {
        self.objects.fenced()
    }

    /// A reader's log (a read replica's): looks for the records its writer has
    /// made durable since, and returns the last one's LSN and time.
    pub fn catch_up(&self) -> Result<(Lsn, DateTime)> {
        let (last, time_ms) = last_record(&self.objects)?;
        let mut st = self.lock();
        if last > st.appended {
            st.appended = last;
            st.durable = last;
            st.last_time_ms = time_ms;
            self.durable.store(last.0, Ordering::Release);
        }
        Ok((st.appended, DateTime::from_millis(st.last_time_ms)))
    }

    /// Writes `entry` as the next record; see [`ObjectLog::wait`]. A reader's log
    /// answers that it is no primary.
    pub fn append(&self, entry: &Entry) -> Result<(Lsn, DateTime)> {
        self.append_carrying(entry, &mut |_, _| Ok(Vec::new()))
    }

    /// Writes `entry` as the next record, in one atomic write with the changes
    /// `carry` returns for its LSN and commit time (the store's changes that
    /// apply it). The LSN is that write's sequence number in SlateDB. When the
    /// storage does not take writes, or `carry` fails, nothing is written and the
    /// log goes on; when the write itself fails, the log takes no more.
    pub fn append_carrying(&self, entry: &Entry, carry: &mut Carry<'_>) -> Result<(Lsn, DateTime)> {
        if self.objects.is_reader() {
            return Err(reader_error());
        }
        let mut payload = entry.encode()?;
        let mut st = self.lock();
        st.usable()?;
        let turn = self.objects.turn()?;
        let lsn = Lsn(turn.next_seq(st.appended.0));
        let time_ms = DateTime::now().timestamp_millis().max(st.last_time_ms);
        let time = DateTime::from_millis(time_ms);
        entry::stamp_time(&mut payload, time);
        let mut value = Vec::with_capacity(payload.len() + 2);
        value.extend_from_slice(&[entry.kind() as u8, PAYLOAD_VERSION]);
        value.extend_from_slice(&payload);
        let size = value.len() as u64;
        let mut changes = carry(lsn, time)?;
        changes.push((key(lsn), Some(value)));
        let written = match turn.write(changes, Some(lsn.0)) {
            Ok(written) => written,
            Err(e) => return Err(st.poison(e, format!("writing LSN {lsn} to object storage failed"))),
        };
        st.appended = lsn;
        st.last_time_ms = time_ms;
        if st.unsettled.len() == MAX_UNSETTLED {
            st.unsettled.pop_front();
        }
        st.unsettled.push_back((lsn, written));
        self.bytes_written.fetch_add(size, Ordering::Relaxed);
        Ok((lsn, time))
    }

    /// Waits until `lsn` is written (at once: a record is in SlateDB when appended)
    /// or, with `sync`, durable in object storage.
    pub fn wait(&self, lsn: Lsn, sync: bool) -> Result<()> {
        let st = self.lock();
        st.usable()?;
        if !sync || st.durable >= lsn {
            return Ok(());
        }
        // The write of the first record at or past `lsn`: SlateDB makes writes
        // durable in order, so that one covers `lsn`.
        let Some((covered, written)) = st.unsettled.iter().find(|(l, _)| *l >= lsn).cloned() else {
            return Err(Error::Internal(format!("LSN {lsn} was never appended to the log")));
        };
        drop(st);
        let started = Instant::now();
        let outcome = self.objects.await_durable_within(&written, DURABLE_WITHIN);
        self.sync_times.record(started.elapsed());
        let mut st = self.lock();
        match outcome {
            Ok(true) => {}
            Ok(false) => {
                return Err(Error::NotDurable {
                    lsn,
                    time: None,
                    message: format!(
                        "object storage unreachable: LSN {lsn} is not durable after {} s, so the write is not \
                         acknowledged; it becomes durable if the storage comes back, and a retry waits for it",
                        DURABLE_WITHIN.as_secs()
                    ),
                })
            }
            Err(e) => return Err(st.poison(e, format!("making LSN {covered} durable in object storage failed"))),
        }
        st.syncs += 1;
        if covered > st.durable {
            st.durable = covered;
            self.durable.store(covered.0, Ordering::Release);
        }
        while st.unsettled.front().is_some_and(|(l, _)| *l <= covered) {
            st.unsettled.pop_front();
        }
        Ok(())
    }

    /// Notes that the store holds everything up to `applied` durably: the records
    /// up to it may be trimmed.
    pub fn checkpoint(&self, applied: Lsn) {
        self.checkpoint.fetch_max(applied.0, Ordering::AcqRel);
    }

    /// Deletes the records below `lsn` and below the last checkpoint. Returns how
    /// many went.
    pub fn trim_below(&self, lsn: Lsn) -> Result<usize> {
        let limit = lsn.min(Lsn(self.checkpoint.load(Ordering::Acquire)));
        let snapshot = self.objects.snapshot()?;
        let mut removed = 0;
        let mut batch: Vec<(Vec<u8>, Option<&[u8]>)> = Vec::new();
        for entry in snapshot.scan(Bound::Included(vec![LOG_TAG]), Bound::Excluded(key(limit)), false) {
            let (key, _) = entry?;
            batch.push((key.to_vec(), None));
            if batch.len() == TRIM_BATCH {
                removed += batch.len();
                self.objects.write(std::mem::take(&mut batch))?;
            }
        }
        removed += batch.len();
        if !batch.is_empty() {
            self.objects.write(batch)?;
        }
        Ok(removed)
    }

    /// The records from `from` on, up to `stop` (inclusive) when given.
    pub fn read(&self, from: Lsn, stop: Option<Lsn>) -> Result<ObjectReader> {
        let objects = self.objects.clone();
        Ok(ObjectReader { objects, next: from, stop, entries: None, finished: None, first_seen: None, failed: false })
    }

    /// Makes everything appended durable.
    pub fn close(&self) -> Result<()> {
        let last = self.last_lsn();
        self.wait(last, true)
    }

    pub fn durable_lsn(&self) -> Lsn {
        Lsn(self.durable.load(Ordering::Acquire))
    }

    pub fn last_lsn(&self) -> Lsn {
        self.lock().appended
    }

    /// Waits for durability done since the log was opened.
    pub fn sync_count(&self) -> u64 {
        self.lock().syncs
    }

    pub fn sync_times(&self) -> crate::timings::Snapshot {
        self.sync_times.snapshot()
    }

    pub fn bytes_written(&self) -> u64 {
        self.bytes_written.load(Ordering::Relaxed)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl State {
    fn usable(&self) -> Result<()> {
        match (&self.poisoned, self.fenced) {
            (_, true) => Err(fenced_error()),
            (Some(why), false) => Err(Error::WalPoisoned(why.clone())),
            (None, false) => Ok(()),
        }
    }

    /// After `error`, nothing more is written or acknowledged: a fenced log
    /// answers as a server that is no longer primary, any other failure as a
    /// poisoned log.
    fn poison(&mut self, error: Error, doing: String) -> Error {
        tracing::error!("{doing}: {error}; the log takes no more writes");
        self.fenced |= error.code() == ErrorCode::NotWritablePrimary;
        self.poisoned.get_or_insert(format!("{doing}: {error}"));
        match self.usable() {
            Err(e) => e,
            Ok(()) => error,
        }
    }
}

/// The records of a [`ObjectLog::read`], in LSN order. Each scan reads a snapshot;
/// once one ends, a reader given a later stop scans again from where it was.
pub struct ObjectReader {
    objects: Arc<Objects>,
    /// The next LSN to read.
    next: Lsn,
    stop: Option<Lsn>,
    entries: Option<Entries>,
    /// The stop of the last scan that came to its end.
    finished: Option<Option<Lsn>>,
    first_seen: Option<Lsn>,
    failed: bool,
}

impl ObjectReader {
    /// The first LSN read.
    pub fn first_seen(&self) -> Option<Lsn> {
        self.first_seen
    }

    /// Lets a reader that reached its stop go on up to `stop`.
    pub fn extend(&mut self, stop: Lsn) {
        self.stop = Some(stop);
    }

    fn read_next(&mut self) -> Option<Result<Record>> {
        if self.entries.is_none() {
            if self.finished == Some(self.stop) || self.stop.is_some_and(|stop| stop < self.next) {
                return None;
            }
            let upper = match self.stop {
                Some(stop) => Bound::Included(key(stop)),
                None => Bound::Excluded(vec![LOG_TAG + 1]),
            };
            let snapshot = match self.objects.snapshot() {
                Ok(snapshot) => snapshot,
                Err(e) => return Some(Err(e)),
            };
            self.entries = Some(snapshot.scan(Bound::Included(key(self.next)), upper, false));
        }
        let Some(entry) = self.entries.as_mut().and_then(Iterator::next) else {
            self.entries = None;
            self.finished = Some(self.stop);
            return None;
        };
        let record = match entry.and_then(|(key, value)| decode(&key, &value)) {
            Ok(record) => record,
            Err(e) => return Some(Err(e)),
        };
        self.first_seen.get_or_insert(record.lsn);
        self.next = record.lsn.next();
        Some(Ok(record))
    }
}

impl Iterator for ObjectReader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        if self.failed {
            return None;
        }
        let record = self.read_next();
        self.failed = matches!(record, Some(Err(_)));
        record
    }
}

/// The LSN and time (ms) of the last record in `objects`; zeros when there is none.
fn last_record(objects: &Objects) -> Result<(Lsn, i64)> {
    let snapshot = objects.snapshot()?;
    let last = snapshot.scan(Bound::Included(vec![LOG_TAG]), Bound::Excluded(vec![LOG_TAG + 1]), true).next();
    match last {
        Some(entry) => {
            let (key, value) = entry?;
            let record = decode(&key, &value)?;
            Ok((record.lsn, record.time.timestamp_millis()))
        }
        None => Ok((Lsn::ZERO, 0)),
    }
}

fn key(lsn: Lsn) -> Vec<u8> {
    let mut key = Vec::with_capacity(9);
    key.push(LOG_TAG);
    key.extend_from_slice(&lsn.0.to_be_bytes());
    key
}

fn decode(key: &[u8], value: &[u8]) -> Result<Record> {
    let corrupt = |why: String| Error::Store(format!("log record in object storage: {why}"));
    let lsn = match key {
        [LOG_TAG, lsn @ ..] if lsn.len() == 8 => Lsn(u64::from_be_bytes(lsn.try_into().unwrap_or_default())),
        _ => return Err(corrupt(format!("a key of {} bytes in the log's range", key.len()))),
    };
    let [kind, version, payload @ ..] = value else {
        return Err(corrupt(format!("LSN {lsn} has a value of {} bytes", value.len())));
    };
    let kind = Kind::from_u8(*kind).ok_or_else(|| corrupt(format!("LSN {lsn} has unknown kind {kind}")))?;
    if !reads_payload_version(*version) {
        return Err(corrupt(format!("LSN {lsn} has unknown payload version {version}")));
    }
    let (time, entry) = Entry::decode(kind, *version, payload).map_err(|why| corrupt(format!("LSN {lsn}: {why}")))?;
    Ok(Record { lsn, time, entry, file: "object storage".into(), offset: 0 })
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bson::doc;

    use super::*;
    use crate::objects::{InMemory, ObjectStore, Options as ObjectOptions};
    use crate::wal::{BranchId, Op, PutKind, Txn};

    fn insert(id: i64) -> Entry {
        let doc = doc! {"_id": id};
        Entry::Txn(Txn::new(BranchId(1), vec![Op::Put { collection: "c".into(), kind: PutKind::Insert, doc }]))
    }

    fn open(store: &Arc<dyn ObjectStore>) -> (Arc<Objects>, ObjectLog) {
        let objects = Arc::new(Objects::open_in(store.clone(), "db", &ObjectOptions::default()).expect("open"));
        let (log, _) = ObjectLog::open(objects.clone(), Options::default()).expect("log");
        (objects, log)
    }

    /// A change carried with the record of `lsn`: a key of its own, holding the LSN.
    fn carried(lsn: Lsn) -> Vec<(Vec<u8>, Option<Vec<u8>>)> {
        vec![(vec![0, lsn.0 as u8], Some(lsn.0.to_be_bytes().to_vec()))]
    }

    fn get(objects: &Objects, key: &[u8]) -> Option<Vec<u8>> {
        objects.snapshot().expect("snapshot").get(key.to_vec()).expect("get").map(|v| v.to_vec())
    }

    #[test]
    fn a_record_and_its_changes_are_one_write_whose_sequence_number_is_its_lsn() {
        let store: Arc<dyn ObjectStore> = Arc::new(InMemory::new());
        let (objects, log) = open(&store);
        let (first, _) = log.append_carrying(&insert(1), &mut |lsn, _| Ok(carried(lsn))).expect("append");
        // Another write takes the next sequence number: the next record's LSN is after it.
        objects.write([(vec![1], Some(vec![1]))]).expect("write");
        let (second, _) = log.append_carrying(&insert(2), &mut |lsn, _| Ok(carried(lsn))).expect("append");
        assert_eq!(second, Lsn(first.0 + 2));
        assert_eq!(objects.turn().expect("turn").next_seq(0), second.0 + 1, "the LSN is the write's sequence number");
        for lsn in [first, second] {
            assert_eq!(get(&objects, &[0, lsn.0 as u8]), Some(lsn.0.to_be_bytes().to_vec()));
        }
        let read: Vec<Lsn> = log.read(Lsn::ZERO, None).expect("read").map(|r| r.expect("record").lsn).collect();
        assert_eq!(read, [first, second]);

        // A failure to build the changes writes nothing, and the log goes on.
        let failed = log.append_carrying(&insert(3), &mut |_, _| Err(Error::Internal("no".into())));
        assert!(failed.is_err());
        let (third, _) = log.append_carrying(&insert(3), &mut |lsn, _| Ok(carried(lsn))).expect("append");
        assert_eq!(third, second.next());
        log.wait(third, true).expect("durable");

        // A crash keeps a record and its changes together, or loses both.
        let (fourth, _) = log.append_carrying(&insert(4), &mut |lsn, _| Ok(carried(lsn))).expect("append");
        drop(log);
        drop(objects);
        let (objects, log) = open(&store);
        assert_eq!(log.last_lsn() == fourth, get(&objects, &[0, fourth.0 as u8]).is_some());
        assert_eq!(get(&objects, &[0, third.0 as u8]), Some(third.0.to_be_bytes().to_vec()));
        let (fifth, _) = log.append_carrying(&insert(5), &mut |lsn, _| Ok(carried(lsn))).expect("after a crash");
        assert!(fifth > log.durable_lsn().max(third));
    }
}
