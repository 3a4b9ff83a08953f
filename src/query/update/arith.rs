//! The arithmetic of `$inc`, `$mul` and `$bit`, with MongoDB's type rules: int32
//! results that overflow become int64, a double operand makes a double, int64
//! results that overflow are refused, and a Decimal128 operand makes a decimal,
//! computed as `$add` and `$multiply` compute one (`query::expr::decimal`).

use bson::Bson;

use crate::error::Result;

/// `$inc` or `$mul`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Add,
    Multiply,
}

impl Op {
    /// The operator's name (`$inc`).
    pub fn modifier(self) -> &'static str {
        match self {
            Op::Add => "$inc",
            Op::Multiply => "$mul",
        }
    }

    /// The verb of the operator's argument error (`Cannot increment with …`).
    pub fn verb(self) -> &'static str {
        match self {
            Op::Add => "increment",
            Op::Multiply => "multiply",
        }
    }
}

/// Whether a value is a number `$inc` and `$mul` accept.
pub fn is_number(value: &Bson) -> bool {
    matches!(value, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))
}

/// `a op b` for two numbers; `None` when an int64 result overflows.
pub fn combine(op: Op, a: &Bson, b: &Bson) -> Result<Option<Bson>> {
    let result = match (a, b) {
        (Bson::Decimal128(_), _) | (_, Bson::Decimal128(_)) => match op {
            Op::Add => Some(crate::query::expr::add_numbers(a, b)),
            Op::Multiply => crate::query::expr::multiply_decimals(a, b),
        },
        (Bson::Int32(x), Bson::Int32(y)) => {
            // Two int32 values never overflow an int64.
            let (x, y) = (i64::from(*x), i64::from(*y));
            let exact = match op {
                Op::Add => x + y,
                Op::Multiply => x * y,
            };
            Some(i32::try_from(exact).map_or(Bson::Int64(exact), Bson::Int32))
        }
        (Bson::Double(_), _) | (_, Bson::Double(_)) => {
            let (x, y) = (as_f64(a), as_f64(b));
            Some(Bson::Double(match op {
                Op::Add => x + y,
                Op::Multiply => x * y,
            }))
        }
        _ => long(op, as_i64(a), as_i64(b)).map(Bson::Int64),
    };
    Ok(result)
}

/// `x op y` in int64, `None` on overflow.
fn long(op: Op, x: i64, y: i64) -> Option<i64> {
    match op {
        Op::Add => x.checked_add(y),
        Op::Multiply => x.checked_mul(y),
    }
}

fn as_f64(value: &Bson) -> f64 {
    match value {
        Bson::Int32(n) => f64::from(*n),
        Bson::Int64(n) => *n as f64,
        Bson::Double(d) => *d,
        _ => 0.0,
    }
}

fn as_i64(value: &Bson) -> i64 {
    match value {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        _ => 0,
    }
}

/// A bitwise operation of `$bit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BitOp {
    And,
    Or,
    Xor,
}

/// `a op b` for two integers: int32 when both are, int64 otherwise.
pub fn bitwise(op: BitOp, a: &Bson, b: &Bson) -> Bson {
    let apply = |x: i64, y: i64| match op {
        BitOp::And => x & y,
        BitOp::Or => x | y,
        BitOp::Xor => x ^ y,
    };
    match (a, b) {
        (Bson::Int32(x), Bson::Int32(y)) => Bson::Int32(apply(i64::from(*x), i64::from(*y)) as i32),
        _ => Bson::Int64(apply(as_i64(a), as_i64(b))),
    }
}
