//! A batch: the changes one write command makes to one branch, gathered while the
//! writer lock is held, then logged as one record and applied.

use std::collections::HashMap;

use bson::{Bson, Document};

use super::apply::{create_ddl, drop_ddl};
use super::keys;
use super::view::{Collection, View};
use crate::error::{Error, ErrorCode, Result};
use crate::wal::Op;

/// Reads see the branch's latest state with this batch's own changes on top.
pub struct Batch<'w> {
    view: View,
    next_collection: &'w mut u64,
    ops: Vec<Op>,
    /// Collections this batch created (`Some`) or dropped (`None`), by name.
    collections: HashMap<String, Option<Collection>>,
    /// The last op of this batch on a document, by collection id and encoded `_id`.
    written: HashMap<(u64, Vec<u8>), usize>,
}

impl<'w> Batch<'w> {
    pub(super) fn new(view: View, next_collection: &'w mut u64) -> Batch<'w> {
        Batch { view, next_collection, ops: Vec::new(), collections: HashMap::new(), written: HashMap::new() }
    }

    pub(super) fn into_ops(self) -> Vec<Op> {
        self.ops
    }

    /// The branch's latest state, without this batch's changes.
    pub fn view(&self) -> &View {
        &self.view
    }

    /// The collection `name`, if it exists now.
    pub fn collection(&self, name: &str) -> Result<Option<Collection>> {
        match self.collections.get(name) {
            Some(known) => Ok(known.clone()),
            None => self.view.collection(name),
        }
    }

    /// Creates collection `name`; `NamespaceExists` (48) when it exists.
    pub fn create_collection(&mut self, name: &str, options: Document) -> Result<Collection> {
        if self.collection(name)?.is_some() {
            let db = &self.view.snapshot.addressed;
            return Err(Error::command(ErrorCode::NamespaceExists, format!("Collection {db}.{name} already exists.")));
        }
        let id = *self.next_collection;
        *self.next_collection += 1;
        self.ops.push(Op::Ddl(create_ddl(name, id, options.clone())));
        let collection = Collection { name: name.to_owned(), id, options };
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
        self.ops.push(Op::Ddl(create_ddl(to, source.id, source.options.clone())));
        self.ops.push(Op::Ddl(drop_ddl(from)));
        self.collections.insert(to.to_owned(), Some(Collection { name: to.to_owned(), ..source }));
        self.collections.insert(from.to_owned(), None);
        Ok(())
    }

    /// The document of `collection` with `_id` `id`, this batch's changes included.
    pub fn get(&self, collection: &Collection, id: &Bson) -> Result<Option<Document>> {
        match self.written.get(&(collection.id, encoded(id))).map(|&i| &self.ops[i]) {
            Some(Op::Put { doc, .. }) => Ok(Some(doc.clone())),
            Some(_) => Ok(None),
            None => self.view.get(collection.id, id),
        }
    }

    /// Whether a document with `_id` `id` exists, this batch's changes included.
    pub fn contains(&self, collection: &Collection, id: &Bson) -> Result<bool> {
        match self.written.get(&(collection.id, encoded(id))).map(|&i| &self.ops[i]) {
            Some(op) => Ok(matches!(op, Op::Put { .. })),
            None => Ok(self.view.get(collection.id, id)?.is_some()),
        }
    }

    /// Writes `doc` (which has an `_id`) as the new version of its document.
    pub fn put(&mut self, collection: &Collection, doc: Document) -> Result<()> {
        let id = doc.get("_id").ok_or_else(|| Error::Internal("a document without _id reached the store".into()))?;
        self.written.insert((collection.id, encoded(id)), self.ops.len());
        self.ops.push(Op::Put { collection: collection.name.clone(), doc });
        Ok(())
    }

    /// Deletes the document with `_id` `id`.
    pub fn delete(&mut self, collection: &Collection, id: &Bson) {
        self.written.insert((collection.id, encoded(id)), self.ops.len());
        self.ops.push(Op::Delete { collection: collection.name.clone(), id: id.clone() });
    }
}

fn encoded(id: &Bson) -> Vec<u8> {
    let mut key = Vec::new();
    keys::encode_value(id, &mut key);
    key
}
