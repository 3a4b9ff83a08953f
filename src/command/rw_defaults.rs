//! The cluster-wide default read and write concerns: `getDefaultRWConcern` and
//! `setDefaultRWConcern`, as a MongoDB 8.0 router answers them, and the default
//! write concern applied to writes that do not say all of theirs.
//!
//! The defaults live where MongoDB keeps them, in `config.settings` (document
//! `ReadWriteConcernDefaults`, `cluster_settings.rs`). Nothing set, the implicit
//! defaults hold: read concern `local`, write concern `{w: "majority", wtimeout: 0}`.
//!
//! What the read default changes: nothing a read sees. On one node every
//! acknowledged write is majority-committed, so `local`, `available` and `majority`
//! read the same; it is kept and reported.

use bson::{doc, Bson, DateTime, Document, Timestamp};

use super::write_concern::{Provenance, WriteConcern, W};
use super::Invocation;
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

const ID: &str = "ReadWriteConcernDefaults";

/// The defaults as persisted: what was set, and when.
#[derive(Debug, Clone, Default, PartialEq)]
struct Defaults {
    read: Option<Document>,
    write: Option<WriteConcern>,
    updated: Option<(Timestamp, DateTime)>,
}

impl Defaults {
    /// The defaults in `config.settings`, and when they were read.
    fn read(context: &Context) -> Result<(Defaults, DateTime)> {
        let (settings, read_at) = context.cluster_settings.get(context)?;
        let Some(doc) = settings.get(ID) else { return Ok((Defaults::default(), read_at)) };
        // Written by hand into `config.settings`, a bad field is as good as none.
        let write = doc.get_document("defaultWriteConcern").ok().and_then(|wc| WriteConcern::parse(wc).ok());
        let updated = match (doc.get_timestamp("updateOpTime"), doc.get_datetime("updateWallClockTime")) {
            (Ok(time), Ok(wall)) => Some((time, *wall)),
            _ => None,
        };
        let read = doc.get_document("defaultReadConcern").ok().cloned();
        Ok((Defaults { read, write, updated }, read_at))
    }
}

/// The write concern a write runs under: its own, completed by the default where
/// it says nothing or has no `w`.
pub fn effective(context: &Context, given: Option<WriteConcern>) -> Result<(WriteConcern, Provenance)> {
    if let Some(given) = &given {
        if given.w.is_some() {
            return Ok((given.clone(), Provenance::ClientSupplied));
        }
    }
    let (defaults, _) = Defaults::read(context)?;
    let (default, provenance) = match &defaults.write {
        Some(custom) => (custom.clone(), Provenance::CustomDefault),
        None => (WriteConcern::implicit_default(), Provenance::ImplicitDefault),
    };
    Ok(match given {
        Some(given) => (given.completed_by(&default), provenance),
        None => (default, provenance),
    })
}

/// The reply of both commands.
fn reply(defaults: &Defaults, read_at: DateTime, in_memory: bool) -> Document {
    let mut reply = Document::new();
    reply.insert("defaultReadConcern", defaults.read.clone().unwrap_or_else(|| doc! {"level": "local"}));
    let write = defaults.write.clone().unwrap_or_else(WriteConcern::implicit_default);
    reply.insert("defaultWriteConcern", write.to_document());
    if let Some((time, wall)) = defaults.updated {
        reply.insert("updateOpTime", time);
        reply.insert("updateWallClockTime", wall);
    }
    let source = |set: bool| if set { "global" } else { "implicit" };
    reply.insert("defaultWriteConcernSource", source(defaults.write.is_some()));
    reply.insert("defaultReadConcernSource", source(defaults.read.is_some()));
    if in_memory {
        reply.insert("inMemory", true);
    }
    reply.insert("localUpdateWallClockTime", read_at);
    reply
}

pub fn get(inv: &Invocation<'_>) -> Result<Document> {
    let in_memory = match inv.body.get("inMemory") {
        None | Some(Bson::Null) => false,
        Some(Bson::Boolean(b)) => *b,
        Some(other) => return Err(wrong_type("getDefaultRWConcern", "inMemory", other, "bool")),
    };
    if !in_memory {
        inv.context.cluster_settings.invalidate();
    }
    let (defaults, read_at) = Defaults::read(inv.context)?;
    Ok(reply(&defaults, read_at, in_memory))
}

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let field = |name: &str| match inv.body.get(name) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::Document(doc)) => Ok(Some(doc)),
        Some(other) => Err(wrong_type("setDefaultRWConcern", name, other, "object")),
    };
    let (read, write) = (field("defaultReadConcern")?, field("defaultWriteConcern")?);
    if read.is_none() && write.is_none() {
        return Err(Error::bad_value(
            "At least one of the \"defaultReadConcern\" or \"defaultWriteConcern\" fields must be present",
        ));
    }
    let write = write.map(WriteConcern::parse).transpose()?;
    if let Some(write) = &write {
        if write.w.is_none() && !write.is_empty() {
            return Err(Error::bad_value("Default write concern must have 'w' field."));
        }
    }
    if let Some(read) = read {
        check_read(read)?;
    }
    if let (Some(write), Some(given)) = (&write, field("defaultWriteConcern")?) {
        check_write(write, given)?;
    }
    let (current, _) = Defaults::read(inv.context)?;
    let mut next = current.clone();
    if let Some(read) = read {
        next.read = (!read.is_empty()).then(|| read.clone());
    }
    match write {
        Some(write) if write.is_empty() && current.write.is_some() => {
            return Err(Error::command(
                ErrorCode::IllegalOperation,
                "The global default write concern cannot be unset once it is set.",
            ));
        }
        // Nothing set, an empty default changes nothing.
        Some(write) if write.is_empty() => {}
        Some(write) => next.write = Some(write),
        None => {}
    }
    next.updated = Some((super::cluster_settings::change_time(inv.context), DateTime::now()));
    save(inv, &next)?;
    let (saved, read_at) = Defaults::read(inv.context)?;
    Ok(reply(&saved, read_at, false))
}

/// What may not be a default read concern.
fn check_read(read: &Document) -> Result<()> {
    for (field, value) in read {
        match field.as_str() {
            "level" => {
                let level = match value {
                    Bson::String(level) => level.as_str(),
                    other => return Err(wrong_type("ReadConcern", "level", other, "string")),
                };
                match level {
                    "local" | "majority" | "available" => {}
                    "snapshot" | "linearizable" => {
                        return Err(Error::bad_value(format!(
                            "level: '{level}' is not suitable for the default read concern"
                        )))
                    }
                    other => {
                        return Err(Error::bad_value(format!(
                            "Enumeration value '{other}' for field 'ReadConcern.level' is not a valid value."
                        )))
                    }
                }
            }
            "afterOpTime" | "afterClusterTime" | "atClusterTime" => {
                return Err(Error::bad_value(format!("'{field}' is not suitable for the default read concern")))
            }
            "provenance" => return Err(Error::bad_value("'provenance' must be unset in default read concern")),
            unknown => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field 'ReadConcern.{unknown}' is an unknown field."),
                ))
            }
        }
    }
    Ok(())
}

/// What may not be a default write concern.
fn check_write(write: &WriteConcern, given: &Document) -> Result<()> {
    if write.is_empty() {
        return Ok(());
    }
    if write.unacknowledged() {
        return Err(Error::bad_value("Unacknowledged write concern is not suitable for the default write concern"));
    }
    if given.contains_key("provenance") {
        return Err(Error::bad_value("'provenance' must be unset in default write concern"));
    }
    if let Some(W::Mode(mode)) = &write.w {
        return Err(Error::command(
            ErrorCode::UnknownReplWriteConcern,
            format!("No write concern mode named '{mode}' found in replica set configuration"),
        ));
    }
    Ok(())
}

fn save(inv: &Invocation<'_>, defaults: &Defaults) -> Result<()> {
    let mut doc = doc! {"_id": ID};
    if let Some(read) = &defaults.read {
        doc.insert("defaultReadConcern", read.clone());
    }
    if let Some(write) = &defaults.write {
        doc.insert("defaultWriteConcern", write.to_document());
    }
    if let Some((time, wall)) = defaults.updated {
        doc.insert("updateOpTime", time);
        doc.insert("updateWallClockTime", wall);
    }
    super::cluster_settings::save(inv, super::cluster_settings::SETTINGS, doc)
}

fn wrong_type(command: &str, field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{command}.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}
