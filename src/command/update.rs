//! `update`: a single-document statement is one log record; `multi` updates every
//! match, a chunk per record; `upsert` inserts when nothing matches. Matches are
//! looked for outside the writer lock and re-checked under it.

use std::borrow::Cow;

use bson::{doc, oid::ObjectId, Bson, Document};

use super::args::{self, Shape, Statements};
use super::validation::Validation;
use super::Invocation;
use crate::error::{Error, Result};
use crate::exec::{self, Target};
use crate::query::update::Context;
use crate::query::{Filter, Sort, Update, Variables};
use crate::store::{Batch, Collection, Commit, PutKind};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "update")?;
    let statements = args::documents(inv.body, "updates")?;
    let ordered = args::boolean(inv.body, "ordered", true)?;
    for statement in &statements {
        args::known_fields(statement, STATEMENT_FIELDS, "update.updates")?;
    }
    let results = execute(inv, name, &statements, Shape::Command, ordered)?;
    let (mut matched, mut modified) = (0i64, 0i64);
    let mut upserted = Vec::new();
    for (index, outcome) in &results.done {
        matched += outcome.matched;
        modified += outcome.modified;
        if let Some(id) = &outcome.upserted {
            upserted.push(Bson::Document(doc! {"index": *index as i32, "_id": id.clone()}));
        }
    }
    let mut reply = doc! { "n": (matched + upserted.len() as i64) as i32, "nModified": modified as i32 };
    if !upserted.is_empty() {
        reply.insert("upserted", upserted);
    }
    results.complete(&mut reply);
    Ok(reply)
}

/// Runs update `statements` (of `shape`) on collection `name` (checked) of the
/// invocation's branch, with the command's `let` and `bypassDocumentValidation`:
/// what each statement did.
pub fn execute(
    inv: &Invocation<'_>,
    name: &str,
    statements: &[&Document],
    shape: Shape,
    ordered: bool,
) -> Result<Statements<Outcome>> {
    args::writable(inv)?;
    let entry = super::views::refuse(inv, &inv.latest_view()?, name)?;
    let vars = args::variables(inv.body, "update")?;
    args::each_statement(statements, ordered, |index, statement| {
        if let Some(done) = inv.executed(index) {
            // A retried statement an earlier attempt executed: its reply again.
            return Ok((Outcome::recorded(done), None));
        }
        if let Some(entry) = &entry {
            super::timeseries::check_update(entry, statement, shape)?;
        }
        let parsed = statement_args(statement, shape, &vars, entry.as_ref())?;
        match parsed.multi {
            true => update_many(inv, name, &parsed.target, &parsed.update, parsed.upsert),
            false => update_one(inv, index, name, &parsed),
        }
    })
}

/// The fields of an update statement MongoDB 8.0 knows (`hint` is read by the
/// statement's target; `upsertSupplied` and `sampleId` are internal to sharding).
const STATEMENT_FIELDS: &[&str] =
    &["q", "u", "c", "upsert", "multi", "arrayFilters", "hint", "collation", "sort", "upsertSupplied", "sampleId"];

/// One update statement, parsed.
pub struct Statement {
    pub target: Target,
    pub update: Update,
    pub multi: bool,
    pub upsert: bool,
    /// Which match a single-document update takes: the first in this order.
    pub sort: Option<Sort>,
}

/// A statement's filter, update, `multi`, `upsert` and `sort`. The filter and the
/// update may read the command's variables `vars`; a pipeline-style update also
/// its constants `c`.
pub fn statement_args(
    statement: &Document,
    shape: Shape,
    vars: &Variables,
    entry: Option<&Collection>,
) -> Result<Statement> {
    let collation = args::collation_on(statement, entry)?;
    let filter = Filter::parse_query(args::document(statement, shape.filter())?.unwrap_or(&Document::new()), vars)?
        .with_collation(collation.as_ref())?;
    let filter = args::text_on(filter, entry)?;
    let spec = statement.get(shape.update()).ok_or_else(|| {
        Error::command(
            crate::error::ErrorCode::Location40414,
            "BSON field 'update.updates.u' is missing but a required field",
        )
    })?;
    if collation.is_some() {
        refuse_collated(spec)?;
    }
    let constants = args::document(statement, shape.constants())?;
    if constants.is_some() && !matches!(spec, Bson::Array(_)) {
        return Err(Error::command(
            crate::error::ErrorCode::Location51198,
            "Constant values may only be specified for pipeline updates",
        ));
    }
    let vars = match constants {
        Some(constants) => Cow::Owned(vars.with_constants(constants)?),
        None => Cow::Borrowed(vars),
    };
    let update =
        Update::parse(spec, &array_filters(statement, "update.updates")?, &vars)?.with_collation(collation.as_ref())?;
    let multi = args::boolean(statement, "multi", false)?;
    let upsert = args::boolean(statement, "upsert", false)?;
    if multi && matches!(update, Update::Replace(_)) {
        return Err(Error::command(
            crate::error::ErrorCode::FailedToParse,
            "multi update is not supported for replacement-style update",
        ));
    }
    let sort = match args::document(statement, "sort")? {
        Some(spec) if multi && !spec.is_empty() => {
            return Err(Error::command(crate::error::ErrorCode::FailedToParse, "Cannot specify sort with multi=true"))
        }
        Some(spec) if !spec.is_empty() => Some(Sort::parse(spec)?.with_collation(collation.as_ref())),
        _ => None,
    };
    Ok(Statement { target: args::target(filter, statement)?, update, multi, upsert, sort })
}

/// Refuses an update (`spec`) under a collation when it would compare strings
/// where a collation is not taken yet: `$pull` conditions that are filters.
pub fn refuse_collated(spec: &Bson) -> Result<()> {
    let Bson::Document(update) = spec else { return Ok(()) };
    let pull_filter =
        update.get_document("$pull").is_ok_and(|pull| pull.values().any(|v| matches!(v, Bson::Document(_))));
    match pull_filter {
        true => Err(Error::command(
            crate::error::ErrorCode::NotImplemented,
            "a collation other than simple is not supported yet with $pull conditions",
        )),
        false => Ok(()),
    }
}

/// The `arrayFilters` of an update statement or a `findAndModify` (`field_prefix`
/// names it in errors): an array of documents, empty when absent.
pub fn array_filters(statement: &Document, field_prefix: &str) -> Result<Vec<Document>> {
    let wrong = |field: &str, value: &Bson, expected: &str| {
        Error::type_mismatch(format!(
            "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
            crate::value::type_name(Some(value))
        ))
    };
    match statement.get("arrayFilters") {
        None => Ok(Vec::new()),
        Some(Bson::Array(filters)) => filters
            .iter()
            .enumerate()
            .map(|(i, filter)| match filter {
                Bson::Document(filter) => Ok(filter.clone()),
                other => Err(wrong(&format!("{field_prefix}.arrayFilters.{i}"), other, "object")),
            })
            .collect(),
        Some(other) => Err(wrong(&format!("{field_prefix}.arrayFilters"), other, "array")),
    }
}

/// A single-document update, statement `index` of its command. The match is looked
/// for without holding up writers; under the writer lock it is re-read and
/// re-matched, and looked for again (with the upsert, if nothing matches) only if
/// it changed meanwhile. A retryable write records what it did.
fn update_one(
    inv: &Invocation<'_>,
    index: usize,
    name: &str,
    statement: &Statement,
) -> Result<(Outcome, Option<Commit>)> {
    let Statement { target, update, upsert, sort, .. } = statement;
    let view = inv.latest_view()?;
    let candidate = match view.collection(name)? {
        Some(collection) => exec::first(&view, &collection, target, sort.as_ref(), &inv.interrupt(), &|plan| {
            inv.note_plan(&view, &collection, plan)
        })?
        .map(|doc| doc.get("_id").cloned().unwrap_or(Bson::Null)),
        None => None,
    };
    drop(view);
    if candidate.is_none() && !upsert {
        return Ok((Outcome { matched: 0, modified: 0, upserted: None }, None));
    }
    let validation = Validation::of(inv.body);
    inv.write(|batch| {
        let mut outcome = None;
        if let (Some(id), Some(collection)) = (&candidate, batch.collection(name)?) {
            if let Some(doc) = batch.get(&collection, id)?.filter(|d| target.filter.matches(d)) {
                let (_, modified) = rewrite(batch, &collection, doc, &target.filter, update, &validation)?;
                outcome = Some(Outcome { matched: 1, modified: i64::from(modified), upserted: None });
            }
        }
        let outcome = match outcome {
            Some(outcome) => outcome,
            None => apply_one(inv, batch, name, statement)?,
        };
        inv.record_statement(batch, index, || outcome.record());
        Ok(outcome)
    })
}

/// A `multi` update: the matching `_id`s are found without holding up writers, then
/// rewritten a chunk per log record, each document re-read and re-matched under the
/// writer lock. Like MongoDB's, the statement is not isolated from concurrent writes.
fn update_many(
    inv: &Invocation<'_>,
    name: &str,
    target: &Target,
    update: &Update,
    upsert: bool,
) -> Result<(Outcome, Option<Commit>)> {
    let ids = super::delete::matching_ids(inv, name, target)?;
    if ids.is_empty() {
        return inv.write(|batch| apply_many(inv, batch, name, target, update, upsert));
    }
    let mut total = Outcome { matched: 0, modified: 0, upserted: None };
    let validation = Validation::of(inv.body);
    let mut last = None;
    let mut next = 0;
    while next < ids.len() {
        let ((outcome, end), commit) = inv.write(|batch| {
            let mut outcome = Outcome { matched: 0, modified: 0, upserted: None };
            let Some(collection) = batch.collection(name)? else { return Ok((outcome, ids.len())) };
            let mut bytes = 0;
            for (index, id) in ids.iter().enumerate().skip(next) {
                if index - next >= crate::wal::SPLIT_OPS || bytes >= crate::wal::SPLIT_BYTES {
                    return Ok((outcome, index));
                }
                let Some(doc) = batch.get(&collection, id)?.filter(|d| target.filter.matches(d)) else { continue };
                let (size, modified) = rewrite(batch, &collection, doc, &target.filter, update, &validation)?;
                outcome.matched += 1;
                outcome.modified += i64::from(modified);
                bytes += size;
            }
            Ok((outcome, ids.len()))
        })?;
        total.matched += outcome.matched;
        total.modified += outcome.modified;
        last = commit.or(last);
        next = end;
    }
    Ok((total, last))
}

/// Applies `update` to a matched document and writes the result when it differs;
/// returns its size and whether it changed. A positional `$` in the
/// update refers to the array element through which `filter` matched.
pub fn rewrite(
    batch: &mut Batch<'_>,
    collection: &Collection,
    doc: Document,
    filter: &Filter,
    update: &Update,
    validation: &Validation,
) -> Result<(usize, bool)> {
    let (size, modified, _) = rewrite_keeping(batch, collection, doc, filter, update, validation, false)?;
    Ok((size, modified))
}

/// As [`rewrite`], returning the document as it became.
pub fn rewrite_returning(
    batch: &mut Batch<'_>,
    collection: &Collection,
    doc: Document,
    filter: &Filter,
    update: &Update,
    validation: &Validation,
) -> Result<Document> {
    let (_, _, kept) = rewrite_keeping(batch, collection, doc, filter, update, validation, true)?;
    Ok(kept.unwrap_or_default())
}

/// [`rewrite`], keeping a copy of the result when `keep` says so.
fn rewrite_keeping(
    batch: &mut Batch<'_>,
    collection: &Collection,
    doc: Document,
    filter: &Filter,
    update: &Update,
    validation: &Validation,
    keep: bool,
) -> Result<(usize, bool, Option<Document>)> {
    let updated = update.apply(&doc, &Context::new(false, filter.matched_position(&doc)))?;
    let size = super::insert::check_size(&updated)?;
    // Modified when its bytes changed, as MongoDB decides (a replacement that only
    // reorders fields modifies the document; `Document`'s equality would not see it).
    let modified = !crate::value::identical_documents(&updated, &doc);
    if !modified {
        return Ok((size, false, keep.then_some(updated)));
    }
    validation.check(collection, Some(&doc), &updated)?;
    let kind = match update {
        Update::Replace(_) => PutKind::Replace,
        Update::Operators(_) | Update::Pipeline(_) => PutKind::Update,
    };
    let kept = keep.then(|| updated.clone());
    batch.put(collection, kind, updated)?;
    Ok((size, true, kept))
}

/// What one update statement did.
pub struct Outcome {
    /// Documents matched (not counting an upsert).
    pub matched: i64,
    pub modified: i64,
    /// The `_id` of the document an upsert inserted.
    pub upserted: Option<Bson>,
}

impl Outcome {
    /// What a retryable write records of the statement.
    fn record(&self) -> Document {
        let mut record = doc! {"n": self.matched, "nModified": self.modified};
        if let Some(id) = &self.upserted {
            record.insert("upserted", id.clone());
        }
        record
    }

    /// The statement's outcome from its record.
    fn recorded(record: &Document) -> Outcome {
        Outcome {
            matched: record.get_i64("n").unwrap_or(0),
            modified: record.get_i64("nModified").unwrap_or(0),
            upserted: record.get("upserted").cloned(),
        }
    }
}

/// A single-document update whose filter pins an `_id` (`id`), statement `index`
/// of its command, run in `batch` (whose own changes it sees): the document with
/// that `_id` if it matches, or the upsert. Returns what it did and the size of
/// the document it wrote (0: none).
pub fn update_at(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    name: &str,
    index: usize,
    statement: &Statement,
    id: &Bson,
    validation: &Validation,
) -> Result<(Outcome, usize)> {
    if let Some(done) = inv.executed(index) {
        return Ok((Outcome::recorded(done), 0));
    }
    let filter = &statement.target.filter;
    let mut outcome = Outcome { matched: 0, modified: 0, upserted: None };
    let mut size = 0;
    let found = match batch.collection(name)? {
        Some(collection) => batch.get(&collection, id)?.filter(|d| filter.matches(d)).map(|doc| (collection, doc)),
        None => None,
    };
    if let Some((collection, doc)) = found {
        let (written, modified) = rewrite(batch, &collection, doc, filter, &statement.update, validation)?;
        outcome = Outcome { matched: 1, modified: i64::from(modified), upserted: None };
        size = if modified { written } else { 0 };
    } else if statement.upsert {
        let inserted = upsert_insert(batch, name, filter, &statement.update, validation)?;
        size = crate::value::size::document_size(&inserted);
        outcome.upserted = Some(inserted.get("_id").cloned().unwrap_or(Bson::Null));
    }
    inv.record_statement(batch, index, || outcome.record());
    Ok((outcome, size))
}

/// A single-document update under the writer lock: the first match in the
/// statement's order, or the upsert.
fn apply_one(inv: &Invocation<'_>, batch: &mut Batch<'_>, name: &str, statement: &Statement) -> Result<Outcome> {
    let Statement { target, update, upsert, sort, .. } = statement;
    let mut outcome = Outcome { matched: 0, modified: 0, upserted: None };
    let validation = Validation::of(inv.body);
    if let Some(collection) = batch.collection(name)? {
        if let Some(doc) = exec::first(batch.view(), &collection, target, sort.as_ref(), &inv.interrupt(), &|plan| {
            inv.note_plan(batch.view(), &collection, plan)
        })? {
            let (_, modified) = rewrite(batch, &collection, doc, &target.filter, update, &validation)?;
            return Ok(Outcome { matched: 1, modified: i64::from(modified), upserted: None });
        }
    }
    if *upsert {
        let inserted = upsert_insert(batch, name, &target.filter, update, &validation)?;
        outcome.upserted = Some(inserted.get("_id").cloned().unwrap_or(Bson::Null));
    }
    Ok(outcome)
}

/// A `multi` update under the writer lock: every match, or the upsert.
fn apply_many(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    name: &str,
    target: &Target,
    update: &Update,
    upsert: bool,
) -> Result<Outcome> {
    let mut outcome = Outcome { matched: 0, modified: 0, upserted: None };
    let validation = Validation::of(inv.body);
    let collection = batch.collection(name)?;
    if let Some(collection) = &collection {
        let mut targets = Vec::new();
        exec::each(
            batch.view(),
            collection,
            target,
            &inv.interrupt(),
            &|plan| inv.note_plan(batch.view(), collection, plan),
            |doc| {
                targets.push(doc);
                Ok(true)
            },
        )?;
        for doc in targets {
            let (_, modified) = rewrite(batch, collection, doc, &target.filter, update, &validation)?;
            outcome.matched += 1;
            outcome.modified += i64::from(modified);
        }
    }
    if outcome.matched == 0 && upsert {
        outcome.upserted = Some(
            upsert_insert(batch, name, &target.filter, update, &validation)?.get("_id").cloned().unwrap_or(Bson::Null),
        );
    }
    Ok(outcome)
}

/// The insert of an upsert that matched nothing: the filter's equality fields (only
/// `_id` for a replacement) with the update applied; returns the new document.
pub fn upsert_insert(
    batch: &mut Batch<'_>,
    name: &str,
    filter: &Filter,
    update: &Update,
    validation: &Validation,
) -> Result<Document> {
    let mut seed = filter.upsert_seed()?;
    if let Update::Replace(_) = update {
        seed = seed.get("_id").map(|id| doc! {"_id": id.clone()}).unwrap_or_default();
    }
    let mut inserted = update.apply(&seed, &Context::new(true, None))?;
    if !inserted.contains_key("_id") {
        let mut with_id = doc! {"_id": ObjectId::new()};
        with_id.extend(inserted);
        inserted = with_id;
    }
    let id = inserted.get("_id").cloned().unwrap_or(Bson::Null);
    let collection = batch.collection_or_create(name)?;
    if batch.contains(&collection, &id)? {
        return Err(Error::duplicate_id(&format!("{}.{name}", batch.view().snapshot.addressed), &id));
    }
    super::insert::check_size(&inserted)?;
    validation.check(&collection, None, &inserted)?;
    batch.put(&collection, PutKind::Insert, inserted.clone())?;
    Ok(inserted)
}
