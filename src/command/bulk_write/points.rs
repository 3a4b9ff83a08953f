//! Point writes: a run of operations that each touch at most one document known
//! by its `_id` (inserts, and single-document updates and deletes whose filter
//! pins the `_id`), on plain collections of one database and branch, done in one
//! log record instead of one each: each costs the writer lock what one document of
//! an `insert` does (a lookup by `_id`). A record takes up to [`SPLIT_OPS`] of them
//! or [`SPLIT_BYTES`] of documents written (a delete counts its `_id`).
//!
//! Each operation reads the batch's own changes (an update finds a document an
//! earlier operation inserted), so the result is the one running them one by one
//! gives; a failed operation changes nothing, and the ones after it run or not as
//! `ordered` says. Anything else (a filter that does not pin an `_id`, a `hint`,
//! a `sort`, a view, a time-series collection, a past point) goes the general way.

use std::collections::HashMap;

use bson::Bson;

use super::request::{Kind, Op, Request};
use super::results::Results;
use crate::command::args::{self, Shape};
use crate::command::{delete, insert, update, Invocation};
use crate::error::Result;
use crate::store::Collection;
use crate::wal::{SPLIT_BYTES, SPLIT_OPS};

/// Runs the point operations from `start` on, as many as one record takes; returns
/// the index of the first operation it did not run (`start` when that one is not a
/// point write).
pub fn run(
    inv: &Invocation<'_>,
    request: &Request<'_>,
    start: usize,
    ordered: bool,
    results: &mut Results,
) -> Result<usize> {
    let first = &request.ops[start];
    let db = &request.namespaces[first.ns].db;
    let target = Invocation { db: db.clone(), first_statement: request.first_statement, ..*inv };
    if !shaped_as_point(first) || target.check_writable().is_err() {
        return Ok(start);
    }
    let (Ok(update_vars), Ok(delete_vars)) = (args::variables(inv.body, "update"), args::variables(inv.body, "delete"))
    else {
        return Ok(start);
    };
    // Which namespaces of this database are plain collections (or none yet).
    let view = target.latest_view()?;
    let mut plain: HashMap<usize, Option<Option<Collection>>> = HashMap::new();
    let mut entry_of = |ns: usize| -> Result<Option<Option<Collection>>> {
        if let Some(known) = plain.get(&ns) {
            return Ok(known.clone());
        }
        let name = &request.namespaces[ns].collection;
        let entry = match args::check_collection_name(&target, name) {
            Err(_) => None,
            Ok(()) => match view.collection(name)? {
                Some(c) if c.view_on().is_some() || crate::command::timeseries::is_timeseries(&c.options) => None,
                entry => Some(entry),
            },
        };
        plain.insert(ns, entry.clone());
        Ok(entry)
    };
    if entry_of(first.ns)?.is_none() {
        return Ok(start);
    }
    let validation = crate::command::validation::Validation::of(inv.body);
    let (end, commit) = target.write(|batch| {
        let mut index = start;
        let mut bytes = 0;
        while index < request.ops.len() && index - start < SPLIT_OPS && bytes < SPLIT_BYTES {
            if ordered && results.failed() {
                break;
            }
            let op = &request.ops[index];
            if request.namespaces[op.ns].db != *db || !shaped_as_point(op) {
                break;
            }
            let Some(entry) = entry_of(op.ns)? else { break };
            let namespace = &request.namespaces[op.ns];
            let name = namespace.collection.as_str();
            if target.executed(index).is_some() {
                results.retried(request.first_statement + index);
            }
            let outcome = match op.kind {
                Kind::Insert => {
                    if target.executed(index).is_some() {
                        results.inserted(index);
                        index += 1;
                        continue;
                    }
                    insert::prepare(op.document.unwrap_or(op.source)).and_then(|(doc, size)| {
                        bytes += size;
                        let collection = batch.collection_or_create(name)?;
                        insert::put_new(&target, batch, &collection, &namespace.full, index, doc, &validation)?;
                        results.inserted(index);
                        Ok(())
                    })
                }
                Kind::Update => match update::statement_args(op.source, Shape::BulkWrite, &update_vars, entry.as_ref())
                {
                    Ok(statement) => {
                        let Some(id) = statement.target.filter.id_equality().cloned() else { break };
                        update::update_at(&target, batch, name, index, &statement, &id, &validation).map(
                            |(outcome, size)| {
                                bytes += size;
                                results.updated(index, &outcome);
                            },
                        )
                    }
                    Err(err) => Err(err),
                },
                Kind::Delete => match delete::statement_args(op.source, Shape::BulkWrite, &delete_vars, entry.as_ref())
                {
                    Ok((statement, _)) => {
                        let Some(id) = statement.filter.id_equality().cloned() else { break };
                        bytes += crate::value::size::value_size(&id);
                        delete::delete_at(&target, batch, name, index, &statement.filter, &id)
                            .map(|n| results.deleted(index, n))
                    }
                    Err(err) => Err(err),
                },
            };
            match outcome {
                Ok(()) => {}
                Err(err) if super::stops_the_command(&err) => return Err(err),
                Err(err) => results.failed_op(index, op.kind, &err),
            }
            index += 1;
        }
        Ok(index)
    })?;
    results.committed(commit);
    Ok(end)
}

/// Whether an operation may be a point write, from its fields alone: an insert,
/// or a single-document update or delete with no `hint` or `sort` whose filter
/// gives `_id` a plain value (whether it pins the `_id` is known once parsed).
fn shaped_as_point(op: &Op<'_>) -> bool {
    if op.kind == Kind::Insert {
        return true;
    }
    let plain_id = match op.filter.and_then(|filter| filter.get("_id")) {
        Some(Bson::Array(_) | Bson::RegularExpression(_)) | None => false,
        Some(Bson::Document(value)) => !value.keys().next().is_some_and(|k| k.starts_with('$')),
        Some(_) => true,
    };
    plain_id && !op.multi && !op.hint_or_sort
}
