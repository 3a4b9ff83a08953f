//! Arithmetic operators, with MongoDB's numeric type promotion: the result has the
//! widest type of the operands (int, then long, then double, then decimal), and an
//! int or long result that overflows becomes the next wider type.

use std::borrow::Cow;
use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};

use bson::{Bson, DateTime};

use super::decimal::{self, Dec, Rounding};
use super::logic::special;
use super::{fail, integral, nullish, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$add", Arity::Any, add),
    Operator::eager("$subtract", Arity::Exactly(2), subtract),
    Operator::eager("$multiply", Arity::Any, multiply),
    Operator::eager("$divide", Arity::Exactly(2), divide),
    Operator::eager("$mod", Arity::Exactly(2), modulo),
    Operator::eager("$abs", Arity::Exactly(1), |a| unary("$abs", a[0], abs)),
    Operator::eager("$ceil", Arity::Exactly(1), |a| unary("$ceil", a[0], |n| to_integer(n, Rounding::Up, f64::ceil))),
    Operator::eager("$floor", Arity::Exactly(1), |a| {
        unary("$floor", a[0], |n| to_integer(n, Rounding::Down, f64::floor))
    }),
    Operator::eager("$round", Arity::Between(1, 2), |a| round("$round", a, Rounding::HalfEven)),
    Operator::eager("$trunc", Arity::Between(1, 2), |a| round("$trunc", a, Rounding::TowardZero)),
    Operator::eager("$pow", Arity::Exactly(2), pow),
    Operator::eager("$sqrt", Arity::Exactly(1), |a| unary("$sqrt", a[0], sqrt)),
    Operator::eager("$exp", Arity::Exactly(1), |a| unary("$exp", a[0], |n| Ok(exp(n)))),
    Operator::eager("$ln", Arity::Exactly(1), |a| unary("$ln", a[0], |n| logarithm("$ln", n))),
    Operator::eager("$log10", Arity::Exactly(1), |a| unary("$log10", a[0], |n| logarithm("$log10", n))),
    Operator::eager("$log", Arity::Exactly(2), log),
    Operator::eager("$sum", Arity::Any, |a| Ok(Some(summed(a).0.total()))),
    Operator::eager("$avg", Arity::Any, |a| {
        let (sum, count) = summed(a);
        Ok(Some(if count == 0 { Bson::Null } else { sum.average(count) }))
    }),
    Operator::eager("$min", Arity::Any, |a| Ok(Some(extreme(a, std::cmp::Ordering::Less)))),
    Operator::eager("$max", Arity::Any, |a| Ok(Some(extreme(a, std::cmp::Ordering::Greater)))),
    Operator::special("$rand", Rand::parse),
];

/// The values `$sum`, `$avg`, `$min` and `$max` read: the elements of a single
/// array argument, or the arguments.
fn operands<'a>(args: &[Option<&'a Bson>]) -> Vec<&'a Bson> {
    match args {
        [Some(Bson::Array(items))] => items.iter().collect(),
        _ => args.iter().flatten().copied().collect(),
    }
}

/// The sum of the numbers among the operands (others are ignored), and how many
/// there were.
fn summed(args: &[Option<&Bson>]) -> (Sum, u64) {
    let mut sum = Sum::default();
    let mut count = 0;
    for n in operands(args).into_iter().filter_map(|v| Num::of(Some(v))) {
        sum.add(n);
        count += 1;
    }
    (sum, count)
}

/// The smallest (`Less`) or largest operand, ignoring null and missing; null when
/// there is none.
fn extreme(args: &[Option<&Bson>], wanted: std::cmp::Ordering) -> Bson {
    let mut best: Option<&Bson> = None;
    for value in operands(args).into_iter().filter(|v| !nullish(Some(v))) {
        if best.is_none_or(|b| super::compare(Some(value), Some(b)) == wanted) {
            best = Some(value);
        }
    }
    best.cloned().unwrap_or(Bson::Null)
}

/// A number of one of BSON's four numeric types.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Num {
    Int(i32),
    Long(i64),
    Double(f64),
    Decimal(bson::Decimal128),
}

impl Num {
    /// The number a value holds, or `None` for other types.
    pub(crate) fn of(value: Option<&Bson>) -> Option<Num> {
        match value? {
            Bson::Int32(n) => Some(Num::Int(*n)),
            Bson::Int64(n) => Some(Num::Long(*n)),
            Bson::Double(n) => Some(Num::Double(*n)),
            Bson::Decimal128(n) => Some(Num::Decimal(*n)),
            _ => None,
        }
    }

    /// The number as a double.
    pub(crate) fn to_f64(self) -> f64 {
        match self {
            Num::Int(n) => f64::from(n),
            Num::Long(n) => n as f64,
            Num::Double(n) => n,
            Num::Decimal(d) => decimal::to_f64(&d),
        }
    }

    /// The number as a decimal (doubles rounded to 15 digits, as MongoDB
    /// coerces them).
    pub(super) fn to_dec(self) -> Dec {
        match self {
            Num::Int(n) => Dec::from_i128(n.into()),
            Num::Long(n) => Dec::from_i128(n.into()),
            Num::Double(n) => Dec::from_f64(n),
            Num::Decimal(d) => Dec::of(&d),
        }
    }

    /// The number as an integer, when it is an int or a long.
    fn to_i64(self) -> Option<i64> {
        match self {
            Num::Int(n) => Some(n.into()),
            Num::Long(n) => Some(n),
            _ => None,
        }
    }

    fn is_decimal(self) -> bool {
        matches!(self, Num::Decimal(_))
    }

    fn is_double(self) -> bool {
        matches!(self, Num::Double(_))
    }

    fn is_long(self) -> bool {
        matches!(self, Num::Long(_))
    }

    /// The value holding this number.
    pub(super) fn to_bson(self) -> Bson {
        match self {
            Num::Int(n) => Bson::Int32(n),
            Num::Long(n) => Bson::Int64(n),
            Num::Double(n) => Bson::Double(n),
            Num::Decimal(d) => Bson::Decimal128(d),
        }
    }
}

/// An integer result as an int when it fits, else a long, else a double.
pub(super) fn int_or_wider(n: i128) -> Bson {
    match (i32::try_from(n), i64::try_from(n)) {
        (Ok(i), _) => Bson::Int32(i),
        (_, Ok(l)) => Bson::Int64(l),
        _ => Bson::Double(n as f64),
    }
}

/// A long result as a long when it fits, else a double.
fn long_or_double(n: i128) -> Bson {
    i64::try_from(n).map_or(Bson::Double(n as f64), Bson::Int64)
}

/// Performs a decimal operation on two numbers, at least one of them a decimal.
fn decimal_op(a: Num, b: Num, op: fn(Dec, Dec) -> Dec) -> Bson {
    decimal::to_bson(op(a.to_dec(), b.to_dec()))
}

/// A running sum of numbers, kept exactly for integers, and the widest type seen
/// (shared by `$add` and the `$sum` and `$avg` accumulators).
#[derive(Debug, Clone, Default)]
pub(crate) struct Sum {
    integers: i128,
    doubles: f64,
    decimal: Option<Dec>,
    widest: Widest,
}

/// The widest numeric type added to a [`Sum`].
#[derive(Debug, Clone, Copy, Default, PartialEq, PartialOrd)]
enum Widest {
    #[default]
    Int,
    Long,
    Double,
    Decimal,
}

impl Sum {
    /// Adds a number.
    pub(crate) fn add(&mut self, n: Num) {
        match n {
            Num::Int(i) => self.integers += i128::from(i),
            Num::Long(l) => {
                self.integers += i128::from(l);
                self.widest = self.widest.max_with(Widest::Long);
            }
            Num::Double(d) => {
                self.doubles += d;
                self.widest = self.widest.max_with(Widest::Double);
            }
            Num::Decimal(d) => {
                self.widest = Widest::Decimal;
                let x = Dec::of(&d);
                self.decimal = Some(self.decimal.map_or(x, |total| total.add(x)));
            }
        }
    }

    /// The sum of the doubles and integers as one double.
    fn non_decimal(&self) -> f64 {
        self.integers as f64 + self.doubles
    }

    /// The sum, in the widest type seen (an int or long that overflows widens).
    pub(crate) fn total(&self) -> Bson {
        match self.widest {
            Widest::Int => int_or_wider(self.integers),
            Widest::Long => long_or_double(self.integers),
            Widest::Double => Bson::Double(self.non_decimal()),
            Widest::Decimal => self.decimal_total(),
        }
    }

    /// The sum as a decimal.
    fn decimal_total(&self) -> Bson {
        let mut total = self.decimal.unwrap_or(Dec::from_i128(0));
        if self.integers != 0 {
            total = total.add(Dec::from_i128(self.integers));
        }
        if self.doubles != 0.0 {
            total = total.add(Dec::from_f64(self.doubles));
        }
        decimal::to_bson(total)
    }

    /// The sum divided by `count` (`$avg`): a double, or a decimal if a decimal
    /// was added.
    pub(crate) fn average(&self, count: u64) -> Bson {
        if self.widest != Widest::Decimal {
            return Bson::Double(self.non_decimal() / count as f64);
        }
        match self.decimal_total() {
            Bson::Decimal128(d) => decimal::to_bson(Dec::of(&d).div(Dec::from_i128(count.into()))),
            other => other,
        }
    }
}

impl Widest {
    fn max_with(self, other: Widest) -> Widest {
        if other > self {
            other
        } else {
            self
        }
    }
}

/// `$add`: numbers, and at most one date (the result is then a date).
fn add(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut sum = Sum::default();
    let mut date = None;
    for arg in args {
        match arg {
            Some(Bson::DateTime(d)) => {
                if date.is_some() {
                    return fail(ErrorCode::Location16612, "only one date allowed in an $add expression");
                }
                date = Some(d.timestamp_millis());
            }
            value => match Num::of(*value) {
                Some(n) => sum.add(n),
                None if nullish(*value) => return Ok(Some(Bson::Null)),
                None => {
                    let found = type_name(*value);
                    return fail(
                        ErrorCode::Location16554,
                        format!("$add only supports numeric or date types, not {found}"),
                    );
                }
            },
        }
    }
    let Some(millis) = date else { return Ok(Some(sum.total())) };
    let offset = match sum.total() {
        Bson::Int32(n) => i128::from(n),
        Bson::Int64(n) => i128::from(n),
        Bson::Double(d) => d.round() as i128,
        Bson::Decimal128(d) => decimal::to_f64(&d).round() as i128,
        _ => 0,
    };
    match i64::try_from(i128::from(millis) + offset) {
        Ok(total) => Ok(Some(Bson::DateTime(DateTime::from_millis(total)))),
        Err(_) => fail(ErrorCode::Overflow, "date overflow in $add"),
    }
}

/// `$subtract`: numbers, a number of milliseconds from a date, or two dates (their
/// difference in milliseconds).
fn subtract(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (lhs, rhs) = (args[0], args[1]);
    if let (Some(a), Some(b)) = (Num::of(lhs), Num::of(rhs)) {
        return Ok(Some(if a.is_decimal() || b.is_decimal() {
            decimal_op(a, b, Dec::sub)
        } else if a.is_double() || b.is_double() {
            Bson::Double(a.to_f64() - b.to_f64())
        } else {
            let difference = i128::from(a.to_i64().unwrap_or(0)) - i128::from(b.to_i64().unwrap_or(0));
            if a.is_long() || b.is_long() {
                long_or_double(difference)
            } else {
                int_or_wider(difference)
            }
        }));
    }
    if nullish(lhs) || nullish(rhs) {
        return Ok(Some(Bson::Null));
    }
    match (lhs, rhs) {
        (Some(Bson::DateTime(a)), Some(Bson::DateTime(b))) => {
            Ok(Some(Bson::Int64(a.timestamp_millis().wrapping_sub(b.timestamp_millis()))))
        }
        (Some(Bson::DateTime(a)), Some(b)) => match Num::of(Some(b)) {
            Some(n) => {
                let millis = match n.to_i64() {
                    Some(i) => i,
                    None => n.to_f64().round() as i64,
                };
                Ok(Some(Bson::DateTime(DateTime::from_millis(a.timestamp_millis().wrapping_sub(millis)))))
            }
            None => fail(ErrorCode::Location16613, format!("can't $subtract {} from Date", type_name(Some(b)))),
        },
        _ => fail(ErrorCode::Location16556, format!("can't $subtract {} from {}", type_name(rhs), type_name(lhs))),
    }
}

/// `$multiply`: the product in the widest type; an integer product that overflows
/// a long becomes a double.
fn multiply(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut numbers = Vec::with_capacity(args.len());
    for arg in args {
        match Num::of(*arg) {
            Some(n) => numbers.push(n),
            None if nullish(*arg) => return Ok(Some(Bson::Null)),
            None => {
                let found = type_name(*arg);
                return fail(ErrorCode::Location16555, format!("$multiply only supports numeric types, not {found}"));
            }
        }
    }
    if numbers.iter().any(|n| n.is_decimal()) {
        let product = numbers.iter().fold(Dec::from_i128(1), |acc, n| acc.mul(n.to_dec()));
        return Ok(Some(decimal::to_bson(product)));
    }
    if numbers.iter().any(|n| n.is_double()) {
        return Ok(Some(Bson::Double(numbers.iter().map(|n| n.to_f64()).product())));
    }
    let long = numbers.iter().any(|n| n.is_long());
    let product = numbers.iter().try_fold(1i64, |acc, n| acc.checked_mul(n.to_i64().unwrap_or(0)));
    Ok(Some(match product {
        Some(p) if long => Bson::Int64(p),
        Some(p) => int_or_wider(p.into()),
        None => Bson::Double(numbers.iter().map(|n| n.to_f64()).product()),
    }))
}

/// `$divide`: a double, or a decimal when either operand is one.
fn divide(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (lhs, rhs) = (args[0], args[1]);
    let (Some(a), Some(b)) = (Num::of(lhs), Num::of(rhs)) else {
        if nullish(lhs) || nullish(rhs) {
            return Ok(Some(Bson::Null));
        }
        let message = format!("$divide only supports numeric types, not {} and {}", type_name(lhs), type_name(rhs));
        return fail(ErrorCode::Location16609, message);
    };
    if a.is_decimal() || b.is_decimal() {
        if b.to_dec().is_zero() {
            return fail(ErrorCode::Location16608, "can't $divide by zero");
        }
        return Ok(Some(decimal_op(a, b, Dec::div)));
    }
    if b.to_f64() == 0.0 {
        return fail(ErrorCode::Location16608, "can't $divide by zero");
    }
    Ok(Some(Bson::Double(a.to_f64() / b.to_f64())))
}

/// `$mod`: the remainder, with the sign of the dividend.
fn modulo(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (lhs, rhs) = (args[0], args[1]);
    let (Some(a), Some(b)) = (Num::of(lhs), Num::of(rhs)) else {
        if nullish(lhs) || nullish(rhs) {
            return Ok(Some(Bson::Null));
        }
        let message = format!("$mod only supports numeric types, not {} and {}", type_name(lhs), type_name(rhs));
        return fail(ErrorCode::Location16611, message);
    };
    if b.to_f64() == 0.0 && !b.is_decimal() || b.is_decimal() && b.to_dec().is_zero() {
        return fail(ErrorCode::Location16610, "can't $mod by zero");
    }
    if a.is_decimal() || b.is_decimal() {
        return Ok(Some(decimal_op(a, b, Dec::rem)));
    }
    let b_integral = b.to_i64().is_some() || b.to_f64().fract() == 0.0;
    if a.is_double() || !b_integral {
        return Ok(Some(Bson::Double(a.to_f64() % b.to_f64())));
    }
    // Integers, or an integer and a double without a fraction: an integer result.
    let (x, y) = (a.to_i64().unwrap_or(0), b.to_i64().unwrap_or(b.to_f64() as i64));
    // i64::MIN % -1 overflows in Rust; the remainder is 0.
    let remainder = x.checked_rem(y).unwrap_or(0);
    Ok(Some(if a.is_long() || b.is_long() { Bson::Int64(remainder) } else { int_or_wider(remainder.into()) }))
}

/// Applies a one-number operator: null for null or missing, error 28765 for
/// anything else that is not a number.
pub(super) fn unary(name: &str, arg: Option<&Bson>, f: impl Fn(Num) -> Result<Bson>) -> Result<Option<Bson>> {
    match Num::of(arg) {
        Some(n) => Ok(Some(f(n)?)),
        None if nullish(arg) => Ok(Some(Bson::Null)),
        None => fail(ErrorCode::Location28765, format!("{name} only supports numeric types, not {}", type_name(arg))),
    }
}

/// `$abs`.
fn abs(n: Num) -> Result<Bson> {
    Ok(match n {
        Num::Int(i) => int_or_wider(i128::from(i).abs()),
        Num::Long(l) => match l.checked_abs() {
            Some(a) => Bson::Int64(a),
            None => return fail(ErrorCode::Location28680, "can't take $abs of long long min"),
        },
        Num::Double(d) => Bson::Double(d.abs()),
        Num::Decimal(d) => decimal::to_bson(Dec::of(&d).abs()),
    })
}

/// `$ceil` and `$floor`: integers are unchanged.
fn to_integer(n: Num, mode: Rounding, double: fn(f64) -> f64) -> Result<Bson> {
    Ok(match n {
        Num::Double(d) => Bson::Double(double(d)),
        Num::Decimal(d) => Dec::of(&d).quantize(0, mode).map_or(Bson::Decimal128(d), decimal::to_bson),
        other => other.to_bson(),
    })
}

/// `$round` and `$trunc`: to `place` decimal places (negative rounds to tens,
/// hundreds…), as a decimal computation: `$round` rounds half to even.
fn round(name: &str, args: &[Option<&Bson>], mode: Rounding) -> Result<Option<Bson>> {
    let value = args[0];
    if nullish(value) {
        return Ok(Some(Bson::Null));
    }
    let Some(n) = Num::of(value) else {
        return fail(ErrorCode::Location51081, format!("{name} only supports numeric types, not {}", type_name(value)));
    };
    let place = match args.get(1).copied() {
        None => 0,
        Some(p) if nullish(p) => return Ok(Some(Bson::Null)),
        Some(p) => match integral(p) {
            Some(place) if (-20..=100).contains(&place) => place as i32,
            Some(place) => {
                let message = format!("cannot apply {name} with precision value {place} value must be in [-20, 100]");
                return fail(ErrorCode::Location51083, message);
            }
            None => {
                return fail(
                    ErrorCode::Location51082,
                    format!("precision argument to  {name} must be a integral value"),
                )
            }
        },
    };
    Ok(Some(match n {
        Num::Int(_) | Num::Long(_) if place >= 0 => n.to_bson(),
        Num::Int(_) | Num::Long(_) => {
            let rounded = n.to_dec().quantize(-place, mode).map_or(0.0, Dec::to_f64);
            if n.is_long() {
                Bson::Int64(rounded as i64)
            } else {
                int_or_wider(rounded as i128)
            }
        }
        Num::Double(d) => match Dec::from_f64_digits(d, 34).quantize(-place, mode) {
            Some(rounded) => Bson::Double(rounded.to_f64()),
            None => Bson::Double(d),
        },
        Num::Decimal(d) => Dec::of(&d).quantize(-place, mode).map_or(Bson::Decimal128(d), decimal::to_bson),
    }))
}

/// `$pow`: integers stay integers while the result fits (int, then long), else a
/// double.
fn pow(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (base, exponent) = (args[0], args[1]);
    if nullish(base) || nullish(exponent) {
        return Ok(Some(Bson::Null));
    }
    let Some(b) = Num::of(base) else {
        return fail(ErrorCode::Location28762, format!("$pow's base must be numeric, not {}", type_name(base)));
    };
    let Some(e) = Num::of(exponent) else {
        return fail(ErrorCode::Location28763, format!("$pow's exponent must be numeric, not {}", type_name(exponent)));
    };
    if b.to_f64() == 0.0 && e.to_f64() < 0.0 {
        return fail(ErrorCode::Location28764, "$pow cannot take a base of 0 and a negative exponent");
    }
    if b.is_decimal() || e.is_decimal() {
        return Ok(Some(decimal::to_bson(b.to_dec().pow(e.to_dec()))));
    }
    let (Some(base), Some(power)) = (b.to_i64(), e.to_i64()) else {
        return Ok(Some(Bson::Double(b.to_f64().powf(e.to_f64()))));
    };
    let exact = match (base, power) {
        (0, 0) | (1, _) => Some(1),
        (0, _) => Some(0),
        (-1, p) => Some(if p % 2 == 0 { 1 } else { -1 }),
        (_, p) if p < 0 => None,
        (b, p) => u32::try_from(p).ok().and_then(|p| b.checked_pow(p)),
    };
    Ok(Some(match exact {
        Some(result) if b.is_long() || e.is_long() => Bson::Int64(result),
        Some(result) => int_or_wider(result.into()),
        None => Bson::Double((base as f64).powf(power as f64)),
    }))
}

/// `$sqrt`: a decimal's root in decimal (NaN gives NaN), else a double's.
fn sqrt(n: Num) -> Result<Bson> {
    let negative = match n {
        Num::Decimal(d) => Dec::of(&d).is_negative(),
        _ => n.to_f64() < 0.0,
    };
    if negative {
        return fail(ErrorCode::Location28714, "$sqrt's argument must be greater than or equal to 0");
    }
    Ok(match n {
        Num::Decimal(d) => decimal::to_bson(Dec::of(&d).sqrt()),
        _ => Bson::Double(n.to_f64().sqrt()),
    })
}

/// `$exp`: a decimal's in decimal, else a double's.
fn exp(n: Num) -> Bson {
    match n {
        Num::Decimal(d) => decimal::to_bson(Dec::of(&d).exp()),
        _ => Bson::Double(n.to_f64().exp()),
    }
}

/// `$ln` and `$log10`: a positive decimal's logarithm in decimal; anything else as
/// a double, which must be positive or NaN (a decimal NaN gives a double NaN, as
/// in MongoDB).
fn logarithm(name: &str, n: Num) -> Result<Bson> {
    let ln = name == "$ln";
    if let Num::Decimal(d) = n {
        let x = Dec::of(&d);
        if x.is_positive() {
            return Ok(decimal::to_bson(if ln { x.ln() } else { x.log10() }));
        }
    }
    let x = n.to_f64();
    if !(x > 0.0 || x.is_nan()) {
        return fail(
            if ln { ErrorCode::Location28766 } else { ErrorCode::Location28761 },
            format!("{name}'s argument must be a positive number, but is {x}"),
        );
    }
    Ok(Bson::Double(if ln { x.ln() } else { x.log10() }))
}

/// `$log`: the logarithm of a number in a base; in decimal when either is a
/// decimal and both are valid, else as doubles (which must be valid or NaN).
fn log(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let (value, base) = (args[0], args[1]);
    if nullish(value) || nullish(base) {
        return Ok(Some(Bson::Null));
    }
    let Some(x) = Num::of(value) else {
        return fail(ErrorCode::Location28756, format!("$log's argument must be numeric, not {}", type_name(value)));
    };
    let Some(b) = Num::of(base) else {
        return fail(ErrorCode::Location28757, format!("$log's base must be numeric, not {}", type_name(base)));
    };
    if x.is_decimal() || b.is_decimal() {
        let (xd, bd) = (x.to_dec(), b.to_dec());
        if xd.is_positive() && bd.is_positive() && !bd.sub(Dec::from_i128(1)).is_zero() {
            return Ok(Some(decimal::to_bson(xd.log(bd))));
        }
    }
    let (xf, bf) = (x.to_f64(), b.to_f64());
    if !(xf > 0.0 || xf.is_nan()) {
        return fail(ErrorCode::Location28758, format!("$log's argument must be a positive number, but is {xf}"));
    }
    if !(bf > 0.0 && bf != 1.0 || bf.is_nan()) {
        return fail(
            ErrorCode::Location28759,
            format!("$log's base must be a positive number not equal to 1, but is {bf}"),
        );
    }
    Ok(Some(Bson::Double(xf.ln() / bf.ln())))
}

/// `$rand: {}` (or `[]`): a double drawn uniformly from [0, 1) at each evaluation.
#[derive(Debug)]
struct Rand;

impl Rand {
    fn parse(_: &mut Parser, spec: &Bson) -> Result<Node> {
        match spec {
            Bson::Document(args) if args.is_empty() => Ok(special(Rand)),
            Bson::Array(args) if args.is_empty() => Ok(special(Rand)),
            Bson::Document(_) | Bson::Array(_) => {
                fail(ErrorCode::Location3040501, "$rand does not currently accept arguments")
            }
            _ => fail(ErrorCode::Location10065, "invalid parameter: expected an object ($rand)"),
        }
    }
}

impl Special for Rand {
    fn eval<'a>(&self, _: &mut Ctx<'a>) -> Result<Val<'a>> {
        Ok(Some(Cow::Owned(Bson::Double(random_unit()))))
    }
}

/// A random double in [0, 1): 53 bits of the standard library's randomly keyed
/// hash (each `RandomState` has fresh keys).
fn random_unit() -> f64 {
    let bits = RandomState::new().build_hasher().finish() >> 11;
    bits as f64 / (1u64 << 53) as f64
}

/// The sum of two numbers, as `$add` computes it (the wider type wins).
/// `a × b` for two numbers of which at least one is a Decimal128: exact in
/// decimal while the coefficients fit, as `$multiply` computes (`$mul` on a
/// decimal).
pub(crate) fn multiply_decimals(a: &Bson, b: &Bson) -> Option<Bson> {
    Some(decimal_op(Num::of(Some(a))?, Num::of(Some(b))?, Dec::mul))
}

pub(crate) fn add_numbers(a: &Bson, b: &Bson) -> Bson {
    let mut sum = Sum::default();
    for n in [a, b].into_iter().filter_map(|v| Num::of(Some(v))) {
        sum.add(n);
    }
    sum.total()
}
