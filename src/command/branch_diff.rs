//! `diff` (SPEC §3.1): what changes one state of a database into another, as a
//! cursor of `{ns: {db, coll}, _id, op, before, after, updateDescription?}`. The
//! candidates come from the store's changes table, so the cost follows the changed
//! documents; each batch reads its candidates on both sides.

use std::collections::VecDeque;
use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::branch::state_ref;
use super::{args, Invocation};
use crate::cursor::{self, Cursor, DiffSource, Source};
use crate::error::Result;
use crate::store::diff::{self, Difference};
use crate::store::{decode, DOC_KEY_OVERHEAD};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let from = state_ref(inv, "diff")?;
    let to = state_ref(inv, "with")?;
    let only = args::optional_string(inv.body, "collection", "a collection name")?;
    let batch_size = args::first_batch_size(inv.body)?;
    let store = &inv.context.store;
    let (before, after) = store.view_pair(&from, &to)?;
    let plan = diff::plan(&before, &after, only)?;
    // The candidates wait in the cursor: counted in the memory budget.
    let mut held = inv.context.memory.reservation();
    let mut pending = VecDeque::with_capacity(plan.len());
    for candidates in plan.collections {
        let name: Arc<str> = Arc::from(candidates.name.as_str());
        for id in candidates.ids {
            held.grow(id.len() + DOC_KEY_OVERHEAD + 48)?;
            pending.push_back((name.clone(), candidates.from, candidates.to, id));
        }
    }
    let source =
        Source::Diff(Box::new(DiffSource { from: before.snapshot.clone(), db: inv.db.db.clone(), pending, render }));
    let ns = args::namespace(inv, "$cmd.diff");
    let cursor = Cursor::plain(ns, after.snapshot.clone(), source, Some(held), inv.cursor_owner());
    cursor::reply_batch(&inv.context.cursors, None, cursor, &after, batch_size, inv.interrupt())
}

/// One difference as `diff` returns it: `op` is `insert` (only after), `delete`
/// (only before) or `update`, with the top-level fields set or removed.
fn render(db: &str, difference: &Difference) -> Result<Document> {
    let before = difference.before.as_deref().map(decode).transpose()?;
    let after = difference.after.as_deref().map(decode).transpose()?;
    let id = [&after, &before].into_iter().flatten().find_map(|d| d.get("_id").cloned()).unwrap_or(Bson::Null);
    let op = match (&before, &after) {
        (None, _) => "insert",
        (_, None) => "delete",
        _ => "update",
    };
    let mut entry = doc! {
        "ns": {"db": db, "coll": &difference.collection},
        "_id": id,
        "op": op,
        "before": before.clone().map_or(Bson::Null, Bson::Document),
        "after": after.clone().map_or(Bson::Null, Bson::Document),
    };
    if let (Some(before), Some(after)) = (&before, &after) {
        entry.insert("updateDescription", update_description(before, after));
    }
    Ok(entry)
}

/// `{updatedFields, removedFields, truncatedArrays}` at the top level, as a
/// change stream describes a replacement's effect.
pub fn update_description(before: &Document, after: &Document) -> Document {
    let mut updated = Document::new();
    for (key, value) in after {
        let same = before.get(key).is_some_and(|old| bson_bytes(old) == bson_bytes(value));
        if !same {
            updated.insert(key.clone(), value.clone());
        }
    }
    let removed: Vec<Bson> =
        before.keys().filter(|key| !after.contains_key(key.as_str())).map(|key| Bson::String(key.clone())).collect();
    doc! {"updatedFields": updated, "removedFields": removed, "truncatedArrays": []}
}

fn bson_bytes(value: &Bson) -> Option<Vec<u8>> {
    bson::to_vec(&doc! {"": value.clone()}).ok()
}
