//! MongoDB's privilege model, with branches: actions on resources, granted by
//! roles. A role's database names branches as database names do everywhere
//! (SPEC §8): `shop` is `main` only, `shop@feature-*` every branch whose name
//! starts with `feature-`, `shop@*` every branch. A read of a past point
//! (`shop~<time>`) is a read of its branch.

use std::fmt;

use bson::{doc, Bson, Document};

/// An action a command needs, as MongoDB names them (and branchdb's branch actions).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Action {
    Find,
    Insert,
    Update,
    Remove,
    CreateCollection,
    DropCollection,
    CreateIndex,
    DropIndex,
    ListCollections,
    ListIndexes,
    CollStats,
    DbStats,
    DbHash,
    KillCursors,
    RenameCollectionSameDb,
    DropDatabase,
    Validate,
    EnableProfiler,
    ListBranches,
    CreateBranch,
    DropBranch,
    MergeBranch,
    ResetBranch,
    UpdateBranch,
    CreateUser,
    DropUser,
    ViewUser,
    GrantRole,
    RevokeRole,
    CreateRole,
    DropRole,
    ViewRole,
    ChangePassword,
    ChangeCustomData,
    ChangeOwnPassword,
    ChangeOwnCustomData,
    ListDatabases,
    ServerStatus,
    Inprog,
    Killop,
    GetParameter,
    SetParameter,
    GetCmdLineOpts,
    GetLog,
    HostInfo,
    KillAnySession,
    ConfigureFailPoint,
    ChangeStream,
    CollMod,
    Fsync,
    Unlock,
    DropConnections,
    ConnPoolStats,
    LogRotate,
    Top,
    InvalidateUserCache,
    Shutdown,
    GetDefaultRwConcern,
    SetDefaultRwConcern,
    SetFeatureCompatibilityVersion,
    RotateCertificates,
    SetUserWriteBlockMode,
    BypassWriteBlockingMode,
    GetClusterParameter,
    SetClusterParameter,
    BypassDefaultMaxTimeMs,
    PlanCacheIndexFilter,
    PlanCacheWrite,
    PlanCacheRead,
    Compact,
    ReIndex,
    AuditConfigure,
    QuerySettings,
    QueryStatsRead,
    QueryStatsReadTransformed,
}

/// Every action with its name.
const NAMES: &[(Action, &str)] = &[
    (Action::Find, "find"),
    (Action::Insert, "insert"),
    (Action::Update, "update"),
    (Action::Remove, "remove"),
    (Action::CreateCollection, "createCollection"),
    (Action::DropCollection, "dropCollection"),
    (Action::CreateIndex, "createIndex"),
    (Action::DropIndex, "dropIndex"),
    (Action::ListCollections, "listCollections"),
    (Action::ListIndexes, "listIndexes"),
    (Action::CollStats, "collStats"),
    (Action::DbStats, "dbStats"),
    (Action::DbHash, "dbHash"),
    (Action::KillCursors, "killCursors"),
    (Action::RenameCollectionSameDb, "renameCollectionSameDB"),
    (Action::DropDatabase, "dropDatabase"),
    (Action::Validate, "validate"),
    (Action::EnableProfiler, "enableProfiler"),
    (Action::ListBranches, "listBranches"),
    (Action::CreateBranch, "createBranch"),
    (Action::DropBranch, "dropBranch"),
    (Action::MergeBranch, "mergeBranch"),
    (Action::ResetBranch, "resetBranch"),
    (Action::UpdateBranch, "updateBranch"),
    (Action::CreateUser, "createUser"),
    (Action::DropUser, "dropUser"),
    (Action::ViewUser, "viewUser"),
    (Action::GrantRole, "grantRole"),
    (Action::RevokeRole, "revokeRole"),
    (Action::CreateRole, "createRole"),
    (Action::DropRole, "dropRole"),
    (Action::ViewRole, "viewRole"),
    (Action::ChangePassword, "changePassword"),
    (Action::ChangeCustomData, "changeCustomData"),
    (Action::ChangeOwnPassword, "changeOwnPassword"),
    (Action::ChangeOwnCustomData, "changeOwnCustomData"),
    (Action::ListDatabases, "listDatabases"),
    (Action::ServerStatus, "serverStatus"),
    (Action::Inprog, "inprog"),
    (Action::Killop, "killop"),
    (Action::Fsync, "fsync"),
    (Action::Unlock, "unlock"),
    (Action::DropConnections, "dropConnections"),
    (Action::ConnPoolStats, "connPoolStats"),
    (Action::LogRotate, "logRotate"),
    (Action::Top, "top"),
    (Action::InvalidateUserCache, "invalidateUserCache"),
    (Action::Shutdown, "shutdown"),
    (Action::GetDefaultRwConcern, "getDefaultRWConcern"),
    (Action::SetDefaultRwConcern, "setDefaultRWConcern"),
    (Action::SetFeatureCompatibilityVersion, "setFeatureCompatibilityVersion"),
    (Action::RotateCertificates, "rotateCertificates"),
    (Action::SetUserWriteBlockMode, "setUserWriteBlockMode"),
    (Action::BypassWriteBlockingMode, "bypassWriteBlockingMode"),
    (Action::GetClusterParameter, "getClusterParameter"),
    (Action::SetClusterParameter, "setClusterParameter"),
    (Action::BypassDefaultMaxTimeMs, "bypassDefaultMaxTimeMS"),
    (Action::PlanCacheIndexFilter, "planCacheIndexFilter"),
    (Action::PlanCacheWrite, "planCacheWrite"),
    (Action::PlanCacheRead, "planCacheRead"),
    (Action::GetParameter, "getParameter"),
    (Action::SetParameter, "setParameter"),
    (Action::GetCmdLineOpts, "getCmdLineOpts"),
    (Action::GetLog, "getLog"),
    (Action::HostInfo, "hostInfo"),
    (Action::KillAnySession, "killAnySession"),
    (Action::ConfigureFailPoint, "configureFailPoint"),
    (Action::ChangeStream, "changeStream"),
    (Action::CollMod, "collMod"),
    (Action::Compact, "compact"),
    (Action::ReIndex, "reIndex"),
    (Action::AuditConfigure, "auditConfigure"),
    (Action::QuerySettings, "querySettings"),
    (Action::QueryStatsRead, "queryStatsRead"),
    (Action::QueryStatsReadTransformed, "queryStatsReadTransformed"),
];

impl Action {
    pub fn name(self) -> &'static str {
        NAMES.iter().find(|(a, _)| *a == self).map_or("", |(_, n)| n)
    }

    pub fn parse(name: &str) -> Option<Action> {
        NAMES.iter().find(|(_, n)| *n == name).map(|(a, _)| *a)
    }

    fn bit(self) -> u128 {
        1 << (self as u128)
    }
}

/// A set of actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Hash)]
pub struct Actions(u128);

impl Actions {
    pub const NONE: Actions = Actions(0);

    pub fn of(actions: &[Action]) -> Actions {
        Actions(actions.iter().fold(0, |bits, a| bits | a.bit()))
    }

    pub fn all() -> Actions {
        Actions::of(&NAMES.iter().map(|(a, _)| *a).collect::<Vec<_>>())
    }

    pub fn with(self, other: Actions) -> Actions {
        Actions(self.0 | other.0)
    }

    pub fn contains(self, other: Actions) -> bool {
        self.0 & other.0 == other.0
    }

    pub fn without(self, other: Actions) -> Actions {
        Actions(self.0 & !other.0)
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Action> {
        NAMES.iter().map(|(a, _)| *a).filter(move |a| self.0 & a.bit() != 0)
    }

    pub fn names(self) -> Vec<Bson> {
        self.iter().map(|a| Bson::String(a.name().to_owned())).collect()
    }
}

/// Which branches of which databases a grant covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Databases {
    /// The database; `None`: every database.
    db: Option<String>,
    branches: Branches,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Branches {
    /// One branch.
    Named(String),
    /// Every branch whose name starts so (`*` alone: every branch).
    Prefix(String),
}

impl Databases {
    /// Every branch of every database.
    pub fn any() -> Databases {
        Databases { db: None, branches: Branches::Prefix(String::new()) }
    }

    /// Reads a role's database: `shop`, `shop@name`, `shop@prefix*`, `shop@*`.
    pub fn parse(name: &str) -> Databases {
        let (db, branches) = match name.split_once('@') {
            None => (name, Branches::Named(crate::namespace::MAIN_BRANCH.to_owned())),
            Some((db, pattern)) => match pattern.strip_suffix('*') {
                Some(prefix) => (db, Branches::Prefix(prefix.to_owned())),
                None => (db, Branches::Named(pattern.to_owned())),
            },
        };
        Databases { db: Some(db.to_owned()), branches }
    }

    pub fn covers(&self, db: &str, branch: &str) -> bool {
        self.db.as_deref().is_none_or(|mine| mine == db)
            && match &self.branches {
                Branches::Named(name) => name == branch,
                Branches::Prefix(prefix) => branch.starts_with(prefix.as_str()),
            }
    }
}

/// What a privilege is on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resource {
    /// The server itself (`{cluster: true}`).
    Cluster,
    /// Everything (`{anyResource: true}`).
    Any,
    /// Collections of databases (`{db, collection}`; `""` for every database or
    /// every collection).
    Collections { databases: Databases, collection: Option<String> },
}

impl Resource {
    pub fn databases(databases: Databases) -> Resource {
        Resource::Collections { databases, collection: None }
    }

    /// Reads a privilege's resource document.
    pub fn parse(doc: &Document) -> Option<Resource> {
        if doc.get_bool("cluster") == Ok(true) {
            return Some(Resource::Cluster);
        }
        if doc.get_bool("anyResource") == Ok(true) {
            return Some(Resource::Any);
        }
        let db = doc.get_str("db").ok()?;
        let collection = doc.get_str("collection").ok()?;
        let databases = if db.is_empty() { Databases::any() } else { Databases::parse(db) };
        Some(Resource::Collections { databases, collection: (!collection.is_empty()).then(|| collection.to_owned()) })
    }

    pub fn to_document(&self) -> Document {
        match self {
            Resource::Cluster => doc! {"cluster": true},
            Resource::Any => doc! {"anyResource": true},
            Resource::Collections { databases, collection } => {
                let db = match (&databases.db, &databases.branches) {
                    (None, _) => String::new(),
                    (Some(db), Branches::Named(b)) if b == crate::namespace::MAIN_BRANCH => db.clone(),
                    (Some(db), Branches::Named(b)) => format!("{db}@{b}"),
                    (Some(db), Branches::Prefix(p)) => format!("{db}@{p}*"),
                };
                doc! {"db": db, "collection": collection.clone().unwrap_or_default()}
            }
        }
    }

    fn covers(&self, target: &Target<'_>) -> bool {
        match (self, target) {
            (Resource::Any, _) => true,
            (Resource::Cluster, Target::Cluster) => true,
            (Resource::Collections { databases, collection }, Target::Collection { db, branch, collection: c }) => {
                databases.covers(db, branch)
                    && match (collection, c) {
                        (None, _) => true,
                        (Some(mine), Some(theirs)) => mine == theirs,
                        (Some(_), None) => false,
                    }
            }
            _ => false,
        }
    }
}

/// What a command acts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target<'a> {
    Cluster,
    /// A collection of a branch, or the branch as a whole (`collection: None`).
    Collection {
        db: &'a str,
        branch: &'a str,
        collection: Option<&'a str>,
    },
}

/// Actions on a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Privilege {
    pub resource: Resource,
    pub actions: Actions,
}

impl Privilege {
    pub fn to_document(&self) -> Document {
        doc! {"resource": self.resource.to_document(), "actions": self.actions.names()}
    }
}

/// A role's name and database, as `{role, db}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RoleName {
    pub role: String,
    pub db: String,
}

impl RoleName {
    pub fn to_document(&self) -> Document {
        doc! {"role": &self.role, "db": &self.db}
    }
}

impl fmt::Display for RoleName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}@{}", self.role, self.db)
    }
}

/// What a connection's users may do: the privileges of their roles, resolved.
#[derive(Debug, Clone, Default)]
pub struct Grants {
    pub privileges: Vec<Privilege>,
}

impl Grants {
    /// Whether the grants allow every one of `actions` on `target`.
    pub fn allow(&self, target: &Target<'_>, actions: Actions) -> bool {
        let mut granted = Actions::NONE;
        for privilege in self.privileges.iter().filter(|p| p.resource.covers(target)) {
            granted = granted.with(privilege.actions);
            if granted.contains(actions) {
                return true;
            }
        }
        actions.is_empty()
    }

    /// Whether some grant covers anything of branch `branch` of database `db`
    /// (`listDatabases` shows those to a user who may not list them all).
    pub fn touch(&self, db: &str, branch: &str) -> bool {
        self.privileges.iter().any(|p| match &p.resource {
            Resource::Any => true,
            Resource::Cluster => false,
            Resource::Collections { databases, .. } => databases.covers(db, branch) && !p.actions.is_empty(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(db: &'static str, branch: &'static str) -> Target<'static> {
        Target::Collection { db, branch, collection: Some("items") }
    }

    #[test]
    fn role_databases_name_branches() {
        let main = Databases::parse("shop");
        assert!(main.covers("shop", "main") && !main.covers("shop", "feature-x") && !main.covers("shopx", "main"));
        let features = Databases::parse("shop@feature-*");
        assert!(features.covers("shop", "feature-x") && !features.covers("shop", "main"));
        assert!(Databases::parse("shop@*").covers("shop", "anything"));
        assert!(Databases::parse("shop@f").covers("shop", "f") && !Databases::parse("shop@f").covers("shop", "fx"));
        for name in ["shop", "shop@f", "shop@feature-*", "shop@*"] {
            let resource = Resource::databases(Databases::parse(name));
            assert_eq!(Resource::parse(&resource.to_document()), Some(resource));
        }
    }

    #[test]
    fn actions_are_granted_by_the_privileges_that_cover_the_target_together() {
        let grants = Grants {
            privileges: vec![
                Privilege {
                    resource: Resource::databases(Databases::parse("shop")),
                    actions: Actions::of(&[Action::Find]),
                },
                Privilege {
                    resource: Resource::databases(Databases::parse("shop@feature-*")),
                    actions: Actions::of(&[Action::Find, Action::Insert]),
                },
                Privilege {
                    resource: Resource::Collections {
                        databases: Databases::parse("shop"),
                        collection: Some("items".into()),
                    },
                    actions: Actions::of(&[Action::Update]),
                },
            ],
        };
        assert!(grants.allow(&on("shop", "main"), Actions::of(&[Action::Find, Action::Update])));
        assert!(!grants.allow(&on("shop", "main"), Actions::of(&[Action::Insert])));
        assert!(grants.allow(&on("shop", "feature-1"), Actions::of(&[Action::Insert])));
        assert!(!grants.allow(&on("shop", "other"), Actions::of(&[Action::Find])));
        assert!(!grants.allow(&Target::Cluster, Actions::of(&[Action::ListDatabases])));
        let whole = Target::Collection { db: "shop", branch: "main", collection: None };
        assert!(!grants.allow(&whole, Actions::of(&[Action::Update])), "a collection's grant is not the database's");
        assert!(grants.touch("shop", "main") && grants.touch("shop", "feature-2"));
        assert!(!grants.touch("shop", "other") && !grants.touch("other", "main"));
        for (action, name) in NAMES {
            assert_eq!(Action::parse(name), Some(*action));
            assert_eq!(action.name(), *name);
        }
        assert!(NAMES.len() < 128, "the actions fit the bits of `Actions`");
    }
}
