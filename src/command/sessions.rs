//! The logical-session commands (`crate::sessions` holds the sessions):
//! `endSessions` and `killSessions` forget sessions and abort their open
//! transactions, `killAllSessions` does so for all; `refreshSessions` marks them
//! used. `startSession` hands out a fresh id. What a session's retryable writes
//! recorded stays in the store's session table, as MongoDB keeps
//! `config.transactions`.

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

use super::hello::LOGICAL_SESSION_TIMEOUT_MINUTES;
use super::Invocation;
use crate::error::{Error, Result};

pub fn start(_: &Invocation<'_>) -> Result<Document> {
    let id = Binary { subtype: BinarySubtype::Uuid, bytes: bson::Uuid::new().bytes().to_vec() };
    Ok(doc! { "id": {"id": id}, "timeoutMinutes": LOGICAL_SESSION_TIMEOUT_MINUTES })
}

pub fn end(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "endSessions")?;
    inv.context.sessions.end(documents(inv, "endSessions")?);
    Ok(doc! {})
}

pub fn kill(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "killSessions")?;
    inv.context.sessions.end(documents(inv, "killSessions")?);
    Ok(doc! {})
}

pub fn refresh(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "refreshSessions")?;
    for lsid in documents(inv, "refreshSessions")? {
        inv.context.sessions.touch(lsid)?;
    }
    Ok(doc! {})
}

/// `killAllSessions: []` kills every session; naming users kills theirs, and
/// without authentication every session belongs to the one unnamed user.
pub fn kill_all(inv: &Invocation<'_>) -> Result<Document> {
    documents(inv, "killAllSessions")?;
    inv.context.sessions.end_all();
    Ok(doc! {})
}

/// The argument as an array of documents.
fn documents<'a>(inv: &'a Invocation<'_>, name: &str) -> Result<Vec<&'a Document>> {
    let Some(Bson::Array(items)) = inv.body.get(name) else {
        return Err(Error::type_mismatch(format!("{name} must be an array")));
    };
    items
        .iter()
        .map(|item| match item {
            Bson::Document(d) => Ok(d),
            _ => Err(Error::type_mismatch(format!("{name} must be an array of documents"))),
        })
        .collect()
}

/// The argument as an array of `{id: UUID}` session ids.
fn session_ids(inv: &Invocation<'_>, name: &str) -> Result<()> {
    for d in documents(inv, name)? {
        match d.get("id") {
            Some(Bson::Binary(Binary { subtype: BinarySubtype::Uuid, bytes })) if bytes.len() == 16 => {}
            _ => return Err(Error::type_mismatch(format!("{name}: a session id is {{id: UUID}}"))),
        }
    }
    Ok(())
}
