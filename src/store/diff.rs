//! What differs between two states of one database (SPEC §3.1 `diff`), found from
//! the changes table: the cost follows the documents that changed, not the data.
//!
//! A collection is compared by name. When both states hold it under the same id,
//! only the documents with versions in the differing ranges are read
//! ([`super::changes`]); when the ids differ (it was created, dropped or re-created
//! on one side), every document of it is a candidate, which is exactly what changed.

use std::collections::{BTreeMap, BTreeSet};

use super::changes;
use super::view::View;
use crate::error::{Error, ErrorCode, Result};

/// The documents of one collection that may differ.
#[derive(Debug, Clone)]
pub struct Candidates {
    pub name: String,
    /// The collection's id on each side (`None`: absent there).
    pub from: Option<u64>,
    pub to: Option<u64>,
    /// Encoded `_id`s, in `_id` order.
    pub ids: Vec<Vec<u8>>,
}

/// One document that differs: its bytes on each side (`None`: absent).
#[derive(Debug, Clone, PartialEq)]
pub struct Difference {
    pub collection: String,
    pub encoded_id: Vec<u8>,
    pub before: Option<Vec<u8>>,
    pub after: Option<Vec<u8>>,
}

/// The candidates of a diff, per collection in name order, and how many keys were
/// read to find them (changes rows and, for collections whose ids differ, documents).
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub collections: Vec<Candidates>,
    pub keys_read: u64,
}

impl Plan {
    /// How many documents may differ.
    pub fn len(&self) -> usize {
        self.collections.iter().map(|c| c.ids.len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// The documents that may differ between `from` and `to` (views over one engine
/// state), in every collection or only in `only`.
pub fn plan(from: &View, to: &View, only: Option<&str>) -> Result<Plan> {
    let ranges = changes::differing(&from.snapshot.chain, &to.snapshot.chain);
    let mut sides: BTreeMap<String, (Option<u64>, Option<u64>)> = BTreeMap::new();
    for collection in from.collections()? {
        sides.entry(collection.name).or_default().0 = Some(collection.id);
    }
    for collection in to.collections()? {
        sides.entry(collection.name).or_default().1 = Some(collection.id);
    }
    let mut plan = Plan::default();
    for (name, (before, after)) in sides {
        if only.is_some_and(|only| only != name) {
            continue;
        }
        let ids = match (before, after) {
            (Some(a), Some(b)) if a == b => {
                let (ids, rows) = changes::changed_ids(from.engine(), a, &ranges)?;
                plan.keys_read += rows;
                ids
            }
            _ => {
                let mut ids = BTreeSet::new();
                for (view, collection) in [(from, before), (to, after)] {
                    let Some(collection) = collection else { continue };
                    view.scan_bytes(collection, None, |id, _| {
                        plan.keys_read += 1;
                        ids.insert(id.to_vec());
                        Ok(true)
                    })?;
                }
                ids
            }
        };
        if !ids.is_empty() {
            plan.collections.push(Candidates { name, from: before, to: after, ids: ids.into_iter().collect() });
        }
    }
    Ok(plan)
}

/// Reads a candidate on both sides: `None` when they hold the same bytes.
pub fn compare(
    from: &View,
    to: &View,
    name: &str,
    ids: (Option<u64>, Option<u64>),
    encoded_id: &[u8],
) -> Result<Option<Difference>> {
    let read = |view: &View, collection: Option<u64>| match collection {
        Some(collection) => view.get_raw(collection, encoded_id),
        None => Ok(None),
    };
    let before = read(from, ids.0)?;
    let after = read(to, ids.1)?;
    Ok((before != after).then(|| Difference {
        collection: name.to_owned(),
        encoded_id: encoded_id.to_vec(),
        before,
        after,
    }))
}

/// Every document that differs between `from` and `to`, read at once (a merge's
/// sides; a `diff` cursor reads its candidates a batch at a time), as long as their
/// bytes stay within `limit`: past it, `TransactionTooLarge` (257).
pub fn differences(from: &View, to: &View, only: Option<&str>, limit: usize) -> Result<Vec<Difference>> {
    let plan = plan(from, to, only)?;
    let mut found = Vec::new();
    let mut bytes = 0usize;
    for candidates in &plan.collections {
        for id in &candidates.ids {
            let Some(difference) = compare(from, to, &candidates.name, (candidates.from, candidates.to), id)? else {
                continue;
            };
            bytes += difference.before.as_ref().map_or(0, Vec::len) + difference.after.as_ref().map_or(0, Vec::len);
            if bytes > limit {
                return Err(Error::command(
                    ErrorCode::TransactionTooLarge,
                    format!(
                        "the changes to merge hold more than {} MiB of documents; merge in smaller steps",
                        limit >> 20
                    ),
                ));
            }
            found.push(difference);
        }
    }
    Ok(found)
}
