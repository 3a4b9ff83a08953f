//! `getLog`: the names of the logs, or the recent lines of one.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let lines: Vec<String> = match inv.body.get("getLog") {
        Some(Bson::String(name)) if name == "*" => return Ok(doc! {"names": ["global", "startupWarnings"]}),
        Some(Bson::String(name)) if name == "global" => crate::log::recent(),
        Some(Bson::String(name)) if name == "startupWarnings" => inv.context.startup_warnings.clone(),
        Some(Bson::String(name)) => return Err(Error::bad_value(format!("no RamLog named: {name}"))),
        _ => return Err(Error::type_mismatch("Argument to getLog must be of type String")),
    };
    Ok(doc! { "totalLinesWritten": lines.len() as i32, "log": lines })
}
