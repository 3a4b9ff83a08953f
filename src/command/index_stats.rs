//! The `$indexStats` stage: one document per index of the collection, with how
//! many operations it served on the addressed branch (`index::usage`), as MongoDB
//! 8.0 reports it through a router: `{name, key, host, accesses: {ops, since},
//! shard, spec}`.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::index::usage::Key;
use crate::store::{Collection, View};

/// Checks a `$indexStats` stage's specification: an empty document.
pub(super) fn check(spec: &Bson) -> Result<()> {
    match spec {
        Bson::Document(spec) if spec.is_empty() => Ok(()),
        _ => {
            Err(Error::command(ErrorCode::Location28803, "The $indexStats stage specification must be an empty object"))
        }
    }
}

/// The stage's documents for `collection` (none when it does not exist), its
/// indexes in the order `listIndexes` gives.
pub(super) fn documents(inv: &Invocation<'_>, view: &View, collection: Option<&Collection>) -> Vec<Document> {
    let Some(collection) = collection else { return Vec::new() };
    let host = super::current_op::host(inv.context);
    let key = |index| Key {
        db: view.snapshot.db.clone(),
        branch: view.snapshot.branch.clone(),
        collection: collection.id,
        index,
    };
    super::indexes::listed(collection)
        .map(|(id, spec)| {
            let accesses = inv.context.index_usage.of(&key(id));
            doc! {
                "name": spec.get_str("name").unwrap_or_default(),
                "key": spec.get_document("key").cloned().unwrap_or_default(),
                "host": &host,
                "accesses": {"ops": accesses.ops, "since": accesses.since},
                "shard": super::transactions::SHARD_ID,
                "spec": spec,
            }
        })
        .collect()
}
