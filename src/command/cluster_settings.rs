//! Cluster-wide settings kept as documents on `main` of `config.settings` (the
//! default read and write concerns, `rw_defaults.rs`; the user write block,
//! `write_block.rs`) and of `config.clusterParameters` (`cluster_parameters.rs`),
//! where MongoDB keeps them: written through the log like any document (so they
//! survive restarts), and cached until anything writes to `config`.

use std::sync::{Arc, Mutex};

use bson::{Bson, DateTime, Document};

use super::Invocation;
use crate::context::Context;
use crate::error::Result;
use crate::namespace::DbRef;
use crate::wal::PutKind;

/// Where the settings documents are.
pub const SETTINGS: &str = "settings";
/// Where the cluster parameters are.
pub const PARAMETERS: &str = "clusterParameters";

/// The documents of `config.settings` and `config.clusterParameters`.
#[derive(Debug, Default)]
pub struct Settings {
    settings: Vec<Document>,
    parameters: Vec<Document>,
}

impl Settings {
    /// The settings document `id`.
    pub fn get(&self, id: &str) -> Option<&Document> {
        self.settings.iter().find(|doc| doc.get_str("_id") == Ok(id))
    }

    /// The cluster parameter `name`, as last set.
    pub fn parameter(&self, name: &str) -> Option<&Document> {
        self.parameters.iter().find(|doc| doc.get_str("_id") == Ok(name))
    }
}

/// The settings as last read, and when they were.
#[derive(Default)]
pub struct Cache {
    current: Mutex<Option<(Arc<Settings>, DateTime)>>,
}

impl Cache {
    /// Forgets what was read: `config` was written.
    pub fn invalidate(&self) {
        *self.current.lock().unwrap_or_else(|p| p.into_inner()) = None;
    }

    /// The settings, and when they were read from the store.
    pub fn get(&self, context: &Context) -> Result<(Arc<Settings>, DateTime)> {
        let mut current = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(cached) = &*current {
            return Ok(cached.clone());
        }
        let read = (Arc::new(load(context)?), DateTime::now());
        *current = Some(read.clone());
        Ok(read)
    }
}

fn config() -> DbRef {
    DbRef::parse("config").expect("config is a database name")
}

fn load(context: &Context) -> Result<Settings> {
    let view = context.store.view(&config(), None)?;
    let documents = |name: &str| -> Result<Vec<Document>> {
        let Some(collection) = view.collection(name)? else { return Ok(Vec::new()) };
        let mut documents = Vec::new();
        view.scan(collection.id, None, |_, doc| {
            if matches!(doc.get("_id"), Some(Bson::String(_))) {
                documents.push(doc);
            }
            Ok(true)
        })?;
        Ok(documents)
    };
    Ok(Settings { settings: documents(SETTINGS)?, parameters: documents(PARAMETERS)? })
}

/// Writes `doc` (which has an `_id`) into `config.<collection>` in place of the
/// one with its `_id`, as the command `inv` (its write concern applies).
pub fn save(inv: &Invocation<'_>, collection: &str, doc: Document) -> Result<()> {
    let id = doc.get("_id").cloned().unwrap_or(Bson::Null);
    inv.write_to(&config(), |batch| {
        let settings = batch.collection_or_create(collection)?;
        let kind = if batch.contains(&settings, &id)? { PutKind::Replace } else { PutKind::Insert };
        batch.put(&settings, kind, doc)
    })?;
    Ok(())
}

/// The cluster time a setting changed at: after every write before it (the
/// settings document's own write comes after), so successive changes increase.
pub fn change_time(context: &Context) -> bson::Timestamp {
    let newest = context.store.operation_time();
    let now = (bson::DateTime::now().timestamp_millis() / 1000).clamp(0, i64::from(u32::MAX)) as u32;
    bson::Timestamp { time: newest.time.max(now), increment: newest.increment.wrapping_add(1) }
}
