//! `$unwind`: one output document per element of an array field.

use bson::{Bson, Document};

use super::fields::{get_path, remove_path, set_path, split_path};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::type_name;

/// A compiled `$unwind` stage.
#[derive(Debug, Clone)]
pub(super) struct Unwind {
    path: Vec<String>,
    include_index: Option<Vec<String>>,
    preserve: bool,
}

impl Unwind {
    /// Parses `"$path"` or `{path, includeArrayIndex, preserveNullAndEmptyArrays}`.
    pub(super) fn parse(spec: &Bson) -> Result<Unwind> {
        let (path, include_index, preserve) = match spec {
            Bson::String(_) => (Some(spec), None, false),
            Bson::Document(doc) => {
                let (mut path, mut include_index, mut preserve) = (None, None, false);
                for (name, value) in doc {
                    match name.as_str() {
                        "path" => path = Some(value),
                        "includeArrayIndex" => match value {
                            Bson::String(field) if !field.is_empty() && !field.starts_with('$') => {
                                include_index = Some(split_path(field)?)
                            }
                            Bson::String(field) if field.starts_with('$') => {
                                let message = format!("includeArrayIndex option to $unwind stage should not be prefixed with a '$': {field}");
                                return Err(Error::command(ErrorCode::Location28822, message));
                            }
                            _ => {
                                let message =
                                    "expected a non-empty string for the includeArrayIndex option to $unwind stage";
                                return Err(Error::command(ErrorCode::Location28810, message));
                            }
                        },
                        "preserveNullAndEmptyArrays" => match value {
                            Bson::Boolean(b) => preserve = *b,
                            _ => {
                                let message =
                                    "expected a boolean for the preserveNullAndEmptyArrays option to $unwind stage";
                                return Err(Error::command(ErrorCode::Location28809, message));
                            }
                        },
                        _ => {
                            let message = format!("unrecognized option to $unwind stage: {name}");
                            return Err(Error::command(ErrorCode::Location28811, message));
                        }
                    }
                }
                (path, include_index, preserve)
            }
            other => {
                let message = format!(
                    "expected either a string or an object as specification for $unwind stage, got {}",
                    type_name(Some(other))
                );
                return Err(Error::command(ErrorCode::Location15981, message));
            }
        };
        let path = match path {
            None => return Err(Error::command(ErrorCode::Location28812, "no path specified to $unwind stage")),
            Some(Bson::String(path)) => path,
            Some(other) => {
                let message =
                    format!("Expected a string as the path for $unwind stage, got {}", type_name(Some(other)));
                return Err(Error::command(ErrorCode::Location28808, message));
            }
        };
        let Some(field) = path.strip_prefix('$').filter(|f| !f.is_empty()) else {
            let message = format!("path option to $unwind stage should be prefixed with a '$': {path}");
            return Err(Error::command(ErrorCode::Location28818, message));
        };
        Ok(Unwind { path: split_path(field)?, include_index, preserve })
    }

    /// The documents one input document unwinds to.
    pub(super) fn apply(&self, doc: Document) -> Vec<Document> {
        match get_path(&doc, &self.path) {
            Some(Bson::Array(items)) if !items.is_empty() => {
                let items = items.clone();
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        let mut out = doc.clone();
                        set_path(&mut out, &self.path, item);
                        self.set_index(&mut out, Bson::Int64(index as i64));
                        out
                    })
                    .collect()
            }
            Some(Bson::Array(_)) if self.preserve => {
                let mut out = doc;
                remove_path(&mut out, &self.path);
                self.set_index(&mut out, Bson::Null);
                vec![out]
            }
            None | Some(Bson::Null | Bson::Undefined | Bson::Array(_)) => {
                if !self.preserve {
                    return Vec::new();
                }
                let mut out = doc;
                self.set_index(&mut out, Bson::Null);
                vec![out]
            }
            Some(_) => {
                let mut out = doc;
                self.set_index(&mut out, Bson::Null);
                vec![out]
            }
        }
    }

    /// Stores the element's index, when `includeArrayIndex` asks for it.
    fn set_index(&self, doc: &mut Document, index: Bson) {
        if let Some(field) = &self.include_index {
            set_path(doc, field, index);
        }
    }
}
