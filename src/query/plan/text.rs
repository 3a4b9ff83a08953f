//! Planning a `$text` query: it reads the collection's text index for each of the
//! search's terms (after the equalities the filter gives the index's prefix
//! fields), or, when the `$text` sits under an `$or` whose other branches have
//! indexes (291 otherwise, as MongoDB), scans the collection (each document is
//! matched against the whole search either way).

use bson::{Bson, Document};

use super::{Access, IndexScan, Plan};
use crate::error::{Error, ErrorCode, Result};
use crate::index::{encode_field, Index};
use crate::query::Filter;
use crate::store::{prefix_end, Collection};

/// The plan of a filter with `$text`, bound to the collection's text index.
pub(super) fn plan(collection: &Collection, filter: &Filter, hint: Option<&Bson>) -> Result<Plan> {
    let Some(search) = filter.text_search() else {
        return Err(Error::command(ErrorCode::IndexNotFound, "text index required for $text query"));
    };
    let Some(index) = collection.indexes.iter().find(|index| index.text.is_some()) else {
        return Err(Error::command(ErrorCode::IndexNotFound, "text index required for $text query"));
    };
    if hint.is_some() {
        return Err(Error::bad_value("text and hint not allowed in same query"));
    }
    let equalities = filter.equalities();
    // Under an `$or`, MongoDB unions the text index's matches with the other
    // branches' indexes, so each of those must have one; this server then scans (each
    // document is matched against the whole filter either way).
    if !filter.text_at_top() {
        for sibling in filter.text_or_siblings() {
            if matches!(super::choose(collection, &sibling, None, None)?.access, Access::CollectionScan { .. }) {
                return Err(Error::command(
                    ErrorCode::NoQueryExecutionPlans,
                    "error processing query: planner returned error :: caused by :: Failed to produce a solution for TEXT under OR - other non-TEXT clauses under OR have to be indexed as well.",
                ));
            }
        }
        return Ok(Plan::collection_scan());
    }
    let mut prefix = Vec::new();
    let mut shown = Document::new();
    for path in &search.spec.prefix {
        let value = equalities.iter().find(|(p, v)| p == path && is_point(v)).map(|(_, v)| *v).ok_or_else(|| {
            Error::command(
                ErrorCode::NoQueryExecutionPlans,
                "error processing query: planner returned error :: caused by :: failed to use text index to satisfy $text query (if text index is compound, are equality predicates given for all prefix fields?)",
            )
        })?;
        encode_field(value, false, &mut prefix);
        shown.insert(path.clone(), vec![format!("[{value}, {value}]")]);
    }
    let mut ranges = Vec::new();
    for term in search.keys() {
        let mut lower = prefix.clone();
        encode_field(&Bson::String(term.to_owned()), false, &mut lower);
        let upper = prefix_end(&lower);
        ranges.push((lower, upper));
    }
    ranges.sort();
    shown.insert("_fts", search.keys().map(|t| format!("[\"{t}\", \"{t}\"]")).collect::<Vec<_>>());
    let scan = IndexScan { index: text_index(index), ranges, reverse: false, bounds: shown };
    Ok(Plan { access: Access::IndexScan(Box::new(scan)), sorted: false })
}

/// A value an equality pins one index key to.
fn is_point(value: &Bson) -> bool {
    match value {
        Bson::Array(_) | Bson::RegularExpression(_) => false,
        Bson::Document(d) => !d.keys().next().is_some_and(|k| k.starts_with('$')),
        _ => true,
    }
}

/// The index as the scan reads it: a document holds several keys in it.
fn text_index(index: &Index) -> Index {
    let mut index = index.clone();
    index.multikey = true;
    index
}
