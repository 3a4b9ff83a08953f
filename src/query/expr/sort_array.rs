//! `$sortArray: {input, sortBy}`: an array sorted by whole values (`sortBy: 1`
//! or `-1`) or by fields of its documents (`sortBy: {field: 1, ...}`), in BSON
//! order.

use std::borrow::Cow;
use std::cmp::Ordering;

use bson::{Bson, Document};

use super::arith::Num;
use super::logic::special;
use super::{compare, fail, nullish, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[Operator::special("$sortArray", SortArray::parse)];

/// How the elements are ordered.
#[derive(Debug)]
enum SortBy {
    /// By whole value; `true` when descending.
    Value(bool),
    /// By fields (dotted paths) of each element, each ascending or descending.
    Fields(Vec<(Vec<String>, bool)>),
}

/// Whether a sort direction is descending: it must be a number equal to 1 or -1.
fn direction(value: &Bson) -> Option<bool> {
    let n = Num::of(Some(value))?.to_f64();
    (n == 1.0 || n == -1.0).then_some(n < 0.0)
}

impl SortBy {
    fn parse(spec: &Bson) -> Result<SortBy> {
        match spec {
            Bson::Document(fields) => SortBy::fields(fields),
            number if Num::of(Some(number)).is_some() => match direction(number) {
                Some(descending) => Ok(SortBy::Value(descending)),
                None => fail(ErrorCode::Location2942506, "The $sort element value must be either 1 or -1"),
            },
            _ => fail(
                ErrorCode::Location2942507,
                "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
            ),
        }
    }

    fn fields(spec: &Document) -> Result<SortBy> {
        let invalid = |reason: String| fail(ErrorCode::Location2942505, format!("BadValue: {reason}"));
        if spec.is_empty() {
            return invalid("The sort pattern is empty when it should be a set of fields.".into());
        }
        let mut fields = Vec::new();
        for (name, value) in spec {
            let Some(descending) = direction(value) else {
                return invalid("The sort element value must be either 1 or -1".into());
            };
            if name.is_empty() {
                return invalid("The sort field cannot be empty".into());
            }
            let path: Vec<String> = name.split('.').map(str::to_owned).collect();
            if path.iter().any(String::is_empty) {
                return invalid(format!("The sort field is a dotted field but has an empty part: {name}"));
            }
            fields.push((path, descending));
        }
        Ok(SortBy::Fields(fields))
    }

    fn compare(&self, a: &Bson, b: &Bson) -> Ordering {
        let directed = |order: Ordering, descending: bool| if descending { order.reverse() } else { order };
        match self {
            SortBy::Value(descending) => directed(compare(Some(a), Some(b)), *descending),
            SortBy::Fields(fields) => fields
                .iter()
                .map(|(path, descending)| directed(compare(Some(key(a, path)), Some(key(b, path))), *descending))
                .find(|order| order.is_ne())
                .unwrap_or(Ordering::Equal),
        }
    }
}

/// The value at a dotted path of an element (array elements by position, no
/// traversal); null when missing or when the element is not a document.
fn key<'v>(element: &'v Bson, path: &[String]) -> &'v Bson {
    const NULL: &Bson = &Bson::Null;
    let Bson::Document(_) = element else { return NULL };
    let mut at = element;
    for part in path {
        let next = match at {
            Bson::Document(doc) => doc.get(part),
            Bson::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
            _ => None,
        };
        match next {
            Some(value) => at = value,
            None => return NULL,
        }
    }
    at
}

#[derive(Debug)]
struct SortArray {
    input: Node,
    sort_by: SortBy,
}

impl SortArray {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            let found = type_name(Some(spec));
            return fail(
                ErrorCode::Location2942500,
                format!("$sortArray requires an object as an argument, found: {found}"),
            );
        };
        let (mut input, mut sort_by) = (None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(p.operand(value)?),
                "sortBy" => sort_by = Some(SortBy::parse(value)?),
                _ => return fail(ErrorCode::Location2942501, format!("$sortArray found an unknown argument: {field}")),
            }
        }
        let Some(input) = input else {
            return fail(ErrorCode::Location2942502, "$sortArray requires 'input' to be specified");
        };
        let Some(sort_by) = sort_by else {
            return fail(ErrorCode::Location2942503, "$sortArray requires 'sortBy' to be specified");
        };
        Ok(special(SortArray { input, sort_by }))
    }
}

impl Special for SortArray {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let input = ctx.eval(&self.input)?;
        match input.as_deref() {
            value if nullish(value) => Ok(Some(Cow::Owned(Bson::Null))),
            Some(Bson::Array(items)) => {
                let mut items = items.clone();
                items.sort_by(|a, b| self.sort_by.compare(a, b));
                Ok(Some(Cow::Owned(Bson::Array(items))))
            }
            other => {
                let message =
                    format!("The input argument to $sortArray must be an array, but was of type: {}", type_name(other));
                fail(ErrorCode::Location2942504, message)
            }
        }
    }
}
