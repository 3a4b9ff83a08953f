//! Statistics: the standard deviation and the percentiles, shared by the
//! expression operators here (`$stdDevPop`, `$stdDevSamp`, `$median`,
//! `$percentile`) and by the accumulators and window functions of the same
//! names.

use std::borrow::Cow;

use bson::Bson;

use super::arith::Num;
use super::decimal::Dec;
use super::logic::special;
use super::{fail, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$stdDevPop", Arity::Any, |a| Ok(Some(deviation_of(a).population()))),
    Operator::eager("$stdDevSamp", Arity::Any, |a| Ok(Some(deviation_of(a).sample()))),
    Operator::special("$median", |p, a| Quantiles::parse(p, a, "$median")),
    Operator::special("$percentile", |p, a| Quantiles::parse(p, a, "$percentile")),
];

/// A running standard deviation (Welford's method, in doubles, as MongoDB's).
/// Values can also be taken out again, for sliding windows.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Deviation {
    count: u64,
    mean: f64,
    m2: f64,
}

impl Deviation {
    /// Adds a value; anything but a number is ignored.
    pub(crate) fn add(&mut self, value: Option<&Bson>) {
        let Some(x) = Num::of(value).map(Num::to_f64) else { return };
        self.count += 1;
        let delta = x - self.mean;
        if delta != 0.0 {
            self.mean += delta / self.count as f64;
            self.m2 += delta * (x - self.mean);
        }
    }

    /// The count, mean and sum of squared deviations (to save the state).
    pub(crate) fn parts(&self) -> (u64, f64, f64) {
        (self.count, self.mean, self.m2)
    }

    /// Takes in another deviation's parts (Chan's parallel combination).
    pub(crate) fn merge(&mut self, count: u64, mean: f64, m2: f64) {
        if count == 0 {
            return;
        }
        let total = self.count + count;
        let delta = mean - self.mean;
        self.m2 += m2 + delta * delta * (self.count as f64) * (count as f64) / total as f64;
        self.mean += delta * count as f64 / total as f64;
        self.count = total;
    }

    /// Takes out a value added before.
    pub(crate) fn remove(&mut self, value: Option<&Bson>) {
        let Some(x) = Num::of(value).map(Num::to_f64) else { return };
        if self.count <= 1 {
            *self = Deviation::default();
            return;
        }
        let mean = (self.mean * self.count as f64 - x) / (self.count - 1) as f64;
        self.m2 -= (x - self.mean) * (x - mean);
        self.mean = mean;
        self.count -= 1;
    }

    /// The population standard deviation, null without values.
    pub(crate) fn population(&self) -> Bson {
        match self.count {
            0 => Bson::Null,
            n => Bson::Double((self.m2.max(0.0) / n as f64).sqrt()),
        }
    }

    /// The sample standard deviation, null with fewer than two values.
    pub(crate) fn sample(&self) -> Bson {
        match self.count {
            0 | 1 => Bson::Null,
            n => Bson::Double((self.m2.max(0.0) / (n - 1) as f64).sqrt()),
        }
    }
}

/// The deviation of an operator's arguments: a single array argument stands for
/// its elements.
fn deviation_of(args: &[Option<&Bson>]) -> Deviation {
    let mut deviation = Deviation::default();
    match args {
        [Some(Bson::Array(items))] => items.iter().for_each(|item| deviation.add(Some(item))),
        _ => args.iter().for_each(|arg| deviation.add(*arg)),
    }
    deviation
}

/// An exponential moving average, in decimal arithmetic as MongoDB computes it:
/// each number moves the average by `alpha` of its distance.
#[derive(Debug, Clone)]
pub(crate) struct MovingAverage {
    alpha: Dec,
    average: Option<Dec>,
    /// Whether a decimal was averaged (the result is then a decimal).
    decimal: bool,
}

impl MovingAverage {
    /// An average with weight `2 / (n + 1)`.
    pub(crate) fn with_n(n: i64) -> MovingAverage {
        let alpha = Dec::from_i128(2).div(Dec::from_i128(i128::from(n) + 1));
        MovingAverage { alpha, average: None, decimal: false }
    }

    /// An average with weight `alpha` (between 0 and 1).
    pub(crate) fn with_alpha(alpha: f64) -> MovingAverage {
        MovingAverage { alpha: Dec::from_f64(alpha), average: None, decimal: false }
    }

    /// Takes in a value (anything but a number is skipped); returns the average
    /// so far, null before the first number.
    pub(crate) fn add(&mut self, value: Option<&Bson>) -> Bson {
        if let Some(n) = Num::of(value) {
            self.decimal |= matches!(n, Num::Decimal(_));
            let x = n.to_dec();
            self.average = Some(match self.average {
                None => x,
                Some(average) => {
                    let keep = Dec::from_i128(1).sub(self.alpha);
                    x.mul(self.alpha).add(average.mul(keep))
                }
            });
        }
        match self.average {
            None => Bson::Null,
            Some(average) if self.decimal => super::decimal::to_bson(average),
            Some(average) => Bson::Double(average.to_f64()),
        }
    }
}

/// The value at a percentile `p` (0 to 1) of sorted values: the lower of the
/// two around it, as MongoDB's discrete method takes.
pub(crate) fn percentile_of(sorted: &[f64], p: f64) -> Bson {
    if sorted.is_empty() {
        return Bson::Null;
    }
    let n = sorted.len();
    let rank = if p >= 1.0 { n - 1 } else { ((n as f64 * p).ceil() as usize).saturating_sub(1) };
    Bson::Double(sorted[rank.min(n - 1)])
}

/// The parsed arguments of `$median` and `$percentile` (expression,
/// accumulator or window function): the input expression and the percentiles.
#[derive(Debug)]
pub(crate) struct QuantileSpec {
    pub input: Bson,
    /// The percentiles asked for; `None` for `$median` (which returns a
    /// scalar).
    pub p: Option<Vec<f64>>,
}

impl QuantileSpec {
    /// Reads `{input, p, method}` (no `p` for `$median`); `p` must be an array
    /// of constant numbers from 0 to 1, `constant` giving its value when it is
    /// constant.
    pub(crate) fn parse(spec: &Bson, op: &str, constant: impl FnMut(&Bson) -> Option<Bson>) -> Result<QuantileSpec> {
        let codes = (ErrorCode::Location7436201, ErrorCode::Location7436200);
        QuantileSpec::parse_with(spec, op, codes, constant)
    }

    /// Reads the argument of the `$median` or `$percentile` accumulator (or
    /// window function), whose expressions may read `vars`.
    pub(crate) fn parse_accumulator(spec: &Bson, op: &str, vars: &super::Variables) -> Result<QuantileSpec> {
        let codes = (ErrorCode::Location7436100, ErrorCode::Location7429703);
        QuantileSpec::parse_with(spec, op, codes, |p| super::Expr::parse(p, vars).ok()?.folded())
    }

    /// Reads `{input, p, method}`; a non-object gets `codes` (for `$median`, for
    /// `$percentile`).
    fn parse_with(
        spec: &Bson,
        op: &str,
        codes: (ErrorCode, ErrorCode),
        constant: impl FnMut(&Bson) -> Option<Bson>,
    ) -> Result<QuantileSpec> {
        let Bson::Document(doc) = spec else {
            let code = if op == "$median" { codes.0 } else { codes.1 };
            return fail(code, format!("specification must be an object; found {op}: {spec}"));
        };
        let (mut input, mut p, mut method) = (None, None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(value),
                "p" if op == "$percentile" => p = Some(value),
                "method" => method = Some(value),
                _ => return fail(ErrorCode::Location40415, format!("BSON field '{op}.{field}' is an unknown field.")),
            }
        }
        let missing = |name: &str| {
            fail(ErrorCode::Location40414, format!("BSON field '{op}.{name}' is missing but a required field"))
        };
        let Some(input) = input else { return missing("input") };
        let p = match (op, p) {
            ("$percentile", None) => return missing("p"),
            ("$percentile", Some(p)) => Some(percentiles(p, constant)?),
            _ => None,
        };
        match method {
            None => return missing("method"),
            Some(Bson::String(method)) if method == "approximate" => {}
            Some(Bson::String(_)) => {
                return fail(ErrorCode::BadValue, "Currently only 'approximate' can be used as percentile 'method'.")
            }
            Some(other) => {
                let message = format!(
                    "BSON field '{op}.method' is the wrong type '{}', expected type 'string'",
                    type_name(Some(other))
                );
                return fail(ErrorCode::TypeMismatch, message);
            }
        }
        Ok(QuantileSpec { input: input.clone(), p })
    }

    /// The result for sorted values: a double (or null) for `$median`, an array of
    /// them in `p`'s order for `$percentile`.
    pub(crate) fn result(&self, sorted: &[f64]) -> Bson {
        match &self.p {
            None => percentile_of(sorted, 0.5),
            Some(ps) => Bson::Array(ps.iter().map(|p| percentile_of(sorted, *p)).collect()),
        }
    }
}

/// Reads `p`: a constant array of numbers from 0 to 1.
fn percentiles(p: &Bson, mut constant: impl FnMut(&Bson) -> Option<Bson>) -> Result<Vec<f64>> {
    let Some(value) = constant(p) else {
        let message = format!("The $percentile 'p' field must be an array of constant values, but found value: {p}.");
        return fail(ErrorCode::Location7750300, message);
    };
    fn out_of_range<T>(found: &Bson, code: ErrorCode) -> Result<T> {
        let message =
            format!("The $percentile 'p' field must be an array of numbers from [0.0, 1.0], but found: {found}");
        fail(code, message)
    }
    let items = match &value {
        Bson::Array(items) if !items.is_empty() => items,
        other => return out_of_range(other, ErrorCode::Location7750301),
    };
    items
        .iter()
        .map(|item| match Num::of(Some(item)).map(Num::to_f64) {
            None => out_of_range(item, ErrorCode::Location7750302),
            Some(p) if !(0.0..=1.0).contains(&p) => out_of_range(item, ErrorCode::Location7750303),
            Some(p) => Ok(p),
        })
        .collect()
}

/// The numbers of a value as sorted doubles: an array's numeric elements, or a
/// single number.
pub(crate) fn sorted_numbers(value: Option<&Bson>) -> Vec<f64> {
    let mut numbers: Vec<f64> = match value {
        Some(Bson::Array(items)) => items.iter().filter_map(|item| Num::of(Some(item)).map(Num::to_f64)).collect(),
        other => Num::of(other).map(Num::to_f64).into_iter().collect(),
    };
    numbers.sort_by(f64::total_cmp);
    numbers
}

/// `$median` and `$percentile` as expressions.
#[derive(Debug)]
struct Quantiles {
    spec: QuantileSpec,
    input: Node,
}

impl Quantiles {
    fn parse(p: &mut Parser, spec: &Bson, op: &str) -> Result<Node> {
        let spec = QuantileSpec::parse(spec, op, |value| p.operand(value).ok()?.folded())?;
        let input = p.operand(&spec.input)?;
        Ok(special(Quantiles { spec, input }))
    }
}

impl Special for Quantiles {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let input = ctx.eval(&self.input)?;
        Ok(Some(Cow::Owned(self.spec.result(&sorted_numbers(input.as_deref())))))
    }
}
