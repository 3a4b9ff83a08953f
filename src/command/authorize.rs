//! Authorization: each command's [`Rule`] in the command table, checked before it
//! runs when access control is on. A rule names the actions the command needs on
//! its database and branch (and collection, when it names one) or on the server;
//! commands whose needs depend on their arguments have a function of their own.
//! With access control off nothing is checked.

use bson::Bson;

use super::{current_op, Command, Invocation};
use crate::auth::privileges::{Action, Actions, Grants, Target};
use crate::error::{Error, ErrorCode, Result};

/// What a command needs of the connection's users.
#[derive(Clone, Copy)]
pub enum Rule {
    /// Nothing: the handshake and authentication, served before a user logs in.
    Open,
    /// A user, whatever they may do: the command acts only on what is theirs.
    Authenticated,
    /// These actions on the command's branch, or its collection when it names one.
    Branch(&'static [Action]),
    /// These actions on the server.
    Cluster(&'static [Action]),
    /// Decided from the arguments.
    Custom(fn(&Invocation<'_>, &Grants) -> Result<()>),
}

/// Checks that the connection may run `command`; the localhost exception lets a
/// loopback connection create the first user while there is none.
pub fn check(command: &Command, inv: &Invocation<'_>) -> Result<()> {
    let security = &inv.context.security;
    if !security.enabled || matches!(command.auth, Rule::Open) {
        return Ok(());
    }
    if inv.connection.auth().users.is_empty() {
        let exception = !security.has_users() && inv.connection.peer.ip().is_loopback();
        if exception && matches!(command.name, "createUser" | "createRole") {
            return Ok(());
        }
        return Err(Error::command(
            ErrorCode::Unauthorized,
            format!("Command {} requires authentication", command.name),
        ));
    }
    let grants = super::user_store::connection_grants(inv.context, inv.connection);
    match command.auth {
        Rule::Open | Rule::Authenticated => Ok(()),
        Rule::Branch(actions) => require(inv, &grants, &on_command(command, inv), Actions::of(actions)),
        Rule::Cluster(actions) => require(inv, &grants, &Target::Cluster, Actions::of(actions)),
        Rule::Custom(decide) => decide(inv, &grants),
    }
}

/// The command's target: its branch, and its collection when it names one.
pub fn on_command<'a>(command: &Command, inv: &'a Invocation<'_>) -> Target<'a> {
    let collection = current_op::collection_of(command, inv.body);
    on_collection(inv, collection)
}

/// A collection (`None`: the whole branch) of the command's branch.
pub fn on_collection<'a>(inv: &'a Invocation<'_>, collection: Option<&'a str>) -> Target<'a> {
    Target::Collection { db: &inv.db.db, branch: &inv.db.branch, collection }
}

/// Fails with 13 unless `grants` allow `actions` on `target`.
pub fn require(inv: &Invocation<'_>, grants: &Grants, target: &Target<'_>, actions: Actions) -> Result<()> {
    if grants.allow(target, actions) {
        return Ok(());
    }
    let command = inv.body.keys().next().map_or("", String::as_str);
    let on = match target {
        Target::Cluster => "the server".to_owned(),
        Target::Collection { db, branch, collection } => {
            let branch = if *branch == crate::namespace::MAIN_BRANCH { String::new() } else { format!("@{branch}") };
            match collection {
                Some(c) => format!("{db}{branch}.{c}"),
                None => format!("{db}{branch}"),
            }
        }
    };
    let needed: Vec<&str> = actions.iter().map(Action::name).collect();
    Err(Error::command(
        ErrorCode::Unauthorized,
        format!("not authorized on {on} to execute command {command} (needs {})", needed.join(", ")),
    ))
}

/// `update`: `update`, and `insert` too when a statement upserts.
pub fn update(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let upserts = inv.body.get_array("updates").is_ok_and(|updates| {
        updates.iter().filter_map(Bson::as_document).any(|u| crate::value::truthy(u.get("upsert")))
    });
    let mut actions = vec![Action::Update];
    if upserts {
        actions.push(Action::Insert);
    }
    let collection = inv.body.get_str("update").ok();
    require(inv, grants, &on_collection(inv, collection), Actions::of(&actions))
}

/// `findAndModify`: `find` and `update` (and `insert` to upsert), or `find` and
/// `remove`.
pub fn find_and_modify(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let body = inv.body;
    let mut actions = vec![Action::Find];
    if crate::value::truthy(body.get("remove")) {
        actions.push(Action::Remove);
    } else {
        actions.push(Action::Update);
        if crate::value::truthy(body.get("upsert")) {
            actions.push(Action::Insert);
        }
    }
    let collection = body.get_str("findAndModify").or_else(|_| body.get_str("findandmodify")).ok();
    require(inv, grants, &on_collection(inv, collection), Actions::of(&actions))
}

/// `aggregate`: `find` on the collection and on every collection a stage reads
/// (`$lookup`, `$graphLookup`, `$unionWith`, inside `$facet` too); `insert`,
/// `update` and `remove` on the one `$out` or `$merge` writes; `collStats` for
/// `$collStats`. A pipeline over the database (`$documents`) needs a user only.
pub fn aggregate(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let stages = inv.body.get_array("pipeline").map(Vec::as_slice).unwrap_or_default();
    let main = inv.body.get_str("aggregate").ok();
    if super::change_stream::is_change_stream(stages) {
        // A change stream reads its collection, its database branch, or (on admin,
        // allChangesForCluster) every database: find and changeStream there, as in
        // MongoDB. The stages after it read nothing else.
        let spec = stages.first().and_then(Bson::as_document).and_then(|s| s.get_document("$changeStream").ok());
        let cluster = spec.is_some_and(|s| s.get_bool("allChangesForCluster") == Ok(true));
        let target = match cluster {
            true => Target::Collection { db: "", branch: "", collection: None },
            false => on_collection(inv, main),
        };
        return require(inv, grants, &target, Actions::of(&[Action::Find, Action::ChangeStream]));
    }
    let mut reads: Vec<&str> = main.into_iter().collect();
    let mut writes = Vec::new();
    let mut stats = false;
    named_collections(stages, &mut reads, &mut writes, &mut stats);
    if stats {
        require(inv, grants, &on_collection(inv, main), Actions::of(&[Action::CollStats]))?;
        reads.retain(|c| Some(*c) != main);
    }
    for collection in reads {
        require(inv, grants, &on_collection(inv, Some(collection)), Actions::of(&[Action::Find]))?;
    }
    for collection in writes {
        let actions = Actions::of(&[Action::Insert, Action::Update, Action::Remove]);
        require(inv, grants, &on_collection(inv, Some(collection)), actions)?;
    }
    Ok(())
}

/// The collections `stages` read and write.
fn named_collections<'a>(stages: &'a [Bson], reads: &mut Vec<&'a str>, writes: &mut Vec<&'a str>, stats: &mut bool) {
    for stage in stages.iter().filter_map(Bson::as_document) {
        for (name, spec) in stage {
            match (name.as_str(), spec) {
                ("$lookup" | "$graphLookup", Bson::Document(spec)) => {
                    reads.extend(spec.get_str("from").ok());
                    if let Ok(inner) = spec.get_array("pipeline") {
                        named_collections(inner, reads, writes, stats);
                    }
                }
                ("$unionWith", Bson::String(coll)) => reads.push(coll),
                ("$unionWith", Bson::Document(spec)) => {
                    reads.extend(spec.get_str("coll").ok());
                    if let Ok(inner) = spec.get_array("pipeline") {
                        named_collections(inner, reads, writes, stats);
                    }
                }
                ("$facet", Bson::Document(facets)) => {
                    for inner in facets.values().filter_map(|v| v.as_array()) {
                        named_collections(inner, reads, writes, stats);
                    }
                }
                ("$out", Bson::String(coll)) => writes.push(coll),
                ("$out", Bson::Document(spec)) => writes.extend(spec.get_str("coll").ok()),
                ("$merge", Bson::String(coll)) => writes.push(coll),
                ("$merge", Bson::Document(spec)) => match spec.get("into") {
                    Some(Bson::String(coll)) => writes.push(coll),
                    Some(Bson::Document(into)) => writes.extend(into.get_str("coll").ok()),
                    _ => {}
                },
                ("$collStats", _) => *stats = true,
                _ => {}
            }
        }
    }
}

/// `explain`: what the explained command needs.
pub fn explain(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let Some(Bson::Document(inner)) = inv.body.get("explain") else { return Ok(()) };
    let Some(command) = inner.keys().next().and_then(|name| super::lookup(name)) else { return Ok(()) };
    let explained = Invocation { body: inner, db: inv.db.clone(), ..*inv };
    match command.auth {
        Rule::Branch(actions) => require(inv, grants, &on_command(command, &explained), Actions::of(actions)),
        Rule::Custom(decide) if command.name != "explain" => decide(&explained, grants),
        _ => Ok(()),
    }
}

/// `createBranch`: `createBranch` on the new branch and `find` on the one it
/// starts from.
pub fn create_branch(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let db = &inv.db.db;
    let name = inv.body.get_str("createBranch").unwrap_or_default();
    let from = inv.body.get_str("from").unwrap_or(crate::namespace::MAIN_BRANCH);
    let new = Target::Collection { db, branch: name, collection: None };
    require(inv, grants, &new, Actions::of(&[Action::CreateBranch]))?;
    require(inv, grants, &Target::Collection { db, branch: from, collection: None }, Actions::of(&[Action::Find]))
}

/// `dropBranch`: `dropBranch` on the branch it drops.
pub fn drop_branch(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let name = inv.body.get_str("dropBranch").unwrap_or_default();
    let target = Target::Collection { db: &inv.db.db, branch: name, collection: None };
    require(inv, grants, &target, Actions::of(&[Action::DropBranch]))
}

/// `diff`: `find` on the branches of both states.
pub fn diff(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    for field in ["diff", "with"] {
        let text = inv.body.get_str(field).unwrap_or_default();
        let branch = text.split_once('~').map_or(text, |(branch, _)| branch);
        let target = Target::Collection { db: &inv.db.db, branch, collection: None };
        require(inv, grants, &target, Actions::of(&[Action::Find]))?;
    }
    Ok(())
}

/// `mergeBranch`: `find` on the source, `mergeBranch` on the target (the
/// source's parent unless `into` names it: the handler refuses a source without
/// one).
pub fn merge_branch(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let db = &inv.db.db;
    let source = inv.body.get_str("mergeBranch").unwrap_or_default();
    require(inv, grants, &Target::Collection { db, branch: source, collection: None }, Actions::of(&[Action::Find]))?;
    let parent;
    let into = match inv.body.get_str("into") {
        Ok(into) => into,
        Err(_) => {
            let store = &inv.context.store;
            parent = store.branch(db, source).ok().and_then(|b| b.parent).and_then(|p| store.branch_by_id(p));
            parent.as_ref().map_or(source, |p| p.name.as_str())
        }
    };
    let target = Target::Collection { db, branch: into, collection: None };
    require(inv, grants, &target, Actions::of(&[Action::MergeBranch]))
}

/// `resetBranch`: `resetBranch` on the branch, `find` on the state it takes.
pub fn reset_branch(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let db = &inv.db.db;
    let name = inv.body.get_str("resetBranch").unwrap_or_default();
    require(
        inv,
        grants,
        &Target::Collection { db, branch: name, collection: None },
        Actions::of(&[Action::ResetBranch]),
    )?;
    let to = inv.body.get_str("to").unwrap_or_default();
    let from = to.split_once('~').map_or(to, |(branch, _)| branch);
    require(inv, grants, &Target::Collection { db, branch: from, collection: None }, Actions::of(&[Action::Find]))
}

/// `updateBranch`: `updateBranch` on the branch.
pub fn update_branch(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let name = inv.body.get_str("updateBranch").unwrap_or_default();
    let target = Target::Collection { db: &inv.db.db, branch: name, collection: None };
    require(inv, grants, &target, Actions::of(&[Action::UpdateBranch]))
}

/// `branchLog`: `listBranches` on the branch.
pub fn branch_log(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let name = inv.body.get_str("branchLog").unwrap_or_default();
    let target = Target::Collection { db: &inv.db.db, branch: name, collection: None };
    require(inv, grants, &target, Actions::of(&[Action::ListBranches]))
}

/// `branchInfo`: `listBranches` on the branch it describes.
pub fn branch_info(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    let name = inv.body.get_str("branchInfo").unwrap_or_default();
    let target = Target::Collection { db: &inv.db.db, branch: name, collection: None };
    require(inv, grants, &target, Actions::of(&[Action::ListBranches]))
}

/// `renameCollection` (on `admin`): `renameCollectionSameDB` on the source's
/// branch, and `dropCollection` on the target with `dropTarget`.
pub fn rename_collection(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    for (field, actions) in [("renameCollection", &[Action::RenameCollectionSameDb][..]), ("to", &[Action::Find][..])] {
        let Ok(ns) = inv.body.get_str(field) else { continue };
        let Some((db, collection)) = ns.split_once('.') else { continue };
        let Ok(db) = crate::namespace::DbRef::parse(db) else { continue };
        let mut actions = Actions::of(actions);
        if field == "to" && crate::value::truthy(inv.body.get("dropTarget")) {
            actions = actions.with(Actions::of(&[Action::DropCollection]));
        }
        let target = Target::Collection { db: &db.db, branch: &db.branch, collection: Some(collection) };
        require(inv, grants, &target, actions)?;
    }
    Ok(())
}

/// `currentOp`: `inprog` on the server, unless it asks for the user's own
/// operations only (`$ownOps`).
pub fn current_op(inv: &Invocation<'_>, grants: &Grants) -> Result<()> {
    if crate::value::truthy(inv.body.get("$ownOps")) {
        return Ok(());
    }
    require(inv, grants, &Target::Cluster, Actions::of(&[Action::Inprog]))
}

/// The grants that limit which branches `listDatabases` shows (those the user
/// has a grant on, as MongoDB shows a user their authorized databases); `None`
/// when all are shown: access control is off, or the user may list databases.
pub fn listing_limit(inv: &Invocation<'_>) -> Option<std::sync::Arc<Grants>> {
    if !inv.context.security.enabled {
        return None;
    }
    let grants = super::user_store::connection_grants(inv.context, inv.connection);
    (!grants.allow(&Target::Cluster, Actions::of(&[Action::ListDatabases]))).then_some(grants)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::COMMANDS;

    /// The commands served before a user logs in, as MongoDB serves them.
    const OPEN: &[&str] = &[
        "authenticate",
        "buildInfo",
        "connectionStatus",
        "endSessions",
        "hello",
        "isMaster",
        "listCommands",
        "logout",
        "ping",
        "saslContinue",
        "saslStart",
        "whatsmyuri",
    ];

    /// Every command has a rule (the table's `auth` field), only the handshake's
    /// are open, and every rule of actions names some: a new command cannot be
    /// served to everyone by accident.
    #[test]
    fn every_command_has_an_authorization_rule_and_only_the_handshake_is_open() {
        for command in COMMANDS {
            match command.auth {
                Rule::Open => assert!(OPEN.contains(&command.name), "{} is open to everyone", command.name),
                Rule::Branch(actions) | Rule::Cluster(actions) => {
                    assert!(!actions.is_empty(), "{} names no action", command.name)
                }
                Rule::Authenticated | Rule::Custom(_) => {}
            }
        }
        for name in OPEN {
            let command = COMMANDS.iter().find(|c| c.name == *name).expect("an open command exists");
            assert!(matches!(command.auth, Rule::Open), "{name}");
        }
    }
}
