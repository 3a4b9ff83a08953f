//! Query settings, as a MongoDB 8.0 router keeps them: `setQuerySettings` stores
//! settings for the queries of one shape (`query::shape::of_command`: the
//! namespace, the command and its predicates without their values), merged into
//! what the shape had; `removeQuerySettings` removes them; `$querySettings` lists
//! them. They live in the `querySettings` cluster parameter document of
//! `config.clusterParameters`, so they survive restarts and are on `main` only.
//!
//! Of the settings, `reject: true` is applied: `find`, `distinct` and `aggregate`
//! of a rejected shape fail with 411. `indexHints` and `queryFramework` are
//! stored and listed only (branchdb has one query engine, and index hints are the
//! index filters' job here, `index_filters.rs`): the issue leaves query settings'
//! effects on planning out of scope.

use bson::{doc, Bson, Document};

use super::cluster_settings::{self, PARAMETERS};
use super::Invocation;
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::query::shape;
use crate::value::type_name;

/// The cluster parameter the settings are kept in.
const PARAMETER: &str = "querySettings";
/// The commands whose queries settings apply to.
const COMMANDS: &[&str] = &["find", "distinct", "aggregate"];
/// Databases whose queries take no settings.
const INTERNAL: &[&str] = &["admin", "local", "config"];

/// The query a command names: a shape it computed, or a hash given.
enum Named {
    Query { shape: Document, hash: String, representative: Document },
    Hash(String),
}

impl Named {
    fn hash(&self) -> &str {
        match self {
            Named::Query { hash, .. } | Named::Hash(hash) => hash,
        }
    }
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

/// The query the command's first field names, checked as MongoDB parses it.
fn named(command: &str, body: &Document) -> Result<Named> {
    match body.get(command) {
        Some(Bson::String(hash)) => {
            if hash.len() != 64 {
                return Err(Error::command(ErrorCode::InvalidLength, "QueryShapeHash must be 64 hex characters"));
            }
            if !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(Error::bad_value("QueryShapeHash must be a hexadecimal string"));
            }
            Ok(Named::Hash(hash.to_ascii_uppercase()))
        }
        Some(Bson::Document(query)) => {
            let db = match query.get("$db") {
                None | Some(Bson::Null) => {
                    return Err(Error::command(
                        ErrorCode::Location40414,
                        format!("BSON field '{command}.$db' is missing but a required field"),
                    ))
                }
                Some(Bson::String(db)) if db.is_empty() => {
                    return Err(Error::command(ErrorCode::InvalidNamespace, "Invalid namespace specified ''"))
                }
                Some(Bson::String(db)) => db.as_str(),
                Some(other) => return Err(wrong_type(&format!("{command}.$db"), other, "string")),
            };
            let kind = query.keys().next().map(String::as_str).unwrap_or("");
            if !COMMANDS.contains(&kind) {
                return Err(Error::command(
                    ErrorCode::Location7746402,
                    format!("Error while parsing query shape: unsupported command '{kind}'"),
                ));
            }
            let shape = shape::of_command(db, query)
                .ok_or_else(|| Error::command(ErrorCode::Location7746402, "Error while parsing query shape"))?;
            let hash = shape::hash(&shape);
            Ok(Named::Query { shape, hash, representative: query.clone() })
        }
        Some(other) => Err(wrong_type(command, other, "string or object")),
        None => Err(Error::command(ErrorCode::Location40414, format!("BSON field '{command}' is missing"))),
    }
}

/// The stored entries: `{queryShapeHash, settings, representativeQuery, shape}`.
fn entries(context: &Context) -> Result<Vec<Document>> {
    let (settings, _) = context.cluster_settings.get(context)?;
    let Some(parameter) = settings.parameter(PARAMETER) else { return Ok(Vec::new()) };
    Ok(parameter
        .get_array("settingsArray")
        .map(|items| items.iter().filter_map(|item| item.as_document().cloned()).collect())
        .unwrap_or_default())
}

fn save(inv: &Invocation<'_>, entries: Vec<Document>) -> Result<()> {
    let doc = doc! {
        "_id": PARAMETER,
        "settingsArray": entries,
        "clusterParameterTime": cluster_settings::change_time(inv.context),
    };
    cluster_settings::save(inv, PARAMETERS, doc)
}

/// `settings`, checked field by field: what it sets.
fn parse_settings(value: Option<&Bson>) -> Result<Document> {
    let settings = match value {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'setQuerySettings.settings' is missing but a required field",
            ))
        }
        Some(Bson::Document(settings)) => settings,
        Some(other) => return Err(wrong_type("setQuerySettings.settings", other, "object")),
    };
    if settings.is_empty() {
        return Err(Error::command(
            ErrorCode::Location8727502,
            "settings field in setQuerySettings command cannot be empty",
        ));
    }
    for (field, value) in settings {
        let path = format!("setQuerySettings.settings.{field}");
        match (field.as_str(), value) {
            ("indexHints", Bson::Document(hint)) => check_index_hint(hint)?,
            ("indexHints", Bson::Array(hints)) => {
                for hint in hints {
                    match hint {
                        Bson::Document(hint) => check_index_hint(hint)?,
                        other => return Err(wrong_type(&path, other, "object")),
                    }
                }
            }
            ("indexHints", other) => return Err(wrong_type(&path, other, "array")),
            ("queryFramework", Bson::String(engine)) if engine == "classic" || engine == "sbe" => {}
            ("queryFramework", Bson::String(engine)) => {
                return Err(Error::bad_value(format!(
                    "Enumeration value '{engine}' for field '{path}' is not a valid value."
                )))
            }
            ("queryFramework", other) => return Err(wrong_type(&path, other, "string")),
            ("reject", Bson::Boolean(_)) => {}
            ("reject", other) => return Err(wrong_type(&path, other, "bool")),
            ("comment", _) => {}
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '{path}' is an unknown field."),
                ))
            }
        }
    }
    Ok(settings.clone())
}

fn check_index_hint(hint: &Document) -> Result<()> {
    let ns = match hint.get("ns") {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'indexHints.ns' is missing but a required field",
            ))
        }
        Some(Bson::Document(ns)) => ns,
        Some(other) => return Err(wrong_type("indexHints.ns", other, "object")),
    };
    for (field, code) in [("db", ErrorCode::Location8727500), ("coll", ErrorCode::Location8727501)] {
        match ns.get(field) {
            None | Some(Bson::Null) => {
                return Err(Error::command(code, format!("{field} field in indexHints.ns is required")))
            }
            Some(Bson::String(_)) => {}
            Some(other) => return Err(wrong_type(&format!("indexHints.ns.{field}"), other, "string")),
        }
    }
    match hint.get("allowedIndexes") {
        None | Some(Bson::Null) => Err(Error::command(
            ErrorCode::Location40414,
            "BSON field 'indexHints.allowedIndexes' is missing but a required field",
        )),
        Some(Bson::Array(indexes)) => {
            match indexes.iter().find(|i| !matches!(i, Bson::String(_) | Bson::Document(_))) {
                Some(_) => Err(Error::command(
                    ErrorCode::FailedToParse,
                    "allowedIndexes must hold index names, key patterns or {$natural: 1|-1}",
                )),
                None => Ok(()),
            }
        }
        Some(other) => Err(wrong_type("indexHints.allowedIndexes", other, "array")),
    }
}

/// Settings without the ones that say nothing (`reject: false`, index hints that
/// allow no index).
fn simplified(mut settings: Document) -> Document {
    if settings.get_bool("reject") == Ok(false) {
        settings.remove("reject");
    }
    let allows = |hint: &Bson| {
        hint.as_document().and_then(|h| h.get_array("allowedIndexes").ok()).is_some_and(|a| !a.is_empty())
    };
    match settings.get("indexHints").cloned() {
        Some(Bson::Array(hints)) => {
            let kept: Vec<Bson> = hints.into_iter().filter(allows).collect();
            if kept.is_empty() {
                settings.remove("indexHints");
            } else {
                settings.insert("indexHints", kept);
            }
        }
        Some(hint) if !allows(&hint) => {
            settings.remove("indexHints");
        }
        _ => {}
    }
    settings
}

/// Whether `query` is a `find` of one `_id` by equality, which MongoDB answers
/// without planning and so without settings.
fn is_id_lookup(query: &Document) -> bool {
    let Some(Bson::String(_)) = query.get("find") else { return false };
    let Ok(filter) = query.get_document("filter") else { return false };
    filter.len() == 1
        && filter.get("_id").is_some_and(|id| match id {
            Bson::Document(operand) => !operand.keys().any(|k| k.starts_with('$')),
            Bson::RegularExpression(_) | Bson::Array(_) => false,
            _ => true,
        })
}

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let named = named("setQuerySettings", inv.body)?;
    let given = parse_settings(inv.body.get("settings"))?;
    if let Named::Query { representative, .. } = &named {
        let db = representative.get_str("$db").unwrap_or_default();
        if INTERNAL.contains(&db) {
            return Err(Error::command(
                ErrorCode::Location8584900,
                "setQuerySettings command cannot be used on internal databases",
            ));
        }
        if is_id_lookup(representative) {
            return Err(Error::command(
                ErrorCode::Location7746606,
                "setQuerySettings command cannot be used on find queries eligible for IDHACK",
            ));
        }
    }
    let mut all = entries(inv.context)?;
    let at = all.iter().position(|entry| entry.get_str("queryShapeHash") == Ok(named.hash()));
    let mut merged = at.and_then(|i| all[i].get_document("settings").ok().cloned()).unwrap_or_default();
    merged.extend(given);
    let merged = simplified(merged);
    if merged.is_empty() {
        return Err(Error::command(
            ErrorCode::Location7746604,
            "the resulting settings cannot be empty or contain only default values",
        ));
    }
    let entry = match (&named, at) {
        (Named::Query { shape, hash, representative }, _) => doc! {
            "queryShapeHash": hash.as_str(),
            "settings": merged,
            "representativeQuery": representative.clone(),
            "shape": shape.clone(),
        },
        (Named::Hash(_), Some(i)) => {
            let mut entry = all[i].clone();
            entry.insert("settings", merged);
            entry
        }
        (Named::Hash(_), None) => {
            return Err(Error::command(
                ErrorCode::BadValue,
                "New query settings can only be created with a query instance, but a query hash was given.",
            ))
        }
    };
    match at {
        Some(i) => all[i] = entry.clone(),
        None => all.push(entry.clone()),
    }
    save(inv, all)?;
    let mut reply = doc! {
        "queryShapeHash": entry.get("queryShapeHash").cloned().unwrap_or(Bson::Null),
        "settings": entry.get("settings").cloned().unwrap_or(Bson::Null),
    };
    if let Some(representative) = entry.get("representativeQuery") {
        reply.insert("representativeQuery", representative.clone());
    }
    Ok(reply)
}

pub fn remove(inv: &Invocation<'_>) -> Result<Document> {
    let named = named("removeQuerySettings", inv.body)?;
    let mut all = entries(inv.context)?;
    let before = all.len();
    all.retain(|entry| entry.get_str("queryShapeHash") != Ok(named.hash()));
    if all.len() != before {
        save(inv, all)?;
    }
    Ok(Document::new())
}

/// `$querySettings`: every stored entry, with its shape under
/// `showDebugQueryShape: true`.
pub fn stage(inv: &Invocation<'_>, argument: &Bson) -> Result<Vec<Document>> {
    let Bson::Document(spec) = argument else {
        return Err(Error::command(ErrorCode::Location7746800, "$querySettings stage expects a document as argument"));
    };
    let mut debug = false;
    for (field, value) in spec {
        match (field.as_str(), value) {
            ("showDebugQueryShape", Bson::Boolean(b)) => debug = *b,
            ("showDebugQueryShape", other) => {
                return Err(wrong_type("$querySettings.showDebugQueryShape", other, "bool"))
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '$querySettings.{field}' is an unknown field."),
                ))
            }
        }
    }
    Ok(entries(inv.context)?
        .into_iter()
        .map(|mut entry| {
            let shape = entry.remove("shape");
            if let (true, Some(shape)) = (debug, shape) {
                entry.insert("debugQueryShape", shape);
            }
            entry
        })
        .collect())
}

/// Refuses a `find`, `distinct` or `aggregate` whose shape's settings say
/// `reject: true` (411). Costs nothing while no settings are stored.
pub fn check_rejected(context: &Context, command: &str, db: &str, body: &Document) -> Result<()> {
    if !COMMANDS.contains(&command) {
        return Ok(());
    }
    let (settings, _) = context.cluster_settings.get(context)?;
    let Some(Ok(all)) = settings.parameter(PARAMETER).map(|p| p.get_array("settingsArray")) else { return Ok(()) };
    let rejecting: Vec<&Document> = all
        .iter()
        .filter_map(Bson::as_document)
        .filter(|e| e.get_document("settings").is_ok_and(|s| s.get_bool("reject") == Ok(true)))
        .collect();
    if rejecting.is_empty() {
        return Ok(());
    }
    let Some(shape) = shape::of_command(db, body) else { return Ok(()) };
    let hash = shape::hash(&shape);
    if rejecting.iter().any(|entry| entry.get_str("queryShapeHash") == Ok(hash.as_str())) {
        return Err(Error::command(ErrorCode::QueryRejectedBySettings, "Query rejected by admin query settings"));
    }
    Ok(())
}
