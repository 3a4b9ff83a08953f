//! Arguments many commands share: the collection named by the command, write and
//! read concerns, and numeric options.

use bson::{Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Variables};

/// The collection a command names as its first field's value, checked as MongoDB
/// checks collection names.
pub fn collection<'a>(inv: &'a Invocation<'_>, command: &str) -> Result<&'a str> {
    let name = match inv.body.get(command) {
        Some(Bson::String(name)) => name.as_str(),
        _ => {
            return Err(Error::command(
                ErrorCode::InvalidNamespace,
                format!("collection name has invalid type {}", type_name(inv.body.get(command))),
            ))
        }
    };
    check_collection_name(inv, name)?;
    Ok(name)
}

/// The profile collection of each database (`system_profile.rs`).
pub const SYSTEM_PROFILE: &str = "system.profile";

/// The collection a read names: one [`collection`] accepts, or `system.profile`.
pub fn collection_to_read<'a>(inv: &'a Invocation<'_>, command: &str) -> Result<&'a str> {
    match inv.body.get(command) {
        Some(Bson::String(name)) if name == SYSTEM_PROFILE => Ok(name),
        _ => collection(inv, command),
    }
}

/// MongoDB's rules for a collection name.
pub fn check_collection_name(inv: &Invocation<'_>, name: &str) -> Result<()> {
    let invalid = |why: &str| Error::command(ErrorCode::InvalidNamespace, format!("Invalid collection name: {why}"));
    if name.is_empty() {
        return Err(invalid("collection names cannot be empty"));
    }
    if name.contains('\0') || name.starts_with('.') || name.ends_with('.') {
        return Err(invalid(name));
    }
    if name.contains('$') {
        return Err(invalid(&format!("{name} (collection names cannot contain '$')")));
    }
    if name.starts_with("system.") {
        return Err(invalid(&format!("{name} (system collections are not supported)")));
    }
    if inv.db.db.len() + 1 + name.len() > 255 {
        return Err(invalid("the namespace is longer than 255 bytes"));
    }
    Ok(())
}

/// `db.collection` for replies, with the database as addressed.
pub fn namespace(inv: &Invocation<'_>, collection: &str) -> String {
    format!("{}.{collection}", inv.db)
}

/// An optional whole-number option (`limit`, `skip`, `batchSize`).
pub fn integer(doc: &Document, field: &str) -> Result<Option<i64>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Int32(n)) => Ok(Some(i64::from(*n))),
        Some(Bson::Int64(n)) => Ok(Some(*n)),
        Some(Bson::Double(d)) if d.fract() == 0.0 && d.abs() < 9e15 => Ok(Some(*d as i64)),
        Some(other) => Err(Error::type_mismatch(format!(
            "Field '{field}' should be a number, instead it is of type {}",
            type_name(Some(other))
        ))),
    }
}

/// An optional document option (`filter`, `sort`, `projection`).
pub fn document<'a>(doc: &'a Document, field: &str) -> Result<Option<&'a Document>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(d)) => Ok(Some(d)),
        Some(other) => Err(Error::type_mismatch(format!(
            "Field '{field}' should be an object, instead it is of type {}",
            type_name(Some(other))
        ))),
    }
}

/// The variables a command's `let` option defines (`command` names the command in
/// errors): an object of constant expressions, evaluated once; none without it.
pub fn variables(body: &Document, command: &str) -> Result<Variables> {
    match body.get("let") {
        None | Some(Bson::Null) => Ok(Variables::none()),
        Some(Bson::Document(spec)) => Variables::from_let(spec),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{command}.let' is the wrong type '{}', expected type 'object'",
            type_name(Some(other))
        ))),
    }
}

/// An optional string (`None` when missing or null), else `TypeMismatch` saying
/// the field must be `what`.
pub fn optional_string<'a>(doc: &'a Document, field: &str, what: &str) -> Result<Option<&'a str>> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(text)) => Ok(Some(text.as_str())),
        Some(other) => Err(Error::type_mismatch(format!("'{field}' must be {what}, not {}", type_name(Some(other))))),
    }
}

/// A cursor command's `batchSize`: the first batch's size (101 when missing),
/// non-negative.
pub fn first_batch_size(doc: &Document) -> Result<usize> {
    match integer(doc, "batchSize")? {
        Some(b) if b < 0 => Err(Error::bad_value("batchSize value must be non-negative")),
        Some(b) => Ok(b as usize),
        None => Ok(crate::cursor::DEFAULT_FIRST_BATCH),
    }
}

/// The `cursor` option of a command whose results are ready when it runs
/// (`listCollections`, `listIndexes`, `bulkWrite`: MongoDB's `SimpleCursorOptions`):
/// how many results the first batch holds at most, all of them without
/// `cursor.batchSize`. Refused as MongoDB's parser refuses it: 14 for a wrong type,
/// 40415 for an unknown field, 51024 for a negative size.
pub fn simple_cursor_batch_size(body: &Document, command: &str) -> Result<usize> {
    let cursor = match body.get("cursor") {
        None => return Ok(usize::MAX),
        Some(Bson::Document(cursor)) => cursor,
        Some(other) => return Err(wrong_type(&format!("{command}.cursor"), other, "object")),
    };
    if let Some(unknown) = cursor.keys().find(|k| k.as_str() != "batchSize") {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '{command}.cursor.{unknown}' is an unknown field."),
        ));
    }
    match cursor.get("batchSize") {
        None => Ok(usize::MAX),
        Some(size) => Ok(non_negative(&format!("{command}.cursor.batchSize"), "batchSize", size)? as usize),
    }
}

/// A whole number of at least 0, of any numeric type (the parser's `safeInt`).
pub fn non_negative(path: &str, field: &str, value: &Bson) -> Result<i64> {
    let n = match value {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(d) if d.is_finite() => *d as i64,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field '{path}' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                type_name(Some(other))
            )))
        }
    };
    match n {
        0.. => Ok(n),
        _ => Err(Error::command(
            ErrorCode::Location51024,
            format!("BSON field '{field}' value must be >= 0, actual value '{n}'"),
        )),
    }
}

/// MongoDB's command parser's error for a field of the wrong type (14).
pub fn wrong_type(path: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{path}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

/// An optional boolean option (`ordered`, `multi`, `upsert`, `singleBatch`).
pub fn boolean(doc: &Document, field: &str, default: bool) -> Result<bool> {
    match doc.get(field) {
        None | Some(Bson::Null) => Ok(default),
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(v @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) => Ok(crate::value::truthy(Some(v))),
        Some(other) => Err(Error::type_mismatch(format!(
            "Field '{field}' should be a boolean, instead it is of type {}",
            type_name(Some(other))
        ))),
    }
}

/// The array of documents a write command carries (`documents`, `updates`, `deletes`).
pub fn documents<'a>(doc: &'a Document, field: &str) -> Result<Vec<&'a Document>> {
    let items = match doc.get(field) {
        Some(Bson::Array(items)) => items,
        None => {
            return Err(Error::command(
                ErrorCode::Location40414,
                format!("BSON field '{field}' is missing but a required field"),
            ))
        }
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field '{field}' is the wrong type '{}', expected type 'array'",
                type_name(Some(other))
            )))
        }
    };
    if items.len() > 100_000 {
        return Err(Error::command(
            ErrorCode::InvalidLength,
            format!("Write batch sizes must be between 1 and 100000. Got {} operations.", items.len()),
        ));
    }
    items
        .iter()
        .enumerate()
        .map(|(i, item)| match item {
            Bson::Document(d) => Ok(d),
            other => Err(Error::type_mismatch(format!(
                "BSON field '{field}.{i}' is the wrong type '{}', expected type 'object'",
                type_name(Some(other))
            ))),
        })
        .collect()
}

pub use crate::value::type_name;

/// The reply field of a write error: `{index, code, errmsg}` and extra fields.
pub fn write_error(index: usize, err: &Error) -> Document {
    let mut doc = bson::doc! { "index": index as i32, "code": err.code().code() };
    match err {
        Error::Command { message, .. } => doc.insert("errmsg", message.clone()),
        other => doc.insert("errmsg", other.to_string()),
    };
    doc.extend(err.info().cloned().unwrap_or_default());
    doc
}

/// How an update or delete statement names its fields: as the `update` and
/// `delete` commands' statements do (`q`, `u`, `c`, `limit`), or as `bulkWrite`'s
/// operations do (`filter`, `updateMods`, `constants`, `multi`). The other fields
/// have the same names in both.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Command,
    BulkWrite,
}

impl Shape {
    pub fn filter(self) -> &'static str {
        match self {
            Shape::Command => "q",
            Shape::BulkWrite => "filter",
        }
    }

    pub fn update(self) -> &'static str {
        match self {
            Shape::Command => "u",
            Shape::BulkWrite => "updateMods",
        }
    }

    pub fn constants(self) -> &'static str {
        match self {
            Shape::Command => "c",
            Shape::BulkWrite => "constants",
        }
    }
}

/// What the statements of an `update` or `delete` command did.
pub struct Statements<T> {
    /// The outcome of each statement that succeeded, with its index.
    pub done: Vec<(usize, T)>,
    /// The error of each statement that failed, with its index.
    pub errors: Vec<(usize, Error)>,
    pub last_commit: Option<crate::store::Commit>,
}

impl<T> Statements<T> {
    /// Adds `writeErrors` (when there are any) and the last write's `operationTime`.
    pub fn complete(&self, reply: &mut Document) {
        if !self.errors.is_empty() {
            let errors: Vec<Bson> = self.errors.iter().map(|(i, err)| Bson::Document(write_error(*i, err))).collect();
            reply.insert("writeErrors", errors);
        }
        if let Some(commit) = self.last_commit {
            reply.insert("operationTime", commit.cluster_time());
        }
    }
}

/// Runs each statement of a write command (`run` gets its index, its id in a
/// retryable write). A command error becomes that statement's entry in
/// `writeErrors` (and ends an ordered command); a transient one (a write conflict in
/// a transaction) and any other error fail the whole command.
pub fn each_statement<T>(
    statements: &[&Document],
    ordered: bool,
    mut run: impl FnMut(usize, &Document) -> Result<(T, Option<crate::store::Commit>)>,
) -> Result<Statements<T>> {
    let mut out = Statements { done: Vec::new(), errors: Vec::new(), last_commit: None };
    for (index, statement) in statements.iter().enumerate() {
        match run(index, statement) {
            Ok((outcome, commit)) => {
                out.done.push((index, outcome));
                out.last_commit = commit.or(out.last_commit);
            }
            // A transient error (a write conflict in a transaction) fails the whole
            // command, with its label, as in MongoDB.
            Err(err @ Error::Command { .. }) if !err.labels().contains(&"TransientTransactionError") => {
                out.errors.push((index, err));
                if ordered {
                    break;
                }
            }
            Err(err) => return Err(err),
        }
    }
    Ok(out)
}

/// Refuses writes to a `~<point>` view (code 20) and to a branch that does not
/// exist (26), before any statement runs.
pub fn writable(inv: &Invocation<'_>) -> Result<()> {
    inv.check_writable()
}

/// Refuses a field outside `known` in a statement of a write command, as MongoDB's
/// command parser does (code 40415); `context` names the statement in the message
/// (`update.updates`).
pub fn known_fields(statement: &Document, known: &[&str], context: &str) -> Result<()> {
    match statement.keys().find(|k| !known.contains(&k.as_str())) {
        Some(field) => Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '{context}.{field}' is an unknown field."),
        )),
        None => Ok(()),
    }
}

/// The collation a command or statement `doc` on `collection` compares by: its
/// own `collation` when it gives one (`{locale: "simple"}` included), else the
/// collection's default (collections with one are not built yet: `create` refuses
/// a collation other than simple); `None` for the simple collation.
pub fn collation_on(
    doc: &Document,
    collection: Option<&crate::store::Collection>,
) -> Result<Option<std::sync::Arc<crate::value::collation::Collation>>> {
    use crate::value::collation::Collation;
    let default = collection.and_then(|c| c.options.get("collation"));
    let Some(spec) = doc.get("collation") else {
        return default.map(Collation::parse).transpose().map(Option::flatten);
    };
    let given = Collation::parse(spec)?;
    // A view reads by its own collation only (simple when it names none).
    if collection.is_some_and(|c| c.view_on().is_some()) {
        let own = default.map(Collation::parse).transpose()?.flatten();
        if given.as_ref().map(|c| c.spec()) != own.as_ref().map(|c| c.spec()) {
            return Err(Error::command(
                ErrorCode::OptionNotSupportedOnView,
                "Cannot override a view's default collation",
            ));
        }
    }
    Ok(given)
}

/// `filter` with its `$text` bound to the text index of `collection`: MongoDB's
/// error 27 without one, or without the collection.
pub fn text_on(filter: Filter, collection: Option<&crate::store::Collection>) -> Result<Filter> {
    filter.with_text_index(collection.map_or(&[], |c| &c.indexes[..]))
}

/// Refuses a `collation` other than simple in a command that does not take one yet.
pub fn simple_collation(doc: &Document) -> Result<()> {
    match doc.get("collation") {
        None => Ok(()),
        Some(Bson::Document(collation)) if collation.get_str("locale") == Ok("simple") => Ok(()),
        Some(other) => Err(Error::bad_value(format!(
            "collation {other} is not supported: branchdb compares strings by their bytes (locale \"simple\")"
        ))),
    }
}

/// The target of a command or statement `doc` (see [`crate::exec::Target`]):
/// `filter`, read by the caller, and its `hint` field.
pub fn target(filter: crate::query::Filter, doc: &Document) -> Result<crate::exec::Target> {
    Ok(crate::exec::Target { filter, hint: super::find::hint(doc)?.cloned() })
}
