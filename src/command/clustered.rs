//! Clustered collections: `create` with `clusteredIndex: {key: {_id: 1}, unique:
//! true}`. Every collection of branchdb is already stored in `_id` order, so a
//! clustered one differs only in what it says of itself (no separate `_id` index;
//! `listIndexes` shows the cluster key) and in `expireAfterSeconds`, which expires
//! documents by their `_id` dates (the TTL monitor, `ttl.rs`).

use bson::{doc, Bson, Document};

use super::args;
use crate::error::{Error, ErrorCode, Result};
use crate::store::Collection;

/// The `clusteredIndex` option of `create`, checked as MongoDB checks it and
/// written as it lists it (`{v: 2, key: {_id: 1}, name, unique: true}`); `None`
/// for `clusteredIndex: false`. `id_index`: the command also gave an `idIndex`.
pub fn index_option(spec: &Bson, options: &Document, id_index: bool) -> Result<Option<Document>> {
    let spec = match spec {
        Bson::Boolean(false) => return Ok(None),
        Bson::Boolean(true) => {
            return Err(Error::command(
                ErrorCode::Location5979703,
                "The 'clusteredIndex' legacy format {clusteredIndex: <bool>} is only supported for specific internal collections and vice versa",
            ))
        }
        Bson::Document(spec) => spec,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'create.clusteredIndex' is the wrong type '{}', expected types '[bool, object]'",
                args::type_name(Some(other))
            )))
        }
    };
    let field = |name: &str| format!("create.clusteredIndex.{name}");
    if let Some(unknown) = spec.keys().find(|k| !matches!(k.as_str(), "v" | "key" | "name" | "unique")) {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '{}' is an unknown field.", field(unknown)),
        ));
    }
    let missing = |name: &str| {
        Error::command(
            ErrorCode::Location40414,
            format!("BSON field '{}' is missing but a required field", field(name)),
        )
    };
    let key = match spec.get("key") {
        Some(Bson::Document(key)) => key,
        None => return Err(missing("key")),
        Some(other) => return Err(wrong_type(&field("key"), other, "object")),
    };
    let unique = match spec.get("unique") {
        None => return Err(missing("unique")),
        Some(Bson::Boolean(b)) => *b,
        Some(n @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) => crate::value::truthy(Some(n)),
        Some(other) => return Err(wrong_type(&field("unique"), other, "bool")),
    };
    let version = match spec.get("v") {
        None => 2,
        Some(n @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) => {
            crate::index::whole_number(n).unwrap_or(0) as i32
        }
        Some(other) => return Err(wrong_type(&field("v"), other, "int")),
    };
    let name = match spec.get("name") {
        None => "_id_".to_owned(),
        Some(Bson::String(name)) => name.clone(),
        Some(other) => return Err(wrong_type(&field("name"), other, "string")),
    };
    if !unique {
        return Err(Error::command(
            ErrorCode::Location5979700,
            "The clusteredIndex option requires unique: true to be specified",
        ));
    }
    let on_id = key.len() == 1 && key.get("_id").and_then(crate::index::whole_number) == Some(1);
    if !on_id || key.get("_id").is_some_and(|v| !matches!(v, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_))) {
        return Err(Error::command(
            ErrorCode::InvalidIndexSpecificationOption,
            "The clusteredIndex option is only supported for key: {_id: 1}",
        ));
    }
    if let Some(seconds) = options.get("expireAfterSeconds") {
        expire_after_seconds(seconds)?;
    }
    let normal = doc! {"v": version, "key": {"_id": 1}, "name": name, "unique": true};
    if version != 2 {
        return Err(Error::command(
            ErrorCode::Location5979704,
            format!("Invalid clusteredIndex specification {normal}; cannot create a clusteredIndex with v={version}"),
        ));
    }
    if id_index {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "The 'clusteredIndex' option is not supported with the 'idIndex' option",
        ));
    }
    Ok(Some(normal))
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        args::type_name(Some(value))
    ))
}

/// An `expireAfterSeconds` of a clustered collection: a whole number of seconds
/// from 0 up to what fits in milliseconds since the epoch.
pub fn expire_after_seconds(value: &Bson) -> Result<i64> {
    let seconds = match value {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
            crate::value::number::as_f64(value).unwrap_or(f64::NAN)
        }
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'create.expireAfterSeconds' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                args::type_name(Some(other))
            )))
        }
    };
    if seconds < 0.0 {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "TTL index 'expireAfterSeconds' option cannot be less than 0",
        ));
    }
    let now_seconds = bson::DateTime::now().timestamp_millis() / 1000;
    if seconds.is_nan() || seconds > now_seconds as f64 {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "TTL index 'expireAfterSeconds' option must be within an acceptable range, try a lower number",
        ));
    }
    Ok(seconds as i64)
}

/// The cluster key of a clustered collection, as `listIndexes` shows it in place
/// of the `_id` index.
pub fn listed_index(collection: &Collection) -> Option<Document> {
    let mut spec = collection.options.get_document("clusteredIndex").ok()?.clone();
    if let Some(seconds) = collection.options.get("expireAfterSeconds") {
        spec.insert("expireAfterSeconds", seconds.clone());
    }
    spec.insert("clustered", true);
    Some(spec)
}

/// Whether `collection` is clustered.
pub fn is_clustered(collection: &Collection) -> bool {
    collection.options.contains_key("clusteredIndex")
}
