//! What a stream watches (the whole server, a database branch, or a collection of
//! one) and what each record touches, so that a record is matched against a stream
//! without being turned into events.

use std::collections::BTreeSet;

use crate::namespace::DbRef;
use crate::store::Store;
use crate::value::size::document_size;
use crate::wal::{BranchId, BranchOp, Ddl, Entry, Op, Txn};

/// The databases a whole-server stream leaves out, as MongoDB does.
pub const INTERNAL_DATABASES: &[&str] = &["admin", "config", "local"];

/// What a stream watches.
#[derive(Debug, Clone, PartialEq)]
pub enum Scope {
    /// Every branch of every database but the internal ones.
    Cluster,
    /// One branch of one database.
    Database { db: String, branch: String },
    /// One collection of one branch.
    Collection { db: String, branch: String, collection: String },
}

impl Scope {
    /// Whether a stream over this scope sees what `touched` says a record did.
    pub fn touches(&self, touched: &Touched) -> bool {
        let user_collection = touched.collection.as_deref().is_none_or(|c| !c.starts_with("system."));
        match self {
            Scope::Cluster => !INTERNAL_DATABASES.contains(&touched.db.as_str()) && user_collection,
            Scope::Database { db, branch } => *db == touched.db && *branch == touched.branch && user_collection,
            Scope::Collection { db, branch, collection } => {
                *db == touched.db
                    && *branch == touched.branch
                    && !touched.created
                    && touched.collection.as_ref().is_none_or(|c| c == collection)
            }
        }
    }

    /// Whether the scope holds branch `branch` of `db` (any collection).
    pub fn holds_branch(&self, db: &str, branch: &str) -> bool {
        match self {
            Scope::Cluster => !INTERNAL_DATABASES.contains(&db),
            Scope::Database { db: d, branch: b } | Scope::Collection { db: d, branch: b, .. } => d == db && b == branch,
        }
    }

    /// Whether the scope holds collection `collection` of branch `branch` of `db`.
    pub fn holds(&self, db: &str, branch: &str, collection: &str) -> bool {
        if collection.starts_with("system.") && !matches!(self, Scope::Collection { .. }) {
            return false;
        }
        match self {
            Scope::Collection { collection: c, .. } => c == collection && self.holds_branch(db, branch),
            _ => self.holds_branch(db, branch),
        }
    }
}

/// A database branch a record changed, and the collection (`None`: the branch
/// itself, or the database as a whole).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Touched {
    pub db: String,
    pub branch: String,
    pub collection: Option<String>,
    /// The branch was created (or a child forked from it): only database and
    /// whole-server streams have an event for that.
    pub created: bool,
}

/// The database name a branch is addressed by: `shop` for `main`, `shop@feature`.
pub fn addressed(db: &str, branch: &str) -> String {
    DbRef { db: db.to_owned(), branch: branch.to_owned(), point: None }.to_string()
}

/// What `entry` touches, with branch names as the store knows them now.
pub fn touched(store: &Store, entry: &Entry) -> Vec<Touched> {
    let mut out = BTreeSet::new();
    let name = |id: BranchId| store.branch_by_id(id).map(|b| (b.db, b.name));
    let mut txn = |txn: &Txn| {
        let Some((db, branch)) = name(txn.branch) else { return };
        let mut last: Option<Option<&String>> = None;
        for op in &txn.ops {
            let collection = match op {
                Op::Put { collection, .. } | Op::Delete { collection, .. } => Some(collection),
                Op::Ddl(Ddl::CreateCollection { name, .. })
                | Op::Ddl(Ddl::DropCollection { name })
                | Op::Ddl(Ddl::ModifyCollection { name, .. }) => Some(name),
                Op::Ddl(Ddl::CreateIndex { collection, .. })
                | Op::Ddl(Ddl::DropIndex { collection, .. })
                | Op::Ddl(Ddl::ModifyIndex { collection, .. }) => Some(collection),
                Op::Ddl(Ddl::DropDatabase) => None,
            };
            // Runs of one collection (an insert of many documents) make one entry.
            if last == Some(collection) {
                continue;
            }
            last = Some(collection);
            let collection = collection.cloned();
            out.insert(Touched { db: db.clone(), branch: branch.clone(), collection, created: false });
        }
    };
    match entry {
        Entry::Txn(t) => txn(t),
        Entry::Group(parts) => parts.iter().for_each(txn),
        Entry::Branch(op) => {
            let (ids, created) = match op {
                BranchOp::Create { id, parent, .. } => (vec![Some(*id), *parent], true),
                BranchOp::Drop { id } => (vec![Some(*id)], false),
                BranchOp::Reset { id, new_id, .. } => (vec![Some(*id), Some(*new_id)], false),
                BranchOp::Update { .. } => (Vec::new(), false),
            };
            for (db, branch) in ids.into_iter().flatten().filter_map(name) {
                out.insert(Touched { db, branch, collection: None, created });
            }
            if let BranchOp::Create { db, name: branch, .. } = op {
                out.insert(Touched { db: db.clone(), branch: branch.clone(), collection: None, created });
            }
        }
        Entry::Checkpoint { .. } | Entry::Seal => {}
    }
    out.into_iter().collect()
}

/// About how much memory a decoded record holds.
pub fn size_of(entry: &Entry) -> usize {
    let txn = |t: &Txn| {
        t.ops
            .iter()
            .map(|op| match op {
                Op::Put { doc, .. } => document_size(doc) + 64,
                _ => 128,
            })
            .sum::<usize>()
    };
    match entry {
        Entry::Txn(t) => txn(t),
        Entry::Group(parts) => parts.iter().map(txn).sum(),
        _ => 256,
    }
}
