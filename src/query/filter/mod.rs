//! Filters: MongoDB's query language, compiled once from its BSON form into a tree
//! of conditions and then evaluated against documents.
//!
//! The tree follows MongoDB's match expressions. A `Node` is a condition on a
//! whole document: a `Test` that some value reached by a path must pass (see
//! `Path::any` for how paths run through arrays), or a logical combination. The
//! negating operators (`$ne`, `$nin`, `$not`, `$exists: false`) negate the whole
//! path condition, so `{a: {$ne: 1}}` holds when *no* value of `a` equals 1.
//!
//! `parse.rs` compiles the BSON form, `eval.rs` holds the tree and evaluates it on
//! decoded documents, `raw.rs` rejects stored documents from their raw bytes
//! before they are decoded, and `narrow.rs` finds the conditions an index can
//! serve.

mod collate;
mod eval;
mod explain;
mod geo;
mod narrow;
mod parse;
mod raw;
mod schema;
mod text;

use bson::{Bson, Document, RawDocument};

use super::expr::Variables;
use super::path::set_path;
use crate::error::{Error, ErrorCode, Result};
use eval::Node;
use narrow::{collect_equalities, is_prefix};
use parse::{parse_document, Level};

pub use explain::explain_failure;
pub use narrow::Narrowing;

/// A compiled filter: every condition must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conditions: Vec<Node>,
    /// Whether its strings compare by a collation ([`Filter::with_collation`]).
    collated: bool,
}

impl Filter {
    /// Compiles a filter; its `$expr` conditions may read `vars`, the command's
    /// variables.
    pub fn parse(filter: &Document, vars: &Variables) -> Result<Filter> {
        Filter::parse_at(filter, Level::Top { vars, javascript: false })
    }

    /// As [`Filter::parse`], for a query's own filter (`find`, `count`, `distinct`,
    /// updates and deletes), which may also use `$where`.
    pub fn parse_query(filter: &Document, vars: &Variables) -> Result<Filter> {
        Filter::parse_at(filter, Level::Top { vars, javascript: true })
    }

    fn parse_at(filter: &Document, level: Level<'_>) -> Result<Filter> {
        let conditions = parse_document(filter, level)?;
        text::check_placement(&conditions)?;
        geo::check_placement(&conditions)?;
        Ok(Filter { conditions, collated: false })
    }

    /// As [`Filter::parse`], for the places that take a filter but no `$text` and
    /// no `$near` (array filters, `$pull`, partial indexes, listings).
    pub fn parse_without_text(filter: &Document, vars: &Variables) -> Result<Filter> {
        let parsed = Filter::parse(filter, vars)?;
        if parsed.has_text() {
            return Err(Error::bad_value("$text is not allowed in this context"));
        }
        if parsed.near().is_some() {
            return Err(Error::command(
                ErrorCode::Location5626500,
                "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators require sorting geospatial data. If you do not need sort, consider using $geoWithin instead.",
            ));
        }
        Ok(parsed)
    }

    /// Whether `doc` matches; an expression or a `$where` function that fails
    /// counts as no match (for the places that hold documents the filter has
    /// already been tried on, or filters that cannot fail).
    pub fn matches(&self, doc: &Document) -> bool {
        self.try_matches(doc).unwrap_or(false)
    }

    /// Whether `doc` matches, failing as MongoDB fails the query when an
    /// expression (`$expr`) or a `$where` function fails.
    pub fn try_matches(&self, doc: &Document) -> Result<bool> {
        for node in &self.conditions {
            if !node.eval(doc, &mut None)? {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Whether a stored document certainly does not match, judged from its raw
    /// bytes without decoding it: some top-level condition on a top-level field
    /// fails on that field's value (a scalar, or missing). `false` means "decode and
    /// see", so scans decode only the documents that may match.
    pub fn rejects_raw(&self, doc: &RawDocument) -> bool {
        self.conditions.iter().any(|node| node.rejects_raw(doc))
    }

    /// The index of the array element through which `doc` matched: what the
    /// positional `$` of updates and projections refers to. `None` when the
    /// document does not match or matched through no array.
    pub fn matched_position(&self, doc: &Document) -> Option<usize> {
        let mut position = None;
        self.conditions.iter().all(|node| node.eval(doc, &mut position).unwrap_or(false)).then_some(position).flatten()
    }

    /// The `_id` this filter pins, when one of its top-level conditions is an
    /// equality on `_id` with a plain value (not an array, a regular expression or
    /// a document of operators): a point lookup. The other conditions still have
    /// to be checked with [`Filter::matches`]. Under a collation, an `_id` holding
    /// text pins nothing: other spellings may equal it.
    pub fn id_equality(&self) -> Option<&Bson> {
        self.equalities().into_iter().find_map(|(path, value)| {
            let plain = match value {
                Bson::Array(_) | Bson::RegularExpression(_) => false,
                Bson::String(_) | Bson::Symbol(_) if self.collated => false,
                Bson::Document(d) => !d.keys().next().is_some_and(|k| k.starts_with('$')) && !self.collated,
                _ => true,
            };
            (path == "_id" && plain).then_some(value)
        })
    }

    /// The equality conditions an upsert seeds its new document with: `{path: v}`,
    /// `{path: {$eq: v}}` and one-value `$in`, at the top level or inside a
    /// top-level `$and`. Paths may be dotted.
    pub fn equalities(&self) -> Vec<(&str, &Bson)> {
        let mut out = Vec::new();
        collect_equalities(&self.conditions, &mut out);
        out
    }

    /// The document an upsert starts from: the [equalities](Filter::equalities),
    /// dotted paths expanded into embedded documents. Two equalities on one path,
    /// or on a path and its prefix, are MongoDB's error 54.
    pub fn upsert_seed(&self) -> Result<Document> {
        let equalities = self.equalities();
        for (i, (path, _)) in equalities.iter().enumerate() {
            for (earlier, _) in &equalities[..i] {
                if path == earlier {
                    return Err(Error::command(
                        ErrorCode::NotSingleValueField,
                        format!("cannot infer query fields to set, path '{path}' is matched twice"),
                    ));
                }
                if is_prefix(earlier, path) || is_prefix(path, earlier) {
                    return Err(Error::command(
                        ErrorCode::NotSingleValueField,
                        format!("cannot infer query fields to set, both paths '{earlier}' and '{path}' are matched"),
                    ));
                }
            }
        }
        let mut seed = Document::new();
        for (path, value) in equalities {
            set_path(&mut seed, path, value.clone());
        }
        Ok(seed)
    }
}

#[cfg(test)]
mod tests;
