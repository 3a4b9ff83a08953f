//! A batch: the changes one write command makes to one branch, gathered while the
//! writer lock is held, then logged as one record and applied.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet, VecDeque};

use bson::{Bson, Document};

use super::apply::{create_ddl, create_index_ddl, drop_ddl, drop_index_ddl};
use super::capped::{self, Totals};
use super::view::{Collection, View};
use crate::error::{Error, ErrorCode, Result};
use crate::index::{Index, Key, Keys};
use crate::value::order::{self, encoded};
use crate::value::show::show;
use crate::value::size::{document_size, value_size};
use crate::wal::{Ddl, Op, PutKind, Statement};

/// An index build reports its progress every this many documents.
pub const PROGRESS_EVERY: u64 = 10_000;

/// What an index build tells its caller as it goes.
pub struct IndexBuild<'a> {
    /// `done` of `total` documents scanned.
    pub progress: &'a mut dyn FnMut(u64, u64),
    /// `bytes` more held in memory (a unique index's keys seen, reported every
    /// 64 KiB); an error stops the build.
    pub hold: &'a mut dyn FnMut(usize) -> Result<()>,
}

/// What a unique index build holds per key besides the key's bytes: the hash
/// table's entry and the vector's header.
const SEEN_KEY_OVERHEAD: usize = 48;

/// How many bytes of keys a unique index build gathers before it reports them.
const HOLD_REPORT_BYTES: usize = 64 * 1024;

/// Reads see the branch's latest state with this batch's own changes on top.
pub struct Batch<'w> {
    view: View,
    next_collection: &'w mut u64,
    ops: Vec<Op>,
    /// Collections this batch created (`Some`) or dropped (`None`), by name.
    collections: HashMap<String, Option<Collection>>,
    /// The view's collections this batch looked up, by name (the view does not
    /// change: a batch of many operations reads its catalog once per name).
    looked_up: RefCell<HashMap<String, Option<Collection>>>,
    /// The last op of this batch on a document, by collection id and encoded `_id`.
    written: HashMap<(u64, Vec<u8>), usize>,
    /// The entries of unique indexes this batch added (`true`) or removed
    /// (`false`), by index id and key, then encoded `_id`: what uniqueness is
    /// checked against, on top of the view's entries.
    entries: HashMap<(u64, Vec<u8>), HashMap<Vec<u8>, bool>>,
    /// The statements of a retryable write this batch executed, with their results.
    statements: Vec<Statement>,
    /// What this batch knows of the capped collections it writes, by id.
    capped: HashMap<u64, Capping>,
    /// A statement of a multi-document transaction (which may not write capped
    /// collections).
    in_transaction: bool,
}

/// A capped collection as a batch writes it: its totals with the batch's changes,
/// and where the oldest documents still to delete are.
struct Capping {
    totals: Totals,
    limits: (u64, Option<u64>),
    /// The place in the view's insertion order up to which documents were
    /// considered for deletion, and whether the view has no more.
    place: Option<Vec<u8>>,
    view_done: bool,
    /// Documents of the view's order the batch has not yet looked at.
    queued: VecDeque<Vec<u8>>,
    /// The documents this batch inserted, oldest first: newer than the view's.
    inserted: VecDeque<Vec<u8>>,
    /// The same, to look up.
    fresh: HashSet<Vec<u8>>,
}

/// How many places of the view's insertion order a batch reads at once when it
/// deletes a capped collection's oldest documents.
const EVICTION_CHUNK: usize = 64;

impl<'w> Batch<'w> {
    pub(super) fn new(view: View, next_collection: &'w mut u64) -> Batch<'w> {
        Batch {
            view,
            next_collection,
            ops: Vec::new(),
            collections: HashMap::new(),
            looked_up: RefCell::new(HashMap::new()),
            written: HashMap::new(),
            entries: HashMap::new(),
            statements: Vec::new(),
            capped: HashMap::new(),
            in_transaction: false,
        }
    }

    /// A batch for one statement of a multi-document transaction.
    pub(super) fn for_transaction(view: View, next_collection: &'w mut u64) -> Batch<'w> {
        Batch { in_transaction: true, ..Batch::new(view, next_collection) }
    }

    pub(super) fn into_parts(self) -> (Vec<Op>, Vec<Statement>) {
        (self.ops, self.statements)
    }

    /// Records that statement `id` of a retryable write ran here, and the part of the
    /// reply a retry gives for it: the record that holds its changes holds this too.
    pub fn statement(&mut self, id: usize, result: Document) {
        let id = i32::try_from(id).unwrap_or(i32::MAX);
        self.statements.push(Statement { id, result });
    }

    /// The branch's latest state, without this batch's changes.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The collection `name`, if it exists now.
    pub fn collection(&self, name: &str) -> Result<Option<Collection>> {
        if let Some(known) = self.collections.get(name) {
            return Ok(known.clone());
        }
        if let Some(seen) = self.looked_up.borrow().get(name) {
            return Ok(seen.clone());
        }
        let found = self.view.collection(name)?;
        self.looked_up.borrow_mut().insert(name.to_owned(), found.clone());
        Ok(found)
    }

    /// Creates collection `name`; `NamespaceExists` (48) when it exists.
    pub fn create_collection(&mut self, name: &str, options: Document) -> Result<Collection> {
        if self.collection(name)?.is_some() {
            let db = &self.view.snapshot.addressed;
            return Err(Error::command(ErrorCode::NamespaceExists, format!("Collection {db}.{name} already exists.")));
        }
        let id = *self.next_collection;
        *self.next_collection += 1;
        let collection = Collection { name: name.to_owned(), id, options, indexes: Vec::new() };
        self.ops.push(Op::Ddl(create_ddl(&collection)));
        self.collections.insert(name.to_owned(), Some(collection.clone()));
        Ok(collection)
    }

    /// The collection `name`, created with default options when it does not exist
    /// (as MongoDB creates collections on first insert).
    pub fn collection_or_create(&mut self, name: &str) -> Result<Collection> {
        match self.collection(name)? {
            Some(collection) => Ok(collection),
            None => self.create_collection(name, Document::new()),
        }
    }

    /// Drops collection `name`; `false` when it does not exist.
    pub fn drop_collection(&mut self, name: &str) -> Result<bool> {
        if self.collection(name)?.is_none() {
            return Ok(false);
        }
        self.ops.push(Op::Ddl(drop_ddl(name)));
        self.collections.insert(name.to_owned(), None);
        Ok(true)
    }

    /// Drops every collection and says in the record that the database was dropped
    /// (change streams report it); `false`, writing nothing, when it has none.
    pub fn drop_database(&mut self) -> Result<bool> {
        let collections = self.view.collections()?;
        for collection in &collections {
            self.drop_collection(&collection.name)?;
        }
        if !collections.is_empty() {
            self.ops.push(Op::Ddl(Ddl::DropDatabase));
        }
        Ok(!collections.is_empty())
    }

    /// Replaces the options of collection `name` (`collMod`); `NamespaceNotFound`
    /// (26) when it does not exist.
    pub fn modify_collection(&mut self, name: &str, options: Document) -> Result<Collection> {
        let Some(collection) = self.collection(name)? else {
            let db = &self.view.snapshot.addressed;
            return Err(Error::command(ErrorCode::NamespaceNotFound, format!("ns does not exist: {db}.{name}")));
        };
        let modified = Collection { options: options.clone(), ..collection };
        self.ops.push(Op::Ddl(Ddl::ModifyCollection { name: name.to_owned(), options }));
        self.collections.insert(name.to_owned(), Some(modified.clone()));
        Ok(modified)
    }

    /// Renames collection `from` to `to`, dropping `to` first when `drop_target`. Its
    /// documents keep their collection id, so nothing is copied.
    pub fn rename_collection(&mut self, from: &str, to: &str, drop_target: bool) -> Result<()> {
        let db = self.view.snapshot.addressed.clone();
        let Some(source) = self.collection(from)? else {
            return Err(Error::command(
                ErrorCode::NamespaceNotFound,
                format!("Source collection {db}.{from} does not exist"),
            ));
        };
        if self.collection(to)?.is_some() {
            if !drop_target {
                return Err(Error::command(ErrorCode::NamespaceExists, "target namespace exists"));
            }
            self.drop_collection(to)?;
        }
        let renamed = Collection { name: to.to_owned(), ..source };
        self.ops.push(Op::Ddl(create_ddl(&renamed)));
        self.ops.push(Op::Ddl(drop_ddl(from)));
        self.collections.insert(to.to_owned(), Some(renamed));
        self.collections.insert(from.to_owned(), None);
        Ok(())
    }

    /// Adds the index `spec` (checked by [`crate::index::parse`]) to `collection`,
    /// which this batch has not written documents to. Fails, writing nothing, when
    /// a document cannot be indexed or the index is unique and two documents share
    /// a key.
    pub fn create_index(&mut self, collection: &Collection, spec: Document) -> Result<Index> {
        self.create_index_reporting(collection, spec, IndexBuild { progress: &mut |_, _| {}, hold: &mut |_| Ok(()) })
    }

    /// As [`Batch::create_index`], telling `progress(done, total)` how many of the
    /// collection's documents it has read, every [`PROGRESS_EVERY`] and at the end.
    pub fn create_index_reporting(
        &mut self,
        collection: &Collection,
        spec: Document,
        build: IndexBuild<'_>,
    ) -> Result<Index> {
        let IndexBuild { progress, hold } = build;
        let ns = format!("{}.{}", self.view.snapshot.addressed, collection.name);
        collection.refuse_view(&ns)?;
        let mut index = Index::new(*self.next_collection, spec)?;
        // The values of the keys seen, by their bytes: a Decimal128's key is its
        // nearest double's, which a different number may have too (`value::order`).
        let mut seen: HashMap<Vec<u8>, Vec<Vec<Bson>>> = HashMap::new();
        // Bytes of keys seen not yet reported to `hold`.
        let mut unreported = 0usize;
        let mut failure = None;
        let mut total = 0u64;
        self.view.scan_bytes(collection.id, None, |_, _| {
            total += 1;
            Ok(true)
        })?;
        let mut done = 0u64;
        progress(0, total);
        self.view.scan(collection.id, None, |_, doc| {
            done += 1;
            if done.is_multiple_of(PROGRESS_EVERY) {
                progress(done, total.max(done));
            }
            let keys = index.keys(&doc)?;
            index.multikey |= keys.multikey;
            if index.unique {
                for key in keys.keys {
                    let held = seen.entry(key.bytes.clone()).or_default();
                    let collation = index.collation.as_deref();
                    if held.iter().any(|values| order::all_equal_collated(values, &key.values, collation)) {
                        failure = Some(key);
                        return Ok(false);
                    }
                    let values = key.values.iter().map(|v| std::mem::size_of::<Bson>() + value_size(v)).sum::<usize>();
                    unreported += key.bytes.len() + SEEN_KEY_OVERHEAD + values;
                    held.push(key.values);
                }
                if unreported >= HOLD_REPORT_BYTES {
                    hold(std::mem::take(&mut unreported))?;
                }
            }
            Ok(true)
        })?;
        progress(done, total.max(done));
        if let Some(key) = failure {
            let err = Error::duplicate_key(&ns, &index.name, &index.pattern(), &index.key_document(&key.values));
            return Err(err.caused_by(&format!("Index build failed: Collection {ns}")));
        }
        *self.next_collection += 1;
        self.ops.push(Op::Ddl(create_index_ddl(&collection.name, &index)));
        let mut changed = collection.clone();
        changed.indexes.push(index.clone());
        self.collections.insert(collection.name.clone(), Some(changed));
        Ok(index)
    }

    /// Replaces the definition of `collection`'s index called `name` with `spec`
    /// (hidden, TTL, unique: options that leave its entries as they are).
    pub fn modify_index(&mut self, collection: &Collection, name: &str, spec: Document) -> Result<()> {
        let mut changed = collection.clone();
        for index in changed.indexes.iter_mut().filter(|i| i.name == name) {
            let multikey = index.multikey;
            *index = Index::new(index.id, spec.clone())?;
            index.multikey = multikey;
        }
        let ddl = Ddl::ModifyIndex { collection: collection.name.clone(), name: name.to_owned(), spec };
        self.ops.push(Op::Ddl(ddl));
        self.collections.insert(collection.name.clone(), Some(changed));
        Ok(())
    }

    /// Drops the index called `name` of `collection`.
    pub fn drop_index(&mut self, collection: &Collection, name: &str) {
        self.ops.push(Op::Ddl(drop_index_ddl(&collection.name, name)));
        let mut changed = collection.clone();
        changed.indexes.retain(|index| index.name != name);
        self.collections.insert(collection.name.clone(), Some(changed));
    }

    /// The document of `collection` held under `id`'s key, this batch's changes
    /// included: its `_id` may be another number with the same key (see
    /// [`Batch::held`]), so callers match it against their filter.
    pub fn get(&self, collection: &Collection, id: &Bson) -> Result<Option<Document>> {
        match self.written.get(&(collection.id, encoded(id))).map(|&i| &self.ops[i]) {
            Some(Op::Put { doc, .. }) => Ok(Some(doc.clone())),
            Some(_) => Ok(None),
            None => self.view.get(collection.id, id),
        }
    }

    /// Whether a document with `_id` `id` exists, this batch's changes included
    /// (refused as [`Batch::held`] refuses).
    pub fn contains(&self, collection: &Collection, id: &Bson) -> Result<bool> {
        Ok(self.held(collection, id)?.is_some())
    }

    /// The document whose `_id` equals `id`, this batch's changes included.
    /// Documents are stored by their `_id`'s key, in which a Decimal128 keeps a
    /// double's precision (see [`order`]): a document held under the same key
    /// whose `_id` is another number is not this one, and cannot be stored beside
    /// it, so that is refused (MongoDB would hold both). [`Batch::get`] returns
    /// whatever the key holds, for callers that match it against a filter.
    pub fn held(&self, collection: &Collection, id: &Bson) -> Result<Option<Document>> {
        let Some(doc) = self.get(collection, id)? else { return Ok(None) };
        let held = doc.get("_id").unwrap_or(&Bson::Null);
        if order::compare(held, id).is_eq() {
            return Ok(Some(doc));
        }
        Err(Error::bad_value(format!(
            "cannot store _id {} ({}) in {}.{}: the document with _id {} ({}) has the same key, and the two are \
             different numbers (branchdb keys a Decimal128 by its nearest double)",
            show(id),
            crate::value::type_name(Some(id)),
            self.view.snapshot.addressed,
            collection.name,
            show(held),
            crate::value::type_name(Some(held)),
        )))
    }

    /// Writes `doc` (which has an `_id`) as the new version of its document, as
    /// `kind` says it was written. Fails, writing nothing, when `doc` cannot be
    /// indexed or would give a unique index a key another document has (11000).
    pub fn put(&mut self, collection: &Collection, kind: PutKind, doc: Document) -> Result<()> {
        self.refuse_view(collection)?;
        self.refuse_timeseries_in_transaction(collection)?;
        let id = doc.get("_id").ok_or_else(|| Error::Internal("a document without _id reached the store".into()))?;
        let encoded_id = encoded(id);
        let capped = capped::is_capped(&collection.options);
        let old = match capped || !collection.indexes.is_empty() {
            true => self.get(collection, id)?,
            false => None,
        };
        if !collection.indexes.is_empty() {
            self.track_entries(collection, &encoded_id, old.as_ref(), Some(&doc))?;
        }
        let inserted = capped.then(|| (old.as_ref().map(document_size), document_size(&doc)));
        self.written.insert((collection.id, encoded_id.clone()), self.ops.len());
        self.ops.push(Op::Put { collection: collection.name.clone(), kind, doc });
        if let Some((before, after)) = inserted {
            let capping = self.capping(collection)?;
            capping.totals.bytes = (capping.totals.bytes + after as u64).saturating_sub(before.unwrap_or(0) as u64);
            if before.is_none() {
                capping.totals.count += 1;
                capping.fresh.insert(encoded_id.clone());
                capping.inserted.push_back(encoded_id);
                self.delete_oldest(collection)?;
            }
        }
        Ok(())
    }

    /// What the batch knows of capped collection `collection`, read from the view
    /// the first time; refused in a transaction, as MongoDB refuses it (263).
    fn capping(&mut self, collection: &Collection) -> Result<&mut Capping> {
        if self.in_transaction {
            return Err(Error::command(
                ErrorCode::OperationNotSupportedInTransaction,
                format!(
                    "Collection '{}.{}' is a capped collection. Writes in transactions are not allowed on capped collections.",
                    self.view.snapshot.addressed, collection.name
                ),
            ));
        }
        if !self.capped.contains_key(&collection.id) {
            let capping = Capping {
                totals: self.view.capped_totals(collection.id)?,
                limits: capped::limits(&collection.options),
                place: None,
                view_done: false,
                queued: VecDeque::new(),
                inserted: VecDeque::new(),
                fresh: HashSet::new(),
            };
            self.capped.insert(collection.id, capping);
        }
        self.capped.get_mut(&collection.id).ok_or_else(|| Error::Internal("capped state vanished".into()))
    }

    /// Deletes the oldest documents of capped collection `collection` while it is
    /// over its size or count: first those of the view, in insertion order, then
    /// those this batch inserted. The newest document always stays.
    fn delete_oldest(&mut self, collection: &Collection) -> Result<()> {
        loop {
            let capping = self.capping(collection)?;
            if !capping.totals.over(capping.limits) || capping.totals.count <= 1 {
                return Ok(());
            }
            let oldest = match capping.queued.pop_front() {
                // A document of the view this batch inserted again has a new place.
                Some(id) if capping.fresh.contains(&id) => continue,
                Some(id) => id,
                None if !capping.view_done => {
                    self.queue_oldest(collection)?;
                    continue;
                }
                None => match capping.inserted.pop_front() {
                    Some(id) => id,
                    None => return Ok(()),
                },
            };
            if let Some(doc) = self.get_encoded(collection, &oldest)? {
                let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                self.delete(collection, &id)?;
            }
        }
    }

    /// Queues the next documents of the view's insertion order for deletion.
    fn queue_oldest(&mut self, collection: &Collection) -> Result<()> {
        let after = self.capping(collection)?.place.clone();
        let (mut queued, mut place) = (VecDeque::new(), None);
        self.view.scan_insertion_order(collection.id, after.as_deref(), false, |at, id| {
            queued.push_back(id.to_vec());
            place = Some(at.to_vec());
            Ok(queued.len() < EVICTION_CHUNK)
        })?;
        let capping = self.capping(collection)?;
        capping.view_done = queued.len() < EVICTION_CHUNK;
        capping.place = place.or(capping.place.take());
        capping.queued = queued;
        Ok(())
    }

    /// The document of `collection` whose encoded `_id` is `encoded_id`, this
    /// batch's changes included.
    fn get_encoded(&self, collection: &Collection, encoded_id: &[u8]) -> Result<Option<Document>> {
        match self.written.get(&(collection.id, encoded_id.to_vec())).map(|&i| &self.ops[i]) {
            Some(Op::Put { doc, .. }) => Ok(Some(doc.clone())),
            Some(_) => Ok(None),
            None => self.view.get_encoded(collection.id, encoded_id),
        }
    }

    /// Refuses a transaction's write to a time series collection, as MongoDB does
    /// (263).
    fn refuse_timeseries_in_transaction(&self, collection: &Collection) -> Result<()> {
        if !self.in_transaction || !collection.options.contains_key("timeseries") {
            return Ok(());
        }
        Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            format!(
                "Cannot insert into a time-series collection in a multi-document transaction: {}.{}",
                self.view.snapshot.addressed, collection.name
            ),
        ))
    }

    /// Refuses a write of documents into a view (the commands check first; this is
    /// the floor under them).
    fn refuse_view(&self, collection: &Collection) -> Result<()> {
        match collection.view_on() {
            Some(_) => collection.refuse_view(&format!("{}.{}", self.view.snapshot.addressed, collection.name)),
            None => Ok(()),
        }
    }

    /// Deletes the document with `_id` `id`.
    pub fn delete(&mut self, collection: &Collection, id: &Bson) -> Result<()> {
        self.refuse_view(collection)?;
        self.refuse_timeseries_in_transaction(collection)?;
        let encoded_id = encoded(id);
        let capped = capped::is_capped(&collection.options);
        let unique = collection.indexes.iter().any(|index| index.unique || index.prepare_unique);
        if capped || unique {
            let old = self.get(collection, id)?;
            if unique {
                self.track_entries(collection, &encoded_id, old.as_ref(), None)?;
            }
            if let Some(old) = old.filter(|_| capped) {
                let capping = self.capping(collection)?;
                capping.totals.bytes = capping.totals.bytes.saturating_sub(document_size(&old) as u64);
                capping.totals.count = capping.totals.count.saturating_sub(1);
            }
        }
        self.written.insert((collection.id, encoded_id), self.ops.len());
        self.ops.push(Op::Delete { collection: collection.name.clone(), id: id.clone() });
        Ok(())
    }

    /// Computes a document's keys in every index of `collection` as it changes
    /// from `old` to `new` (refusing documents that cannot be indexed), checks the
    /// new keys of unique indexes, and records their entries. Records nothing
    /// when it fails.
    fn track_entries(
        &mut self,
        collection: &Collection,
        encoded_id: &[u8],
        old: Option<&Document>,
        new: Option<&Document>,
    ) -> Result<()> {
        let mut changes: Vec<(u64, Keys, Keys)> = Vec::new();
        for index in &collection.indexes {
            let after = new.map(|d| index.keys(d)).transpose()?.unwrap_or_default();
            if !index.unique && !index.prepare_unique {
                continue;
            }
            let before = old.map(|d| index.keys(d)).transpose()?.unwrap_or_default();
            for key in &after.keys {
                if !before.keys.contains(key) && self.taken(collection, index, key, encoded_id)? {
                    let ns = format!("{}.{}", self.view.snapshot.addressed, collection.name);
                    return Err(Error::duplicate_key(
                        &ns,
                        &index.name,
                        &index.pattern(),
                        &index.key_document(&key.values),
                    ));
                }
            }
            changes.push((index.id, before, after));
        }
        for (index, before, after) in changes {
            for key in before.keys {
                self.entries.entry((index, key.bytes)).or_default().insert(encoded_id.to_vec(), false);
            }
            for key in after.keys {
                self.entries.entry((index, key.bytes)).or_default().insert(encoded_id.to_vec(), true);
            }
        }
        Ok(())
    }

    /// Whether a document other than `encoded_id` has `key` in unique index
    /// `index`, this batch's changes included. A key holding a Decimal128 may be
    /// shared by a different number (see [`order`]), this one's or
    /// the other's: so a document holding the same bytes has its keys read again,
    /// and has this key only if their values compare equal.
    fn taken(&self, collection: &Collection, index: &Index, key: &Key, encoded_id: &[u8]) -> Result<bool> {
        let holds = |other: &[u8]| -> Result<bool> {
            let Some(doc) = self.get_encoded(collection, other)? else { return Ok(false) };
            let collation = index.collation.as_deref();
            let equal = |theirs: &Key| {
                theirs.bytes == key.bytes && order::all_equal_collated(&theirs.values, &key.values, collation)
            };
            Ok(index.keys(&doc)?.keys.iter().any(equal))
        };
        let mine = self.entries.get(&(index.id, key.bytes.clone()));
        for (id, _) in mine.into_iter().flatten().filter(|(id, &present)| present && id.as_slice() != encoded_id) {
            if holds(id)? {
                return Ok(true);
            }
        }
        for other in self.view.index_lookup(index.id, &key.bytes)? {
            let removed = mine.and_then(|ids| ids.get(&other)) == Some(&false);
            if other != encoded_id && !removed && holds(&other)? {
                return Ok(true);
            }
        }
        Ok(false)
    }
}
