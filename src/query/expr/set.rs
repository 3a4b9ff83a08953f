//! Set operators: arrays read as sets of distinct values, compared as `$eq`
//! compares (`1` and `1.0` are one value). Like MongoDB, `$setUnion` and
//! `$setIntersection` return their values in BSON order, `$setDifference` in the
//! order of its first array.

use std::borrow::Cow;
use std::cmp::Ordering;

use bson::Bson;

use super::logic::special;
use super::{check_arity, compare, fail, nullish, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$setUnion", Arity::Any, union),
    Operator::eager("$setIntersection", Arity::Any, intersection),
    Operator::eager("$setDifference", Arity::Exactly(2), difference),
    Operator::eager("$setEquals", Arity::Any, equals),
    Operator::special("$setIsSubset", IsSubset::parse),
];

/// The distinct values of `items`, in BSON order (the first of equal values).
fn ordered_set<'v>(items: impl IntoIterator<Item = &'v Bson>) -> Vec<&'v Bson> {
    let mut set: Vec<&Bson> = items.into_iter().collect();
    set.sort_by(|a, b| compare(Some(a), Some(b)));
    set.dedup_by(|later, earlier| compare(Some(later), Some(earlier)) == Ordering::Equal);
    set
}

/// Whether `set` (as [`ordered_set`] builds it) holds `value`.
fn holds(set: &[&Bson], value: &Bson) -> bool {
    set.binary_search_by(|probe| compare(Some(probe), Some(value))).is_ok()
}

/// The array an all-arrays operator got, refusing anything else with `code`.
fn array_operand<'v>(name: &str, code: ErrorCode, value: Option<&'v Bson>) -> Result<&'v [Bson]> {
    match value {
        Some(Bson::Array(items)) => Ok(items),
        other => {
            fail(code, format!("All operands of {name} must be arrays. One argument is of type: {}", type_name(other)))
        }
    }
}

/// `$setUnion`: null when an operand is null or missing.
fn union(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut all = Vec::new();
    for arg in args {
        if nullish(*arg) {
            return Ok(Some(Bson::Null));
        }
        all.extend(array_operand("$setUnion", ErrorCode::Location17043, *arg)?);
    }
    Ok(Some(Bson::Array(ordered_set(all).into_iter().cloned().collect())))
}

/// `$setIntersection`: null when an operand is null or missing.
fn intersection(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut current: Option<Vec<&Bson>> = None;
    for arg in args {
        if nullish(*arg) {
            return Ok(Some(Bson::Null));
        }
        let next = ordered_set(array_operand("$setIntersection", ErrorCode::Location17047, *arg)?);
        current = Some(match current {
            None => next,
            Some(set) => set.into_iter().filter(|value| holds(&next, value)).collect(),
        });
    }
    Ok(Some(Bson::Array(current.unwrap_or_default().into_iter().cloned().collect())))
}

/// `$setDifference`: the distinct values of the first array not in the second, in
/// the first array's order; null when either is null or missing.
fn difference(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    if nullish(args[0]) || nullish(args[1]) {
        return Ok(Some(Bson::Null));
    }
    let both = |which: &str, value: Option<&Bson>| {
        format!("both operands of $setDifference must be arrays. {which} argument is of type: {}", type_name(value))
    };
    let Some(Bson::Array(left)) = args[0] else { return fail(ErrorCode::Location17048, both("First", args[0])) };
    let Some(Bson::Array(right)) = args[1] else { return fail(ErrorCode::Location17049, both("Second", args[1])) };
    let mut seen = ordered_set(right);
    let mut out = Vec::new();
    for value in left {
        if let Err(place) = seen.binary_search_by(|probe| compare(Some(probe), Some(value))) {
            seen.insert(place, value);
            out.push(value.clone());
        }
    }
    Ok(Some(Bson::Array(out)))
}

/// `$setEquals`: at least two arrays, all of the same distinct values.
fn equals(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    if args.len() < 2 {
        return fail(ErrorCode::Location17045, format!("$setEquals needs at least two arguments had: {}", args.len()));
    }
    let mut first: Option<Vec<&Bson>> = None;
    for arg in args {
        let set = ordered_set(array_operand("$setEquals", ErrorCode::Location17044, *arg)?);
        match &first {
            None => first = Some(set),
            Some(first) => {
                let same = first.len() == set.len()
                    && first.iter().zip(&set).all(|(a, b)| compare(Some(a), Some(b)) == Ordering::Equal);
                if !same {
                    return Ok(Some(Bson::Boolean(false)));
                }
            }
        }
    }
    Ok(Some(Bson::Boolean(true)))
}

/// `$setIsSubset`: whether every value of the first array is in the second. A
/// constant second operand is checked as the expression is parsed (17311), as
/// MongoDB's optimizer does, and changes the code for a bad first one.
#[derive(Debug)]
struct IsSubset {
    left: Node,
    right: Node,
    /// Whether `right` is a constant and `left` is not (MongoDB's optimizer
    /// then replaces the expression, which reports a bad `left` differently).
    constant: bool,
}

impl IsSubset {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let mut args = p.arguments(spec)?;
        check_arity("$setIsSubset", Arity::Exactly(2), args.len())?;
        let right = args.pop().unwrap_or(Node::Missing);
        let left = args.pop().unwrap_or(Node::Missing);
        let constant = right.folded();
        if let Some(value) = &constant {
            if !matches!(value, Bson::Array(_)) {
                return fail(ErrorCode::Location17311, second_not_array(Some(value)));
            }
        }
        let constant = constant.is_some() && left.folded().is_none();
        Ok(special(IsSubset { left, right, constant }))
    }
}

impl Special for IsSubset {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let left = ctx.eval(&self.left)?;
        let right = ctx.eval(&self.right)?;
        let Some(Bson::Array(left)) = left.as_deref() else {
            let code = if self.constant { ErrorCode::Location17310 } else { ErrorCode::Location17046 };
            let found = type_name(left.as_deref());
            return fail(
                code,
                format!("both operands of $setIsSubset must be arrays. First argument is of type: {found}"),
            );
        };
        let Some(Bson::Array(right)) = right.as_deref() else {
            return fail(ErrorCode::Location17042, second_not_array(right.as_deref()));
        };
        let set = ordered_set(right);
        Ok(Some(Cow::Owned(Bson::Boolean(left.iter().all(|value| holds(&set, value))))))
    }
}

/// The error for a second operand of `$setIsSubset` that is not an array.
fn second_not_array(value: Option<&Bson>) -> String {
    format!("both operands of $setIsSubset must be arrays. Second argument is of type: {}", type_name(value))
}
