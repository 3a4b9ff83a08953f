//! Where users and roles live: documents of `admin.system.users` and
//! `admin.system.roles` on `main`, in MongoDB's shapes, written through the WAL
//! like any other write. Other branches of `admin` are not read: users are not
//! branched. Clients cannot name `system.*` collections, so only the user and role
//! commands change them.

use std::sync::Arc;

use bson::{Bson, Document};

use crate::auth::privileges::{Actions, Grants, Privilege, Resource, RoleName};
use crate::auth::roles::{self, CustomRole};
use crate::auth::UserName;
use crate::context::Context;
use crate::error::Result;
use crate::namespace::DbRef;
use crate::store::Batch;

pub const USERS: &str = "system.users";
pub const ROLES: &str = "system.roles";

fn admin() -> DbRef {
    DbRef::parse("admin").expect("admin is a database name")
}

/// The document of `admin.<collection>` with `_id` `id`.
fn get(context: &Context, collection: &str, id: &str) -> Result<Option<Document>> {
    let view = context.store.view(&admin(), None)?;
    match view.collection(collection)? {
        Some(c) => view.get(c.id, &Bson::String(id.to_owned())),
        None => Ok(None),
    }
}

/// The documents of `admin.<collection>` whose `db` is `db` (every one for `None`),
/// in `_id` order.
fn all(context: &Context, collection: &str, db: Option<&str>) -> Result<Vec<Document>> {
    let view = context.store.view(&admin(), None)?;
    let Some(c) = view.collection(collection)? else { return Ok(Vec::new()) };
    let mut found = Vec::new();
    view.scan(c.id, None, |_, doc| {
        if db.is_none_or(|db| doc.get_str("db") == Ok(db)) {
            found.push(doc);
        }
        Ok(true)
    })?;
    Ok(found)
}

pub fn user(context: &Context, name: &UserName) -> Result<Option<Document>> {
    get(context, USERS, &name.id())
}

pub fn users(context: &Context, db: Option<&str>) -> Result<Vec<Document>> {
    all(context, USERS, db)
}

pub fn role(context: &Context, name: &RoleName) -> Result<Option<Document>> {
    get(context, ROLES, &format!("{}.{}", name.db, name.role))
}

pub fn roles(context: &Context, db: Option<&str>) -> Result<Vec<Document>> {
    all(context, ROLES, db)
}

/// Whether any user exists.
pub fn any_user(context: &Context) -> Result<bool> {
    any(context, USERS)
}

/// Whether any user or role exists: the localhost exception holds until one does.
pub fn any_user_or_role(context: &Context) -> Result<bool> {
    Ok(any(context, USERS)? || any(context, ROLES)?)
}

fn any(context: &Context, collection: &str) -> Result<bool> {
    let view = context.store.view(&admin(), None)?;
    let Some(c) = view.collection(collection)? else { return Ok(false) };
    let mut any = false;
    view.scan(c.id, None, |_, _| {
        any = true;
        Ok(false)
    })?;
    Ok(any)
}

/// Changes users or roles in one write to `admin`, then tells every connection.
pub fn change<T>(context: &Context, f: impl FnOnce(&mut Batch<'_>) -> Result<T>) -> Result<T> {
    let outcome = super::invocation::write_security(context, &admin(), f);
    context.security.changed(any_user_or_role(context)?);
    Ok(outcome?.0)
}

/// The `{role, db}` documents of a user or role document's `roles`.
pub fn role_names(doc: &Document) -> Vec<RoleName> {
    doc.get_array("roles")
        .map(|roles| {
            roles
                .iter()
                .filter_map(Bson::as_document)
                .filter_map(|r| {
                    Some(RoleName { role: r.get_str("role").ok()?.into(), db: r.get_str("db").ok()?.into() })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A role document's privileges.
pub fn privileges(doc: &Document) -> Vec<Privilege> {
    doc.get_array("privileges")
        .map(|list| {
            list.iter()
                .filter_map(Bson::as_document)
                .filter_map(|p| {
                    let resource = Resource::parse(p.get_document("resource").ok()?)?;
                    let actions = p.get_array("actions").ok()?.iter().filter_map(Bson::as_str);
                    let actions = actions.filter_map(crate::auth::privileges::Action::parse).collect::<Vec<_>>();
                    Some(Privilege { resource, actions: Actions::of(&actions) })
                })
                .collect()
        })
        .unwrap_or_default()
}

/// `roles` and every role they inherit, in name order.
pub fn inherited_roles(context: &Context, roles: &[RoleName]) -> Vec<RoleName> {
    let mut seen: Vec<RoleName> = Vec::new();
    let mut pending = roles.to_vec();
    while let Some(name) = pending.pop() {
        if seen.contains(&name) {
            continue;
        }
        if let Ok(Some(doc)) = role(context, &name) {
            pending.extend(role_names(&doc));
        }
        seen.push(name);
    }
    seen.sort();
    seen
}

/// What `roles` grant, with the roles defined in `admin.system.roles`.
pub fn grants_of(context: &Context, roles: &[RoleName]) -> Grants {
    let custom = |name: &RoleName| {
        let doc = role(context, name).ok().flatten()?;
        Some(CustomRole { privileges: privileges(&doc), roles: role_names(&doc) })
    };
    roles::resolve(roles, &custom)
}

/// The grants of a connection's users, resolved again if users or roles changed
/// since they last were.
pub fn connection_grants(context: &Context, connection: &crate::context::ConnectionInfo) -> Arc<Grants> {
    let generation = context.security.generation();
    if let Some(grants) = connection.auth().grants(generation) {
        return grants;
    }
    let users = connection.auth().users.clone();
    let mut roles = Vec::new();
    for name in &users {
        if let Ok(Some(doc)) = user(context, name) {
            roles.extend(role_names(&doc));
        }
    }
    let grants = Arc::new(grants_of(context, &roles));
    connection.auth().set_grants(generation, grants.clone());
    grants
}
