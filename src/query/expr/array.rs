//! Array operators.

use bson::Bson;

use super::{fail, int, integral, is_number, nullish, show, truthy, type_name, Arity, Operator};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$size", Arity::Exactly(1), size),
    Operator::eager("$isArray", Arity::Exactly(1), |a| Ok(Some(Bson::Boolean(matches!(a[0], Some(Bson::Array(_))))))),
    Operator::eager("$arrayElemAt", Arity::Exactly(2), |a| element_at("$arrayElemAt", a[0], a[1])),
    Operator::eager("$first", Arity::Exactly(1), |a| element_at("$first", a[0], Some(&Bson::Int32(0)))),
    Operator::eager("$last", Arity::Exactly(1), |a| element_at("$last", a[0], Some(&Bson::Int32(-1)))),
    Operator::eager("$concatArrays", Arity::Any, concat_arrays),
    Operator::eager("$in", Arity::Exactly(2), is_in),
    Operator::eager("$slice", Arity::Between(2, 3), slice),
    Operator::eager("$reverseArray", Arity::Exactly(1), reverse),
    Operator::eager("$indexOfArray", Arity::Between(2, 4), index_of),
    Operator::eager("$range", Arity::Between(2, 3), range),
    Operator::eager("$allElementsTrue", Arity::Exactly(1), |a| {
        all_or_any("$allElementsTrue", ErrorCode::Location17040, a[0], true)
    }),
    Operator::eager("$anyElementTrue", Arity::Exactly(1), |a| {
        all_or_any("$anyElementTrue", ErrorCode::Location17041, a[0], false)
    }),
];

/// `$size`.
fn size(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    match args[0] {
        Some(Bson::Array(items)) => Ok(Some(int(items.len()))),
        other => fail(
            ErrorCode::Location17124,
            format!("The argument to $size must be an array. Type of argument: {}", type_name(other)),
        ),
    }
}

/// `$arrayElemAt`, `$first`, `$last`: the element at an index (negative counts from
/// the end); missing when out of range.
fn element_at(name: &str, array: Option<&Bson>, index: Option<&Bson>) -> Result<Option<Bson>> {
    if nullish(array) || nullish(index) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        let message = if name == "$arrayElemAt" {
            format!("$arrayElemAt's first argument must be an array, but is {}", type_name(array))
        } else {
            format!("{name}'s argument must be an array, but is {}", type_name(array))
        };
        return fail(ErrorCode::Location28689, message);
    };
    if !is_number(index) {
        let message = format!("$arrayElemAt's second argument must be a numeric value, but is {}", type_name(index));
        return fail(ErrorCode::Location28690, message);
    }
    let Some(i) = integral(index).filter(|i| i32::try_from(*i).is_ok()) else {
        let message =
            format!("$arrayElemAt's second argument must be representable as a 32-bit integer: {}", show(index));
        return fail(ErrorCode::Location28691, message);
    };
    let position = if i < 0 { items.len() as i64 + i } else { i };
    Ok(usize::try_from(position).ok().and_then(|p| items.get(p)).cloned())
}

/// `$concatArrays`: null if any argument is null or missing.
fn concat_arrays(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut out = Vec::new();
    for arg in args {
        match arg {
            Some(Bson::Array(items)) => out.extend(items.iter().cloned()),
            other if nullish(*other) => return Ok(Some(Bson::Null)),
            other => {
                let found = type_name(*other);
                return fail(ErrorCode::Location28664, format!("$concatArrays only supports arrays, not {found}"));
            }
        }
    }
    Ok(Some(Bson::Array(out)))
}

/// `$in`: whether the array holds the value.
fn is_in(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let Some(Bson::Array(items)) = args[1] else {
        let found = type_name(args[1]);
        return fail(ErrorCode::Location40081, format!("$in requires an array as a second argument, found: {found}"));
    };
    let found = items.iter().any(|item| super::compare(args[0], Some(item)).is_eq());
    Ok(Some(Bson::Boolean(found)))
}

/// `$slice`: `[array, n]` (first n, or last -n) or `[array, position, n]`.
fn slice(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (array, first) = (args[0], args[1]);
    if nullish(array) || nullish(first) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        let found = type_name(array);
        return fail(
            ErrorCode::Location28724,
            format!("First argument to $slice must be an array, but is of type: {found}"),
        );
    };
    if !is_number(first) {
        let found = type_name(first);
        return fail(
            ErrorCode::Location28725,
            format!("Second argument to $slice must be a numeric value, but is of type: {found}"),
        );
    }
    let Some(first) = integral(first).filter(|n| i32::try_from(*n).is_ok()) else {
        let message = format!("Second argument to $slice can't be represented as a 32-bit integer: {}", show(first));
        return fail(ErrorCode::Location28726, message);
    };
    let len = items.len() as i64;
    let (start, end) = match args.get(2).copied() {
        None if first >= 0 => (0, first.min(len)),
        None => ((len + first).max(0), len),
        Some(count) => {
            if nullish(count) {
                return Ok(Some(Bson::Null));
            }
            if !is_number(count) {
                let found = type_name(count);
                return fail(
                    ErrorCode::Location28727,
                    format!("Third argument to $slice must be numeric, but is of type: {found}"),
                );
            }
            let Some(count) = integral(count).filter(|n| i32::try_from(*n).is_ok()) else {
                let message =
                    format!("Third argument to $slice can't be represented as a 32-bit integer: {}", show(count));
                return fail(ErrorCode::Location28728, message);
            };
            if count <= 0 {
                return fail(ErrorCode::Location28729, format!("Third argument to $slice must be positive: {count}"));
            }
            let start = if first < 0 { (len + first).max(0) } else { first.min(len) };
            (start, (start + count).min(len))
        }
    };
    Ok(Some(Bson::Array(items[start as usize..end as usize].to_vec())))
}

/// `$reverseArray`.
fn reverse(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    match args[0] {
        Some(Bson::Array(items)) => Ok(Some(Bson::Array(items.iter().rev().cloned().collect()))),
        other if nullish(other) => Ok(Some(Bson::Null)),
        other => {
            let found = type_name(other);
            fail(
                ErrorCode::Location34435,
                format!("The argument to $reverseArray must be an array, but was of type: {found}"),
            )
        }
    }
}

/// A start or end index of `$indexOfArray`, `$indexOfBytes`…: a non-negative
/// integer.
pub(super) fn bound(name: &str, what: &str, value: Option<&Bson>) -> Result<usize> {
    let Some(n) = integral(value) else {
        let message = format!(
            "{name} requires an integral {what}, found a value of type: {}, with value: {}",
            type_name(value),
            show(value)
        );
        return fail(ErrorCode::Location40096, message);
    };
    usize::try_from(n)
        .or_else(|_| fail(ErrorCode::Location40097, format!("{name} requires a nonnegative {what}, found: {n}")))
}

/// `$indexOfArray`: the first index of a value in `[start, end)`, or -1.
fn index_of(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let array = args[0];
    if nullish(array) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::Array(items)) = array else {
        let found = type_name(array);
        return fail(
            ErrorCode::Location40090,
            format!("$indexOfArray requires an array as a first argument, found: {found}"),
        );
    };
    let start = args.get(2).map(|v| bound("$indexOfArray", "starting index", *v)).transpose()?.unwrap_or(0);
    let end = args.get(3).map(|v| bound("$indexOfArray", "ending index", *v)).transpose()?.unwrap_or(items.len());
    let end = end.min(items.len());
    let found = (start..end).find(|&i| super::compare(Some(&items[i]), args[1]).is_eq());
    Ok(Some(found.map_or(Bson::Int32(-1), int)))
}

/// `$range`: integers from start (included) to end (excluded) by step.
fn range(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    /// One bound of the range: a number representable as a 32-bit integer.
    fn bound(value: Option<&Bson>, what: &str, codes: (ErrorCode, ErrorCode)) -> Result<i64> {
        if !is_number(value) {
            let found = type_name(value);
            return fail(codes.0, format!("$range requires a numeric {what} value, found value of type: {found}"));
        }
        match integral(value).filter(|n| i32::try_from(*n).is_ok()) {
            Some(n) => Ok(n),
            None => fail(
                codes.1,
                format!(
                    "$range requires a {what} value that can be represented as a 32-bit integer, found value: {}",
                    show(value)
                ),
            ),
        }
    }
    let start = bound(args[0], "starting", (ErrorCode::Location34443, ErrorCode::Location34444))?;
    let end = bound(args[1], "ending", (ErrorCode::Location34445, ErrorCode::Location34446))?;
    let step = match args.get(2) {
        Some(step) => bound(*step, "step", (ErrorCode::Location34447, ErrorCode::Location34448))?,
        None => 1,
    };
    if step == 0 {
        return fail(ErrorCode::Location34449, "$range requires a non-zero step value");
    }
    let mut out = Vec::new();
    let mut current = start;
    while (step > 0 && current < end) || (step < 0 && current > end) {
        out.push(Bson::Int32(current as i32));
        current += step;
    }
    Ok(Some(Bson::Array(out)))
}

/// `$allElementsTrue` (`all`) and `$anyElementTrue`.
fn all_or_any(name: &str, code: ErrorCode, array: Option<&Bson>, all: bool) -> Result<Option<Bson>> {
    let Some(Bson::Array(items)) = array else {
        return fail(code, format!("{name}'s argument must be an array, but is {}", type_name(array)));
    };
    let result = if all { items.iter().all(|i| truthy(Some(i))) } else { items.iter().any(|i| truthy(Some(i))) };
    Ok(Some(Bson::Boolean(result)))
}
