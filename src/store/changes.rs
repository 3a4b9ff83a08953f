//! Which documents differ between two states of a database, found from the
//! changes table (`tables.rs`: per branch, collection and record, the `_id`s it
//! changed) without reading the documents that are the same.
//!
//! Two states are two chains of `(branch, bound)`. The branches both chains hold are
//! the same ancestors in the same order (branches form a tree), so a document that
//! has no version in the ranges below looks the same from both: for each branch in
//! one chain only, all its versions up to its bound; for each branch in both with
//! different bounds, the versions between them.

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Bound;

use super::engine::{Engine, Snapshot, Table, WriteBatch};
use super::tables;
use crate::error::Result;
use crate::lsn::Lsn;
use crate::wal::BranchId;

/// Versions of `branch` with `after < LSN <= through` may tell two states apart.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Range {
    pub branch: BranchId,
    pub after: Lsn,
    pub through: Lsn,
}

/// The ranges of versions that can make chains `a` and `b` see a document
/// differently.
pub fn differing(a: &[(BranchId, Lsn)], b: &[(BranchId, Lsn)]) -> Vec<Range> {
    let bound_in = |chain: &[(BranchId, Lsn)], branch| chain.iter().find(|(id, _)| *id == branch).map(|&(_, l)| l);
    let mut ranges = Vec::new();
    for &(branch, bound) in a {
        match bound_in(b, branch) {
            None => ranges.push(Range { branch, after: Lsn::ZERO, through: bound }),
            Some(other) if other != bound => {
                ranges.push(Range { branch, after: bound.min(other), through: bound.max(other) })
            }
            Some(_) => {}
        }
    }
    for &(branch, bound) in b {
        if bound_in(a, branch).is_none() {
            ranges.push(Range { branch, after: Lsn::ZERO, through: bound });
        }
    }
    ranges
}

/// The encoded `_id`s of the documents of collection `collection` that have a
/// version in one of `ranges`, in `_id` order, and how many keys were read (changes
/// rows, and the `_id`s they held).
pub fn changed_ids(engine: &dyn Snapshot, collection: u64, ranges: &[Range]) -> Result<(BTreeSet<Vec<u8>>, u64)> {
    let mut ids = BTreeSet::new();
    let mut read = 0u64;
    for range in ranges {
        if range.through <= range.after {
            continue;
        }
        let start = tables::change_key(range.branch.0, collection, range.after.next());
        let end = match range.through.0.checked_add(1) {
            Some(past) => tables::change_key(range.branch.0, collection, Lsn(past)),
            None => tables::change_key(range.branch.0, collection.saturating_add(1), Lsn::ZERO),
        };
        engine.scan(Table::Changes, Bound::Included(&start), Bound::Excluded(&end), false, &mut |_, row| {
            read += 1;
            for id in tables::changed_ids(row) {
                read += 1;
                ids.insert(id.to_vec());
            }
            Ok(true)
        })?;
    }
    Ok((ids, read))
}

/// Takes the `_id`s of collected document versions (their keys) out of their
/// changes rows, deleting rows left empty: into `batch`, read from `engine`.
pub fn forget_versions(engine: &dyn Snapshot, doc_keys: &[Vec<u8>], batch: &mut WriteBatch) -> Result<()> {
    let mut gone: BTreeMap<Vec<u8>, BTreeSet<&[u8]>> = BTreeMap::new();
    for key in doc_keys {
        if let Some((row, id)) = tables::change_of_version(key) {
            gone.entry(row).or_default().insert(id);
        }
    }
    for (row, ids) in gone {
        let Some(value) = engine.get(Table::Changes, &row)? else { continue };
        let mut kept = Vec::new();
        for id in tables::changed_ids(&value).filter(|id| !ids.contains(id)) {
            tables::push_changed_id(&mut kept, id);
        }
        match kept.is_empty() {
            true => batch.delete(Table::Changes, row),
            false => batch.put(Table::Changes, row, kept),
        }
    }
    Ok(())
}

/// Document versions read per engine transaction while indexing an older store.
const INDEX_CHUNK: usize = 10_000;

/// Gives a store written before the changes table its rows, from one scan of its
/// document versions, once (the mark is saved with the last rows; a crash before
/// the next checkpoint only means doing it again: a row is rebuilt whole from the
/// versions, so doing it twice changes nothing).
pub fn index_existing(engine: &dyn Engine) -> Result<()> {
    if engine.snapshot()?.get(Table::Meta, tables::META_CHANGES_INDEXED.as_bytes())?.is_some() {
        return Ok(());
    }
    let started = std::time::Instant::now();
    // Rows gather `_id`s from anywhere in the scan (the documents table is in `_id`
    // order, the rows by LSN): built in memory a chunk at a time, each chunk's
    // `_id`s added to what the engine's rows hold so far. A first pass clears rows
    // a crashed earlier run left half-built.
    let mut stale = WriteBatch::default();
    engine.snapshot()?.scan(Table::Changes, Bound::Unbounded, Bound::Unbounded, false, &mut |key, _| {
        stale.delete(Table::Changes, key.to_vec());
        Ok(true)
    })?;
    engine.commit(&stale, false)?;
    let mut resume: Option<Vec<u8>> = None;
    let mut indexed = 0u64;
    loop {
        let mut rows: BTreeMap<Vec<u8>, Vec<Vec<u8>>> = BTreeMap::new();
        let mut next = None;
        let mut seen = 0usize;
        let lower = resume.as_deref().map_or(Bound::Unbounded, Bound::Excluded);
        engine.snapshot()?.scan(Table::Docs, lower, Bound::Unbounded, false, &mut |key, _| {
            if let Some((row, id)) = tables::change_of_version(key) {
                rows.entry(row).or_default().push(id.to_vec());
            }
            seen += 1;
            if seen >= INDEX_CHUNK {
                next = Some(key.to_vec());
                return Ok(false);
            }
            Ok(true)
        })?;
        indexed += seen as u64;
        let snapshot = engine.snapshot()?;
        let mut batch = WriteBatch::default();
        for (row, ids) in rows {
            let mut value = snapshot.get(Table::Changes, &row)?.unwrap_or_default();
            for id in ids {
                tables::push_changed_id(&mut value, &id);
            }
            batch.put(Table::Changes, row, value);
        }
        if next.is_none() {
            batch.put(Table::Meta, tables::META_CHANGES_INDEXED.as_bytes().to_vec(), 1u64.to_be_bytes().to_vec());
        }
        engine.commit(&batch, false)?;
        match next {
            Some(key) => resume = Some(key),
            None => break,
        }
    }
    if indexed > 0 {
        tracing::info!(
            versions = indexed,
            ms = started.elapsed().as_millis() as u64,
            "indexed the changes of an older store"
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_what_only_one_side_sees_and_the_gap_between_shared_bounds() {
        let (main, a, b) = (BranchId(1), BranchId(2), BranchId(3));
        // Siblings a (based at 10) and b (at 30) of main.
        let ranges = differing(&[(a, Lsn(50)), (main, Lsn(10))], &[(b, Lsn(60)), (main, Lsn(30))]);
        assert_eq!(
            ranges,
            vec![
                Range { branch: a, after: Lsn::ZERO, through: Lsn(50) },
                Range { branch: main, after: Lsn(10), through: Lsn(30) },
                Range { branch: b, after: Lsn::ZERO, through: Lsn(60) },
            ]
        );
        // The same state: nothing to read.
        assert!(differing(&[(a, Lsn(5)), (main, Lsn(5))], &[(a, Lsn(5)), (main, Lsn(5))]).is_empty());
    }
}
