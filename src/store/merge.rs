//! Three-way merges of one branch into another (SPEC §3.1 `mergeBranch`).
//!
//! The merge base is the newest state both branches hold: the source's state at the
//! last merge between the two (either way), or the point where they forked. What
//! the source changed since the base (a diff, whose cost follows the changes) is
//! brought into the target; a document the target changed too is merged field by
//! field at the top level, and a field both sides changed to different values, or a
//! document one side deleted and the other changed, is a conflict. Collections and
//! indexes the source created or dropped follow. Everything is written as one record
//! that carries the source's state, the next merge's base.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use bson::{Bson, Document};

use super::batch::Batch;
use super::branches::Branches;
use super::diff::{self, Difference};
use super::transaction::TRANSACTION_LIMIT;
use super::view::{decode, Collection, Snapshot, View};
use super::{read, refuse_protected, refuse_read_only, Commit, Store};
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::namespace::DbRef;
use crate::wal::{BranchId, Entry, Origin, PutKind, Txn};

/// How conflicts are settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Strategy {
    /// Nothing is written; the conflicts are returned.
    Fail,
    /// The target's value wins.
    Ours,
    /// The source's value wins.
    Theirs,
}

/// What to merge.
#[derive(Debug, Clone)]
pub struct MergeRequest<'a> {
    pub db: &'a str,
    pub source: &'a str,
    /// Default: the source's parent.
    pub into: Option<&'a str>,
    pub strategy: Strategy,
    /// Compute everything, write nothing.
    pub dry_run: bool,
}

/// A document both sides changed in ways that do not combine.
#[derive(Debug, Clone, PartialEq)]
pub struct Conflict {
    pub collection: String,
    pub id: Bson,
    /// The top-level fields both sides changed differently (for a document deleted
    /// on one side, the fields the other side changed).
    pub fields: Vec<String>,
    pub base: Option<Document>,
    pub ours: Option<Document>,
    pub theirs: Option<Document>,
}

/// What a merge did (or, dry or failed, would do).
#[derive(Debug, Clone, PartialEq)]
pub struct Merged {
    pub target: String,
    /// The merge base: a branch's state at an LSN.
    pub base: (BranchId, Lsn),
    pub inserted: u64,
    pub updated: u64,
    pub deleted: u64,
    pub conflicts: Vec<Conflict>,
    /// The record written; `None` for a dry run or a `fail` merge with conflicts.
    pub commit: Option<Commit>,
}

/// The three states of a merge, read from one state of the engine.
struct Sides {
    base: View,
    theirs: View,
}

impl Store {
    /// Merges branch `source` into its target as `request` says.
    pub fn merge(&self, request: &MergeRequest<'_>) -> Result<Merged> {
        let db = request.db;
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let at = meta.applied;
        let (source, target, base) = {
            let branches = read(&self.branches);
            let source = branches.require(db, request.source)?.clone();
            let into = match request.into {
                Some(into) => into.to_owned(),
                None => {
                    let parent = source.parent.and_then(|p| branches.get(p)).ok_or_else(|| {
                        Error::bad_value(format!(
                            "branch '{}' has no parent; say which branch to merge into",
                            source.name
                        ))
                    })?;
                    parent.name.clone()
                }
            };
            let target = branches.require(db, &into)?.clone();
            if target.id == source.id {
                return Err(Error::bad_value(format!("cannot merge branch '{into}' into itself")));
            }
            // A dry run writes nothing: it may look at what a merge into a
            // protected or read-only branch would do.
            if !request.dry_run {
                refuse_protected(&target, "merged into")?;
                refuse_read_only(&target)?;
            }
            let base = merge_base(&branches, &branches.chain(source.id, at)?, &branches.chain(target.id, at)?)?;
            (source, target, base)
        };
        let (sides, ours) = {
            let branches = read(&self.branches);
            let engine = self.writer_snapshot()?;
            let of = |name: &str| DbRef { db: db.to_owned(), branch: name.to_owned(), point: None };
            let ours = View::new(Snapshot::of(&of(&target.name), at, branches.chain(target.id, at)?), engine);
            let theirs = ours.sibling(Snapshot::of(&of(&source.name), at, branches.chain(source.id, at)?));
            let base_view = ours.sibling(Snapshot::of(&of(&source.name), base.1, branches.chain(base.0, base.1)?));
            (Sides { base: base_view, theirs }, ours)
        };
        // Both sides' changes are held while the merge is worked out: at most what
        // a transaction may change, each.
        let theirs_changes = diff::differences(&sides.base, &sides.theirs, None, TRANSACTION_LIMIT)?;
        let ours_changes = diff::differences(&sides.base, &ours, None, TRANSACTION_LIMIT)?;
        let mut merged = Merged {
            target: target.name.clone(),
            base,
            inserted: 0,
            updated: 0,
            deleted: 0,
            conflicts: Vec::new(),
            commit: None,
        };
        let mut batch = Batch::new(ours, &mut meta.next_collection);
        let plan = Plan::new(&sides, &batch, theirs_changes, ours_changes)?;
        plan.apply(request.strategy, &mut batch, &mut merged)?;
        let (ops, _) = batch.into_parts();
        if request.dry_run || (request.strategy == Strategy::Fail && !merged.conflicts.is_empty()) {
            // The answer rests on what was read: it waits until that is acknowledged.
            let read_at = Commit { lsn: at, time: meta.applied_time };
            drop(meta);
            self.settle(read_at, false)?;
            return Ok(merged);
        }
        let txn = Txn { branch: target.id, ops, origin: Some(Origin { branch: source.id, lsn: at }), session: None };
        let commit = self.append_and_apply(&mut meta, &Entry::Txn(txn))?;
        drop(meta);
        self.settle(commit, false)?;
        merged.commit = Some(commit);
        Ok(merged)
    }
}

/// The newest state both chains hold: the source side of the last merge between
/// them (recorded on a branch of either chain, at or before that chain's bound, and
/// of a state the other chain holds), or else where they forked.
fn merge_base(branches: &Branches, source: &[(BranchId, Lsn)], target: &[(BranchId, Lsn)]) -> Result<(BranchId, Lsn)> {
    let holds = |chain: &[(BranchId, Lsn)], id: BranchId, lsn: Lsn| chain.iter().any(|&(b, l)| b == id && l >= lsn);
    let mut best: Option<(BranchId, Lsn)> = source
        .iter()
        .find_map(|&(id, bound)| target.iter().find(|(t, _)| *t == id).map(|&(_, other)| (id, bound.min(other))));
    for (mine, other) in [(target, source), (source, target)] {
        for &(id, bound) in mine {
            let Some(branch) = branches.get(id) else { continue };
            for mark in &branch.merges {
                let newer = best.is_none_or(|(_, lsn)| mark.source_lsn > lsn);
                if mark.lsn <= bound && holds(other, mark.source, mark.source_lsn) && newer {
                    best = Some((mark.source, mark.source_lsn));
                }
            }
        }
    }
    best.ok_or_else(|| Error::Store("two branches of one database share no state".into()))
}

/// One collection as the three sides have it.
struct Sided {
    base: Option<Collection>,
    ours: Option<Collection>,
    theirs: Option<Collection>,
}

/// What the merge does, worked out before anything is written.
struct Plan {
    collections: BTreeMap<String, Sided>,
    /// The source's changes by collection.
    changes: BTreeMap<String, Vec<Difference>>,
    /// The target's changes since the base, by collection.
    ours_changes: BTreeMap<String, Vec<Difference>>,
    /// The same, as a set of (collection, encoded `_id`).
    ours_changed: HashSet<(String, Vec<u8>)>,
}

impl Plan {
    fn new(
        sides: &Sides,
        batch: &Batch<'_>,
        theirs_changes: Vec<Difference>,
        ours_changes: Vec<Difference>,
    ) -> Result<Plan> {
        let mut collections: BTreeMap<String, Sided> = BTreeMap::new();
        let mut side = |list: Vec<Collection>, which: fn(&mut Sided) -> &mut Option<Collection>| {
            for collection in list {
                let entry = collections.entry(collection.name.clone()).or_insert(Sided {
                    base: None,
                    ours: None,
                    theirs: None,
                });
                *which(entry) = Some(collection);
            }
        };
        side(sides.base.collections()?, |s| &mut s.base);
        side(batch.view().collections()?, |s| &mut s.ours);
        side(sides.theirs.collections()?, |s| &mut s.theirs);
        let mut changes: BTreeMap<String, Vec<Difference>> = BTreeMap::new();
        for change in theirs_changes {
            changes.entry(change.collection.clone()).or_default().push(change);
        }
        let ours_changed = ours_changes.iter().map(|d| (d.collection.clone(), d.encoded_id.clone())).collect();
        let mut by_collection: BTreeMap<String, Vec<Difference>> = BTreeMap::new();
        for change in ours_changes {
            by_collection.entry(change.collection.clone()).or_default().push(change);
        }
        Ok(Plan { collections, changes, ours_changes: by_collection, ours_changed })
    }

    fn apply(self, strategy: Strategy, batch: &mut Batch<'_>, merged: &mut Merged) -> Result<()> {
        let no_changes = Vec::new();
        for (name, sided) in &self.collections {
            let changes = self.changes.get(name).unwrap_or(&no_changes);
            let source_changed_collection = !same_collection(&sided.base, &sided.theirs);
            match (&sided.base, &sided.ours, &sided.theirs) {
                // Neither the target nor the source has it (any more), or only
                // the target created it: nothing to bring.
                (_, None, None) | (None, Some(_), None) => {}
                // Dropped on the source: a conflict with each document the target
                // inserted or changed in it since the base.
                (Some(_), Some(ours), None) => {
                    let touched: Vec<&Difference> = self
                        .ours_changes
                        .get(name)
                        .map(|changes| changes.iter().filter(|c| c.after.is_some()).collect())
                        .unwrap_or_default();
                    if touched.is_empty() {
                        batch.drop_collection(name)?;
                        continue;
                    }
                    for change in &touched {
                        let base = change.before.as_deref().map(decode).transpose()?;
                        let ours = change.after.as_deref().map(decode).transpose()?;
                        merged.conflicts.push(conflict(name, &[base, ours, None])?);
                    }
                    match strategy {
                        Strategy::Theirs => {
                            batch.drop_collection(name)?;
                        }
                        // The target keeps the collection with what it changed;
                        // the rest goes as the source deleted it.
                        Strategy::Ours | Strategy::Fail => {
                            self.merge_documents(name, ours, changes, strategy, batch, merged, true)?;
                        }
                    }
                }
                // The target dropped it (or never had it) and the source has it.
                (base, None, Some(theirs)) => {
                    let created_by_source = base.is_none();
                    let mut wanted: Vec<&Difference> = Vec::new();
                    for change in changes {
                        if created_by_source {
                            wanted.push(change);
                        } else {
                            // Deleted by the target, changed by the source.
                            let base = change.before.as_deref().map(decode).transpose()?;
                            let theirs = change.after.as_deref().map(decode).transpose()?;
                            merged.conflicts.push(conflict(name, &[base, None, theirs])?);
                            if strategy == Strategy::Theirs {
                                wanted.push(change);
                            }
                        }
                    }
                    if created_by_source || wanted.iter().any(|c| c.after.is_some()) {
                        let collection = batch.create_collection(name, theirs.options.clone())?;
                        for index in &theirs.indexes {
                            batch.create_index(&collection, index.spec.clone())?;
                        }
                        let collection = batch.collection(name)?.ok_or_else(|| missing(name))?;
                        for change in wanted {
                            if let Some(doc) = change.after.as_deref().map(decode).transpose()? {
                                batch.put(&collection, PutKind::Insert, doc)?;
                                merged.inserted += 1;
                            }
                        }
                    }
                }
                // Both have it.
                (base, Some(ours), Some(theirs)) => {
                    if source_changed_collection {
                        self.merge_indexes(base.as_ref(), ours, theirs, batch)?;
                    }
                    let ours = batch.collection(name)?.ok_or_else(|| missing(name))?;
                    self.merge_documents(name, &ours, changes, strategy, batch, merged, false)?;
                }
            }
        }
        Ok(())
    }

    /// Indexes the source created or dropped since the base, by name.
    fn merge_indexes(
        &self,
        base: Option<&Collection>,
        ours: &Collection,
        theirs: &Collection,
        batch: &mut Batch<'_>,
    ) -> Result<()> {
        let had = |c: Option<&Collection>, name: &str| c.is_some_and(|c| c.index(name).is_some());
        for index in &theirs.indexes {
            if !had(base, &index.name) && ours.index(&index.name).is_none() {
                let collection = batch.collection(&ours.name)?.ok_or_else(|| missing(&ours.name))?;
                batch.create_index(&collection, index.spec.clone())?;
            }
        }
        for index in base.map(|b| b.indexes.as_slice()).unwrap_or_default() {
            if theirs.index(&index.name).is_none() && ours.index(&index.name).is_some() {
                let collection = batch.collection(&ours.name)?.ok_or_else(|| missing(&ours.name))?;
                batch.drop_index(&collection, &index.name);
            }
        }
        Ok(())
    }

    /// Brings the source's document changes of one collection into the target's.
    /// `source_dropped`: the source dropped the collection (its changes are the
    /// deletion of every document), and the target keeps it.
    #[allow(clippy::too_many_arguments)]
    fn merge_documents(
        &self,
        name: &str,
        ours: &Collection,
        changes: &[Difference],
        strategy: Strategy,
        batch: &mut Batch<'_>,
        merged: &mut Merged,
        source_dropped: bool,
    ) -> Result<()> {
        for change in changes {
            let ours_doc = read_doc(batch.view(), Some(ours.id), &change.encoded_id)?;
            let theirs_doc = change.after.as_deref().map(decode).transpose()?;
            let result = if !self.ours_changed.contains(&(name.to_owned(), change.encoded_id.clone())) {
                Some(theirs_doc)
            } else if source_dropped {
                // Reported with the collection; the target's version stays.
                None
            } else {
                let base_doc = change.before.as_deref().map(decode).transpose()?;
                match three_way(base_doc.as_ref(), ours_doc.as_ref(), theirs_doc.as_ref()) {
                    Outcome::Same => None,
                    Outcome::Merged(doc) => Some(Some(doc)),
                    Outcome::Conflict { fields, ours_wins, theirs_wins } => {
                        let mut found = conflict(name, &[base_doc, ours_doc.clone(), theirs_doc.clone()])?;
                        found.fields = fields;
                        merged.conflicts.push(found);
                        match strategy {
                            Strategy::Ours | Strategy::Fail => ours_wins.map(Some),
                            Strategy::Theirs => Some(theirs_wins),
                        }
                    }
                }
            };
            let Some(result) = result else { continue };
            write(batch, ours, &ours_doc, result, &change.encoded_id, merged)?;
        }
        Ok(())
    }
}

/// Writes `result` (`None`: deleted) over the target's `ours`, counting it.
fn write(
    batch: &mut Batch<'_>,
    collection: &Collection,
    ours: &Option<Document>,
    result: Option<Document>,
    encoded_id: &[u8],
    merged: &mut Merged,
) -> Result<()> {
    match (ours, result) {
        (Some(ours), Some(doc)) if bytes(ours)? == bytes(&doc)? => Ok(()),
        (Some(_), Some(doc)) => {
            merged.updated += 1;
            batch.put(collection, PutKind::Replace, doc)
        }
        (None, Some(doc)) => {
            merged.inserted += 1;
            batch.put(collection, PutKind::Insert, doc)
        }
        (Some(ours), None) => {
            merged.deleted += 1;
            let id = ours
                .get("_id")
                .cloned()
                .ok_or_else(|| Error::Store(format!("a document without _id ({encoded_id:?})")))?;
            batch.delete(collection, &id)
        }
        (None, None) => Ok(()),
    }
}

/// How a document both sides changed comes out.
#[derive(Debug, PartialEq)]
enum Outcome {
    /// The target already holds the result.
    Same,
    Merged(Document),
    /// `ours_wins`/`theirs_wins`: the result when each side wins the conflicting
    /// fields (`None`: deleted; `ours_wins` `None` also when nothing changes).
    Conflict {
        fields: Vec<String>,
        ours_wins: Option<Document>,
        theirs_wins: Option<Document>,
    },
}

/// The three-way merge of one document at the top level.
fn three_way(base: Option<&Document>, ours: Option<&Document>, theirs: Option<&Document>) -> Outcome {
    let empty = Document::new();
    match (ours, theirs) {
        (None, None) => Outcome::Same,
        (Some(o), Some(t)) if crate::value::identical_documents(o, t) => Outcome::Same,
        // Deleted by the source, changed by the target (or the other way round).
        (Some(o), None) => {
            let fields = changed_fields(base.unwrap_or(&empty), o);
            Outcome::Conflict { fields, ours_wins: None, theirs_wins: None }
        }
        (None, Some(t)) => {
            let fields = changed_fields(base.unwrap_or(&empty), t);
            Outcome::Conflict { fields, ours_wins: None, theirs_wins: Some(t.clone()) }
        }
        (Some(o), Some(t)) => {
            let base = base.unwrap_or(&empty);
            let mut result = o.clone();
            let mut conflicts = Vec::new();
            for field in union_fields(base, o, t) {
                let (b, ov, tv) = (base.get(&field), o.get(&field), t.get(&field));
                let (ours_changed, theirs_changed) = (!same(b, ov), !same(b, tv));
                if !theirs_changed {
                    continue;
                }
                if ours_changed && !same(ov, tv) {
                    conflicts.push(field);
                    continue;
                }
                set(&mut result, &field, tv);
            }
            if conflicts.is_empty() {
                return Outcome::Merged(result);
            }
            let mut theirs_wins = result.clone();
            for field in &conflicts {
                set(&mut theirs_wins, field, t.get(field));
            }
            Outcome::Conflict { fields: conflicts, ours_wins: Some(result), theirs_wins: Some(theirs_wins) }
        }
    }
}

fn set(doc: &mut Document, field: &str, value: Option<&Bson>) {
    match value {
        Some(value) => {
            doc.insert(field, value.clone());
        }
        None => {
            doc.remove(field);
        }
    }
}

/// The top-level fields of `after` that differ from `before`, or that `before` had.
fn changed_fields(before: &Document, after: &Document) -> Vec<String> {
    union_fields(before, after, after).into_iter().filter(|f| !same(before.get(f), after.get(f))).collect()
}

/// Every top-level field name of the three, each once, in first-seen order.
fn union_fields(a: &Document, b: &Document, c: &Document) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut fields = Vec::new();
    for doc in [b, c, a] {
        for key in doc.keys() {
            if seen.insert(key.clone()) {
                fields.push(key.clone());
            }
        }
    }
    fields
}

/// Whether two values are the same BSON, byte for byte (so `1` and `1.0`, or two
/// NaNs with different payloads, differ, and a NaN equals itself).
fn same(a: Option<&Bson>, b: Option<&Bson>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => crate::value::identical(a, b),
        _ => false,
    }
}

fn bytes(doc: &Document) -> Result<Vec<u8>> {
    bson::to_vec(doc).map_err(|e| Error::Store(e.to_string()))
}

/// Whether two catalog entries are the same collection with the same indexes.
fn same_collection(a: &Option<Collection>, b: &Option<Collection>) -> bool {
    match (a, b) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let names = |c: &Collection| c.indexes.iter().map(|i| i.name.clone()).collect::<Vec<_>>();
            a.id == b.id && names(a) == names(b)
        }
        _ => false,
    }
}

fn read_doc(view: &View, collection: Option<u64>, encoded_id: &[u8]) -> Result<Option<Document>> {
    match collection {
        Some(collection) => view.get_raw(collection, encoded_id)?.as_deref().map(decode).transpose(),
        None => Ok(None),
    }
}

/// A conflict over one document, given as it is at the base, on the target and on
/// the source; `fields` are those the side that kept it changed (the caller sets
/// them for a document both sides changed).
fn conflict(name: &str, [base, ours, theirs]: &[Option<Document>; 3]) -> Result<Conflict> {
    let id = [base, ours, theirs]
        .into_iter()
        .flatten()
        .find_map(|d| d.get("_id").cloned())
        .ok_or_else(|| Error::Store(format!("a conflict in {name} without an _id")))?;
    let empty = Document::new();
    let fields = match (ours, theirs) {
        (Some(o), None) => changed_fields(base.as_ref().unwrap_or(&empty), o),
        (None, Some(t)) => changed_fields(base.as_ref().unwrap_or(&empty), t),
        _ => Vec::new(),
    };
    Ok(Conflict {
        collection: name.to_owned(),
        id,
        fields,
        base: base.clone(),
        ours: ours.clone(),
        theirs: theirs.clone(),
    })
}

fn missing(name: &str) -> Error {
    Error::Store(format!("collection {name} vanished during a merge"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    #[test]
    fn top_level_fields_merge_and_conflict() {
        let base = doc! {"_id": 1, "a": 1, "b": 1, "c": 1};
        let ours = doc! {"_id": 1, "a": 2, "b": 1, "c": 1};
        let theirs = doc! {"_id": 1, "a": 1, "b": 3, "d": 4};
        assert_eq!(
            three_way(Some(&base), Some(&ours), Some(&theirs)),
            Outcome::Merged(doc! {"_id": 1, "a": 2, "b": 3, "d": 4})
        );
        let theirs = doc! {"_id": 1, "a": 5, "b": 1, "c": 1};
        let Outcome::Conflict { fields, ours_wins, theirs_wins } = three_way(Some(&base), Some(&ours), Some(&theirs))
        else {
            panic!("a conflict")
        };
        assert_eq!(fields, vec!["a".to_owned()]);
        assert_eq!(ours_wins, Some(ours.clone()));
        assert_eq!(theirs_wins, Some(theirs.clone()));
        // The same change on both sides is no conflict.
        assert_eq!(three_way(Some(&base), Some(&ours), Some(&ours)), Outcome::Same);
        // Deleted on one side, changed on the other.
        assert!(matches!(three_way(Some(&base), Some(&ours), None), Outcome::Conflict { .. }));
        // 1 and 1.0 differ.
        assert!(!same(Some(&Bson::Int32(1)), Some(&Bson::Double(1.0))));
        assert!(same(Some(&Bson::Double(f64::NAN)), Some(&Bson::Double(f64::NAN))));
    }
}
