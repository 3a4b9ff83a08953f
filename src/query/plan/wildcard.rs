//! Reading a wildcard index: its keys are `(path, value)`, so a query condition on
//! one path it covers reads the keys of that path within the condition's value
//! bounds, as a compound index `{$_path: 1, <path>: 1}` would (which is how
//! `explain` shows it, as MongoDB does). Conditions a wildcard index cannot answer
//! read it not at all: those that match documents without the path (null,
//! `$exists: false`), those on whole documents or arrays (whose leaves are the
//! keys), and paths through array positions (`a.0.b`, whose keys are under `a.b`).

use std::collections::{HashMap, HashSet};

use bson::{doc, Bson};

use super::{candidate_by_bounds, Candidate, FieldBounds, Interval};
use crate::index::{Field, Index, Wildcard};
use crate::query::filter::Narrowing;
use crate::query::Filter;

/// The key pattern field that holds the path.
const PATH_FIELD: &str = "$_path";

/// The best scan of wildcard `index` for the query, if any path it covers has a
/// condition it can answer.
pub(super) fn candidate<'f>(
    index: &Index,
    wildcard: &Wildcard,
    filter: &'f Filter,
    bounds: &HashMap<&'f str, FieldBounds>,
) -> Option<Candidate> {
    let whole: HashSet<&str> = filter
        .narrowings()
        .into_iter()
        .filter(|(_, narrowing)| match narrowing {
            Narrowing::Eq(v) | Narrowing::Gt(v) | Narrowing::Gte(v) | Narrowing::Lt(v) | Narrowing::Lte(v) => {
                composite(v)
            }
            Narrowing::In(values) => values.iter().any(composite),
            Narrowing::Exists => false,
        })
        .map(|(path, _)| path)
        .collect();
    let mut best: Option<Candidate> = None;
    for (path, field_bounds) in bounds {
        let positional = path.split('.').any(|part| part.parse::<u64>().is_ok());
        if !field_bounds.present || positional || whole.contains(path) || !wildcard.covers(path) {
            continue;
        }
        let shape = as_compound(index, path);
        let mut paths: HashMap<&str, FieldBounds> = bounds.iter().map(|(p, b)| (*p, b.clone())).collect();
        let at_path =
            FieldBounds { sets: vec![vec![Interval::point_of(&Bson::String((*path).to_owned()))]], present: true };
        paths.insert(PATH_FIELD, at_path);
        let Some(found) = candidate_by_bounds(&shape, &paths, &[], false) else { continue };
        if best.as_ref().is_none_or(|b| found.score > b.score) {
            best = Some(found);
        }
    }
    best
}

/// A document or array value: a wildcard index holds their leaves, not them
/// (but for empty ones).
fn composite(value: &Bson) -> bool {
    match value {
        Bson::Document(d) => !d.is_empty(),
        Bson::Array(_) => true,
        _ => false,
    }
}

/// `index` read as the compound index `{$_path: 1, <path>: 1}` over the same
/// entries.
fn as_compound(index: &Index, path: &str) -> Index {
    let mut shape = index.clone();
    shape.fields = vec![
        Field { path: PATH_FIELD.to_owned(), descending: false, hashed: false },
        Field { path: path.to_owned(), descending: false, hashed: false },
    ];
    shape.spec.insert("key", doc! {PATH_FIELD: 1, path: 1});
    shape.wildcard = None;
    shape
}
