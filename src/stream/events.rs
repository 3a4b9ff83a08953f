//! Records turned into change events, as MongoDB 7.0 writes them, for one stream's
//! scope and options.
//!
//! A put says whether an insert, an update or a replacement wrote it and holds the
//! whole new document; the document before a change is the version the store holds
//! at the LSN before the record (or an earlier operation of the same record), so
//! pre- and post-images never need to be switched on. An update's description is
//! computed from the two (`describe.rs`). Catalog operations become `create`,
//! `drop`, `rename`, `createIndexes`, `dropIndexes`, `modify` and `dropDatabase`;
//! branch operations `createBranch` and `dropBranch`, and a reset the changes it
//! makes to the branch, as replacements, inserts and deletes.

use std::collections::HashMap;
use std::sync::Arc;

use bson::{doc, spec::BinarySubtype, Binary, Bson, DateTime, Document};

use super::describe::describe;
use super::feed::Published;
use super::scope::{addressed, Scope};
use super::token::{Position, Token};
use crate::error::{Error, ErrorCode, Result};
use crate::lsn::Lsn;
use crate::namespace::DbRef;
use crate::store::{Store, View};
use crate::value::order::encoded;
use crate::wal::{BranchId, BranchOp, Ddl, Entry, Op, PutKind, Session, Txn};

/// `fullDocument`: what update events carry of the document after them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FullDocument {
    /// Nothing (insert and replace events always carry it).
    Default,
    /// The document as it is when the event is read.
    UpdateLookup,
    /// The document right after the update, or null where images are off.
    WhenAvailable,
    /// The same, failing where images are off.
    Required,
}

/// `fullDocumentBeforeChange`: what update, replace and delete events carry of the
/// document before them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BeforeChange {
    Off,
    WhenAvailable,
    Required,
}

/// How a stream renders its events.
#[derive(Debug, Clone, PartialEq)]
pub struct Options {
    pub full_document: FullDocument,
    pub before_change: BeforeChange,
    /// `showExpandedEvents`: catalog events, branch events, `collectionUUID`,
    /// `operationDescription`, `disambiguatedPaths`.
    pub expanded: bool,
    /// How long after its change a document's pre- and post-images may be
    /// returned (the `changeStreamOptions` cluster parameter); `None`: as long as
    /// the store's history holds them.
    pub images_expire_after: Option<std::time::Duration>,
}

impl Options {
    /// Whether the images of a change made at `time` have expired.
    fn images_expired(&self, time: DateTime) -> bool {
        self.images_expire_after.is_some_and(|limit| {
            let age = DateTime::now().timestamp_millis().saturating_sub(time.timestamp_millis());
            age > i64::try_from(limit.as_millis()).unwrap_or(i64::MAX)
        })
    }
}

/// One event and where it is.
#[derive(Debug, Clone)]
pub struct Event {
    pub position: Position,
    pub doc: Document,
    /// An `invalidate`: the stream ends with it.
    pub invalidates: bool,
}

/// The most a reset's events may hold of each side's documents, as a merge.
const RESET_LIMIT: usize = 128 << 20;

/// What is worked out once per record, whichever stream asks first, and only when
/// a stream needs it.
#[derive(Debug, Default)]
pub struct Analysis {
    catalog: std::sync::OnceLock<Renames>,
    /// For an operation that writes a document an earlier operation of the record
    /// wrote too, that earlier operation.
    earlier: std::sync::OnceLock<HashMap<u32, u32>>,
}

/// A record's renames.
#[derive(Debug, Default)]
struct Renames {
    /// The operations that re-create a collection under a new name (a rename):
    /// the name it had, and the id of the collection it replaced, if any.
    renames: HashMap<u32, (String, Option<u64>)>,
    /// Operations that give no event: the drops a rename is made of.
    silent: Vec<u32>,
}

/// Renders records for one stream, keeping the views it opens for one batch.
pub struct Render<'a> {
    store: &'a Store,
    scope: &'a Scope,
    options: &'a Options,
    /// Views of a branch at an LSN (the state before or after a record).
    views: HashMap<(BranchId, Lsn), View>,
    /// Views of the latest state of a database branch (`updateLookup`).
    latest: HashMap<String, View>,
    /// The events of the record being rendered whose `fullDocument` is the document
    /// an operation wrote: (index in the output, operation). It is put in once all
    /// the record's events are rendered (earlier writes are pre-images of later
    /// ones), moved out of the record when no one else holds it.
    full_documents: Vec<(usize, u32)>,
}

/// A document change, before it becomes an event.
struct Change<'r> {
    kind: &'static str,
    collection: &'r str,
    id: Bson,
    after: Option<&'r Document>,
}

impl<'a> Render<'a> {
    pub fn new(store: &'a Store, scope: &'a Scope, options: &'a Options) -> Render<'a> {
        Render { store, scope, options, views: HashMap::new(), latest: HashMap::new(), full_documents: Vec::new() }
    }

    /// The events of `record` after `after`, appended to `out`. A record no one
    /// else holds gives its documents to the events instead of copies.
    pub fn events(&mut self, record: &mut Arc<Published>, after: Position, out: &mut Vec<Event>) -> Result<()> {
        if after.covers(record.lsn) || !record.concerns(self.scope) {
            return Ok(());
        }
        self.full_documents.clear();
        let published: &Published = record;
        match &published.entry {
            Entry::Txn(txn) => self.transaction(published, std::slice::from_ref(txn), after, out)?,
            Entry::Group(parts) => self.transaction(published, parts, after, out)?,
            Entry::Branch(op) => self.branch_op(published, op, after, out)?,
            Entry::Checkpoint { .. } | Entry::Seal => {}
        }
        if self.full_documents.is_empty() {
            return Ok(());
        }
        let mut put = |event: usize, doc: Option<Document>| {
            if let (Some(doc), Some(event)) = (doc, out.get_mut(event)) {
                event.doc.insert("fullDocument", doc);
            }
        };
        match Arc::get_mut(record) {
            Some(owned) => {
                for (event, op) in self.full_documents.drain(..) {
                    put(event, written_mut(&mut owned.entry, op).map(std::mem::take));
                }
            }
            None => {
                for (event, op) in self.full_documents.drain(..) {
                    put(event, written(&record.entry, op).cloned());
                }
            }
        }
        Ok(())
    }

    fn transaction(&mut self, record: &Published, parts: &[Txn], after: Position, out: &mut Vec<Event>) -> Result<()> {
        let has_ddl = parts.iter().any(|p| p.ops.iter().any(|op| matches!(op, Op::Ddl(_))));
        let empty = Renames::default();
        let analysis = match has_ddl {
            true => record.analysis.catalog.get_or_init(|| renames(self.store, record.lsn, parts)),
            false => &empty,
        };
        // A transaction's events carry its session (a retryable write's do not).
        let session = parts.first().and_then(|p| p.session.as_ref()).filter(|s| s.statements.is_empty());
        let mut index = 0u32;
        for txn in parts {
            let first = index;
            index += txn.ops.len() as u32;
            let Some(branch) = self.store.branch_by_id(txn.branch) else { continue };
            if !self.scope.holds_branch(&branch.db, &branch.name) || Position::event(record.lsn, index, 0) <= after {
                continue;
            }
            let ns_db = addressed(&branch.db, &branch.name);
            let scope = self.scope;
            let holds = |collection: &str| scope.holds(&branch.db, &branch.name, collection);
            for (offset, op) in txn.ops.iter().enumerate() {
                let i = first + offset as u32;
                if Position::event(record.lsn, i, u32::MAX) <= after || analysis.silent.contains(&i) {
                    continue;
                }
                let mut events = Vec::new();
                match op {
                    Op::Put { collection, kind, doc } if holds(collection) => {
                        let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
                        let kind = match kind {
                            PutKind::Insert => "insert",
                            PutKind::Update => "update",
                            PutKind::Replace => "replace",
                            PutKind::Unrecorded => match self.before(record, txn, parts, i, collection, &id)? {
                                Some(_) => "replace",
                                None => "insert",
                            },
                        };
                        let change = Change { kind, collection, id, after: Some(doc) };
                        if let Some((event, written)) =
                            self.document_event(record, txn, parts, i, after, &ns_db, change, session)?
                        {
                            if written {
                                self.full_documents.push((out.len(), i));
                            }
                            out.push(event);
                        }
                    }
                    Op::Delete { collection, id } if holds(collection) => {
                        let change = Change { kind: "delete", collection, id: id.clone(), after: None };
                        out.extend(
                            self.document_event(record, txn, parts, i, after, &ns_db, change, session)?.map(|e| e.0),
                        );
                    }
                    Op::Ddl(ddl) => self.catalog_event(record, txn, i, &ns_db, ddl, analysis, &mut events)?,
                    _ => {}
                }
                for (sub, (mut doc, invalidates)) in events.into_iter().enumerate() {
                    let position = Position::event(record.lsn, i, sub as u32);
                    if position <= after {
                        continue;
                    }
                    if let (Some(session), false) = (session, invalidates) {
                        doc.insert("lsid", session.lsid.clone());
                        doc.insert("txnNumber", session.txn_number);
                    }
                    out.push(finish(record, position, doc, invalidates));
                }
            }
        }
        Ok(())
    }

    /// An insert, update, replace or delete event, unless it lies at or before
    /// `after`, and whether its `fullDocument` is the operation's document (to be
    /// put in by `events`).
    #[allow(clippy::too_many_arguments)]
    fn document_event(
        &mut self,
        record: &Published,
        txn: &Txn,
        parts: &[Txn],
        op: u32,
        after_position: Position,
        ns_db: &str,
        change: Change<'_>,
        session: Option<&Session>,
    ) -> Result<Option<(Event, bool)>> {
        let position = Position::event(record.lsn, op, 0);
        if position <= after_position {
            return Ok(None);
        }
        let Change { kind, collection, id, after } = change;
        let mut event = doc! {
            "_id": Token::new(position, false).to_document(),
            "operationType": kind,
            "clusterTime": crate::wal::cluster_time(record.lsn, record.time),
            "wallTime": record.time,
        };
        if self.options.expanded {
            if let Some(uuid) = self.collection_uuid(txn.branch, record.lsn, collection)? {
                event.insert("collectionUUID", uuid);
            }
        }
        // Whether images are on matters only to the options that ask for them.
        let asks_images = (kind == "update"
            && matches!(self.options.full_document, FullDocument::WhenAvailable | FullDocument::Required))
            || (kind != "insert" && self.options.before_change != BeforeChange::Off);
        let images = !asks_images
            || (self.images_enabled(txn.branch, record.lsn, collection)? && !self.options.images_expired(record.time));
        let needs_before = kind == "update" || (kind != "insert" && self.options.before_change != BeforeChange::Off);
        let before = match needs_before {
            true => self.before(record, txn, parts, op, collection, &id)?,
            false => None,
        };
        // The operation's own document goes in once the record is rendered
        // (`events`): null holds its place.
        let written = after.is_some()
            && match (kind, self.options.full_document) {
                ("insert" | "replace", _) => true,
                ("update", FullDocument::WhenAvailable | FullDocument::Required) => images,
                _ => false,
            };
        let full = match (kind, self.options.full_document, after) {
            _ if written => Some(Bson::Null),
            ("update", FullDocument::UpdateLookup, _) => Some(self.lookup(txn.branch, collection, &id)?),
            ("update", FullDocument::WhenAvailable, Some(_)) => Some(Bson::Null),
            ("update", FullDocument::Required, _) => {
                return Err(missing_image("post-image", "fullDocument", ns_db, collection, &id));
            }
            _ => None,
        };
        if let Some(full) = full {
            event.insert("fullDocument", full);
        }
        event.insert("ns", doc! {"db": ns_db, "coll": collection});
        event.insert("documentKey", doc! {"_id": id.clone()});
        if let (Some(after), "update") = (after, kind) {
            let description = match &before {
                Some(before) => describe(before, after),
                None => describe(&doc! {"_id": id.clone()}, after),
            };
            event.insert("updateDescription", description.to_document(self.options.expanded));
        }
        if kind != "insert" {
            match (self.options.before_change, before.filter(|_| images)) {
                (BeforeChange::Off, _) => {}
                (_, Some(before)) => {
                    event.insert("fullDocumentBeforeChange", before);
                }
                (BeforeChange::WhenAvailable, None) => {
                    event.insert("fullDocumentBeforeChange", Bson::Null);
                }
                (BeforeChange::Required, None) => {
                    return Err(missing_image("pre-image", "fullDocumentBeforeChange", ns_db, collection, &id));
                }
            }
        }
        if let Some(session) = session {
            event.insert("lsid", session.lsid.clone());
            event.insert("txnNumber", session.txn_number);
        }
        Ok(Some((Event { position, doc: event, invalidates: false }, written)))
    }

    /// The events of a catalog operation, each with whether it invalidates.
    #[allow(clippy::too_many_arguments)]
    fn catalog_event(
        &mut self,
        record: &Published,
        txn: &Txn,
        op: u32,
        ns_db: &str,
        ddl: &Ddl,
        analysis: &Renames,
        events: &mut Vec<(Document, bool)>,
    ) -> Result<()> {
        let Some(branch) = self.store.branch_by_id(txn.branch) else { return Ok(()) };
        let (db, name) = (branch.db.as_str(), branch.name.as_str());
        let expanded = self.options.expanded;
        let lsn = record.lsn;
        let scope = self.scope;
        let watched = |collection: &str| matches!(scope, Scope::Collection { collection: c, .. } if c == collection);
        match ddl {
            Ddl::CreateCollection { name: to, id, .. } => match analysis.renames.get(&op) {
                Some((from, dropped)) if self.scope.holds(db, name, from) || self.scope.holds(db, name, to) => {
                    let mut event = doc! { "operationType": "rename" };
                    if expanded {
                        event.insert("collectionUUID", uuid(*id));
                    }
                    event.insert("ns", doc! {"db": ns_db, "coll": from});
                    event.insert("to", doc! {"db": ns_db, "coll": to});
                    if expanded {
                        let mut description = doc! {"to": {"db": ns_db, "coll": to}};
                        if let Some(dropped) = dropped {
                            description.insert("dropTarget", uuid(*dropped));
                        }
                        event.insert("operationDescription", description);
                    }
                    events.push((event, false));
                    if watched(from) || watched(to) {
                        events.push((doc! {"operationType": "invalidate"}, true));
                    }
                }
                Some(_) => {}
                None if expanded && self.scope.holds(db, name, to) => {
                    let created = self.view(txn.branch, lsn)?.collection(to)?;
                    let mut description = doc! {"idIndex": crate::index::id_index_spec()};
                    if let Some(created) = created.filter(|c| !c.options.is_empty()) {
                        description.extend(created.options);
                    }
                    events.push((
                        doc! {
                            "operationType": "create",
                            "collectionUUID": uuid(*id),
                            "ns": {"db": ns_db, "coll": to},
                            "nsType": "collection",
                            "operationDescription": description,
                        },
                        false,
                    ));
                }
                None => {}
            },
            Ddl::DropCollection { name: dropped } if self.scope.holds(db, name, dropped) => {
                let mut event = doc! { "operationType": "drop" };
                if expanded {
                    if let Some(uuid) = self.collection_uuid(txn.branch, lsn.prev(), dropped)? {
                        event.insert("collectionUUID", uuid);
                    }
                }
                event.insert("ns", doc! {"db": ns_db, "coll": dropped});
                events.push((event, false));
                if watched(dropped) {
                    events.push((doc! {"operationType": "invalidate"}, true));
                }
            }
            Ddl::CreateIndex { collection, index } if expanded && self.scope.holds(db, name, collection) => {
                let spec = index.get_document("spec").cloned().unwrap_or_default();
                let mut event = doc! { "operationType": "createIndexes" };
                if let Some(uuid) = self.collection_uuid(txn.branch, lsn, collection)? {
                    event.insert("collectionUUID", uuid);
                }
                event.insert("ns", doc! {"db": ns_db, "coll": collection});
                event.insert("operationDescription", doc! {"indexes": [spec]});
                events.push((event, false));
            }
            Ddl::DropIndex { collection, index } if expanded && self.scope.holds(db, name, collection) => {
                let before = self.view(txn.branch, lsn.prev())?.collection(collection)?;
                let spec = before
                    .as_ref()
                    .and_then(|c| c.index(index))
                    .map_or_else(|| doc! {"name": index}, |i| i.spec.clone());
                let mut event = doc! { "operationType": "dropIndexes" };
                if let Some(before) = &before {
                    event.insert("collectionUUID", uuid(before.id));
                }
                event.insert("ns", doc! {"db": ns_db, "coll": collection});
                event.insert("operationDescription", doc! {"indexes": [spec]});
                events.push((event, false));
            }
            Ddl::ModifyCollection { name: modified, options } if expanded && self.scope.holds(db, name, modified) => {
                let before = self.view(txn.branch, lsn.prev())?.collection(modified)?;
                let old = before.as_ref().map(|c| c.options.clone()).unwrap_or_default();
                let changed: Document = options
                    .iter()
                    .filter(|(k, v)| old.get(k.as_str()) != Some(*v))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                let mut event = doc! { "operationType": "modify" };
                if let Some(before) = &before {
                    event.insert("collectionUUID", uuid(before.id));
                }
                event.insert("ns", doc! {"db": ns_db, "coll": modified});
                event.insert("operationDescription", changed);
                event.insert("stateBeforeChange", doc! {"collectionOptions": old});
                events.push((event, false));
            }
            Ddl::ModifyIndex { collection, name: index, spec }
                if expanded && self.scope.holds(db, name, collection) =>
            {
                let before = self.view(txn.branch, lsn.prev())?.collection(collection)?;
                let old = before.as_ref().and_then(|c| c.index(index)).map(|i| i.spec.clone()).unwrap_or_default();
                let mut changed = doc! {"name": index};
                let mut previous = Document::new();
                for option in ["hidden", "expireAfterSeconds", "prepareUnique", "unique"] {
                    if spec.get(option) != old.get(option) {
                        changed.insert(option, spec.get(option).cloned().unwrap_or(Bson::Boolean(false)));
                        previous.insert(option, old.get(option).cloned().unwrap_or(Bson::Boolean(false)));
                    }
                }
                let mut event = doc! { "operationType": "modify" };
                if let Some(before) = &before {
                    event.insert("collectionUUID", uuid(before.id));
                }
                event.insert("ns", doc! {"db": ns_db, "coll": collection});
                event.insert("operationDescription", doc! {"index": changed});
                let options = before.map(|c| c.options).unwrap_or_default();
                event.insert("stateBeforeChange", doc! {"collectionOptions": options, "indexOptions": previous});
                events.push((event, false));
            }
            Ddl::DropDatabase if !matches!(self.scope, Scope::Collection { .. }) => {
                events.push((doc! {"operationType": "dropDatabase", "ns": {"db": ns_db}}, false));
                if matches!(self.scope, Scope::Database { .. }) {
                    events.push((doc! {"operationType": "invalidate"}, true));
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn branch_op(&mut self, record: &Published, op: &BranchOp, after: Position, out: &mut Vec<Event>) -> Result<()> {
        let mut events = Vec::new();
        match op {
            BranchOp::Create { db, name, parent, base_lsn, .. } if self.options.expanded => {
                let parent = parent.and_then(|p| self.store.branch_by_id(p));
                let from_parent = parent.as_ref().is_some_and(|p| self.scope.holds_branch(db, &p.name));
                if matches!(self.scope, Scope::Cluster) && self.scope.holds_branch(db, name) || from_parent {
                    let mut description = doc! {"branch": name, "baseLsn": base_lsn.0 as i64};
                    if let Some(parent) = &parent {
                        description.insert("from", addressed(db, &parent.name));
                    }
                    events.push((
                        doc! {
                            "operationType": "createBranch",
                            "ns": {"db": addressed(db, name)},
                            "operationDescription": description,
                        },
                        false,
                    ));
                }
            }
            BranchOp::Drop { id } => {
                let Some(branch) = self.store.branch_by_id(*id) else { return Ok(()) };
                if self.scope.holds_branch(&branch.db, &branch.name) {
                    if self.options.expanded {
                        let ns = doc! {"db": addressed(&branch.db, &branch.name)};
                        events.push((doc! {"operationType": "dropBranch", "ns": ns}, false));
                    }
                    if !matches!(self.scope, Scope::Cluster) {
                        events.push((doc! {"operationType": "invalidate"}, true));
                    }
                }
            }
            BranchOp::Reset { id, new_id, .. } => return self.reset(record, *id, *new_id, after, out),
            _ => {}
        }
        for (sub, (doc, invalidates)) in events.into_iter().enumerate() {
            let position = Position::event(record.lsn, 0, sub as u32);
            if position > after {
                out.push(finish(record, position, doc, invalidates));
            }
        }
        Ok(())
    }

    /// A reset's changes to the branch: every document that differs between the
    /// branch before it and after it, as an insert, a replacement or a delete.
    fn reset(
        &mut self,
        record: &Published,
        old: BranchId,
        new: BranchId,
        after: Position,
        out: &mut Vec<Event>,
    ) -> Result<()> {
        let Some(branch) = self.store.branch_by_id(new) else { return Ok(()) };
        if !self.scope.holds_branch(&branch.db, &branch.name) {
            return Ok(());
        }
        let only = match self.scope {
            Scope::Collection { collection, .. } => Some(collection.as_str()),
            _ => None,
        };
        let before = self.store.branch_view(old, record.lsn.prev())?;
        let reset = before.beside(&self.store.branch_snapshot(new, record.lsn)?);
        let differences = crate::store::diff::differences(&before, &reset, only, RESET_LIMIT)?;
        let ns_db = addressed(&branch.db, &branch.name);
        for (sub, difference) in differences.into_iter().enumerate() {
            let position = Position::event(record.lsn, 0, sub as u32);
            if position <= after || !self.scope.holds(&branch.db, &branch.name, &difference.collection) {
                continue;
            }
            let before = difference.before.as_deref().map(crate::store::decode).transpose()?;
            let after = difference.after.as_deref().map(crate::store::decode).transpose()?;
            let id = after.as_ref().or(before.as_ref()).and_then(|d| d.get("_id")).cloned().unwrap_or(Bson::Null);
            let kind = match (&before, &after) {
                (None, _) => "insert",
                (Some(_), Some(_)) => "replace",
                (Some(_), None) => "delete",
            };
            let mut event = doc! { "operationType": kind };
            if let Some(after) = after {
                event.insert("fullDocument", after);
            }
            event.insert("ns", doc! {"db": &ns_db, "coll": &difference.collection});
            event.insert("documentKey", doc! {"_id": id});
            match (self.options.before_change, before) {
                (BeforeChange::Off, _) => {}
                (_, Some(before)) if kind != "insert" && !self.options.images_expired(record.time) => {
                    event.insert("fullDocumentBeforeChange", before);
                }
                _ => {}
            }
            out.push(finish(record, position, event, false));
        }
        Ok(())
    }

    /// The document as it was before operation `op` of the record: written by an
    /// earlier operation of it, or the version before the record.
    fn before(
        &mut self,
        record: &Published,
        txn: &Txn,
        parts: &[Txn],
        op: u32,
        collection: &str,
        id: &Bson,
    ) -> Result<Option<Document>> {
        let earlier = record.analysis.earlier.get_or_init(|| repeated_writes(parts));
        if let Some(earlier) = earlier.get(&op) {
            return Ok(match op_at(parts, *earlier) {
                Some(Op::Put { doc, .. }) => Some(doc.clone()),
                _ => None,
            });
        }
        let view = self.view(txn.branch, record.lsn.prev())?;
        match view.collection(collection)? {
            Some(c) => view.get(c.id, id),
            None => Ok(None),
        }
    }

    /// The document as it is now on the branch (`updateLookup`), or null.
    fn lookup(&mut self, branch: BranchId, collection: &str, id: &Bson) -> Result<Bson> {
        let Some(branch) = self.store.branch_by_id(branch) else { return Ok(Bson::Null) };
        let key = addressed(&branch.db, &branch.name);
        let view = match self.latest.entry(key) {
            std::collections::hash_map::Entry::Occupied(view) => view.into_mut(),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let target = DbRef { db: branch.db.clone(), branch: branch.name.clone(), point: None };
                match self.store.view(&target, None) {
                    Ok(view) => slot.insert(view),
                    Err(_) => return Ok(Bson::Null),
                }
            }
        };
        Ok(match view.collection(collection)? {
            Some(c) => view.get(c.id, id)?.map_or(Bson::Null, Bson::Document),
            None => Bson::Null,
        })
    }

    /// Whether the collection keeps pre- and post-images for change streams: yes
    /// unless its `changeStreamPreAndPostImages` says `{enabled: false}`.
    fn images_enabled(&mut self, branch: BranchId, lsn: Lsn, collection: &str) -> Result<bool> {
        let view = self.view(branch, lsn)?;
        Ok(view.collection(collection)?.is_none_or(|c| {
            c.options.get_document("changeStreamPreAndPostImages").ok().and_then(|o| o.get_bool("enabled").ok())
                != Some(false)
        }))
    }

    fn collection_uuid(&mut self, branch: BranchId, lsn: Lsn, collection: &str) -> Result<Option<Binary>> {
        Ok(self.view(branch, lsn)?.collection(collection)?.map(|c| uuid(c.id)))
    }

    fn view(&mut self, branch: BranchId, lsn: Lsn) -> Result<&View> {
        match self.views.entry((branch, lsn)) {
            std::collections::hash_map::Entry::Occupied(view) => Ok(view.into_mut()),
            std::collections::hash_map::Entry::Vacant(slot) => {
                let view = self.store.branch_view(branch, lsn).map_err(history_lost)?;
                Ok(slot.insert(view))
            }
        }
    }
}

/// Adds the fields every event has: `_id` (its resume token), `clusterTime`,
/// `wallTime`, after `operationType`.
fn finish(record: &Published, position: Position, body: Document, invalidates: bool) -> Event {
    let token = Token::new(position, invalidates).to_document();
    let mut doc = doc! { "_id": token };
    let mut fields = body.into_iter();
    if let Some((name, value)) = fields.next() {
        doc.insert(name, value);
    }
    doc.insert("clusterTime", crate::wal::cluster_time(record.lsn, record.time));
    doc.insert("wallTime", record.time);
    doc.extend(fields);
    Event { position, doc, invalidates }
}

/// A collection's `collectionUUID`: its id (unique across the server) as a UUID.
pub fn uuid(collection: u64) -> Binary {
    let mut bytes = *b"branchdb\0\0\0\0\0\0\0\0";
    bytes[8..].copy_from_slice(&collection.to_be_bytes());
    Binary { subtype: BinarySubtype::Uuid, bytes: bytes.to_vec() }
}

fn missing_image(what: &str, option: &str, db: &str, collection: &str, id: &Bson) -> Error {
    Error::command(
        ErrorCode::NoMatchingDocument,
        format!(
            "Change stream was configured to require a {what} for all events ({option}: 'required'), but the \
             {what} of document {{_id: {id}}} in {db}.{collection} is not available: the collection's \
             changeStreamPreAndPostImages is {{enabled: false}}"
        ),
    )
}

/// A state no longer retained becomes `ChangeStreamHistoryLost` (286).
fn history_lost(e: Error) -> Error {
    match e.code() {
        ErrorCode::SnapshotTooOld | ErrorCode::NamespaceNotFound => Error::command(
            ErrorCode::ChangeStreamHistoryLost,
            format!("the change stream's history is no longer retained: {e}"),
        ),
        _ => e,
    }
}

/// The operation at global index `index` of a record's parts.
fn op_at(parts: &[Txn], index: u32) -> Option<&Op> {
    let (part, index) = locate(parts.iter().map(|txn| txn.ops.len()), index)?;
    parts[part].ops.get(index)
}

/// The document operation `op` of a record writes.
fn written(entry: &Entry, op: u32) -> Option<&Document> {
    let parts = match entry {
        Entry::Txn(txn) => std::slice::from_ref(txn),
        Entry::Group(parts) => parts.as_slice(),
        _ => return None,
    };
    match op_at(parts, op) {
        Some(Op::Put { doc, .. }) => Some(doc),
        _ => None,
    }
}

/// [`written`], to take it.
fn written_mut(entry: &mut Entry, op: u32) -> Option<&mut Document> {
    let parts = match entry {
        Entry::Txn(txn) => std::slice::from_mut(txn),
        Entry::Group(parts) => parts.as_mut_slice(),
        _ => return None,
    };
    let (part, index) = locate(parts.iter().map(|txn| txn.ops.len()), op)?;
    match parts[part].ops.get_mut(index) {
        Some(Op::Put { doc, .. }) => Some(doc),
        _ => None,
    }
}

/// Which part of a record, and which operation of it, global index `op` is.
fn locate(lengths: impl Iterator<Item = usize>, op: u32) -> Option<(usize, usize)> {
    let mut index = op as usize;
    for (part, len) in lengths.enumerate() {
        if index < len {
            return Some((part, index));
        }
        index -= len;
    }
    None
}

/// For each operation of a record that writes a document an earlier operation
/// wrote too, that earlier operation.
fn repeated_writes(parts: &[Txn]) -> HashMap<u32, u32> {
    let mut earlier = HashMap::new();
    if parts.iter().map(|p| p.ops.len()).sum::<usize>() < 2 {
        return earlier;
    }
    let mut last_writer: HashMap<(usize, &str, Vec<u8>), u32> = HashMap::new();
    let mut index = 0u32;
    for (part, txn) in parts.iter().enumerate() {
        for op in &txn.ops {
            let written = match op {
                Op::Put { collection, doc, .. } => Some((collection, encoded(doc.get("_id").unwrap_or(&Bson::Null)))),
                Op::Delete { collection, id } => Some((collection, encoded(id))),
                Op::Ddl(_) => None,
            };
            if let Some((collection, id)) = written {
                if let Some(previous) = last_writer.insert((part, collection.as_str(), id), index) {
                    earlier.insert(index, previous);
                }
            }
            index += 1;
        }
    }
    earlier
}

/// Works out a record's renames.
fn renames(store: &Store, lsn: Lsn, parts: &[Txn]) -> Renames {
    let mut analysis = Renames::default();
    let mut index = 0u32;
    for txn in parts {
        let first = index;
        index += txn.ops.len() as u32;
        let mut before = None;
        for (offset, op) in txn.ops.iter().enumerate() {
            let i = first + offset as u32;
            let Op::Ddl(Ddl::CreateCollection { name: to, id, .. }) = op else { continue };
            // A rename re-creates the collection with its id; the drop of its old
            // name follows it, the drop of a replaced target precedes it.
            let view = match &before {
                Some(view) => view,
                None => match store.branch_view(txn.branch, lsn.prev()) {
                    Ok(view) => before.insert(view),
                    Err(_) => continue,
                },
            };
            let id_of = |name: &str| view.collection(name).ok().flatten().map(|c| c.id);
            let from = txn.ops[offset + 1..].iter().enumerate().find_map(|(k, op)| match op {
                Op::Ddl(Ddl::DropCollection { name }) if id_of(name) == Some(*id) => Some((k, name.clone())),
                _ => None,
            });
            let Some((k, from)) = from else { continue };
            analysis.silent.push(i + 1 + k as u32);
            let target = offset
                .checked_sub(1)
                .filter(|&p| matches!(&txn.ops[p], Op::Ddl(Ddl::DropCollection { name }) if name == to));
            let dropped = target.and_then(|p| {
                analysis.silent.push(first + p as u32);
                id_of(to)
            });
            analysis.renames.insert(i, (from, dropped));
        }
    }
    analysis
}
