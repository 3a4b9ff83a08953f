//! `$firstN`, `$lastN`, `$maxN` and `$minN` on an array: `{n, input}`. The
//! accumulators of the same names share the rules for `n`.

use std::borrow::Cow;

use bson::Bson;

use super::arith::Num;
use super::logic::special;
use super::{compare, fail, nullish, show, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::special("$firstN", |p, a| Elements::parse(p, a, Pick::First)),
    Operator::special("$lastN", |p, a| Elements::parse(p, a, Pick::Last)),
    Operator::special("$maxN", |p, a| Elements::parse(p, a, Pick::Max)),
    Operator::special("$minN", |p, a| Elements::parse(p, a, Pick::Min)),
];

/// Which `n` elements an operator keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Pick {
    First,
    Last,
    Max,
    Min,
}

impl Pick {
    pub(crate) fn name(self) -> &'static str {
        match self {
            Pick::First => "$firstN",
            Pick::Last => "$lastN",
            Pick::Max => "$maxN",
            Pick::Min => "$minN",
        }
    }
}

/// Reads the `{n, input}` object of an n-operator (expression or accumulator),
/// returning `n` and `input` unparsed.
pub(crate) fn n_arguments<'s>(spec: &'s Bson, name: &str, ordered: bool) -> Result<(&'s Bson, &'s Bson)> {
    let Bson::Document(doc) = spec else {
        let code = if ordered { ErrorCode::Location5787900 } else { ErrorCode::Location5787801 };
        return fail(code, format!("specification must be an object; found {name}: {spec}"));
    };
    let (mut n, mut input) = (None, None);
    for (field, value) in doc {
        match field.as_str() {
            "n" => n = Some(value),
            "input" => input = Some(value),
            _ => return fail(ErrorCode::Location5787901, format!("Unknown argument for 'n' operator: {field}")),
        }
    }
    let Some(n) = n else { return fail(ErrorCode::Location5787906, "Missing value for 'n'") };
    let Some(input) = input else { return fail(ErrorCode::Location5787907, "Missing value for 'input'") };
    Ok((n, input))
}

/// The value of `n`: a positive integral number.
pub(crate) fn n_value(value: Option<&Bson>) -> Result<usize> {
    let Some(number) = Num::of(value) else {
        return fail(
            ErrorCode::Location5787902,
            format!("Value for 'n' must be of integral type, but found {}", show(value)),
        );
    };
    let Some(n) = super::integral(value) else {
        let message = format!("Value for 'n' must be of integral type, but found {}", show(value));
        return fail(ErrorCode::Location5787903, message);
    };
    if n <= 0 {
        return fail(
            ErrorCode::Location5787908,
            format!("'n' must be greater than 0, found {}", show(Some(&number.to_bson()))),
        );
    }
    Ok(usize::try_from(n).unwrap_or(usize::MAX))
}

/// Keeps `n` of `items` as `pick` says: the first or last in order, or the
/// largest (descending) or smallest (ascending) non-null values.
pub(crate) fn pick_n(items: &[Bson], n: usize, pick: Pick) -> Vec<Bson> {
    match pick {
        Pick::First => items.iter().take(n).cloned().collect(),
        Pick::Last => items[items.len().saturating_sub(n)..].to_vec(),
        Pick::Max | Pick::Min => {
            let mut values: Vec<&Bson> = items.iter().filter(|item| !nullish(Some(item))).collect();
            values.sort_by(|a, b| {
                let order = compare(Some(a), Some(b));
                if pick == Pick::Max {
                    order.reverse()
                } else {
                    order
                }
            });
            values.into_iter().take(n).cloned().collect()
        }
    }
}

/// An n-operator on an array.
#[derive(Debug)]
struct Elements {
    pick: Pick,
    n: Node,
    input: Node,
}

impl Elements {
    fn parse(p: &mut Parser, spec: &Bson, pick: Pick) -> Result<Node> {
        let ordered = matches!(pick, Pick::Max | Pick::Min);
        let (n, input) = n_arguments(spec, pick.name(), ordered)?;
        Ok(special(Elements { pick, n: p.operand(n)?, input: p.operand(input)? }))
    }
}

impl Special for Elements {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let n = n_value(ctx.eval(&self.n)?.as_deref())?;
        let input = ctx.eval(&self.input)?;
        let Some(Bson::Array(items)) = input.as_deref() else {
            return fail(ErrorCode::Location5788200, "Input must be an array");
        };
        Ok(Some(Cow::Owned(Bson::Array(pick_n(items, n, self.pick)))))
    }
}
