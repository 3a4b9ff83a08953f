//! `delete`: `limit: 1` deletes the first match in one log record, `limit: 0`
//! every match, a chunk of them per record. Matches are looked for outside the
//! writer lock and re-checked under it.

use bson::{doc, Bson, Document};

use super::args::{self, Shape, Statements};
use super::Invocation;
use crate::error::{Error, Result};
use crate::exec::{self, Target};
use crate::query::{Filter, Variables};
use crate::store::{Batch, Collection, Commit, View};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "delete")?;
    let statements = args::documents(inv.body, "deletes")?;
    let ordered = args::boolean(inv.body, "ordered", true)?;
    for statement in &statements {
        args::known_fields(statement, STATEMENT_FIELDS, "delete.deletes")?;
    }
    let results = execute(inv, name, &statements, Shape::Command, ordered)?;
    let deleted: i64 = results.done.iter().map(|(_, n)| n).sum();
    let mut reply = doc! { "n": deleted as i32 };
    results.complete(&mut reply);
    Ok(reply)
}

/// Runs delete `statements` (of `shape`) on collection `name` (checked) of the
/// invocation's branch, with the command's `let`: how many documents each
/// statement deleted.
pub fn execute(
    inv: &Invocation<'_>,
    name: &str,
    statements: &[&Document],
    shape: Shape,
    ordered: bool,
) -> Result<Statements<i64>> {
    args::writable(inv)?;
    let entry = super::views::refuse(inv, &inv.latest_view()?, name)?;
    let vars = args::variables(inv.body, "delete")?;
    args::each_statement(statements, ordered, |index, statement| {
        if let Some(done) = inv.executed(index) {
            // A retried statement an earlier attempt executed: its reply again.
            return Ok((i64::from(done.get_i32("n").unwrap_or(0)), None));
        }
        let (target, just_one) = statement_args(statement, shape, &vars, entry.as_ref())?;
        match just_one {
            true => delete_one(inv, index, name, &target),
            false => delete_many(inv, name, &target),
        }
    })
}

/// Deletes the first match, statement `index` of its command. The match is looked
/// for without holding up writers; under the writer lock it is re-read and
/// re-matched, and looked for again only if it changed meanwhile.
fn delete_one(inv: &Invocation<'_>, index: usize, name: &str, target: &Target) -> Result<(i64, Option<Commit>)> {
    let Some(candidate) = first_match_now(inv, name, target)? else { return Ok((0, None)) };
    inv.write(|batch| {
        let Some(collection) = batch.collection(name)? else { return Ok(0) };
        let found = match batch.get(&collection, &candidate)?.filter(|d| target.filter.matches(d)) {
            Some(_) => Some(candidate.clone()),
            None => first_match(inv, batch.view(), &collection, target)?,
        };
        let Some(id) = found else { return Ok(0) };
        batch.delete(&collection, &id)?;
        inv.record_statement(batch, index, || doc! {"n": 1});
        Ok(1)
    })
}

/// A single-document delete whose filter pins an `_id` (`id`), statement `index`
/// of its command, run in `batch` (whose own changes it sees): how many it deleted.
pub fn delete_at(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    name: &str,
    index: usize,
    filter: &Filter,
    id: &Bson,
) -> Result<i64> {
    if let Some(done) = inv.executed(index) {
        return Ok(i64::from(done.get_i32("n").unwrap_or(0)));
    }
    let Some(collection) = batch.collection(name)? else { return Ok(0) };
    if !batch.get(&collection, id)?.is_some_and(|d| filter.matches(&d)) {
        return Ok(0);
    }
    batch.delete(&collection, id)?;
    inv.record_statement(batch, index, || doc! {"n": 1});
    Ok(1)
}

/// The `_id` of the first document of `name` matching `filter` in the latest
/// published state (a consistent snapshot: finding none there is a valid answer).
pub fn first_match_now(inv: &Invocation<'_>, name: &str, target: &Target) -> Result<Option<Bson>> {
    let view = inv.latest_view()?;
    match view.collection(name)? {
        Some(collection) => first_match(inv, &view, &collection, target),
        None => Ok(None),
    }
}

/// The `_id` of the first document of a collection matching `filter` in `view`.
fn first_match(inv: &Invocation<'_>, view: &View, collection: &Collection, target: &Target) -> Result<Option<Bson>> {
    let mut found = None;
    exec::each(view, collection, target, &inv.interrupt(), &|plan| inv.note_plan(view, collection, plan), |doc| {
        found = Some(doc.get("_id").cloned().unwrap_or(Bson::Null));
        Ok(false)
    })?;
    Ok(found)
}

/// Deletes every match: the `_id`s are found without holding up writers, then
/// deleted a chunk per log record, each re-read and re-matched under the writer
/// lock. Like MongoDB's, the statement is not isolated from concurrent writes.
fn delete_many(inv: &Invocation<'_>, name: &str, target: &Target) -> Result<(i64, Option<Commit>)> {
    let ids = matching_ids(inv, name, target)?;
    let (mut deleted, mut last) = (0, None);
    for chunk in ids.chunks(crate::wal::SPLIT_OPS) {
        let (n, commit) = inv.write(|batch| {
            let Some(collection) = batch.collection(name)? else { return Ok(0) };
            let mut n = 0;
            for id in chunk {
                if batch.get(&collection, id)?.is_some_and(|d| target.filter.matches(&d)) {
                    batch.delete(&collection, id)?;
                    n += 1;
                }
            }
            Ok(n)
        })?;
        deleted += n;
        last = commit.or(last);
    }
    Ok((deleted, last))
}

/// The `_id`s of the documents of `name` matching `filter` in the latest state.
pub fn matching_ids(inv: &Invocation<'_>, name: &str, target: &Target) -> Result<Vec<Bson>> {
    let view = inv.latest_view()?;
    let Some(collection) = view.collection(name)? else { return Ok(Vec::new()) };
    let mut ids = Vec::new();
    exec::each(&view, &collection, target, &inv.interrupt(), &|plan| inv.note_plan(&view, &collection, plan), |doc| {
        ids.push(doc.get("_id").cloned().unwrap_or(Bson::Null));
        Ok(true)
    })?;
    Ok(ids)
}

/// The fields of a delete statement MongoDB 7.0 knows.
const STATEMENT_FIELDS: &[&str] = &["q", "limit", "hint", "collation", "sampleId"];

/// A statement's filter, which may read the command's variables, and whether it
/// deletes one document.
pub fn statement_args(
    statement: &Document,
    shape: Shape,
    vars: &Variables,
    entry: Option<&Collection>,
) -> Result<(Target, bool)> {
    let filter = Filter::parse_query(args::document(statement, shape.filter())?.unwrap_or(&Document::new()), vars)?
        .with_collation(args::collation_on(statement, entry)?.as_ref())?;
    let filter = args::text_on(filter, entry)?;
    let just_one = match shape {
        Shape::Command => match args::integer(statement, "limit")?.unwrap_or(0) {
            limit @ (0 | 1) => limit == 1,
            limit => {
                return Err(Error::bad_value(format!("The limit field in delete objects must be 0 or 1. Got {limit}")))
            }
        },
        Shape::BulkWrite => !args::boolean(statement, "multi", false)?,
    };
    Ok((args::target(filter, statement)?, just_one))
}
