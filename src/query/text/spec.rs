//! A text index's specification as `createIndexes` takes it and as `listIndexes`
//! shows it: `{a: "text", b: "text"}` is stored with the key `{_fts: "text", _ftsx:
//! 1}` (fields before and after the text fields kept around it), the `weights` of
//! the text fields (1 unless the `weights` option says otherwise, whole numbers),
//! sorted by name, `default_language` as given, `language_override` and
//! `textIndexVersion: 3`. Its errors are MongoDB's 67.

use std::collections::BTreeMap;

use bson::{Bson, Document};

use super::Language;
use crate::error::{Error, ErrorCode, Result};
use crate::value::number::as_f64;

/// The heaviest weight a field may have (exclusive).
const MAX_WEIGHT: i64 = 100_000;

/// Whether a key pattern is a text index's: it has a `"text"` field (as given, or
/// `_fts` as stored).
pub fn is_text_pattern(pattern: &Document) -> bool {
    pattern.values().any(|v| matches!(v, Bson::String(s) if s == "text"))
}

fn refuse(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::CannotCreateIndex, message)
}

/// The stored form of a text index's spec (see the module's documentation);
/// `spec` is `{v, key, name, …options}` as `createIndexes` checked it.
pub fn normalize(spec: &Document) -> Result<Document> {
    let pattern = spec.get_document("key").map_err(|_| refuse("the 'key' field must be an object"))?;
    let (key, mut weights) = rewrite_key(pattern)?;
    match spec.get("weights") {
        None => {}
        Some(Bson::String(all)) if all == "$**" => {
            weights.insert("$**".to_owned(), 1);
        }
        Some(Bson::Document(given)) => {
            for (field, weight) in given {
                let weight = as_f64(weight).ok_or_else(|| refuse("weight for text index needs numeric type"))?;
                weights.insert(field.clone(), weight.clamp(i32::MIN.into(), i32::MAX.into()) as i64);
            }
        }
        Some(_) => return Err(refuse("text index option 'weights' must be an object")),
    }
    if weights.is_empty() {
        return Err(refuse("text index option 'weights' must specify fields or the wildcard"));
    }
    for (field, weight) in &weights {
        if !(0 < *weight && *weight < MAX_WEIGHT) {
            return Err(refuse(format!(
                "text index weight must be in the exclusive interval (0,{MAX_WEIGHT}) but found: {weight}"
            )));
        }
        check_weight_path(field)?;
    }
    let default_language = match spec.get("default_language") {
        None => "english".to_owned(),
        Some(Bson::String(name)) if Language::parse(name).is_some() => name.clone(),
        Some(Bson::String(_)) => return Err(refuse("default_language is not valid")),
        Some(_) => return Err(refuse("default_language needs a string type")),
    };
    let language_override = match spec.get("language_override") {
        None => "language".to_owned(),
        Some(Bson::String(field)) if !field.is_empty() && !field.starts_with('$') && !field.contains('.') => {
            field.clone()
        }
        Some(Bson::String(_)) => return Err(refuse("language_override is not valid")),
        Some(_) => return Err(refuse("language_override must be a string")),
    };
    match spec.get("textIndexVersion") {
        None => {}
        Some(version) if as_f64(version) == Some(3.0) => {}
        Some(version) if as_f64(version).is_some() => {
            return Err(refuse(format!("textIndexVersion {version} is not supported: branchdb builds version 3")))
        }
        Some(_) => return Err(refuse("text index option 'textIndexVersion' must be a number")),
    }
    if let Some(collation) = spec.get("collation") {
        return Err(refuse(format!("Index type 'text' does not support collation: {collation}")));
    }
    let mut out = Document::new();
    for (option, value) in spec {
        match option.as_str() {
            "key" => {
                out.insert("key", key.clone());
            }
            "weights" | "default_language" | "language_override" | "textIndexVersion" => {}
            _ => {
                out.insert(option, value.clone());
            }
        }
    }
    let weights: Document = weights.into_iter().map(|(field, weight)| (field, Bson::Int32(weight as i32))).collect();
    out.insert("weights", weights);
    out.insert("default_language", default_language);
    out.insert("language_override", language_override);
    out.insert("textIndexVersion", 3);
    Ok(out)
}

/// The stored key of a text index's key pattern (prefix fields, `_fts`, `_ftsx`,
/// suffix fields) and the text fields it names, each of weight 1.
fn rewrite_key(pattern: &Document) -> Result<(Document, BTreeMap<String, i64>)> {
    let mut weights = BTreeMap::new();
    let mut key = Document::new();
    // Where the walk is: before the text fields, among them, after them.
    #[derive(PartialEq)]
    enum At {
        Before,
        Text,
        After,
    }
    let mut at = At::Before;
    let mut stored_form = false;
    for (field, value) in pattern {
        let reserved = || refuse("text index with reserved fields _fts/_ftsx not allowed");
        match value {
            Bson::String(kind) if kind == "text" => {
                if at == At::After {
                    return Err(refuse("'text' fields in index must all be adjacent"));
                }
                if at == At::Before {
                    key.insert("_fts", "text");
                    key.insert("_ftsx", 1);
                }
                at = At::Text;
                match field.as_str() {
                    "_fts" => stored_form = true,
                    "_ftsx" => return Err(reserved()),
                    _ => {
                        weights.insert(field.clone(), 1);
                    }
                }
            }
            _ if field == "_ftsx" && stored_form && at == At::Text => {
                if as_f64(value) != Some(1.0) {
                    return Err(refuse("expecting _ftsx:1"));
                }
            }
            _ if field == "_fts" || field == "_ftsx" => return Err(reserved()),
            _ => {
                if !matches!(as_f64(value).map(|v| v.trunc()), Some(v) if v == 1.0 || v == -1.0) {
                    return Err(refuse("expected value 1 or -1 for non-text key in compound index"));
                }
                if at == At::Text {
                    at = At::After;
                }
                key.insert(field.clone(), value.clone());
            }
        }
    }
    Ok((key, weights))
}

/// Checks a field named in `weights`.
fn check_weight_path(field: &str) -> Result<()> {
    if field == "$**" {
        return Ok(());
    }
    if field.is_empty() {
        return Err(refuse("weight cannot be on an empty field"));
    }
    for part in field.split('.') {
        if part.is_empty() {
            return Err(refuse("weight cannot have empty path component"));
        }
        if part.starts_with('$') {
            return Err(refuse("weight cannot have path component with $ prefix"));
        }
    }
    Ok(())
}
