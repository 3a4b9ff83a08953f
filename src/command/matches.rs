//! Walking the documents of a collection that match a filter: one `_id` lookup when
//! the filter pins an `_id`, a scan otherwise.

use bson::Document;

use super::Invocation;
use crate::error::Result;
use crate::query::Filter;
use crate::store::View;

/// Calls `visit` with each document of `collection` matching `filter`, in `_id`
/// order, until it returns `false`. Checks the command's deadline as it goes.
pub fn each(
    inv: &Invocation<'_>,
    view: &View,
    collection: u64,
    filter: &Filter,
    mut visit: impl FnMut(Document) -> Result<bool>,
) -> Result<()> {
    if let Some(id) = filter.id_equality() {
        if let Some(doc) = view.get(collection, id)?.filter(|d| filter.matches(d)) {
            visit(doc)?;
        }
        return Ok(());
    }
    let mut scanned = 0u64;
    view.scan(collection, None, |_, doc| {
        scanned += 1;
        if scanned.is_multiple_of(1024) {
            inv.check_deadline()?;
        }
        match filter.matches(&doc) {
            true => visit(doc),
            false => Ok(true),
        }
    })
}
