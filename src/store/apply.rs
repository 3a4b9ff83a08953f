//! Applying log records to the store: the one place where the materialized state
//! changes, used alike by live writes and by replay after a restart.

use std::collections::HashMap;

use std::ops::Bound;

use bson::{doc, Bson, DateTime, Document};

use super::branches::{Branch, Branches};
use super::capped;
use super::engine::{Snapshot, Staged, Table, Visit};
use super::tables::{self, ID_LEN};
use super::view::{decode, pick, resolve_runs, scan_prefix, Collection};
use crate::error::{Error, Result};
use crate::index::{Index, Key, Keys};
use crate::lsn::Lsn;
use crate::wal::{BranchId, BranchOp, BranchSettings, Ddl, Entry, Op, PutKind, Txn};

/// The store's counters and marks, saved in the `meta` table by every transaction
/// that applies records.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Meta {
    pub applied: Lsn,
    pub applied_time: DateTime,
    pub next_collection: u64,
    pub next_branch: u64,
    pub horizon: Lsn,
}

impl Meta {
    pub fn load(engine: &dyn Snapshot) -> Result<Meta> {
        let get = |name: &str, default: u64| -> Result<u64> {
            match engine.get(Table::Meta, name.as_bytes())? {
                Some(bytes) => Ok(u64::from_be_bytes(
                    bytes.try_into().map_err(|_| Error::Store(format!("bad counter '{name}' in the store")))?,
                )),
                None => Ok(default),
            }
        };
        Ok(Meta {
            applied: Lsn(get(tables::META_APPLIED, 0)?),
            applied_time: DateTime::from_millis(get(tables::META_APPLIED_TIME, 0)? as i64),
            next_collection: get(tables::META_NEXT_COLLECTION, 1)?,
            next_branch: get(tables::META_NEXT_BRANCH, 1)?,
            horizon: Lsn(get(tables::META_HORIZON, 0)?),
        })
    }

    pub fn save(&self, staged: &mut Staged) {
        let mut set =
            |name: &str, value: u64| staged.put(Table::Meta, name.as_bytes().to_vec(), value.to_be_bytes().to_vec());
        set(tables::META_APPLIED, self.applied.0);
        set(tables::META_APPLIED_TIME, self.applied_time.timestamp_millis().max(0) as u64);
        set(tables::META_NEXT_COLLECTION, self.next_collection);
        set(tables::META_NEXT_BRANCH, self.next_branch);
        set(tables::META_HORIZON, self.horizon.0);
    }
}

/// Reads every branch row of the table into a registry (live or not: see
/// [`Branch`]).
pub fn load_branches(engine: &dyn Snapshot) -> Result<Branches> {
    let mut branches = Branches::default();
    engine.scan(Table::Branches, Bound::Unbounded, Bound::Unbounded, false, &mut |key, bytes| {
        let (id, _) = tables::split_id(key).ok_or_else(|| Error::Store("bad branch row key".into()))?;
        let doc = crate::value::decode(bytes).map_err(|e| Error::Store(format!("bad branch row: {e}")))?;
        branches.insert(Branch::from_document(id, &doc)?);
        Ok(true)
    })?;
    Ok(branches)
}

/// Applies one record to `staged`, updating the registry and the counters. The
/// caller saves `meta` and commits.
pub fn apply(
    staged: &mut Staged,
    branches: &mut Branches,
    meta: &mut Meta,
    lsn: Lsn,
    time: DateTime,
    entry: &Entry,
) -> Result<()> {
    match entry {
        Entry::Txn(t) => apply_txn(staged, branches, meta, lsn, time, t)?,
        Entry::Group(parts) => {
            for t in parts {
                apply_txn(staged, branches, meta, lsn, time, t)?;
            }
        }
        Entry::Branch(BranchOp::Create { id, db, name, parent, base_lsn }) => {
            let branch = new_branch(*id, db, name, *parent, *base_lsn, lsn, time);
            save_branch(staged, &branch)?;
            branches.insert(branch);
            meta.next_branch = meta.next_branch.max(id.0 + 1);
            let parent = parent.map_or(Bson::Null, |p| Bson::Int64(p.0 as i64));
            save_log(staged, *id, lsn, time, doc! {"created": {"parent": parent, "base": base_lsn.0 as i64}})?;
        }
        Entry::Branch(BranchOp::Drop { id }) => {
            for branch in branches.drop_branch(*id, lsn).ok_or_else(|| missing_branch(*id))? {
                save_branch(staged, &branch)?;
            }
        }
        Entry::Branch(BranchOp::Reset { id, new_id, parent, base_lsn }) => {
            let old = branches.replace(*id, lsn).ok_or_else(|| missing_branch(*id))?;
            save_branch(staged, &old)?;
            let mut branch = new_branch(*new_id, &old.db, &old.name, Some(*parent), *base_lsn, lsn, time);
            branch.settings = old.settings.clone();
            save_branch(staged, &branch)?;
            branches.insert(branch);
            meta.next_branch = meta.next_branch.max(new_id.0 + 1);
            let reset = doc! {"reset": {"replaced": id.0 as i64, "parent": parent.0 as i64, "base": base_lsn.0 as i64}};
            save_log(staged, *new_id, lsn, time, reset)?;
        }
        Entry::Branch(BranchOp::Update { id, settings }) => {
            let branch = branches.get_mut(*id).filter(|b| b.is_live()).ok_or_else(|| missing_branch(*id))?;
            branch.settings = settings.clone();
            save_branch(staged, branch)?;
        }
        Entry::Checkpoint { .. } | Entry::Seal => {}
    }
    if matches!(entry, Entry::Txn(_) | Entry::Group(_) | Entry::Branch(_)) {
        staged.put(Table::Times, tables::time_key(time.timestamp_millis().max(0) as u64, lsn), Vec::new());
    }
    meta.applied = lsn;
    meta.applied_time = time;
    Ok(())
}

fn apply_txn(
    staged: &mut Staged,
    branches: &mut Branches,
    meta: &mut Meta,
    lsn: Lsn,
    time: DateTime,
    t: &Txn,
) -> Result<()> {
    let branch = branches.get_mut(t.branch).ok_or_else(|| missing_branch(t.branch))?;
    branch.head_lsn = lsn;
    if let Some(origin) = &t.origin {
        branch.note_merge(origin.branch, origin.lsn, lsn);
    }
    let db = branch.db.clone();
    save_branch(staged, branch)?;
    save_log(staged, t.branch, lsn, time, log_entry(t))?;
    // The branch's latest state: its own versions, then each ancestor's to its base.
    let chain = branches.chain(t.branch, Lsn(u64::MAX))?;
    apply_ops(staged, &chain, &db, t.branch, lsn, &t.ops, &mut meta.next_collection)?;
    if let Some(session) = &t.session {
        super::sessions::record(staged, session, lsn, time)?;
    }
    Ok(())
}

/// Writes the versions `ops` make on `branch` of `db` (which sees `chain`) at
/// `lsn`: a record's changes, or a transaction's statement into its private overlay.
pub fn apply_ops(
    staged: &mut Staged,
    chain: &[(BranchId, Lsn)],
    db: &str,
    branch: BranchId,
    lsn: Lsn,
    ops: &[Op],
    next_collection: &mut u64,
) -> Result<()> {
    let mut tables =
        Tables { staged, chain, db, branch: branch.0, lsn, known: HashMap::new(), changed: HashMap::new() };
    let skippable = super::superseded::skippable(ops);
    for (index, op) in ops.iter().enumerate() {
        if skippable[index] && !tables.is_capped(op)? {
            continue;
        }
        let index = u32::try_from(index).unwrap_or(u32::MAX);
        match op {
            Op::Ddl(ddl) => tables.apply_ddl(ddl, next_collection)?,
            Op::Put { collection, doc, .. } => {
                let id = doc.get("_id").ok_or_else(|| Error::Store("a put without _id".into()))?;
                tables.write_document(collection, id, Some(doc), index)?;
            }
            Op::Delete { collection, id } => tables.write_document(collection, id, None, index)?,
        }
    }
    tables.save_changed();
    Ok(())
}

/// The tables one record changes, and what it knows of the collections it names.
struct Tables<'t> {
    staged: &'t mut Staged,
    chain: &'t [(BranchId, Lsn)],
    db: &'t str,
    branch: u64,
    lsn: Lsn,
    /// Collections by name as this record goes (`None`: dropped).
    known: HashMap<String, Option<Collection>>,
    /// The `_id`s written, by collection id, as a changes row holds them.
    changed: HashMap<u64, Vec<u8>>,
}

impl Tables<'_> {
    /// Writes the changes rows of the documents written: one row per collection,
    /// each LSN's row written once. (A transaction's statements share one LSN in its
    /// private overlay, where a later statement's row replaces an earlier one's;
    /// nothing reads an overlay's rows, and its commit writes them whole.)
    fn save_changed(&mut self) {
        for (collection, ids) in std::mem::take(&mut self.changed) {
            self.staged.put(Table::Changes, tables::change_key(self.branch, collection, self.lsn), ids);
        }
    }

    /// Applies a collection or index definition.
    fn apply_ddl(&mut self, ddl: &Ddl, next_collection: &mut u64) -> Result<()> {
        match ddl {
            Ddl::CreateCollection { name, id, options, indexes } => {
                let collection = Collection {
                    name: name.clone(),
                    id: *id,
                    options: options.clone(),
                    indexes: indexes.iter().map(Index::from_document).collect::<Result<_>>()?,
                };
                *next_collection = (*next_collection).max(collection.id + 1);
                self.save_collection(collection)
            }
            Ddl::DropCollection { name } => {
                let key = tables::version_key(&tables::catalog_prefix(self.db, name), self.branch, self.lsn);
                self.staged.put(Table::Catalog, key, Vec::new());
                self.known.insert(name.clone(), None);
                Ok(())
            }
            Ddl::CreateIndex { collection, index } => {
                let mut collection = self.collection(collection)?;
                let mut index = Index::from_document(index)?;
                *next_collection = (*next_collection).max(index.id + 1);
                self.build(collection.id, &mut index)?;
                collection.indexes.push(index);
                self.save_collection(collection)
            }
            Ddl::DropIndex { collection, index } => {
                let mut collection = self.collection(collection)?;
                collection.indexes.retain(|i| i.name != *index);
                self.save_collection(collection)
            }
            Ddl::ModifyCollection { name, options } => {
                let mut collection = self.collection(name)?;
                collection.options = options.clone();
                self.save_collection(collection)
            }
            Ddl::ModifyIndex { collection, name, spec } => {
                let mut collection = self.collection(collection)?;
                for index in collection.indexes.iter_mut().filter(|i| i.name == *name) {
                    let multikey = index.multikey;
                    *index = Index::new(index.id, spec.clone())?;
                    index.multikey = multikey;
                }
                self.save_collection(collection)
            }
            Ddl::DropDatabase => Ok(()),
        }
    }

    /// Writes a new version of a collection's catalog entry.
    fn save_collection(&mut self, collection: Collection) -> Result<()> {
        let key = tables::version_key(&tables::catalog_prefix(self.db, &collection.name), self.branch, self.lsn);
        let bytes = bson::to_vec(&collection.to_document()).map_err(|e| Error::Store(e.to_string()))?;
        self.staged.put(Table::Catalog, key, bytes);
        self.known.insert(collection.name.clone(), Some(collection));
        Ok(())
    }

    /// The collection `name` as the branch sees it now, read once per record.
    fn collection(&mut self, name: &str) -> Result<Collection> {
        self.loaded(name).cloned()
    }

    /// The collection `name` as this record goes, read from the catalog once.
    fn loaded(&mut self, name: &str) -> Result<&Collection> {
        if !self.known.contains_key(name) {
            let prefix = tables::catalog_prefix(self.db, name);
            let bytes = self
                .pick(Table::Catalog, &prefix)?
                .ok_or_else(|| Error::Store(format!("a write to missing collection {}.{name}", self.db)))?;
            self.known.insert(name.to_owned(), Some(Collection::from_slice(&bytes)?));
        }
        match self.known.get(name) {
            Some(Some(collection)) => Ok(collection),
            _ => Err(Error::Store(format!("a write to dropped collection {}.{name}", self.db))),
        }
    }

    /// Whether a document write is to a capped collection (whose order rows count
    /// every write, so none is skipped).
    fn is_capped(&mut self, op: &Op) -> Result<bool> {
        match op {
            Op::Put { collection, .. } | Op::Delete { collection, .. } => {
                Ok(capped::is_capped(&self.loaded(collection)?.options))
            }
            Op::Ddl(_) => Ok(true),
        }
    }

    /// Writes a document's new version (`None`: a tombstone) and its index entries
    /// (and, in a capped collection, its place in the order), as operation `op` of
    /// the record.
    fn write_document(&mut self, name: &str, id: &Bson, doc: Option<&Document>, op: u32) -> Result<()> {
        let loaded = self.loaded(name)?;
        let (collection_id, capped, indexed) =
            (loaded.id, capped::is_capped(&loaded.options), !loaded.indexes.is_empty());
        let prefix = tables::doc_prefix(collection_id, id);
        let encoded_id = &prefix[ID_LEN..];
        tables::push_changed_id(self.changed.entry(collection_id).or_default(), encoded_id);
        let old_bytes = match capped || indexed {
            true => self.pick(Table::Docs, &prefix)?,
            false => None,
        };
        let bytes = match doc {
            Some(doc) => bson::to_vec(doc).map_err(|e| Error::Store(e.to_string()))?,
            None => Vec::new(),
        };
        if capped {
            let (before, after) = (old_bytes.as_ref().map(Vec::len), doc.map(|_| bytes.len()));
            let mut rows = capped::Rows { staged: self.staged, chain: self.chain, branch: self.branch, lsn: self.lsn };
            rows.write(collection_id, encoded_id, before, after, op)?;
        }
        if indexed {
            let mut collection = self.collection(name)?;
            let old = old_bytes.map(|bytes| decode(&bytes)).transpose()?;
            let mut flagged = false;
            for index in &mut collection.indexes {
                let before = old.as_ref().map(|d| index.keys(d)).transpose()?.unwrap_or_default();
                let after = doc.map(|d| index.keys(d)).transpose()?.unwrap_or_default();
                replace_entries(self.staged, index.id, encoded_id, &before, &after, self.branch, self.lsn)?;
                if after.multikey && !index.multikey {
                    index.multikey = true;
                    flagged = true;
                }
            }
            if flagged {
                self.save_collection(collection)?;
            }
        }
        let key = tables::version_key(&prefix, self.branch, self.lsn);
        self.staged.put(Table::Docs, key, bytes);
        Ok(())
    }

    /// The value of the newest version under `prefix` that the chain sees.
    fn pick(&self, table: Table, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        pick(self.chain, |visit| scan_prefix(&*self.staged, table, prefix, visit))
    }

    /// Adds the entries of every document the branch sees to a new index.
    fn build(&mut self, collection: u64, index: &mut Index) -> Result<()> {
        let (start, end) = tables::collection_range(collection);
        let (branch, lsn) = (self.branch, self.lsn);
        let mut built = Vec::new();
        let scan = |visit: &mut Visit<'_>| {
            self.staged.scan(Table::Docs, Bound::Included(&start), Bound::Excluded(&end), false, visit)
        };
        resolve_runs(scan, self.chain, |prefix, bytes| {
            let doc = decode(bytes)?;
            let keys = index.keys(&doc)?;
            index.multikey |= keys.multikey;
            built.push((prefix[ID_LEN..].to_vec(), keys));
            Ok(true)
        })?;
        for (encoded_id, keys) in built {
            replace_entries(self.staged, index.id, &encoded_id, &Keys::default(), &keys, branch, lsn)?;
        }
        Ok(())
    }
}

/// Tombstones the index entries a document no longer has and adds its new ones;
/// keys it keeps are not written.
fn replace_entries(
    staged: &mut Staged,
    index: u64,
    encoded_id: &[u8],
    before: &Keys,
    after: &Keys,
    branch: u64,
    lsn: Lsn,
) -> Result<()> {
    let has = |keys: &Keys, key: &Key| keys.keys.binary_search_by(|k| k.bytes.cmp(&key.bytes)).is_ok();
    for gone in before.keys.iter().filter(|k| !has(after, k)) {
        let key = tables::version_key(&tables::index_prefix(index, &gone.bytes, encoded_id), branch, lsn);
        staged.put(Table::Indexes, key, Vec::new());
    }
    for new in after.keys.iter().filter(|k| !has(before, k)) {
        let key = tables::version_key(&tables::index_prefix(index, &new.bytes, encoded_id), branch, lsn);
        staged.put(Table::Indexes, key, encoded_id.to_vec());
    }
    Ok(())
}

fn new_branch(
    id: BranchId,
    db: &str,
    name: &str,
    parent: Option<BranchId>,
    base_lsn: Lsn,
    lsn: Lsn,
    time: DateTime,
) -> Branch {
    Branch {
        id,
        db: db.to_owned(),
        name: name.to_owned(),
        parent,
        base_lsn,
        created_lsn: lsn,
        created_at: time,
        head_lsn: lsn,
        dropped_lsn: None,
        replaced_lsn: None,
        settings: BranchSettings::default(),
        merges: Vec::new(),
    }
}

/// What a record did to its branch, for `branchLog`: per collection the documents
/// inserted, updated and deleted, the collections and indexes created or dropped,
/// the session, and the merge it made.
fn log_entry(t: &Txn) -> Document {
    let mut ops = Document::new();
    let mut ddl = Vec::new();
    for op in &t.ops {
        let (collection, field) = match op {
            Op::Put { collection, kind: PutKind::Insert, .. } => (collection, "inserted"),
            Op::Put { collection, .. } => (collection, "updated"),
            Op::Delete { collection, .. } => (collection, "deleted"),
            Op::Ddl(d) => {
                ddl.push(Bson::String(describe_ddl(d)));
                continue;
            }
        };
        if !ops.contains_key(collection) {
            ops.insert(collection.clone(), doc! {"inserted": 0i64, "updated": 0i64, "deleted": 0i64});
        }
        if let Ok(counts) = ops.get_document_mut(collection) {
            let n = counts.get_i64(field).unwrap_or(0);
            counts.insert(field, n + 1);
        }
    }
    let mut entry = doc! {"ops": ops};
    if !ddl.is_empty() {
        entry.insert("ddl", ddl);
    }
    if let Some(session) = &t.session {
        entry.insert("lsid", session.lsid.clone());
        entry.insert("txnNumber", session.txn_number);
    }
    if let Some(origin) = &t.origin {
        entry.insert("merge", doc! {"source": origin.branch.0 as i64, "sourceLsn": origin.lsn.0 as i64});
    }
    entry
}

fn describe_ddl(ddl: &Ddl) -> String {
    match ddl {
        Ddl::CreateCollection { name, .. } => format!("create {name}"),
        Ddl::DropCollection { name } => format!("drop {name}"),
        Ddl::CreateIndex { collection, index } => {
            format!("createIndex {collection}.{}", index.get_str("name").unwrap_or("?"))
        }
        Ddl::DropIndex { collection, index } => format!("dropIndex {collection}.{index}"),
        Ddl::ModifyCollection { name, .. } => format!("collMod {name}"),
        Ddl::ModifyIndex { collection, name, .. } => format!("collMod {collection}.{name}"),
        Ddl::DropDatabase => "dropDatabase".into(),
    }
}

/// Writes a branch's log row for the record at `lsn`.
fn save_log(staged: &mut Staged, branch: BranchId, lsn: Lsn, time: DateTime, mut entry: Document) -> Result<()> {
    entry.insert("t", time);
    let bytes = bson::to_vec(&entry).map_err(|e| Error::Store(e.to_string()))?;
    staged.put(Table::Log, tables::log_key(branch.0, lsn), bytes);
    Ok(())
}

fn save_branch(staged: &mut Staged, branch: &Branch) -> Result<()> {
    let bytes = bson::to_vec(&branch.to_document()).map_err(|e| Error::Store(e.to_string()))?;
    staged.put(Table::Branches, tables::branch_key(branch.id.0), bytes);
    Ok(())
}

fn missing_branch(id: BranchId) -> Error {
    Error::Store(format!("a record names branch {} which does not exist", id.0))
}

/// The DDL operation creating a collection (or, for a rename, re-creating it
/// under a new name with its indexes).
pub fn create_ddl(collection: &Collection) -> Ddl {
    Ddl::CreateCollection {
        name: collection.name.clone(),
        id: collection.id,
        options: collection.options.clone(),
        indexes: collection.indexes.iter().map(Index::to_document).collect(),
    }
}

/// The DDL operation adding an index to a collection and building its entries.
pub fn create_index_ddl(collection: &str, index: &Index) -> Ddl {
    Ddl::CreateIndex { collection: collection.to_owned(), index: index.to_document() }
}

/// The DDL operation dropping an index of a collection.
pub fn drop_index_ddl(collection: &str, index: &str) -> Ddl {
    Ddl::DropIndex { collection: collection.to_owned(), index: index.to_owned() }
}

/// The DDL operation dropping a collection.
pub fn drop_ddl(name: &str) -> Ddl {
    Ddl::DropCollection { name: name.to_owned() }
}
