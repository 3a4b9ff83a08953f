//! `system.profile`: the profile entries of an operation, in MongoDB's shape, and
//! the reads of a database's profile (`find`, `aggregate`, `count`, and `drop`
//! to empty it). The entries themselves live in `crate::profiling`.

use std::borrow::Cow;
use std::collections::VecDeque;

use bson::{doc, Bson, DateTime, Document};

use super::current_op::{abbreviated, kind_and_ns};
use super::{Command, Invocation};
use crate::context::ConnectionInfo;
use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Sort};
use crate::value::size::document_size;

/// The collection's name.
pub const NAME: &str = super::args::SYSTEM_PROFILE;

/// The largest command an entry shows whole; a larger one is abbreviated as
/// `currentOp` abbreviates (a profile holds 1 MiB in all).
const MAX_COMMAND_BYTES: usize = 16 * 1024;

/// The database part of a `$db` (`shop` for `shop@feature` or `shop~<point>`):
/// a profile covers every branch of its database.
pub fn database_of(db: &str) -> &str {
    db.split(['@', '~']).next().unwrap_or(db)
}

/// The profile entry of a command that ran for `took`, in MongoDB's field order
/// where branchdb has the field.
pub fn entry(
    command: &Command,
    body: &Document,
    shown: Cow<'_, Document>,
    reply: Option<&Document>,
    connection: &ConnectionInfo,
    took: std::time::Duration,
) -> Document {
    let db = body.get_str("$db").unwrap_or("");
    let (kind, ns) = kind_and_ns(command, body, db);
    let mut entry = doc! {"op": kind, "ns": ns, "command": abbreviated(shown, MAX_COMMAND_BYTES)};
    if let Some(reply) = reply {
        results(command.name, reply, &mut entry);
    }
    entry.insert("numYield", 0);
    entry.insert("responseLength", reply.map_or(0, |r| i32::try_from(document_size(r)).unwrap_or(i32::MAX)));
    entry.insert("protocol", "op_msg");
    entry.insert("millis", i32::try_from(took.as_millis()).unwrap_or(i32::MAX));
    entry.insert("ts", DateTime::now());
    entry.insert("client", connection.peer.ip().to_string());
    let app = connection.client_metadata.lock().unwrap_or_else(|p| p.into_inner()).as_ref().and_then(|client| {
        client.get_document("application").ok().and_then(|a| a.get_str("name").ok()).map(str::to_owned)
    });
    if let Some(app) = app {
        entry.insert("appName", app);
    }
    entry.insert("allUsers", Bson::Array(vec![]));
    entry.insert("user", "");
    entry
}

/// What the reply says the command did: documents returned and the cursor, or
/// documents written; the error of a failed command.
fn results(command: &str, reply: &Document, entry: &mut Document) {
    if reply.get_f64("ok") != Ok(1.0) {
        entry.insert("ok", 0.0);
        for (from, to) in [("errmsg", "errMsg"), ("codeName", "errName"), ("code", "errCode")] {
            if let Some(value) = reply.get(from) {
                entry.insert(to, value.clone());
            }
        }
        return;
    }
    if let Ok(cursor) = reply.get_document("cursor") {
        let id = cursor.get_i64("id").unwrap_or(0);
        if id != 0 {
            entry.insert("cursorid", id);
        }
        let batch = cursor.get_array("firstBatch").or_else(|_| cursor.get_array("nextBatch"));
        entry.insert("cursorExhausted", id == 0);
        entry.insert("nreturned", batch.map_or(0, |b| i32::try_from(b.len()).unwrap_or(i32::MAX)));
        return;
    }
    let n = reply.get("n").cloned().unwrap_or(Bson::Int32(0));
    match command {
        "insert" => {
            entry.insert("ninserted", n);
        }
        "update" => {
            entry.insert("nMatched", n);
            entry.insert("nModified", reply.get("nModified").cloned().unwrap_or(Bson::Int32(0)));
        }
        "delete" => {
            entry.insert("ndeleted", n);
        }
        _ => {}
    }
}

/// The database's profile, oldest first.
pub fn documents(inv: &Invocation<'_>) -> Vec<Document> {
    inv.context.profiling.entries(&inv.db.db)
}

/// A `find`'s matches in the profile, in the order `sort` asks: natural (oldest
/// first) by default, newest first for `{$natural: -1}`.
pub fn find(inv: &Invocation<'_>, filter: &Filter, sort: Option<&Document>) -> Result<VecDeque<Document>> {
    let mut found: Vec<Document> = documents(inv).into_iter().filter(|d| filter.matches(d)).collect();
    let natural = sort.filter(|spec| spec.len() == 1).and_then(|spec| spec.get("$natural"));
    match (sort, natural.map(crate::index::whole_number)) {
        (None, _) => {}
        (Some(_), Some(Some(direction))) => {
            if direction < 0 {
                found.reverse();
            }
        }
        (Some(spec), _) => found = Sort::parse(spec)?.sort(found)?,
    }
    Ok(found.into())
}

/// `drop` of `system.profile`: empties the profile, which MongoDB allows only
/// while the database is not profiled.
pub fn drop_profile(inv: &Invocation<'_>) -> Result<Document> {
    if inv.context.profiling.settings(&inv.db.db).level > 0 {
        return Err(Error::command(
            ErrorCode::IllegalOperation,
            "turn off profiling before dropping system.profile collection",
        ));
    }
    inv.context.profiling.clear(&inv.db.db);
    Ok(doc! {"nIndexesWas": 0, "ns": super::args::namespace(inv, NAME)})
}
