//! `buildInfo`: the server version drivers and tools check features against.

use bson::{doc, Document};

use super::Invocation;
use crate::error::Result;
use crate::wire::MAX_BSON_OBJECT_SIZE;

/// The MongoDB version whose behaviour branchdb follows.
pub const MONGODB_VERSION: &str = "8.0.4";
pub const MONGODB_VERSION_ARRAY: [i32; 4] = [8, 0, 4, 0];

pub fn run(_: &Invocation<'_>) -> Result<Document> {
    Ok(doc! {
        "version": MONGODB_VERSION,
        "gitVersion": env!("CARGO_PKG_VERSION"),
        "modules": [],
        "allocator": "system",
        "javascriptEngine": "none",
        "sysInfo": "deprecated",
        "versionArray": MONGODB_VERSION_ARRAY.to_vec(),
        "bits": (usize::BITS as i32),
        "debug": cfg!(debug_assertions),
        "maxBsonObjectSize": MAX_BSON_OBJECT_SIZE as i32,
        "storageEngines": ["branchdb"],
        "ok": 1.0,
    })
}
