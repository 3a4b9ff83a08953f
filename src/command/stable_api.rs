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
