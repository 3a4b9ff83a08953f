//! `resetBranch` and `branchLog` (SPEC §3.1): moving a branch's head to another
//! state, and the records that wrote it, newest first.

use std::collections::VecDeque;

use bson::{doc, Bson, Document};

use super::branch::{branch_name, state_ref};
use super::{args, Invocation};
use crate::cursor::{self, Cursor, Source};
use crate::error::{Error, Result};
use crate::store::{LogEntry, Store};
use crate::value::size::document_footprint;

pub fn reset(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "resetBranch")?;
    let to = state_ref(inv, "to")?;
    super::write_block::check(inv, &inv.db.db)?;
    let (branch, commit) = inv.context.store.reset_branch(&inv.db.db, name, &to)?;
    if inv.db.db == "config" {
        // `config` holds the cluster-wide settings (`cluster_settings.rs`).
        inv.context.cluster_settings.invalidate();
    }
    Ok(doc! {
        "lsn": commit.lsn.0 as i64,
        "baseLsn": branch.base_lsn.0 as i64,
        "operationTime": commit.cluster_time(),
    })
}

pub fn log(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "branchLog")?;
    let limit = match args::integer(inv.body, "limit")? {
        Some(n) if n < 0 => return Err(Error::bad_value("limit must be non-negative")),
        Some(0) | None => usize::MAX,
        Some(n) => n as usize,
    };
    let batch_size = args::first_batch_size(inv.body)?;
    let store = &inv.context.store;
    let entries = store.branch_log(&inv.db.db, name, limit)?;
    let mut held = inv.context.memory.reservation();
    let mut docs = VecDeque::with_capacity(entries.len());
    for entry in &entries {
        let doc = describe(store, entry);
        held.grow(document_footprint(&doc))?;
        docs.push_back(doc);
    }
    let view = store.view(&inv.db, None)?;
    let ns = args::namespace(inv, "$cmd.branchLog");
    let cursor = Cursor::plain(ns, view.snapshot.clone(), Source::Ready(docs), Some(held), inv.cursor_owner());
    cursor::reply_batch(&inv.context.cursors, None, cursor, &view, batch_size, inv.interrupt())
}

/// `{lsn, time, ops, ddl?, lsid?, txnNumber?, merge?: {from, lsn}, created?:
/// {from, lsn}, reset?: {to, lsn}}`, branches by name.
fn describe(store: &Store, entry: &LogEntry) -> Document {
    let name = |id: Option<i64>| {
        id.and_then(|id| store.branch_by_id(crate::wal::BranchId(id as u64)))
            .map_or(Bson::Null, |b| Bson::String(b.name))
    };
    let mut out = doc! {"lsn": entry.lsn.0 as i64, "time": entry.time};
    let e = &entry.entry;
    if let Ok(ops) = e.get_document("ops") {
        out.insert("ops", ops.clone());
    }
    for field in ["ddl", "lsid", "txnNumber"] {
        if let Some(value) = e.get(field) {
            out.insert(field, value.clone());
        }
    }
    // The store names branches by id: each as its name, with the LSN of its state.
    for (field, id, lsn, as_name) in [
        ("merge", "source", "sourceLsn", "from"),
        ("created", "parent", "base", "from"),
        ("reset", "parent", "base", "to"),
    ] {
        if let Ok(what) = e.get_document(field) {
            let lsn = what.get(lsn).cloned().unwrap_or(Bson::Null);
            out.insert(field, doc! {as_name: name(what.get_i64(id).ok()), "lsn": lsn});
        }
    }
    out
}
