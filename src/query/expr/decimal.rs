//! Decimal128 arithmetic for the numeric operators.
//!
//! A finite decimal is a sign, a coefficient of at most 34 digits and an exponent.
//! Addition, subtraction, multiplication, division and quantizing are exact (then
//! rounded half-even to 34 digits, as IEEE 754 decimal arithmetic does) whenever the
//! intermediate coefficients fit in 128 bits; past that, and for the transcendental
//! functions, the operators compute in doubles and convert the result (a documented
//! approximation).

use bson::{Bson, Decimal128};

/// The largest coefficient a Decimal128 holds: 34 nines.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;

/// A finite decimal number: `(-1)^neg × coefficient × 10^exponent`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Dec {
    neg: bool,
    coefficient: u128,
    exponent: i32,
}

/// How a result that does not fit is rounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Rounding {
    HalfEven,
    TowardZero,
    Up,
    Down,
}

impl Dec {
    /// The decimal a Decimal128 holds, or `None` for NaN and the infinities.
    pub(super) fn of(d: &Decimal128) -> Option<Dec> {
        Dec::parse(&d.to_string())
    }

    /// Parses decimal text (`-12.5`, `1.05E+3`, `3e-2`).
    pub(super) fn parse(text: &str) -> Option<Dec> {
        let (neg, rest) = match text.as_bytes().first()? {
            b'-' => (true, &text[1..]),
            b'+' => (false, &text[1..]),
            _ => (false, text),
        };
        let (mantissa, exponent) = match rest.find(['e', 'E']) {
            Some(at) => (&rest[..at], rest[at + 1..].parse::<i32>().ok()?),
            None => (rest, 0),
        };
        let (whole, fraction) = mantissa.split_once('.').unwrap_or((mantissa, ""));
        if whole.is_empty() && fraction.is_empty() {
            return None;
        }
        let mut coefficient: u128 = 0;
        for c in whole.bytes().chain(fraction.bytes()) {
            if !c.is_ascii_digit() {
                return None;
            }
            coefficient = coefficient.checked_mul(10)?.checked_add(u128::from(c - b'0'))?;
        }
        let exponent = exponent.checked_sub(i32::try_from(fraction.len()).ok()?)?;
        Some(Dec { neg, coefficient, exponent }.rounded())
    }

    /// An integer as a decimal with exponent 0.
    pub(super) fn from_i128(n: i128) -> Dec {
        Dec { neg: n < 0, coefficient: n.unsigned_abs(), exponent: 0 }.rounded()
    }

    /// A double as MongoDB converts it for mixed arithmetic: rounded to 15
    /// significant digits (`0.1` becomes `0.100000000000000`).
    pub(super) fn from_f64(f: f64) -> Option<Dec> {
        Dec::from_f64_digits(f, 15)
    }

    /// A double rounded to `digits` significant digits, or `None` if not finite.
    pub(super) fn from_f64_digits(f: f64, digits: usize) -> Option<Dec> {
        if !f.is_finite() {
            return None;
        }
        Dec::parse(&format!("{f:.prec$e}", prec = digits - 1))
    }

    /// The Decimal128 holding this value, or `None` if the exponent is out of range.
    pub(super) fn to_decimal(self) -> Option<Decimal128> {
        let sign = if self.neg { "-" } else { "" };
        format!("{sign}{}E{}", self.coefficient, self.exponent).parse().ok()
    }

    /// The nearest double.
    pub(super) fn to_f64(self) -> f64 {
        let sign = if self.neg { "-" } else { "" };
        format!("{sign}{}e{}", self.coefficient, self.exponent).parse().unwrap_or(f64::NAN)
    }

    pub(super) fn is_zero(self) -> bool {
        self.coefficient == 0
    }

    pub(super) fn negate(self) -> Dec {
        Dec { neg: !self.neg, ..self }
    }

    pub(super) fn abs(self) -> Dec {
        Dec { neg: false, ..self }
    }

    /// The exact sum rounded to 34 digits, or `None` when it does not fit in 128 bits.
    pub(super) fn add(self, other: Dec) -> Option<Dec> {
        let exponent = self.exponent.min(other.exponent);
        let a = scale(self.coefficient, self.exponent - exponent)?;
        let b = scale(other.coefficient, other.exponent - exponent)?;
        let (neg, coefficient) = match (self.neg, other.neg) {
            (x, y) if x == y => (x, a.checked_add(b)?),
            (x, _) if a >= b => (x, a - b),
            (_, y) => (y, b - a),
        };
        // An exact zero sum is negative only when both operands are.
        let neg = if coefficient == 0 { self.neg && other.neg } else { neg };
        Some(Dec { neg, coefficient, exponent }.rounded())
    }

    /// The product rounded to 34 digits, or `None` when the exponent does not fit.
    /// Exact when the coefficients' product fits in 128 bits (after dropping
    /// trailing zeros); otherwise the longer operand is first rounded a digit at
    /// a time until it does, which can move the 34th digit.
    pub(super) fn mul(self, other: Dec) -> Option<Dec> {
        if let Some(coefficient) = self.coefficient.checked_mul(other.coefficient) {
            let exponent = self.exponent.checked_add(other.exponent)?;
            return Some(Dec { neg: self.neg != other.neg, coefficient, exponent }.rounded());
        }
        let (mut a, mut b) = (self.trimmed(), other.trimmed());
        loop {
            if let Some(coefficient) = a.coefficient.checked_mul(b.coefficient) {
                let exponent = a.exponent.checked_add(b.exponent)?;
                return Some(Dec { neg: self.neg != other.neg, coefficient, exponent }.rounded());
            }
            let longer = if a.coefficient >= b.coefficient { &mut a } else { &mut b };
            let (kept, rest) = (longer.coefficient / 10, longer.coefficient % 10);
            let up = rounds_away(longer.neg, kept, rest, 10, Rounding::HalfEven);
            longer.coefficient = kept + u128::from(up);
            longer.exponent = longer.exponent.checked_add(1)?;
        }
    }

    /// The same value without trailing zeros in its coefficient.
    fn trimmed(self) -> Dec {
        let mut out = self;
        while out.coefficient != 0 && out.coefficient.is_multiple_of(10) {
            out.coefficient /= 10;
            out.exponent += 1;
        }
        out
    }

    /// The quotient by long division, rounded half-even to 34 digits; an exact
    /// quotient keeps the exponent nearest the difference of the operands'.
    /// `None` when dividing by zero.
    pub(super) fn div(self, other: Dec) -> Option<Dec> {
        if other.coefficient == 0 {
            return None;
        }
        let preferred = self.exponent.checked_sub(other.exponent)?;
        let divisor = other.coefficient;
        let mut quotient = self.coefficient / divisor;
        let mut remainder = self.coefficient % divisor;
        let mut exponent = preferred;
        const ENOUGH: u128 = MAX_COEFFICIENT / 10;
        while remainder != 0 && quotient <= ENOUGH {
            remainder *= 10;
            quotient = quotient * 10 + remainder / divisor;
            remainder %= divisor;
            exponent -= 1;
        }
        let neg = self.neg != other.neg;
        if remainder == 0 {
            while quotient != 0 && quotient.is_multiple_of(10) && exponent < preferred {
                quotient /= 10;
                exponent += 1;
            }
            return Some(Dec { neg, coefficient: quotient, exponent });
        }
        let twice = remainder.saturating_mul(2);
        let round_up = twice > divisor || (twice == divisor && quotient % 2 == 1);
        let coefficient = quotient + u128::from(round_up);
        Some(Dec { neg, coefficient, exponent }.rounded())
    }

    /// The value rounded to the exponent `exponent` (`$round`, `$trunc`, `$ceil`,
    /// `$floor`); `None` when the result would need more than 34 digits.
    pub(super) fn quantize(self, exponent: i32, mode: Rounding) -> Option<Dec> {
        if self.exponent >= exponent {
            let coefficient = scale(self.coefficient, self.exponent - exponent)?;
            return (coefficient <= MAX_COEFFICIENT).then_some(Dec { coefficient, exponent, ..self });
        }
        let drop = u32::try_from(exponent - self.exponent).ok()?;
        let (kept, rest, unit) = match 10u128.checked_pow(drop) {
            Some(unit) => (self.coefficient / unit, self.coefficient % unit, unit),
            None => (0, self.coefficient, u128::MAX),
        };
        let coefficient = kept + u128::from(rounds_away(self.neg, kept, rest, unit, mode));
        (coefficient <= MAX_COEFFICIENT).then_some(Dec { coefficient, exponent, ..self })
    }

    /// Rounds the coefficient half-even to at most 34 digits, raising the exponent.
    fn rounded(self) -> Dec {
        let digits = self.coefficient.checked_ilog10().map_or(1, |d| d + 1);
        if digits <= 34 {
            return self;
        }
        let unit = 10u128.pow(digits - 34);
        let (kept, rest) = (self.coefficient / unit, self.coefficient % unit);
        let exponent = self.exponent + (digits - 34) as i32;
        let coefficient = kept + u128::from(rounds_away(self.neg, kept, rest, unit, Rounding::HalfEven));
        if coefficient > MAX_COEFFICIENT {
            return Dec { coefficient: coefficient / 10, exponent: exponent + 1, ..self };
        }
        Dec { coefficient, exponent, ..self }
    }
}

/// Whether dropping `rest` out of `unit` (the dropped digits' weight) moves the
/// kept coefficient `kept` one step away from zero.
fn rounds_away(neg: bool, kept: u128, rest: u128, unit: u128, mode: Rounding) -> bool {
    if rest == 0 {
        return false;
    }
    match mode {
        Rounding::TowardZero => false,
        Rounding::Up => !neg,
        Rounding::Down => neg,
        Rounding::HalfEven => {
            let half = unit / 2;
            rest > half || (rest == half && unit.is_multiple_of(2) && kept % 2 == 1)
        }
    }
}

/// `coefficient × 10^by`, or `None` on overflow.
fn scale(coefficient: u128, by: i32) -> Option<u128> {
    coefficient.checked_mul(10u128.checked_pow(u32::try_from(by).ok()?)?)
}

/// A Decimal128 rounded half-even to an integer, saturating at the bounds of an
/// i64 (NaN is 0), as MongoDB's `safeInt64` fields read one.
pub fn to_i64_half_even(d: &Decimal128) -> i64 {
    let Some(dec) = Dec::of(d) else {
        let text = d.to_string();
        return match (text.contains("NaN"), text.starts_with('-')) {
            (true, _) => 0,
            (false, true) => i64::MIN,
            (false, false) => i64::MAX,
        };
    };
    let saturated = if dec.neg { i64::MIN } else { i64::MAX };
    let Some(integer) = dec.quantize(0, Rounding::HalfEven) else { return saturated };
    let magnitude = i128::try_from(integer.coefficient).unwrap_or(i128::MAX);
    let value = if integer.neg { -magnitude } else { magnitude };
    i64::try_from(value).unwrap_or(saturated)
}

/// `s × 10^k` as MongoDB's rounder computes it for a decimal: the series value
/// converted from its double as `Decimal128(double)` converts (15 significant
/// digits: 16 is 16.0000000000000), times a multiplier made by multiplying or
/// dividing 1 by 10 `k` times (so 10^k exactly, or 10^-k).
fn series_value(s: f64, k: i32) -> Dec {
    let coefficient = s as u128;
    let digits = coefficient.checked_ilog10().map_or(1, |d| d + 1) as i32;
    let widened = 15 - digits;
    let base = Dec { neg: false, coefficient: coefficient * 10u128.pow(widened as u32), exponent: -widened };
    match u32::try_from(k) {
        Ok(up) => match 10u128.checked_pow(up).and_then(|m| base.coefficient.checked_mul(m)) {
            Some(coefficient) => Dec { coefficient, ..base }.rounded(),
            None => Dec { exponent: base.exponent + k, ..base },
        },
        Err(_) => Dec { exponent: base.exponent + k, ..base },
    }
}

/// Whether `a < b`, for two positive decimals: by their adjusted exponents (the
/// exponent of their leading digit), then by their coefficients brought to the
/// same number of digits (at most 34, so no overflow).
fn less(a: Dec, b: Dec) -> bool {
    let digits = |d: Dec| d.coefficient.checked_ilog10().map_or(1, |n| n + 1) as i64;
    let adjusted = |d: Dec| i64::from(d.exponent) + digits(d) - 1;
    match adjusted(a).cmp(&adjusted(b)) {
        std::cmp::Ordering::Less => true,
        std::cmp::Ordering::Greater => false,
        std::cmp::Ordering::Equal => {
            let (da, db) = (digits(a), digits(b));
            let widen = |d: Dec, by: i64| d.coefficient * 10u128.pow(by as u32);
            match da.cmp(&db) {
                std::cmp::Ordering::Less => widen(a, db - da) < b.coefficient,
                _ => a.coefficient < widen(b, da - db),
            }
        }
    }
}

/// How far from 10^0 the series is scaled before giving up (past Decimal128's
/// exponents either way).
const MAX_SCALE: i32 = 6200;

/// A positive, finite decimal rounded to a preferred number series (`series`, its
/// values times powers of ten): up to the smallest value above it, or down to the
/// largest below it, as `$bucketAuto`'s `granularity` rounds a decimal. `None` for
/// NaN and the infinities.
pub(crate) fn round_to_series(d: &Decimal128, series: &[f64], up: bool) -> Option<Decimal128> {
    let number = Dec::of(d)?;
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
                return previous.to_decimal();
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
                return previous.to_decimal();
            }
        }
        series.iter().rev().map(|&s| series_value(s, k)).find(|&value| less(value, number))?
    };
    rounded.to_decimal()
}

/// A Decimal128 as the nearest double (NaN and the infinities included).
pub(super) fn to_f64(d: &Decimal128) -> f64 {
    crate::value::number::decimal_to_f64(d)
}

/// A double as a Decimal128 value (15 significant digits, as MongoDB converts).
pub(super) fn from_f64(f: f64) -> Bson {
    let decimal = match Dec::from_f64(f) {
        Some(d) => d.to_decimal(),
        None if f.is_nan() => "NaN".parse().ok(),
        None if f > 0.0 => "Infinity".parse().ok(),
        None => "-Infinity".parse().ok(),
    };
    decimal.map_or(Bson::Double(f), Bson::Decimal128)
}

/// A decimal result as a value, falling back to a double when out of range.
pub(super) fn to_bson(d: Dec) -> Bson {
    d.to_decimal().map_or_else(|| Bson::Double(d.to_f64()), Bson::Decimal128)
}
