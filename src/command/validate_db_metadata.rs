//! `validateDBMetadata`: what in the databases' metadata an application that
//! moves to the Stable API would trip on, as MongoDB 8.0 reports it: views whose
//! pipelines use stages outside API version 1, and (with `strict: true` and
//! version "1") text, geoHaystack and sparse indexes. One database (`db`, which
//! may name a branch) or every database's `main`; one collection or all, views
//! first. Collection validators are not checked: branchdb's Stable API check does
//! not yet know which query operators version 1 lacks.

use bson::{doc, Bson, Document};

use super::{args, stable_api, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::namespace::DbRef;
use crate::value::type_name;

/// MongoDB's bound on the reply's errors: 16 MiB, each entry counted with 15 bytes
/// of overhead.
const MAX_ERRORS_BYTES: usize = 16 * 1024 * 1024;

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field 'validateDBMetadata.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

fn missing(field: &str) -> Error {
    Error::command(
        ErrorCode::Location40414,
        format!("BSON field 'validateDBMetadata.{field}' is missing but a required field"),
    )
}

/// An optional string field; null is as absent.
fn optional_string<'a>(body: &'a Document, field: &str) -> Result<Option<&'a str>> {
    match body.get(field) {
        None | Some(Bson::Null) => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s)),
        Some(other) => Err(wrong_type(field, other, "string")),
    }
}

/// The API parameters to check against: the version, and whether strict.
fn api_parameters(body: &Document) -> Result<(String, bool)> {
    let params = match body.get("apiParameters") {
        None | Some(Bson::Null) => return Err(missing("apiParameters")),
        Some(Bson::Document(params)) => params,
        Some(other) => return Err(wrong_type("apiParameters", other, "object")),
    };
    let mut version = None;
    let mut strict = false;
    for (field, value) in params {
        let path = format!("apiParameters.{field}");
        match (field.as_str(), value) {
            ("version", Bson::Null) => {}
            ("version", Bson::String(v)) => version = Some(v.clone()),
            ("version", other) => return Err(wrong_type(&path, other, "string")),
            ("strict", Bson::Boolean(b)) => strict = *b,
            ("deprecationErrors", Bson::Boolean(_)) => {}
            ("strict" | "deprecationErrors", other) => return Err(wrong_type(&path, other, "bool")),
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field 'validateDBMetadata.{path}' is an unknown field."),
                ))
            }
        }
    }
    let version = version.ok_or_else(|| missing("apiParameters.version"))?;
    Ok((version, strict))
}

/// A database name as MongoDB checks the `db` field.
fn check_db_name(name: &str) -> Result<()> {
    if name.is_empty() {
        return Err(Error::command(ErrorCode::Location28539, "db name must be non-empty"));
    }
    if name.contains(['/', '\\', ' ', '"']) {
        return Err(Error::command(ErrorCode::Location13280, format!("Invalid database name: '{name}'")));
    }
    Ok(())
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let db = optional_string(inv.body, "db")?;
    let collection = optional_string(inv.body, "collection")?;
    let (version, strict) = api_parameters(inv.body)?;
    if let Some(collection) = collection {
        args::check_collection_name(inv, collection)?;
    }
    let targets: Vec<DbRef> = match db {
        Some(name) => {
            check_db_name(name)?;
            vec![DbRef::parse(name)?]
        }
        None => {
            let mut dbs: Vec<String> = inv.context.store.all_branches().into_iter().map(|b| b.db).collect();
            dbs.dedup();
            dbs.into_iter()
                .map(|db| DbRef { db, branch: crate::namespace::MAIN_BRANCH.to_owned(), point: None })
                .collect()
        }
    };
    let checks_indexes = strict && version == "1";
    let mut errors = Vec::new();
    let mut bytes = 0;
    let mut push = |ns: String, errmsg: String| {
        let entry =
            doc! {"ns": ns, "code": ErrorCode::APIStrictError.code(), "codeName": "APIStrictError", "errmsg": errmsg};
        bytes += crate::value::size::document_size(&entry) + 15;
        errors.push(Bson::Document(entry));
        bytes < MAX_ERRORS_BYTES
    };
    'databases: for target in targets {
        // A database or branch that does not exist has nothing to report.
        let Ok(view) = inv.view_of(&target) else { continue };
        let mut entries = view.collections()?;
        entries.retain(|c| collection.is_none_or(|name| c.name == name));
        // Views first, as MongoDB reports them.
        entries.sort_by_key(|c| c.view_on().is_none());
        for entry in entries {
            let ns = format!("{target}.{}", entry.name);
            if entry.view_on().is_some() {
                let pipeline = entry.options.get_array("pipeline").cloned().unwrap_or_default();
                if let Some(error) = strict.then(|| stable_api::pipeline_outside_v1(&pipeline)).flatten() {
                    if !push(ns, error.message()) {
                        break 'databases;
                    }
                }
                continue;
            }
            if !checks_indexes {
                continue;
            }
            for (_, spec) in super::indexes::listed(&entry) {
                if stable_api::index_in_v1(&spec) {
                    continue;
                }
                let name = spec.get_str("name").unwrap_or_default();
                if !push(ns.clone(), format!("The index with name {name} is not allowed in API version 1.")) {
                    break 'databases;
                }
            }
        }
    }
    let mut reply = doc! {"apiVersionErrors": errors};
    if bytes >= MAX_ERRORS_BYTES {
        reply.insert("hasMoreErrors", true);
    }
    Ok(reply)
}
