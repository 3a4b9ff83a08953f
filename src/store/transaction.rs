//! Multi-document transactions: snapshot isolation over the versioned store.
//!
//! A transaction reads every branch as of the LSN published when it began (the
//! engine snapshot taken then holds those versions for as long as it lives). Its
//! writes go to a private overlay on that snapshot, applied there by the same code
//! that applies log records, as versions at the start LSN: so its own reads, index
//! scans and aggregations see them through the ordinary read path, and nobody
//! else sees them at all. No lock is held between statements.
//!
//! Commit takes the writer lock, checks that no document the transaction wrote
//! (and no collection it wrote to) has a version on its branch newer than the
//! start (else `WriteConflict`, 112), replays the operations through a [`Batch`]
//! on the latest state (which checks unique indexes), and appends them as one
//! record: a [`Entry::Txn`] for one branch, a [`Entry::Group`] for several (framed
//! by the log when larger than a record holds).

use std::collections::{HashMap, HashSet};
use std::ops::Bound;
use std::sync::atomic::Ordering;

use bson::Bson;

use super::apply::{self, Meta};
use super::claims::Held;
use super::engine::{Shared, Staged, Table};
use super::tables;
use super::view::{Snapshot, View};
use super::{missing_branch, read, Batch, Commit, Store};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::memory::Reservation;
use crate::namespace::{DbRef, MAIN_BRANCH};
use crate::value::order::encoded;
use crate::wal::{BranchId, Ddl, Entry, Op, PutKind, Session, Txn};

/// Collection and index ids a transaction hands out inside its overlay start
/// here, far above any the store allocates; commit allocates real ones.
const PROVISIONAL_IDS: u64 = 1 << 62;

/// The most a transaction may change, in bytes of its commit record. Its changes are
/// held in memory several times over until commit (the statements, the overlay, the
/// replay, the record), so the limit keeps one transaction's memory bounded. Past
/// [`crate::wal::MAX_PAYLOAD`], the log frames the record.
pub const TRANSACTION_LIMIT: usize = 128 * 1024 * 1024;

/// A transaction in progress.
pub struct Transaction {
    /// The published commit it reads.
    start: Commit,
    /// The documents it has written, which no other open transaction may write.
    held: Held,
    /// The engine snapshot of the start with the transaction's writes on top.
    overlay: Shared,
    /// Its changes, per branch, in the order made.
    parts: Vec<Part>,
    /// About how many bytes its record will take.
    bytes: usize,
    next_id: u64,
    /// The memory its changes take, when counted against a budget.
    memory: Option<Reservation>,
}

/// What a transaction's changes take in memory, per byte of its record: the
/// statements' operations, the overlay and the replay at commit.
const CHANGE_FOOTPRINT: usize = 3;

impl Transaction {
    /// Counts the memory the transaction's changes take in `reservation` (a
    /// statement past the budget fails with `ExceededMemoryLimit`, 146).
    pub fn count_memory_in(&mut self, reservation: Reservation) {
        self.memory = Some(reservation);
    }
}

struct Part {
    branch: BranchId,
    db: String,
    ops: Vec<Op>,
}

impl Store {
    /// Begins a transaction at the newest published commit.
    pub fn begin(&self) -> Result<Transaction> {
        let start = self.published();
        let engine = self.readable()?;
        let owner = self.next_transaction.fetch_add(1, Ordering::Relaxed);
        Ok(Transaction {
            start,
            held: Held::new(self.claims.clone(), owner),
            overlay: Shared::new(Staged::new(engine)),
            parts: Vec::new(),
            bytes: 0,
            next_id: PROVISIONAL_IDS,
            memory: None,
        })
    }

    /// The transaction's view of `target`: its state at the start with the
    /// transaction's own writes. A `~<point>` names its own past and is read as
    /// outside a transaction.
    pub fn transaction_view(&self, txn: &Transaction, target: &DbRef) -> Result<View> {
        if target.point.is_some() {
            return self.view(target, None);
        }
        let lsn = txn.start.lsn;
        let branches = read(&self.branches);
        let chain = match branches.find(&target.db, &target.branch) {
            Some(branch) if branch.base_lsn > lsn => {
                return Err(Error::command(
                    ErrorCode::SnapshotUnavailable,
                    format!(
                        "branch '{}' of database '{}' was created after the transaction began",
                        branch.name, branch.db
                    ),
                ))
            }
            Some(branch) => branches.chain(branch.id, lsn)?,
            None if target.branch == MAIN_BRANCH => Vec::new(),
            None => return Err(missing_branch(&target.db, &target.branch)),
        };
        drop(branches);
        let snapshot = Snapshot::of(target, lsn, chain);
        Ok(View::new(snapshot, Box::new(txn.overlay.clone())))
    }

    /// A cursor's snapshot again inside `txn`: a cursor the transaction opened sees
    /// its writes; one on a `~<point>` reads as outside.
    pub fn transaction_reopen(&self, txn: &Transaction, snapshot: &Snapshot) -> Result<View> {
        if snapshot.lsn != txn.start.lsn {
            return self.reopen(snapshot);
        }
        Ok(View::new(snapshot.clone(), Box::new(txn.overlay.clone())))
    }

    /// Runs one statement of `txn` against `target`: `f` reads the transaction's
    /// view and stages its changes, which are kept only when it succeeds.
    pub fn transaction_write<T>(
        &self,
        txn: &mut Transaction,
        target: &DbRef,
        f: impl FnOnce(&mut Batch<'_>) -> Result<T>,
    ) -> Result<T> {
        self.check_writable(target)?;
        if read(&self.branches).find(&target.db, &target.branch).is_none() {
            // A database's main is created, empty, by its first write, here outside
            // the transaction: an empty branch changes no reader's results.
            let mut meta = self.lock_writer_open(&|| Ok(()))?;
            let (_, created) = self.branch_for_write(&mut meta, target)?;
            drop(meta);
            if let Some(commit) = created {
                self.settle(commit, false)?;
            }
        }
        let branch = read(&self.branches).require(&target.db, &target.branch)?.id;
        let view = self.transaction_view(txn, target)?;
        let chain = view.snapshot.chain.clone();
        let mut batch = Batch::for_transaction(view, &mut txn.next_id);
        let outcome = f(&mut batch)?;
        let (ops, _) = batch.into_parts();
        if ops.is_empty() {
            return Ok(outcome);
        }
        check_ddl(txn, branch, target, &ops)?;
        let bytes = ops.iter().map(op_size).sum::<usize>();
        if let Some(memory) = &mut txn.memory {
            memory.grow(bytes.saturating_mul(CHANGE_FOOTPRINT))?;
        }
        txn.bytes += bytes;
        if txn.bytes > TRANSACTION_LIMIT {
            return Err(Error::command(
                ErrorCode::TransactionTooLarge,
                format!("Total size of the transaction's changes exceeds the limit of {} MiB", TRANSACTION_LIMIT >> 20),
            ));
        }
        claim(self, txn, target, branch, &ops)?;
        let mut scratch = txn.next_id;
        let mut overlay = txn.overlay.write();
        apply::apply_ops(&mut overlay, &chain, &target.db, branch, txn.start.lsn, &ops, &mut scratch)?;
        drop(overlay);
        match txn.parts.iter_mut().find(|part| part.branch == branch) {
            Some(part) => part.ops.extend(ops),
            None => txn.parts.push(Part { branch, db: target.db.clone(), ops }),
        }
        Ok(outcome)
    }

    /// Commits `txn` as one record carrying `session`, waiting for an fsync when
    /// `j`. A transaction that wrote nothing writes no record.
    pub fn commit_transaction(&self, mut txn: Transaction, session: Session, j: bool) -> Result<Option<Commit>> {
        let parts: Vec<Part> = std::mem::take(&mut txn.parts).into_iter().filter(|part| !part.ops.is_empty()).collect();
        if parts.is_empty() {
            return Ok(None);
        }
        let mut meta = self.lock_writer_open(&|| Ok(()))?;
        let mut txns = Vec::with_capacity(parts.len());
        for part in parts {
            txns.push(self.replay_part(&mut meta, txn.start.lsn, part)?);
        }
        txns[0].session = Some(session);
        let entry = match txns.len() {
            1 => Entry::Txn(txns.remove(0)),
            _ => Entry::Group(txns),
        };
        let commit = self.append_and_apply(&mut meta, &entry)?;
        drop(meta);
        self.settle(commit, j)?;
        Ok(Some(commit))
    }

    /// Checks one branch's changes against what committed since `start` and
    /// replays them on the branch's latest state. Called with the writer lock.
    fn replay_part(&self, meta: &mut Meta, start: Lsn, part: Part) -> Result<Txn> {
        let branch = read(&self.branches)
            .get(part.branch)
            .cloned()
            .filter(|b| b.dropped_lsn.is_none())
            .ok_or_else(|| write_conflict(&format!("a branch of database '{}' was dropped", part.db)))?;
        if branch.replaced_lsn.is_some() {
            return Err(write_conflict(&format!(
                "branch '{}' of database '{}' was reset since the transaction began",
                branch.name, branch.db
            )));
        }
        super::refuse_read_only(&branch)?;
        let chain = read(&self.branches).chain(branch.id, Lsn(u64::MAX))?;
        let target = DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: None };
        let snapshot = Snapshot::of(&target, meta.applied, chain);
        let view = View::new(snapshot, self.writer_snapshot()?);
        check_conflicts(&view, branch.id, start, &part.ops)?;
        let mut batch = Batch::new(view, &mut meta.next_collection);
        for op in part.ops {
            match op {
                Op::Ddl(Ddl::CreateCollection { name, options, .. }) => {
                    batch.create_collection(&name, options)?;
                }
                Op::Put { collection, kind, doc } => {
                    let collection = batch.collection(&collection)?.ok_or_else(|| dropped(&collection))?;
                    batch.put(&collection, kind, doc)?;
                }
                Op::Delete { collection, id } => {
                    let collection = batch.collection(&collection)?.ok_or_else(|| dropped(&collection))?;
                    batch.delete(&collection, &id)?;
                }
                Op::Ddl(Ddl::CreateIndex { collection, index }) => {
                    let collection = batch.collection(&collection)?.ok_or_else(|| dropped(&collection))?;
                    let spec = index.get_document("spec").map_err(|_| Error::Store(format!("bad index {index}")))?;
                    batch.create_index(&collection, spec.clone())?;
                }
                Op::Ddl(_) => {
                    return Err(Error::Internal("a transaction holds a DDL operation it cannot replay".into()))
                }
            }
        }
        let (ops, _) = batch.into_parts();
        Ok(Txn::new(branch.id, ops))
    }
}

/// Refuses DDL a transaction may not make: MongoDB allows creating collections,
/// and indexes on collections the same transaction created.
fn check_ddl(txn: &Transaction, branch: BranchId, target: &DbRef, ops: &[Op]) -> Result<()> {
    let earlier = txn.parts.iter().filter(|part| part.branch == branch).flat_map(|part| part.ops.iter());
    let created = |name: &str| {
        earlier.clone().chain(ops).any(|op| matches!(op, Op::Ddl(Ddl::CreateCollection { name: n, .. }) if n == name))
    };
    for op in ops {
        match op {
            Op::Ddl(Ddl::CreateCollection { .. }) | Op::Put { .. } | Op::Delete { .. } => {}
            Op::Ddl(Ddl::CreateIndex { collection, .. }) if created(collection) => {}
            Op::Ddl(Ddl::CreateIndex { collection, .. }) => {
                return Err(Error::command(
                    ErrorCode::OperationNotSupportedInTransaction,
                    format!(
                        "Cannot create new indexes on existing collection {target}.{collection} in a multi-document \
                         transaction."
                    ),
                ))
            }
            Op::Ddl(_) => {
                return Err(Error::command(
                    ErrorCode::OperationNotSupportedInTransaction,
                    "only creating collections and their indexes is allowed in a transaction",
                ))
            }
        }
    }
    Ok(())
}

/// About how many bytes `op` takes in a record.
fn op_size(op: &Op) -> usize {
    match op {
        Op::Put { collection, doc, .. } => collection.len() + crate::value::size::document_size(doc) + 16,
        Op::Delete { collection, id } => collection.len() + encoded(id).len() + 16,
        Op::Ddl(_) => 256,
    }
}

/// Claims the documents `ops` write for `txn`, and checks them against what
/// committed since it began: a document another open transaction wrote, or one
/// changed by a commit after the start, is a `WriteConflict` now rather than at
/// commit.
fn claim(store: &Store, txn: &mut Transaction, target: &DbRef, branch: BranchId, ops: &[Op]) -> Result<()> {
    let keys = ops.iter().filter_map(|op| match op {
        Op::Put { collection, doc, .. } => {
            Some((branch, collection.clone(), encoded(doc.get("_id").unwrap_or(&Bson::Null))))
        }
        Op::Delete { collection, id } => Some((branch, collection.clone(), encoded(id))),
        Op::Ddl(_) => None,
    });
    if let Err((_, collection, _)) = txn.held.claim(keys) {
        return Err(Error::command(
            ErrorCode::WriteConflict,
            format!(
                "Write conflict during plan execution and yielding is disabled: a document of {target}.{collection} \
                 is being written by another transaction"
            ),
        )
        .with_label("TransientTransactionError"));
    }
    // Inserts are checked at commit only: a document committed since the start
    // under the same `_id` is rare, and looking costs a snapshot per statement.
    let latest = store.published();
    let inserts_only = ops.iter().all(|op| matches!(op, Op::Put { kind: PutKind::Insert, .. } | Op::Ddl(_)));
    if latest.lsn == txn.start.lsn || inserts_only {
        return Ok(());
    }
    let chain = read(&store.branches).chain(branch, latest.lsn)?;
    let view = View::new(Snapshot::of(target, latest.lsn, chain), store.readable()?);
    check_conflicts(&view, branch, txn.start.lsn, ops)
}

/// Fails with `WriteConflict` when a collection `part` writes to, or a document it
/// writes, has a version on its branch newer than `start`.
fn check_conflicts(view: &View, branch: BranchId, start: Lsn, ops: &[Op]) -> Result<()> {
    let mut collections: HashSet<&str> = HashSet::new();
    let mut documents: HashSet<(&str, Vec<u8>)> = HashSet::new();
    for op in ops {
        match op {
            Op::Ddl(Ddl::CreateCollection { name, .. }) => {
                collections.insert(name);
            }
            Op::Put { collection, doc, .. } => {
                collections.insert(collection);
                documents.insert((collection, encoded(doc.get("_id").unwrap_or(&Bson::Null))));
            }
            Op::Delete { collection, id } => {
                collections.insert(collection);
                documents.insert((collection, encoded(id)));
            }
            Op::Ddl(_) => {}
        }
    }
    for name in &collections {
        let prefix = tables::catalog_prefix(&view.snapshot.db, name);
        if newer_version(view, Table::Catalog, &prefix, branch, start)? {
            return Err(write_conflict(&format!("collection {}.{name} changed", view.snapshot.addressed)));
        }
    }
    let mut ids = HashMap::new();
    for (name, id) in documents {
        // A collection created by this transaction has no documents of others.
        let collection = match ids.get(name) {
            Some(known) => *known,
            None => *ids.entry(name).or_insert(view.collection(name)?.map(|c| c.id)),
        };
        let Some(collection) = collection else { continue };
        let mut prefix = tables::id_prefix(collection);
        prefix.extend_from_slice(&id);
        if newer_version(view, Table::Docs, &prefix, branch, start)? {
            return Err(write_conflict(&format!("a document of {}.{name} changed", view.snapshot.addressed)));
        }
    }
    Ok(())
}

/// Whether the thing under `prefix` has a version on `branch` after `start`.
fn newer_version(view: &View, table: Table, prefix: &[u8], branch: BranchId, start: Lsn) -> Result<bool> {
    // Versions of a branch sort newest first: from LSN u64::MAX down to start + 1.
    let lower = tables::version_key(prefix, branch.0, Lsn(u64::MAX));
    let upper = tables::version_key(prefix, branch.0, start);
    let mut found = false;
    view.engine().scan(table, Bound::Included(&lower), Bound::Excluded(&upper), false, &mut |_, _| {
        found = true;
        Ok(false)
    })?;
    Ok(found)
}

fn write_conflict(what: &str) -> Error {
    Error::command(
        ErrorCode::WriteConflict,
        format!("Write conflict during plan execution and yielding is disabled: {what} since the transaction began"),
    )
    .with_label("TransientTransactionError")
}

fn dropped(collection: &str) -> Error {
    write_conflict(&format!("collection {collection} was dropped"))
}
