//! The logical-session commands. Sessions are remembered only for
//! `$listLocalSessions` (`crate::sessions`): `endSessions` forgets them; there are
//! no transactions or retryable-write tables yet, so killing and refreshing release
//! nothing. The arguments are still checked as MongoDB checks them, and
//! `startSession` hands out a fresh id.

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
    Ok(doc! {})
}

pub fn refresh(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "refreshSessions")?;
    Ok(doc! {})
}

pub fn kill_all(inv: &Invocation<'_>) -> Result<Document> {
    documents(inv, "killAllSessions")?;
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
