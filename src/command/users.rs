//! User commands (`createUser`, `updateUser`, `dropUser`,
//! `dropAllUsersFromDatabase`, `usersInfo`, `grantRolesToUser`,
//! `revokeRolesFromUser`), as MongoDB has them. A user belongs to a database (the
//! database part of `$db`: users are not branched) and is stored in
//! `admin.system.users` with SCRAM credentials (`user_store.rs`). Granting a role
//! needs `grantRole` on the role's database, so no one grants more than they hold.

use bson::{doc, Bson, Document};

use super::authorize::require;
use super::{args, user_store, Invocation};
use crate::auth::privileges::{Action, Actions, Grants, RoleName, Target};
use crate::auth::roles;
use crate::auth::scram::{Credential, Mechanism};
use crate::auth::UserName;
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::store::PutKind;

/// The user a command names in its first field, in the command's database.
fn named_user(inv: &Invocation<'_>, command: &str) -> Result<UserName> {
    match inv.body.get(command) {
        Some(Bson::String(user)) if !user.is_empty() => Ok(UserName { user: user.clone(), db: inv.db.db.clone() }),
        other => Err(Error::bad_value(format!(
            "{command} needs a user name (a non-empty string), not {}",
            args::type_name(other)
        ))),
    }
}

/// The roles of a `roles` argument: names of roles in `db`, or `{role, db}`.
pub(super) fn role_list(value: Option<&Bson>, field: &str, db: &str) -> Result<Vec<RoleName>> {
    let Some(Bson::Array(items)) = value else {
        return Err(Error::bad_value(format!("'{field}' must be an array of roles")));
    };
    items
        .iter()
        .map(|item| match item {
            Bson::String(role) => Ok(RoleName { role: role.clone(), db: db.to_owned() }),
            Bson::Document(d) => match (d.get_str("role"), d.get_str("db")) {
                (Ok(role), Ok(db)) => Ok(RoleName { role: role.to_owned(), db: db.to_owned() }),
                _ => Err(Error::bad_value(format!("each of '{field}' must be a role name or {{role, db}}"))),
            },
            other => {
                Err(Error::bad_value(format!("each of '{field}' must be a role name or {{role, db}}, not {other}")))
            }
        })
        .collect()
}

/// Fails with 31 unless every role exists (built in, or created).
pub(super) fn check_roles_exist(context: &Context, roles: &[RoleName]) -> Result<()> {
    for role in roles {
        if !roles::is_builtin(&role.role, role.db.split('@').next().unwrap_or_default())
            && user_store::role(context, role)?.is_none()
        {
            return Err(Error::command(ErrorCode::RoleNotFound, format!("Could not find role: {role}")));
        }
    }
    Ok(())
}

/// `grantRole` (or `revokeRole`) on the database of every role in `roles`.
pub(super) fn may_grant(inv: &Invocation<'_>, grants: &Grants, roles: &[RoleName], action: Action) -> Result<()> {
    for role in roles {
        let db = role.db.split('@').next().unwrap_or_default();
        let target = Target::Collection { db, branch: crate::namespace::MAIN_BRANCH, collection: None };
        require(inv, grants, &target, Actions::of(&[action]))?;
    }
    Ok(())
}

/// The credentials for `password` under `mechanisms` (both by default).
fn credentials(user: &str, password: &str, mechanisms: &[Mechanism]) -> Result<Document> {
    let mut credentials = Document::new();
    for mechanism in mechanisms {
        let credential = Credential::new(*mechanism, user, password).map_err(|e| Error::bad_value(e.to_string()))?;
        credentials.insert(mechanism.name(), credential.to_document());
    }
    Ok(credentials)
}

fn mechanisms(body: &Document) -> Result<Vec<Mechanism>> {
    match body.get("mechanisms") {
        None => Ok(Mechanism::ALL.to_vec()),
        Some(Bson::Array(names)) if !names.is_empty() => names
            .iter()
            .map(|n| {
                n.as_str().and_then(Mechanism::parse).ok_or_else(|| {
                    Error::bad_value(format!(
                        "Unknown auth mechanism '{n}'; SCRAM-SHA-1 and SCRAM-SHA-256 are supported"
                    ))
                })
            })
            .collect(),
        Some(_) => Err(Error::bad_value("mechanisms field must be a non-empty array of mechanism names")),
    }
}

fn password(body: &Document) -> Result<Option<&str>> {
    if body.get("digestPassword").is_some_and(|d| !crate::value::truthy(Some(d))) {
        return Err(Error::bad_value("digestPassword: false (a password the client digested) is not supported"));
    }
    match body.get("pwd") {
        None => Ok(None),
        Some(Bson::String(pwd)) if !pwd.is_empty() => Ok(Some(pwd)),
        Some(_) => Err(Error::bad_value("pwd must be a non-empty string")),
    }
}

/// The user document MongoDB stores.
fn user_document(name: &UserName, credentials: Document, roles: &[RoleName], custom: Option<&Bson>) -> Document {
    let mut user = doc! {
        "_id": name.id(),
        "userId": bson::Binary::from_uuid(bson::Uuid::new()),
        "user": &name.user,
        "db": &name.db,
        "credentials": credentials,
        "roles": roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>(),
    };
    if let Some(custom) = custom {
        user.insert("customData", custom.clone());
    }
    user
}

/// Writes a user document (replacing the one before).
fn save(context: &Context, user: Document, kind: PutKind) -> Result<()> {
    user_store::change(context, |batch| {
        let c = batch.collection_or_create(user_store::USERS)?;
        batch.put(&c, kind, user)
    })
}

fn user_or_not_found(context: &Context, name: &UserName) -> Result<Document> {
    user_store::user(context, name)?.ok_or_else(|| {
        Error::command(ErrorCode::UserNotFound, format!("Could not find user \"{}\" for db \"{}\"", name.user, name.db))
    })
}

/// Readies access control at startup: creates `root`'s user in `admin` when
/// given one (the Docker image's `BRANCHDB_ROOT_USERNAME` and
/// `BRANCHDB_ROOT_PASSWORD`) and no user exists yet, and notes whether users exist.
pub fn start_security(context: &Context, root: Option<(&str, &str)>) -> Result<()> {
    let exists = user_store::any_user(context)?;
    match root {
        Some((user, _)) if exists => {
            tracing::info!(user, "users exist: BRANCHDB_ROOT_USERNAME and BRANCHDB_ROOT_PASSWORD are not used");
        }
        Some((user, password)) => {
            let name = UserName { user: user.to_owned(), db: "admin".to_owned() };
            let root = RoleName { role: "root".into(), db: "admin".into() };
            let credentials = credentials(user, password, &Mechanism::ALL)?;
            save(context, user_document(&name, credentials, &[root], None), PutKind::Insert)?;
            tracing::info!(user, "created the root user in admin");
        }
        None => {}
    }
    context.security.changed(user_store::any_user_or_role(context)?);
    Ok(())
}

/// A read replica's users and roles are its writer's, which change under it:
/// compares them with `seen`, what it saw last, and when they differ, every
/// connection resolves its grants again and the localhost exception follows
/// whether any exist. Returns what it sees now.
pub fn follow_security(context: &Context, seen: Option<Vec<Document>>) -> Result<Vec<Document>> {
    let mut now = user_store::users(context, None)?;
    now.extend(user_store::roles(context, None)?);
    if seen.as_ref() != Some(&now) {
        context.security.changed(!now.is_empty());
    }
    Ok(now)
}

pub fn create_user(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_user(inv, "createUser")?;
    let external = name.db == crate::namespace::EXTERNAL;
    let password = match (password(inv.body)?, external) {
        (Some(_), true) => return Err(Error::bad_value("Cannot set the password of a user in $external")),
        (None, false) => return Err(Error::bad_value(
            "Must provide a 'pwd' field for all user documents, except those with '$external' as the user's source db",
        )),
        (password, _) => password,
    };
    let roles = role_list(inv.body.get("roles"), "roles", &name.db)?;
    check_roles_exist(inv.context, &roles)?;
    let custom = inv.body.get("customData");
    if custom.is_some_and(|c| !matches!(c, Bson::Document(_))) {
        return Err(Error::bad_value("customData must be an object"));
    }
    if user_store::user(inv.context, &name)?.is_some() {
        return Err(Error::command(ErrorCode::Location51003, format!("User \"{name}\" already exists")));
    }
    let credentials = match password {
        Some(password) => credentials(&name.user, password, &mechanisms(inv.body)?)?,
        None => doc! {"external": true},
    };
    save(inv.context, user_document(&name, credentials, &roles, custom), PutKind::Insert)?;
    Ok(Document::new())
}

/// Who may create a user: `createUser` on its database, `grantRole` for its roles.
pub fn authorize_create(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    require(inv, grants, &database(inv), Actions::of(&[Action::CreateUser]))?;
    may_grant(
        inv,
        grants,
        &role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default(),
        Action::GrantRole,
    )
}

/// The command's database as a whole (its `main`: users are not branched).
pub(super) fn database<'a>(inv: &'a Invocation<'_>) -> Target<'a> {
    Target::Collection { db: &inv.db.db, branch: crate::namespace::MAIN_BRANCH, collection: None }
}

pub fn update_user(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_user(inv, "updateUser")?;
    let mut user = user_or_not_found(inv.context, &name)?;
    let mechanisms = match inv.body.contains_key("mechanisms") {
        true => mechanisms(inv.body)?,
        false => Mechanism::ALL
            .into_iter()
            .filter(|m| user.get_document("credentials").is_ok_and(|c| c.contains_key(m.name())))
            .collect(),
    };
    match password(inv.body)? {
        Some(password) => {
            user.insert("credentials", credentials(&name.user, password, &mechanisms)?);
        }
        None if inv.body.contains_key("mechanisms") => {
            // Without a new password, only fewer mechanisms can be asked for.
            let credentials = user.get_document("credentials").cloned().unwrap_or_default();
            if mechanisms.iter().any(|m| !credentials.contains_key(m.name())) {
                return Err(Error::bad_value("mechanisms field must be a subset of previously set mechanisms"));
            }
            let kept: Document =
                credentials.into_iter().filter(|(k, _)| mechanisms.iter().any(|m| m.name() == k)).collect();
            user.insert("credentials", kept);
        }
        None => {}
    }
    if inv.body.contains_key("roles") {
        let roles = role_list(inv.body.get("roles"), "roles", &name.db)?;
        check_roles_exist(inv.context, &roles)?;
        user.insert("roles", roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>());
    }
    match inv.body.get("customData") {
        None => {}
        Some(Bson::Document(custom)) => {
            user.insert("customData", custom.clone());
        }
        Some(_) => return Err(Error::bad_value("customData must be an object")),
    }
    save(inv.context, user, PutKind::Replace)?;
    Ok(Document::new())
}

/// Who may update a user: `changePassword`, `changeCustomData`, and `grantRole`
/// and `revokeRole` for a new list of roles; as MongoDB, a user granted
/// `changeOwnPassword` or `changeOwnCustomData` (in no built-in role) may change
/// their own.
pub fn authorize_update(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let target = database(inv);
    let own = named_user(inv, "updateUser").is_ok_and(|n| inv.connection.auth().users.contains(&n));
    for (field, any, theirs) in [
        ("pwd", Action::ChangePassword, Action::ChangeOwnPassword),
        ("customData", Action::ChangeCustomData, Action::ChangeOwnCustomData),
    ] {
        if !inv.body.contains_key(field) {
            continue;
        }
        if !(own && grants.allow(&target, Actions::of(&[theirs]))) {
            require(inv, grants, &target, Actions::of(&[any]))?;
        }
    }
    if inv.body.contains_key("roles") {
        let roles = role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default();
        require(inv, grants, &target, Actions::of(&[Action::RevokeRole]))?;
        may_grant(inv, grants, &roles, Action::GrantRole)?;
    }
    Ok(())
}

pub fn drop_user(inv: &Invocation<'_>) -> Result<Document> {
    let name = named_user(inv, "dropUser")?;
    user_or_not_found(inv.context, &name)?;
    user_store::change(inv.context, |batch| {
        let c = batch.collection_or_create(user_store::USERS)?;
        batch.delete(&c, &Bson::String(name.id()))
    })?;
    Ok(Document::new())
}

pub fn drop_all_users(inv: &Invocation<'_>) -> Result<Document> {
    let users = user_store::users(inv.context, Some(&inv.db.db))?;
    let n = users.len();
    user_store::change(inv.context, |batch| {
        let c = batch.collection_or_create(user_store::USERS)?;
        users.iter().filter_map(|u| u.get("_id")).try_for_each(|id| batch.delete(&c, id))
    })?;
    Ok(doc! {"n": i32::try_from(n).unwrap_or(i32::MAX)})
}

/// `grantRolesToUser` and `revokeRolesFromUser`.
pub fn grant_roles(inv: &Invocation<'_>) -> Result<Document> {
    change_roles(inv, "grantRolesToUser", true)
}

pub fn revoke_roles(inv: &Invocation<'_>) -> Result<Document> {
    change_roles(inv, "revokeRolesFromUser", false)
}

fn change_roles(inv: &Invocation<'_>, command: &str, grant: bool) -> Result<Document> {
    let name = named_user(inv, command)?;
    let changed = role_list(inv.body.get("roles"), "roles", &name.db)?;
    if grant {
        check_roles_exist(inv.context, &changed)?;
    }
    let mut user = user_or_not_found(inv.context, &name)?;
    let mut roles = user_store::role_names(&user);
    if grant {
        roles.extend(changed.into_iter().filter(|r| !roles.contains(r)).collect::<Vec<_>>());
    } else {
        roles.retain(|r| !changed.contains(r));
    }
    user.insert("roles", roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>());
    save(inv.context, user, PutKind::Replace)?;
    Ok(Document::new())
}

pub fn authorize_grant(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    may_grant(
        inv,
        grants,
        &role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default(),
        Action::GrantRole,
    )
}

pub fn authorize_revoke(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    may_grant(
        inv,
        grants,
        &role_list(inv.body.get("roles"), "roles", &inv.db.db).unwrap_or_default(),
        Action::RevokeRole,
    )
}

/// `usersInfo`: `1` (the database's users), a name, `{user, db}`, a list of
/// those, or `{forAllDBs: true}`; credentials only with `showCredentials`.
pub fn users_info(inv: &Invocation<'_>) -> Result<Document> {
    let show_credentials = args::boolean(inv.body, "showCredentials", false)?;
    let show_privileges = args::boolean(inv.body, "showPrivileges", false)?;
    let found = match wanted_users(inv)? {
        None => user_store::users(inv.context, Some(&inv.db.db))?,
        Some(names) if names.is_empty() => user_store::users(inv.context, None)?,
        Some(names) => {
            let mut found = Vec::new();
            for name in names {
                found.extend(user_store::user(inv.context, &name)?);
            }
            found
        }
    };
    let users: Vec<Bson> = found
        .into_iter()
        .map(|mut user| {
            let mechanisms: Vec<Bson> = user
                .get_document("credentials")
                .map(|c| c.keys().map(|k| Bson::String(k.clone())).collect())
                .unwrap_or_default();
            if !show_credentials {
                user.remove("credentials");
            }
            user.insert("mechanisms", mechanisms);
            if show_privileges {
                let roles = user_store::role_names(&user);
                let inherited = user_store::inherited_roles(inv.context, &roles);
                let grants = user_store::grants_of(inv.context, &roles);
                let documents =
                    |roles: &[RoleName]| roles.iter().map(|r| Bson::Document(r.to_document())).collect::<Vec<_>>();
                user.insert("inheritedRoles", documents(&inherited));
                let privileges: Vec<Bson> = grants.privileges.iter().map(|p| Bson::Document(p.to_document())).collect();
                user.insert("inheritedPrivileges", privileges);
            }
            Bson::Document(user)
        })
        .collect();
    Ok(doc! {"users": users})
}

/// The users `usersInfo` asks for: `None` for the database's, an empty list for
/// every database's.
fn wanted_users(inv: &Invocation<'_>) -> Result<Option<Vec<UserName>>> {
    let db = &inv.db.db;
    let one = |value: &Bson| match value {
        Bson::String(user) => Ok(UserName { user: user.clone(), db: db.clone() }),
        Bson::Document(d) => match (d.get_str("user"), d.get_str("db")) {
            (Ok(user), Ok(db)) => Ok(UserName { user: user.into(), db: db.into() }),
            _ => Err(Error::bad_value("a user is a name or {user, db}")),
        },
        _ => Err(Error::bad_value("a user is a name or {user, db}")),
    };
    match inv.body.get("usersInfo") {
        Some(Bson::Document(d)) if d.get_bool("forAllDBs") == Ok(true) => Ok(Some(Vec::new())),
        Some(Bson::Array(items)) => items.iter().map(one).collect::<Result<Vec<_>>>().map(Some),
        Some(value @ (Bson::String(_) | Bson::Document(_))) => Ok(Some(vec![one(value)?])),
        Some(n) if crate::index::whole_number(n) == Some(1) => Ok(None),
        _ => Err(Error::bad_value("usersInfo takes 1, a user, a list of users or {forAllDBs: true}")),
    }
}

/// Who may see users: `viewUser` on each one's database; a user may see
/// themselves.
pub fn authorize_info(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let own = inv.connection.auth().users.clone();
    match wanted_users(inv) {
        Ok(Some(names)) if names.is_empty() => require(inv, grants, &on_any(), Actions::of(&[Action::ViewUser])),
        Ok(Some(names)) => names.iter().filter(|n| !own.contains(n)).try_for_each(|n| {
            let target = Target::Collection { db: &n.db, branch: crate::namespace::MAIN_BRANCH, collection: None };
            require(inv, grants, &target, Actions::of(&[Action::ViewUser]))
        }),
        _ => require(inv, grants, &database(inv), Actions::of(&[Action::ViewUser])),
    }
}

/// Every database's users, for `forAllDBs`: they are `admin`'s to see, as every
/// user is stored there.
fn on_any() -> Target<'static> {
    Target::Collection { db: "admin", branch: crate::namespace::MAIN_BRANCH, collection: None }
}
