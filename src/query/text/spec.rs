//! A text index's specification as `createIndexes` takes it and as `listIndexes`
//! shows it: `{a: "text", b: "text"}` is stored with the key `{_fts: "text", _ftsx:
//! 1}` (fields before and after the text fields kept around it), the `weights` of
//! the text fields (1 unless the `weights` option says otherwise), sorted by name,
//! `default_language`, `language_override` and `textIndexVersion: 3`.

use std::collections::BTreeMap;

use bson::{Bson, Document};

use super::Language;
use crate::error::{Error, ErrorCode, Result};
use crate::value::number::as_f64;

/// The heaviest weight a field may have (exclusive).
const MAX_WEIGHT: f64 = 100_000.0;

/// Whether a key pattern is a text index's: it has a `"text"` field (as given, or
/// `_fts` as stored).
pub fn is_text_pattern(pattern: &Document) -> bool {
    pattern.values().any(|v| matches!(v, Bson::String(s) if s == "text"))
}

/// The stored form of a text index's spec (see the module's documentation);
/// `spec` is `{v, key, name, …options}` as `createIndexes` checked it.
pub fn normalize(spec: &Document) -> Result<Document> {
    let pattern = spec.get_document("key").map_err(|_| Error::bad_value("the 'key' field must be an object"))?;
    let in_spec = |code: ErrorCode, message: String| Error::command(code, message);
    let mut weights: BTreeMap<String, f64> = BTreeMap::new();
    let (mut prefix, mut suffix) = (Vec::new(), Vec::new());
    let mut text_seen = false;
    let mut text_ended = false;
    for (field, value) in pattern {
        match value {
            Bson::String(kind) if kind == "text" => {
                if text_ended {
                    return Err(in_spec(
                        ErrorCode::CannotCreateIndex,
                        format!("Error in specification {spec} :: caused by :: text fields must be contiguous"),
                    ));
                }
                text_seen = true;
                if field != "_fts" {
                    weights.insert(field.clone(), 1.0);
                }
            }
            Bson::String(kind) => {
                return Err(in_spec(
                    ErrorCode::CannotCreateIndex,
                    format!("Error in specification {spec} :: caused by :: Can't use more than one index plugin for a single index; found '{kind}' and 'text'"),
                ))
            }
            _ if field == "_ftsx" => {}
            _ if text_seen => {
                text_ended = true;
                suffix.push((field.clone(), value.clone()));
            }
            _ => prefix.push((field.clone(), value.clone())),
        }
    }
    if let Some(given) = spec.get("weights") {
        let Bson::Document(given) = given else {
            return Err(Error::bad_value("weights must be an object"));
        };
        for (field, weight) in given {
            let Some(weight) = as_f64(weight) else {
                return Err(in_spec(ErrorCode::Location16730, "weight for text index needs numeric type".into()));
            };
            if !(weight > 0.0 && weight < MAX_WEIGHT) {
                return Err(Error::bad_value(format!(
                    "text index weight must be in the exclusive interval (0,100000) but found: {weight}"
                )));
            }
            weights.insert(field.clone(), weight);
        }
    }
    for field in weights.keys() {
        if field != "$**" && (field.starts_with('$') || field.split('.').any(|p| p.is_empty() || p.starts_with('$'))) {
            return Err(Error::bad_value(format!("weight fields cannot contain '$' or empty parts: {field}")));
        }
    }
    let default_language = match spec.get("default_language") {
        None => Language::English,
        Some(Bson::String(name)) => {
            Language::parse(name).ok_or_else(|| Error::bad_value(format!("default_language is not valid: {name}")))?
        }
        Some(_) => return Err(Error::bad_value("default_language needs a string type")),
    };
    let language_override = match spec.get("language_override") {
        None => "language".to_owned(),
        Some(Bson::String(field)) if !field.is_empty() && !field.starts_with('$') && !field.contains('.') => {
            field.clone()
        }
        Some(Bson::String(field)) => return Err(Error::bad_value(format!("language_override is not valid: {field}"))),
        Some(_) => return Err(Error::bad_value("language_override needs a string type")),
    };
    match spec.get("textIndexVersion") {
        None => {}
        Some(version) if as_f64(version) == Some(3.0) => {}
        Some(version) => {
            return Err(Error::command(
                ErrorCode::Location17364,
                format!("Currently only textIndexVersion 3 is supported, not {version}"),
            ))
        }
    }
    let mut key = Document::new();
    for (field, value) in prefix {
        key.insert(field, value);
    }
    key.insert("_fts", "text");
    key.insert("_ftsx", 1);
    for (field, value) in suffix {
        key.insert(field, value);
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
    let weights: Document = weights.into_iter().map(|(field, weight)| (field, weight_value(weight))).collect();
    out.insert("weights", weights);
    out.insert("default_language", default_language.name());
    out.insert("language_override", language_override);
    out.insert("textIndexVersion", 3);
    Ok(out)
}

/// A weight as `listIndexes` shows it: whole weights as 32-bit integers.
fn weight_value(weight: f64) -> Bson {
    match weight.fract() == 0.0 {
        true => Bson::Int32(weight as i32),
        false => Bson::Double(weight),
    }
}
