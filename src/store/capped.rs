//! Capped collections keep their documents in insertion order, which their `_id`s
//! do not give. The store keeps that order in three kinds of versioned rows of the
//! indexes table, under the collection's own id (no index has that id):
//!
//! - order: `collection ++ ORDER ++ position ++ _id` → the encoded `_id`, one per
//!   document, so that a walk of the rows is a walk in insertion order;
//! - position: `collection ++ POSITION ++ _id` → the position, to find a document's
//!   order row when it is deleted;
//! - totals: `collection ++ TOTALS` → the number of documents and their BSON bytes,
//!   which a write reads to know how many of the oldest documents to delete.
//!
//! A position is the LSN of the record that inserted the document and the index of
//! the operation within it, big-endian, so positions sort as the log does. Rows are
//! versions like any others: each branch and each past point has its own order, and
//! history collection keeps what is needed.

use bson::Document;

use super::engine::{Staged, Table};
use super::tables;
use super::view::{pick, scan_prefix, View};
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::wal::BranchId;

const ORDER: u8 = 1;
const POSITION: u8 = 2;
const TOTALS: u8 = 3;

/// Width of a position: LSN (8) and operation index (4).
pub const POSITION_LEN: usize = 12;

/// Whether a collection's options make it capped.
pub fn is_capped(options: &Document) -> bool {
    options.get_bool("capped").unwrap_or(false)
}

/// The limits of a capped collection: its `size` in bytes and its `max` documents
/// (`None`: no limit on the count).
pub fn limits(options: &Document) -> (u64, Option<u64>) {
    let number = |name: &str| options.get(name).and_then(crate::index::whole_number).filter(|n| *n > 0);
    (number("size").unwrap_or(i64::MAX) as u64, number("max").map(|n| n as u64))
}

/// How many documents a capped collection holds, and their BSON bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Totals {
    pub count: u64,
    pub bytes: u64,
}

impl Totals {
    fn to_bytes(self) -> Vec<u8> {
        [self.count.to_be_bytes(), self.bytes.to_be_bytes()].concat()
    }

    fn from_bytes(bytes: &[u8]) -> Result<Totals> {
        let corrupt = || Error::Store("bad capped collection totals".into());
        let count = u64::from_be_bytes(bytes.get(..8).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?);
        let bytes = u64::from_be_bytes(bytes.get(8..16).ok_or_else(corrupt)?.try_into().map_err(|_| corrupt())?);
        Ok(Totals { count, bytes })
    }

    /// Whether a collection with these totals is over `limits`.
    pub fn over(&self, (size, max): (u64, Option<u64>)) -> bool {
        self.bytes > size || max.is_some_and(|max| self.count > max)
    }
}

fn prefix(collection: u64, kind: u8) -> Vec<u8> {
    let mut key = tables::id_prefix(collection);
    key.push(kind);
    key
}

fn order_prefix(collection: u64, position: &[u8], encoded_id: &[u8]) -> Vec<u8> {
    [&prefix(collection, ORDER)[..], position, encoded_id].concat()
}

fn position_prefix(collection: u64, encoded_id: &[u8]) -> Vec<u8> {
    [&prefix(collection, POSITION)[..], encoded_id].concat()
}

/// The position of the `op`th operation of the record at `lsn`.
pub fn position(lsn: Lsn, op: u32) -> [u8; POSITION_LEN] {
    let mut position = [0u8; POSITION_LEN];
    position[..8].copy_from_slice(&lsn.0.to_be_bytes());
    position[8..].copy_from_slice(&op.to_be_bytes());
    position
}

/// What one record does to a capped collection's rows, on one branch at one LSN.
pub(super) struct Rows<'a> {
    pub staged: &'a mut Staged,
    pub chain: &'a [(BranchId, Lsn)],
    pub branch: u64,
    pub lsn: Lsn,
}

impl Rows<'_> {
    fn pick(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        pick(self.chain, |visit| scan_prefix(&*self.staged, Table::Indexes, prefix, visit))
    }

    fn put(&mut self, prefix: &[u8], value: Vec<u8>) {
        self.staged.put(Table::Indexes, tables::version_key(prefix, self.branch, self.lsn), value);
    }

    /// Records that the document `encoded_id` of `collection` went from `before`
    /// to `after` BSON bytes (`None`: absent), written by operation `op` of the
    /// record: a new document takes the next place in the order, a deleted one
    /// leaves it, an updated one keeps it.
    pub fn write(
        &mut self,
        collection: u64,
        encoded_id: &[u8],
        before: Option<usize>,
        after: Option<usize>,
        op: u32,
    ) -> Result<()> {
        let totals_key = prefix(collection, TOTALS);
        let mut totals = self.pick(&totals_key)?.map(|b| Totals::from_bytes(&b)).transpose()?.unwrap_or_default();
        totals.bytes = (totals.bytes + after.unwrap_or(0) as u64).saturating_sub(before.unwrap_or(0) as u64);
        match (before, after) {
            (None, Some(_)) => {
                totals.count += 1;
                let position = position(self.lsn, op);
                self.put(&order_prefix(collection, &position, encoded_id), encoded_id.to_vec());
                self.put(&position_prefix(collection, encoded_id), position.to_vec());
            }
            (Some(_), None) => {
                totals.count = totals.count.saturating_sub(1);
                let at = position_prefix(collection, encoded_id);
                if let Some(position) = self.pick(&at)? {
                    self.put(&order_prefix(collection, &position, encoded_id), Vec::new());
                }
                self.put(&at, Vec::new());
            }
            _ => {}
        }
        self.put(&totals_key, totals.to_bytes());
        Ok(())
    }
}

impl View {
    /// The number of documents of capped collection `collection` and their bytes.
    pub fn capped_totals(&self, collection: u64) -> Result<Totals> {
        let key = prefix(collection, TOTALS);
        let bytes = pick(&self.snapshot.chain, |visit| scan_prefix(self.engine(), Table::Indexes, &key, visit))?;
        bytes.map(|b| Totals::from_bytes(&b)).transpose().map(Option::unwrap_or_default)
    }

    /// Calls `each` with the place (position and encoded `_id`, to resume after)
    /// and the encoded `_id` of every document of capped collection `collection`,
    /// oldest first or, when `reverse`, newest first, starting past the place
    /// `after`, until it returns `false`.
    pub fn scan_insertion_order(
        &self,
        collection: u64,
        after: Option<&[u8]>,
        reverse: bool,
        each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let start = prefix(collection, ORDER);
        let end = tables::prefix_end(&start);
        self.scan_runs(Table::Indexes, &start, &end, after, reverse, each)
    }

    /// Whether the document at `place` (as [`View::scan_insertion_order`] gives
    /// it) is still in capped collection `collection`.
    pub fn holds_place(&self, collection: u64, place: &[u8]) -> Result<bool> {
        let key = [&prefix(collection, ORDER)[..], place].concat();
        let found = pick(&self.snapshot.chain, |visit| scan_prefix(self.engine(), Table::Indexes, &key, visit))?;
        Ok(found.is_some())
    }
}

/// A place as MongoDB names a record: `RecordId(<n>)`, with the LSN in the high
/// bits and the operation's index in the low 20 (as far as they fit).
pub fn describe_place(place: &[u8]) -> String {
    let number = |range: std::ops::Range<usize>| {
        place.get(range).map_or(0, |b| b.iter().fold(0u64, |n, byte| (n << 8) | u64::from(*byte)))
    };
    let (lsn, op) = (number(0..8), number(8..POSITION_LEN));
    format!("RecordId({})", (lsn << 20) | (op & 0xF_FFFF))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_sort_as_the_log_does() {
        assert!(position(Lsn(2), 9) < position(Lsn(3), 0));
        assert!(position(Lsn(3), 0) < position(Lsn(3), 1));
        assert!(position(Lsn(3), 1) < position(Lsn(3), 256));
    }

    #[test]
    fn totals_say_when_a_collection_is_over_its_limits() {
        let totals = Totals { count: 3, bytes: 100 };
        assert!(!totals.over((100, None)));
        assert!(totals.over((99, None)));
        assert!(totals.over((1000, Some(2))));
        assert!(!totals.over((1000, Some(3))));
        assert_eq!(Totals::from_bytes(&totals.to_bytes()).ok(), Some(totals));
    }
}
