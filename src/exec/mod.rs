//! Running plans over a view: the documents of a collection that a filter
//! matches, read as the planner (`query::plan`) chose or a `hint` said (one `_id`
//! lookup, an index's entries within key ranges, or a scan), with the operation's
//! interrupt checked as the reading goes. Commands, the TTL expirer and cursors
//! read documents through here; nothing here knows a command or a connection.

mod near;
mod source;

use std::collections::HashSet;

use bson::{Bson, Document};

use crate::error::Result;
use crate::operations::Interrupt;
use crate::query::plan::{self, Access, IndexScan, Plan};
use crate::query::sort::SortKey;
use crate::query::{Filter, Sort};
use crate::store::{Collection, Natural, View};

pub use near::nearest;
pub use source::{find_source, Holding};

/// What walking a plan examined, for `explain`'s `executionStats`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Examined {
    /// Index entries read.
    pub keys: u64,
    /// Documents read.
    pub docs: u64,
    /// Documents that matched.
    pub returned: u64,
}

/// The documents a statement reaches: those matching its filter, read through the
/// index its `hint` names (a hinted sparse or partial index reaches only the
/// documents it holds, as in MongoDB) or the planner's choice.
pub struct Target {
    pub filter: Filter,
    pub hint: Option<Bson>,
}

/// Calls `visit` with each document of `collection` that `target` reaches until
/// it returns `false`, reading them the way the planner chooses (or the hint says);
/// `planned` is told the plan first.
pub fn each(
    view: &View,
    collection: &Collection,
    target: &Target,
    interrupt: &Interrupt<'_>,
    planned: &dyn Fn(&Plan),
    visit: impl FnMut(Document) -> Result<bool>,
) -> Result<()> {
    let plan = plan::choose(collection, &target.filter, None, target.hint.as_ref())?;
    planned(&plan);
    walk(view, collection, &plan, &target.filter, interrupt, visit).map(|_| ())
}

/// The first document of `collection` that `target` reaches, in `sort` order when
/// there is one (else in the order the plan reads them).
pub fn first(
    view: &View,
    collection: &Collection,
    target: &Target,
    sort: Option<&Sort>,
    interrupt: &Interrupt<'_>,
    planned: &dyn Fn(&Plan),
) -> Result<Option<Document>> {
    let Some(sort) = sort else {
        let mut first = None;
        each(view, collection, target, interrupt, planned, |doc| {
            first = Some(doc);
            Ok(false)
        })?;
        return Ok(first);
    };
    let mut best: Option<(SortKey, Document)> = None;
    each(view, collection, target, interrupt, planned, |doc| {
        let key = sort.key(&doc)?;
        if best.as_ref().is_none_or(|(best_key, _)| sort.compare_keys(&key, best_key).is_lt()) {
            best = Some((key, doc));
        }
        Ok(true)
    })?;
    Ok(best.map(|(_, doc)| doc))
}

/// Calls `visit` with each document of `collection` matching `filter`, in the
/// order `plan` reads them, until it returns `false`. Checks the interrupt as it
/// goes.
pub fn walk(
    view: &View,
    collection: &Collection,
    plan: &Plan,
    filter: &Filter,
    interrupt: &Interrupt<'_>,
    mut visit: impl FnMut(Document) -> Result<bool>,
) -> Result<Examined> {
    let mut examined = Examined::default();
    let mut offer = |doc: Document, examined: &mut Examined| -> Result<bool> {
        examined.docs += 1;
        if examined.docs.is_multiple_of(1024) {
            interrupt.check()?;
        }
        if !filter.try_matches(&doc)? {
            return Ok(true);
        }
        examined.returned += 1;
        visit(doc)
    };
    match &plan.access {
        Access::IdLookup(id) => {
            if let Some(doc) = view.get(collection.id, id)? {
                offer(doc, &mut examined)?;
            }
        }
        Access::CollectionScan { backwards } => view.scan_filtered(
            collection.id,
            Natural::of(collection, *backwards),
            None,
            |raw| filter.rejects_raw(raw),
            |_, doc| match doc {
                Some(doc) => offer(doc, &mut examined),
                None => {
                    examined.docs += 1;
                    Ok(true)
                }
            },
        )?,
        Access::IndexScan(scan) => {
            let mut keys = 0;
            index_ids(view, scan, &mut keys, |id| match view.get_encoded(collection.id, id)? {
                Some(doc) => offer(doc, &mut examined),
                None => Ok(true),
            })?;
            examined.keys = keys;
        }
        Access::Near(scan) => {
            // The search checks the filter itself; documents come nearest first.
            return nearest(view, collection, scan, filter, interrupt, None, |_, id| {
                match view.get_encoded(collection.id, id)? {
                    Some(doc) => visit(doc),
                    None => Ok(true),
                }
            });
        }
    }
    Ok(examined)
}

/// Calls `each` with the encoded `_id` of each document an index scan reaches,
/// once each, in the scan's order, until it returns `false`; counts the entries
/// read in `keys`.
pub fn index_ids(
    view: &View,
    scan: &IndexScan,
    keys: &mut u64,
    mut each: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<()> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut more = true;
    let ranges: Box<dyn Iterator<Item = &(Vec<u8>, Vec<u8>)>> = match scan.reverse {
        false => Box::new(scan.ranges.iter()),
        true => Box::new(scan.ranges.iter().rev()),
    };
    for (lower, upper) in ranges {
        view.index_scan(scan.index.id, lower, upper, scan.reverse, |_, id| {
            *keys += 1;
            // A multikey index holds a document once per key.
            if scan.index.multikey && !seen.insert(id.to_vec()) {
                return Ok(true);
            }
            more = each(id)?;
            Ok(more)
        })?;
        if !more {
            break;
        }
    }
    Ok(())
}
