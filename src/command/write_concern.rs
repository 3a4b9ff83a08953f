//! The `writeConcern` argument, read and checked as MongoDB 8.0 reads it
//! (`WriteConcernOptions`, write_concern_options.idl), and what one node can
//! promise of it.
//!
//! branchdb presents itself as a router in front of a one-member replica set: `w: 1`,
//! `w: "majority"` and `w: 0` are satisfied by the node itself; a larger `w` or a
//! tag is a write concern no member set can meet, which MongoDB reports after the
//! write as a `writeConcernError` (100, 79) on a successful reply. `j: true` (and
//! `fsync: true`, which MongoDB takes for the same on a journaled engine) waits for
//! the log's fsync in every durability mode (SPEC §5). A command without a
//! `writeConcern`, or with `{}`, or one without `w`, takes what it lacks from the
//! default write concern (`rw_defaults.rs`).

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

/// The largest `w` MongoDB accepts: a replica set's most members.
const MAX_W: i64 = 50;

/// A write concern as given, or as the default completes it.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteConcern {
    /// `None` when not given: the default's `w` applies.
    pub w: Option<W>,
    /// `None` when not given.
    pub j: Option<bool>,
    pub fsync: bool,
    /// Milliseconds; 0 waits without limit. Kept to be reported, never waited on: a
    /// write is acknowledged when its node has it.
    pub wtimeout: i64,
}

/// The `w` of a write concern.
#[derive(Debug, Clone, PartialEq)]
pub enum W {
    Nodes(i64),
    Majority,
    /// A custom mode of the replica set's configuration.
    Mode(String),
    /// `{tag: count}`.
    Tags(Document),
}

impl W {
    fn to_bson(&self) -> Bson {
        match self {
            W::Nodes(n) => match i32::try_from(*n) {
                Ok(n) => Bson::Int32(n),
                Err(_) => Bson::Int64(*n),
            },
            W::Majority => Bson::String("majority".into()),
            W::Mode(mode) => Bson::String(mode.clone()),
            W::Tags(tags) => Bson::Document(tags.clone()),
        }
    }
}

/// Where a write concern came from, as `errInfo.writeConcern.provenance` says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provenance {
    ClientSupplied,
    ImplicitDefault,
    CustomDefault,
}

impl Provenance {
    fn name(self) -> &'static str {
        match self {
            Provenance::ClientSupplied => "clientSupplied",
            Provenance::ImplicitDefault => "implicitDefault",
            Provenance::CustomDefault => "customDefault",
        }
    }
}

/// The provenances a client may name (MongoDB's enum).
const PROVENANCES: &[&str] =
    &["clientSupplied", "implicitDefault", "customDefault", "getLastErrorDefaults", "internalWriteDefault"];

/// Fields MongoDB accepts and ignores, for old clients.
const IGNORED: &[&str] = &["wElectionId", "wOpTime", "getLastError"];

impl WriteConcern {
    /// The implicit default of a router whose replica set has no arbiter.
    pub fn implicit_default() -> WriteConcern {
        WriteConcern { w: Some(W::Majority), j: None, fsync: false, wtimeout: 0 }
    }

    /// Reads a write concern document. `{}` is a write concern that says nothing.
    pub fn parse(doc: &Document) -> Result<WriteConcern> {
        let mut concern = WriteConcern { w: None, j: None, fsync: false, wtimeout: 0 };
        for (field, value) in doc {
            match field.as_str() {
                "w" => concern.w = parse_w(value)?,
                "j" => concern.j = safe_bool("j", value)?,
                "fsync" => concern.fsync = safe_bool("fsync", value)? == Some(true),
                "wtimeout" => concern.wtimeout = wtimeout(value),
                "provenance" => provenance(value)?,
                ignored if IGNORED.contains(&ignored) => {}
                unknown => {
                    return Err(Error::command(
                        ErrorCode::Location40415,
                        format!("BSON field 'WriteConcernOptions.{unknown}' is an unknown field."),
                    ))
                }
            }
        }
        if concern.j == Some(true) && concern.fsync {
            return Err(Error::command(ErrorCode::FailedToParse, "fsync and j options cannot be used together"));
        }
        Ok(concern)
    }

    /// Whether this says nothing: MongoDB then applies the default whole.
    pub fn is_empty(&self) -> bool {
        self.w.is_none() && self.j != Some(true) && !self.fsync && self.wtimeout == 0
    }

    /// This write concern with what it leaves unsaid taken from `default`.
    pub fn completed_by(&self, default: &WriteConcern) -> WriteConcern {
        let mut concern = self.clone();
        if concern.w.is_none() {
            concern.w = default.w.clone();
            if concern.j.is_none() && !concern.fsync {
                (concern.j, concern.fsync) = (default.j, default.fsync);
            }
        }
        concern
    }

    /// Whether the write waits for the log's fsync.
    pub fn journaled(&self) -> bool {
        self.j == Some(true) || self.fsync
    }

    /// Whether the client waits for no reply.
    pub fn unacknowledged(&self) -> bool {
        matches!(self.w, Some(W::Nodes(0)))
    }

    /// As MongoDB serializes a write concern: `w`, `j` or `fsync`, `wtimeout`.
    pub fn to_document(&self) -> Document {
        let mut doc = Document::new();
        if let Some(w) = &self.w {
            doc.insert("w", w.to_bson());
        }
        if self.fsync {
            doc.insert("fsync", true);
        } else if let Some(j) = self.j {
            doc.insert("j", j);
        }
        doc.insert("wtimeout", self.wtimeout as i32);
        doc
    }

    /// The `writeConcernError` of a successful write that this write concern asks
    /// more of than one node can give; `None` when the node satisfies it.
    pub fn unsatisfied(&self, provenance: Provenance) -> Option<Document> {
        let (code, message) = match self.w.as_ref()? {
            W::Nodes(n) if *n > 1 => (ErrorCode::UnsatisfiableWriteConcern, "Not enough data-bearing nodes".to_owned()),
            W::Mode(mode) => (
                ErrorCode::UnknownReplWriteConcern,
                format!("No write concern mode named '{mode}' found in replica set configuration"),
            ),
            W::Tags(tags) => (
                ErrorCode::UnsatisfiableWriteConcern,
                format!("Not enough nodes match write concern mode \"{}\"", Bson::Document(tags.clone())),
            ),
            W::Nodes(_) | W::Majority => return None,
        };
        let mut used = self.to_document();
        used.insert("provenance", provenance.name());
        Some(doc! {
            "code": code.code(),
            "codeName": code.name(),
            "errmsg": message,
            "errInfo": {"writeConcern": used},
        })
    }
}

/// `w`: a count of nodes (truncated toward zero, as MongoDB's `safeNumberLong`),
/// a mode name, or `{tag: count}`. Null is MongoDB's default-constructed `w`, the
/// empty mode name, which no replica set has.
fn parse_w(value: &Bson) -> Result<Option<W>> {
    let failed = |message: String| Error::command(ErrorCode::FailedToParse, message);
    let nodes = match value {
        Bson::Null | Bson::Undefined => return Ok(Some(W::Mode(String::new()))),
        Bson::String(mode) if mode == "majority" => return Ok(Some(W::Majority)),
        Bson::String(mode) => return Ok(Some(W::Mode(mode.clone()))),
        Bson::Document(tags) => {
            if tags.is_empty() {
                return Err(failed("tagged write concern requires tags".into()));
            }
            if let Some((tag, value)) = tags.iter().find(|(_, v)| crate::value::number::as_f64(v).is_none()) {
                return Err(failed(format!(
                    "tags must be a single level document with only number values; found: {tag}: {value}"
                )));
            }
            return Ok(Some(W::Tags(tags.clone())));
        }
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        // `as` truncates, saturates and makes NaN 0, as safeNumberLong does.
        Bson::Double(d) => *d as i64,
        Bson::Decimal128(d) => crate::value::number::decimal_to_f64(d) as i64,
        other => {
            return Err(failed(format!("w has to be a number, string, or object; found: {}", type_name(Some(other)))))
        }
    };
    if !(0..=MAX_W).contains(&nodes) {
        return Err(failed(format!("w has to be a non-negative number and not greater than {MAX_W}; found: {nodes}")));
    }
    Ok(Some(W::Nodes(nodes)))
}

/// `j` and `fsync`: a boolean or a number, by its truth; null is not given.
fn safe_bool(field: &str, value: &Bson) -> Result<Option<bool>> {
    match value {
        Bson::Null | Bson::Undefined => Ok(None),
        Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            Ok(Some(crate::value::truthy(Some(value))))
        }
        other => Err(Error::type_mismatch(format!(
            "BSON field 'WriteConcernOptions.{field}' is the wrong type '{}', expected types '[bool, long, int, \
             decimal, double']",
            type_name(Some(other))
        ))),
    }
}

/// `wtimeout`: a number, truncated; MongoDB reads anything else as 0.
fn wtimeout(value: &Bson) -> i64 {
    match value {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(d) => *d as i64,
        Bson::Decimal128(d) => crate::value::number::decimal_to_f64(d) as i64,
        _ => 0,
    }
}

/// `provenance`: one of MongoDB's names, and through a router only the client's own.
fn provenance(value: &Bson) -> Result<()> {
    match value {
        Bson::Null | Bson::Undefined => Ok(()),
        Bson::String(name) if !PROVENANCES.contains(&name.as_str()) => Err(Error::command(
            ErrorCode::BadValue,
            format!("Enumeration value '{name}' for field 'WriteConcernOptions.provenance' is not a valid value."),
        )),
        Bson::String(name) if name != "clientSupplied" => Err(Error::command(
            ErrorCode::InvalidOptions,
            "writeConcern provenance must be unset or \"clientSupplied\"",
        )),
        Bson::String(_) => Ok(()),
        other => Err(Error::type_mismatch(format!(
            "BSON field 'WriteConcernOptions.provenance' is the wrong type '{}', expected type 'string'",
            type_name(Some(other))
        ))),
    }
}

/// Whether a router reports a write concern error with this reply of a batch
/// write: only when every operation succeeded, or the batch is unordered and some
/// did (an ordered batch that failed stopped before its end).
pub fn reported_with(body: &Document, reply: &Document) -> bool {
    let Ok(errors) = reply.get_array("writeErrors") else { return true };
    if errors.is_empty() {
        return true;
    }
    let ordered = body.get("ordered").is_none_or(|ordered| crate::value::truthy(Some(ordered)));
    let operations = ["documents", "updates", "deletes"]
        .iter()
        .find_map(|field| body.get_array(field).ok())
        .map_or(errors.len(), Vec::len);
    !ordered && errors.len() < operations
}

/// Whether `command` (with this body) takes a write concern: the commands that
/// write, as MongoDB's `supportsWriteConcern` says of each.
pub fn supported_by(command: &str, body: &Document) -> bool {
    match command {
        // An inline result writes nothing.
        "mapReduce" => match body.get("out") {
            Some(Bson::Document(out)) => !out.contains_key("inline"),
            Some(Bson::String(_)) => true,
            _ => false,
        },
        _ => WRITERS.contains(&command),
    }
}

/// The commands that take a write concern (canonical names; `mapReduce` aside).
const WRITERS: &[&str] = &[
    "insert",
    "update",
    "delete",
    "findAndModify",
    "bulkWrite",
    "aggregate",
    "create",
    "drop",
    "dropDatabase",
    "createIndexes",
    "dropIndexes",
    "collMod",
    "renameCollection",
    "convertToCapped",
    "cloneCollectionAsCapped",
    "commitTransaction",
    "abortTransaction",
    "createUser",
    "updateUser",
    "dropUser",
    "dropAllUsersFromDatabase",
    "grantRolesToUser",
    "revokeRolesFromUser",
    "createRole",
    "updateRole",
    "dropRole",
    "dropAllRolesFromDatabase",
    "grantPrivilegesToRole",
    "revokePrivilegesFromRole",
    "grantRolesToRole",
    "revokeRolesFromRole",
    "setDefaultRWConcern",
    "setFeatureCompatibilityVersion",
    // branchdb's own writes.
    "createBranch",
    "dropBranch",
    "mergeBranch",
    "resetBranch",
    "updateBranch",
];

/// The command's own `writeConcern`, checked as MongoDB checks it before running
/// the command: refused by commands that take none (72), the wrong type (14), or
/// a bad document (`WriteConcern::parse`). `None` when absent.
pub fn given(command: &str, body: &Document) -> Result<Option<WriteConcern>> {
    // A null generic argument is one not given.
    let Some(value) = body.get("writeConcern").filter(|v| !matches!(v, Bson::Null)) else { return Ok(None) };
    if !supported_by(command, body) {
        return Err(Error::command(ErrorCode::InvalidOptions, "Command does not support writeConcern"));
    }
    if command == "aggregate" && body.get("explain").is_some_and(|e| crate::value::truthy(Some(e))) {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            "Aggregation explain does not support the'writeConcern' option",
        ));
    }
    match value {
        Bson::Document(doc) => WriteConcern::parse(doc).map(Some),
        other => Err(Error::type_mismatch(format!(
            "\"writeConcern\" had the wrong type. Expected object, found {}",
            type_name(Some(other))
        ))),
    }
}
