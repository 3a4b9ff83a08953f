//! The branch registry: every live branch of every database, kept in memory and
//! mirrored in the `branches` table by the same transactions that apply the log.

use std::collections::HashMap;

use bson::{doc, Bson, DateTime, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::MAIN_BRANCH;
use crate::wal::BranchId;

/// How deep a branch may sit below its database's `main`: a read walks this many
/// ancestors at most.
pub const MAX_DEPTH: usize = 32;

/// One branch: a name in a database, and a pointer into the log.
#[derive(Debug, Clone, PartialEq)]
pub struct Branch {
    pub id: BranchId,
    pub db: String,
    pub name: String,
    pub parent: Option<BranchId>,
    /// The parent's state at this LSN is the branch's starting point.
    pub base_lsn: Lsn,
    /// The record that created the branch, and when.
    pub created_lsn: Lsn,
    pub created_at: DateTime,
    /// The last write on this branch (its creation when it has none).
    pub head_lsn: Lsn,
    /// The record that dropped it; dropped branches stay in the table until their
    /// versions are collected.
    pub dropped_lsn: Option<Lsn>,
}

impl Branch {
    pub fn to_document(&self) -> Document {
        doc! {
            "db": &self.db,
            "name": &self.name,
            "parent": self.parent.map_or(Bson::Null, |p| Bson::Int64(p.0 as i64)),
            "base": self.base_lsn.0 as i64,
            "createdLsn": self.created_lsn.0 as i64,
            "createdAt": self.created_at,
            "head": self.head_lsn.0 as i64,
            "dropped": self.dropped_lsn.map_or(Bson::Null, |l| Bson::Int64(l.0 as i64)),
        }
    }

    pub fn from_document(id: u64, doc: &Document) -> Result<Branch> {
        let corrupt = |field: &str| Error::Store(format!("branch {id}: bad field {field}"));
        let lsn = |field: &str| doc.get_i64(field).map(|v| Lsn(v as u64)).map_err(|_| corrupt(field));
        let optional = |field: &str| match doc.get(field) {
            Some(Bson::Int64(v)) => Ok(Some(*v as u64)),
            Some(Bson::Null) | None => Ok(None),
            Some(_) => Err(corrupt(field)),
        };
        Ok(Branch {
            id: BranchId(id),
            db: doc.get_str("db").map_err(|_| corrupt("db"))?.to_owned(),
            name: doc.get_str("name").map_err(|_| corrupt("name"))?.to_owned(),
            parent: optional("parent")?.map(BranchId),
            base_lsn: lsn("base")?,
            created_lsn: lsn("createdLsn")?,
            created_at: *doc.get_datetime("createdAt").map_err(|_| corrupt("createdAt"))?,
            head_lsn: lsn("head")?,
            dropped_lsn: optional("dropped")?.map(Lsn),
        })
    }
}

/// The live branches, by id and by `(database, name)`.
#[derive(Debug, Default)]
pub struct Branches {
    by_id: HashMap<BranchId, Branch>,
    by_name: HashMap<(String, String), BranchId>,
}

impl Branches {
    pub fn insert(&mut self, branch: Branch) {
        self.by_name.insert((branch.db.clone(), branch.name.clone()), branch.id);
        self.by_id.insert(branch.id, branch);
    }

    pub fn remove(&mut self, id: BranchId) -> Option<Branch> {
        let branch = self.by_id.remove(&id)?;
        self.by_name.remove(&(branch.db.clone(), branch.name.clone()));
        Some(branch)
    }

    pub fn get(&self, id: BranchId) -> Option<&Branch> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: BranchId) -> Option<&mut Branch> {
        self.by_id.get_mut(&id)
    }

    pub fn find(&self, db: &str, name: &str) -> Option<&Branch> {
        self.by_name.get(&(db.to_owned(), name.to_owned())).and_then(|id| self.by_id.get(id))
    }

    /// The branch, or `NamespaceNotFound` (26) naming it.
    pub fn require(&self, db: &str, name: &str) -> Result<&Branch> {
        self.find(db, name).ok_or_else(|| {
            Error::command(ErrorCode::NamespaceNotFound, format!("branch '{name}' of database '{db}' does not exist"))
        })
    }

    /// Every live branch, in creation order.
    pub fn all(&self) -> Vec<&Branch> {
        let mut all: Vec<&Branch> = self.by_id.values().collect();
        all.sort_by_key(|b| b.created_lsn);
        all
    }

    /// The live branches of one database, `main` first, then by creation.
    pub fn of_db(&self, db: &str) -> Vec<&Branch> {
        let mut of: Vec<&Branch> = self.by_id.values().filter(|b| b.db == db).collect();
        of.sort_by_key(|b| (b.name != MAIN_BRANCH, b.created_lsn));
        of
    }

    /// The branches based directly on `id`.
    pub fn children(&self, id: BranchId) -> impl Iterator<Item = &Branch> {
        self.by_id.values().filter(move |b| b.parent == Some(id))
    }

    /// The versions branch `id` sees at `lsn`: its own up to `lsn`, then each
    /// ancestor's up to the smaller of the bound so far and the child's base.
    pub fn chain(&self, id: BranchId, lsn: Lsn) -> Result<Vec<(BranchId, Lsn)>> {
        let mut chain = Vec::new();
        let mut next = Some((id, lsn));
        while let Some((id, bound)) = next {
            if chain.len() > MAX_DEPTH {
                return Err(Error::Store(format!("branch {} is nested deeper than {MAX_DEPTH}", id.0)));
            }
            let branch = self.get(id).ok_or_else(|| Error::Store(format!("branch {} has a missing ancestor", id.0)))?;
            chain.push((id, bound));
            next = branch.parent.map(|parent| (parent, bound.min(branch.base_lsn)));
        }
        Ok(chain)
    }

    /// How many ancestors `id` has.
    pub fn depth(&self, id: BranchId) -> usize {
        let mut depth = 0;
        let mut at = self.get(id).and_then(|b| b.parent);
        while let Some(parent) = at {
            depth += 1;
            at = self.get(parent).and_then(|b| b.parent);
        }
        depth
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn branch(id: u64, name: &str, parent: Option<u64>, base: u64) -> Branch {
        Branch {
            id: BranchId(id),
            db: "shop".into(),
            name: name.into(),
            parent: parent.map(BranchId),
            base_lsn: Lsn(base),
            created_lsn: Lsn(base + 1),
            created_at: DateTime::from_millis(0),
            head_lsn: Lsn(base + 1),
            dropped_lsn: None,
        }
    }

    #[test]
    fn chains_bound_each_ancestor_by_the_bases_below_it() {
        let mut branches = Branches::default();
        branches.insert(branch(1, "main", None, 0));
        branches.insert(branch(2, "a", Some(1), 10));
        branches.insert(branch(3, "b", Some(2), 20));
        let chain = branches.chain(BranchId(3), Lsn(30)).expect("chain");
        assert_eq!(chain, vec![(BranchId(3), Lsn(30)), (BranchId(2), Lsn(20)), (BranchId(1), Lsn(10))]);
        let early = branches.chain(BranchId(3), Lsn(5)).expect("chain");
        assert_eq!(early, vec![(BranchId(3), Lsn(5)), (BranchId(2), Lsn(5)), (BranchId(1), Lsn(5))]);
        assert_eq!(branches.depth(BranchId(3)), 2);
    }

    #[test]
    fn documents_round_trip() {
        let mut b = branch(2, "feature-x", Some(1), 10);
        b.dropped_lsn = Some(Lsn(99));
        assert_eq!(Branch::from_document(2, &b.to_document()).expect("decode"), b);
    }
}
