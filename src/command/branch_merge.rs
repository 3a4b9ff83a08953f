//! `mergeBranch` (SPEC §3.1): a three-way merge of one branch into another, as
//! one record; the store does the work (`store/merge.rs`).

use bson::{doc, Bson, Document};

use super::branch::branch_name;
use super::{args, Invocation};
use crate::error::{Error, Result};
use crate::store::{Conflict, MergeRequest, Strategy};
use crate::value::size::document_size;

/// A reply lists at most this many conflicts, and stops adding them at this many
/// bytes; `conflictCount` counts them all.
const MAX_LISTED: usize = 1000;
const MAX_LISTED_BYTES: usize = 8 << 20;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let source = branch_name(inv.body, "mergeBranch")?;
    let into = args::optional_string(inv.body, "into", "a branch name")?;
    if into.is_some_and(|into| into.contains('@')) {
        return Err(Error::command(
            crate::error::ErrorCode::InvalidNamespace,
            format!("a merge stays within database '{}': 'into' names a branch of it", inv.db.db),
        ));
    }
    let strategy = match inv.body.get("strategy") {
        None | Some(Bson::Null) => Strategy::Fail,
        Some(Bson::String(s)) if s == "fail" => Strategy::Fail,
        Some(Bson::String(s)) if s == "ours" => Strategy::Ours,
        Some(Bson::String(s)) if s == "theirs" => Strategy::Theirs,
        Some(other) => {
            return Err(Error::bad_value(format!("'strategy' must be \"fail\", \"ours\" or \"theirs\", not {other}")))
        }
    };
    let dry_run = args::boolean(inv.body, "dryRun", false)?;
    let request = MergeRequest { db: &inv.db.db, source, into, strategy, dry_run };
    super::write_block::check(inv, &inv.db.db)?;
    let merged = inv.context.store.merge(&request)?;
    if inv.db.db == "config" {
        // `config` holds the cluster-wide settings (`cluster_settings.rs`).
        inv.context.cluster_settings.invalidate();
    }
    let store = &inv.context.store;
    let base = store.branch_by_id(merged.base.0).map_or(Bson::Null, |b| Bson::String(b.name));
    let mut listed = Vec::new();
    let mut bytes = 0;
    for conflict in merged.conflicts.iter().take(MAX_LISTED) {
        let conflict = describe(&inv.db.db, conflict);
        bytes += document_size(&conflict);
        if bytes > MAX_LISTED_BYTES {
            break;
        }
        listed.push(Bson::Document(conflict));
    }
    let mut reply = doc! {
        "merged": merged.commit.is_some(),
        "into": &merged.target,
        "strategy": match strategy {
            Strategy::Fail => "fail",
            Strategy::Ours => "ours",
            Strategy::Theirs => "theirs",
        },
        "mergeBase": {"branch": base, "lsn": merged.base.1.0 as i64},
        "inserted": merged.inserted as i64,
        "updated": merged.updated as i64,
        "deleted": merged.deleted as i64,
        "conflicts": listed,
        "conflictCount": merged.conflicts.len() as i64,
    };
    if dry_run {
        reply.insert("dryRun", true);
    }
    if let Some(commit) = merged.commit {
        reply.insert("lsn", commit.lsn.0 as i64);
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// `{ns: {db, coll}, _id, fields, base, ours, theirs}` (`null` for a side without
/// the document).
fn describe(db: &str, conflict: &Conflict) -> Document {
    let side = |doc: &Option<Document>| doc.clone().map_or(Bson::Null, Bson::Document);
    doc! {
        "ns": {"db": db, "coll": &conflict.collection},
        "_id": conflict.id.clone(),
        "fields": conflict.fields.clone(),
        "base": side(&conflict.base),
        "ours": side(&conflict.ours),
        "theirs": side(&conflict.theirs),
    }
}
