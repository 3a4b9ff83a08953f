//! The keys a document has in an index (MongoDB's key generation).
//!
//! Each field of the key pattern takes the values its path reaches, arrays
//! contributing their elements (an empty array is `undefined`, a missing field
//! `null`); a document has one key per combination, so at most one field may reach
//! an array (MongoDB's "cannot index parallel arrays"). A key is the fields' values
//! in the store's order-preserving encoding, each descending field's bytes
//! inverted, so that the index's byte order is the key pattern's order.

use bson::{Bson, Document};

use super::Index;
use crate::error::{Error, ErrorCode, Result};
use crate::query::path::values_at;
use crate::query::text::TextSpec;
use crate::value::collation::Collation;

/// One key of a document.
#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    /// The value of each field of the key pattern.
    pub values: Vec<Bson>,
    /// The encoded key: what the index orders and looks up.
    pub bytes: Vec<u8>,
}

/// Every key of one document, none repeated.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Keys {
    pub keys: Vec<Key>,
    /// An indexed field reached an array.
    pub multikey: bool,
}

impl Index {
    /// The keys `doc` has in this index: none when the index is sparse and `doc`
    /// has none of its fields, or partial and `doc` does not match its filter.
    pub fn keys(&self, doc: &Document) -> Result<Keys> {
        if self.partial.as_ref().is_some_and(|filter| !filter.matches(doc)) {
            return Ok(Keys::default());
        }
        if let Some(text) = &self.text {
            return self.text_keys(text, doc);
        }
        if let Some(wildcard) = &self.wildcard {
            return wildcard.keys(self, doc);
        }
        let mut fields: Vec<(Vec<Bson>, bool)> = Vec::with_capacity(self.fields.len());
        let mut present = false;
        let mut geo_multikey = false;
        for (position, field) in self.fields.iter().enumerate() {
            if let Some(geo) = self.geo.as_ref().filter(|geo| geo.field == position) {
                // Without a value in its geo field, a document is not indexed.
                let Some(cells) = geo.keys(doc, &field.path)? else { return Ok(Keys::default()) };
                geo_multikey |= cells.len() > 1;
                fields.push((cells, false));
                continue;
            }
            let (values, reached, through_array) = field_values(doc, &field.path);
            present |= reached;
            if field.hashed {
                if through_array || meets_array(doc, &field.path) {
                    return Err(Error::command(
                        ErrorCode::Location16766,
                        "Error: hashed indexes do not currently support array values",
                    ));
                }
                let value = values.first().unwrap_or(&Bson::Null);
                fields.push((vec![Bson::Int64(super::hash(value))], false));
                continue;
            }
            fields.push((values, through_array));
        }
        if self.sparse && !present {
            return Ok(Keys::default());
        }
        let arrays: Vec<&str> =
            self.fields.iter().zip(&fields).filter(|(_, (_, array))| *array).map(|(f, _)| f.path.as_str()).collect();
        if arrays.len() > 1 {
            let shown: Vec<String> = arrays.iter().rev().map(|p| format!("[{p}]")).collect();
            return Err(Error::command(
                ErrorCode::CannotIndexParallelArrays,
                format!("cannot index parallel arrays {}", shown.join(" ")),
            ));
        }
        let mut keys: Vec<Vec<Bson>> = vec![Vec::with_capacity(fields.len())];
        for (values, _) in &fields {
            keys = keys.iter().flat_map(|k| values.iter().map(move |v| with(k, v))).collect();
        }
        let mut out: Vec<Key> = keys.into_iter().map(|values| self.encode(values)).collect();
        out.sort_by(|a, b| a.bytes.cmp(&b.bytes));
        out.dedup_by(|a, b| a.bytes == b.bytes);
        Ok(Keys { keys: out, multikey: !arrays.is_empty() || geo_multikey })
    }

    /// A text index's keys: one per term of the document's indexed strings, after
    /// the values of the fields before the text part, which may not be arrays.
    fn text_keys(&self, text: &TextSpec, doc: &Document) -> Result<Keys> {
        let mut prefix = Vec::with_capacity(text.prefix.len());
        for path in &text.prefix {
            let (values, _, through_array) = field_values(doc, path);
            if through_array {
                return Err(Error::command(
                    ErrorCode::CannotBuildIndexKeys,
                    format!("Field '{path}' of text index contains an array in document: {doc}"),
                ));
            }
            prefix.extend(values);
        }
        let mut terms: Vec<String> = text.term_scores(doc)?.into_keys().collect();
        terms.sort();
        let keys = terms
            .into_iter()
            .map(|term| {
                let mut values = prefix.clone();
                values.push(Bson::String(term));
                let mut bytes = Vec::new();
                for value in &values {
                    encode_field(value, false, &mut bytes);
                }
                Key { values, bytes }
            })
            .collect();
        Ok(Keys { keys, multikey: true })
    }

    /// The encoded key of one combination of values.
    fn encode(&self, values: Vec<Bson>) -> Key {
        let mut bytes = Vec::new();
        for (field, value) in self.fields.iter().zip(&values) {
            encode_field_collated(value, field.descending, self.collation.as_deref(), &mut bytes);
        }
        Key { values, bytes }
    }
}

/// Appends one field's value to an encoded key, inverted when the field is
/// descending (the encoding is prefix-free, so inverting reverses its order).
pub fn encode_field(value: &Bson, descending: bool, out: &mut Vec<u8>) {
    encode_field_collated(value, descending, None, out);
}

/// As [`encode_field`], with strings encoded by their `collation` sort keys (an
/// index with a collation).
pub fn encode_field_collated(value: &Bson, descending: bool, collation: Option<&Collation>, out: &mut Vec<u8>) {
    let start = out.len();
    crate::value::order::encode_value_collated(value, collation, out);
    if descending {
        for byte in &mut out[start..] {
            *byte = !*byte;
        }
    }
}

/// The values one field of a key takes in `doc`, whether the path reached
/// anything, and whether it went through an array.
fn field_values(doc: &Document, path: &str) -> (Vec<Bson>, bool, bool) {
    let mut reached = Vec::new();
    values_at(doc, path, &mut reached);
    if reached.is_empty() {
        return (vec![Bson::Null], false, false);
    }
    let mut through_array = reached.len() > 1;
    let mut values = Vec::with_capacity(reached.len());
    for value in reached {
        match value {
            Bson::Array(items) if items.is_empty() => {
                through_array = true;
                values.push(Bson::Undefined);
            }
            Bson::Array(items) => {
                through_array = true;
                values.extend(items.iter().cloned());
            }
            other => values.push(other.clone()),
        }
    }
    (values, true, through_array)
}

/// Whether the path meets an array on its way or at its end (where MongoDB's hashed
/// indexes refuse to go).
fn meets_array(doc: &Document, path: &str) -> bool {
    let mut current = doc;
    let mut parts = path.split('.').peekable();
    while let Some(part) = parts.next() {
        match current.get(part) {
            Some(Bson::Array(_)) => return true,
            Some(Bson::Document(inner)) if parts.peek().is_some() => current = inner,
            _ => return false,
        }
    }
    false
}

/// `key` with `value` appended.
fn with(key: &[Bson], value: &Bson) -> Vec<Bson> {
    let mut out = key.to_vec();
    out.push(value.clone());
    out
}
