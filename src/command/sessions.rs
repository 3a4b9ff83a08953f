//! The logical-session commands (`crate::sessions` holds the sessions):
//! `endSessions` (the caller's) and `killSessions` (anyone's) forget sessions and
//! abort their open transactions, `killAllSessions` does so for every session or
//! the named users', `killAllSessionsByPattern` for those its patterns name;
//! `refreshSessions` marks them used. `startSession` hands out a fresh id. A
//! session belongs to the user its connection is authenticated as
//! ([`owner`]); `$listLocalSessions` and `$listSessions` list them ([`listed`]). What a session's retryable writes
//! recorded stays in the store's session table, as MongoDB keeps
//! `config.transactions`.

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

use super::hello::LOGICAL_SESSION_TIMEOUT_MINUTES;
use super::{user_store, Invocation};
use crate::auth::privileges::RoleName;
use crate::auth::UserName;
use crate::error::{Error, ErrorCode, Result};
use crate::sessions::{Owner, Pick};

/// The owner of the sessions `inv`'s connection uses.
pub fn owner(inv: &Invocation<'_>) -> Owner {
    Owner::of(&inv.connection.auth().users)
}

pub fn start(_: &Invocation<'_>) -> Result<Document> {
    let id = Binary { subtype: BinarySubtype::Uuid, bytes: bson::Uuid::new().bytes().to_vec() };
    Ok(doc! { "id": {"id": id}, "timeoutMinutes": LOGICAL_SESSION_TIMEOUT_MINUTES })
}

pub fn end(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "endSessions")?;
    inv.context.sessions.end(documents(inv, "endSessions")?, Some(&owner(inv)));
    Ok(doc! {})
}

pub fn kill(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "killSessions")?;
    inv.context.sessions.end(documents(inv, "killSessions")?, None);
    Ok(doc! {})
}

pub fn refresh(inv: &Invocation<'_>) -> Result<Document> {
    session_ids(inv, "refreshSessions")?;
    for lsid in documents(inv, "refreshSessions")? {
        inv.context.sessions.touch(lsid, &owner(inv))?;
    }
    Ok(doc! {})
}

/// `killAllSessions: []` kills every session; `[{user, db}, …]` the sessions of
/// those users.
pub fn kill_all(inv: &Invocation<'_>) -> Result<Document> {
    let users: Vec<UserName> = documents(inv, "killAllSessions")?
        .into_iter()
        .map(|d| user_name(d, "KillAllSessionsUser"))
        .collect::<Result<_>>()?;
    let uids: Vec<[u8; 32]> = users.iter().map(|u| Owner::of(std::slice::from_ref(u)).uid).collect();
    match users.is_empty() {
        true => inv.context.sessions.kill(&Pick::All),
        false => inv.context.sessions.kill(&Pick::Uids(&uids)),
    }
    Ok(doc! {})
}

/// `killAllSessionsByPattern: []` kills every session; otherwise each session one
/// of the patterns takes: `{lsid: {id, uid}}`, `{uid}`, `{users: [{user, db}]}`,
/// `{roles: [{role, db}]}` (the sessions of the users who hold a role), every field
/// given matching.
pub fn kill_all_by_pattern(inv: &Invocation<'_>) -> Result<Document> {
    let patterns: Vec<Pattern> = documents(inv, "killAllSessionsByPattern")?
        .into_iter()
        .map(|d| Pattern::parse(inv, d))
        .collect::<Result<_>>()?;
    match patterns.is_empty() {
        true => inv.context.sessions.kill(&Pick::All),
        false => inv.context.sessions.kill(&Pick::Matching(&|id, owner| patterns.iter().any(|p| p.takes(id, owner)))),
    }
    Ok(doc! {})
}

/// One pattern of `killAllSessionsByPattern`, its users and roles resolved to the
/// `uid`s of their sessions' owners.
struct Pattern {
    lsid: Option<([u8; 16], Option<[u8; 32]>)>,
    uids: Option<Vec<[u8; 32]>>,
}

impl Pattern {
    fn parse(inv: &Invocation<'_>, spec: &Document) -> Result<Pattern> {
        let mut pattern = Pattern { lsid: None, uids: None };
        let mut narrow = |uids: Vec<[u8; 32]>| {
            pattern.uids = Some(match pattern.uids.take() {
                Some(before) => before.into_iter().filter(|u| uids.contains(u)).collect(),
                None => uids,
            });
        };
        for (field, value) in spec {
            match field.as_str() {
                "lsid" => {
                    let Bson::Document(lsid) = value else {
                        return Err(wrong_type("KillAllSessionsByPattern.lsid", value, "object"));
                    };
                    let Some(id) = crate::sessions::session_id(lsid) else {
                        return Err(Error::type_mismatch(
                            "KillAllSessionsByPattern.lsid: a session id is {id: UUID, uid}",
                        ));
                    };
                    let uid = match lsid.get("uid") {
                        Some(Bson::Binary(uid)) => Some(uid32(&uid.bytes)?),
                        None => None,
                        Some(other) => return Err(wrong_type("KillAllSessionsByPattern.lsid.uid", other, "binData")),
                    };
                    pattern.lsid = Some((id, uid));
                }
                "uid" => match value {
                    Bson::Binary(uid) => narrow(vec![uid32(&uid.bytes)?]),
                    other => return Err(wrong_type("KillAllSessionsByPattern.uid", other, "binData")),
                },
                "users" => {
                    let users = array_of_documents(value, "KillAllSessionsByPattern.users")?
                        .into_iter()
                        .map(|d| user_name(d, "KillAllSessionsUser"))
                        .collect::<Result<Vec<_>>>()?;
                    narrow(users.iter().map(|u| Owner::of(std::slice::from_ref(u)).uid).collect());
                }
                "roles" => {
                    let roles = array_of_documents(value, "KillAllSessionsByPattern.roles")?
                        .into_iter()
                        .map(role_name)
                        .collect::<Result<Vec<_>>>()?;
                    narrow(holders(inv, &roles)?);
                }
                other => {
                    return Err(Error::command(
                        ErrorCode::Location40415,
                        format!("BSON field 'KillAllSessionsByPatternItem.{other}' is an unknown field."),
                    ))
                }
            }
        }
        Ok(pattern)
    }

    fn takes(&self, id: &[u8; 16], owner: &Owner) -> bool {
        let lsid = self.lsid.is_none_or(|(wanted, uid)| wanted == *id && uid.is_none_or(|uid| uid == owner.uid));
        lsid && self.uids.as_ref().is_none_or(|uids| uids.contains(&owner.uid))
    }
}

/// The `uid`s of the users who hold one of `roles` (directly or inherited).
fn holders(inv: &Invocation<'_>, roles: &[RoleName]) -> Result<Vec<[u8; 32]>> {
    let mut uids = Vec::new();
    for user in user_store::users(inv.context, None)? {
        let held = user_store::inherited_roles(inv.context, &user_store::role_names(&user));
        let (Ok(name), Ok(db)) = (user.get_str("user"), user.get_str("db")) else { continue };
        if held.iter().any(|r| roles.contains(r)) {
            uids.push(Owner::of(&[UserName { user: name.into(), db: db.into() }]).uid);
        }
    }
    Ok(uids)
}

/// The sessions `$listLocalSessions` and `$listSessions` (`stage`) list for `spec`:
/// the caller's with `{}`, every user's with `{allUsers: true}`, the named users'
/// with `{users: [{user, db}]}`.
pub fn listed(inv: &Invocation<'_>, spec: &Bson, stage: &str) -> Result<Vec<Document>> {
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch(format!("{stage} requires an object as its argument")));
    };
    let mut all_users = false;
    let mut users = None;
    for (field, value) in spec {
        match field.as_str() {
            "allUsers" => match value {
                Bson::Boolean(all) => all_users = *all,
                other => return Err(wrong_type("ListSessionsSpec.allUsers", other, "bool")),
            },
            "users" => {
                let named = array_of_documents(value, "ListSessionsSpec.users")?
                    .into_iter()
                    .map(|d| user_name(d, "ListSessionsUser"))
                    .collect::<Result<Vec<_>>>()?;
                users = Some(named);
            }
            other => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field 'ListSessionsSpec.{other}' is an unknown field."),
                ))
            }
        }
    }
    if all_users && users.as_ref().is_some_and(|u| !u.is_empty()) {
        return Err(Error::bad_value(format!("{stage}: allUsers and users may not both be given")));
    }
    let uids: Vec<[u8; 32]> = match &users {
        Some(users) if !all_users => users.iter().map(|u| Owner::of(std::slice::from_ref(u)).uid).collect(),
        _ => vec![owner(inv).uid],
    };
    Ok(match all_users {
        true => inv.context.sessions.list(&Pick::All),
        false => inv.context.sessions.list(&Pick::Uids(&uids)),
    })
}

/// `{user, db}`, both strings (MongoDB's IDL struct `what`).
fn user_name(doc: &Document, what: &str) -> Result<UserName> {
    let field = |name: &str| match doc.get(name) {
        Some(Bson::String(value)) => Ok(value.clone()),
        Some(other) => Err(wrong_type(&format!("{what}.{name}"), other, "string")),
        None => Err(Error::command(
            ErrorCode::Location40414,
            format!("BSON field '{what}.{name}' is missing but a required field"),
        )),
    };
    Ok(UserName { user: field("user")?, db: field("db")? })
}

/// `{role, db}`, both strings.
fn role_name(doc: &Document) -> Result<RoleName> {
    let field = |name: &str| match doc.get(name) {
        Some(Bson::String(value)) => Ok(value.clone()),
        _ => Err(Error::bad_value(format!("a role is {{role, db}}: '{name}' must be a string"))),
    };
    Ok(RoleName { role: field("role")?, db: field("db")? })
}

fn uid32(bytes: &[u8]) -> Result<[u8; 32]> {
    bytes.try_into().map_err(|_| Error::bad_value("a uid is the 32 bytes of a SHA-256 digest"))
}

fn array_of_documents<'a>(value: &'a Bson, field: &str) -> Result<Vec<&'a Document>> {
    let Bson::Array(items) = value else { return Err(wrong_type(field, value, "array")) };
    items.iter().map(|item| item.as_document().ok_or_else(|| wrong_type(field, item, "object"))).collect()
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        super::args::type_name(Some(value))
    ))
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
