//! What the versioned store needs from an ordered key-value engine, and nothing
//! more: consistent snapshots with point gets and range scans in both directions,
//! atomic write batches committed with or without durability, and a durable flush.
//!
//! Every table maps byte keys to byte values, ordered by the bytes. An engine may
//! store a table in another shape (the redb engine keeps the integer-keyed tables
//! typed, as earlier versions wrote them) as long as it orders keys as their bytes
//! order. Engine errors become [`crate::error::Error::Store`] inside the engine.
//!
//! Three engines: [`redb`] (the embedded B-tree on disk, the default),
//! [`slate`] (SlateDB on object storage, with the `slatedb` feature) and [`memory`]
//! (a map in memory that can also forget what was never made durable, for tests).

pub mod memory;
pub mod redb;
#[cfg(feature = "slatedb")]
pub mod slate;
mod staged;

use std::collections::BTreeMap;
use std::ops::Bound;

pub use self::redb::RedbEngine;
pub use memory::MemoryEngine;
#[cfg(feature = "slatedb")]
pub use slate::SlateEngine;
pub use staged::{Overlay, Shared, Staged};

use crate::error::Result;
use crate::wal::Carried;

/// The tables of the store (see `tables.rs` for their keys and values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// Versions of documents.
    Docs,
    /// Versions of catalog entries.
    Catalog,
    /// Versions of secondary index entries.
    Indexes,
    /// Branch rows, keyed by the branch id (8 bytes, big-endian).
    Branches,
    /// Commit times: `ms (8) ++ lsn (8)`, big-endian, with empty values.
    Times,
    /// Counters by name, each value 8 bytes big-endian.
    Meta,
    /// The last retryable write or transaction of each logical session (not
    /// versioned, not branched).
    Sessions,
    /// Which documents each record changed, by branch, collection and LSN.
    Changes,
    /// What each record did, by branch, newest first.
    Log,
}

impl Table {
    pub const ALL: [Table; 9] = [
        Table::Docs,
        Table::Catalog,
        Table::Indexes,
        Table::Branches,
        Table::Times,
        Table::Meta,
        Table::Sessions,
        Table::Changes,
        Table::Log,
    ];

    fn slot(self) -> usize {
        self as usize
    }
}

/// Called with each key and value of a scan, in order, until it returns `false`.
pub type Visit<'v> = dyn FnMut(&[u8], &[u8]) -> Result<bool> + 'v;

/// A consistent, read-only state of the engine.
pub trait Snapshot: Send + Sync {
    /// The value of `key`, if any.
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>>;

    /// Visits the entries with keys between `lower` and `upper`, ascending or, when
    /// `reverse`, descending.
    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()>;
}

/// An ordered key-value engine.
pub trait Engine: Send + Sync {
    /// A snapshot of everything committed so far.
    fn snapshot(&self) -> Result<Box<dyn Snapshot>>;

    /// Applies `batches` atomically, in order (a later batch's change of a key
    /// wins). A commit that is not `durable` is visible to later snapshots at once
    /// but may be lost by a crash, until a durable commit or a [`Engine::flush`].
    fn commit_all(&self, batches: &[&WriteBatch], durable: bool) -> Result<()>;

    /// Applies one batch atomically (see [`Engine::commit_all`]).
    fn commit(&self, batch: &WriteBatch, durable: bool) -> Result<()> {
        self.commit_all(&[batch], durable)
    }

    /// Makes everything committed durable.
    fn flush(&self) -> Result<()>;

    /// `batch` as keys and values of the log's database, for an engine that
    /// lives in it (object storage): the log then writes a record and the batch
    /// that applies it as one ([`crate::wal::Wal::append_carrying`]). `None` for
    /// an engine apart from the log.
    fn in_log_database(&self, batch: WriteBatch) -> Option<Carried> {
        let _ = batch;
        None
    }

    /// How many keys `table` holds now (for progress reports: cheap, not a scan),
    /// if the engine keeps a count.
    fn key_count(&self, table: Table) -> Result<Option<u64>>;

    /// Bytes the engine's file holds that no data uses: about what
    /// [`Engine::compact`] would give back.
    fn free_bytes(&self) -> Result<u64>;

    /// Rewrites the file without its free space, making everything committed
    /// durable: the bytes given back, or `None` when a snapshot still open held it
    /// back (it needs none, and holds new ones off while it runs).
    fn compact(&self) -> Result<Option<u64>>;
}

/// Puts and deletes to apply together; the last change of a key wins.
#[derive(Debug, Default, Clone)]
pub struct WriteBatch {
    tables: [BTreeMap<Vec<u8>, Option<Vec<u8>>>; Table::ALL.len()],
}

impl WriteBatch {
    pub fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.tables[table.slot()].insert(key, Some(value));
    }

    pub fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.tables[table.slot()].insert(key, None);
    }

    pub fn is_empty(&self) -> bool {
        self.tables.iter().all(BTreeMap::is_empty)
    }

    /// How many keys the batch changes.
    pub fn len(&self) -> usize {
        self.tables.iter().map(BTreeMap::len).sum()
    }

    /// Lays `later` over this batch: its change of a key wins.
    pub fn extend(&mut self, later: &WriteBatch) {
        for (mine, theirs) in self.tables.iter_mut().zip(&later.tables) {
            mine.extend(theirs.iter().map(|(k, v)| (k.clone(), v.clone())));
        }
    }

    /// Every change, table by table, each in key order (`None`: a delete).
    pub fn into_changes(self) -> impl Iterator<Item = (Table, Vec<u8>, Option<Vec<u8>>)> {
        Table::ALL
            .into_iter()
            .zip(self.tables)
            .flat_map(|(table, changes)| changes.into_iter().map(move |(key, value)| (table, key, value)))
    }

    /// The changes to `table`, in key order (`None`: a delete).
    pub fn changes(&self, table: Table) -> &BTreeMap<Vec<u8>, Option<Vec<u8>>> {
        &self.tables[table.slot()]
    }
}

/// Whether `key` lies between `lower` and `upper`.
pub fn within(key: &[u8], lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    let above = match lower {
        Bound::Included(l) => key >= l,
        Bound::Excluded(l) => key > l,
        Bound::Unbounded => true,
    };
    let below = match upper {
        Bound::Included(u) => key <= u,
        Bound::Excluded(u) => key < u,
        Bound::Unbounded => true,
    };
    above && below
}

/// Whether the range between the bounds is empty (a `BTreeMap` panics on such ranges).
pub fn is_empty_range(lower: Bound<&[u8]>, upper: Bound<&[u8]>) -> bool {
    match (lower, upper) {
        (Bound::Included(l), Bound::Included(u)) => l > u,
        (Bound::Included(l), Bound::Excluded(u))
        | (Bound::Excluded(l), Bound::Included(u))
        | (Bound::Excluded(l), Bound::Excluded(u)) => l >= u,
        _ => false,
    }
}

#[cfg(test)]
mod tests;
