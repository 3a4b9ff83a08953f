//! `currentOp` and `killOp`, over the registry of running operations
//! ([`crate::operations`]) that dispatch fills: every command is an operation from
//! the moment it is dispatched until its reply is built (a `getMore` is one of its own).

use std::borrow::Cow;
use std::fmt::Write;
use std::time::Instant;

use bson::{doc, Bson, Document};

use super::{args, arguments, Command, Invocation};
use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;
use crate::operations::Operation;
use crate::query::{Filter, Variables};
use crate::value::size::document_size_within;

/// Commands whose first field names the collection they work on.
const ON_COLLECTION: &[&str] = &[
    "aggregate",
    "collStats",
    "count",
    "create",
    "createIndexes",
    "delete",
    "distinct",
    "drop",
    "dropIndexes",
    "find",
    "findAndModify",
    "insert",
    "listIndexes",
    "update",
    "validate",
];

/// The collection a command works on, when it names one.
pub(super) fn collection_of<'b>(command: &Command, body: &'b Document) -> Option<&'b str> {
    match command.name {
        "getMore" => body.get_str("collection").ok(),
        name if ON_COLLECTION.contains(&name) => body.iter().next().and_then(|(_, v)| v.as_str()),
        _ => None,
    }
}

/// The largest command `currentOp` shows whole, as MongoDB: 1 KiB.
const MAX_COMMAND_BYTES: usize = 1024;

/// The operation a command is, as `currentOp` reports it: `shown` is the command
/// as it shows it (without its document sequences).
pub(super) fn describe(
    command: &Command,
    body: &Document,
    shown: Cow<'_, Document>,
    db: &DbRef,
    connection: &ConnectionInfo,
) -> Operation {
    let (kind, ns) = kind_and_ns(command, body, &db.to_string());
    let mut op = Operation::new(connection.id, connection.peer, ns, kind, abbreviated(shown, MAX_COMMAND_BYTES));
    op.user = connection.auth().users.first().map(ToString::to_string);
    op
}

/// What kind of operation a command is (`query`, `insert`, …, `command`) and the
/// namespace it works on (`db.$cmd` when none), as `currentOp` and the profiler
/// name them.
pub(super) fn kind_and_ns(command: &Command, body: &Document, db: &str) -> (&'static str, String) {
    let collection = collection_of(command, body);
    let kind = match command.name {
        "find" => "query",
        "getMore" => "getmore",
        "insert" => "insert",
        "update" => "update",
        "delete" => "remove",
        _ => "command",
    };
    (kind, format!("{db}.{}", collection.unwrap_or("$cmd")))
}

/// The command whole up to `max` bytes; a larger one becomes, as in MongoDB,
/// `{$truncated: <the start of its text>, comment: <its comment>}`.
pub(super) fn abbreviated(body: Cow<'_, Document>, max: usize) -> Document {
    if document_size_within(&body, max).is_some() {
        return body.into_owned();
    }
    let mut text = Bounded { text: String::new(), max };
    // The writer refuses what does not fit, which ends the formatting early.
    let _ = write!(text, "{body}");
    let mut short = doc! {"$truncated": text.text};
    if let Some(comment) = body.get("comment") {
        short.insert("comment", comment.clone());
    }
    short
}

/// A string that takes at most `max` bytes and refuses the rest.
struct Bounded {
    text: String,
    max: usize,
}

impl std::fmt::Write for Bounded {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.max - self.text.len();
        if s.len() <= room {
            self.text.push_str(s);
            return Ok(());
        }
        let end = (0..=room).rev().find(|&i| s.is_char_boundary(i)).unwrap_or(0);
        self.text.push_str(&s[..end]);
        Err(std::fmt::Error)
    }
}

/// `currentOp`: the running operations, this one included, and a running history
/// collection. Fields other than `$all`, `$ownOps` and the generic arguments are a
/// query the operations must match. Every operation listed is active; with no
/// users, each is the client's own.
pub fn current_op(inv: &Invocation<'_>) -> Result<Document> {
    args::boolean(inv.body, "$all", false)?;
    // With access control on, `$ownOps` shows the user's own operations only (one
    // may see them without `inprog`); off, every operation is everyone's.
    let own = args::boolean(inv.body, "$ownOps", false)? && inv.context.security.enabled;
    let me = inv.connection.auth().users.first().map(ToString::to_string);
    let filter: Document = inv
        .body
        .iter()
        .skip(1)
        .filter(|(k, _)| !matches!(k.as_str(), "$all" | "$ownOps" | "$truncateOps") && !arguments::is_generic(k))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let filter = Filter::parse_without_text(&filter, &Variables::none())?;
    let inprog: Vec<Bson> =
        operations(inv, own, me.as_ref()).into_iter().filter(|op| filter.matches(op)).map(Bson::Document).collect();
    let mut reply = doc! {"inprog": inprog};
    super::fsync::current_op_note(inv, &mut reply);
    Ok(reply)
}

/// The running operations as `currentOp` reports them (only `me`'s when `own`),
/// then the history collection's work (when not `own`).
fn operations(inv: &Invocation<'_>, own: bool, me: Option<&String>) -> Vec<Document> {
    let (host, now) = (host(inv.context), Instant::now());
    inv.context
        .operations
        .list()
        .iter()
        .filter(|op| !own || op.user.as_ref() == me)
        .map(|op| report(op, &host, now))
        .chain(inv.context.store.work.collecting().filter(|_| !own).map(|progress| collecting(progress, &host, now)))
        .collect()
}

/// The `$currentOp` stage (first in `{aggregate: 1}` on `admin`): the operations
/// `currentOp` reports, every user's with `allUsers` (with access control on; off,
/// every operation is everyone's). `localOps`, `backtrace` and `targetAllNodes`
/// change nothing on a single node with no lock manager; idle connections and idle
/// cursors are not kept in a registry branchdb could list, so asking for them is
/// refused. Commands over 1 KiB are shown truncated, whatever `truncateOps` says:
/// an operation keeps only that much of its command.
pub fn stage(inv: &Invocation<'_>, spec: &Bson) -> Result<Vec<Document>> {
    if inv.db.db != "admin" {
        return Err(Error::command(
            ErrorCode::InvalidNamespace,
            "$currentOp must be run against the 'admin' database with {aggregate: 1}",
        ));
    }
    let Bson::Document(spec) = spec else {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            format!("$currentOp options must be specified in an object, but found: {}", args::type_name(Some(spec))),
        ));
    };
    let mut all_users = false;
    for (name, value) in spec {
        let known = [
            "allUsers",
            "idleConnections",
            "idleCursors",
            "idleSessions",
            "localOps",
            "backtrace",
            "truncateOps",
            "targetAllNodes",
        ];
        if !known.contains(&name.as_str()) {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!("Unrecognized option '{name}' in $currentOp stage."),
            ));
        }
        let Bson::Boolean(on) = value else {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!(
                    "The '{name}' parameter of the $currentOp stage must be a boolean value, but found: {}",
                    args::type_name(Some(value))
                ),
            ));
        };
        match name.as_str() {
            "allUsers" => all_users = *on,
            "idleConnections" | "idleCursors" if *on => {
                return Err(Error::command(
                    ErrorCode::NotImplemented,
                    format!(
                        "$currentOp's {name} is not supported: branchdb keeps no registry of idle {}",
                        &name[4..].to_lowercase()
                    ),
                ))
            }
            _ => {}
        }
    }
    let own = !all_users && inv.context.security.enabled;
    let me = inv.connection.auth().users.first().map(ToString::to_string);
    Ok(operations(inv, own, me.as_ref()))
}

/// One operation in MongoDB 7.0's `currentOp` shape. branchdb neither yields nor
/// takes MongoDB's locks, so those fields are constant.
fn report(op: &Operation, host: &str, now: Instant) -> Document {
    let running = now.saturating_duration_since(op.started);
    let mut report = doc! {
        "type": "op",
        "host": host,
        "desc": format!("conn{}", op.connection_id),
        "connectionId": number(op.connection_id),
        "client": op.client.to_string(),
        "active": true,
        "currentOpTime": current_op_time(),
        "threaded": true,
        "opid": number(op.id),
    };
    if let Some(lsid) = op.command.get("lsid") {
        report.insert("lsid", lsid.clone());
    }
    report.extend(doc! {
        "secs_running": running.as_secs() as i64,
        "microsecs_running": i64::try_from(running.as_micros()).unwrap_or(i64::MAX),
        "op": op.kind,
        "ns": &op.ns,
        "redacted": false,
        "command": op.command.clone(),
        "numYields": 0,
        "locks": {},
        "waitingForLock": false,
        "lockStats": {},
        "waitingForFlowControl": false,
        "flowControlStats": {},
    });
    if let Some(progress) = op.progress() {
        let percent = (progress.done * 100).checked_div(progress.total).unwrap_or(0);
        report.insert("msg", format!("{}: {}/{} {percent}%", progress.message, progress.done, progress.total));
        report.insert("progress", doc! {"done": number(progress.done as i64), "total": number(progress.total as i64)});
    }
    if op.is_killed() {
        report.insert("killPending", true);
    }
    report
}

/// The history collection, as MongoDB reports a system operation (no client, no
/// `opid`: `killOp` cannot stop it).
fn collecting(progress: crate::store::Progress, host: &str, now: Instant) -> Document {
    let running = now.saturating_duration_since(progress.started);
    let done = number(progress.done as i64);
    let (msg, progress_doc) = match progress.total {
        Some(total) => {
            let percent = (progress.done * 100).checked_div(total).unwrap_or(0);
            let msg = format!("History collection: {}/{total} {percent}%", progress.done);
            (msg, doc! {"done": done, "total": number(total as i64)})
        }
        // The engine keeps no count of its keys.
        None => (format!("History collection: {} keys", progress.done), doc! {"done": done}),
    };
    doc! {
        "type": "op",
        "host": host,
        "desc": "historyCollection",
        "active": true,
        "currentOpTime": current_op_time(),
        "secs_running": running.as_secs() as i64,
        "microsecs_running": i64::try_from(running.as_micros()).unwrap_or(i64::MAX),
        "op": "none",
        "ns": "",
        "command": {},
        "msg": msg,
        "progress": progress_doc,
        "numYields": 0,
        "locks": {},
        "waitingForLock": false,
    }
}

/// Now, as MongoDB writes `currentOpTime`: `2024-05-01T10:00:00.000+00:00`.
fn current_op_time() -> String {
    let now = bson::DateTime::now();
    now.try_to_rfc3339_string().map(|s| s.replace('Z', "+00:00")).unwrap_or_default()
}

/// A count as MongoDB's `appendNumber` writes it: an int when it fits in 31 bits,
/// a long otherwise.
pub(super) fn number(n: i64) -> Bson {
    match i32::try_from(n) {
        Ok(small) if small.unsigned_abs() < 1 << 30 => Bson::Int32(small),
        _ => Bson::Int64(n),
    }
}

/// `host:port` of this server, as `currentOp` and `$collStats` name it.
pub(super) fn host(shared: &Context) -> String {
    let port = shared.settings.bind.rsplit(':').next().unwrap_or("27017");
    format!("{}:{port}", super::host_info::hostname())
}

/// `killOp` (admin only): marks operation `op` killed; it fails at its next
/// interrupt check. MongoDB answers the same whether the operation exists or not.
pub fn kill_op(inv: &Invocation<'_>) -> Result<Document> {
    let id = op_id(inv.body)?;
    tracing::info!(op = id, "going to kill op");
    inv.context.operations.kill(id);
    Ok(doc! {"info": "attempting to kill op"})
}

/// The `op` field of `killOp`: a number with an integral value.
fn op_id(body: &Document) -> Result<i64> {
    let value = body.get("op");
    let n = match value {
        None => return Err(Error::command(ErrorCode::NoSuchKey, "Missing expected field \"op\"")),
        Some(Bson::Int32(n)) => Some(i64::from(*n)),
        Some(Bson::Int64(n)) => Some(*n),
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9.2e18 => Some(*d as i64),
        Some(Bson::Double(_) | Bson::Decimal128(_)) => None,
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "Expected field \"op\" to have numeric type, but found {}",
                args::type_name(Some(other))
            )))
        }
    };
    n.ok_or_else(|| {
        Error::bad_value(format!(
            "Expected field \"op\" to have a value exactly representable as a 64-bit integer, but found op: {}",
            value.map(ToString::to_string).unwrap_or_default()
        ))
    })
}
