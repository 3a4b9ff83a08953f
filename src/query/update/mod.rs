//! Update specifications: a replacement document, update operators applied to
//! paths, or a pipeline-style update (an array of stages).
//!
//! Operator updates follow MongoDB's update tree: every operator's path becomes a
//! branch of one tree (conflicting paths are refused when parsing), and the tree is
//! applied to a document field by field, in the order of the field names (numeric
//! names in numeric order), so fields an update creates are appended in that order.

mod arith;
mod array;
mod filters;
mod modifier;
use crate::value::show;
mod tree;

#[cfg(test)]
mod tests;

use std::sync::Arc;

use bson::{Bson, DateTime, Document};

use self::filters::ArrayFilters;
use self::tree::{Apply, Children};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::Variables;
use crate::query::pipeline::Pipeline;
use crate::value::collation::Collation;

/// A parsed update.
#[derive(Debug, Clone)]
pub enum Update {
    /// The new document, keeping the old `_id`.
    Replace(Document),
    /// Update operators (`{$set: …, $inc: …}`).
    Operators(Operators),
    /// A pipeline-style update (`[{$set: …}, …]`).
    Pipeline(Pipeline),
}

/// The update tree of an operator update and the array filters its `$[<id>]`
/// components refer to.
#[derive(Debug, Clone)]
pub struct Operators {
    root: Children,
    filters: ArrayFilters,
    /// The source path of each `$rename`, by the index its nodes carry.
    renames: Vec<String>,
    /// The collation `$min`, `$max`, `$addToSet`, `$pull`, `$pullAll` and `$push`'s
    /// `$sort` compare strings by (bytes without one).
    collation: Option<Arc<Collation>>,
}

/// What an update is applied with besides the document.
#[derive(Debug, Clone)]
pub struct Context {
    /// The update builds an upsert's new document: `$setOnInsert` applies.
    pub inserting: bool,
    /// The index of the array element the query matched: what the positional `$` stands for.
    pub position: Option<usize>,
    /// The time `$currentDate` sets.
    pub now: DateTime,
}

impl Context {
    /// The context of an update of an existing document (`inserting: false`) or of
    /// an upsert's insert, at the current time.
    pub fn new(inserting: bool, position: Option<usize>) -> Context {
        Context { inserting, position, now: DateTime::now() }
    }
}

impl Update {
    /// Parses the `u` of an update statement with its `arrayFilters`; a
    /// pipeline-style update may read `vars`, the command's variables.
    pub fn parse(spec: &Bson, array_filters: &[Document], vars: &Variables) -> Result<Update> {
        let doc = match spec {
            Bson::Document(doc) => doc,
            Bson::Array(stages) => {
                if !array_filters.is_empty() {
                    return Err(Error::command(
                        ErrorCode::FailedToParse,
                        "arrayFilters may not be specified for pipeline-style updates",
                    ));
                }
                return Ok(Update::Pipeline(Pipeline::parse_update(stages, vars)?));
            }
            _ => return Err(Error::type_mismatch("Update argument must be either an object or an array")),
        };
        if !doc.keys().next().is_some_and(|k| k.starts_with('$')) {
            if let Some(key) = doc.keys().find(|k| k.starts_with('$')) {
                return Err(dollar_prefixed(key));
            }
            return Ok(Update::Replace(doc.clone()));
        }
        let filters = ArrayFilters::parse(array_filters)?;
        let mut root = Children::default();
        let mut renames = Vec::new();
        let mut used = std::collections::BTreeSet::new();
        for (op, fields) in doc {
            let Bson::Document(fields) = fields else {
                return Err(Error::command(
                    ErrorCode::FailedToParse,
                    format!(
                        "Modifiers operate on fields but we found type {} instead. For example: {{$mod: {{<field>: ...}}}} not {{{op}: {}}}",
                        crate::value::type_name(Some(fields)),
                        show::show(fields)
                    ),
                ));
            };
            for (path, argument) in fields {
                tree::add(&mut root, op, path, argument, &filters, &mut renames, &mut used)?;
            }
        }
        if let Some(unused) = filters.identifiers().find(|id| !used.contains(*id)) {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!(
                    "The array filter for identifier '{unused}' was not used in the update {}",
                    show::document(doc)
                ),
            ));
        }
        Ok(Update::Operators(Operators { root, filters, renames, collation: None }))
    }

    /// This update comparing strings by `collation` (its operators and array
    /// filters); a pipeline update does not take one yet (238).
    pub fn with_collation(self, collation: Option<&Arc<Collation>>) -> Result<Update> {
        let Some(collation) = collation else { return Ok(self) };
        Ok(match self {
            Update::Operators(operators) => Update::Operators(Operators {
                filters: operators.filters.with_collation(collation)?,
                collation: Some(collation.clone()),
                ..operators
            }),
            Update::Replace(replacement) => Update::Replace(replacement),
            Update::Pipeline(_) => {
                return Err(Error::command(
                    ErrorCode::NotImplemented,
                    "a collation other than simple is not supported yet with a pipeline update",
                ))
            }
        })
    }

    /// The document `doc` becomes under this update.
    pub fn apply(&self, doc: &Document, ctx: &Context) -> Result<Document> {
        let updated = match self {
            Update::Replace(replacement) => replace(doc, replacement)?,
            Update::Operators(operators) => Apply::run(operators, doc, ctx)?,
            Update::Pipeline(pipeline) => replace(doc, &pipeline.apply_to(doc.clone())?)?,
        };
        if let Some(old) = doc.get("_id") {
            if updated.get("_id") != Some(old) {
                return Err(immutable_id(updated.get("_id")));
            }
        }
        if ctx.inserting {
            return Ok(id_first(updated));
        }
        Ok(updated)
    }
}

/// An upsert's new document with its `_id` (when it has one) as the first field, as
/// MongoDB stores inserted documents.
fn id_first(doc: Document) -> Document {
    if doc.keys().next().is_none_or(|k| k == "_id") || !doc.contains_key("_id") {
        return doc;
    }
    let mut out = Document::new();
    if let Some(id) = doc.get("_id") {
        out.insert("_id", id.clone());
    }
    out.extend(doc.into_iter().filter(|(k, _)| k != "_id"));
    out
}

/// A replacement, or the result of a pipeline-style update (which MongoDB applies
/// as one): the new document with the old `_id` first, kept when the new one has
/// none, and refused when the new one has another.
fn replace(doc: &Document, replacement: &Document) -> Result<Document> {
    let mut out = Document::new();
    if let Some(id) = doc.get("_id").or_else(|| replacement.get("_id")) {
        out.insert("_id", id.clone());
    }
    if let (Some(old), Some(new)) = (doc.get("_id"), replacement.get("_id")) {
        if old != new {
            return Err(immutable_id(Some(new)));
        }
    }
    for (k, v) in replacement {
        if k != "_id" {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(out)
}

/// `ImmutableField` (66): the update changed or removed `_id`.
fn immutable_id(new: Option<&Bson>) -> Error {
    let message = match new {
        Some(new) => format!(
            "After applying the update, the (immutable) field '_id' was found to have been altered to _id: {}",
            show::show(new)
        ),
        None => "After applying the update, the (immutable) field '_id' was found to have been removed.".to_owned(),
    };
    Error::command(ErrorCode::ImmutableField, message)
}

/// `DollarPrefixedFieldName` (52): a top-level `$`-prefixed field where an update may not write one.
fn dollar_prefixed(field: &str) -> Error {
    Error::command(
        ErrorCode::DollarPrefixedFieldName,
        format!(
            "The dollar ($) prefixed field '{field}' in '{field}' is not allowed in the context of an update's replacement document. Consider using an aggregation pipeline with $replaceWith."
        ),
    )
}
