//! Capped collections: `create` with `capped: true`, `convertToCapped`,
//! `cloneCollectionAsCapped`, and `collMod`'s `cappedSize` and `cappedMax`. The
//! store keeps their insertion order and deletes their oldest documents as new
//! ones come (`store::capped`); here are their options, checked as MongoDB 8.0
//! checks them, and the commands that make one from another collection.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::{Batch, Collection, Natural, PutKind};

/// The largest `size` (1 PB).
const MAX_SIZE: i64 = 1 << 50;
/// `max` must be below this (2^31).
const MAX_DOCS_BOUND: i64 = 1 << 31;

/// The options of a capped collection `create` makes, as MongoDB lists them:
/// `capped`, `size`, then `max` when given, then the others.
pub fn options(given: &Document) -> Result<Document> {
    let size = size(given.get("size").unwrap_or(&Bson::Null), "create.size", "size")?;
    let mut options = doc! {"capped": true, "size": number(size)};
    if let Some(max) = given.get("max") {
        options.insert("max", number(max_docs(max, "create.max", "max")?));
    }
    for (key, value) in given {
        if !matches!(key.as_str(), "capped" | "size" | "max") {
            options.insert(key.clone(), value.clone());
        }
    }
    Ok(options)
}

/// A size in bytes, 1 to 1 PB (`field`: the option's path, for type errors;
/// `name`: its name, for range errors, as MongoDB's parser names them).
fn size(value: &Bson, field: &str, name: &str) -> Result<i64> {
    let size = whole(value, field)?;
    if size < 1 {
        return Err(Error::bad_value(format!("BSON field '{name}' value must be >= 1, actual value '{size}'")));
    }
    if size > MAX_SIZE {
        return Err(Error::bad_value(format!(
            "BSON field '{name}' value must be <= {MAX_SIZE}, actual value '{size}'"
        )));
    }
    Ok(size)
}

/// A count of documents below 2^31; zero or less is no limit.
fn max_docs(value: &Bson, field: &str, name: &str) -> Result<i64> {
    let max = whole(value, field)?;
    if max >= MAX_DOCS_BOUND {
        return Err(Error::bad_value(format!(
            "BSON field '{name}' value must be < {MAX_DOCS_BOUND}, actual value '{max}'"
        )));
    }
    Ok(max.max(0))
}

/// A number as MongoDB's 64-bit integer fields take it (a fraction is dropped).
fn whole(value: &Bson, field: &str) -> Result<i64> {
    match value {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            let n = crate::value::number::as_f64(value).unwrap_or(f64::NAN);
            if n.is_nan() || n.abs() >= 9.223_372_036_854_776e18 {
                return Err(Error::bad_value(format!(
                    "BSON field '{field}' cannot be represented as a 64-bit integer"
                )));
            }
            Ok(n.trunc() as i64)
        }
        other => Err(Error::type_mismatch(format!(
            "BSON field '{field}' is the wrong type '{}', expected types '[long, int, decimal, double]'",
            args::type_name(Some(other))
        ))),
    }
}

/// A number as MongoDB appends one: an int when it fits.
fn number(n: i64) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n), Bson::Int32)
}

/// `convertToCapped`: makes collection `name` capped, keeping its newest
/// documents that fit, in its natural order. The collection is copied into a new
/// one under the same name (its secondary indexes are dropped, as in MongoDB).
pub fn convert(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "convertToCapped")?;
    args::writable(inv)?;
    let size = size(required(inv, "convertToCapped", "size")?, "convertToCapped.size", "size")?;
    let (_, commit) = inv.write(|batch| {
        let source = existing(inv, batch, name, "source")?;
        let options = capped_like(&source, size);
        let documents = natural_documents(batch, &source)?;
        batch.drop_collection(name)?;
        let target = batch.create_collection(name, options)?;
        copy(batch, &target, documents)
    })?;
    Ok(commit.map(|c| doc! {"operationTime": c.cluster_time()}).unwrap_or_default())
}

/// `cloneCollectionAsCapped`: a new capped collection `toCollection` holding the
/// newest documents of `cloneCollectionAsCapped` that fit.
pub fn clone(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, "cloneCollectionAsCapped")?;
    args::writable(inv)?;
    let to = match inv.body.get("toCollection") {
        Some(Bson::String(to)) => to.clone(),
        None => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'cloneCollectionAsCapped.toCollection' is missing but a required field",
            ))
        }
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'cloneCollectionAsCapped.toCollection' is the wrong type '{}', expected type 'string'",
                args::type_name(Some(other))
            )))
        }
    };
    args::check_collection_name(inv, &to)?;
    let size = size(required(inv, "cloneCollectionAsCapped", "size")?, "cloneCollectionAsCapped.size", "size")?;
    let (_, commit) = inv.write(|batch| {
        let source = existing(inv, batch, name, "source")?;
        if batch.collection(&to)?.is_some() {
            return Err(Error::command(
                ErrorCode::NamespaceExists,
                format!("{} already exists", args::namespace(inv, &to)),
            ));
        }
        let documents = natural_documents(batch, &source)?;
        let target = batch.create_collection(&to, capped_like(&source, size))?;
        copy(batch, &target, documents)
    })?;
    Ok(commit.map(|c| doc! {"operationTime": c.cluster_time()}).unwrap_or_default())
}

/// A required argument of `command`.
fn required<'b>(inv: &'b Invocation<'_>, command: &str, field: &str) -> Result<&'b Bson> {
    inv.body.get(field).ok_or_else(|| {
        Error::command(
            ErrorCode::Location40414,
            format!("BSON field '{command}.{field}' is missing but a required field"),
        )
    })
}

/// The collection `name`, which must exist and hold documents (not be a view).
fn existing(inv: &Invocation<'_>, batch: &Batch<'_>, name: &str, role: &str) -> Result<Collection> {
    let ns = args::namespace(inv, name);
    let collection = batch.collection(name)?.ok_or_else(|| {
        Error::command(ErrorCode::NamespaceNotFound, format!("{role} collection {ns} does not exist"))
    })?;
    if collection.view_on().is_some() {
        return Err(Error::command(
            ErrorCode::CommandNotSupportedOnView,
            format!("cannot convert a view into a capped collection: {ns}"),
        ));
    }
    if super::timeseries::is_timeseries(&collection.options) {
        return Err(Error::command(
            ErrorCode::CommandNotSupportedOnView,
            format!("Namespace {ns} is a timeseries collection"),
        ));
    }
    Ok(collection)
}

/// The options of a capped copy of `source`: capped with `size`, keeping its
/// validator and other options but its own capping.
fn capped_like(source: &Collection, size: i64) -> Document {
    let mut options = doc! {"capped": true, "size": number(size)};
    for (key, value) in &source.options {
        if !matches!(key.as_str(), "capped" | "size" | "max") {
            options.insert(key.clone(), value.clone());
        }
    }
    options
}

/// Every document of `collection`, in its natural order.
fn natural_documents(batch: &Batch<'_>, collection: &Collection) -> Result<Vec<Document>> {
    let mut documents = Vec::new();
    let order = Natural::of(collection, false);
    batch.view().scan_filtered(
        collection.id,
        order,
        None,
        |_| false,
        |_, doc| {
            documents.extend(doc);
            Ok(true)
        },
    )?;
    Ok(documents)
}

/// Inserts `documents` into capped collection `target`, oldest first (the oldest
/// are deleted again when they do not fit).
fn copy(batch: &mut Batch<'_>, target: &Collection, documents: Vec<Document>) -> Result<()> {
    for doc in documents {
        batch.put(target, PutKind::Insert, doc)?;
    }
    Ok(())
}

/// Applies `collMod`'s `cappedSize` and `cappedMax` to the options of capped
/// collection `collection`; the store deletes what no longer fits at the next
/// insert, as MongoDB does.
pub fn modify(body: &Document, collection: &Collection, options: &mut Document) -> Result<()> {
    let size = body.get("cappedSize");
    let max = body.get("cappedMax");
    if size.is_none() && max.is_none() {
        return Ok(());
    }
    if !crate::store::capped::is_capped(&collection.options) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("exceptionWhileModifyingCollection: collection {} is not capped", collection.name),
        ));
    }
    if let Some(size) = size {
        options.insert("size", number(self::size(size, "collMod.cappedSize", "cappedSize")?));
    }
    if let Some(max) = max {
        match max_docs(max, "collMod.cappedMax", "cappedMax")? {
            0 => options.remove("max"),
            max => options.insert("max", number(max)),
        };
    }
    Ok(())
}
