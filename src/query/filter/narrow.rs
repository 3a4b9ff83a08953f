//! The conditions of a filter that an index can serve.

use bson::Bson;

use super::eval::*;
use super::Filter;

/// A condition on the values of one path that an index can turn into ranges of
/// keys (see `query::plan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Narrowing<'f> {
    Eq(&'f Bson),
    Gt(&'f Bson),
    Gte(&'f Bson),
    Lt(&'f Bson),
    Lte(&'f Bson),
    /// `$in` with values only (no regular expressions).
    In(&'f [Bson]),
    /// `$exists: true`.
    Exists,
}

impl Filter {
    /// The conditions every matching document satisfies (the top-level ones, and
    /// those inside a top-level `$and`) that an index can narrow, by path. The
    /// filter's other conditions still have to be checked.
    pub fn narrowings(&self) -> Vec<(&str, Narrowing<'_>)> {
        let mut out = Vec::new();
        collect_narrowings(&self.conditions, &mut out);
        out
    }
}

impl Filter {
    /// Whether the filter is a conjunction of conditions that each narrow a path:
    /// what a partial index's filter must be for a query to be known to imply it.
    pub fn only_narrowings(&self) -> bool {
        fn all(nodes: &[Node]) -> bool {
            nodes.iter().all(|node| match node {
                Node::Path { test: Test::Compare(..) | Test::Exists, .. } => true,
                Node::Path { test: Test::In(list), .. } => list.regexes.is_empty() && list.collation.is_none(),
                Node::And(children) => all(children),
                _ => false,
            })
        }
        all(&self.conditions)
    }
}

pub(super) fn collect_narrowings<'f>(nodes: &'f [Node], out: &mut Vec<(&'f str, Narrowing<'f>)>) {
    for node in nodes {
        let (path, narrowing) = match node {
            Node::Path { path, test: Test::Compare(comparison, value) } => (
                path,
                match comparison {
                    Comparison::Eq => Narrowing::Eq(value),
                    Comparison::Gt => Narrowing::Gt(value),
                    Comparison::Gte => Narrowing::Gte(value),
                    Comparison::Lt => Narrowing::Lt(value),
                    Comparison::Lte => Narrowing::Lte(value),
                },
            ),
            Node::Path { path, test: Test::In(list) } if list.regexes.is_empty() && list.collation.is_none() => {
                (path, Narrowing::In(&list.values))
            }
            Node::Path { path, test: Test::Exists } => (path, Narrowing::Exists),
            Node::And(children) => {
                collect_narrowings(children, out);
                continue;
            }
            _ => continue,
        };
        out.push((path.as_str(), narrowing));
    }
}

/// Whether `prefix` names a document that `path` runs through (`a` of `a.b`).
pub(super) fn is_prefix(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

/// Adds the equalities among `nodes` (a conjunction) to `out`, descending into
/// nested conjunctions.
pub(super) fn collect_equalities<'f>(nodes: &'f [Node], out: &mut Vec<(&'f str, &'f Bson)>) {
    for node in nodes {
        match node {
            Node::Path {
                path,
                test: Test::Compare(Comparison::Eq, value) | Test::Collated(Comparison::Eq, value, _),
            } => out.push((path.as_str(), value)),
            Node::Path { path, test: Test::In(list) } if list.regexes.is_empty() && list.values.len() == 1 => {
                out.extend(list.values.first().map(|value| (path.as_str(), value)));
            }
            Node::And(children) => collect_equalities(children, out),
            _ => {}
        }
    }
}
