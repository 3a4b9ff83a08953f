//! Where a query's results come from, as a cursor reads them.

use std::collections::VecDeque;

use crate::cursor::Source;
use crate::error::{Error, ErrorCode, Result};
use crate::memory::Reservation;
use crate::operations::Interrupt;
use crate::query::plan::{Access, Plan};
use crate::query::{Filter, Sort};
use crate::store::{Collection, Natural, View};
use crate::value::size::document_footprint;

/// Where a `find` counts the matches it reads at once, and the most a sort of them
/// may hold (`None`: `allowDiskUse`).
pub struct Holding<'a> {
    pub held: &'a mut Reservation,
    pub sort_limit: Option<usize>,
    /// The most results the query returns (its skip and limit), when it has a
    /// limit: a nearest-first read stops there.
    pub wanted: Option<usize>,
}

/// The source of a `find`'s results: a scan or an index's candidates that a cursor
/// streams batch by batch when the plan reads in the wanted order, otherwise the
/// matches read now (and sorted, when the plan does not give the order; a failure
/// to sort is reported as MongoDB's find executor reports it). Matches read now are
/// counted in `memory`; a sort holding more than its limit fails (292), and none is
/// given with `allowDiskUse` (the matches stay in memory, within the budget).
pub fn find_source(
    view: &View,
    collection: &Collection,
    plan: &Plan,
    filter: &Filter,
    sort: Option<&Sort>,
    interrupt: &Interrupt<'_>,
    memory: Holding<'_>,
) -> Result<Source> {
    let Holding { held, sort_limit, wanted } = memory;
    let streams = sort.is_none() || plan.sorted;
    match &plan.access {
        Access::CollectionScan { backwards } if streams => {
            Ok(Source::Scan { collection: collection.id, order: Natural::of(collection, *backwards), after: None })
        }
        Access::IndexScan(scan) if streams => {
            let mut ids = VecDeque::new();
            let mut keys = 0;
            super::index_ids(view, scan, &mut keys, |id| {
                if ids.len().is_multiple_of(4096) {
                    interrupt.check()?;
                }
                ids.push_back(id.to_vec());
                Ok(true)
            })?;
            Ok(Source::Ids { collection: collection.id, ids })
        }
        // The nearest first, as `_id`s the cursor reads a batch at a time.
        Access::Near(scan) if streams => {
            let mut ids = VecDeque::new();
            super::nearest(view, collection, scan, filter, interrupt, wanted, |_, id| {
                ids.push_back(id.to_vec());
                Ok(true)
            })?;
            Ok(Source::Ids { collection: collection.id, ids })
        }
        _ => {
            let mut found = Vec::new();
            let sorting = sort.is_some() && !plan.sorted;
            super::walk(view, collection, plan, filter, interrupt, |doc| {
                held.grow(document_footprint(&doc))?;
                if let Some(limit) = sort_limit.filter(|&limit| sorting && held.bytes() > limit) {
                    return Err(Error::command(
                        ErrorCode::QueryExceededMemoryLimitNoDiskUseAllowed,
                        format!("Sort exceeded memory limit of {limit} bytes, but did not opt in to external sorting."),
                    )
                    .caused_by("Executor error during find command"));
                }
                found.push(doc);
                Ok(true)
            })?;
            if let Some(sort) = sort.filter(|_| !plan.sorted) {
                found = sort.sort(found).map_err(|e| e.caused_by("Executor error during find command"))?;
            }
            Ok(Source::Ready(found.into()))
        }
    }
}
