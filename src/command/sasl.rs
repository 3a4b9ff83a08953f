//! Authentication commands: `saslStart` and `saslContinue` (SCRAM-SHA-1 and
//! SCRAM-SHA-256), the speculative start and `saslSupportedMechs` of `hello`,
//! `authenticate` and `logout`. A failure answers `AuthenticationFailed` (18) after
//! a short delay and is logged with the peer and the user, never with the password
//! or the SCRAM messages.

use std::time::Duration;

use bson::spec::BinarySubtype;
use bson::{doc, Binary, Bson, Document};

use super::{args, user_store, Invocation};
use crate::auth::scram::{self, Credential, Mechanism};
use crate::auth::{Conversation, UserName};
use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};

/// How long a failed authentication waits before it answers.
const FAILURE_DELAY: Duration = Duration::from_millis(100);

pub fn sasl_start(inv: &Invocation<'_>) -> Result<Document> {
    start(inv.context, inv.connection, &inv.db.db, inv.body)
}

/// A `saslStart` (or `hello`'s `speculativeAuthenticate`) on database `db`.
fn start(context: &Context, connection: &ConnectionInfo, db: &str, body: &Document) -> Result<Document> {
    let mechanism = match body.get("mechanism") {
        Some(Bson::String(name)) => Mechanism::parse(name).ok_or_else(|| {
            Error::command(
                ErrorCode::MechanismUnavailable,
                format!("Received authentication for mechanism {name} which is unknown or not enabled"),
            )
        })?,
        _ => return Err(Error::bad_value("saslStart needs a mechanism")),
    };
    let skip_empty = body.get_document("options").is_ok_and(|o| crate::value::truthy(o.get("skipEmptyExchange")));
    let payload = payload(body)?;
    let first = match scram::parse_client_first(payload) {
        Ok(first) => first,
        Err(why) => return Err(failed(connection, None, mechanism, &why.to_string())),
    };
    let user = UserName { user: first.user.clone(), db: db.to_owned() };
    let credential = user_store::user(context, &user)?.and_then(|doc| {
        let credentials = doc.get_document("credentials").ok()?;
        Credential::from_document(credentials.get_document(mechanism.name()).ok()?)
    });
    let Some(credential) = credential else {
        return Err(failed(connection, Some(&user), mechanism, "no such user, or no credential for the mechanism"));
    };
    let (scram, reply) = scram::Conversation::start(mechanism, first, credential);
    let mut auth = connection.auth();
    auth.conversations += 1;
    let id = auth.conversations;
    auth.conversation = Some(Conversation { id, db: db.to_owned(), scram, proven: false, skip_empty });
    Ok(doc! {"conversationId": id, "done": false, "payload": binary(reply)})
}

pub fn sasl_continue(inv: &Invocation<'_>) -> Result<Document> {
    let connection = inv.connection;
    let id = match inv.body.get("conversationId") {
        Some(Bson::Int32(id)) => *id,
        Some(Bson::Int64(id)) => i32::try_from(*id).unwrap_or(-1),
        _ => return Err(Error::type_mismatch("saslContinue needs a conversationId")),
    };
    let payload = payload(inv.body)?;
    let conversation = connection.auth().conversation.take();
    let Some(mut conversation) = conversation.filter(|c| c.id == id) else {
        return Err(Error::command(ErrorCode::ProtocolError, "No SASL session state found"));
    };
    if conversation.proven {
        // The client's empty last message, after the server's proof.
        if !payload.is_empty() {
            return Err(failed(connection, None, conversation.scram.mechanism, "a message after the last"));
        }
        return Ok(done(id, Vec::new()));
    }
    let user = UserName { user: conversation.scram.user.clone(), db: conversation.db.clone() };
    match conversation.scram.finish(payload) {
        Ok(server_final) => {
            tracing::info!(
                peer = %connection.peer,
                user = %user,
                mechanism = conversation.scram.mechanism.name(),
                "Successfully authenticated"
            );
            connection.auth().log_in(user);
            if conversation.skip_empty {
                return Ok(done(id, server_final));
            }
            conversation.proven = true;
            connection.auth().conversation = Some(conversation);
            Ok(doc! {"conversationId": id, "done": false, "payload": binary(server_final)})
        }
        Err(why) => Err(failed(connection, Some(&user), conversation.scram.mechanism, &why.to_string())),
    }
}

/// `hello`'s `speculativeAuthenticate`: the `saslStart` (or MONGODB-X509
/// `authenticate`) reply, or nothing when it fails (the client then authenticates
/// the ordinary way), as MongoDB does.
pub fn speculative(context: &Context, connection: &ConnectionInfo, body: &Document) -> Option<Document> {
    let spec = body.get_document("speculativeAuthenticate").ok()?;
    let db = spec.get_str("db").unwrap_or("admin");
    let mut reply = match spec.contains_key("authenticate") {
        true => x509(context, connection, db, spec).ok()?,
        false => start(context, connection, db, spec).ok()?,
    };
    reply.remove("ok");
    Some(reply)
}

/// `hello`'s `saslSupportedMechs: "db.user"`: the mechanisms the user has
/// credentials for (nothing for an unknown user).
pub fn supported_mechanisms(context: &Context, body: &Document) -> Option<Bson> {
    let (db, user) = body.get_str("saslSupportedMechs").ok()?.split_once('.')?;
    let doc = user_store::user(context, &UserName { user: user.to_owned(), db: db.to_owned() }).ok()??;
    let credentials = doc.get_document("credentials").ok()?;
    let names = Mechanism::ALL.into_iter().filter(|m| credentials.contains_key(m.name()));
    Some(Bson::Array(names.map(|m| Bson::String(m.name().to_owned())).collect()))
}

/// `authenticate`: MONGODB-X509, the user named by the subject of the client's
/// TLS certificate (checked against `--tls-ca-file` in the handshake), in
/// `$external`.
pub fn authenticate(inv: &Invocation<'_>) -> Result<Document> {
    x509(inv.context, inv.connection, &inv.db.db, inv.body)
}

fn x509(context: &Context, connection: &ConnectionInfo, db: &str, body: &Document) -> Result<Document> {
    match body.get_str("mechanism") {
        Ok("MONGODB-X509") => {}
        other => {
            return Err(Error::command(
                ErrorCode::MechanismUnavailable,
                format!(
                    "Received authentication for mechanism {} which is unknown or not enabled",
                    other.unwrap_or_default()
                ),
            ))
        }
    }
    if db != crate::namespace::EXTERNAL {
        return Err(Error::bad_value("X.509 authentication must always use the $external database."));
    }
    let failure = |why: &str, user: Option<&UserName>| {
        tracing::warn!(
            peer = %connection.peer,
            user = %user.map_or_else(|| "(none)".to_owned(), ToString::to_string),
            mechanism = "MONGODB-X509",
            reason = why,
            "Authentication failed"
        );
        std::thread::sleep(FAILURE_DELAY);
        Error::command(ErrorCode::AuthenticationFailed, "Authentication failed.")
    };
    let Some(subject) = connection.certificate_subject.clone() else {
        return Err(failure("no verified client certificate on the connection", None));
    };
    let user = UserName { user: subject, db: db.to_owned() };
    if body.get_str("user").is_ok_and(|named| named != user.user) {
        return Err(failure("the user named is not the certificate's subject", Some(&user)));
    }
    if user_store::user(context, &user)?.is_none() {
        return Err(failure("no such user", Some(&user)));
    }
    tracing::info!(peer = %connection.peer, user = %user, mechanism = "MONGODB-X509", "Successfully authenticated");
    let reply = doc! {"dbname": &user.db, "user": &user.user};
    connection.auth().log_in(user);
    Ok(reply)
}

/// `logout`: forgets the user authenticated on this database.
pub fn logout(inv: &Invocation<'_>) -> Result<Document> {
    inv.connection.auth().log_out(&inv.db.db);
    Ok(Document::new())
}

/// A failed authentication: logged, delayed, and answered 18.
fn failed(connection: &ConnectionInfo, user: Option<&UserName>, mechanism: Mechanism, why: &str) -> Error {
    tracing::warn!(
        peer = %connection.peer,
        user = %user.map_or_else(|| "(unknown)".to_owned(), ToString::to_string),
        mechanism = mechanism.name(),
        reason = why,
        "Authentication failed"
    );
    std::thread::sleep(FAILURE_DELAY);
    Error::command(ErrorCode::AuthenticationFailed, "Authentication failed.")
}

fn payload(body: &Document) -> Result<&[u8]> {
    match body.get("payload") {
        Some(Bson::Binary(binary)) => Ok(&binary.bytes),
        Some(Bson::String(text)) => Ok(text.as_bytes()),
        other => {
            Err(Error::type_mismatch(format!("the SASL payload must be binary data, not {}", args::type_name(other))))
        }
    }
}

fn binary(bytes: Vec<u8>) -> Binary {
    Binary { subtype: BinarySubtype::Generic, bytes }
}

fn done(id: i32, payload: Vec<u8>) -> Document {
    doc! {"conversationId": id, "done": true, "payload": binary(payload)}
}
