//! Aggregation expressions (`{$add: ["$a", 1]}`, `"$field"`, literals), compiled
//! once and evaluated against a document. Used by `$expr` in filters, by
//! pipeline-style updates and by the aggregation stages.

use bson::{Bson, Document};

use crate::error::{Error, Result};

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr(Bson);

impl Expr {
    pub fn parse(spec: &Bson) -> Result<Expr> {
        Ok(Expr(spec.clone()))
    }

    /// The expression's value with `$$ROOT` and `$$CURRENT` bound to `root`.
    pub fn evaluate(&self, _root: &Document) -> Result<Bson> {
        Err(Error::bad_value(format!("expressions are not implemented yet: {}", self.0)))
    }
}
