//! A filter under a collation: its comparisons of strings (`$eq`, `$gt`…, `$in`,
//! also inside `$elemMatch`, `$not` and the logical operators) follow the
//! collation's rules; regular expressions, `$type`, `$size` and the like do not
//! compare strings, and `$jsonSchema` ignores collations as MongoDB's does.

use std::sync::Arc;

use super::eval::{Clause, Node, Test};
use super::Filter;
use crate::error::{Error, ErrorCode, Result};
use crate::value::collation::Collation;

impl Filter {
    /// This filter, comparing strings by `collation` (unchanged without one).
    pub fn with_collation(self, collation: Option<&Arc<Collation>>) -> Result<Filter> {
        let Some(collation) = collation else { return Ok(self) };
        let conditions = self.conditions.into_iter().map(|node| node.collate(collation)).collect::<Result<_>>()?;
        Ok(Filter { conditions, collated: true })
    }
}

impl Node {
    fn collate(self, collation: &Arc<Collation>) -> Result<Node> {
        let all = |nodes: Vec<Node>| nodes.into_iter().map(|node| node.collate(collation)).collect::<Result<Vec<_>>>();
        Ok(match self {
            Node::Path { path, test } => Node::Path { path, test: test.collate(collation)? },
            Node::And(children) => Node::And(all(children)?),
            Node::Or(children) => Node::Or(all(children)?),
            Node::Nor(children) => Node::Nor(all(children)?),
            Node::Not(child) => Node::Not(Box::new(child.collate(collation)?)),
            Node::Expr(_) => {
                return Err(Error::command(
                    ErrorCode::NotImplemented,
                    "a collation other than simple is not supported yet with $expr",
                ))
            }
            other @ (Node::Always(_) | Node::Schema(_) | Node::Text(_) | Node::Where(..)) => other,
        })
    }
}

impl Clause {
    fn collate(self, collation: &Arc<Collation>) -> Result<Clause> {
        Ok(match self {
            Clause::Test(test) => Clause::Test(test.collate(collation)?),
            Clause::Not(clauses) => {
                Clause::Not(clauses.into_iter().map(|clause| clause.collate(collation)).collect::<Result<_>>()?)
            }
        })
    }
}

impl Test {
    fn collate(self, collation: &Arc<Collation>) -> Result<Test> {
        Ok(match self {
            Test::Compare(comparison, operand) => Test::Collated(comparison, operand, collation.clone()),
            Test::In(list) => Test::In(Box::new(list.collated(collation.clone()))),
            Test::ElemMatchDocument(node) => Test::ElemMatchDocument(Box::new(node.collate(collation)?)),
            Test::ElemMatchValue(clauses) => Test::ElemMatchValue(
                clauses.into_iter().map(|clause| clause.collate(collation)).collect::<Result<_>>()?,
            ),
            other => other,
        })
    }
}
