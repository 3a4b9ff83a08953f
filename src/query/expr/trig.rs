//! Trigonometry: `$sin` … `$atanh`, `$atan2`, `$degreesToRadians` and
//! `$radiansToDegrees`. Ints, longs and doubles give a double, a decimal gives a
//! decimal; a value outside the function's domain is refused (50989) and NaN
//! passes through.
//!
//! Decimals are computed through doubles and rounded to 15 significant digits,
//! not with Decimal128's 34.

use bson::Bson;

use super::arith::{unary, Num};
use super::decimal::{self, Dec};
use super::{fail, nullish, type_name, Arity, Operator};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$sin", Arity::Exactly(1), |a| bounded("$sin", a[0], f64::sin, Domain::OPEN)),
    Operator::eager("$cos", Arity::Exactly(1), |a| bounded("$cos", a[0], f64::cos, Domain::OPEN)),
    Operator::eager("$tan", Arity::Exactly(1), |a| bounded("$tan", a[0], f64::tan, Domain::OPEN)),
    Operator::eager("$asin", Arity::Exactly(1), |a| bounded("$asin", a[0], f64::asin, Domain::UNIT)),
    Operator::eager("$acos", Arity::Exactly(1), |a| bounded("$acos", a[0], f64::acos, Domain::UNIT)),
    Operator::eager("$atanh", Arity::Exactly(1), |a| bounded("$atanh", a[0], f64::atanh, Domain::UNIT)),
    Operator::eager("$acosh", Arity::Exactly(1), |a| bounded("$acosh", a[0], f64::acosh, Domain::AT_LEAST_ONE)),
    Operator::eager("$atan", Arity::Exactly(1), |a| unbounded("$atan", a[0], f64::atan)),
    Operator::eager("$asinh", Arity::Exactly(1), |a| unbounded("$asinh", a[0], f64::asinh)),
    Operator::eager("$sinh", Arity::Exactly(1), |a| unbounded("$sinh", a[0], f64::sinh)),
    Operator::eager("$cosh", Arity::Exactly(1), |a| unbounded("$cosh", a[0], f64::cosh)),
    Operator::eager("$tanh", Arity::Exactly(1), |a| unbounded("$tanh", a[0], f64::tanh)),
    Operator::eager("$atan2", Arity::Exactly(2), atan2),
    Operator::eager("$degreesToRadians", Arity::Exactly(1), |a| {
        unary("$degreesToRadians", a[0], |n| Ok(scaled(n, false)))
    }),
    Operator::eager("$radiansToDegrees", Arity::Exactly(1), |a| {
        unary("$radiansToDegrees", a[0], |n| Ok(scaled(n, true)))
    }),
];

/// The inputs a bounded function takes.
#[derive(Clone, Copy)]
struct Domain {
    low: f64,
    high: f64,
    /// Whether the bounds themselves are in (`[low,high]`) or not (`(low,high)`).
    inclusive: bool,
}

impl Domain {
    const OPEN: Domain = Domain { low: f64::NEG_INFINITY, high: f64::INFINITY, inclusive: false };
    const UNIT: Domain = Domain { low: -1.0, high: 1.0, inclusive: true };
    const AT_LEAST_ONE: Domain = Domain { low: 1.0, high: f64::INFINITY, inclusive: true };

    fn holds(self, x: f64) -> bool {
        if self.inclusive {
            self.low <= x && x <= self.high
        } else {
            self.low < x && x < self.high
        }
    }

    /// As MongoDB prints it: `[-1,1]`, `(-inf,inf)`.
    fn describe(self) -> String {
        let (open, close) = if self.inclusive { ("[", "]") } else { ("(", ")") };
        format!("{open}{},{}{close}", cpp_double(self.low), cpp_double(self.high))
    }
}

/// A function defined on `domain`.
fn bounded(name: &str, arg: Option<&Bson>, f: fn(f64) -> f64, domain: Domain) -> Result<Option<Bson>> {
    unary(name, arg, |n| {
        let x = n.to_f64();
        if x.is_nan() {
            return Ok(n.to_bson());
        }
        if !domain.holds(x) {
            let shown = match n {
                Num::Decimal(d) => d.to_string(),
                _ => cpp_double(x),
            };
            let message = format!("cannot apply {name} to {shown}, value must be in {}", domain.describe());
            return fail(ErrorCode::Location50989, message);
        }
        Ok(applied(n, f))
    })
}

/// A function defined everywhere.
fn unbounded(name: &str, arg: Option<&Bson>, f: fn(f64) -> f64) -> Result<Option<Bson>> {
    unary(name, arg, |n| Ok(applied(n, f)))
}

/// `f` of `n`: a decimal for a decimal, else a double. An exact integer at an
/// infinity (`$tanh` gives ±1) stays exact.
fn applied(n: Num, f: fn(f64) -> f64) -> Bson {
    let x = n.to_f64();
    match n {
        Num::Decimal(_) if x.is_infinite() && f(x).fract() == 0.0 => decimal::to_bson(Dec::from_i128(f(x) as i128)),
        Num::Decimal(_) => decimal::from_f64(f(x)),
        _ => Bson::Double(f(n.to_f64())),
    }
}

/// `$atan2`: null when either argument is null or missing, a decimal when either
/// is one.
fn atan2(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut numbers = [Num::Int(0); 2];
    for (place, (arg, code)) in args.iter().zip([ErrorCode::Location51044, ErrorCode::Location51045]).enumerate() {
        if nullish(*arg) {
            return Ok(Some(Bson::Null));
        }
        let Some(n) = Num::of(*arg) else {
            return fail(code, format!("$atan2 only supports numeric types, not {}", type_name(*arg)));
        };
        numbers[place] = n;
    }
    let [y, x] = numbers;
    let angle = y.to_f64().atan2(x.to_f64());
    Ok(Some(if matches!(y, Num::Decimal(_)) || matches!(x, Num::Decimal(_)) {
        decimal::from_f64(angle)
    } else {
        Bson::Double(angle)
    }))
}

/// Degrees to radians, or radians to degrees (`to_degrees`): a decimal times
/// π/180 (or 180/π) in decimal, with π to 34 digits as MongoDB has it; a double
/// in doubles.
fn scaled(n: Num, to_degrees: bool) -> Bson {
    match n {
        Num::Decimal(d) => decimal::to_bson(Dec::of(&d).mul(Dec::pi_ratio(to_degrees))),
        _ if to_degrees => Bson::Double(n.to_f64() * (180.0 / std::f64::consts::PI)),
        _ => Bson::Double(n.to_f64() * (std::f64::consts::PI / 180.0)),
    }
}

/// A double as C++'s `ostream` prints it by default (`%g`, six significant digits).
pub(super) fn cpp_double(x: f64) -> String {
    if x.is_nan() {
        return "nan".to_owned();
    }
    if x.is_infinite() {
        return if x > 0.0 { "inf" } else { "-inf" }.to_owned();
    }
    if x == 0.0 {
        return if x.is_sign_negative() { "-0" } else { "0" }.to_owned();
    }
    let exponent = x.abs().log10().floor() as i32;
    if (-5..6).contains(&exponent) {
        let decimals = usize::try_from(5 - exponent).unwrap_or(0);
        let fixed = format!("{x:.decimals$}");
        if fixed.contains('.') {
            fixed.trim_end_matches('0').trim_end_matches('.').to_owned()
        } else {
            fixed
        }
    } else {
        let scientific = format!("{x:.5e}");
        let (mantissa, power) = scientific.split_once('e').unwrap_or((&scientific, "0"));
        let mantissa =
            if mantissa.contains('.') { mantissa.trim_end_matches('0').trim_end_matches('.') } else { mantissa };
        let power: i32 = power.parse().unwrap_or(0);
        let sign = if power < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", power.abs())
    }
}
