//! The branch registry: every live branch of every database, kept in memory and
//! mirrored in the `branches` table by the same transactions that apply the log.

use std::collections::HashMap;

use bson::{doc, Bson, DateTime, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::MAIN_BRANCH;
use crate::wal::{BranchId, BranchSettings};

/// How deep a branch may sit below its database's `main`: a read walks this many
/// ancestors at most.
pub const MAX_DEPTH: usize = 32;

/// One branch: a name in a database, and a pointer into the log.
///
/// A branch is *live* until it is dropped or reset. A reset replaces it under its
/// name by a new branch (a new id) that starts from the reset's target; the old one
/// stays readable at points before the reset. Branches that are no longer live stay
/// in the registry while a live branch, a readable point or a merge base needs their
/// versions; history collection forgets them after that.
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
    /// The record that dropped it.
    pub dropped_lsn: Option<Lsn>,
    /// The reset that replaced it under its name.
    pub replaced_lsn: Option<Lsn>,
    pub settings: BranchSettings,
    /// The merges into this branch, the newest from each source branch.
    pub merges: Vec<MergeMark>,
}

/// A merge into a branch: the source branch's state at `source_lsn` was merged by
/// the record at `lsn`. It is the merge base of the next merge between the two.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MergeMark {
    pub source: BranchId,
    pub source_lsn: Lsn,
    pub lsn: Lsn,
}

impl Branch {
    /// Neither dropped nor replaced by a reset.
    pub fn is_live(&self) -> bool {
        self.dropped_lsn.is_none() && self.replaced_lsn.is_none()
    }

    pub fn to_document(&self) -> Document {
        let optional = |lsn: Option<Lsn>| lsn.map_or(Bson::Null, |l| Bson::Int64(l.0 as i64));
        let merges: Vec<Document> = self
            .merges
            .iter()
            .map(|m| doc! {"source": m.source.0 as i64, "sourceLsn": m.source_lsn.0 as i64, "lsn": m.lsn.0 as i64})
            .collect();
        doc! {
            "db": &self.db,
            "name": &self.name,
            "parent": self.parent.map_or(Bson::Null, |p| Bson::Int64(p.0 as i64)),
            "base": self.base_lsn.0 as i64,
            "createdLsn": self.created_lsn.0 as i64,
            "createdAt": self.created_at,
            "head": self.head_lsn.0 as i64,
            "dropped": optional(self.dropped_lsn),
            "replaced": optional(self.replaced_lsn),
            "settings": self.settings.to_document(),
            "merges": merges,
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
        let merges = match doc.get_array("merges") {
            Ok(merges) => merges
                .iter()
                .map(|m| {
                    let m = m.as_document().ok_or_else(|| corrupt("merges"))?;
                    let at = |f: &str| m.get_i64(f).map(|v| v as u64).map_err(|_| corrupt("merges"));
                    Ok(MergeMark {
                        source: BranchId(at("source")?),
                        source_lsn: Lsn(at("sourceLsn")?),
                        lsn: Lsn(at("lsn")?),
                    })
                })
                .collect::<Result<_>>()?,
            Err(_) => Vec::new(),
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
            replaced_lsn: optional("replaced")?.map(Lsn),
            settings: doc.get_document("settings").map(BranchSettings::from_document).unwrap_or_default(),
            merges,
        })
    }

    /// Records a merge of `source` as of `source_lsn` by the record at `lsn`.
    pub fn note_merge(&mut self, source: BranchId, source_lsn: Lsn, lsn: Lsn) {
        self.merges.retain(|m| m.source != source);
        self.merges.push(MergeMark { source, source_lsn, lsn });
    }
}

/// Every branch the store still knows, live or not, by id; the live ones by
/// `(database, name)` too.
#[derive(Debug, Default)]
pub struct Branches {
    by_id: HashMap<BranchId, Branch>,
    by_name: HashMap<(String, String), BranchId>,
}

impl Branches {
    pub fn insert(&mut self, branch: Branch) {
        if branch.is_live() {
            self.by_name.insert((branch.db.clone(), branch.name.clone()), branch.id);
        }
        self.by_id.insert(branch.id, branch);
    }

    /// Marks `id` dropped at `lsn`, with the branches it replaced under its name
    /// (their points are no longer addressable either). Returns the rows changed.
    pub fn drop_branch(&mut self, id: BranchId, lsn: Lsn) -> Option<Vec<Branch>> {
        let branch = self.by_id.get(&id).filter(|b| b.is_live())?;
        let (db, name) = (branch.db.clone(), branch.name.clone());
        self.by_name.remove(&(db.clone(), name.clone()));
        let mut changed = Vec::new();
        for branch in self.by_id.values_mut() {
            let lineage = branch.id == id || (branch.replaced_lsn.is_some() && branch.db == db && branch.name == name);
            if lineage && branch.dropped_lsn.is_none() {
                branch.dropped_lsn = Some(lsn);
                changed.push(branch.clone());
            }
        }
        Some(changed)
    }

    /// Marks live branch `id` replaced at `lsn` (a reset); the caller inserts its
    /// successor.
    pub fn replace(&mut self, id: BranchId, lsn: Lsn) -> Option<Branch> {
        let branch = self.by_id.get_mut(&id).filter(|b| b.is_live())?;
        branch.replaced_lsn = Some(lsn);
        let branch = branch.clone();
        self.by_name.remove(&(branch.db.clone(), branch.name.clone()));
        Some(branch)
    }

    /// Forgets a branch whose versions are gone.
    pub fn forget(&mut self, id: BranchId) {
        if let Some(branch) = self.by_id.remove(&id) {
            if self.by_name.get(&(branch.db.clone(), branch.name.clone())) == Some(&id) {
                self.by_name.remove(&(branch.db, branch.name));
            }
        }
    }

    /// Any branch the store knows, live or not.
    pub fn get(&self, id: BranchId) -> Option<&Branch> {
        self.by_id.get(&id)
    }

    pub fn get_mut(&mut self, id: BranchId) -> Option<&mut Branch> {
        self.by_id.get_mut(&id)
    }

    /// The live branch `name` of `db`.
    pub fn find(&self, db: &str, name: &str) -> Option<&Branch> {
        self.by_name.get(&(db.to_owned(), name.to_owned())).and_then(|id| self.by_id.get(id))
    }

    /// The branch `name` of `db` was at `lsn`: the live one, or the one a later
    /// reset replaced. Before its first branch's creation, that first branch (its
    /// base rule decides).
    pub fn find_at(&self, db: &str, name: &str, lsn: Lsn) -> Option<&Branch> {
        let live = self.find(db, name)?;
        let predecessors = self.predecessors(live.id);
        // Newest first: the first that existed at `lsn`, else the oldest.
        let lineage = || std::iter::once(live).chain(predecessors.iter().copied());
        lineage().find(|b| b.created_lsn <= lsn).or_else(|| lineage().last())
    }

    /// The branches a reset replaced under the name of live branch `id`, newest
    /// first.
    pub fn predecessors(&self, id: BranchId) -> Vec<&Branch> {
        let Some(live) = self.get(id) else { return Vec::new() };
        let mut found: Vec<&Branch> = self
            .by_id
            .values()
            .filter(|b| b.db == live.db && b.name == live.name && b.dropped_lsn.is_none() && b.replaced_lsn.is_some())
            .collect();
        found.sort_by_key(|b| std::cmp::Reverse(b.created_lsn));
        found
    }

    /// The live branch, or `NamespaceNotFound` (26) naming it.
    pub fn require(&self, db: &str, name: &str) -> Result<&Branch> {
        self.find(db, name).ok_or_else(|| {
            Error::command(ErrorCode::NamespaceNotFound, format!("branch '{name}' of database '{db}' does not exist"))
        })
    }

    /// Every live branch, in creation order.
    pub fn all(&self) -> Vec<&Branch> {
        let mut all: Vec<&Branch> = self.by_id.values().filter(|b| b.is_live()).collect();
        all.sort_by_key(|b| b.created_lsn);
        all
    }

    /// Every branch the store knows, live or not.
    pub fn known(&self) -> impl Iterator<Item = &Branch> {
        self.by_id.values()
    }

    /// The live branches of one database, `main` first, then by creation.
    pub fn of_db(&self, db: &str) -> Vec<&Branch> {
        let mut of: Vec<&Branch> = self.by_id.values().filter(|b| b.is_live() && b.db == db).collect();
        of.sort_by_key(|b| (b.name != MAIN_BRANCH, b.created_lsn));
        of
    }

    /// The live branches based directly on `id`.
    pub fn children(&self, id: BranchId) -> impl Iterator<Item = &Branch> {
        self.by_id.values().filter(move |b| b.is_live() && b.parent == Some(id))
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
            replaced_lsn: None,
            settings: BranchSettings::default(),
            merges: Vec::new(),
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
        b.replaced_lsn = Some(Lsn(98));
        b.settings.protected = true;
        b.settings.description = Some("shop's feature".into());
        b.note_merge(BranchId(5), Lsn(40), Lsn(41));
        assert_eq!(Branch::from_document(2, &b.to_document()).expect("decode"), b);
    }

    #[test]
    fn a_reset_branch_answers_for_its_name_before_the_reset() {
        let mut branches = Branches::default();
        branches.insert(branch(1, "main", None, 0));
        branches.replace(BranchId(1), Lsn(50)).expect("live");
        let mut successor = branch(2, "main", Some(1), 20);
        successor.created_lsn = Lsn(50);
        branches.insert(successor);
        assert_eq!(branches.find("shop", "main").map(|b| b.id), Some(BranchId(2)));
        assert_eq!(branches.find_at("shop", "main", Lsn(49)).map(|b| b.id), Some(BranchId(1)));
        assert_eq!(branches.find_at("shop", "main", Lsn(50)).map(|b| b.id), Some(BranchId(2)));
        assert_eq!(branches.predecessors(BranchId(2)).len(), 1);
        assert_eq!(branches.all().len(), 1);
        // Dropping the name drops its lineage: no point of it is addressable.
        let changed = branches.drop_branch(BranchId(2), Lsn(60)).expect("live");
        assert_eq!(changed.len(), 2);
        assert!(branches.find_at("shop", "main", Lsn(10)).is_none());
        assert!(branches.get(BranchId(1)).is_some(), "kept until its versions are collected");
    }
}
