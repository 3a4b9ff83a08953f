//! The branch commands of SPEC §3: `createBranch`, `listBranches`, `branchInfo`,
//! `dropBranch`, `resolvePoint`, and `updateBranch` of §3.1. They run against any
//! branch of a database and act on that database's branches. The rest of the
//! lifecycle: `branch_diff.rs`, `branch_merge.rs`, `branch_history.rs`.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::{validate_branch_name, DbRef, MAIN_BRANCH};
use crate::store::{Branch, Store};

pub fn create(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "createBranch")?;
    let from = args::optional_string(inv.body, "from", "a branch name")?.unwrap_or(MAIN_BRANCH);
    let store = &inv.context.store;
    let at = match inv.body.get("at") {
        None | Some(Bson::Null) => None,
        Some(point) => Some(resolve(store, point)?),
    };
    super::write_block::check(inv, &inv.db.db)?;
    let (branch, commit) = store.create_branch(&inv.db.db, name, from, at)?;
    let mut reply = doc! {
        "name": &branch.name,
        "parent": from,
        "baseLsn": branch.base_lsn.0 as i64,
        "createdAt": branch.created_at,
    };
    reply.insert("operationTime", commit.cluster_time());
    Ok(reply)
}

pub fn list(inv: &Invocation<'_>) -> Result<Document> {
    let store = &inv.context.store;
    let branches: Vec<Bson> = store.branches(&inv.db.db).iter().map(|b| Bson::Document(describe(store, b))).collect();
    Ok(doc! {"branches": branches})
}

pub fn info(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "branchInfo")?;
    let store = &inv.context.store;
    let branch = store.branch(&inv.db.db, name)?;
    Ok(describe(store, &branch))
}

pub fn drop(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "dropBranch")?;
    super::write_block::check(inv, &inv.db.db)?;
    let commit = inv.context.store.drop_branch(&inv.db.db, name)?;
    Ok(doc! {"operationTime": commit.cluster_time()})
}

pub fn resolve_point(inv: &Invocation<'_>) -> Result<Document> {
    let store = &inv.context.store;
    let point = inv.body.get("resolvePoint").unwrap_or(&Bson::Null);
    if !matches!(point, Bson::DateTime(_) | Bson::Timestamp(_)) {
        return Err(Error::type_mismatch(format!(
            "resolvePoint takes a Date or a Timestamp, not {}",
            args::type_name(Some(point))
        )));
    }
    match inv.body.get("branch") {
        None | Some(Bson::Null) => {}
        Some(Bson::String(branch)) => {
            if branch != MAIN_BRANCH {
                store.branch(&inv.db.db, branch)?;
            }
        }
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "'branch' must be a string, not {}",
                args::type_name(Some(other))
            )))
        }
    }
    let lsn = resolve(store, point)?;
    if lsn < store.horizon() {
        return Err(Error::command(
            ErrorCode::SnapshotTooOld,
            format!("that point is before the retained history, which begins at LSN {}", store.horizon()),
        ));
    }
    Ok(doc! {"lsn": lsn.0 as i64})
}

pub fn update(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "updateBranch")?;
    let flag = |field: &str| match inv.body.get(field) {
        None => Ok(None),
        Some(Bson::Boolean(b)) => Ok(Some(*b)),
        Some(other) => {
            Err(Error::type_mismatch(format!("'{field}' must be a boolean, not {}", args::type_name(Some(other)))))
        }
    };
    let protected = flag("protected")?;
    let read_only = flag("readOnly")?;
    let expire_at = match inv.body.get("expireAt") {
        None => None,
        Some(Bson::Null) => Some(None),
        Some(Bson::DateTime(at)) => Some(Some(*at)),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "'expireAt' must be a Date or null, not {}",
                args::type_name(Some(other))
            )))
        }
    };
    // Missing: unchanged; null: removed.
    let description = match inv.body.get("description") {
        None => None,
        Some(_) => Some(args::optional_string(inv.body, "description", "a string or null")?.map(str::to_owned)),
    };
    if protected.is_none() && read_only.is_none() && expire_at.is_none() && description.is_none() {
        return Err(Error::bad_value("updateBranch needs at least one of protected, readOnly, expireAt, description"));
    }
    super::write_block::check(inv, &inv.db.db)?;
    let (_, commit) = inv.context.store.update_branch(&inv.db.db, name, |branch, settings| {
        if matches!(expire_at, Some(Some(_))) && branch.name == MAIN_BRANCH {
            return Err(Error::command(
                ErrorCode::IllegalOperation,
                "branch 'main' cannot expire: it is never dropped",
            ));
        }
        settings.protected = protected.unwrap_or(settings.protected);
        settings.read_only = read_only.unwrap_or(settings.read_only);
        if let Some(at) = expire_at {
            settings.expire_at = at;
        }
        if let Some(text) = description {
            settings.description = text;
        }
        Ok(())
    })?;
    Ok(doc! {"operationTime": commit.cluster_time()})
}

/// `{name, parent, baseLsn, headLsn, createdAt, protected, readOnly, expireAt?,
/// description?}`.
fn describe(store: &Store, branch: &Branch) -> Document {
    let parent = branch.parent.and_then(|p| store.branch_by_id(p)).map_or(Bson::Null, |p| Bson::String(p.name));
    let mut described = doc! {
        "name": &branch.name,
        "parent": parent,
        "baseLsn": branch.base_lsn.0 as i64,
        // A write applied but not yet acknowledged is not the head yet.
        "headLsn": branch.head_lsn.min(store.published().lsn).max(branch.base_lsn).0 as i64,
        "createdAt": branch.created_at,
        "protected": branch.settings.protected,
        "readOnly": branch.settings.read_only,
    };
    if let Some(at) = branch.settings.expire_at {
        described.insert("expireAt", at);
    }
    if let Some(text) = &branch.settings.description {
        described.insert("description", text);
    }
    described
}

/// A `<ref>` of the addressed database (SPEC §3.1): `feature-x` (a head),
/// `main~1200`, `feature-x~2026-11-21T10:00:00Z`, given in `field`.
pub(super) fn state_ref(inv: &Invocation<'_>, field: &str) -> Result<DbRef> {
    let text = match inv.body.get(field) {
        Some(Bson::String(text)) => text.as_str(),
        other => {
            return Err(Error::type_mismatch(format!(
                "'{field}' must be a branch name, optionally with ~<point>, not {}",
                args::type_name(other)
            )))
        }
    };
    if text.contains('@') {
        return Err(Error::command(
            ErrorCode::InvalidNamespace,
            format!("'{text}' names another database; a {field} names a state of database '{}'", inv.db.db),
        ));
    }
    DbRef::parse(&format!("{}@{text}", inv.db.db))
}

/// A point given as an LSN (a whole number), a Date or a Timestamp.
fn resolve(store: &Store, point: &Bson) -> Result<Lsn> {
    match point {
        Bson::Int64(n) if *n >= 0 => Ok(Lsn(*n as u64)),
        Bson::Int32(n) if *n >= 0 => Ok(Lsn(*n as u64)),
        Bson::DateTime(time) => store.resolve_time(*time),
        Bson::Timestamp(ts) => store.resolve_cluster_time(*ts),
        other => Err(Error::bad_value(format!(
            "a point is an LSN (a non-negative integer), a Date or a Timestamp, not {other}"
        ))),
    }
}

/// The branch name a command carries as its first field, checked.
pub(super) fn branch_name<'a>(body: &'a Document, command: &str) -> Result<&'a str> {
    let name = match body.get(command) {
        Some(Bson::String(name)) => name.as_str(),
        other => {
            return Err(Error::type_mismatch(format!("{command} takes a branch name, not {}", args::type_name(other))))
        }
    };
    validate_branch_name(name)
        .map_err(|why| Error::command(ErrorCode::InvalidNamespace, format!("invalid branch name '{name}': {why}")))?;
    Ok(name)
}
