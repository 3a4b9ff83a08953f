//! Projections: which fields of a document a query returns.

use bson::{Bson, Document};

use crate::error::{Error, Result};

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
