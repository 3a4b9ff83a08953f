//! `ping`: the liveness check.

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;

pub fn run(_: &Invocation<'_>) -> Result<Document> {
    Ok(doc! {})
}
