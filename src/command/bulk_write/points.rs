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
//!
//! What an operation asks does not depend on the batch: its filter and update are
//! parsed, and an insert's document taken, before the writer lock. In a long run
//! a second thread does that reading while the write applies the operations read
//! before, so the lock is held only for the applying.

use std::collections::hash_map::Entry;
use std::collections::HashMap;
use std::sync::mpsc;

use bson::{Bson, Document};

use super::request::{Kind, Op, Request};
use super::results::Results;
use crate::command::args::{self, Shape};
use crate::command::{delete, insert, update, Invocation};
use crate::error::Result;
use crate::exec::Target;
use crate::query::expr::Variables;
use crate::store::{Collection, View};
use crate::wal::{SPLIT_BYTES, SPLIT_OPS};

/// A run of at least this many operations is read on a second thread.
const READ_AHEAD_FROM: usize = 128;

/// How many read operations the second thread hands over at a time.
const HANDOFF: usize = 64;

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
    let (Ok(update), Ok(delete)) = (args::variables(inv.body, "update"), args::variables(inv.body, "delete")) else {
        return Ok(start);
    };
    let vars = Vars { update, delete };
    let Some(run) = Run::find(&target, request, start)? else { return Ok(start) };
    let validation = crate::command::validation::Validation::of(inv.body);
    std::thread::scope(|scope| {
        let mut reads = match run.end - start >= READ_AHEAD_FROM {
            true => {
                let (sender, receiver) = mpsc::sync_channel(2);
                let (run, vars) = (&run, &vars);
                scope.spawn(move || run.read_ahead(request, start, vars, sender));
                Reads::Ahead { receiver, handed: Vec::new().into_iter() }
            }
            false => Reads::OnDemand,
        };
        let (end, commit) = target.write(|batch| {
            let mut index = start;
            let mut bytes = 0;
            while index < run.end && bytes < SPLIT_BYTES && !(ordered && results.failed()) {
                let Some(read) = reads.next(|| run.read(request, index, &vars)) else { break };
                let op = &request.ops[index];
                let namespace = &request.namespaces[op.ns];
                let name = namespace.collection.as_str();
                let executed = target.executed(index).is_some();
                let applied = match read {
                    Read::Insert(_) if executed => {
                        results.inserted(index);
                        Ok(Applied::Done)
                    }
                    Read::Insert(prepared) => prepared.and_then(|(doc, size)| {
                        bytes += size;
                        let collection = batch.collection_or_create(name)?;
                        insert::put_new(&target, batch, &collection, &namespace.full, index, doc, &validation)?;
                        results.inserted(index);
                        Ok(Applied::Done)
                    }),
                    Read::Update(statement) => statement.and_then(|statement| {
                        let Some(id) = statement.target.filter.id_equality() else { return Ok(Applied::NotAPoint) };
                        let (outcome, size) =
                            update::update_at(&target, batch, name, index, &statement, id, &validation)?;
                        bytes += size;
                        results.updated(index, &outcome);
                        Ok(Applied::Done)
                    }),
                    Read::Delete(statement) => statement.and_then(|statement| {
                        let Some(id) = statement.filter.id_equality() else { return Ok(Applied::NotAPoint) };
                        bytes += crate::value::size::value_size(id);
                        let deleted = delete::delete_at(&target, batch, name, index, &statement.filter, id)?;
                        results.deleted(index, deleted);
                        Ok(Applied::Done)
                    }),
                };
                if matches!(applied, Ok(Applied::NotAPoint)) {
                    break;
                }
                if executed {
                    results.retried(request.first_statement + index);
                }
                match applied {
                    Ok(_) => {}
                    Err(err) if super::stops_the_command(&err) => return Err(err),
                    Err(err) => results.failed_op(index, op.kind, &err),
                }
                index += 1;
            }
            Ok(index)
        })?;
        results.committed(commit);
        Ok(end)
    })
}

/// What applying one operation came to, when it did not fail.
enum Applied {
    Done,
    /// Its filter does not pin an `_id` after all: the run ends before it.
    NotAPoint,
}

/// The variables of the command's `let`, as its updates and its deletes see them.
struct Vars {
    update: Variables,
    delete: Variables,
}

/// An operation of a run, read: an insert's document and its size, an update's
/// statement, a delete's filter; or why it fails.
enum Read {
    Insert(Result<(Document, usize)>),
    Update(Result<Box<update::Statement>>),
    Delete(Result<Target>),
}

/// The operations one record may take from `start` on (up to `end`): point-shaped,
/// on plain collections (or none yet) of one database, with what each of their
/// collections is.
struct Run {
    end: usize,
    collections: HashMap<usize, Option<Collection>>,
}

impl Run {
    /// The run from `start`, or `None` when its first operation cannot be in one.
    fn find(target: &Invocation<'_>, request: &Request<'_>, start: usize) -> Result<Option<Run>> {
        let view = target.latest_view()?;
        let db = &request.namespaces[request.ops[start].ns].db;
        let mut collections = HashMap::new();
        let mut end = start;
        while end < request.ops.len() && end - start < SPLIT_OPS {
            let op = &request.ops[end];
            if !shaped_as_point(op) || request.namespaces[op.ns].db != *db {
                break;
            }
            if let Entry::Vacant(vacant) = collections.entry(op.ns) {
                match plain_collection(target, &view, &request.namespaces[op.ns].collection)? {
                    Some(collection) => vacant.insert(collection),
                    None => break,
                };
            }
            end += 1;
        }
        Ok((end > start).then_some(Run { end, collections }))
    }

    /// Reads operation `index` of the run.
    fn read(&self, request: &Request<'_>, index: usize, vars: &Vars) -> Read {
        let op = &request.ops[index];
        let collection = self.collections.get(&op.ns).and_then(Option::as_ref);
        match op.kind {
            Kind::Insert => Read::Insert(insert::prepare(op.document.unwrap_or(op.source))),
            Kind::Update => Read::Update(
                update::statement_args(op.source, Shape::BulkWrite, &vars.update, collection).map(Box::new),
            ),
            Kind::Delete => Read::Delete(
                delete::statement_args(op.source, Shape::BulkWrite, &vars.delete, collection).map(|(target, _)| target),
            ),
        }
    }

    /// Reads the run's operations from `start` in order, handing them over a few at
    /// a time, until the run ends or the writer stops taking them.
    fn read_ahead(&self, request: &Request<'_>, start: usize, vars: &Vars, sender: mpsc::SyncSender<Vec<Read>>) {
        let mut index = start;
        while index < self.end {
            // A few first, so that the writer need not wait for a whole handoff.
            let handoff = if index == start { HANDOFF / 8 } else { HANDOFF };
            let upto = (index + handoff).min(self.end);
            let reads = (index..upto).map(|i| self.read(request, i, vars)).collect();
            if sender.send(reads).is_err() {
                return;
            }
            index = upto;
        }
    }
}

/// Where the operations of a run are read: by the writer as it reaches each, or
/// ahead of it by a second thread.
enum Reads {
    OnDemand,
    Ahead { receiver: mpsc::Receiver<Vec<Read>>, handed: std::vec::IntoIter<Read> },
}

impl Reads {
    /// The next operation, read; `None` if the second thread stopped early (it
    /// failed: the scope it runs in reports that).
    fn next(&mut self, read: impl FnOnce() -> Read) -> Option<Read> {
        match self {
            Reads::OnDemand => Some(read()),
            Reads::Ahead { receiver, handed } => match handed.next() {
                Some(read) => Some(read),
                None => {
                    *handed = receiver.recv().ok()?.into_iter();
                    handed.next()
                }
            },
        }
    }
}

/// A collection of the run's database the point way may write: `Some(None)` when
/// it does not exist yet, `None` for a view, a time-series collection or a name
/// that is refused.
fn plain_collection(target: &Invocation<'_>, view: &View, name: &str) -> Result<Option<Option<Collection>>> {
    if args::check_collection_name(target, name).is_err() {
        return Ok(None);
    }
    Ok(match view.collection(name)? {
        Some(c) if c.view_on().is_some() || crate::command::timeseries::is_timeseries(&c.options) => None,
        collection => Some(collection),
    })
}

/// Whether an operation may be a point write, from its fields alone: an insert,
/// or a single-document update or delete with no `hint` or `sort` whose filter
/// gives `_id` a plain value (whether it pins the `_id` is known once parsed).
fn shaped_as_point(op: &Op<'_>) -> bool {
    if op.kind == Kind::Insert {
        return true;
    }
    if op.multi || op.hint_or_sort {
        return false;
    }
    match op.filter_id {
        Some(Bson::Array(_) | Bson::RegularExpression(_)) | None => false,
        Some(Bson::Document(value)) => !value.keys().next().is_some_and(|k| k.starts_with('$')),
        Some(_) => true,
    }
}
