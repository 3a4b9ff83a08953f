//! `setIndexCommitQuorum`: how many replica-set members must be ready before an
//! index build in progress commits. branchdb builds an index within the command
//! that creates it, so no build is ever in progress for another command to reach:
//! after checking its arguments as MongoDB 8.0's parser does, the command answers
//! as MongoDB does when no build of those indexes runs (27), or when the
//! collection does not exist (26).

use bson::{Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

const COMMAND: &str = "setIndexCommitQuorum";

fn missing(field: &str) -> Error {
    Error::command(ErrorCode::Location40414, format!("BSON field '{COMMAND}.{field}' is missing but a required field"))
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{COMMAND}.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let name = args::collection(inv, COMMAND)?;
    match inv.body.get("indexNames") {
        None | Some(Bson::Null) => return Err(missing("indexNames")),
        Some(Bson::Array(names)) => {
            if let Some(bad) = names.iter().find(|n| !matches!(n, Bson::String(_))) {
                return Err(wrong_type("indexNames.0", bad, "string"));
            }
        }
        Some(other) => return Err(wrong_type("indexNames", other, "array")),
    }
    match inv.body.get("commitQuorum") {
        None | Some(Bson::Null) => return Err(missing("commitQuorum")),
        Some(Bson::Int32(n)) if *n < 0 => {
            return Err(Error::command(ErrorCode::FailedToParse, "commitQuorum has to be a non-negative number"))
        }
        Some(Bson::String(_) | Bson::Int32(_)) => {}
        Some(Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)) => {
            return Err(Error::command(ErrorCode::FailedToParse, "commitQuorum has to be an int32 or a string"))
        }
        Some(other) => return Err(wrong_type("commitQuorum", other, "string or int")),
    }
    let namespace = args::namespace(inv, name);
    let view = inv.read_view()?;
    if view.collection(name)?.is_none() {
        return Err(Error::command(ErrorCode::NamespaceNotFound, format!("Collection '{namespace}' was not found.")));
    }
    Err(Error::command(
        ErrorCode::IndexNotFound,
        format!("Cannot find an index build on collection '{namespace}' with the provided index names"),
    ))
}
