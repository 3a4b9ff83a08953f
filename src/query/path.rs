//! Dotted paths: the values a path like `a.b.0.c` reaches in a document.

use bson::{Bson, Document};

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
