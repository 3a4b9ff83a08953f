//! `configureFailPoint`: arms or disarms the `failCommand` and
//! `failGetMoreAfterCursorCheckout` fail points
//! (`crate::fail_points`). A test command: unknown unless the server was started
//! with test commands enabled.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    if !inv.context.settings.enable_test_commands {
        return Err(Error::command(ErrorCode::CommandNotFound, "no such command: 'configureFailPoint'"));
    }
    let after_checkout = match inv.body.get("configureFailPoint") {
        Some(Bson::String(name)) if name == "failCommand" => false,
        Some(Bson::String(name)) if name == "failGetMoreAfterCursorCheckout" => true,
        Some(Bson::String(name)) => {
            return Err(Error::bad_value(format!(
                "Cannot find failpoint: {name} (branchdb has failCommand and failGetMoreAfterCursorCheckout)"
            )))
        }
        _ => return Err(Error::type_mismatch("configureFailPoint must name a fail point")),
    };
    let mode = inv.body.get("mode").ok_or_else(|| Error::bad_value("configureFailPoint needs 'mode'"))?;
    let data = match inv.body.get("data") {
        None => None,
        Some(Bson::Document(data)) => Some(data),
        Some(other) => return Err(Error::type_mismatch(format!("'data' must be a document, not {other}"))),
    };
    let count = match after_checkout {
        true => inv.context.fail_points.configure_after_checkout(mode, data)?,
        false => inv.context.fail_points.configure(mode, data)?,
    };
    Ok(doc! { "count": count })
}
