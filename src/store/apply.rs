//! Applying log records to the store: the one place where the materialized state
//! changes, used alike by live writes and by replay after a restart.

use std::collections::HashMap;

use bson::{doc, Bson, DateTime, Document};
use redb::{ReadableTable, WriteTransaction};

use super::branches::{Branch, Branches};
use super::tables::{self, BRANCHES, CATALOG, DOCS, META, TIMES};
use super::view::{Collection, Pick};
use crate::error::{Error, Result};
use crate::lsn::Lsn;
use crate::wal::{BranchId, BranchOp, Entry, Op, Txn};

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
    pub fn load(txn: &WriteTransaction) -> Result<Meta> {
        let table = txn.open_table(META)?;
        let get = |name: &str, default: u64| -> Result<u64> { Ok(table.get(name)?.map_or(default, |v| v.value())) };
        Ok(Meta {
            applied: Lsn(get(tables::META_APPLIED, 0)?),
            applied_time: DateTime::from_millis(get(tables::META_APPLIED_TIME, 0)? as i64),
            next_collection: get(tables::META_NEXT_COLLECTION, 1)?,
            next_branch: get(tables::META_NEXT_BRANCH, 1)?,
            horizon: Lsn(get(tables::META_HORIZON, 0)?),
        })
    }

    pub fn save(&self, txn: &WriteTransaction) -> Result<()> {
        let mut table = txn.open_table(META)?;
        table.insert(tables::META_APPLIED, self.applied.0)?;
        table.insert(tables::META_APPLIED_TIME, self.applied_time.timestamp_millis().max(0) as u64)?;
        table.insert(tables::META_NEXT_COLLECTION, self.next_collection)?;
        table.insert(tables::META_NEXT_BRANCH, self.next_branch)?;
        table.insert(tables::META_HORIZON, self.horizon.0)?;
        Ok(())
    }
}

/// Reads every branch row of the table into a registry of the live ones.
pub fn load_branches(txn: &WriteTransaction) -> Result<Branches> {
    let table = txn.open_table(BRANCHES)?;
    let mut branches = Branches::default();
    for entry in table.iter()? {
        let (id, bytes) = entry?;
        let doc = Document::from_reader(bytes.value()).map_err(|e| Error::Store(format!("bad branch row: {e}")))?;
        let branch = Branch::from_document(id.value(), &doc)?;
        if branch.dropped_lsn.is_none() {
            branches.insert(branch);
        }
    }
    Ok(branches)
}

/// Applies one record inside `txn`, updating the registry and the counters. The
/// caller saves `meta` and commits.
pub fn apply(
    txn: &WriteTransaction,
    branches: &mut Branches,
    meta: &mut Meta,
    lsn: Lsn,
    time: DateTime,
    entry: &Entry,
) -> Result<()> {
    match entry {
        Entry::Txn(t) => apply_txn(txn, branches, meta, lsn, t)?,
        Entry::Branch(BranchOp::Create { id, db, name, parent, base_lsn }) => {
            let branch = Branch {
                id: *id,
                db: db.clone(),
                name: name.clone(),
                parent: *parent,
                base_lsn: *base_lsn,
                created_lsn: lsn,
                created_at: time,
                head_lsn: lsn,
                dropped_lsn: None,
            };
            save_branch(txn, &branch)?;
            branches.insert(branch);
            meta.next_branch = meta.next_branch.max(id.0 + 1);
        }
        Entry::Branch(BranchOp::Drop { id }) => {
            let mut branch = branches.remove(*id).ok_or_else(|| missing_branch(*id))?;
            branch.dropped_lsn = Some(lsn);
            save_branch(txn, &branch)?;
        }
        Entry::Checkpoint { .. } | Entry::Seal => {}
    }
    if matches!(entry, Entry::Txn(_) | Entry::Branch(_)) {
        txn.open_table(TIMES)?.insert((time.timestamp_millis().max(0) as u64, lsn.0), ())?;
    }
    meta.applied = lsn;
    meta.applied_time = time;
    Ok(())
}

fn apply_txn(txn: &WriteTransaction, branches: &mut Branches, meta: &mut Meta, lsn: Lsn, t: &Txn) -> Result<()> {
    let branch = branches.get_mut(t.branch).ok_or_else(|| missing_branch(t.branch))?;
    branch.head_lsn = lsn;
    let db = branch.db.clone();
    save_branch(txn, branch)?;
    // The branch's latest state: its own versions, then each ancestor's to its base.
    let chain = branches.chain(t.branch, Lsn(u64::MAX))?;
    let mut catalog = txn.open_table(CATALOG)?;
    let mut docs = txn.open_table(DOCS)?;
    // Collection ids by name, as this transaction goes.
    let mut ids: HashMap<&str, Option<u64>> = HashMap::new();
    for op in &t.ops {
        match op {
            Op::Ddl(ddl) => {
                let (name, value) = ddl_version(ddl)?;
                let key = tables::version_key(&tables::catalog_prefix(&db, name), t.branch.0, lsn);
                catalog.insert(key.as_slice(), value.as_slice())?;
                let id = (!value.is_empty()).then(|| ddl.get_i64("id").unwrap_or_default() as u64);
                if let Some(id) = id {
                    meta.next_collection = meta.next_collection.max(id + 1);
                }
                ids.insert(name, id);
            }
            Op::Put { collection, doc } => {
                let id = doc.get("_id").ok_or_else(|| Error::Store("a put without _id".into()))?;
                let coll = collection_id(&catalog, &chain, &db, collection, &mut ids)?;
                let key = tables::version_key(&tables::doc_prefix(coll, id), t.branch.0, lsn);
                let bytes = bson::to_vec(doc).map_err(|e| Error::Store(e.to_string()))?;
                docs.insert(key.as_slice(), bytes.as_slice())?;
            }
            Op::Delete { collection, id } => {
                let coll = collection_id(&catalog, &chain, &db, collection, &mut ids)?;
                let key = tables::version_key(&tables::doc_prefix(coll, id), t.branch.0, lsn);
                docs.insert(key.as_slice(), &[][..])?;
            }
        }
    }
    Ok(())
}

/// The catalog value a DDL operation writes: `{create: name, id, options}` writes
/// the collection, `{drop: name}` a tombstone.
fn ddl_version(ddl: &Document) -> Result<(&str, Vec<u8>)> {
    if let Ok(name) = ddl.get_str("create") {
        let id = ddl.get_i64("id").map_err(|_| Error::Store("a create without id".into()))? as u64;
        let options = ddl.get_document("options").cloned().unwrap_or_default();
        let collection = Collection { name: name.to_owned(), id, options };
        let bytes = bson::to_vec(&collection.to_document()).map_err(|e| Error::Store(e.to_string()))?;
        return Ok((name, bytes));
    }
    if let Ok(name) = ddl.get_str("drop") {
        return Ok((name, Vec::new()));
    }
    Err(Error::Store(format!("unknown DDL operation {ddl}")))
}

/// The id of the collection `name` as the branch sees it now, looked up once per
/// transaction.
fn collection_id<'n>(
    catalog: &impl ReadableTable<&'static [u8], &'static [u8]>,
    chain: &[(BranchId, Lsn)],
    db: &str,
    name: &'n str,
    ids: &mut HashMap<&'n str, Option<u64>>,
) -> Result<u64> {
    if let Some(id) = ids.get(name) {
        return id.ok_or_else(|| Error::Store(format!("a write to dropped collection {db}.{name}")));
    }
    let prefix = tables::catalog_prefix(db, name);
    let mut pick = Pick::new(chain);
    for entry in catalog.range::<&[u8]>(prefix.as_slice()..tables::prefix_end(&prefix).as_slice())? {
        let (key, value) = entry?;
        if let Some((_, branch, lsn)) = tables::split_version_key(key.value()) {
            pick.offer(branch, lsn, value.value());
        }
    }
    let bytes = pick.into_value().ok_or_else(|| Error::Store(format!("a write to missing collection {db}.{name}")))?;
    let doc = Document::from_reader(bytes.as_slice()).map_err(|e| Error::Store(e.to_string()))?;
    let id = match doc.get("id") {
        Some(Bson::Int64(id)) => *id as u64,
        _ => return Err(Error::Store(format!("bad catalog entry for {db}.{name}"))),
    };
    ids.insert(name, Some(id));
    Ok(id)
}

fn save_branch(txn: &WriteTransaction, branch: &Branch) -> Result<()> {
    let bytes = bson::to_vec(&branch.to_document()).map_err(|e| Error::Store(e.to_string()))?;
    txn.open_table(BRANCHES)?.insert(branch.id.0, bytes.as_slice())?;
    Ok(())
}

fn missing_branch(id: BranchId) -> Error {
    Error::Store(format!("a record names branch {} which does not exist", id.0))
}

/// The DDL operation creating a collection.
pub fn create_ddl(name: &str, id: u64, options: Document) -> Document {
    doc! { "create": name, "id": id as i64, "options": options }
}

/// The DDL operation dropping a collection.
pub fn drop_ddl(name: &str) -> Document {
    doc! { "drop": name }
}
