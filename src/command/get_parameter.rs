//! `getParameter`: named server parameters, or all of them with `"*"`.

use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};

fn parameters() -> Document {
    doc! {
        "featureCompatibilityVersion": {"version": "7.0"},
        "enableTestCommands": false,
        "authenticationMechanisms": [],
        "maxBSONDepth": crate::wire::MAX_NESTING_DEPTH as i32,
        "transactionLifetimeLimitSeconds": 60,
    }
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let all = parameters();
    if inv.body.get("getParameter") == Some(&Bson::String("*".into())) {
        return Ok(all);
    }
    let mut reply = Document::new();
    for name in inv.body.keys().skip(1).filter(|k| !is_generic_argument(k)) {
        if let Some(value) = all.get(name) {
            reply.insert(name.clone(), value.clone());
        }
    }
    if reply.is_empty() {
        return Err(Error::command(ErrorCode::InvalidOptions, "no option found to get"));
    }
    Ok(reply)
}

/// Arguments every command may carry, which are never parameter names.
fn is_generic_argument(key: &str) -> bool {
    key.starts_with('$')
        || matches!(key, "lsid" | "comment" | "maxTimeMS" | "apiVersion" | "apiStrict" | "apiDeprecationErrors")
}
