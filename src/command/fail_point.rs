//! `configureFailPoint`: arms or disarms the `failCommand` fail point
//! (`crate::fail_points`). A test command: unknown unless the server was started
//! with test commands enabled.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    if !inv.context.settings.enable_test_commands {
        return Err(Error::command(ErrorCode::CommandNotFound, "no such command: 'configureFailPoint'"));
    }
    match inv.body.get("configureFailPoint") {
        Some(Bson::String(name)) if name == "failCommand" => {}
        Some(Bson::String(name)) => {
            return Err(Error::bad_value(format!("Cannot find failpoint: {name} (branchdb has only failCommand)")))
        }
        _ => return Err(Error::type_mismatch("configureFailPoint must name a fail point")),
    }
    let mode = inv.body.get("mode").ok_or_else(|| Error::bad_value("configureFailPoint needs 'mode'"))?;
    let data = match inv.body.get("data") {
        None => None,
        Some(Bson::Document(data)) => Some(data),
        Some(other) => return Err(Error::type_mismatch(format!("'data' must be a document, not {other}"))),
    };
    let count = inv.context.fail_points.configure(mode, data)?;
    Ok(doc! { "count": count })
}
