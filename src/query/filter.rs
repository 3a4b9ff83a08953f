//! Filters: a query compiled once from its BSON form and evaluated against documents.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::path::values_at;
use crate::error::{Error, Result};
use crate::store::keys;

/// A compiled filter: every condition must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conditions: Vec<(String, Bson)>,
}

impl Filter {
    pub fn parse(filter: &Document) -> Result<Filter> {
        let mut conditions = Vec::new();
        for (path, value) in filter {
            if path.starts_with('$') {
                return Err(Error::bad_value(format!("unknown top level operator: {path}")));
            }
            let value = match value {
                Bson::Document(d) if d.keys().next().is_some_and(|k| k.starts_with('$')) => {
                    let mut wanted = None;
                    for (op, operand) in d {
                        match op.as_str() {
                            "$eq" => wanted = Some(operand.clone()),
                            _ => return Err(Error::bad_value(format!("unknown operator: {op}"))),
                        }
                    }
                    wanted.unwrap_or(Bson::Null)
                }
                Bson::RegularExpression(_) => {
                    return Err(Error::bad_value(format!("regular expressions in filters are not supported: {path}")))
                }
                other => other.clone(),
            };
            conditions.push((path.clone(), value));
        }
        Ok(Filter { conditions })
    }

    /// The `_id` this filter pins, when it is an equality on `_id` whose value is
    /// not an array or document with operators (a point lookup).
    pub fn id_equality(&self) -> Option<&Bson> {
        self.conditions.iter().find(|(path, _)| path == "_id").map(|(_, v)| v).filter(|v| !matches!(v, Bson::Array(_)))
    }

    /// The index of the array element through which `doc` matched: what the
    /// positional `$` of updates and projections refers to.
    pub fn matched_position(&self, _doc: &Document) -> Option<usize> {
        None
    }

    pub fn matches(&self, doc: &Document) -> bool {
        self.conditions.iter().all(|(path, wanted)| path_equals(doc, path, wanted))
    }

    /// The fields an upsert seeds its new document with: the equality conditions on
    /// top-level fields.
    pub fn equalities(&self) -> impl Iterator<Item = (&str, &Bson)> {
        self.conditions.iter().filter(|(path, _)| !path.contains('.')).map(|(p, v)| (p.as_str(), v))
    }
}

/// Whether the value at `path` equals `wanted`: a missing field equals `null`, and
/// an array matches when it equals `wanted` or one of its elements does.
fn path_equals(doc: &Document, path: &str, wanted: &Bson) -> bool {
    let mut values = Vec::new();
    values_at(doc, path, &mut values);
    if values.is_empty() {
        return matches!(wanted, Bson::Null);
    }
    values.iter().any(|value| match value {
        Bson::Array(items) => equal(value, wanted) || items.iter().any(|item| equal(item, wanted)),
        _ => equal(value, wanted),
    })
}

fn equal(a: &Bson, b: &Bson) -> bool {
    keys::compare(a, b) == Ordering::Equal
}
