//! `$text` in a filter. Parsing reads its arguments; the search needs the
//! collection's text index (its fields, weights and languages) before it can match
//! anything, which [`Filter::with_text_index`] gives it. Only one `$text` may
//! appear, at the top level or under `$and` and `$or`, never under `$nor`.

use std::sync::Arc;

use bson::Document;

use super::eval::Node;
use super::Filter;
use crate::error::{Error, ErrorCode, Result};
use crate::index::Index;
use crate::query::text::{TextQuery, TextSearch};

/// A `$text` condition, bound to its index or not yet.
#[derive(Debug, Clone)]
pub(super) struct Text {
    pub(super) query: TextQuery,
    pub(super) search: Option<TextSearch>,
}

impl Text {
    pub(super) fn matches(&self, doc: &Document) -> bool {
        self.search.as_ref().is_some_and(|search| search.matches(doc))
    }
}

impl Filter {
    /// The filter's `$text` search, once bound to an index.
    pub fn text_search(&self) -> Option<&TextSearch> {
        find(&self.conditions).and_then(|text| text.search.as_ref())
    }

    /// Whether the filter's `$text` is one of its top-level conditions or under a
    /// top-level `$and` (not under an `$or`).
    pub fn text_at_top(&self) -> bool {
        fn at_top(nodes: &[Node]) -> bool {
            nodes.iter().any(|node| match node {
                Node::Text(_) => true,
                Node::And(children) => at_top(children),
                _ => false,
            })
        }
        at_top(&self.conditions)
    }

    /// The other branches of the `$or` (at the top level or under a top-level
    /// `$and`) one of whose branches holds the `$text`, as filters of their own.
    pub fn text_or_siblings(&self) -> Vec<Filter> {
        fn siblings(nodes: &[Node], collated: bool) -> Option<Vec<Filter>> {
            nodes.iter().find_map(|node| match node {
                Node::Or(branches) => {
                    let holds =
                        |branch: &Node| matches!(branch, Node::And(c) if c.iter().any(|n| matches!(n, Node::Text(_))));
                    branches.iter().any(holds).then(|| {
                        let others = branches.iter().filter(|branch| !holds(branch));
                        others.map(|branch| Filter { conditions: vec![branch.clone()], collated }).collect()
                    })
                }
                Node::And(children) => siblings(children, collated),
                _ => None,
            })
        }
        siblings(&self.conditions, self.collated).unwrap_or_default()
    }

    /// Whether the filter has a `$text` condition.
    pub fn has_text(&self) -> bool {
        find(&self.conditions).is_some()
    }

    /// Binds the filter's `$text` condition to the text index among `indexes`:
    /// MongoDB's error 27 when there is none. A filter without `$text` is
    /// returned as it is.
    pub fn with_text_index(mut self, indexes: &[Index]) -> Result<Filter> {
        if !self.has_text() {
            return Ok(self);
        }
        let spec = indexes
            .iter()
            .find_map(|index| index.text.clone())
            .ok_or_else(|| Error::command(ErrorCode::IndexNotFound, "text index required for $text query"))?;
        bind(&mut self.conditions, &spec)?;
        Ok(self)
    }
}

pub(super) fn find(nodes: &[Node]) -> Option<&Text> {
    nodes.iter().find_map(|node| match node {
        Node::Text(text) => Some(&**text),
        Node::And(children) | Node::Or(children) => find(children),
        _ => None,
    })
}

fn bind(nodes: &mut [Node], spec: &Arc<crate::query::text::TextSpec>) -> Result<()> {
    for node in nodes {
        match node {
            Node::Text(text) => text.search = Some(TextSearch::new(text.query.clone(), spec.clone())?),
            Node::And(children) | Node::Or(children) => bind(children, spec)?,
            _ => {}
        }
    }
    Ok(())
}

/// Checks where `$text` conditions stand in a parsed filter: one at most, and not
/// under `$nor`.
pub(super) fn check_placement(nodes: &[Node]) -> Result<()> {
    fn count(nodes: &[Node], under_nor: bool) -> Result<usize> {
        let mut found = 0;
        for node in nodes {
            found += match node {
                Node::Text(_) if under_nor => {
                    return Err(Error::bad_value("text expression not allowed in nor"));
                }
                Node::Text(_) => 1,
                Node::And(children) | Node::Or(children) => count(children, under_nor)?,
                Node::Nor(children) => count(children, true)?,
                _ => 0,
            };
        }
        Ok(found)
    }
    if count(nodes, false)? > 1 {
        return Err(Error::bad_value("Too many text expressions"));
    }
    Ok(())
}
