//! The engine on object storage: the store's tables in the SlateDB database of
//! [`crate::objects`], one keyspace in which a key is its table's tag byte and then
//! the table's own key, so each table's keys order as their bytes, apart from the
//! others and from the log's records (`wal/objects.rs`, under a tag of its own).
//!
//! The changes that apply a record are written by the log, in the record's own
//! write ([`Engine::in_log_database`]); a commit here (history collection,
//! replaying an older log) is one SlateDB write batch, and a durable one waits
//! until SlateDB says it is in object storage. SlateDB persists writes in order on
//! its own schedule (its flush interval), so whatever is durable is a prefix of
//! the writes, records and commits alike.

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::Arc;

use super::{is_empty_range, Engine, Snapshot, Table, Visit, WriteBatch};
use crate::error::Result;
use crate::objects::{ObjectSnapshot, Objects};
use crate::wal::Carried;

/// The SlateDB engine.
pub struct SlateEngine {
    objects: Arc<Objects>,
}

impl SlateEngine {
    pub fn new(objects: Arc<Objects>) -> SlateEngine {
        SlateEngine { objects }
    }
}

impl Engine for SlateEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(SlateSnapshot(self.objects.snapshot()?)))
    }

    fn commit_all(&self, batches: &[&WriteBatch], durable: bool) -> Result<()> {
        // The batches laid over each other, so that a later change of a key wins;
        // the values are borrowed, not copied.
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
        let written = self.objects.write(changes)?;
        match durable {
            true => self.objects.await_durable(&written),
            false => Ok(()),
        }
    }

    fn flush(&self) -> Result<()> {
        self.objects.flush()
    }

    fn in_log_database(&self, batch: WriteBatch) -> Option<Carried> {
        Some(batch.into_changes().map(|(table, key, value)| (tagged(table, &key), value)).collect())
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

struct SlateSnapshot(ObjectSnapshot);

impl Snapshot for SlateSnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0.get(tagged(table, key))?.map(|v| v.to_vec()))
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
        for entry in self.0.scan(lower, upper, reverse) {
            let (key, value) = entry?;
            if !visit(&key[1..], &value)? {
                break;
            }
        }
        Ok(())
    }
}

/// A table's tag: its slot, below the log's tag (`wal/objects.rs`).
fn tag(table: Table) -> u8 {
    table.slot() as u8
}

fn tagged(table: Table, key: &[u8]) -> Vec<u8> {
    let mut tagged = Vec::with_capacity(key.len() + 1);
    tagged.push(tag(table));
    tagged.extend_from_slice(key);
    tagged
}
