//! Bitwise operators on ints and longs: `$bitAnd`, `$bitOr`, `$bitXor` and
//! `$bitNot`. The result is an int when every operand is one, else a long.

use bson::Bson;

use super::arith::unary;
use super::arith::Num;
use super::{fail, nullish, type_name, Arity, Operator};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$bitAnd", Arity::Any, |a| fold("$bitAnd", a, -1, |x, y| x & y)),
    Operator::eager("$bitOr", Arity::Any, |a| fold("$bitOr", a, 0, |x, y| x | y)),
    Operator::eager("$bitXor", Arity::Any, |a| fold("$bitXor", a, 0, |x, y| x ^ y)),
    Operator::eager("$bitNot", Arity::Exactly(1), not),
];

/// Folds the operands with `op`, from `identity` (the result for none); null when
/// one is null or missing.
fn fold(name: &str, args: &[Option<&Bson>], identity: i64, op: fn(i64, i64) -> i64) -> Result<Option<Bson>> {
    let mut result = identity;
    let mut long = false;
    for arg in args {
        match arg {
            Some(Bson::Int32(n)) => result = op(result, i64::from(*n)),
            Some(Bson::Int64(n)) => {
                long = true;
                result = op(result, *n);
            }
            other if nullish(*other) => return Ok(Some(Bson::Null)),
            _ => return fail(ErrorCode::TypeMismatch, format!("{name} only supports int and long operands.")),
        }
    }
    // Ints combine within 32 bits, so an all-int result fits.
    Ok(Some(if long { Bson::Int64(result) } else { Bson::Int32(result as i32) }))
}

/// `$bitNot`: other numbers are refused with 14, other types with 28765.
fn not(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    unary("$bitNot", args[0], |n| match n {
        Num::Int(n) => Ok(Bson::Int32(!n)),
        Num::Long(n) => Ok(Bson::Int64(!n)),
        _ => {
            let found = type_name(args[0]);
            fail(ErrorCode::TypeMismatch, format!("$bitNot only supports int and long, not: {found}."))
        }
    })
}
