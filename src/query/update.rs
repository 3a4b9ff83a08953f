//! Update specifications: a replacement document, or update operators applied to
//! paths. This first version has `$set`, `$unset` and `$setOnInsert`; the other
//! operators are refused, never ignored.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};

#[derive(Debug, Clone)]
pub enum Update {
    /// The new document, keeping the old `_id`.
    Replace(Document),
    Operators(Vec<Change>),
}

#[derive(Debug, Clone)]
pub struct Change {
    pub path: String,
    pub kind: Kind,
}

#[derive(Debug, Clone)]
pub enum Kind {
    Set(Bson),
    Unset,
    /// A `$set` done only when an upsert inserts.
    SetOnInsert(Bson),
}

impl Update {
    pub fn parse(spec: &Bson) -> Result<Update> {
        let doc = match spec {
            Bson::Document(doc) => doc,
            Bson::Array(_) => return Err(Error::bad_value("pipeline-style updates are not supported yet")),
            _ => return Err(Error::type_mismatch("Update argument must be either an object or an array")),
        };
        if !doc.keys().next().is_some_and(|k| k.starts_with('$')) {
            if let Some(key) = doc.keys().find(|k| k.starts_with('$')) {
                return Err(Error::bad_value(format!(
                    "The dollar ($) prefixed field '{key}' is not allowed in a replacement document"
                )));
            }
            return Ok(Update::Replace(doc.clone()));
        }
        let mut changes = Vec::new();
        for (op, fields) in doc {
            let Bson::Document(fields) = fields else {
                return Err(Error::command(
                    ErrorCode::FailedToParse,
                    format!(
                        "Modifiers operate on fields but we found type {} instead.",
                        crate::command::type_name(Some(fields))
                    ),
                ));
            };
            for (path, value) in fields {
                if path.is_empty() || path.split('.').any(str::is_empty) {
                    return Err(Error::bad_value(format!("An empty update path is not valid: '{path}'")));
                }
                let kind = match op.as_str() {
                    "$set" => Kind::Set(value.clone()),
                    "$unset" => Kind::Unset,
                    "$setOnInsert" => Kind::SetOnInsert(value.clone()),
                    "$inc" | "$mul" | "$min" | "$max" | "$rename" | "$currentDate" | "$push" | "$pull" | "$pullAll"
                    | "$addToSet" | "$pop" | "$bit" => {
                        return Err(Error::bad_value(format!("update operator {op} is not supported yet")))
                    }
                    _ => {
                        return Err(Error::command(
                            ErrorCode::FailedToParse,
                            format!("Unknown modifier: {op}. Expected a valid update modifier or pipeline-style update specified as an array"),
                        ))
                    }
                };
                changes.push(Change { path: path.clone(), kind });
            }
        }
        for (i, a) in changes.iter().enumerate() {
            for b in &changes[i + 1..] {
                if conflicts(&a.path, &b.path) {
                    return Err(Error::command(
                        ErrorCode::ConflictingUpdateOperators,
                        format!("Updating the path '{}' would create a conflict at '{}'", b.path, a.path),
                    ));
                }
            }
        }
        Ok(Update::Operators(changes))
    }

    /// Applies the update to `doc` (`inserting`: an upsert's new document).
    pub fn apply(&self, doc: &Document, inserting: bool) -> Result<Document> {
        let updated = match self {
            Update::Replace(replacement) => {
                let mut out = Document::new();
                if let Some(id) = doc.get("_id").or_else(|| replacement.get("_id")) {
                    out.insert("_id", id.clone());
                }
                for (k, v) in replacement {
                    if k != "_id" {
                        out.insert(k.clone(), v.clone());
                    }
                }
                if let (Some(old), Some(new)) = (doc.get("_id"), replacement.get("_id")) {
                    if crate::store::keys::compare(old, new) != std::cmp::Ordering::Equal {
                        return Err(immutable_id());
                    }
                }
                out
            }
            Update::Operators(changes) => {
                let mut out = doc.clone();
                for change in changes {
                    match &change.kind {
                        Kind::Set(value) => set_path(&mut out, &change.path, value.clone())?,
                        Kind::SetOnInsert(value) if inserting => set_path(&mut out, &change.path, value.clone())?,
                        Kind::SetOnInsert(_) => {}
                        Kind::Unset => unset_path(&mut out, &change.path),
                    }
                }
                if !inserting && doc.get("_id") != out.get("_id") {
                    return Err(immutable_id());
                }
                out
            }
        };
        Ok(updated)
    }
}

fn immutable_id() -> Error {
    Error::command(
        ErrorCode::ImmutableField,
        "Performing an update on the path '_id' would modify the immutable field '_id'",
    )
}

/// Whether one path is the other or a prefix of it at a dot.
fn conflicts(a: &str, b: &str) -> bool {
    let (short, long) = if a.len() <= b.len() { (a, b) } else { (b, a) };
    long == short || (long.starts_with(short) && long.as_bytes()[short.len()] == b'.')
}

/// Sets a dotted path, creating the documents on the way.
fn set_path(doc: &mut Document, path: &str, value: Bson) -> Result<()> {
    match path.split_once('.') {
        None => {
            doc.insert(path, value);
            Ok(())
        }
        Some((head, rest)) => {
            let child = doc.entry(head.to_owned()).or_insert_with(|| Bson::Document(Document::new()));
            match child {
                Bson::Document(child) => set_path(child, rest, value),
                other => Err(Error::command(
                    ErrorCode::PathNotViable,
                    format!(
                        "Cannot create field '{}' in element {{{head}: {other}}}",
                        rest.split('.').next().unwrap_or(rest)
                    ),
                )),
            }
        }
    }
}

/// Removes a dotted path; a missing one is no change.
fn unset_path(doc: &mut Document, path: &str) {
    match path.split_once('.') {
        None => {
            doc.remove(path);
        }
        Some((head, rest)) => {
            if let Some(Bson::Document(child)) = doc.get_mut(head) {
                unset_path(child, rest);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use bson::{bson, doc};

    use super::*;

    #[test]
    fn set_unset_and_replacement() {
        let old = doc! {"_id": 1, "a": 1, "b": {"c": 2}};
        let update =
            Update::parse(&bson!({"$set": {"a": 5, "b.d": 3, "x.y": 1}, "$unset": {"b.c": ""}})).expect("parse");
        assert_eq!(update.apply(&old, false).expect("apply"), doc! {"_id": 1, "a": 5, "b": {"d": 3}, "x": {"y": 1}});
        let replace = Update::parse(&bson!({"z": 1})).expect("parse");
        assert_eq!(replace.apply(&old, false).expect("apply"), doc! {"_id": 1, "z": 1});
    }

    #[test]
    fn errors_have_mongodb_codes() {
        let code = |spec: Bson| Update::parse(&spec).expect_err("refused").code().code();
        assert_eq!(code(bson!({"$set": {"a": 1}, "$unset": {"a.b": 1}})), 40);
        assert_eq!(code(bson!({"$frobnicate": {"a": 1}})), 9);
        let id_change = Update::parse(&bson!({"$set": {"_id": 2}})).expect("parse");
        assert_eq!(id_change.apply(&doc! {"_id": 1}, false).expect_err("immutable").code().code(), 66);
        let through_scalar = Update::parse(&bson!({"$set": {"a.b": 2}})).expect("parse");
        assert_eq!(through_scalar.apply(&doc! {"_id": 1, "a": 1}, false).expect_err("not viable").code().code(), 28);
    }
}
