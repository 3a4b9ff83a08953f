//! Secondary indexes: their definitions (what `createIndexes` accepts and
//! `listIndexes` shows) and the keys they hold for a document.
//!
//! An index is part of its collection's catalog entry, so it is versioned with it:
//! a branch sees the indexes of its parent at its base, a point-in-time view the
//! indexes as they were. Its entries live in the store's `indexes` table, one
//! version per (key, `_id`), written as documents are (see `store::apply`). The
//! `_id` index is the documents table itself and is never stored here.

mod geo;
mod hashed;
mod keys;
mod spec;
pub mod usage;
mod wildcard;

use std::sync::Arc;

use bson::{doc, Bson, Document};

pub use geo::{GeoIndex, GeoKind};
pub use hashed::hash;
pub use keys::{encode_field, encode_field_collated, Key, Keys};
pub use spec::{is_descending, is_id_pattern, parse, whole_number};
pub use wildcard::Wildcard;

use crate::error::{Error, Result};
use crate::query::expr::Variables;
use crate::query::text::TextSpec;
use crate::query::Filter;
use crate::value::collation::Collation;

/// The name and key pattern of the `_id` index every collection has.
pub const ID_INDEX: &str = "_id_";

/// One field of a key pattern.
#[derive(Debug, Clone, PartialEq)]
pub struct Field {
    /// The dotted path the field indexes.
    pub path: String,
    /// `-1` in the key pattern: the field's keys are stored in reverse order.
    pub descending: bool,
    /// `"hashed"` in the key pattern: the field's keys are its values' hashes.
    pub hashed: bool,
}

/// A secondary index as its collection's catalog entry holds it.
#[derive(Debug, Clone)]
pub struct Index {
    /// Its entries are stored under this id, never reused: a dropped index's
    /// entries are garbage, and one re-created is built afresh.
    pub id: u64,
    /// The definition as `listIndexes` shows it: `{v: 2, key, name, …options}`.
    pub spec: Document,
    pub name: String,
    pub fields: Vec<Field>,
    pub unique: bool,
    /// `prepareUnique`: new keys are refused when another document has them, as
    /// in a unique index, on the way to making it one.
    pub prepare_unique: bool,
    pub sparse: bool,
    /// Only documents matching this filter are indexed.
    pub partial: Option<Filter>,
    /// A TTL index: documents whose indexed date is older than this many seconds
    /// are deleted by the expirer.
    pub expire_after_seconds: Option<i64>,
    /// Some document held an array in an indexed field (or does still): the index
    /// may hold several keys per document, so its order is not a sort order.
    pub multikey: bool,
    /// The collation its keys hold strings by (their sort keys); `None`: simple,
    /// by bytes.
    pub collation: Option<Arc<Collation>>,
    /// A text index: its keys are the terms of its documents' strings, after the
    /// values of the fields before them (see `query::text`).
    pub text: Option<Arc<TextSpec>>,
    /// A geo index (`2dsphere`, `2d`): its geo field's keys are cells.
    pub geo: Option<GeoIndex>,
    /// A wildcard index: its keys are `(path, value)` for every path it covers.
    pub wildcard: Option<Wildcard>,
}

impl Index {
    /// The index described by a parsed spec (see [`parse`]) stored as `id`.
    pub fn new(id: u64, spec: Document) -> Result<Index> {
        let corrupt = || Error::Store(format!("bad index definition {spec}"));
        let name = spec.get_str("name").map_err(|_| corrupt())?.to_owned();
        let pattern = spec.get_document("key").map_err(|_| corrupt())?;
        let fields = pattern
            .iter()
            .map(|(path, direction)| Field {
                path: path.clone(),
                descending: spec::is_descending(direction),
                hashed: direction.as_str() == Some("hashed"),
            })
            .collect();
        let partial = match spec.get_document("partialFilterExpression") {
            Ok(filter) => Some(Filter::parse_without_text(filter, &Variables::none())?),
            Err(_) => None,
        };
        let expire_after_seconds = spec.get("expireAfterSeconds").and_then(spec::whole_number);
        let collation = spec.get("collation").map(Collation::parse).transpose()?.flatten();
        let text = TextSpec::from_spec(&spec)?.map(Arc::new);
        let geo = GeoIndex::from_spec(&spec);
        let wildcard = Wildcard::from_spec(&spec);
        Ok(Index {
            id,
            name,
            fields,
            unique: spec.get_bool("unique").unwrap_or(false),
            prepare_unique: spec.get_bool("prepareUnique").unwrap_or(false),
            sparse: spec.get_bool("sparse").unwrap_or(false),
            partial,
            expire_after_seconds,
            multikey: false,
            collation,
            text,
            geo,
            wildcard,
            spec,
        })
    }

    /// The key pattern, `{a: 1, b: -1}`.
    pub fn pattern(&self) -> Document {
        self.spec.get_document("key").cloned().unwrap_or_default()
    }

    /// The form stored in the catalog entry.
    pub fn to_document(&self) -> Document {
        doc! { "id": self.id as i64, "spec": self.spec.clone(), "multikey": self.multikey }
    }

    /// The index stored in a catalog entry.
    pub fn from_document(doc: &Document) -> Result<Index> {
        let corrupt = || Error::Store(format!("bad index entry {doc}"));
        let id = doc.get_i64("id").map_err(|_| corrupt())? as u64;
        let spec = doc.get_document("spec").map_err(|_| corrupt())?.clone();
        let mut index = Index::new(id, spec)?;
        index.multikey = doc.get_bool("multikey").unwrap_or(false);
        Ok(index)
    }

    /// The `{field: value}` document of a key's values, for errors and `explain`.
    pub fn key_document(&self, values: &[Bson]) -> Document {
        self.fields.iter().zip(values).map(|(field, value)| (field.path.clone(), value.clone())).collect()
    }
}

/// The spec of the `_id` index, as `listIndexes` shows it.
pub fn id_index_spec() -> Document {
    doc! { "v": 2, "key": { "_id": 1 }, "name": ID_INDEX }
}
