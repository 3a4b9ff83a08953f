//! Values written the way MongoDB's error messages write them (`{ a: 1, b: "x" }`).

use bson::{Bson, Document};

/// A value as MongoDB's messages print it.
pub fn show(value: &Bson) -> String {
    match value {
        Bson::String(s) => format!("\"{s}\""),
        Bson::Double(d) if d.is_finite() && d.fract() == 0.0 && d.abs() < 1e15 => format!("{d:.1}"),
        Bson::Double(d) => d.to_string(),
        Bson::Int32(n) => n.to_string(),
        Bson::Int64(n) => n.to_string(),
        Bson::Document(doc) => document(doc),
        Bson::Array(items) if items.is_empty() => "[]".to_owned(),
        Bson::Array(items) => format!("[ {} ]", items.iter().map(show).collect::<Vec<_>>().join(", ")),
        Bson::ObjectId(id) => format!("ObjectId('{id}')"),
        Bson::DateTime(d) => format!("new Date({})", d.timestamp_millis()),
        other => other.to_string(),
    }
}

/// A document as MongoDB's messages print it.
pub fn document(doc: &Document) -> String {
    if doc.is_empty() {
        return "{}".to_owned();
    }
    let fields: Vec<String> = doc.iter().map(|(k, v)| element(k, v)).collect();
    format!("{{ {} }}", fields.join(", "))
}

/// A field and its value (`a: 1`), as MongoDB prints one element.
pub fn element(name: &str, value: &Bson) -> String {
    format!("{name}: {}", show(value))
}
