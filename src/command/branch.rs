//! The branch commands of SPEC §3: `createBranch`, `listBranches`, `branchInfo`,
//! `dropBranch` and `resolvePoint`. They run against any branch of a database and
//! act on that database's branches.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::{validate_branch_name, MAIN_BRANCH};
use crate::store::{Branch, Store};

pub fn create(inv: &Invocation<'_>) -> Result<Document> {
    let name = branch_name(inv.body, "createBranch")?;
    let from = match inv.body.get("from") {
        None | Some(Bson::Null) => MAIN_BRANCH,
        Some(Bson::String(from)) => from.as_str(),
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "'from' must be a branch name, not {}",
                args::type_name(Some(other))
            )))
        }
    };
    let store = &inv.context.store;
    let at = match inv.body.get("at") {
        None | Some(Bson::Null) => None,
        Some(point) => Some(resolve(store, point)?),
    };
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

/// `{name, parent, baseLsn, headLsn, createdAt}`.
fn describe(store: &Store, branch: &Branch) -> Document {
    let parent = branch
        .parent
        .and_then(|p| store.all_branches().into_iter().find(|b| b.id == p))
        .map_or(Bson::Null, |p| Bson::String(p.name));
    doc! {
        "name": &branch.name,
        "parent": parent,
        "baseLsn": branch.base_lsn.0 as i64,
        // A write applied but not yet acknowledged is not the head yet.
        "headLsn": branch.head_lsn.min(store.published().lsn).max(branch.base_lsn).0 as i64,
        "createdAt": branch.created_at,
    }
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
fn branch_name<'a>(body: &'a Document, command: &str) -> Result<&'a str> {
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
