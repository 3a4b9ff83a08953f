//! Geo conditions in a filter: what the planner needs to know of them. A `$near`
//! orders the results, so it must be found (one, at the top level or under a
//! top-level `$and`) to plan a nearest-first read; `$geoWithin` and
//! `$geoIntersects` narrow a geo index's cells.

use std::sync::Arc;

use super::eval::{Node, Test};
use super::Filter;
use crate::error::{Error, Result};
use crate::query::geo::{GeoQuery, Near};

impl Filter {
    /// The filter's `$near` or `$nearSphere` and its path.
    pub fn near(&self) -> Option<(&str, &Arc<Near>)> {
        fn find(nodes: &[Node]) -> Option<(&str, &Arc<Near>)> {
            nodes.iter().find_map(|node| match node {
                Node::Path { path, test: Test::Near(near) } => Some((path.as_str(), near)),
                Node::And(children) => find(children),
                _ => None,
            })
        }
        find(&self.conditions)
    }

    /// The `$geoWithin` and `$geoIntersects` conditions every match satisfies (at
    /// the top level or under a top-level `$and`), by path.
    pub fn geo_conditions(&self) -> Vec<(&str, &GeoQuery)> {
        fn collect<'f>(nodes: &'f [Node], out: &mut Vec<(&'f str, &'f GeoQuery)>) {
            for node in nodes {
                match node {
                    Node::Path { path, test: Test::Geo(query) } => out.push((path.as_str(), query)),
                    Node::And(children) => collect(children, out),
                    _ => {}
                }
            }
        }
        let mut out = Vec::new();
        collect(&self.conditions, &mut out);
        out
    }
}

/// Refuses a `$near` anywhere but at the top level or under a top-level `$and`,
/// and more than one, as MongoDB does.
pub(super) fn check_placement(nodes: &[Node]) -> Result<()> {
    fn count(nodes: &[Node], top: bool, found: &mut usize) -> Result<()> {
        for node in nodes {
            match node {
                Node::Path { test: Test::Near(_), .. } if top => *found += 1,
                Node::Path { test: Test::Near(_), .. } => {
                    return Err(Error::bad_value("geoNear must be top-level expr"));
                }
                Node::Path { test: Test::ElemMatchDocument(inner), .. } => {
                    count(std::slice::from_ref(inner), false, found)?
                }
                Node::And(children) => count(children, top, found)?,
                Node::Or(children) | Node::Nor(children) => count(children, false, found)?,
                Node::Not(child) => count(std::slice::from_ref(child), false, found)?,
                _ => {}
            }
        }
        Ok(())
    }
    let mut found = 0;
    count(nodes, true, &mut found)?;
    if found > 1 {
        return Err(Error::bad_value("Too many geoNear expressions"));
    }
    if found == 1 && super::text::find(nodes).is_some() {
        return Err(Error::bad_value("text and geoNear not allowed in same query"));
    }
    Ok(())
}
