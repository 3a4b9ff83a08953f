//! `bulkWrite` (MongoDB 8.0): inserts, updates and deletes on any collections of
//! any databases and branches, in one command run on `admin`.
//!
//! Each run of consecutive operations of one kind on one namespace is carried out
//! as the `insert`, `update` or `delete` it amounts to, through the same code: it
//! validates, writes, records a retryable write's statements (numbered on from
//! the command's own) and fails exactly as they do. A run of point writes (each
//! touching one document by `_id`, of any kind) is done in one log record instead
//! (`points.rs`), with the same parsers and checks. What each operation did comes
//! back as one result document, through a cursor on `admin.$cmd.bulkWrite`, with
//! the summary counts beside it. A failed operation is a result, not a failed
//! command: the reply is `ok: 1` with `nErrors`. An ordered command stops at its
//! first error; inside a transaction any error aborts it, so nothing runs after one.

mod points;
mod request;
mod results;

use bson::Document;

use super::args::{self, Shape};
use super::invocation::SessionUse;
use super::{delete, insert, update, Invocation};
use crate::auth::privileges::{Action, Actions, Grants, Target};
use crate::error::{Error, ErrorCode, Result};
use request::{Kind, Request};
use results::{Done, Results};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let request = Request::parse(inv.body)?;
    let in_transaction = matches!(inv.session, Some(SessionUse::Transaction(_)));
    let retryable = inv.records_statements();
    let ordered = request.ordered || in_transaction;
    let mut results = Results::new(request.errors_only);
    let mut start = 0;
    while start < request.ops.len() && !(ordered && results.failed()) {
        let op = &request.ops[start];
        if retryable && op.multi {
            let refused = Error::command(ErrorCode::InvalidOptions, "Cannot use retryable writes with multi=true");
            results.failed_op(start, op.kind, &refused);
            start += 1;
            continue;
        }
        let after_points = points::run(inv, &request, start, ordered, &mut results)?;
        if after_points > start {
            start = after_points;
            continue;
        }
        let end = start
            + request.ops[start..]
                .iter()
                .take_while(|next| next.kind == op.kind && next.ns == op.ns && !(retryable && next.multi))
                .count();
        let id = |index: usize| request.first_statement + index;
        for retried in (start..end).map(id).filter(|id| inv.executed(*id).is_some()) {
            results.retried(retried);
        }
        let ns = &request.namespaces[op.ns];
        let target = Invocation { db: ns.db.clone(), first_statement: id(start), ..*inv };
        let ops = &request.ops[start..end];
        let documents: Vec<&Document> = ops.iter().filter_map(|op| op.document).collect();
        let statements: Vec<&Document> = ops.iter().map(|op| op.source).collect();
        let (name, shape) = (ns.collection.as_str(), Shape::BulkWrite);
        let done = args::check_collection_name(&target, name).and_then(|()| match op.kind {
            Kind::Insert => insert::execute(&target, name, &documents, ordered).map(Done::Inserted),
            Kind::Update => update::execute(&target, name, &statements, shape, ordered).map(Done::Updated),
            Kind::Delete => delete::execute(&target, name, &statements, shape, ordered).map(Done::Deleted),
        });
        match done {
            Ok(done) => results.add(start, done),
            Err(err) if stops_the_command(&err) => return Err(err),
            // The namespace refused them all (a view, a past point, a bad name).
            Err(err) => {
                let refused = if ordered { start..start + 1 } else { start..end };
                for index in refused {
                    results.failed_op(index, op.kind, &err);
                }
            }
        }
        start = end;
    }
    results.reply(inv, request.batch_size)
}

/// Whether an error fails the whole command rather than one operation: an
/// interruption, a transient error of a transaction (it carries its label), or a
/// failure of the server itself.
pub(super) fn stops_the_command(err: &Error) -> bool {
    match err {
        Error::Command { code, labels, .. } => {
            labels.contains(&"TransientTransactionError")
                || matches!(code, ErrorCode::MaxTimeMSExpired | ErrorCode::Interrupted | ErrorCode::NoSuchTransaction)
        }
        _ => true,
    }
}

/// Authorization: on each namespace, `insert` for inserts, `update` for updates
/// (and `insert` when one upserts), `remove` for deletes; checked before any
/// operation runs.
pub fn authorize(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let request = Request::parse(inv.body)?;
    for (index, namespace) in request.namespaces.iter().enumerate() {
        let mut actions = Vec::new();
        for op in request.ops.iter().filter(|op| op.ns == index) {
            let needs: &[Action] = match op.kind {
                Kind::Insert => &[Action::Insert],
                Kind::Update if op.upsert => &[Action::Update, Action::Insert],
                Kind::Update => &[Action::Update],
                Kind::Delete => &[Action::Remove],
            };
            for action in needs {
                if !actions.contains(action) {
                    actions.push(*action);
                }
            }
        }
        let target = Target::Collection {
            db: &namespace.db.db,
            branch: &namespace.db.branch,
            collection: Some(&namespace.collection),
        };
        super::authorize::require(inv, grants, &target, Actions::of(&actions))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests;
