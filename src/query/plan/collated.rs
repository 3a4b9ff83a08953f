//! Planning a query under a collation: an index with the same collation holds
//! strings as that collation's sort keys, so the query's equalities on a prefix of
//! its fields are points of it, encoded the same way.

use std::sync::Arc;

use bson::{Bson, Document};

use super::{Access, IndexScan, Plan};
use crate::index::{encode_field_collated, Index};
use crate::query::Filter;
use crate::store::{prefix_end, Collection};
use crate::value::collation::Collation;

/// The scan of the best index with `collation` whose leading fields the filter's
/// equalities pin, if any (neither sparse, partial, hidden nor text: those may
/// miss matches or hold other keys).
pub(super) fn equality_scan(collection: &Collection, filter: &Filter, collation: &Arc<Collation>) -> Option<Plan> {
    let equalities = filter.equalities();
    let best = collection
        .indexes
        .iter()
        .filter(|index| index.collation.as_deref() == Some(&**collation))
        .filter(|index| !index.sparse && index.partial.is_none() && index.text.is_none())
        .filter(|index| !index.spec.get_bool("hidden").unwrap_or(false))
        .filter_map(|index| {
            let pinned: Vec<&Bson> = index
                .fields
                .iter()
                .map_while(|field| {
                    equalities.iter().find(|(path, v)| *path == field.path && is_point(v)).map(|(_, v)| *v)
                })
                .collect();
            (!pinned.is_empty()).then_some((index, pinned))
        })
        .max_by_key(|(_, pinned)| pinned.len())?;
    let (index, pinned) = best;
    Some(Plan { access: Access::IndexScan(Box::new(scan(index, &pinned, collation))), sorted: false })
}

/// The range of `index` whose leading fields hold `pinned`.
fn scan(index: &Index, pinned: &[&Bson], collation: &Collation) -> IndexScan {
    let mut lower = Vec::new();
    let mut bounds = Document::new();
    for (field, value) in index.fields.iter().zip(pinned) {
        encode_field_collated(value, field.descending, Some(collation), &mut lower);
        bounds.insert(field.path.clone(), vec![format!("[{value}, {value}]")]);
    }
    let upper = prefix_end(&lower);
    IndexScan { index: index.clone(), ranges: vec![(lower, upper)], reverse: false, bounds }
}

/// A value an equality pins to one key: not an array (which also matches its
/// elements), a document, or a regular expression.
fn is_point(value: &Bson) -> bool {
    !matches!(value, Bson::Array(_) | Bson::Document(_) | Bson::RegularExpression(_))
}
