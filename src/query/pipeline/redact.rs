//! `$redact`: an expression decides at each level of a document whether to keep
//! it whole (`$$KEEP`), drop it (`$$PRUNE`) or look inside (`$$DESCEND`), where
//! sub-documents, in fields or in arrays, are decided the same way.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{show, Expr};

/// Redacts a document (`None`: pruned). The expression reads each level as the
/// current document.
pub(super) fn redact(expr: &Expr, doc: Document) -> Result<Option<Document>> {
    match expr.evaluate_optional(&doc)? {
        Some(Bson::String(decision)) if decision == "keep" => Ok(Some(doc)),
        Some(Bson::String(decision)) if decision == "prune" => Ok(None),
        Some(Bson::String(decision)) if decision == "descend" => {
            let mut out = Document::new();
            for (name, value) in doc {
                if let Some(value) = redact_value(expr, value)? {
                    out.insert(name, value);
                }
            }
            Ok(Some(out))
        }
        other => {
            let message = format!(
                "$redact's expression should not return anything aside from the variables $$KEEP, $$DESCEND, and $$PRUNE, but returned {}",
                show(other.as_ref())
            );
            Err(Error::command(ErrorCode::Location17053, message))
        }
    }
}

/// A field's or element's value after redaction: documents are decided, arrays
/// keep what their elements keep, other values stay.
fn redact_value(expr: &Expr, value: Bson) -> Result<Option<Bson>> {
    match value {
        Bson::Document(doc) => Ok(redact(expr, doc)?.map(Bson::Document)),
        Bson::Array(items) => {
            let mut kept = Vec::with_capacity(items.len());
            for item in items {
                kept.extend(redact_value(expr, item)?);
            }
            Ok(Some(Bson::Array(kept)))
        }
        other => Ok(Some(other)),
    }
}
