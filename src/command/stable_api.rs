//! MongoDB's Stable API parameters (`apiVersion`, `apiStrict`,
//! `apiDeprecationErrors`), checked before any command runs.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};

/// The commands of MongoDB's Stable API, version 1, that branchdb has.
const STABLE_API_V1: &[&str] = &[
    "aggregate",
    "bulkWrite",
    "count",
    "create",
    "createIndexes",
    "delete",
    "drop",
    "dropDatabase",
    "dropIndexes",
    "endSessions",
    "explain",
    "find",
    "findAndModify",
    "getMore",
    "hello",
    "insert",
    "killCursors",
    "listCollections",
    "listDatabases",
    "listIndexes",
    "ping",
    "refreshSessions",
    "update",
];

/// The stages MongoDB 8.0 refuses under `apiStrict: true` (its
/// `AllowedWithApiStrict::kNeverInVersion1` stages) that branchdb has.
const STAGES_OUTSIDE_V1: &[&str] = &[
    "$collStats",
    "$currentOp",
    "$indexStats",
    "$listCatalog",
    "$listLocalSessions",
    "$listSessions",
    "$planCacheStats",
    "$querySettings",
    "$queryStats",
];

/// The first stage of `pipeline`, or of a pipeline within it (`$facet`, `$lookup`,
/// `$unionWith`), that API version 1 does not have: MongoDB's error for it.
pub fn pipeline_outside_v1(pipeline: &[Bson]) -> Option<Error> {
    for stage in pipeline {
        let Some((name, spec)) = stage.as_document().and_then(|s| s.iter().next()) else { continue };
        if STAGES_OUTSIDE_V1.contains(&name.as_str()) {
            return Some(Error::command(
                ErrorCode::APIStrictError,
                format!("{name} is not allowed with 'apiStrict: true' in API Version 1"),
            ));
        }
        let inner: Vec<&Bson> = match (name.as_str(), spec) {
            ("$facet", Bson::Document(facets)) => facets.values().collect(),
            ("$lookup" | "$unionWith", Bson::Document(spec)) => spec.get("pipeline").into_iter().collect(),
            _ => Vec::new(),
        };
        for pipeline in inner {
            if let Some(error) = pipeline.as_array().and_then(|p| pipeline_outside_v1(p)) {
                return Some(error);
            }
        }
    }
    None
}

/// Whether API version 1 has an index of this spec: MongoDB's version 1 has no
/// text, geoHaystack or sparse indexes.
pub fn index_in_v1(spec: &Document) -> bool {
    let kinds = spec
        .get_document("key")
        .map(|key| key.values().any(|v| matches!(v, Bson::String(k) if k == "text" || k == "geoHaystack")));
    let sparse = spec.get("sparse").is_some_and(|v| crate::value::truthy(Some(v)));
    !kinds.unwrap_or(false) && !sparse
}

/// The Stable API parameters, as MongoDB checks them: `apiVersion` must be "1";
/// `apiStrict` and `apiDeprecationErrors` need it; `apiStrict: true` refuses a
/// command outside the Stable API (no command of version 1 is deprecated, so
/// `apiDeprecationErrors` refuses none).
pub fn check(command: &str, body: &Document) -> Result<()> {
    let flag = |name: &str| match body.get(name) {
        None => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{name}' is the wrong type '{}', expected type 'bool'",
            crate::value::type_name(Some(other))
        ))),
    };
    let strict = flag("apiStrict")?;
    let deprecation_errors = flag("apiDeprecationErrors")?;
    match body.get("apiVersion") {
        None if strict.is_some() || deprecation_errors.is_some() => Err(Error::command(
            ErrorCode::Location4886600,
            "Provided apiStrict and/or apiDeprecationErrors without passing apiVersion",
        )),
        None => Ok(()),
        Some(Bson::String(version)) if version == "1" => {
            if strict == Some(true) && !STABLE_API_V1.contains(&command) {
                return Err(Error::command(
                    ErrorCode::APIStrictError,
                    format!(
                        "Provided apiStrict:true, but the command {command} is not in API Version 1. Information on \
                         supported commands and migrations in API Version 1 can be found at \
                         https://dochub.mongodb.org/core/manual-versioned-api."
                    ),
                ));
            }
            if strict == Some(true) && command == "aggregate" {
                if let Some(error) = body.get_array("pipeline").ok().and_then(|p| pipeline_outside_v1(p)) {
                    return Err(error);
                }
            }
            Ok(())
        }
        Some(Bson::String(version)) if version == "2" => {
            Err(Error::command(ErrorCode::APIVersionError, "Cannot accept API version 2"))
        }
        Some(Bson::String(_)) => Err(Error::command(ErrorCode::APIVersionError, "API version must be \"1\"")),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field 'apiVersion' is the wrong type '{}', expected type 'string'",
            crate::value::type_name(Some(other))
        ))),
    }
}
