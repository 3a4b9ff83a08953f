//! `listCommands`: every command of the dispatch table.

use bson::{doc, Document};

use super::{Invocation, COMMANDS};
use crate::error::Result;

pub fn run(_: &Invocation<'_>) -> Result<Document> {
    let mut commands = Document::new();
    for c in COMMANDS {
        commands.insert(
            c.name,
            doc! {
                "help": c.help,
                "requiresAuth": false,
                "secondaryOk": true,
                "adminOnly": c.admin_only,
                "apiVersions": [],
                "deprecatedApiVersions": [],
            },
        );
    }
    Ok(doc! { "commands": commands })
}
