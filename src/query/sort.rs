//! Sort specifications and the order they put documents in.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::path::values_at;
use crate::error::{Error, Result};
use crate::store::keys;

/// A sort specification: fields with 1 (ascending) or -1 (descending).
#[derive(Debug, Clone)]
pub struct Sort {
    keys: Vec<(String, bool)>,
}

impl Sort {
    pub fn parse(spec: &Document) -> Result<Sort> {
        let mut keys = Vec::new();
        for (path, direction) in spec {
            let ascending = match direction {
                Bson::Int32(1) | Bson::Int64(1) => true,
                Bson::Double(d) if *d == 1.0 => true,
                Bson::Int32(-1) | Bson::Int64(-1) => false,
                Bson::Double(d) if *d == -1.0 => false,
                _ => {
                    return Err(Error::bad_value(format!(
                        "$sort key ordering must be 1 (for ascending) or -1 (for descending): {path}"
                    )))
                }
            };
            keys.push((path.clone(), ascending));
        }
        Ok(Sort { keys })
    }

    pub fn compare(&self, a: &Document, b: &Document) -> Ordering {
        for (path, ascending) in &self.keys {
            let order = keys::compare(&sort_value(a, path), &sort_value(b, path));
            let order = if *ascending { order } else { order.reverse() };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }
}

/// The value a document sorts by: the field, or `null` when missing.
fn sort_value(doc: &Document, path: &str) -> Bson {
    let mut values = Vec::new();
    values_at(doc, path, &mut values);
    values.first().map_or(Bson::Null, |v| (*v).clone())
}
