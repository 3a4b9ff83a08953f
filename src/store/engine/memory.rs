//! An engine in memory: ordered maps shared copy-on-write with the snapshots that
//! read them. It remembers what was last made durable, so a test can [`crash`] it
//! and find only that, as after a crash of a process using a disk engine.
//!
//! [`crash`]: MemoryEngine::crash

use std::collections::BTreeMap;
use std::ops::Bound;
use std::sync::{Arc, Mutex, MutexGuard};

use super::{is_empty_range, Engine, Snapshot, Table, Visit, WriteBatch};
use crate::error::Result;

type Tables = [BTreeMap<Vec<u8>, Vec<u8>>; Table::ALL.len()];

#[derive(Default)]
struct State {
    current: Arc<Tables>,
    durable: Arc<Tables>,
}

/// The in-memory engine. Cheap to share behind an `Arc`.
#[derive(Default)]
pub struct MemoryEngine {
    state: Mutex<State>,
}

impl MemoryEngine {
    pub fn new() -> MemoryEngine {
        MemoryEngine::default()
    }

    /// Forgets every commit made since the last durable one.
    pub fn crash(&self) {
        let mut state = self.lock();
        state.current = state.durable.clone();
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Engine for MemoryEngine {
    fn snapshot(&self) -> Result<Box<dyn Snapshot>> {
        Ok(Box::new(MemorySnapshot(self.lock().current.clone())))
    }

    fn commit_all(&self, batches: &[&WriteBatch], durable: bool) -> Result<()> {
        let mut state = self.lock();
        // Copies the maps only while a snapshot still reads them.
        let tables = Arc::make_mut(&mut state.current);
        for batch in batches {
            for table in Table::ALL {
                let map = &mut tables[table.slot()];
                for (key, value) in batch.changes(table) {
                    match value {
                        Some(value) => map.insert(key.clone(), value.clone()),
                        None => map.remove(key),
                    };
                }
            }
        }
        if durable {
            state.durable = state.current.clone();
        }
        Ok(())
    }

    fn flush(&self) -> Result<()> {
        let mut state = self.lock();
        state.durable = state.current.clone();
        Ok(())
    }

    fn key_count(&self, table: Table) -> Result<Option<u64>> {
        Ok(Some(self.lock().current[table.slot()].len() as u64))
    }

    /// Maps hold no free space.
    fn free_bytes(&self) -> Result<u64> {
        Ok(0)
    }

    fn compact(&self) -> Result<Option<u64>> {
        Ok(Some(0))
    }
}

struct MemorySnapshot(Arc<Tables>);

impl Snapshot for MemorySnapshot {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        Ok(self.0[table.slot()].get(key).cloned())
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
        let range = self.0[table.slot()].range::<[u8], _>((lower, upper));
        let mut each = |(k, v): (&Vec<u8>, &Vec<u8>)| visit(k, v);
        match reverse {
            false => run(range, &mut each),
            true => run(range.rev(), &mut each),
        }
    }
}

fn run<'a>(
    entries: impl Iterator<Item = (&'a Vec<u8>, &'a Vec<u8>)>,
    each: &mut impl FnMut((&'a Vec<u8>, &'a Vec<u8>)) -> Result<bool>,
) -> Result<()> {
    for entry in entries {
        if !each(entry)? {
            break;
        }
    }
    Ok(())
}
