//! `findAndModify`: updates or removes the first document a query matches (in
//! `sort` order) and returns it, as it was or as it became.
//!
//! Like single-document updates, the match is looked for without holding up
//! writers, then re-read and re-matched under the writer lock, and looked for again
//! there only if it changed meanwhile.

use bson::{doc, Bson, Document};

use super::validation::Validation;
use super::{args, update, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::exec::{self, Target};
use crate::query::{Filter, Projection, Sort, Update};
use crate::store::{Batch, Collection, Commit};

/// What the command asks for, parsed once.
struct Request {
    target: Target,
    sort: Option<Sort>,
    /// `None`: remove the match.
    update: Option<Update>,
    return_new: bool,
    upsert: bool,
    fields: Option<Projection>,
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let command = inv.body.keys().next().map_or("findAndModify", String::as_str);
    let name = args::collection(inv, command)?;
    args::writable(inv)?;
    let entry = super::views::refuse(inv, &inv.latest_view()?, name)?;
    // An update of one measurement is refused as MongoDB 8.0 refuses it.
    if let Some(entry) = entry.as_ref().filter(|_| inv.body.contains_key("update")) {
        super::timeseries::check_update(entry, &bson::doc! {"multi": false}, args::Shape::Command)?;
    }
    let request = parse(inv.body, entry.as_ref())?;
    let (outcome, commit) = match inv.executed(0) {
        // A retry of a findAndModify an earlier attempt executed: its reply again.
        Some(done) => (Outcome::recorded(done), None),
        None => modify(inv, name, &request)?,
    };
    reply(outcome, commit, &request)
}

/// Finds the document and modifies it, as one record.
fn modify(inv: &Invocation<'_>, name: &str, request: &Request) -> Result<(Outcome, Option<Commit>)> {
    let candidate = {
        let view = inv.latest_view()?;
        match view.collection(name)? {
            Some(collection) => {
                exec::first(&view, &collection, &request.target, request.sort.as_ref(), &inv.interrupt(), &|plan| {
                    inv.note_plan(&view, &collection, plan)
                })?
            }
            None => None,
        }
    };
    let candidate_id = candidate.as_ref().and_then(|d| d.get("_id").cloned());
    inv.write(|batch| {
        let outcome = change(inv, batch, name, request, candidate_id.as_ref())?;
        inv.record_statement(batch, 0, || outcome.record());
        Ok(outcome)
    })
}

/// Updates or removes the match, or upserts, in `batch`.
fn change(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    name: &str,
    request: &Request,
    candidate_id: Option<&Bson>,
) -> Result<Outcome> {
    let collection = batch.collection(name)?;
    let mut found = None;
    if let (Some(collection), Some(id)) = (&collection, &candidate_id) {
        found = batch.get(collection, id)?.filter(|d| request.target.filter.matches(d));
        if found.is_none() {
            found = exec::first(
                batch.view(),
                collection,
                &request.target,
                request.sort.as_ref(),
                &inv.interrupt(),
                &|_| {},
            )?;
        }
    }
    match (found, collection, &request.update) {
        (Some(old), Some(collection), None) => {
            let id = old.get("_id").cloned().unwrap_or(Bson::Null);
            batch.delete(&collection, &id)?;
            Ok(Outcome { value: Some(old), n: 1, updated_existing: None, upserted: None })
        }
        (Some(old), Some(collection), Some(change)) => {
            let new = update::rewrite_returning(
                batch,
                &collection,
                old.clone(),
                &request.target.filter,
                change,
                &Validation::of(inv.body),
            )?;
            let value = if request.return_new { new } else { old };
            Ok(Outcome { value: Some(value), n: 1, updated_existing: Some(true), upserted: None })
        }
        (_, _, Some(change)) if request.upsert => {
            let inserted =
                update::upsert_insert(batch, name, &request.target.filter, change, &Validation::of(inv.body))?;
            let id = inserted.get("_id").cloned().unwrap_or(Bson::Null);
            let value = request.return_new.then_some(inserted);
            Ok(Outcome { value, n: 1, updated_existing: Some(false), upserted: Some(id) })
        }
        (_, _, change) => {
            Ok(Outcome { value: None, n: 0, updated_existing: change.as_ref().map(|_| false), upserted: None })
        }
    }
}

/// The reply: `lastErrorObject` and the document as `fields` projects it.
fn reply(outcome: Outcome, commit: Option<Commit>, request: &Request) -> Result<Document> {
    let mut last_error = doc! {"n": outcome.n};
    if let Some(updated_existing) = outcome.updated_existing {
        last_error.insert("updatedExisting", updated_existing);
    }
    if let Some(id) = outcome.upserted {
        last_error.insert("upserted", id);
    }
    let value = match (outcome.value, &request.fields) {
        (Some(doc), Some(fields)) => {
            let position = request.target.filter.matched_position(&doc);
            Bson::Document(fields.apply(doc, position)?)
        }
        (Some(doc), None) => Bson::Document(doc),
        (None, _) => Bson::Null,
    };
    let mut reply = doc! {"lastErrorObject": last_error, "value": value};
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

struct Outcome {
    /// The document returned in `value`.
    value: Option<Document>,
    n: i32,
    updated_existing: Option<bool>,
    upserted: Option<Bson>,
}

impl Outcome {
    /// What a retryable write records: all of it, the image returned included.
    fn record(&self) -> Document {
        let mut record = doc! {"n": self.n, "value": self.value.clone().map_or(Bson::Null, Bson::Document)};
        if let Some(updated_existing) = self.updated_existing {
            record.insert("updatedExisting", updated_existing);
        }
        if let Some(id) = &self.upserted {
            record.insert("upserted", id.clone());
        }
        record
    }

    /// The outcome from its record.
    fn recorded(record: &Document) -> Outcome {
        Outcome {
            value: record.get_document("value").ok().cloned(),
            n: record.get_i32("n").unwrap_or(0),
            updated_existing: record.get_bool("updatedExisting").ok(),
            upserted: record.get("upserted").cloned(),
        }
    }
}

fn parse(body: &Document, entry: Option<&Collection>) -> Result<Request> {
    let vars = args::variables(body, "findAndModify")?;
    let collation = args::collation_on(body, entry)?;
    let filter = Filter::parse_query(args::document(body, "query")?.unwrap_or(&Document::new()), &vars)?
        .with_collation(collation.as_ref())?;
    let filter = args::text_on(filter, entry)?;
    let sort = args::document(body, "sort")?
        .filter(|s| !s.is_empty())
        .map(|spec| Sort::parse(spec).map(|sort| sort.with_collation(collation.as_ref())))
        .transpose()?;
    let fields = match args::document(body, "fields")? {
        Some(spec) => Projection::parse(spec, &vars)?,
        None => None,
    };
    if collation.is_some() {
        if let Some(spec) = body.get("update") {
            update::refuse_collated(spec)?;
        }
        if fields.as_ref().is_some_and(Projection::compares_values) {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                "a collation other than simple is not supported yet with computed or $elemMatch projections",
            ));
        }
    }
    let remove = args::boolean(body, "remove", false)?;
    let return_new = args::boolean(body, "new", false)?;
    let upsert = args::boolean(body, "upsert", false)?;
    let invalid = |message: &str| Err(Error::command(ErrorCode::FailedToParse, message));
    let update = match (body.get("update"), remove) {
        (Some(_), true) => return invalid("Cannot specify both an update and remove=true"),
        (None, false) => return invalid("Either an update or remove=true must be specified"),
        (None, true) if upsert => return invalid("Cannot specify both upsert=true and remove=true "),
        (None, true) if return_new => {
            return invalid(
                "Cannot specify both new=true and remove=true; 'remove' always returns the deleted document",
            )
        }
        (None, true) => None,
        (Some(spec), false) => Some(
            Update::parse(spec, &update::array_filters(body, "findAndModify")?, &vars)?
                .with_collation(collation.as_ref())?,
        ),
    };
    Ok(Request { target: args::target(filter, body)?, sort, update, return_new, upsert, fields })
}
