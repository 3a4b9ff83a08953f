//! Reading a branch as of an LSN: each document and catalog entry resolves to the
//! newest version the branch's chain of ancestors sees (DESIGN §3). Reads never
//! touch the log.

use std::ops::Bound;
use std::sync::Arc;

use bson::{Bson, Document, RawDocument};

use super::engine::{self, Table, Visit};
use super::tables::{self, ID_LEN, VERSION_SUFFIX};
use crate::error::{Error, Result};
use crate::index::Index;
use crate::lsn::Lsn;
use crate::namespace::DbRef;
use crate::wal::BranchId;

/// What a view reads: a branch of a database at an LSN, and the bounded chain of
/// branches whose versions it sees. Cheap to clone; cursors keep one between batches.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub db: String,
    pub branch: String,
    /// The database name as addressed (`shop@main~42`), for messages and `ns`.
    pub addressed: String,
    pub lsn: Lsn,
    /// A `~<point>` view: writes are refused.
    pub read_only: bool,
    /// The branch and its ancestors, each with the last LSN of its versions seen.
    /// Empty for a database that has no branch yet.
    pub(super) chain: Vec<(BranchId, Lsn)>,
}

impl Snapshot {
    /// What `target` names, read at `lsn` through `chain`; read-only when it
    /// names a point.
    pub(super) fn of(target: &DbRef, lsn: Lsn, chain: Vec<(BranchId, Lsn)>) -> Snapshot {
        Snapshot {
            db: target.db.clone(),
            branch: target.branch.clone(),
            addressed: target.to_string(),
            lsn,
            read_only: target.point.is_some(),
            chain,
        }
    }
}

/// The order a collection scan reads in: a collection's natural order is its
/// documents' `_id` order, or for a capped collection the order they were inserted
/// in; `{$natural: -1}` reads it backwards.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Natural {
    pub insertion: bool,
    pub reverse: bool,
}

impl Natural {
    /// The natural order of `collection`, forwards or backwards.
    pub fn of(collection: &Collection, reverse: bool) -> Natural {
        Natural { insertion: super::capped::is_capped(&collection.options), reverse }
    }
}

/// A collection as a view sees it.
#[derive(Debug, Clone)]
pub struct Collection {
    pub name: String,
    /// Documents are keyed by this id, so a dropped and re-created collection, or
    /// one re-created on another branch, never sees the old one's documents.
    pub id: u64,
    pub options: Document,
    /// Its secondary indexes, in the order they were created.
    pub indexes: Vec<Index>,
}

impl Collection {
    pub(super) fn to_document(&self) -> Document {
        let indexes: Vec<Document> = self.indexes.iter().map(Index::to_document).collect();
        bson::doc! { "name": &self.name, "id": self.id as i64, "options": self.options.clone(), "indexes": indexes }
    }

    pub(super) fn from_document(doc: &Document) -> Result<Collection> {
        let corrupt = || Error::Store(format!("bad catalog entry {doc}"));
        let indexes = match doc.get_array("indexes") {
            Ok(list) => list
                .iter()
                .map(|index| match index {
                    Bson::Document(index) => Index::from_document(index),
                    _ => Err(corrupt()),
                })
                .collect::<Result<_>>()?,
            Err(_) => Vec::new(),
        };
        Ok(Collection {
            name: doc.get_str("name").map_err(|_| corrupt())?.to_owned(),
            id: doc.get_i64("id").map_err(|_| corrupt())? as u64,
            options: doc.get_document("options").cloned().unwrap_or_default(),
            indexes,
        })
    }

    pub(super) fn from_slice(bytes: &[u8]) -> Result<Collection> {
        let doc = crate::value::decode(bytes).map_err(|e| Error::Store(format!("bad catalog entry: {e}")))?;
        Collection::from_document(&doc)
    }

    /// The index called `name`.
    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indexes.iter().find(|index| index.name == name)
    }

    /// The collection or view this entry reads, when it is a view (its options
    /// hold `viewOn` and `pipeline`; it has no documents of its own).
    pub fn view_on(&self) -> Option<&str> {
        self.options.get_str("viewOn").ok()
    }

    /// Refuses to write documents or indexes into a view (166), whose namespace is
    /// `ns`.
    pub fn refuse_view(&self, ns: &str) -> Result<()> {
        match self.view_on() {
            Some(_) => Err(Error::command(
                crate::error::ErrorCode::CommandNotSupportedOnView,
                format!("Namespace {ns} is a view, not a collection"),
            )),
            None => Ok(()),
        }
    }
}

/// What one walk over a collection's visible documents measured.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Measured {
    pub documents: u64,
    /// Their BSON bytes.
    pub data_bytes: u64,
    /// The bytes of their keys.
    pub key_bytes: u64,
}

/// A snapshot with a snapshot of the engine: a consistent view for one request.
/// Opening one is cheap; none is held across requests (a clone, which shares the
/// engine's snapshot, reads the same state within one).
#[derive(Clone)]
pub struct View {
    pub snapshot: Snapshot,
    engine: Arc<dyn engine::Snapshot>,
}

impl std::fmt::Debug for View {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("View").field("snapshot", &self.snapshot).finish_non_exhaustive()
    }
}

impl View {
    pub(super) fn new(snapshot: Snapshot, engine: Box<dyn engine::Snapshot>) -> View {
        View { snapshot, engine: Arc::from(engine) }
    }

    /// A view of another snapshot over the same state of the engine (the other
    /// side of a diff or a merge). The caller has checked that its history is
    /// retained.
    pub(super) fn sibling(&self, snapshot: Snapshot) -> View {
        View { snapshot, engine: self.engine.clone() }
    }

    /// A view of `snapshot` over this view's state of the engine (a `diff`
    /// cursor's other side). Check its history with [`super::Store::check_retained`]
    /// after this view was opened.
    pub fn beside(&self, snapshot: &Snapshot) -> View {
        self.sibling(snapshot.clone())
    }

    /// The engine state the view reads.
    pub(super) fn engine(&self) -> &dyn engine::Snapshot {
        &*self.engine
    }

    /// The collection called `name`, if the view has it.
    pub fn collection(&self, name: &str) -> Result<Option<Collection>> {
        let prefix = tables::catalog_prefix(&self.snapshot.db, name);
        let bytes = pick(&self.snapshot.chain, |visit| scan_prefix(&*self.engine, Table::Catalog, &prefix, visit))?;
        bytes.map(|bytes| Collection::from_slice(&bytes)).transpose()
    }

    /// Every collection of the view, by name.
    pub fn collections(&self) -> Result<Vec<Collection>> {
        let prefix = tables::database_prefix(&self.snapshot.db);
        let mut found = Vec::new();
        let scan = |visit: &mut Visit<'_>| scan_prefix(&*self.engine, Table::Catalog, &prefix, visit);
        resolve_runs(scan, &self.snapshot.chain, |_, bytes| {
            found.push(Collection::from_slice(bytes)?);
            Ok(true)
        })?;
        found.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(found)
    }

    /// The document of `collection` whose `_id` is `id`.
    pub fn get(&self, collection: u64, id: &Bson) -> Result<Option<Document>> {
        self.get_at(&tables::doc_prefix(collection, id))
    }

    /// The document of `collection` whose encoded `_id` is `encoded_id` (as index
    /// entries hold it).
    pub fn get_encoded(&self, collection: u64, encoded_id: &[u8]) -> Result<Option<Document>> {
        let mut prefix = tables::id_prefix(collection);
        prefix.extend_from_slice(encoded_id);
        self.get_at(&prefix)
    }

    fn get_at(&self, prefix: &[u8]) -> Result<Option<Document>> {
        self.get_raw_at(prefix)?.map(|bytes| decode(&bytes)).transpose()
    }

    /// The stored bytes of the document of `collection` whose encoded `_id` is
    /// `encoded_id`.
    pub fn get_raw(&self, collection: u64, encoded_id: &[u8]) -> Result<Option<Vec<u8>>> {
        let mut prefix = tables::id_prefix(collection);
        prefix.extend_from_slice(encoded_id);
        self.get_raw_at(&prefix)
    }

    fn get_raw_at(&self, prefix: &[u8]) -> Result<Option<Vec<u8>>> {
        pick(&self.snapshot.chain, |visit| scan_prefix(&*self.engine, Table::Docs, prefix, visit))
    }

    /// Calls `each` with the encoded key and `_id` of every entry of index `index`
    /// whose key lies in `[lower, upper)` (encoded keys; an empty `upper` is
    /// unbounded), in key order or, when `reverse`, the opposite, until it returns
    /// `false`.
    pub fn index_scan(
        &self,
        index: u64,
        lower: &[u8],
        upper: &[u8],
        reverse: bool,
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let start = [&tables::id_prefix(index)[..], lower].concat();
        let end = match upper.is_empty() {
            true => tables::id_prefix(index + 1),
            false => [&tables::id_prefix(index)[..], upper].concat(),
        };
        if start >= end {
            return Ok(());
        }
        let (lower, upper) = (Bound::Included(start.as_slice()), Bound::Excluded(end.as_slice()));
        let scan = |visit: &mut Visit<'_>| self.engine.scan(Table::Indexes, lower, upper, reverse, visit);
        // An entry's prefix is the index id, the key, then the `_id` its value holds.
        resolve_runs(scan, &self.snapshot.chain, |prefix, id| {
            each(&prefix[ID_LEN..prefix.len().saturating_sub(id.len())], id)
        })
    }

    /// The encoded `_id`s of the entries of index `index` with exactly the key `key`.
    pub fn index_lookup(&self, index: u64, key: &[u8]) -> Result<Vec<Vec<u8>>> {
        let mut found = Vec::new();
        self.index_scan(index, key, &tables::prefix_end(key), false, |_, id| {
            found.push(id.to_vec());
            Ok(true)
        })?;
        // Keys of one index have the same number of prefix-free parts, so no other
        // key starts with `key`: the range holds exactly its entries.
        Ok(found)
    }

    /// Calls `each` with every document of `collection` in `_id` order, with the
    /// encoded `_id` (to resume after), until it returns `false`. `after` resumes
    /// past an encoded `_id` given earlier.
    pub fn scan(
        &self,
        collection: u64,
        after: Option<&[u8]>,
        mut each: impl FnMut(&[u8], Document) -> Result<bool>,
    ) -> Result<()> {
        self.scan_bytes(collection, after, |id, bytes| each(id, decode(bytes)?))
    }

    /// Calls `each` with every document of `collection` in `order`, with its place
    /// in that order (to resume after), starting past the place `after`, until it
    /// returns `false`; `each` gets each document only when `rejects` does not
    /// reject it, and `None` for those it rejects, which are not decoded.
    pub fn scan_filtered(
        &self,
        collection: u64,
        order: Natural,
        after: Option<&[u8]>,
        rejects: impl Fn(&RawDocument) -> bool,
        mut each: impl FnMut(&[u8], Option<Document>) -> Result<bool>,
    ) -> Result<()> {
        self.scan_raw(collection, order, after, |place, bytes| {
            let raw =
                RawDocument::from_bytes(bytes).map_err(|e| Error::Store(format!("bad document in the store: {e}")))?;
            match rejects(raw) {
                true => each(place, None),
                false => each(place, Some(decode(bytes)?)),
            }
        })
    }

    /// As [`View::scan_filtered`], handing each document over as its BSON bytes.
    pub fn scan_raw(
        &self,
        collection: u64,
        order: Natural,
        after: Option<&[u8]>,
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        if !order.insertion {
            return self.scan_bytes_in(collection, after, order.reverse, each);
        }
        self.scan_insertion_order(collection, after, order.reverse, |place, id| match self.get_raw(collection, id)? {
            Some(bytes) => each(place, &bytes),
            None => Ok(true),
        })
    }

    /// Walks the documents of `collection` this view sees, counting them, their
    /// BSON bytes and their keys' bytes; `check` runs every 1,024 documents (a
    /// caller's interrupt).
    pub fn measure(&self, collection: u64, check: &mut dyn FnMut() -> Result<()>) -> Result<Measured> {
        let mut measured = Measured::default();
        self.scan_bytes(collection, None, |id, bytes| {
            measured.documents += 1;
            measured.data_bytes += bytes.len() as u64;
            measured.key_bytes += (id.len() + super::DOC_KEY_OVERHEAD) as u64;
            if measured.documents.is_multiple_of(1024) {
                check()?;
            }
            Ok(true)
        })?;
        Ok(measured)
    }

    /// As [`View::scan`], with each document as the bytes the store holds, not yet
    /// decoded (to measure them, or to check that they decode).
    pub fn scan_bytes(
        &self,
        collection: u64,
        after: Option<&[u8]>,
        each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        self.scan_bytes_in(collection, after, false, each)
    }

    /// As [`View::scan_bytes`], in `_id` order or, when `reverse`, the opposite.
    fn scan_bytes_in(
        &self,
        collection: u64,
        after: Option<&[u8]>,
        reverse: bool,
        each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let (start, end) = tables::collection_range(collection);
        self.scan_runs(Table::Docs, &start, &end, after, reverse, each)
    }

    /// Visits the runs of `table` (the versions of one thing) from `start` up to
    /// `end`, in key order or, when `reverse`, the opposite, resuming past the run
    /// whose key continues `start` with `after`. `each` gets the run's key past
    /// `start` and the newest value the view sees; `false` stops.
    pub(super) fn scan_runs(
        &self,
        table: Table,
        start: &[u8],
        end: &[u8],
        after: Option<&[u8]>,
        reverse: bool,
        mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
    ) -> Result<()> {
        let resume = after.map(|place| {
            let mut key = [start, place].concat();
            if !reverse {
                // Past every version of that run.
                key.extend_from_slice(&[0xFF; VERSION_SUFFIX]);
            }
            key
        });
        let (lower, upper) = match (&resume, reverse) {
            (Some(key), false) => (Bound::Excluded(key.as_slice()), Bound::Excluded(end)),
            (Some(key), true) => (Bound::Included(start), Bound::Excluded(key.as_slice())),
            (None, _) => (Bound::Included(start), Bound::Excluded(end)),
        };
        let scan = |visit: &mut Visit<'_>| self.engine.scan(table, lower, upper, reverse, visit);
        resolve_runs(scan, &self.snapshot.chain, |run, value| each(&run[start.len()..], value))
    }
}

/// Visits the versions whose keys start with `prefix`.
pub(super) fn scan_prefix(
    engine: &dyn engine::Snapshot,
    table: Table,
    prefix: &[u8],
    visit: &mut Visit<'_>,
) -> Result<()> {
    let end = tables::prefix_end(prefix);
    let upper = if end.is_empty() { Bound::Unbounded } else { Bound::Excluded(end.as_slice()) };
    engine.scan(table, Bound::Included(prefix), upper, false, visit)
}

/// The value of the newest version that `chain` sees among those `scan` visits
/// (the versions of one thing), or `None` for none or a tombstone.
pub(super) fn pick(
    chain: &[(BranchId, Lsn)],
    scan: impl FnOnce(&mut Visit<'_>) -> Result<()>,
) -> Result<Option<Vec<u8>>> {
    let mut pick = Pick::new(chain);
    scan(&mut |key, value| {
        if let Some((_, branch, lsn)) = tables::split_version_key(key) {
            pick.offer(branch, lsn, value);
        }
        Ok(true)
    })?;
    Ok(pick.take())
}

/// Walks the version keys `scan` visits, in order or in reverse, and for each run
/// of keys sharing a prefix (one document, one catalog name, one index entry) calls
/// `each` with the prefix and the visible value, skipping tombstones and runs the
/// chain does not see, until `each` says stop.
pub(super) fn resolve_runs(
    scan: impl FnOnce(&mut Visit<'_>) -> Result<()>,
    chain: &[(BranchId, Lsn)],
    mut each: impl FnMut(&[u8], &[u8]) -> Result<bool>,
) -> Result<()> {
    let mut run: Vec<u8> = Vec::new();
    let mut pick = Pick::new(chain);
    let mut stopped = false;
    scan(&mut |key, value| {
        let Some((prefix, branch, lsn)) = tables::split_version_key(key) else { return Ok(true) };
        if prefix != run.as_slice() {
            if let Some(bytes) = pick.take() {
                if !each(&run, &bytes)? {
                    stopped = true;
                    return Ok(false);
                }
            }
            run.clear();
            run.extend_from_slice(prefix);
        }
        pick.offer(branch, lsn, value);
        Ok(true)
    })?;
    if let Some(bytes) = pick.take().filter(|_| !stopped) {
        each(&run, &bytes)?;
    }
    Ok(())
}

/// Chooses, among the versions of one thing offered in any order, the one a chain
/// sees: the branch nearest the head of the chain that has a version within its
/// bound, and that branch's newest such version.
pub(super) struct Pick<'c> {
    chain: &'c [(BranchId, Lsn)],
    /// The chain level and LSN of the version picked so far.
    best: Option<(usize, Lsn)>,
    value: Option<Vec<u8>>,
}

impl<'c> Pick<'c> {
    pub(super) fn new(chain: &'c [(BranchId, Lsn)]) -> Pick<'c> {
        Pick { chain, best: None, value: None }
    }

    pub(super) fn offer(&mut self, branch: u64, lsn: Lsn, value: &[u8]) {
        let Some(level) = self.chain.iter().position(|(b, bound)| b.0 == branch && lsn <= *bound) else { return };
        let better = match self.best {
            None => true,
            Some((best_level, best_lsn)) => level < best_level || (level == best_level && lsn > best_lsn),
        };
        if better {
            self.best = Some((level, lsn));
            self.value = Some(value.to_vec());
        }
    }

    /// The visible value (`None` when nothing is visible or it is a tombstone),
    /// leaving the pick empty for the next run.
    pub(super) fn take(&mut self) -> Option<Vec<u8>> {
        self.best = None;
        self.value.take().filter(|v| !v.is_empty())
    }
}

/// A stored document (see [`crate::value::decode`]).
pub fn decode(bytes: &[u8]) -> Result<Document> {
    crate::value::decode(bytes).map_err(|e| Error::Store(format!("bad document in the store: {e}")))
}
