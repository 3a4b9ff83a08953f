//! `createIndexes`, `listIndexes` and `dropIndexes`. An index belongs to a
//! collection of one branch: creating it writes one log record, whose application
//! builds its entries; other branches keep the indexes they had.

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::index::usage::Key as IndexKey;
use crate::index::{self, Index, ID_INDEX};
use crate::operations::Progress;
use crate::store::{Collection, IndexBuild, PROGRESS_EVERY};

/// How often a long index build logs how far it has come.
const PROGRESS_LOG_INTERVAL: Duration = Duration::from_secs(2);

pub fn create(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "createIndexes")?;
    args::writable(inv)?;
    super::views::refuse(inv, &inv.latest_view()?, name)?;
    let specs = match inv.body.get("indexes") {
        Some(Bson::Array(specs)) if specs.is_empty() => {
            return Err(Error::bad_value("Must specify at least one index to create"))
        }
        // Each with whether it names a collation (the simple one included).
        Some(Bson::Array(specs)) => specs
            .iter()
            .map(|spec| {
                let names_collation = spec.as_document().is_some_and(|s| s.contains_key("collation"));
                index::parse(spec).map(|spec| (spec, names_collation))
            })
            .collect::<Result<Vec<_>>>()?,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'createIndexes.indexes' is the wrong type '{}', expected type 'array'",
                args::type_name(other)
            )))
        }
    };
    let mut created = Vec::new();
    let ((before, after, created_collection), commit) = inv.write(|batch| {
        let created_collection = batch.collection(name)?.is_none();
        let mut collection = batch.collection_or_create(name)?;
        let before = collection.indexes.len() + 1;
        for (spec, names_collation) in specs {
            let spec = match names_collation {
                true => spec,
                false => with_default_collation(&collection, spec),
            };
            if is_existing(&collection, &spec)? {
                continue;
            }
            super::timeseries::check_index(&collection, &spec)?;
            let ns = args::namespace(inv, name);
            let mut last_log = Instant::now();
            // A unique index's keys, held while it is built.
            let mut held = inv.context.memory.reservation();
            let mut report = |done: u64, total: u64| {
                if let Some(op) = inv.op {
                    op.set_progress(Progress { message: "Index Build: scanning collection", done, total });
                }
                if last_log.elapsed() >= PROGRESS_LOG_INTERVAL || (done == total && total >= PROGRESS_EVERY) {
                    tracing::info!(%ns, done, total, "Index build: scanning collection");
                    last_log = Instant::now();
                }
            };
            let index = batch.create_index_reporting(
                &collection,
                spec,
                IndexBuild { progress: &mut report, hold: &mut |bytes| held.grow(bytes) },
            )?;
            created.push(index.id);
            collection.indexes.push(index);
        }
        Ok((before, collection.indexes.len() + 1, created_collection))
    })?;
    // A new index counts its uses from now.
    if let Some(collection) = inv.latest_view()?.collection(name)? {
        for index in created {
            inv.context.index_usage.reset(IndexKey {
                db: inv.db.db.clone(),
                branch: inv.db.branch.clone(),
                collection: collection.id,
                index: Some(index),
            });
        }
    }
    let mut reply = doc! {
        "numIndexesBefore": before as i32,
        "numIndexesAfter": after as i32,
        "createdCollectionAutomatically": created_collection,
    };
    if before == after {
        reply.insert("note", "all indexes already exist");
    }
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// Whether `spec` is already an index of `collection` (nothing to do); MongoDB's
/// errors when it conflicts with one: the same name for another key or other
/// options (86, 85), the same key and options under another name (85, and for
/// text indexes other options too), or a second text index (67).
fn is_existing(collection: &Collection, spec: &Document) -> Result<bool> {
    let name = spec.get_str("name").unwrap_or_default();
    let key = spec.get_document("key").cloned().unwrap_or_default();
    let existing = std::iter::once(index::id_index_spec()).chain(collection.indexes.iter().map(|i| i.spec.clone()));
    for found in existing {
        let same_name = found.get_str("name") == Ok(name);
        let same_key = found.get_document("key") == Ok(&key);
        let same_options = options(&found) == options(spec);
        let conflict = |code: ErrorCode| {
            Error::command(
                code,
                format!(
                    "An existing index has the same name as the requested index. When index names are not specified, they are auto generated and can cause conflicts. Please refer to our documentation. Requested index: {spec}, existing index: {found}"
                ),
            )
        };
        match (same_name, same_key, same_options) {
            (true, true, true) => return Ok(true),
            (true, true, false) => return Err(conflict(ErrorCode::IndexOptionsConflict)),
            (true, false, _) => return Err(conflict(ErrorCode::IndexKeySpecsConflict)),
            (false, true, true) => {
                return Err(Error::command(
                    ErrorCode::IndexOptionsConflict,
                    format!(
                        "Index already exists with a different name: {}",
                        found.get_str("name").unwrap_or_default()
                    ),
                ))
            }
            // Text indexes differ by weights and languages, which do not make them
            // different indexes.
            (false, true, false) if crate::query::text::is_text_pattern(&key) => {
                return Err(Error::command(
                    ErrorCode::IndexOptionsConflict,
                    format!("An equivalent index already exists with a different name and options. Requested index: {spec}, existing index: {found}"),
                ))
            }
            _ => {}
        }
    }
    if crate::query::text::is_text_pattern(&key) {
        if let Some(text) = collection.indexes.iter().find(|index| index.text.is_some()) {
            return Err(Error::command(
                ErrorCode::CannotCreateIndex,
                format!("only one text index per collection allowed, found existing text index \"{}\"", text.name),
            ));
        }
    }
    Ok(false)
}

/// The options that make two indexes on one key different indexes.
fn options(spec: &Document) -> Document {
    spec.iter()
        .filter(|(option, _)| !matches!(option.as_str(), "v" | "key" | "name" | "background" | "hidden"))
        .map(|(option, value)| (option.clone(), value.clone()))
        .collect()
}

pub fn list(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "listIndexes")?;
    let batch_size = args::simple_cursor_batch_size(inv.body, "listIndexes")?;
    let view = inv.read_view()?;
    let Some(collection) = view.collection(name)? else {
        return Err(Error::command(
            ErrorCode::NamespaceNotFound,
            format!("ns does not exist: {}", args::namespace(inv, name)),
        ));
    };
    if collection.view_on().is_some() {
        return Err(super::views::not_a_collection(inv, name));
    }
    let specs: Vec<Document> = listed(&collection).map(|(_, spec)| spec).collect();
    inv.reply_with_ready_cursor(&view, args::namespace(inv, name), specs, batch_size)
}

/// The indexes of `collection` as `listIndexes` lists them, each with its id
/// (`None` for the `_id` index or the cluster key).
pub fn listed(collection: &Collection) -> impl Iterator<Item = (Option<u64>, Document)> + '_ {
    // A clustered collection has its cluster key where others have the `_id` index.
    let first = super::clustered::listed_index(collection).unwrap_or_else(|| id_index(collection));
    // A time series collection has no `_id` index in MongoDB (its buckets do).
    let first = (!super::timeseries::is_timeseries(&collection.options)).then_some((None, first));
    first.into_iter().chain(collection.indexes.iter().map(|i| (Some(i.id), i.spec.clone())))
}

/// The `_id` index of `collection` as MongoDB lists it: with the collection's
/// default collation, when it has one.
pub fn id_index(collection: &Collection) -> Document {
    let mut spec = index::id_index_spec();
    if let Ok(collation) = collection.options.get_document("collation") {
        spec.insert("collation", collation.clone());
    }
    spec
}

/// An index spec that names no collation takes its collection's default, as in
/// MongoDB (a text index, which compares no strings by collation, takes none).
fn with_default_collation(collection: &Collection, mut spec: Document) -> Document {
    let text = spec.get_document("key").is_ok_and(crate::query::text::is_text_pattern);
    if let (Ok(collation), false, false) =
        (collection.options.get_document("collation"), spec.contains_key("collation"), text)
    {
        spec.insert("collation", collation.clone());
    }
    spec
}

pub fn drop(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "dropIndexes")?;
    args::writable(inv)?;
    super::views::refuse(inv, &inv.latest_view()?, name)?;
    let target = inv.body.get("index").cloned();
    let ns = args::namespace(inv, name);
    let ((was, all), commit) = inv.write(|batch| {
        let Some(collection) = batch.collection(name)? else {
            return Err(Error::command(ErrorCode::NamespaceNotFound, format!("ns not found {ns}")));
        };
        let doomed = doomed(&collection, target.as_ref())?;
        for index in &doomed {
            batch.drop_index(&collection, index);
        }
        Ok((collection.indexes.len() + 1, matches!(&target, Some(Bson::String(s)) if s == "*")))
    })?;
    let mut reply = doc! { "nIndexesWas": was as i32 };
    if all {
        reply.insert("msg", "non-_id indexes dropped for collection");
    }
    if let Some(commit) = commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// The names of the indexes `dropIndexes.index` names: `"*"` (all but `_id_`), a
/// name, a key pattern or a list of names.
fn doomed(collection: &Collection, target: Option<&Bson>) -> Result<Vec<String>> {
    let by_name = |name: &str| -> Result<String> {
        if name == ID_INDEX {
            return Err(Error::command(ErrorCode::InvalidOptions, "cannot drop _id index"));
        }
        match collection.index(name) {
            Some(index) => Ok(index.name.clone()),
            None => Err(Error::command(ErrorCode::IndexNotFound, format!("index not found with name [{name}]"))),
        }
    };
    match target {
        Some(Bson::String(all)) if all == "*" => Ok(collection.indexes.iter().map(|i| i.name.clone()).collect()),
        Some(Bson::String(name)) => Ok(vec![by_name(name)?]),
        Some(Bson::Array(names)) => names
            .iter()
            .map(|name| match name {
                Bson::String(name) => by_name(name),
                other => Err(Error::type_mismatch(format!(
                    "dropIndexes index names must be strings, not {}",
                    args::type_name(Some(other))
                ))),
            })
            .collect(),
        Some(Bson::Document(pattern)) => {
            if index::is_id_pattern(pattern) {
                return Err(Error::command(ErrorCode::InvalidOptions, "cannot drop _id index"));
            }
            let found: Vec<&Index> = collection.indexes.iter().filter(|i| &i.pattern() == pattern).collect();
            match found.as_slice() {
                [index] => Ok(vec![index.name.clone()]),
                [] => Err(Error::command(ErrorCode::IndexNotFound, format!("can't find index with key: {pattern}"))),
                _ => Err(Error::bad_value(format!(
                    "{} indexes found for key: {pattern}, identify by name instead.",
                    found.len()
                ))),
            }
        }
        other => Err(Error::type_mismatch(format!(
            "BSON field 'dropIndexes.index' is the wrong type '{}', expected types '[string, object]'",
            args::type_name(other)
        ))),
    }
}
