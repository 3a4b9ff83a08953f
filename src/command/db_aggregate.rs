//! `{aggregate: 1}`: a pipeline over a database rather than a collection, whose
//! first stage makes the documents: `$documents` (the values of an expression),
//! `$listLocalSessions` (the session cache), `$currentOp` (the running
//! operations, on `admin`), `$querySettings` or `$queryStats` (on `admin`).

use bson::{Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::Expr;

/// The documents the first stage of a collection-less pipeline produces, and the
/// stages after it.
pub fn source<'s>(inv: &Invocation<'_>, stages: &'s [Bson]) -> Result<(Vec<Document>, &'s [Bson])> {
    let first = stages.first().and_then(Bson::as_document).and_then(|stage| stage.iter().next());
    let Some((name, argument)) = first else {
        return Err(collection_required("an empty pipeline"));
    };
    let documents = match name.as_str() {
        "$documents" => documents(inv, argument)?,
        "$listLocalSessions" => super::sessions::listed(inv, argument, "$listLocalSessions")?,
        "$currentOp" => super::current_op::stage(inv, argument)?,
        "$querySettings" => super::query_settings::stage(inv, argument)?,
        "$queryStats" => super::query_stats::stage(inv, argument)?,
        other => return Err(collection_required(&format!("'{other}'"))),
    };
    Ok((documents, &stages[1..]))
}

/// `$documents`: an expression (usually a literal array) evaluating to an array of
/// documents.
fn documents(inv: &Invocation<'_>, argument: &Bson) -> Result<Vec<Document>> {
    let vars = args::variables(inv.body, "aggregate")?;
    let value = Expr::parse(argument, &vars)?.evaluate(&Document::new())?;
    let invalid = || {
        Error::command(
            ErrorCode::Location5858203,
            "error during $documents stage: $documents must evaluate to an array of objects",
        )
    };
    let Bson::Array(items) = value else { return Err(invalid()) };
    items.into_iter().map(|item| if let Bson::Document(doc) = item { Ok(doc) } else { Err(invalid()) }).collect()
}

fn collection_required(what: &str) -> Error {
    Error::command(
        ErrorCode::InvalidNamespace,
        format!("{{aggregate: 1}} is not valid for {what}; a collection is required."),
    )
}
