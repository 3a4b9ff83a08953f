//! Queries: a filter compiled once from its BSON form and evaluated against
//! documents, sort specifications and projections.
//!
//! This first version matches equality on fields and dotted paths (with MongoDB's
//! implicit matching of array elements) and `$eq`; other operators are refused
//! with `BadValue` rather than misread. The full query language plugs in here.

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::error::{Error, Result};
use crate::store::keys;

mod update;
pub use update::Update;

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
    collect_in(doc, path, &mut values);
    if values.is_empty() {
        return matches!(wanted, Bson::Null);
    }
    values.iter().any(|value| match value {
        Bson::Array(items) => equal(value, wanted) || items.iter().any(|item| equal(item, wanted)),
        _ => equal(value, wanted),
    })
}

/// The values a dotted path reaches in a document.
fn collect_in<'d>(doc: &'d Document, path: &str, out: &mut Vec<&'d Bson>) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    if let Some(next) = doc.get(head) {
        match rest {
            Some(rest) => collect(next, rest, out),
            None => out.push(next),
        }
    }
}

/// The values a dotted path reaches from a value, descending through arrays of
/// documents.
fn collect<'d>(value: &'d Bson, path: &str, out: &mut Vec<&'d Bson>) {
    let (head, rest) = match path.split_once('.') {
        Some((head, rest)) => (head, Some(rest)),
        None => (path, None),
    };
    match value {
        Bson::Document(doc) => collect_in(doc, path, out),
        Bson::Array(items) => {
            if let Ok(index) = head.parse::<usize>() {
                if let Some(item) = items.get(index) {
                    match rest {
                        Some(rest) => collect(item, rest, out),
                        None => out.push(item),
                    }
                }
            }
            for item in items.iter().filter(|i| matches!(i, Bson::Document(_))) {
                collect(item, path, out);
            }
        }
        _ => {}
    }
}

fn equal(a: &Bson, b: &Bson) -> bool {
    keys::compare(a, b) == Ordering::Equal
}

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
    collect_in(doc, path, &mut values);
    values.first().map_or(Bson::Null, |v| (*v).clone())
}

/// A projection of top-level fields: inclusion or exclusion, `_id` included
/// unless excluded.
#[derive(Debug, Clone, Default)]
pub struct Projection {
    fields: Vec<String>,
    include: bool,
    id: bool,
}

impl Projection {
    pub fn parse(spec: &Document) -> Result<Option<Projection>> {
        if spec.is_empty() {
            return Ok(None);
        }
        let mut projection = Projection { fields: Vec::new(), include: false, id: true };
        let mut mode = None;
        for (path, value) in spec {
            if path.contains('.') || path.starts_with('$') || matches!(value, Bson::Document(_)) {
                return Err(Error::bad_value(format!("projection of '{path}' is not supported")));
            }
            let include = match value {
                Bson::Boolean(b) => *b,
                Bson::Int32(n) => *n != 0,
                Bson::Int64(n) => *n != 0,
                Bson::Double(n) => *n != 0.0,
                _ => return Err(Error::bad_value(format!("projection of '{path}' is not supported"))),
            };
            if path == "_id" {
                projection.id = include;
                continue;
            }
            if mode.is_some_and(|m| m != include) {
                let message = if include {
                    format!("Cannot do inclusion on field {path} in exclusion projection")
                } else {
                    format!("Cannot do exclusion on field {path} in inclusion projection")
                };
                return Err(Error::command(crate::error::ErrorCode::Location31254, message));
            }
            mode = Some(include);
            projection.fields.push(path.clone());
        }
        projection.include = mode.unwrap_or(false);
        Ok(Some(projection))
    }

    pub fn apply(&self, doc: Document) -> Document {
        if self.include {
            let mut out = Document::new();
            for (key, value) in doc {
                if (key == "_id" && self.id) || self.fields.contains(&key) {
                    out.insert(key, value);
                }
            }
            out
        } else {
            doc.into_iter().filter(|(key, _)| if key == "_id" { self.id } else { !self.fields.contains(key) }).collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn equality_matches_fields_paths_and_array_elements() {
        let doc = doc! {"a": 1, "b": {"c": "x"}, "tags": ["red", "blue"], "items": [{"n": 1}, {"n": 2}]};
        let matches = |f: Document| Filter::parse(&f).expect("filter").matches(&doc);
        assert!(matches(doc! {"a": 1.0}), "numbers compare by value");
        assert!(matches(doc! {"b.c": "x"}));
        assert!(matches(doc! {"tags": "blue"}), "an array matches an element");
        assert!(matches(doc! {"tags": ["red", "blue"]}), "or as a whole");
        assert!(matches(doc! {"items.n": 2}), "paths run through arrays of documents");
        assert!(matches(doc! {"missing": null}), "missing equals null");
        assert!(matches(doc! {"a": {"$eq": 1}}));
        assert!(!matches(doc! {"a": 2}));
        assert!(!matches(doc! {"tags": "green"}));
        assert!(Filter::parse(&doc! {"a": {"$where": 1}}).is_err());
        assert!(Filter::parse(&doc! {"$where": "1"}).is_err());
    }

    #[test]
    fn sorts_and_projections() {
        let sort = Sort::parse(&doc! {"a": -1, "b": 1}).expect("sort");
        let (x, y) = (doc! {"a": 2, "b": 1}, doc! {"a": 2, "b": 0});
        assert_eq!(sort.compare(&x, &y), Ordering::Greater);
        let p = Projection::parse(&doc! {"a": 1}).expect("projection").expect("some");
        assert_eq!(p.apply(doc! {"_id": 1, "a": 2, "b": 3}), doc! {"_id": 1, "a": 2});
        let p = Projection::parse(&doc! {"b": 0, "_id": 0}).expect("projection").expect("some");
        assert_eq!(p.apply(doc! {"_id": 1, "a": 2, "b": 3}), doc! {"a": 2});
        assert!(Projection::parse(&doc! {"a": 1, "b": 0}).is_err());
    }
}
