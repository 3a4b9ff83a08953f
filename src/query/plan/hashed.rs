//! Planning over a hashed index: its hashed field holds each value's hash, so an
//! equality or an `$in` on that field is points of hashes and nothing else narrows
//! it (a range of values is no range of hashes), and its order is no sort order.

use std::collections::HashMap;

use bson::Bson;

use super::{candidate_by_bounds, implies, Candidate, FieldBounds, Interval};
use crate::index::{hash, Index};
use crate::query::filter::Narrowing;
use crate::query::Filter;

/// The scan of hashed `index` for a query whose other fields are bounded by
/// `bounds`, the hashed field at `path` by the filter's equalities on it.
pub(super) fn candidate<'f>(
    index: &Index,
    path: &str,
    filter: &'f Filter,
    bounds: &HashMap<&'f str, FieldBounds>,
    sort: &[(String, bool)],
    hinted: bool,
) -> Option<Candidate> {
    // A partial index holds only the documents its filter matches: whether the query
    // implies it is judged on values, not on hashes.
    if index.partial.as_ref().is_some_and(|partial| !implies(bounds, partial)) {
        return None;
    }
    let mut hashed = bounds.clone();
    hashed.retain(|field, _| *field != path);
    if let Some((field, points, present)) = points(filter, path) {
        hashed.insert(field, FieldBounds { sets: vec![points], present });
    }
    let mut candidate = candidate_by_bounds(index, &hashed, &[], hinted)?;
    candidate.sorted = sort.is_empty();
    candidate.score.2 = candidate.sorted;
    Some(candidate)
}

/// The hashes an equality or an `$in` on `path` pins, in key order, and whether
/// every match has the field (no value is null); `None` when no such condition
/// stands on it.
fn points<'f>(filter: &'f Filter, path: &str) -> Option<(&'f str, Vec<Interval>, bool)> {
    filter.narrowings().into_iter().find_map(|(field, narrowing)| {
        if field != path {
            return None;
        }
        let values: &[Bson] = match narrowing {
            Narrowing::Eq(value) => std::slice::from_ref(value),
            Narrowing::In(values) => values,
            _ => return None,
        };
        let present = !values.iter().any(|v| matches!(v, Bson::Null));
        let mut hashes: Vec<i64> = values.iter().map(hash).collect();
        hashes.sort_unstable();
        hashes.dedup();
        Some((field, hashes.into_iter().map(|h| Interval::point_of(&Bson::Int64(h))).collect(), present))
    })
}
