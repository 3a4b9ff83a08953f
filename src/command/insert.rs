//! `insert`: adds documents, giving those without an `_id` an ObjectId. Each 8 MiB
//! of documents is one log record; an ordered insert stops at its first error, an
//! unordered one reports every error and inserts the rest.

use bson::{doc, oid::ObjectId, Bson, Document};

use super::validation::Validation;
use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::{Batch, Collection, Commit, PutKind};
use crate::wal::SPLIT_BYTES;
use crate::wire::MAX_BSON_OBJECT_SIZE;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "insert")?;
    let docs = args::documents(inv.body, "documents")?;
    let ordered = args::boolean(inv.body, "ordered", true)?;
    let inserted = execute(inv, name, &docs, ordered)?;
    let mut reply = doc! { "n": inserted.n as i32 };
    if !inserted.errors.is_empty() {
        let list: Vec<Bson> =
            inserted.errors.iter().map(|(i, err)| Bson::Document(args::write_error(*i, err))).collect();
        reply.insert("writeErrors", list);
    }
    if let Some(commit) = inserted.last_commit {
        reply.insert("operationTime", commit.cluster_time());
    }
    Ok(reply)
}

/// What an insert did.
pub struct Inserted {
    /// Documents inserted (a retry counts those an earlier attempt inserted).
    pub n: usize,
    /// How many documents were tried: all, or up to the first error when ordered.
    pub attempted: usize,
    /// The error of each document that failed, with its index.
    pub errors: Vec<(usize, Error)>,
    pub last_commit: Option<Commit>,
}

/// Inserts `docs` into collection `name` (checked) of the invocation's branch,
/// which it creates if missing, with the command's `bypassDocumentValidation`.
pub fn execute(inv: &Invocation<'_>, name: &str, docs: &[&Document], ordered: bool) -> Result<Inserted> {
    args::writable(inv)?;
    let ns = args::namespace(inv, name);
    let validation = Validation::of(inv.body);
    super::timeseries::refuse_in_transaction(inv, name)?;
    let mut errors: Vec<(usize, Error)> = Vec::new();
    let mut last_commit = None;
    // Documents are checked and given their `_id` before the writer lock is taken.
    let prepared: Vec<Result<(Document, usize)>> = docs.iter().map(|doc| prepare(doc)).collect();
    let mut pending = prepared.into_iter().enumerate().peekable();
    // One log record per slice of up to SPLIT_BYTES of documents.
    while pending.peek().is_some() && (!ordered || errors.is_empty()) {
        let (slice_errors, commit) = inv.write(|batch| {
            let collection = batch.collection_or_create(name)?;
            if collection.view_on().is_some() {
                return Err(super::views::not_a_collection(inv, name));
            }
            let mut errors = Vec::new();
            let mut bytes = 0;
            while let Some((index, prepared)) = pending.next_if(|_| bytes < SPLIT_BYTES) {
                if inv.executed(index).is_some() {
                    // A retry: an earlier attempt inserted this document.
                    continue;
                }
                let outcome = prepared.and_then(|(doc, size)| {
                    bytes += size;
                    put_new(inv, batch, &collection, &ns, index, doc, &validation)
                });
                if let Err(err) = outcome {
                    errors.push((index, err));
                    if ordered {
                        break;
                    }
                }
            }
            Ok(errors)
        })?;
        errors.extend(slice_errors);
        last_commit = commit.or(last_commit);
    }
    let attempted = if ordered { errors.first().map_or(docs.len(), |(i, _)| *i + 1) } else { docs.len() };
    Ok(Inserted { n: attempted - errors.len(), attempted, errors, last_commit })
}

/// Writes `doc` (prepared) into `collection` (`ns`) as statement `index`, unless a
/// document has its `_id` or it fails the collection's validator.
pub fn put_new(
    inv: &Invocation<'_>,
    batch: &mut Batch<'_>,
    collection: &Collection,
    ns: &str,
    index: usize,
    doc: Document,
    validation: &Validation,
) -> Result<()> {
    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
    if batch.contains(collection, &id)? {
        return Err(match super::clustered::is_clustered(collection) {
            true => Error::duplicate_cluster_key(ns, &id),
            false => Error::duplicate_id(ns, &id),
        });
    }
    validation.check(collection, None, &doc)?;
    batch.put(collection, PutKind::Insert, doc)?;
    inv.record_statement(batch, index, Document::new);
    Ok(())
}

/// Checks a document to insert and puts an `_id` first, generating one if missing;
/// returns it with its size.
pub fn prepare(doc: &Document) -> Result<(Document, usize)> {
    // Usually the `_id` is there and first: the document is kept as it is.
    let first_id = doc.iter().next().filter(|(name, _)| *name == "_id").map(|(_, id)| id);
    let id = match first_id.or_else(|| doc.get("_id")) {
        None => Bson::ObjectId(ObjectId::new()),
        Some(Bson::Array(_)) => {
            return Err(Error::command(ErrorCode::InvalidIdField, "The '_id' value cannot be of type array"))
        }
        Some(Bson::RegularExpression(_)) => {
            return Err(Error::command(ErrorCode::InvalidIdField, "The '_id' value cannot be of type regex"))
        }
        Some(Bson::Undefined) => {
            return Err(Error::command(ErrorCode::InvalidIdField, "The '_id' value cannot be of type undefined"))
        }
        Some(id) => {
            if let Some(field) = dollar_prefixed_field(id) {
                return Err(Error::command(
                    ErrorCode::DollarPrefixedFieldName,
                    format!("_id fields may not contain '$'-prefixed fields: {field} is not valid for storage."),
                ));
            }
            if first_id.is_some() {
                let out = doc.clone();
                let size = check_size(&out)?;
                return Ok((out, size));
            }
            id.clone()
        }
    };
    let mut out = Document::new();
    out.insert("_id", id);
    for (key, value) in doc {
        if key != "_id" {
            out.insert(key.clone(), value.clone());
        }
    }
    let size = check_size(&out)?;
    Ok((out, size))
}

/// The first `$`-prefixed field name inside an `_id` value, at any depth, other
/// than the `$ref`, `$id` and `$db` of a DBRef (MongoDB's storage validation of
/// embedded documents, which `_id` keeps).
fn dollar_prefixed_field(value: &Bson) -> Option<&str> {
    match value {
        Bson::Document(doc) => {
            let mut names = doc.keys();
            let dbref = matches!(doc.get("$ref"), Some(Bson::String(_)))
                && names.next().is_some_and(|k| k == "$ref")
                && names.next().is_some_and(|k| k == "$id");
            doc.iter().find_map(|(name, inner)| {
                let dbref_field = match name.as_str() {
                    "$ref" | "$id" => dbref,
                    "$db" => dbref && matches!(inner, Bson::String(_)),
                    _ => false,
                };
                match name.starts_with('$') && !dbref_field {
                    true => Some(name.as_str()),
                    false => dollar_prefixed_field(inner),
                }
            })
        }
        Bson::Array(items) => items.iter().find_map(dollar_prefixed_field),
        _ => None,
    }
}

/// Refuses a document over 16 MiB (`BSONObjectTooLarge`, 10334); returns its size.
pub fn check_size(doc: &Document) -> Result<usize> {
    let size = crate::value::size::document_size(doc);
    if size > MAX_BSON_OBJECT_SIZE {
        return Err(Error::command(
            ErrorCode::BSONObjectTooLarge,
            format!("object to insert too large. size in bytes: {size}, max size: {MAX_BSON_OBJECT_SIZE}"),
        ));
    }
    Ok(size)
}
