//! Decimal128 arithmetic for the numeric operators, as IEEE 754-2008 decimal
//! arithmetic gives it (libdecnumber, through [`crate::value::decimal`]): every
//! operation is exact, then rounded half-even to 34 digits; results past the
//! exponent range are infinities or subnormals, as in MongoDB.
//!
//! The logarithms, the exponential, square roots and powers are libdecnumber's,
//! computed to 34 digits. The trigonometric functions have no decimal form there:
//! they are computed in doubles and converted (see `trig.rs`).

use bson::{Bson, Decimal128 as Bid};
use dec::{Context, Decimal, Decimal128};

use crate::value::decimal as value;

/// A decimal number (NaN and the infinities included).
#[derive(Debug, Clone, Copy)]
pub(super) struct Dec(Decimal128);

/// How a result that does not fit is rounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Rounding {
    HalfEven,
    TowardZero,
    Up,
    Down,
}

impl Rounding {
    fn mode(self) -> dec::Rounding {
        match self {
            Rounding::HalfEven => dec::Rounding::HalfEven,
            Rounding::TowardZero => dec::Rounding::Down,
            Rounding::Up => dec::Rounding::Ceiling,
            Rounding::Down => dec::Rounding::Floor,
        }
    }
}

/// A wide decimal for the functions libdecnumber computes only on its general
/// numbers: 12 units of 3 digits, used at 34 digits' precision.
type Wide = Decimal<12>;

/// libdecnumber's functions at decimal128's precision and exponent range (which
/// its logarithms and exponential require to be set).
fn wide_context() -> Context<Wide> {
    let mut cx = Context::<Wide>::default();
    // Each is within what a `Wide` and these functions accept.
    let _ = cx.set_precision(34);
    let _ = cx.set_max_exponent(6144);
    let _ = cx.set_min_exponent(-6143);
    cx
}

impl Dec {
    /// The decimal a BSON Decimal128 holds.
    pub(super) fn of(d: &Bid) -> Dec {
        Dec(value::from_bson(d))
    }

    /// An integer as a decimal (rounded half-even past 34 digits).
    pub(super) fn from_i128(n: i128) -> Dec {
        Dec(value::context().from_i128(n))
    }

    /// A double as MongoDB converts it for mixed arithmetic: rounded to 15
    /// significant digits (`0.1` becomes `0.100000000000000`).
    pub(super) fn from_f64(f: f64) -> Dec {
        Dec(value::from_f64(f, 15))
    }

    /// A double rounded to `digits` significant digits.
    pub(super) fn from_f64_digits(f: f64, digits: usize) -> Dec {
        Dec(value::from_f64(f, digits))
    }

    /// The BSON Decimal128 holding this value.
    pub(super) fn to_decimal(self) -> Bid {
        value::to_bson(self.0)
    }

    /// The nearest double.
    pub(super) fn to_f64(self) -> f64 {
        value::to_f64(self.0)
    }

    pub(super) fn is_zero(self) -> bool {
        self.0.is_zero()
    }

    pub(super) fn is_finite(self) -> bool {
        self.0.is_finite()
    }

    pub(super) fn is_nan(self) -> bool {
        self.0.is_nan()
    }

    /// Whether the value is above zero (false for NaN).
    pub(super) fn is_positive(self) -> bool {
        !self.0.is_nan() && !self.0.is_zero() && !self.0.is_negative()
    }

    /// Whether the value is below zero (false for NaN and negative zero).
    pub(super) fn is_negative(self) -> bool {
        !self.0.is_nan() && !self.0.is_zero() && self.0.is_negative()
    }

    pub(super) fn negate(self) -> Dec {
        Dec(value::negate(self.0))
    }

    pub(super) fn abs(self) -> Dec {
        if self.0.is_signed() {
            self.negate()
        } else {
            self
        }
    }

    pub(super) fn add(self, other: Dec) -> Dec {
        Dec(value::context().add(self.0, other.0))
    }

    pub(super) fn sub(self, other: Dec) -> Dec {
        Dec(value::context().sub(self.0, other.0))
    }

    pub(super) fn mul(self, other: Dec) -> Dec {
        Dec(value::context().mul(self.0, other.0))
    }

    /// The quotient; an exact one keeps the exponent nearest the difference of
    /// the operands' (dividing by zero gives an infinity, or NaN for 0/0).
    pub(super) fn div(self, other: Dec) -> Dec {
        Dec(value::context().div(self.0, other.0))
    }

    /// The remainder of truncating division, with the sign of the dividend (C's
    /// `fmod`), exact however far apart the operands are.
    pub(super) fn rem(self, other: Dec) -> Dec {
        let mut cx = value::context();
        let mut dividend = self.0;
        loop {
            let remainder = cx.rem(dividend, other.0);
            // libdecnumber refuses (NaN) when the integer quotient would need more
            // than 34 digits; the dividend is then first reduced by a multiple of
            // the divisor (the divisor times a power of ten), which keeps the
            // remainder.
            let too_far = remainder.is_nan() && dividend.is_finite() && other.0.is_finite() && !other.0.is_zero();
            if !too_far {
                return Dec(remainder);
            }
            let apart = adjusted_exponent(dividend) - adjusted_exponent(other.0) - 33;
            let mut divisor = other.0;
            let exponent = divisor.exponent() + apart;
            cx.set_exponent(&mut divisor, exponent);
            let reduced = cx.rem(dividend, divisor);
            if reduced.is_nan() {
                return Dec(reduced);
            }
            dividend = reduced;
        }
    }

    /// The value rounded to the exponent `exponent` (`$round`, `$trunc`, `$ceil`,
    /// `$floor`); `None` when the result would need more than 34 digits, and for
    /// NaN and the infinities.
    pub(super) fn quantize(self, exponent: i32, mode: Rounding) -> Option<Dec> {
        if !self.0.is_finite() {
            return None;
        }
        let mut cx = value::context();
        cx.set_rounding(mode.mode());
        let mut unit = Decimal128::ONE;
        cx.set_exponent(&mut unit, exponent);
        let result = cx.quantize(self.0, unit);
        (!result.is_nan()).then_some(Dec(result))
    }

    /// The value of an integral decimal (one quantized to exponent 0).
    pub(super) fn integer(self) -> i128 {
        self.0.coefficient()
    }

    /// 180/π (`to_degrees`) or π/180, from π rounded to 34 digits, as MongoDB
    /// converts decimal angles.
    pub(super) fn pi_ratio(to_degrees: bool) -> Dec {
        let mut cx = value::context();
        let pi = cx.parse("3.141592653589793238462643383279503").unwrap_or(Decimal128::NAN);
        let half_turn = cx.from_i128(180);
        Dec(if to_degrees { cx.div(half_turn, pi) } else { cx.div(pi, half_turn) })
    }

    /// `e^x`.
    pub(super) fn exp(self) -> Dec {
        self.wide(|cx, x| cx.exp(x))
    }

    /// The natural logarithm.
    pub(super) fn ln(self) -> Dec {
        self.wide(|cx, x| cx.ln(x))
    }

    /// The base-10 logarithm.
    pub(super) fn log10(self) -> Dec {
        self.wide(|cx, x| cx.log10(x))
    }

    /// The logarithm in `base`: base 10 directly, any other as a quotient of
    /// natural logarithms.
    pub(super) fn log(self, base: Dec) -> Dec {
        if value::compare(base.0, value::from_i64(10)).is_eq() {
            return self.log10();
        }
        self.ln().div(base.ln())
    }

    pub(super) fn sqrt(self) -> Dec {
        self.wide(|cx, x| cx.sqrt(x))
    }

    /// `self^exponent`.
    pub(super) fn pow(self, exponent: Dec) -> Dec {
        let exponent = Wide::from(exponent.0);
        self.wide(|cx, x| cx.pow(x, &exponent))
    }

    /// Applies one of libdecnumber's general-number functions at 34 digits and
    /// rounds the result into a decimal128.
    fn wide(self, f: impl FnOnce(&mut Context<Wide>, &mut Wide)) -> Dec {
        let mut x = Wide::from(self.0);
        f(&mut wide_context(), &mut x);
        Dec(value::context().from_decimal(&x))
    }
}

/// The exponent of a finite decimal's leading digit.
fn adjusted_exponent(d: Decimal128) -> i32 {
    d.exponent() + d.digits() as i32 - 1
}

/// A Decimal128 rounded half-even to an integer, saturating at the bounds of an
/// i64 (NaN is 0), as MongoDB's `safeInt64` fields read one.
pub fn to_i64_half_even(d: &Bid) -> i64 {
    let dec = Dec::of(d);
    if dec.is_nan() {
        return 0;
    }
    let saturated = if dec.0.is_signed() { i64::MIN } else { i64::MAX };
    match dec.quantize(0, Rounding::HalfEven) {
        Some(integer) => i64::try_from(integer.integer()).unwrap_or(saturated),
        None => saturated,
    }
}

/// `s × 10^k` as MongoDB's rounder computes it for a decimal: the series value
/// converted from its double as `Decimal128(double)` converts (15 significant
/// digits: 16 is 16.0000000000000), times a multiplier made by multiplying or
/// dividing 1 by 10 `k` times. Multiplying grows the coefficient (100 is 100E0)
/// until it has 34 digits, then the exponent; dividing lowers the exponent (0.01
/// is 1E-2) until it underflows.
fn series_value(s: f64, k: i32) -> Dec {
    let mut cx = value::context();
    let multiplier = match u32::try_from(k) {
        Ok(up) if up <= 33 => cx.from_u128(10u128.pow(up)),
        Ok(up) => {
            let widest = cx.from_u128(10u128.pow(33));
            cx.scaleb(widest, value::from_i64(i64::from(up - 33)))
        }
        Err(_) => cx.scaleb(Decimal128::ONE, value::from_i64(i64::from(k))),
    };
    Dec::from_f64(s).mul(Dec(multiplier))
}

/// Whether `a < b`.
fn less(a: Dec, b: Dec) -> bool {
    value::context().partial_cmp(a.0, b.0).is_some_and(|o| o.is_lt())
}

/// How far from 10^0 the series is scaled before giving up (past Decimal128's
/// exponents either way).
const MAX_SCALE: i32 = 6200;

/// A positive, finite decimal rounded to a preferred number series (`series`, its
/// values times powers of ten): up to the smallest value above it, or down to the
/// largest below it, as `$bucketAuto`'s `granularity` rounds a decimal. `None` for
/// NaN and the infinities.
pub(crate) fn round_to_series(d: &Bid, series: &[f64], up: bool) -> Option<Bid> {
    let number = Dec::of(d);
    if !number.is_finite() {
        return None;
    }
    let (first, last) = (series[0], series[series.len() - 1]);
    let mut k = 0i32;
    let rounded = if up {
        while !less(number, series_value(last, k)) {
            k += 1;
            if k > MAX_SCALE {
                return None;
            }
        }
        while less(number, series_value(first, k)) {
            let previous = series_value(first, k);
            k -= 1;
            if k < -MAX_SCALE {
                return None;
            }
            if !less(number, series_value(last, k)) {
                return Some(previous.to_decimal());
            }
        }
        series.iter().map(|&s| series_value(s, k)).find(|&value| less(number, value))?
    } else {
        while !less(series_value(first, k), number) {
            k -= 1;
            if k < -MAX_SCALE {
                return None;
            }
        }
        while less(series_value(last, k), number) {
            let previous = series_value(last, k);
            k += 1;
            if k > MAX_SCALE {
                return None;
            }
            if !less(series_value(first, k), number) {
                return Some(previous.to_decimal());
            }
        }
        series.iter().rev().map(|&s| series_value(s, k)).find(|&value| less(value, number))?
    };
    Some(rounded.to_decimal())
}

/// A Decimal128 as the nearest double (NaN and the infinities included).
pub(super) fn to_f64(d: &Bid) -> f64 {
    value::to_f64(value::from_bson(d))
}

/// A double as a Decimal128 value (15 significant digits, as MongoDB converts).
pub(super) fn from_f64(f: f64) -> Bson {
    to_bson(Dec::from_f64(f))
}

/// A decimal result as a value.
pub(super) fn to_bson(d: Dec) -> Bson {
    Bson::Decimal128(d.to_decimal())
}
