//! `hello`, and its legacy spellings `isMaster`/`ismaster`: the handshake every
//! driver starts with. branchdb presents itself as a MongoDB 8.0 router (`isdbgrid`),
//! so drivers enable sessions and retryable writes without replica-set discovery.
//!
//! Awaitable hello, as a router serves it: every reply carries a `topologyVersion`
//! (this process's id, counter 0: a router's topology changes only when it shuts
//! down), and a hello that gives back this version with `maxAwaitTimeMS` is
//! answered once that time has passed ([`wait_for`]; `connection.rs` waits, on no
//! thread), or at once with `ShutdownInProgress` (91) when the server stops
//! meanwhile. Drivers monitor through it (the streaming protocol); branchdb sends
//! one reply per request (never `moreToCome`), which the protocol allows.

use std::sync::OnceLock;
use std::time::Duration;

use bson::oid::ObjectId;
use bson::{doc, Bson, Document};

use super::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::wire::{MAX_BSON_OBJECT_SIZE, MAX_MESSAGE_SIZE};

/// Wire versions: 25 is MongoDB 8.0.
pub const MIN_WIRE_VERSION: i32 = 0;
pub const MAX_WIRE_VERSION: i32 = 25;
pub const MAX_WRITE_BATCH_SIZE: i32 = 100_000;
pub const LOGICAL_SESSION_TIMEOUT_MINUTES: i32 = 30;

/// This process's id in `topologyVersion`.
fn process_id() -> ObjectId {
    static ID: OnceLock<ObjectId> = OnceLock::new();
    *ID.get_or_init(ObjectId::new)
}

/// The topology version every reply carries.
pub(super) fn topology_version() -> Document {
    doc! {"processId": process_id(), "counter": 0i64}
}

/// A hello's awaitable fields, checked as a MongoDB 8.0 router checks them: the
/// client's topology version and how long to wait, or neither.
fn awaitable(body: &Document) -> Result<Option<(Document, i64)>> {
    let version = match body.get("topologyVersion") {
        None => None,
        Some(Bson::Document(version)) => Some(version),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'hello.topologyVersion' is the wrong type '{}', expected type 'object'",
                crate::value::type_name(Some(other))
            )))
        }
    };
    let wait = match body.get("maxAwaitTimeMS") {
        None => None,
        Some(value @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => Some(
            crate::index::whole_number(value)
                .ok_or_else(|| Error::command(ErrorCode::FailedToParse, "maxAwaitTimeMS must be a whole number"))?,
        ),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'hello.maxAwaitTimeMS' is the wrong type '{}', expected type 'long'",
                crate::value::type_name(Some(other))
            )))
        }
    };
    match (version, wait) {
        (None, None) => Ok(None),
        (Some(version), Some(wait)) => {
            let counter = match version.get("counter") {
                Some(Bson::Int64(n)) => *n,
                Some(Bson::Int32(n)) => i64::from(*n),
                _ => {
                    return Err(Error::command(
                        ErrorCode::Location40414,
                        "BSON field 'TopologyVersion.counter' is missing but a required field",
                    ))
                }
            };
            if !matches!(version.get("processId"), Some(Bson::ObjectId(_))) {
                return Err(Error::command(
                    ErrorCode::Location40414,
                    "BSON field 'TopologyVersion.processId' is missing but a required field",
                ));
            }
            if counter < 0 {
                return Err(Error::command(
                    ErrorCode::Location51758,
                    "topologyVersion must have a non-negative counter",
                ));
            }
            if wait < 0 {
                return Err(Error::command(ErrorCode::Location51759, "maxAwaitTimeMS must be a non-negative integer"));
            }
            if version.get_object_id("processId") == Ok(process_id()) && counter > 0 {
                return Err(Error::command(
                    ErrorCode::Location51761,
                    format!(
                        "Received a topology version with counter: {counter} which is greater than the mongos \
                         topology version counter: 0"
                    ),
                ));
            }
            Ok(Some((version.clone(), wait)))
        }
        (Some(_), None) => Err(Error::command(
            ErrorCode::Location51760,
            "A request with a 'topologyVersion' must include 'maxAwaitTimeMS'",
        )),
        (None, Some(_)) => Err(Error::command(
            ErrorCode::Location51760,
            "A request with 'maxAwaitTimeMS' must include a 'topologyVersion'",
        )),
    }
}

/// How long a hello waits before it is answered: its `maxAwaitTimeMS`, when it
/// gives back this process's current topology version (another process's, or an
/// older one, is answered at once, as is a hello whose fields are wrong: the
/// command then says why).
pub fn wait_for(body: &Document) -> Option<Duration> {
    let name = body.keys().next()?;
    if !matches!(name.as_str(), "hello" | "isMaster" | "ismaster") {
        return None;
    }
    let (version, wait) = awaitable(body).ok().flatten()?;
    let current = version.get_object_id("processId") == Ok(process_id());
    current.then(|| Duration::from_millis(wait as u64))
}

/// The reply to a hello that was waiting when the server began to shut down.
pub fn shutting_down() -> Document {
    let mut reply =
        Error::command(ErrorCode::ShutdownInProgress, "The server is in quiesce mode and will shut down").to_reply();
    reply.insert("remainingQuiesceTimeMillis", 0i64);
    reply
}

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    awaitable(inv.body)?;
    remember_client_metadata(inv)?;
    let legacy = inv.body.keys().next().is_some_and(|name| name != "hello");
    let mut reply = Document::new();
    if inv.body.get("helloOk").is_some_and(|v| crate::value::truthy(Some(v))) {
        reply.insert("helloOk", true);
    }
    // A read replica takes no writes: it says so, and names its writer if told it.
    let replica = inv.context.settings.replica_of.is_some();
    reply.insert(if legacy { "ismaster" } else { "isWritablePrimary" }, !replica);
    if replica {
        reply.insert("secondary", true);
        if let Some(primary) = &inv.context.settings.primary {
            reply.insert("primary", primary.clone());
        }
    }
    reply.insert("topologyVersion", topology_version());
    reply.insert("msg", "isdbgrid");
    reply.insert("maxBsonObjectSize", MAX_BSON_OBJECT_SIZE as i32);
    reply.insert("maxMessageSizeBytes", MAX_MESSAGE_SIZE as i32);
    reply.insert("maxWriteBatchSize", MAX_WRITE_BATCH_SIZE);
    reply.insert("localTime", bson::DateTime::now());
    reply.insert("logicalSessionTimeoutMinutes", LOGICAL_SESSION_TIMEOUT_MINUTES);
    reply.insert("connectionId", inv.connection.id);
    reply.insert("minWireVersion", MIN_WIRE_VERSION);
    reply.insert("maxWireVersion", MAX_WIRE_VERSION);
    reply.insert("readOnly", replica);
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
