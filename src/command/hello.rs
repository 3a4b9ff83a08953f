//! `hello`, and its legacy spellings `isMaster`/`ismaster`: the handshake every
//! driver starts with. branchdb presents itself as a MongoDB 8.0 router (`isdbgrid`),
//! so drivers enable sessions and retryable writes without replica-set discovery.

use bson::{Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::wire::{MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE};

/// Wire versions: 25 is MongoDB 8.0.
pub const MIN_WIRE_VERSION: i32 = 0;
pub const MAX_WIRE_VERSION: i32 = 25;
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
pub const LOGICAL_SESSION_TIMEOUT_MINUTES: i32 = 30;

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    remember_client_metadata(inv)?;
    let legacy = inv.body.keys().next().is_some_and(|name| name != "hello");
    let mut reply = Document::new();
    if inv.body.get("helloOk").is_some_and(|v| crate::value::truthy(Some(v))) {
        reply.insert("helloOk", true);
    }
    reply.insert(if legacy { "ismaster" } else { "isWritablePrimary" }, true);
    reply.insert("msg", "isdbgrid");
    reply.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE as i32);
    reply.insert("maxMessageSizeBytes", MAX_MESSAGE_SIZE as i32);
    reply.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    reply.insert("localTime", bson::DateTime::now());
    reply.insert("logicalSessionTimeoutMinutes", LOGICAL_SESSION_TIMEOUT_MINUTES);
    reply.insert("connectionId", inv.connection.id);
    reply.insert("minWireVersion", MIN_WIRE_VERSION);
    reply.insert("maxWireVersion", MAX_WIRE_VERSION);
    reply.insert("readOnly", false);
    if let Some(mechanisms) = super::sasl::supported_mechanisms(inv.context, inv.body) {
        reply.insert("saslSupportedMechs", mechanisms);
    }
    if let Some(started) = super::sasl::speculative(inv.context, inv.connection, inv.body) {
        reply.insert("speculativeAuthenticate", started);
    }
    reply.insert("ok", 1.0);
    Ok(reply)
}

/// The `client` document may be sent with the first handshake only.
fn remember_client_metadata(inv: &Invocation<'_>) -> Result<()> {
    let Some(client) = inv.body.get("client") else { return Ok(()) };
    let Bson::Document(client) = client else {
        return Err(Error::type_mismatch("'client' must be a document"));
    };
    let mut stored = inv.connection.client_metadata.lock().unwrap_or_else(|p| p.into_inner());
    if stored.is_some() {
        return Err(Error::command(
            ErrorCode::ClientMetadataCannotBeMutated,
            "The client metadata document may only be sent in the first hello",
        ));
    }
    *stored = Some(client.clone());
    Ok(())
}
