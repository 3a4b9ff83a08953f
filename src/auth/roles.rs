//! Roles: MongoDB's built-in ones, and the resolution of a user's roles (built-in
//! or defined with `createRole`, which may inherit others) into grants.

use std::collections::HashSet;

use super::privileges::{Action, Actions, Databases, Grants, Privilege, Resource, RoleName};

/// The built-in roles branchdb has, as `rolesInfo` lists them.
pub const BUILTIN: &[&str] = &[
    "read",
    "readWrite",
    "dbAdmin",
    "dbOwner",
    "userAdmin",
    "readAnyDatabase",
    "readWriteAnyDatabase",
    "userAdminAnyDatabase",
    "clusterMonitor",
    "root",
];

/// The built-in roles that exist only in `admin`.
const ADMIN_ONLY: &[&str] =
    &["readAnyDatabase", "readWriteAnyDatabase", "userAdminAnyDatabase", "clusterMonitor", "root"];

const READ: &[Action] = &[
    Action::Find,
    Action::ListCollections,
    Action::ListIndexes,
    Action::CollStats,
    Action::DbStats,
    Action::DbHash,
    Action::KillCursors,
    Action::ListBranches,
    Action::ChangeStream,
];

const WRITE: &[Action] = &[
    Action::Insert,
    Action::Update,
    Action::Remove,
    Action::CreateCollection,
    Action::DropCollection,
    Action::CreateIndex,
    Action::DropIndex,
    Action::RenameCollectionSameDb,
    Action::CreateBranch,
    Action::DropBranch,
    Action::MergeBranch,
    Action::ResetBranch,
    Action::UpdateBranch,
];

const DB_ADMIN: &[Action] = &[
    Action::PlanCacheIndexFilter,
    Action::PlanCacheWrite,
    Action::PlanCacheRead,
    Action::CollStats,
    Action::DbStats,
    Action::ListCollections,
    Action::ListIndexes,
    Action::CreateCollection,
    Action::DropCollection,
    Action::CreateIndex,
    Action::DropIndex,
    Action::DropDatabase,
    Action::RenameCollectionSameDb,
    Action::Validate,
    Action::EnableProfiler,
    Action::KillCursors,
    Action::CollMod,
    Action::Compact,
    Action::ReIndex,
];

const USER_ADMIN: &[Action] = &[
    Action::CreateUser,
    Action::DropUser,
    Action::ViewUser,
    Action::GrantRole,
    Action::RevokeRole,
    Action::CreateRole,
    Action::DropRole,
    Action::ViewRole,
    Action::ChangePassword,
    Action::ChangeCustomData,
];

const CLUSTER_MONITOR: &[Action] = &[
    Action::ServerStatus,
    Action::Inprog,
    Action::ListDatabases,
    Action::GetParameter,
    Action::GetCmdLineOpts,
    Action::GetLog,
    Action::HostInfo,
    Action::ConnPoolStats,
    Action::Top,
    Action::GetDefaultRwConcern,
    Action::GetClusterParameter,
    Action::QueryStatsRead,
    Action::QueryStatsReadTransformed,
];

/// Whether `name` is a built-in role in database `db`.
pub fn is_builtin(name: &str, db: &str) -> bool {
    BUILTIN.contains(&name) && (db == "admin" || !ADMIN_ONLY.contains(&name))
}

/// The privileges of built-in role `name` in database `db` (a pattern of
/// branches, as role databases are).
pub fn builtin(name: &str, db: &str) -> Option<Vec<Privilege>> {
    if !is_builtin(name, db) {
        return None;
    }
    let on_db = |actions: &[&[Action]]| Privilege {
        resource: Resource::databases(Databases::parse(db)),
        actions: actions.iter().fold(Actions::NONE, |all, a| all.with(Actions::of(a))),
    };
    let profile = || Privilege {
        resource: Resource::Collections { databases: Databases::parse(db), collection: Some("system.profile".into()) },
        actions: Actions::of(&[Action::Find]),
    };
    let on_any = |actions: &[Action]| Privilege {
        resource: Resource::databases(Databases::any()),
        actions: Actions::of(actions),
    };
    let on_cluster = |actions: &[Action]| Privilege { resource: Resource::Cluster, actions: Actions::of(actions) };
    let list = || on_cluster(&[Action::ListDatabases]);
    Some(match name {
        "read" => vec![on_db(&[READ])],
        "readWrite" => vec![on_db(&[READ, WRITE])],
        "dbAdmin" => vec![on_db(&[DB_ADMIN]), profile()],
        "userAdmin" => vec![on_db(&[USER_ADMIN])],
        "dbOwner" => vec![on_db(&[READ, WRITE, DB_ADMIN, USER_ADMIN]), profile()],
        "readAnyDatabase" => vec![on_any(READ), list()],
        "readWriteAnyDatabase" => {
            let mut both = READ.to_vec();
            both.extend_from_slice(WRITE);
            vec![on_any(&both), list()]
        }
        "userAdminAnyDatabase" => {
            vec![on_any(USER_ADMIN), on_cluster(&[Action::ListDatabases, Action::InvalidateUserCache])]
        }
        "clusterMonitor" => vec![on_cluster(CLUSTER_MONITOR)],
        "root" => vec![Privilege { resource: Resource::Any, actions: Actions::all() }],
        _ => return None,
    })
}

/// A role defined with `createRole`.
#[derive(Debug, Clone, Default)]
pub struct CustomRole {
    pub privileges: Vec<Privilege>,
    pub roles: Vec<RoleName>,
}

/// The grants of `roles` and every role they inherit; `custom` finds a defined
/// role. Unknown roles grant nothing; an inheritance cycle is followed once.
pub fn resolve(roles: &[RoleName], custom: &dyn Fn(&RoleName) -> Option<CustomRole>) -> Grants {
    let mut grants = Grants::default();
    let mut seen = HashSet::new();
    let mut pending: Vec<RoleName> = roles.to_vec();
    while let Some(role) = pending.pop() {
        if !seen.insert(role.clone()) {
            continue;
        }
        if let Some(privileges) = builtin(&role.role, &role.db) {
            grants.privileges.extend(privileges);
        } else if let Some(defined) = custom(&role) {
            grants.privileges.extend(defined.privileges);
            pending.extend(defined.roles);
        }
    }
    grants
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::auth::privileges::Target;

    fn role(role: &str, db: &str) -> RoleName {
        RoleName { role: role.into(), db: db.into() }
    }

    #[test]
    fn a_reader_of_main_who_writes_feature_branches() {
        let grants = resolve(&[role("read", "shop"), role("readWrite", "shop@feature-*")], &|_| None);
        let on = |branch| Target::Collection { db: "shop", branch, collection: Some("items") };
        let write = Actions::of(&[Action::Insert]);
        assert!(grants.allow(&on("main"), Actions::of(&[Action::Find])));
        assert!(!grants.allow(&on("main"), write));
        assert!(grants.allow(&on("feature-1"), write));
        assert!(!grants.allow(&on("other"), Actions::of(&[Action::Find])));
        assert!(!grants.allow(&on("feature-1"), Actions::of(&[Action::CreateUser])));
    }

    #[test]
    fn any_database_roles_exist_only_in_admin_and_custom_roles_inherit() {
        assert!(builtin("root", "shop").is_none() && builtin("root", "admin").is_some());
        let custom = |name: &RoleName| {
            (name.role == "auditor")
                .then(|| CustomRole { privileges: vec![], roles: vec![role("read", "a"), role("auditor", "x")] })
        };
        let grants = resolve(&[role("auditor", "x")], &custom);
        assert!(grants
            .allow(&Target::Collection { db: "a", branch: "main", collection: None }, Actions::of(&[Action::Find])));
        let root = resolve(&[role("root", "admin")], &|_| None);
        assert!(root.allow(&Target::Cluster, Actions::all()));
    }
}
