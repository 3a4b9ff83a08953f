//! A `bulkWrite` command, parsed and checked as MongoDB 8.0's command parser and
//! `validateRequest` check it, in their order: field types first (14), unknown
//! (40415) and missing (40414) fields, then the number of operations (16), the
//! namespaces (73) and each operation's namespace index (2). Nothing runs before
//! the whole command has passed.

use bson::{Bson, Document};

use crate::command::args::{non_negative, wrong_type};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;

/// The most operations one command may carry.
pub const MAX_OPS: usize = 100_000;

/// What a `bulkWrite` asks.
pub struct Request<'a> {
    pub ops: Vec<Op<'a>>,
    /// The namespaces `nsInfo` lists, in its order.
    pub namespaces: Vec<Namespace>,
    pub ordered: bool,
    /// Reply with the failed operations only.
    pub errors_only: bool,
    /// How many results the first batch holds at most (`cursor.batchSize`).
    pub batch_size: usize,
    /// The statement id of the first operation (`stmtId`, or the first of `stmtIds`).
    pub first_statement: usize,
}

/// One entry of `nsInfo`.
pub struct Namespace {
    pub db: DbRef,
    pub collection: String,
    /// `db.collection`, as the command gave it.
    pub full: String,
}

/// One entry of `ops`: its namespace (an index into `nsInfo`) and what it does.
pub struct Op<'a> {
    /// The entry as the command gave it: an update or delete is read from it as
    /// a statement.
    pub source: &'a Document,
    pub ns: usize,
    pub kind: Kind,
    /// An insert's document.
    pub document: Option<&'a Document>,
    /// An update's or delete's filter.
    pub filter: Option<&'a Document>,
    /// The value the filter gives `_id`, if it names it.
    pub filter_id: Option<&'a Bson>,
    /// `multi: true` (an update or a delete of every match).
    pub multi: bool,
    /// An update that may insert.
    pub upsert: bool,
    /// A `hint` or a `sort` is given.
    pub hint_or_sort: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Insert,
    Update,
    Delete,
}

/// Whether `name` is a field of an operation of `kind` (the first names the kind
/// and holds the namespace index). An update or delete is read in place as a
/// statement of [`Shape::BulkWrite`](crate::command::args::Shape).
fn is_field_of(kind: Kind, name: &str) -> bool {
    match kind {
        Kind::Insert => matches!(name, "insert" | "document"),
        Kind::Update => matches!(
            name,
            "update"
                | "filter"
                | "updateMods"
                | "constants"
                | "multi"
                | "upsert"
                | "arrayFilters"
                | "hint"
                | "collation"
                | "sort"
                | "upsertSupplied"
                | "sampleId"
        ),
        Kind::Delete => matches!(name, "delete" | "filter" | "multi" | "hint" | "collation" | "sampleId"),
    }
}

impl<'a> Request<'a> {
    pub fn parse(body: &'a Document) -> Result<Request<'a>> {
        let ops = array(body, "ops")?;
        let ns_info = array(body, "nsInfo")?;
        let ordered = boolean(body, "bulkWrite.ordered", "ordered", true)?;
        let errors_only = boolean(body, "bulkWrite.errorsOnly", "errorsOnly", false)?;
        let batch_size = crate::command::args::simple_cursor_batch_size(body, "bulkWrite")?;
        let ops = ops.iter().enumerate().map(|(i, op)| Op::parse(i, op)).collect::<Result<Vec<_>>>()?;
        let namespaces = ns_info.iter().map(Namespace::parse).collect::<Result<Vec<_>>>()?;
        let first_statement = statement_ids(body, ops.len())?;
        if ops.is_empty() || ops.len() > MAX_OPS {
            return Err(Error::command(
                ErrorCode::InvalidLength,
                format!("Write batch sizes must be between 1 and {MAX_OPS}. Got {} operations.", ops.len()),
            ));
        }
        for namespace in &namespaces {
            namespace.check()?;
        }
        if let Some(op) = ops.iter().find(|op| op.ns >= namespaces.len()) {
            return Err(Error::bad_value(format!("BulkWrite ops entry {} has an invalid nsInfo index.", op.source)));
        }
        Ok(Request { ops, namespaces, ordered, errors_only, batch_size, first_statement })
    }
}

impl<'a> Op<'a> {
    /// Reads entry `index` of `ops` in one pass over its fields; what fails is
    /// reported in the parser's order: the kind and namespace index, then unknown
    /// fields, missing ones, and the types of the others.
    fn parse(index: usize, op: &'a Bson) -> Result<Op<'a>> {
        let Bson::Document(op) = op else {
            return Err(wrong_type(&format!("bulkWrite.ops.{index}"), op, "object"));
        };
        let mut fields = op.iter();
        let Some((first, value)) = fields.next() else {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'bulkWrite.ops.insert' is missing but a required field",
            ));
        };
        let kind = match first.as_str() {
            "insert" => Kind::Insert,
            "update" => Kind::Update,
            "delete" => Kind::Delete,
            other => return Err(unknown_field(other)),
        };
        let ns = match value {
            // The common case, without making the path an error would name.
            Bson::Int32(n @ 0..) => *n as usize,
            _ => non_negative(&format!("bulkWrite.ops.{first}"), first, value)? as usize,
        };
        let mut parsed = Op {
            source: op,
            ns,
            kind,
            document: None,
            filter: None,
            filter_id: None,
            multi: false,
            upsert: false,
            hint_or_sort: false,
        };
        let (mut unknown, mut mistyped) = (None, None);
        let (mut has_document, mut has_filter, mut has_update_mods) = (false, false, false);
        for (name, value) in fields {
            if !is_field_of(kind, name) {
                unknown = unknown.or(Some(name));
                continue;
            }
            if mistyped.is_none() {
                mistyped = check_type(name, value).err();
            }
            match name.as_str() {
                "document" => has_document = true,
                "filter" => has_filter = true,
                "updateMods" => has_update_mods = true,
                _ => {}
            }
            match (name.as_str(), value) {
                ("document", Bson::Document(document)) => parsed.document = Some(document),
                ("filter", Bson::Document(filter)) => {
                    parsed.filter = Some(filter);
                    // Usually the `_id` is the filter's first field.
                    parsed.filter_id = match filter.iter().next() {
                        Some((name, id)) if name == "_id" => Some(id),
                        _ => filter.get("_id"),
                    };
                }
                ("multi", Bson::Boolean(multi)) => parsed.multi = *multi,
                ("upsert", Bson::Boolean(upsert)) => parsed.upsert = *upsert,
                ("hint" | "sort", _) => parsed.hint_or_sort = true,
                _ => {}
            }
        }
        if let Some(unknown) = unknown {
            return Err(unknown_field(unknown));
        }
        let missing = match kind {
            Kind::Insert => (!has_document).then_some("document"),
            Kind::Update => (!has_filter).then_some("filter").or((!has_update_mods).then_some("updateMods")),
            Kind::Delete => (!has_filter).then_some("filter"),
        };
        if let Some(missing) = missing {
            return Err(Error::command(
                ErrorCode::Location40414,
                format!("BSON field 'bulkWrite.ops.{missing}' is missing but a required field"),
            ));
        }
        match mistyped {
            Some(err) => Err(err),
            None => Ok(parsed),
        }
    }
}

impl Namespace {
    fn parse(entry: &Bson) -> Result<Namespace> {
        let Bson::Document(entry) = entry else {
            return Err(wrong_type("bulkWrite.nsInfo", entry, "object"));
        };
        if let Some(unknown) = entry.keys().find(|k| !matches!(k.as_str(), "ns" | "collectionUUID")) {
            return match unknown.as_str() {
                "encryptionInformation" | "isTimeseriesNamespace" | "shardVersion" | "databaseVersion" => {
                    Err(Error::command(
                        ErrorCode::NotImplemented,
                        format!("bulkWrite's nsInfo.{unknown} is for encrypted or sharded collections, which branchdb lacks"),
                    ))
                }
                _ => Err(unknown_field(unknown)),
            };
        }
        if entry.contains_key("collectionUUID") {
            return Err(Error::command(
                ErrorCode::NotImplemented,
                "bulkWrite's nsInfo.collectionUUID is not supported: collections have no UUID here",
            ));
        }
        let full = match entry.get("ns") {
            Some(Bson::String(ns)) => ns.clone(),
            Some(other) => return Err(wrong_type("bulkWrite.nsInfo.ns", other, "string")),
            None => {
                return Err(Error::command(
                    ErrorCode::Location40414,
                    "BSON field 'bulkWrite.nsInfo.ns' is missing but a required field",
                ))
            }
        };
        let (db, collection) = full.split_once('.').unwrap_or((full.as_str(), ""));
        let db = DbRef::parse(db).map_err(|_| invalid_namespace(&full))?;
        Ok(Namespace { db, collection: collection.to_owned(), full })
    }

    /// A namespace must name a database and a collection.
    fn check(&self) -> Result<()> {
        match self.collection.is_empty() || self.full.contains('\0') {
            true => Err(invalid_namespace(&self.full)),
            false => Ok(()),
        }
    }
}

fn invalid_namespace(ns: &str) -> Error {
    Error::command(ErrorCode::InvalidNamespace, format!("Invalid namespace specified for bulkWrite: '{ns}'"))
}

/// The statement id of the first operation: `stmtId`, or the first of `stmtIds`
/// when they number the operations one after another (only a router sends them),
/// else 0.
fn statement_ids(body: &Document, ops: usize) -> Result<usize> {
    match (body.get("stmtId"), body.get("stmtIds")) {
        (Some(_), Some(_)) => Err(Error::command(
            ErrorCode::InvalidOptions,
            "May not specify both stmtId and stmtIds in bulkWrite command.",
        )),
        (Some(id), None) => Ok(non_negative("bulkWrite.stmtId", "stmtId", id)? as usize),
        (None, Some(Bson::Array(ids))) => {
            if ids.len() != ops {
                return Err(Error::command(
                    ErrorCode::InvalidLength,
                    "Number of statement ids must match the number of batch entries",
                ));
            }
            let ids: Vec<i64> =
                ids.iter().map(|id| non_negative("bulkWrite.stmtIds", "stmtIds", id)).collect::<Result<_>>()?;
            let first = ids.first().copied().unwrap_or(0);
            if ids.iter().enumerate().any(|(i, id)| *id != first + i as i64) {
                return Err(Error::command(
                    ErrorCode::NotImplemented,
                    "bulkWrite's stmtIds must number the operations one after another",
                ));
            }
            Ok(first as usize)
        }
        (None, Some(other)) => Err(wrong_type("bulkWrite.stmtIds", other, "array")),
        (None, None) => Ok(0),
    }
}

/// The types the command parser requires of an operation's fields.
fn check_type(name: &str, value: &Bson) -> Result<()> {
    let expected = match name {
        "document" | "filter" | "constants" | "collation" | "sort" => "object",
        "multi" | "upsert" | "upsertSupplied" => "bool",
        "arrayFilters" => "array",
        "updateMods" => {
            return match value {
                Bson::Document(_) | Bson::Array(_) => Ok(()),
                _ => Err(Error::command(
                    ErrorCode::FailedToParse,
                    "Update argument must be either an object or an array",
                )),
            }
        }
        _ => return Ok(()),
    };
    let fits = match expected {
        "object" => matches!(value, Bson::Document(_)),
        "bool" => matches!(value, Bson::Boolean(_)),
        _ => matches!(value, Bson::Array(_)),
    };
    match fits {
        true => Ok(()),
        false => Err(wrong_type(&format!("bulkWrite.ops.{name}"), value, expected)),
    }
}

fn array<'a>(body: &'a Document, field: &str) -> Result<&'a Vec<Bson>> {
    match body.get(field) {
        Some(Bson::Array(items)) => Ok(items),
        Some(other) => Err(wrong_type(&format!("bulkWrite.{field}"), other, "array")),
        None => Err(Error::command(
            ErrorCode::Location40414,
            format!("BSON field 'bulkWrite.{field}' is missing but a required field"),
        )),
    }
}

/// An option that must be a BSON boolean.
fn boolean(body: &Document, path: &str, field: &str, default: bool) -> Result<bool> {
    match body.get(field) {
        None => Ok(default),
        Some(Bson::Boolean(b)) => Ok(*b),
        Some(other) => Err(wrong_type(path, other, "bool")),
    }
}

fn unknown_field(name: &str) -> Error {
    Error::command(ErrorCode::Location40415, format!("BSON field 'bulkWrite.ops.{name}' is an unknown field."))
}
