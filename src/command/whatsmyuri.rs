//! `whatsmyuri`: the client's address as the server sees it.

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    Ok(doc! { "you": inv.connection.peer.to_string() })
}
