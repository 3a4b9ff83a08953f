//! Write batches read through, laid over a snapshot: what a batch puts or deletes
//! shows in place of the snapshot's entries. The store applies log records into a
//! [`Staged`] batch, so a record (or a run of replayed records) sees its own
//! changes before the engine commits them; an [`Overlay`] lays a finished batch
//! the engine has not taken yet over it for readers.

use std::iter::Peekable;
use std::ops::Bound;
use std::sync::{Arc, RwLock};

use super::{is_empty_range, Snapshot, Table, Visit, WriteBatch};
use crate::error::Result;

pub struct Staged {
    base: Box<dyn Snapshot>,
    batch: WriteBatch,
}

impl Staged {
    pub fn new(base: Box<dyn Snapshot>) -> Staged {
        Staged { base, batch: WriteBatch::default() }
    }

    pub fn put(&mut self, table: Table, key: Vec<u8>, value: Vec<u8>) {
        self.batch.put(table, key, value);
    }

    pub fn delete(&mut self, table: Table, key: Vec<u8>) {
        self.batch.delete(table, key);
    }

    pub fn into_batch(self) -> WriteBatch {
        self.batch
    }

    /// The changes so far, leaving none.
    pub fn take_batch(&mut self) -> WriteBatch {
        std::mem::take(&mut self.batch)
    }
}

/// Reads see the snapshot with the batch laid on it.
impl Snapshot for Staged {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get_through(&*self.base, &self.batch, table, key)
    }

    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        scan_through(&*self.base, &self.batch, table, (lower, upper), reverse, visit)
    }
}

/// A finished batch, shared, laid over a snapshot.
pub struct Overlay {
    base: Box<dyn Snapshot>,
    batch: Arc<WriteBatch>,
}

impl Overlay {
    pub fn new(base: Box<dyn Snapshot>, batch: Arc<WriteBatch>) -> Overlay {
        Overlay { base, batch }
    }
}

impl Snapshot for Overlay {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        get_through(&*self.base, &self.batch, table, key)
    }

    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        scan_through(&*self.base, &self.batch, table, (lower, upper), reverse, visit)
    }
}

fn get_through(base: &dyn Snapshot, batch: &WriteBatch, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
    match batch.changes(table).get(key) {
        Some(change) => Ok(change.clone()),
        None => base.get(table, key),
    }
}

fn scan_through(
    base: &dyn Snapshot,
    batch: &WriteBatch,
    table: Table,
    (lower, upper): (Bound<&[u8]>, Bound<&[u8]>),
    reverse: bool,
    visit: &mut Visit<'_>,
) -> Result<()> {
    if is_empty_range(lower, upper) {
        return Ok(());
    }
    let changes = batch.changes(table).range::<[u8], _>((lower, upper));
    let scan = |visit: &mut Visit<'_>| base.scan(table, lower, upper, reverse, visit);
    match reverse {
        false => merge(scan, false, changes.peekable(), visit),
        true => merge(scan, true, changes.rev().peekable(), visit),
    }
}

/// Visits the entries `scan` yields with `changes` (in the scan's direction) laid
/// over them.
fn merge<'c>(
    scan: impl FnOnce(&mut Visit<'_>) -> Result<()>,
    reverse: bool,
    mut changes: Peekable<impl Iterator<Item = (&'c Vec<u8>, &'c Option<Vec<u8>>)>>,
    visit: &mut Visit<'_>,
) -> Result<()> {
    // Whether `a` comes before `b` in the scan's direction.
    let before = |a: &[u8], b: &[u8]| if reverse { a > b } else { a < b };
    let mut stopped = false;
    scan(&mut |key, value| {
        while let Some((changed, change)) = changes.next_if(|(k, _)| before(k, key)) {
            if let Some(v) = change {
                if !visit(changed, v)? {
                    stopped = true;
                    return Ok(false);
                }
            }
        }
        let go_on = match changes.next_if(|(k, _)| k.as_slice() == key) {
            Some((_, Some(v))) => visit(key, v)?,
            Some((_, None)) => true,
            None => visit(key, value)?,
        };
        stopped = !go_on;
        Ok(go_on)
    })?;
    if !stopped {
        for (key, change) in changes {
            if let Some(v) = change {
                if !visit(key, v)? {
                    break;
                }
            }
        }
    }
    Ok(())
}

/// A `Staged` several readers share while one writer adds to it (a transaction's
/// overlay, the store's group of records not yet committed): each read holds the
/// lock for its own duration only.
#[derive(Clone)]
pub struct Shared(pub Arc<RwLock<Staged>>);

impl Shared {
    pub fn new(staged: Staged) -> Shared {
        Shared(Arc::new(RwLock::new(staged)))
    }

    pub fn write(&self) -> std::sync::RwLockWriteGuard<'_, Staged> {
        self.0.write().unwrap_or_else(|p| p.into_inner())
    }
}

impl Snapshot for Shared {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).get(table, key)
    }

    fn scan(
        &self,
        table: Table,
        lower: Bound<&[u8]>,
        upper: Bound<&[u8]>,
        reverse: bool,
        visit: &mut Visit<'_>,
    ) -> Result<()> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).scan(table, lower, upper, reverse, visit)
    }
}
