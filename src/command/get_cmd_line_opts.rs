//! `getCmdLineOpts`: the command line and the settings in effect.

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let s = &inv.context.settings;
    Ok(doc! {
        "argv": inv.context.argv.clone(),
        "parsed": {
            "net": {"bindIp": s.bind.clone(), "maxIncomingConnections": s.max_connections as i64},
            "storage": {"dbPath": s.data_dir.display().to_string(), "durability": format!("{:?}", s.durability).to_lowercase()},
        },
    })
}
