//! Dotted paths: the values a path like `a.b.0.c` reaches in a document.
//!
//! [`Path::any`] walks a path the way MongoDB's query matcher does (its
//! `BSONElementIterator`): through embedded documents, into every document of an
//! array met on the way, through numeric parts as array positions, and at the end
//! into the elements of an array as well as the array itself. A path that stops at
//! a missing field or a scalar reaches "missing", which `{a: null}` matches. Each
//! value comes with the position in the outermost array it was reached through,
//! which is what the positional `$` of updates and projections refers to.

use bson::{Bson, Document};

/// A dotted path, split into its parts once when a query is compiled.
#[derive(Debug, Clone)]
pub struct Path {
    dotted: String,
    parts: Vec<Part>,
}

/// One part of a path: a field name, and the array position it also names when it
/// is a number written canonically (`0`, `12`, not `01`).
#[derive(Debug, Clone)]
struct Part {
    name: String,
    index: Option<usize>,
}

/// What a walk does with an array the path ends at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeafArrays {
    /// Reach each element, then the array itself (most operators).
    Traverse,
    /// Reach only the array itself (`$size`, `$elemMatch`).
    Whole,
}

impl Path {
    pub fn new(dotted: &str) -> Path {
        let parts = dotted
            .split('.')
            .map(|name| Part {
                name: name.to_owned(),
                index: name.parse::<usize>().ok().filter(|i| i.to_string() == name),
            })
            .collect();
        Path { dotted: dotted.to_owned(), parts }
    }

    /// The path as written, dots and all.
    pub fn as_str(&self) -> &str {
        &self.dotted
    }

    /// Calls `visit` with each value the path reaches in `doc` (`None` for missing)
    /// and the array position it was reached through, until `visit` returns true;
    /// returns whether it did.
    pub fn any<'d, F>(&self, doc: &'d Document, leaf: LeafArrays, visit: &mut F) -> bool
    where
        F: FnMut(Option<&'d Bson>, Option<usize>) -> bool,
    {
        in_document(doc, &self.parts, leaf, None, visit)
    }
}

/// Walks `parts` down from `doc` through embedded documents, handing over to
/// [`in_array`] at the first array met before the last part.
fn in_document<'d, F>(
    doc: &'d Document,
    parts: &[Part],
    leaf: LeafArrays,
    position: Option<usize>,
    visit: &mut F,
) -> bool
where
    F: FnMut(Option<&'d Bson>, Option<usize>) -> bool,
{
    let mut current = doc;
    for (i, part) in parts.iter().enumerate() {
        let rest = &parts[i + 1..];
        match current.get(&part.name) {
            Some(value) if rest.is_empty() => return at_end(value, leaf, position, visit),
            Some(Bson::Document(inner)) => current = inner,
            Some(Bson::Array(items)) => return in_array(items, rest, leaf, position, visit),
            // A missing field, or a scalar where the path goes on.
            _ => break,
        }
    }
    visit(None, position)
}

/// Visits the value a path ends at: an array's elements first (unless `leaf` says
/// whole), then the value itself.
fn at_end<'d, F>(value: &'d Bson, leaf: LeafArrays, position: Option<usize>, visit: &mut F) -> bool
where
    F: FnMut(Option<&'d Bson>, Option<usize>) -> bool,
{
    if let (Bson::Array(items), LeafArrays::Traverse) = (value, leaf) {
        if items.iter().enumerate().any(|(i, item)| visit(Some(item), position.or(Some(i)))) {
            return true;
        }
    }
    visit(Some(value), position)
}

/// Walks the rest of a path (`rest`, not empty) from an array met on the way: into
/// each document element, and into the element a numeric part names.
fn in_array<'d, F>(items: &'d [Bson], rest: &[Part], leaf: LeafArrays, position: Option<usize>, visit: &mut F) -> bool
where
    F: FnMut(Option<&'d Bson>, Option<usize>) -> bool,
{
    let (next, after) = (&rest[0], &rest[1..]);
    for (i, item) in items.iter().enumerate() {
        // A numeric part names an element explicitly: values reached through it keep
        // the position of an outer array, not this one.
        let named = next.index == Some(i);
        let found = match item {
            Bson::Document(doc) => {
                in_document(doc, rest, leaf, position.or(Some(i)), visit)
                    || (named && after.is_empty() && visit(Some(item), position))
                    || (named && !after.is_empty() && in_document(doc, after, leaf, position, visit))
            }
            _ if named && after.is_empty() => visit(Some(item), position),
            Bson::Array(inner) if named => in_array(inner, after, leaf, position, visit),
            _ => false,
        };
        if found {
            return true;
        }
    }
    false
}

/// The values a dotted path reaches in a document.
pub fn values_at<'d>(doc: &'d Document, path: &str, out: &mut Vec<&'d Bson>) {
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
        Bson::Document(doc) => values_at(doc, path, out),
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

/// The values `distinct` collects at a path: what the path reaches, with arrays
/// contributing their elements.
pub fn distinct_values<'d>(doc: &'d Document, path: &str) -> Vec<&'d Bson> {
    let mut reached = Vec::new();
    values_at(doc, path, &mut reached);
    let mut out = Vec::new();
    for value in reached {
        match value {
            Bson::Array(items) => out.extend(items),
            other => out.push(other),
        }
    }
    out
}

/// Sets `value` at a dotted path in `doc`, creating the embedded documents on the
/// way; a part that holds something other than a document is replaced by one.
pub fn set_path(doc: &mut Document, path: &str, value: Bson) {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
        }
        Some((head, rest)) => {
            if !matches!(doc.get(head), Some(Bson::Document(_))) {
                doc.insert(head, Document::new());
            }
            if let Some(Bson::Document(inner)) = doc.get_mut(head) {
                set_path(inner, rest, value);
            }
        }
    }
}
