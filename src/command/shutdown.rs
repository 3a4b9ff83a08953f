//! `shutdown`: the server stops as it does on SIGTERM (no new connections, each
//! open one finishes the request it is serving, then the store and the log close)
//! once this command has replied. `force` and `timeoutSecs` wait for replica-set
//! secondaries in MongoDB; a single node has none to wait for, so they are only
//! checked. Without access control, only a connection from this machine may ask,
//! as in MongoDB.

use bson::Document;

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    args::boolean(inv.body, "force", false)?;
    match inv.body.get("timeoutSecs") {
        None => {}
        Some(value) => match crate::query::expr::Num::of(Some(value)).map(|n| n.to_f64()) {
            Some(seconds) if seconds >= 0.0 => {}
            Some(_) => return Err(Error::bad_value("timeoutSecs must be non-negative")),
            None => {
                return Err(Error::type_mismatch(format!(
                    "BSON field 'shutdown.timeoutSecs' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                    args::type_name(Some(value))
                )))
            }
        },
    }
    if !inv.context.security.enabled && !inv.connection.peer.ip().is_loopback() {
        return Err(Error::command(
            ErrorCode::Unauthorized,
            "shutdown must run from localhost when running db without auth",
        ));
    }
    tracing::info!(connection = inv.connection.id, "shutdown requested by command");
    inv.context.shutdown.notify_one();
    Ok(Document::new())
}
