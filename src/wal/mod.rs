//! The write-ahead log: the single source of truth of branchdb.
//!
//! Every change is one record with the next LSN; a record is one transaction, so a
//! multi-document write is atomic by construction (a transaction larger than a record
//! is framed: fragments, then the record that commits them). Records go to segment files of a
//! fixed size (`record.rs` has the layout), and a small manifest says what the segments
//! alone cannot (`manifest.rs`). Recovery (`recovery.rs`) tells a torn tail from damage.
//!
//! Durability (SPEC §5):
//! - `strict`: group commit. Writers append their encoded record to a shared buffer
//!   under a lock (LSN order is byte order) and wait. A lone writer flushes its own
//!   record (write + fdatasync). While a flush is in progress, the writers that arrive
//!   park; when it ends, the log-writer thread flushes everything they appended in one
//!   write and one fdatasync, and keeps doing so while writers keep arriving. No timer.
//! - `batched`: the same, but flushes only write; the log-writer thread fsyncs every
//!   `batch_interval`. `commit(.., j: true)` waits for an fsync.
//! - `none`: nothing waits; the log-writer thread writes and fsyncs on the interval.
//!
//! Any failed write or fsync poisons the log: nothing is acknowledged after it.
//!
//! That is the log in segment files on the local disk (`segments.rs`), the
//! default. In the object-storage mode the log is in the SlateDB database the
//! store's engine also uses (`objects.rs`): SlateDB's flush interval is the group
//! commit, and its atomic batches leave no torn tail. [`Wal`] is either.

pub mod entry;
// The fault-injecting file system: for the tests, and for the `wal_recovery` fuzz
// target (cargo-fuzz builds with `--cfg fuzzing`); never in the server.
#[cfg(any(test, fuzzing))]
pub mod faulty;
pub mod fs;
mod manifest;
#[cfg(feature = "slatedb")]
pub mod objects;
mod reader;
pub mod record;
pub mod recovery;
mod segment;
mod segments;

#[cfg(test)]
mod tests;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bson::DateTime;

pub use entry::{BranchId, BranchOp, BranchSettings, Ddl, Entry, Op, Origin, PutKind, Session, Statement, Txn};
pub use manifest::Manifest;
pub use reader::{Record, SegmentReader};
pub use recovery::{Progress, Recovered};

use crate::config::Durability;
use crate::error::Result;
use crate::lsn::Lsn;
use fs::Fs;
#[cfg(feature = "slatedb")]
use objects::{ObjectLog, ObjectReader};
use segments::Segments;

/// The largest payload of one record. A write larger than this is cut into several
/// records by its caller, or framed by the log when it is one transaction.
pub const MAX_PAYLOAD: usize = 32 * 1024 * 1024;

/// The size rule for writes of many documents (docs/ARCHITECTURE.md, "The size of
/// a record"): a command's changes go into one record until they hold
/// [`SPLIT_BYTES`] of documents; past it, the command goes on in a new record from
/// its next document, each record atomic on its own, as MongoDB's multi-document
/// writes are atomic per document only. Statements that rewrite the matches of a
/// query (a `multi` update or delete, the TTL expirer), which re-read each match
/// under the writer lock, also cut every [`SPLIT_OPS`] documents, so that writers
/// wait for one chunk at most. One document is at most 16 MiB, so a record stays
/// under [`MAX_PAYLOAD`]. A multi-document transaction is one record up to
/// [`MAX_PAYLOAD`] and framed beyond it (`record.rs`).
pub const SPLIT_BYTES: usize = 8 * 1024 * 1024;
/// See [`SPLIT_BYTES`].
pub const SPLIT_OPS: usize = 1000;
/// Default segment size.
pub const DEFAULT_SEGMENT_SIZE: u64 = 64 * 1024 * 1024;

/// The changes a record carries in its write ([`Wal::append_carrying`]): keys and
/// values of the log's database, `None` deleting.
pub type Carried = Vec<(Vec<u8>, Option<Vec<u8>>)>;

/// Makes the changes a record carries, given its LSN and commit time.
pub type Carry<'c> = dyn FnMut(Lsn, DateTime) -> Result<Carried> + 'c;

/// How a log is opened.
#[derive(Debug, Clone)]
pub struct Options {
    pub durability: Durability,
    /// fsync interval of `batched` and `none`.
    pub batch_interval: Duration,
    pub segment_size: u64,
    /// The largest payload of one record written: a larger transaction is framed.
    /// [`MAX_PAYLOAD`] but in tests.
    pub record_limit: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            durability: Durability::Strict,
            batch_interval: Duration::from_millis(100),
            segment_size: DEFAULT_SEGMENT_SIZE,
            record_limit: MAX_PAYLOAD,
        }
    }
}

/// An open log, in segment files or in object storage. Cheap to share behind an
/// `Arc`; every method takes `&self`.
pub struct Wal(Backend);

enum Backend {
    Segments(Segments),
    #[cfg(feature = "slatedb")]
    Objects(Box<ObjectLog>),
}

/// Calls the same method on whichever log this is.
macro_rules! each {
    ($wal:expr, $log:ident => $call:expr) => {
        match &$wal.0 {
            Backend::Segments($log) => $call,
            #[cfg(feature = "slatedb")]
            Backend::Objects($log) => $call,
        }
    };
}

impl Wal {
    /// Opens (recovering) or creates the log in segment files in `dir`. `progress`
    /// hears from recovery at least every 250 ms.
    pub fn open(
        fs: Arc<dyn Fs>,
        dir: &Path,
        options: Options,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<(Wal, Recovered)> {
        let (segments, recovered) = Segments::open(fs, dir, options, progress)?;
        Ok((Wal(Backend::Segments(segments)), recovered))
    }

    /// Opens the log in object storage, which the store's engine shares. Returns
    /// the log and its last LSN.
    #[cfg(feature = "slatedb")]
    pub fn on_objects(objects: Arc<crate::objects::Objects>, options: Options) -> Result<(Wal, Lsn)> {
        let (log, last) = ObjectLog::open(objects, options)?;
        Ok((Wal(Backend::Objects(Box::new(log))), last))
    }

    /// The object storage the log lives in, if it does.
    #[cfg(feature = "slatedb")]
    pub fn objects(&self) -> Option<&crate::objects::Objects> {
        match &self.0 {
            Backend::Segments(_) => None,
            Backend::Objects(log) => Some(log.objects()),
        }
    }

    /// A read replica's log: looks for the records its writer made durable since.
    /// Returns the last record's LSN and time (a log on the local disk has no
    /// writer to follow: its own last record).
    pub fn catch_up(&self) -> Result<(Lsn, DateTime)> {
        match &self.0 {
            Backend::Segments(log) => Ok((log.last_lsn(), DateTime::now())),
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => log.catch_up(),
        }
    }

    /// Appends `entry` and waits as the durability mode says (`j`: wait for an fsync
    /// whatever the mode). Returns its LSN and commit time.
    pub fn commit(&self, entry: &Entry, j: bool) -> Result<(Lsn, DateTime)> {
        let (lsn, time) = self.append(entry)?;
        self.wait_for_ack(lsn, j)?;
        Ok((lsn, time))
    }

    /// Waits until an appended `lsn` may be acknowledged, as the durability mode says
    /// (`j`: wait for an fsync whatever the mode).
    pub fn wait_for_ack(&self, lsn: Lsn, j: bool) -> Result<()> {
        match (self.durability(), j) {
            (_, true) | (Durability::Strict, false) => self.wait(lsn, true),
            (Durability::Batched, false) => self.wait(lsn, false),
            (Durability::None, false) => Ok(()),
        }
    }

    /// Appends `entry` without waiting; see [`Wal::wait`]. Returns the LSN that
    /// commits it.
    pub fn append(&self, entry: &Entry) -> Result<(Lsn, DateTime)> {
        each!(self, log => log.append(entry))
    }

    /// Whether the log writes each record together with the changes that apply
    /// it ([`Wal::append_carrying`]): a log in object storage, whose database the
    /// store's engine shares.
    pub fn carries_changes(&self) -> bool {
        match &self.0 {
            Backend::Segments(_) => false,
            #[cfg(feature = "slatedb")]
            Backend::Objects(_) => true,
        }
    }

    /// Appends `entry` in one atomic write with the changes `carry` returns for its
    /// LSN and commit time; see [`Wal::carries_changes`]. When the write is not
    /// made, neither is the record.
    pub fn append_carrying(&self, entry: &Entry, carry: &mut Carry<'_>) -> Result<(Lsn, DateTime)> {
        match &self.0 {
            Backend::Segments(_) => {
                let _ = (entry, carry);
                Err(crate::error::Error::Internal("the log in segment files carries no changes".into()))
            }
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => log.append_carrying(entry, carry),
        }
    }

    /// Waits until `lsn` is written (`sync: false`) or durable (`sync: true`).
    pub fn wait(&self, lsn: Lsn, sync: bool) -> Result<()> {
        each!(self, log => log.wait(lsn, sync))
    }

    /// Records that everything up to `applied` is durable in the materialized
    /// store, so recovery need not read the records below it.
    pub fn checkpoint(&self, applied: Lsn) -> Result<()> {
        match &self.0 {
            Backend::Segments(log) => log.checkpoint(applied),
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => {
                log.checkpoint(applied);
                Ok(())
            }
        }
    }

    /// Removes the records below `lsn` and below the last checkpoint: whole
    /// segments (the active one never), or records in object storage. Returns how
    /// many segments or records went.
    pub fn remove_segments_below(&self, lsn: Lsn) -> Result<usize> {
        match &self.0 {
            Backend::Segments(log) => log.remove_segments_below(lsn),
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => log.trim_below(lsn),
        }
    }

    /// The durability mode the log was opened with.
    pub fn durability(&self) -> Durability {
        match &self.0 {
            Backend::Segments(log) => log.durability(),
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => log.options().durability,
        }
    }

    /// The highest LSN known durable.
    pub fn durable_lsn(&self) -> Lsn {
        each!(self, log => log.durable_lsn())
    }

    /// Waits for durability (fsyncs, or object-storage flushes) since the log was
    /// opened.
    pub fn sync_count(&self) -> u64 {
        each!(self, log => log.sync_count())
    }

    /// How long those waits took.
    pub fn sync_times(&self) -> crate::timings::Snapshot {
        each!(self, log => log.sync_times())
    }

    /// Bytes of records written since the log was opened.
    pub fn bytes_written(&self) -> u64 {
        each!(self, log => log.bytes_written())
    }

    /// The last LSN appended.
    pub fn last_lsn(&self) -> Lsn {
        each!(self, log => log.last_lsn())
    }

    /// Reads the records from `from` on, up to `stop` (inclusive) when given, and
    /// never past what has been written.
    pub fn read(&self, from: Lsn, stop: Option<Lsn>) -> Result<Reader> {
        Ok(match &self.0 {
            Backend::Segments(log) => Reader::Segments(log.read(from, stop)?),
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => Reader::Objects(log.read(from, stop)?),
        })
    }

    /// For a log in object storage: becomes `true` when another server has taken
    /// the storage over (this one then writes nothing more). `None` on the disk.
    pub fn fenced(&self) -> Option<tokio::sync::watch::Receiver<bool>> {
        match &self.0 {
            Backend::Segments(_) => None,
            #[cfg(feature = "slatedb")]
            Backend::Objects(log) => Some(log.fenced()),
        }
    }

    /// Makes everything appended durable; the segment log also records a clean
    /// shutdown in its manifest.
    pub fn close(&self) -> Result<()> {
        each!(self, log => log.close())
    }
}

/// The records of a [`Wal::read`], in LSN order.
pub enum Reader {
    Segments(SegmentReader),
    #[cfg(feature = "slatedb")]
    Objects(ObjectReader),
}

impl Reader {
    /// The first LSN read at or after the start, of any record (a framed one's
    /// first fragment included).
    pub fn first_seen(&self) -> Option<Lsn> {
        match self {
            Reader::Segments(reader) => reader.first_seen(),
            #[cfg(feature = "slatedb")]
            Reader::Objects(reader) => reader.first_seen(),
        }
    }

    /// Lets a reader that reached its stop, or the end of what was written, go on
    /// up to `stop` (which the caller knows to be written).
    pub fn extend(&mut self, stop: Lsn) {
        match self {
            Reader::Segments(reader) => reader.extend(stop),
            #[cfg(feature = "slatedb")]
            Reader::Objects(reader) => reader.extend(stop),
        }
    }
}

impl Iterator for Reader {
    type Item = Result<Record>;

    fn next(&mut self) -> Option<Result<Record>> {
        match self {
            Reader::Segments(reader) => reader.next(),
            #[cfg(feature = "slatedb")]
            Reader::Objects(reader) => reader.next(),
        }
    }
}

/// The cluster time of a commit (SPEC §4): the commit time's seconds, and the low 32
/// bits of the LSN as the ordinal. Commit times never go back as LSNs grow, so cluster
/// times increase with LSNs (unless four billion commits share one second).
pub fn cluster_time(lsn: Lsn, time: DateTime) -> bson::Timestamp {
    bson::Timestamp { time: (time.timestamp_millis().max(0) / 1000) as u32, increment: lsn.0 as u32 }
}
