//! Role commands (`createRole`, `updateRole`, `dropRole`,
//! `dropAllRolesFromDatabase`, `rolesInfo`, `grantPrivilegesToRole`,
//! `revokePrivilegesFromRole`, `grantRolesToRole`, `revokeRolesFromRole`,
//! `invalidateUserCache`), as MongoDB has them. A role belongs to a database and
//! is stored in `admin.system.roles`; its privileges name resources with branch
//! patterns (`{db: "shop@feature-*", collection: ""}`), and it may inherit roles.

use bson::{doc, Bson, Document};

use super::authorize::require;
use super::users::{check_roles_exist, database, may_grant, role_list};
use super::{args, user_store, Invocation};
use crate::auth::privileges::{Action, Actions, Grants, Privilege, Resource, RoleName};
use crate::auth::roles::{self, BUILTIN};
use crate::error::{Error, ErrorCode, Result};
use crate::store::PutKind;

/// The role a command names in its first field, in the command's database.
fn named_role(inv: &Invocation<'_>, command: &str) -> Result<RoleName> {
    match inv.body.get(command) {
        Some(Bson::String(role)) if !role.is_empty() => Ok(RoleName { role: role.clone(), db: inv.db.db.clone() }),
        other => Err(Error::bad_value(format!("{command} needs a role name, not {}", args::type_name(other)))),
    }
}

/// The `privileges` argument, checked: known resources and actions.
fn privilege_list(value: Option<&Bson>) -> Result<Vec<Privilege>> {
    let Some(Bson::Array(items)) = value else {
        return Err(Error::bad_value("'privileges' must be an array of {resource, actions}"));
    };
    items
        .iter()
        .map(|item| {
            let Bson::Document(p) = item else { return Err(Error::bad_value("each privilege is {resource, actions}")) };
            let resource = p.get_document("resource").ok().and_then(Resource::parse).ok_or_else(|| {
                Error::bad_value("a privilege's resource is {db, collection}, {cluster: true} or {anyResource: true}")
            })?;
            let names = p.get_array("actions").map_err(|_| Error::bad_value("a privilege's actions are an array"))?;
            let actions = names
                .iter()
                .map(|n| {
                    n.as_str()
                        .and_then(Action::parse)
                        .ok_or_else(|| Error::bad_value(format!("Unrecognized action privilege string: {n}")))
                })
                .collect::<Result<Vec<_>>>()?;
            Ok(Privilege { resource, actions: Actions::of(&actions) })
        })
        .collect()
}

fn role_document(name: &RoleName, privileges: &[Privilege], roles: &[RoleName]) -> Document {
    doc! {
        "_id": format!("{}.{}", name.db, name.role),
        "role": &name.role,
        "db": &name.db,
        "privileges": privileges.iter().map(|p| Bson::Document(p.to_document())).collect::<Vec<_>>(),
        "roles": roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>(),
    }
}

fn save(inv: &Invocation<'_>, role: Document, kind: PutKind) -> Result<()> {
    user_store::change(inv.context, |batch| {
        let c = batch.collection_or_create(user_store::ROLES)?;
        batch.put(&c, kind, role)
    })
}

fn role_or_not_found(inv: &Invocation<'_>, name: &RoleName) -> Result<Document> {
    user_store::role(inv.context, name)?
        .ok_or_else(|| Error::command(ErrorCode::RoleNotFound, format!("Could not find role: {name}")))
}

/// A role a command changes: one defined with `createRole` (a built-in role cannot
/// change: 49 `InvalidRoleModification`, with `what` the change).
fn changeable_role(inv: &Invocation<'_>, name: &RoleName, what: &str) -> Result<Document> {
    if roles::is_builtin(&name.role, &name.db) {
        return Err(Error::command(ErrorCode::InvalidRoleModification, format!("Cannot {what} built-in role: {name}")));
    }
    role_or_not_found(inv, name)
}

pub fn create_role(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_role(inv, "createRole")?;
    if BUILTIN.contains(&name.role.as_str()) {
        return Err(Error::bad_value(format!("Cannot create roles with the same name as a built-in role: {name}")));
    }
    let privileges = privilege_list(inv.body.get("privileges"))?;
    let inherited = role_list(inv.body.get("roles"), "roles", &name.db)?;
    check_roles_exist(inv.context, &inherited)?;
    if user_store::role(inv.context, &name)?.is_some() {
        return Err(Error::command(ErrorCode::Location51002, format!("Role \"{name}\" already exists")));
    }
    save(inv, role_document(&name, &privileges, &inherited), PutKind::Insert)?;
    Ok(Document::new())
}

/// Who may create or change a role: `createRole` (and `dropRole` to change one)
/// on its database, `grantRole` for the roles it inherits.
pub fn authorize_create(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let mut actions = vec![Action::CreateRole];
    if inv.body.contains_key("updateRole") {
        actions.push(Action::DropRole);
    }
    require(inv, grants, &database(inv), Actions::of(&actions))?;
    let inherited = role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default();
    may_grant(inv, grants, &inherited, Action::GrantRole)
}

pub fn update_role(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_role(inv, "updateRole")?;
    let current = role_or_not_found(inv, &name)?;
    let privileges = match inv.body.get("privileges") {
        Some(value) => privilege_list(Some(value))?,
        None => user_store::privileges(&current),
    };
    let inherited = match inv.body.get("roles") {
        Some(value) => role_list(Some(value), "roles", &name.db)?,
        None => user_store::role_names(&current),
    };
    check_roles_exist(inv.context, &inherited)?;
    save(inv, role_document(&name, &privileges, &inherited), PutKind::Replace)?;
    Ok(Document::new())
}

pub fn grant_privileges(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_role(inv, "grantPrivilegesToRole")?;
    let current = role_or_not_found(inv, &name)?;
    let mut privileges = user_store::privileges(&current);
    for added in privilege_list(inv.body.get("privileges"))? {
        match privileges.iter_mut().find(|p| p.resource == added.resource) {
            Some(existing) => existing.actions = existing.actions.with(added.actions),
            None => privileges.push(added),
        }
    }
    save(inv, role_document(&name, &privileges, &user_store::role_names(&current)), PutKind::Replace)?;
    Ok(Document::new())
}

/// `revokePrivilegesFromRole`: each listed action leaves the privilege on the same
/// resource; a privilege left with no action goes.
pub fn revoke_privileges(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_role(inv, "revokePrivilegesFromRole")?;
    let revoked = privilege_list(inv.body.get("privileges"))?;
    let current = changeable_role(inv, &name, "remove privileges from")?;
    let mut privileges = user_store::privileges(&current);
    for removed in &revoked {
        if let Some(existing) = privileges.iter_mut().find(|p| p.resource == removed.resource) {
            existing.actions = existing.actions.without(removed.actions);
        }
    }
    privileges.retain(|p| !p.actions.is_empty());
    save(inv, role_document(&name, &privileges, &user_store::role_names(&current)), PutKind::Replace)?;
    Ok(Document::new())
}

/// `grantRolesToRole` and `revokeRolesFromRole`: the role inherits the listed roles,
/// or no longer does. A grant may not make the role inherit itself, directly or
/// through others (49).
pub fn grant_roles(inv: &Invocation<'_>) -> Result<Document> {
    change_inherited(inv, "grantRolesToRole", true)
}

pub fn revoke_roles(inv: &Invocation<'_>) -> Result<Document> {
    change_inherited(inv, "revokeRolesFromRole", false)
}

fn change_inherited(inv: &Invocation<'_>, command: &str, grant: bool) -> Result<Document> {
    let name = named_role(inv, command)?;
    let changed = role_list(inv.body.get("roles"), "roles", &name.db)?;
    let what = if grant { "grant roles to" } else { "remove roles from" };
    let current = changeable_role(inv, &name, what)?;
    let mut inherited = user_store::role_names(&current);
    if grant {
        check_roles_exist(inv.context, &changed)?;
        for role in &changed {
            if *role == name {
                return Err(Error::command(
                    ErrorCode::InvalidRoleModification,
                    format!("Cannot grant role {name} to itself."),
                ));
            }
            if user_store::inherited_roles(inv.context, std::slice::from_ref(role)).contains(&name) {
                return Err(Error::command(
                    ErrorCode::InvalidRoleModification,
                    format!("Granting {role} to {name} would introduce a cycle in the role graph."),
                ));
            }
        }
        inherited.extend(changed.into_iter().filter(|r| !inherited.contains(r)).collect::<Vec<_>>());
    } else {
        inherited.retain(|r| !changed.contains(r));
    }
    save(inv, role_document(&name, &user_store::privileges(&current), &inherited), PutKind::Replace)?;
    Ok(Document::new())
}

/// Who may change the roles a role inherits: `grantRole` (or `revokeRole`) on the
/// database of each role granted (or revoked).
pub fn authorize_change_inherited(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let action = if inv.body.contains_key("grantRolesToRole") { Action::GrantRole } else { Action::RevokeRole };
    let changed = role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default();
    may_grant(inv, grants, &changed, action)
}

/// Who may revoke privileges from a role: `revokeRole` on its database.
pub fn authorize_revoke(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    require(inv, grants, &database(inv), Actions::of(&[Action::RevokeRole]))
}

/// `dropAllRolesFromDatabase`: every role defined on the database goes, and every
/// grant of them; `n` counts them.
pub fn drop_all_roles(inv: &Invocation<'_>) -> Result<Document> {
    let db = inv.db.db.clone();
    let dropped: Vec<RoleName> = user_store::roles(inv.context, Some(&db))?
        .iter()
        .filter_map(|r| Some(RoleName { role: r.get_str("role").ok()?.into(), db: r.get_str("db").ok()?.into() }))
        .collect();
    forget_roles(inv, &dropped)?;
    Ok(doc! {"n": dropped.len() as i32})
}

/// `invalidateUserCache`: every connection resolves its users' grants again.
pub fn invalidate_user_cache(inv: &Invocation<'_>) -> Result<Document> {
    inv.context.security.changed(user_store::any_user_or_role(inv.context)?);
    Ok(Document::new())
}

/// Who may grant privileges to a role: `grantRole` on its database.
pub fn authorize_grant(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    require(inv, grants, &database(inv), Actions::of(&[Action::GrantRole]))
}

/// `dropRole`: the role goes, and so does every user's and role's grant of it.
pub fn drop_role(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_role(inv, "dropRole")?;
    role_or_not_found(inv, &name)?;
    forget_roles(inv, std::slice::from_ref(&name))?;
    Ok(Document::new())
}

/// Deletes the roles `dropped` and takes them out of every user and role that
/// holds them, in one write.
fn forget_roles(inv: &Invocation<'_>, dropped: &[RoleName]) -> Result<()> {
    if dropped.is_empty() {
        return Ok(());
    }
    let holders: Vec<(&str, Document)> = user_store::users(inv.context, None)?
        .into_iter()
        .map(|u| (user_store::USERS, u))
        .chain(user_store::roles(inv.context, None)?.into_iter().map(|r| (user_store::ROLES, r)))
        .filter(|(_, d)| user_store::role_names(d).iter().any(|r| dropped.contains(r)))
        .collect();
    user_store::change(inv.context, |batch| {
        let roles = batch.collection_or_create(user_store::ROLES)?;
        for name in dropped {
            batch.delete(&roles, &Bson::String(format!("{}.{}", name.db, name.role)))?;
        }
        for (collection, mut holder) in holders {
            let id = holder.get("_id").cloned();
            if collection == user_store::ROLES
                && dropped.iter().any(|name| id == Some(Bson::String(format!("{}.{}", name.db, name.role))))
            {
                continue;
            }
            let kept: Vec<Bson> = user_store::role_names(&holder)
                .into_iter()
                .filter(|r| !dropped.contains(r))
                .map(|r| Bson::Document(r.to_document()))
                .collect();
            holder.insert("roles", kept);
            let c = batch.collection_or_create(collection)?;
            batch.put(&c, PutKind::Replace, holder)?;
        }
        Ok(())
    })
}

/// `rolesInfo`: `1` (the database's roles, the built-in ones too with
/// `showBuiltinRoles`), a name, `{role, db}`, or a list of those; privileges with
/// `showPrivileges`.
pub fn roles_info(inv: &Invocation<'_>) -> Result<Document> {
    let db = &inv.db.db;
    let show_privileges = crate::value::truthy(inv.body.get("showPrivileges"));
    let names: Vec<RoleName> = match inv.body.get("rolesInfo") {
        Some(n) if crate::index::whole_number(n) == Some(1) => {
            let mut names: Vec<RoleName> = Vec::new();
            if args::boolean(inv.body, "showBuiltinRoles", false)? {
                names.extend(
                    BUILTIN
                        .iter()
                        .filter(|r| roles::is_builtin(r, db))
                        .map(|r| RoleName { role: (*r).into(), db: db.clone() }),
                );
            }
            names.extend(user_store::roles(inv.context, Some(db))?.iter().filter_map(|r| {
                Some(RoleName { role: r.get_str("role").ok()?.into(), db: r.get_str("db").ok()?.into() })
            }));
            names
        }
        Some(value @ (Bson::String(_) | Bson::Document(_))) => {
            role_list(Some(&Bson::Array(vec![value.clone()])), "rolesInfo", db)?
        }
        Some(value @ Bson::Array(_)) => role_list(Some(value), "rolesInfo", db)?,
        _ => return Err(Error::bad_value("rolesInfo takes 1, a role, or a list of roles")),
    };
    let mut described = Vec::new();
    for name in names {
        let builtin = roles::is_builtin(&name.role, &name.db);
        let (privileges, inherited) = match builtin {
            true => (roles::builtin(&name.role, &name.db).unwrap_or_default(), Vec::new()),
            false => match user_store::role(inv.context, &name)? {
                Some(doc) => (user_store::privileges(&doc), user_store::role_names(&doc)),
                None => continue,
            },
        };
        let mut role = doc! {
            "role": &name.role,
            "db": &name.db,
            "isBuiltin": builtin,
            "roles": inherited.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>(),
            "inheritedRoles": inherited.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>(),
        };
        if show_privileges {
            let all = user_store::grants_of(inv.context, std::slice::from_ref(&name));
            role.insert("privileges", privileges.iter().map(|p| Bson::Document(p.to_document())).collect::<Vec<_>>());
            role.insert(
                "inheritedPrivileges",
                all.privileges.iter().map(|p| Bson::Document(p.to_document())).collect::<Vec<_>>(),
            );
        }
        described.push(Bson::Document(role));
    }
    Ok(doc! {"roles": described})
}

/// Who may see roles: `viewRole` on the database.
pub fn authorize_info(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    require(inv, grants, &database(inv), Actions::of(&[Action::ViewRole]))
}
