//! Window functions: their arguments as `$setWindowFields` parses them, and
//! their values over the documents of one partition.

use bson::{Bson, Document};

use super::bounds::{Bound, Bounds, Windows};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::stats::{Deviation, MovingAverage};
use crate::query::expr::{nullish, type_name, Expr, Num, Sum, TimeUnit, Variables};
use crate::query::pipeline::accumulator::Accumulator;
use crate::query::pipeline::fields::get_path;
use crate::query::sort::{Sort, SortKey};

/// A window function.
#[derive(Debug, Clone)]
pub(super) enum Function {
    /// An accumulator over the window (`$sum`, `$push`, `$topN`…).
    Accumulate {
        op: Accumulator,
        input: Expr,
    },
    /// `$first` or `$last`: the input of the window's first or last document.
    Edge {
        last: bool,
        input: Expr,
    },
    Rank(Rank),
    /// `$shift`: the output of the document `by` places away, or `default`.
    Shift {
        output: Expr,
        by: i64,
        default: Bson,
    },
    /// `$locf`: the last non-null value so far.
    Locf(Expr),
    /// `$linearFill`: nulls filled along a line between their neighbours.
    LinearFill(Expr),
    /// `$expMovingAvg` with `N` (`Ok`) or `alpha` (`Err`).
    ExpMovingAvg {
        input: Expr,
        weight: std::result::Result<i64, f64>,
    },
    Derivative {
        input: Expr,
        unit: Option<TimeUnit>,
    },
    Integral {
        input: Expr,
        unit: Option<TimeUnit>,
    },
    Covariance {
        input: Expr,
        sample: bool,
    },
}

/// `$rank`, `$denseRank`, `$documentNumber`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Rank {
    /// `$rank`: ties share a rank, and the next rank skips past them.
    Gaps,
    Dense,
    Number,
}

fn failed(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

/// The window functions of MongoDB 8.0.
const NAMES: &[&str] = &[
    "$addToSet",
    "$avg",
    "$bottom",
    "$bottomN",
    "$count",
    "$covariancePop",
    "$covarianceSamp",
    "$denseRank",
    "$derivative",
    "$documentNumber",
    "$expMovingAvg",
    "$first",
    "$firstN",
    "$integral",
    "$last",
    "$lastN",
    "$linearFill",
    "$locf",
    "$max",
    "$maxN",
    "$median",
    "$min",
    "$minN",
    "$percentile",
    "$push",
    "$rank",
    "$shift",
    "$stdDevPop",
    "$stdDevSamp",
    "$sum",
    "$top",
    "$topN",
];

/// A parsed output field: the function and its window.
#[derive(Debug, Clone)]
pub(super) struct Output {
    pub(super) function: Function,
    pub(super) bounds: Bounds,
}

impl Output {
    /// Parses `{$function: argument, window: {...}}`, checking what the function
    /// needs of the stage's `sort`.
    pub(super) fn parse(name: &str, spec: &Bson, sort: Option<&Sort>, vars: &Variables) -> Result<Output> {
        let Bson::Document(spec) = spec else { return Err(failed(format!("The field '{name}' must be an object"))) };
        let mut function: Option<(&str, &Bson)> = None;
        let mut window = None;
        for (field, value) in spec {
            if field == "window" {
                window = Some(value);
            } else if field.starts_with('$') {
                if function.is_some() {
                    return Err(failed("Cannot specify two functions in window function spec"));
                }
                function = Some((field, value));
            } else if function.is_some() {
                return Err(failed(format!("Window function found an unknown argument: {field}")));
            } else {
                return Err(failed(format!("Expected a $-prefixed window function, {field}")));
            }
        }
        let Some((op, argument)) = function else {
            return Err(failed("Must specify a window function in output field"));
        };
        if !NAMES.contains(&op) {
            return Err(failed(format!("Unrecognized window function, {op}")));
        }
        let bounds = window.map(|w| Bounds::parse(w, vars)).transpose()?;
        let function = parse_function(op, argument, window.is_some(), sort, vars)?;
        if matches!(function, Function::Derivative { .. }) && bounds.is_none() {
            return Err(failed("$derivative requires explicit window bounds"));
        }
        // An implicit window needs no sort of its own (`$locf` runs without one).
        if let Some(bounds) = &bounds {
            check_bounds(bounds, sort)?;
        }
        let bounds = bounds.unwrap_or(match function {
            Function::Rank(_) | Function::Locf(_) | Function::ExpMovingAvg { .. } => {
                Bounds::Documents(Bound::Unbounded, Bound::Current)
            }
            _ => Bounds::WHOLE,
        });
        Ok(Output { function, bounds })
    }
}

/// Refuses windows the stage's sort cannot order.
fn check_bounds(bounds: &Bounds, sort: Option<&Sort>) -> Result<()> {
    match bounds {
        Bounds::Documents(Bound::Unbounded, Bound::Unbounded) => Ok(()),
        Bounds::Documents(..) if sort.is_none() => {
            Err(Error::command(ErrorCode::Location5339901, "Document-based bounds require a sortBy"))
        }
        Bounds::Documents(..) => Ok(()),
        Bounds::Range { .. } => match sort.map(|sort| (sort.len(), sort.single_field())) {
            Some((1, Some((_, true)))) => Ok(()),
            Some((1, Some((_, false)))) => {
                Err(Error::command(ErrorCode::Location8947401, "Range-based bounds require an ascending sortBy"))
            }
            Some((1, None)) => {
                Err(Error::command(ErrorCode::Location8947400, "Range-based bounds require a non-expression sortBy"))
            }
            _ => Err(Error::command(ErrorCode::Location5339902, "Range-based bounds require sortBy a single field")),
        },
    }
}

/// Parses one function's argument.
fn parse_function(
    op: &str,
    argument: &Bson,
    windowed: bool,
    sort: Option<&Sort>,
    vars: &Variables,
) -> Result<Function> {
    let sorted_by_one = || sort.and_then(Sort::single_field).is_some();
    Ok(match op {
        "$first" | "$last" => Function::Edge { last: op == "$last", input: Expr::parse(argument, vars)? },
        "$count" => {
            if !matches!(argument, Bson::Document(d) if d.is_empty()) {
                return Err(failed("$count only accepts an empty object as input"));
            }
            Function::Accumulate { op: Accumulator::Count, input: Expr::parse(&Bson::Int32(1), vars)? }
        }
        "$rank" | "$denseRank" | "$documentNumber" => {
            if windowed {
                return Err(Error::command(
                    ErrorCode::Location5371601,
                    "Rank style window functions take no other arguments",
                ));
            }
            if !matches!(argument, Bson::Document(d) if d.is_empty()) {
                let message = format!("{op} must be specified with '{{}}' as the value");
                return Err(Error::command(ErrorCode::Location5371603, message));
            }
            if sort.is_none_or(|sort| sort.len() != 1) {
                let message =
                    format!("{op} must be specified with a top level sortBy expression with exactly one element");
                return Err(Error::command(ErrorCode::Location5371602, message));
            }
            Function::Rank(match op {
                "$rank" => Rank::Gaps,
                "$denseRank" => Rank::Dense,
                _ => Rank::Number,
            })
        }
        "$shift" => parse_shift(argument, windowed, sort, vars)?,
        "$locf" => {
            if windowed {
                return Err(failed("'window' field is not allowed in $locf"));
            }
            Function::Locf(Expr::parse(argument, vars)?)
        }
        "$linearFill" => {
            if windowed {
                return Err(failed("'window' field is not allowed in $linearFill"));
            }
            if !sorted_by_one() {
                return Err(Error::command(
                    ErrorCode::Location605001,
                    "$linearFill must be specified with a top level sortBy expression with exactly one element",
                ));
            }
            Function::LinearFill(Expr::parse(argument, vars)?)
        }
        "$expMovingAvg" => parse_moving_average(argument, windowed, sort, vars)?,
        "$derivative" | "$integral" => parse_calculus(op, argument, sort, vars)?,
        "$covariancePop" | "$covarianceSamp" => {
            Function::Covariance { input: Expr::parse(argument, vars)?, sample: op == "$covarianceSamp" }
        }
        // MongoDB has no window form of `$accumulator`.
        "$accumulator" => return Err(failed(format!("Unrecognized window function, {op}"))),
        _ => match Accumulator::parse(op, argument, vars)? {
            Some((op, input)) => Function::Accumulate { op, input },
            None => return Err(failed(format!("Unrecognized window function, {op}"))),
        },
    })
}

/// `$shift: {output, by, default}`.
fn parse_shift(argument: &Bson, windowed: bool, sort: Option<&Sort>, vars: &Variables) -> Result<Function> {
    if windowed {
        return Err(failed("$shift does not accept a 'window' field"));
    }
    let Bson::Document(spec) = argument else { return Err(failed("Argument to $shift must be an object")) };
    let (mut output, mut by, mut default) = (None, None, Bson::Null);
    for (field, value) in spec {
        match field.as_str() {
            "output" => output = Some(Expr::parse(value, vars)?),
            "by" => {
                let n = Num::of(Some(value))
                    .map(Num::to_f64)
                    .filter(|n| n.fract() == 0.0 && n.abs() <= f64::from(i32::MAX));
                let Some(n) = n else {
                    return Err(failed(format!("'$shift:by' field must be an integer, but found  {field}: {value}")));
                };
                by = Some(n as i64);
            }
            "default" => {
                default = Expr::parse(value, vars)?
                    .folded()
                    .ok_or_else(|| failed("'$shift:default' expression must yield a constant value."))?;
            }
            _ => return Err(failed("Unknown argument in $shift")),
        }
    }
    let Some(output) = output else { return Err(failed("$shift requires an 'output' expression.")) };
    let Some(by) = by else { return Err(failed("$shift requires 'by' as an integer value.")) };
    if sort.is_none() {
        return Err(failed("'$shift' requires a sortBy"));
    }
    Ok(Function::Shift { output, by, default })
}

/// `$expMovingAvg: {input, N}` or `{input, alpha}`.
fn parse_moving_average(argument: &Bson, windowed: bool, sort: Option<&Sort>, vars: &Variables) -> Result<Function> {
    let Bson::Document(spec) = argument.clone() else {
        return Err(failed("$expMovingAvg must have exactly one argument that is an object"));
    };
    if windowed {
        return Err(failed("$expMovingAvg must have exactly one argument that is an object"));
    }
    let shape = "$expMovingAvg sub object must have exactly two fields: An 'input' field, and either an 'N' field or an 'alpha' field";
    let (Some(input), 2) = (spec.get("input"), spec.len()) else { return Err(failed(shape)) };
    if sort.is_none() {
        return Err(failed("$expMovingAvg requires an explicit 'sortBy'"));
    }
    let weight = match (spec.get("N"), spec.get("alpha")) {
        (Some(n), None) => {
            let Some(number) = Num::of(Some(n)).map(Num::to_f64) else {
                return Err(failed(format!("'N' field must be an integer, but found type {}", type_name(Some(n)))));
            };
            if number.fract() != 0.0 {
                return Err(failed(format!(
                    "'N' field must be an integer, but found  {n}. To use a non-integer, use the 'alpha' argument instead"
                )));
            }
            if number <= 0.0 {
                return Err(failed(format!("'N' must be greater than zero. Got {n}")));
            }
            Ok(number as i64)
        }
        (None, Some(alpha)) => {
            let Some(alpha) = Num::of(Some(alpha)).map(Num::to_f64) else {
                return Err(failed("'alpha' must be a number"));
            };
            if !(alpha > 0.0 && alpha < 1.0) {
                return Err(failed(format!("'alpha' must be between 0 and 1 (exclusive), found {alpha}")));
            }
            Err(alpha)
        }
        _ => return Err(failed(shape)),
    };
    Ok(Function::ExpMovingAvg { input: Expr::parse(input, vars)?, weight })
}

/// `$derivative` or `$integral: {input, unit}`.
fn parse_calculus(op: &str, argument: &Bson, sort: Option<&Sort>, vars: &Variables) -> Result<Function> {
    match sort.map(|sort| (sort.len(), sort.single_field())) {
        None => return Err(failed(format!("{op} requires a sortBy"))),
        Some((1, Some(_))) => {}
        Some((1, None)) => return Err(failed(format!("{op} requires a non-expression sortBy"))),
        Some(_) => return Err(failed(format!("{op} requires a non-compound sortBy"))),
    }
    let Bson::Document(spec) = argument else {
        return Err(failed(format!("{op} expects an object, but got a {}: {argument}", type_name(Some(argument)))));
    };
    let (mut input, mut unit) = (None, None);
    for (field, value) in spec {
        match field.as_str() {
            "input" => input = Some(Expr::parse(value, vars)?),
            "unit" => {
                let Bson::String(name) = value else {
                    return Err(failed(format!("unit' must be a string, but got {}", type_name(Some(value)))));
                };
                let parsed = TimeUnit::named(name).map_err(failed)?;
                if parsed.fixed_millis().is_none() {
                    return Err(Error::command(ErrorCode::Location5490710, "unit must be 'week' or smaller"));
                }
                unit = Some(parsed);
            }
            _ => return Err(failed(format!("{op} got unexpected argument: {field}"))),
        }
    }
    let Some(input) = input else { return Err(failed(format!("{op} requires an 'input' expression"))) };
    Ok(if op == "$derivative" { Function::Derivative { input, unit } } else { Function::Integral { input, unit } })
}

/// A partition being computed: its documents and the stage's sort.
pub(super) struct Partition<'p> {
    pub(super) docs: &'p [Document],
    pub(super) sort: Option<&'p Sort>,
}

impl Partition<'_> {
    /// The values of `input` for every document.
    fn inputs(&self, input: &Expr) -> Result<Vec<Option<Bson>>> {
        self.docs.iter().map(|doc| input.evaluate_optional(doc)).collect()
    }

    /// The single sort field's path.
    fn sort_path(&self) -> Option<&[String]> {
        self.sort.and_then(Sort::single_field).map(|(path, _)| path)
    }

    /// Each document's sort value (the single sort field).
    fn sort_values(&self) -> Vec<Option<&Bson>> {
        let path = self.sort_path();
        self.docs.iter().map(|doc| path.and_then(|path| get_path(doc, path))).collect()
    }

    /// The function's value for every document (`None`: the field is not set).
    pub(super) fn compute(&self, output: &Output) -> Result<Vec<Option<Bson>>> {
        let windows = Windows::new(&output.bounds, self.docs, self.sort_path());
        match &output.function {
            Function::Accumulate { op, input } => self.accumulate(op, input, &output.bounds, &windows),
            Function::Edge { last, input } => {
                let inputs = self.inputs(input)?;
                (0..self.docs.len())
                    .map(|i| {
                        Ok(match windows.at(i)? {
                            None => Some(Bson::Null),
                            Some((low, high)) => inputs[if *last { high } else { low }].clone(),
                        })
                    })
                    .collect()
            }
            Function::Rank(rank) => self.rank(*rank),
            Function::Shift { output, by, default } => {
                let inputs = self.inputs(output)?;
                Ok((0..self.docs.len() as i64)
                    .map(|i| match usize::try_from(i + by).ok().filter(|&j| j < inputs.len()) {
                        Some(j) => inputs[j].clone(),
                        None => Some(default.clone()),
                    })
                    .collect())
            }
            Function::Locf(input) => {
                let mut last = Bson::Null;
                Ok(self
                    .inputs(input)?
                    .into_iter()
                    .map(|value| {
                        if let Some(value) = value.filter(|v| !nullish(Some(v))) {
                            last = value;
                        }
                        Some(last.clone())
                    })
                    .collect())
            }
            Function::LinearFill(input) => self.linear_fill(input),
            Function::ExpMovingAvg { input, weight } => {
                let mut average = match weight {
                    Ok(n) => MovingAverage::with_n(*n),
                    Err(alpha) => MovingAverage::with_alpha(*alpha),
                };
                Ok(self.inputs(input)?.iter().map(|value| Some(average.add(value.as_ref()))).collect())
            }
            Function::Derivative { input, unit } => self.derivative(input, *unit, &windows),
            Function::Integral { input, unit } => self.integral(input, *unit, &windows),
            Function::Covariance { input, sample } => {
                let pairs: Vec<Option<(f64, f64)>> = self.inputs(input)?.iter().map(pair).collect();
                (0..self.docs.len())
                    .map(|i| Ok(Some(windows.at(i)?.map_or(Bson::Null, |(l, h)| covariance(&pairs[l..=h], *sample)))))
                    .collect()
            }
        }
    }

    /// An accumulator over each document's window: fed in order when windows
    /// only grow, slid when it can take values out, else recomputed.
    fn accumulate(
        &self,
        op: &Accumulator,
        input: &Expr,
        bounds: &Bounds,
        windows: &Windows,
    ) -> Result<Vec<Option<Bson>>> {
        let inputs = self.inputs(input)?;
        let keys: Vec<Option<SortKey>> = self.docs.iter().map(|doc| op.sort_key(doc)).collect::<Result<_>>()?;
        let empty = Document::new();
        let fresh = || op.start(&empty);
        let count = self.docs.len();
        let mut out = Vec::with_capacity(count);
        if bounds.left_unbounded() {
            let mut state = fresh()?;
            let mut next = None;
            for i in 0..count {
                let Some((low, high)) = windows.at(i)? else {
                    out.push(Some(fresh()?.finish(op)?));
                    continue;
                };
                let mut at = next.unwrap_or(low);
                while at <= high {
                    state.add(op, inputs[at].clone(), keys[at].clone())?;
                    at += 1;
                }
                next = Some(at);
                out.push(Some(state.value(op)?));
            }
            return Ok(out);
        }
        let mut sliding = Sliding::new(op);
        for i in 0..count {
            let window = windows.at(i)?;
            let value = match (&mut sliding, window) {
                (_, None) => fresh()?.finish(op)?,
                (Some(sliding), Some(window)) => sliding.slide(window, &inputs),
                (None, Some((low, high))) => {
                    let mut state = fresh()?;
                    for at in low..=high {
                        state.add(op, inputs[at].clone(), keys[at].clone())?;
                    }
                    let mut value = state.finish(op)?;
                    if let (Accumulator::AddToSet, Bson::Array(items)) = (op, &mut value) {
                        // A sliding window's set comes out in ascending order.
                        items.sort_by(|a, b| crate::query::expr::compare(Some(a), Some(b)));
                    }
                    value
                }
            };
            out.push(Some(value));
        }
        Ok(out)
    }

    /// `$rank`, `$denseRank`, `$documentNumber` by the sort key.
    fn rank(&self, rank: Rank) -> Result<Vec<Option<Bson>>> {
        let Some(sort) = self.sort else { return Ok(vec![Some(Bson::Null); self.docs.len()]) };
        let mut out = Vec::with_capacity(self.docs.len());
        let (mut previous, mut current, mut dense) = (None::<SortKey>, 0i64, 0i64);
        for (i, doc) in self.docs.iter().enumerate() {
            let key = sort.key(doc)?;
            let same = previous.as_ref().is_some_and(|p| sort.compare_keys(p, &key).is_eq());
            if !same {
                current = i as i64 + 1;
                dense += 1;
            }
            let value = match rank {
                Rank::Gaps => current,
                Rank::Dense => dense,
                Rank::Number => i as i64 + 1,
            };
            out.push(Some(i32::try_from(value).map_or(Bson::Int64(value), Bson::Int32)));
            previous = Some(key);
        }
        Ok(out)
    }

    /// `$linearFill`: each null between two numbers, on the line through them.
    fn linear_fill(&self, input: &Expr) -> Result<Vec<Option<Bson>>> {
        let inputs = self.inputs(input)?;
        let xs = self.sort_values();
        let mut points = Vec::new();
        let mut kind: Option<&'static str> = None;
        let mut previous_x: Option<f64> = None;
        for (i, (y, x)) in inputs.iter().zip(&xs).enumerate() {
            let x_value = match x {
                Some(Bson::DateTime(d)) => d.timestamp_millis() as f64,
                other => match Num::of(*other) {
                    Some(n) => n.to_f64(),
                    None => {
                        let message = format!(
                            "Value of the sortBy field must be numeric or a date, but found {}",
                            type_name(*other)
                        );
                        return Err(Error::command(ErrorCode::TypeMismatch, message));
                    }
                },
            };
            let this_kind = if matches!(x, Some(Bson::DateTime(_))) { "date" } else { "number" };
            if let Some(kind) = kind.filter(|kind| *kind != this_kind) {
                let message =
                    format!("Conflicting sort value types, previously received type {kind}, but found {this_kind}");
                return Err(Error::command(ErrorCode::TypeMismatch, message));
            }
            kind = Some(this_kind);
            if previous_x == Some(x_value) {
                return Err(Error::command(
                    ErrorCode::Location6050106,
                    "There can be no repeated values in the sort field",
                ));
            }
            previous_x = Some(x_value);
            match y {
                value if nullish(value.as_ref()) => {}
                Some(value) => match Num::of(Some(value)) {
                    Some(n) => points.push((i, x_value, n.to_f64())),
                    None => {
                        let message = format!(
                            "Value to be filled must be numeric or nullish, but found {}",
                            type_name(Some(value))
                        );
                        return Err(Error::command(ErrorCode::TypeMismatch, message));
                    }
                },
                None => {}
            }
        }
        let mut out: Vec<Option<Bson>> = inputs.iter().map(|v| Some(v.clone().unwrap_or(Bson::Null))).collect();
        for pair in points.windows(2) {
            let ((i1, x1, y1), (i2, x2, y2)) = (pair[0], pair[1]);
            for (i, slot) in out.iter_mut().enumerate().take(i2).skip(i1 + 1) {
                let x = match xs[i] {
                    Some(Bson::DateTime(d)) => d.timestamp_millis() as f64,
                    other => Num::of(other).map_or(0.0, Num::to_f64),
                };
                *slot = Some(Bson::Double(y1 + (x - x1) * ((y2 - y1) / (x2 - x1))));
            }
        }
        Ok(out)
    }

    /// The sort value of each document as a number for `$derivative` and
    /// `$integral`: milliseconds for dates, which need a unit.
    fn abscissas(&self, unit: Option<TimeUnit>, codes: [(ErrorCode, &str); 3]) -> Result<Vec<f64>> {
        let [(needs_date, with_unit), (needs_unit, dated), (needs_number, plain)] = codes;
        self.sort_values()
            .into_iter()
            .map(|x| match (x, unit) {
                (Some(Bson::DateTime(d)), Some(_)) => Ok(d.timestamp_millis() as f64),
                (_, Some(_)) => Err(Error::command(needs_date, with_unit)),
                (Some(Bson::DateTime(_)), None) => Err(Error::command(needs_unit, dated)),
                (other, None) => Num::of(other).map(Num::to_f64).ok_or_else(|| Error::command(needs_number, plain)),
            })
            .collect()
    }

    /// `$derivative`: the slope between the window's first and last documents.
    fn derivative(&self, input: &Expr, unit: Option<TimeUnit>, windows: &Windows) -> Result<Vec<Option<Bson>>> {
        let xs = self.abscissas(
            unit,
            [
                (ErrorCode::Location5624900, "$derivative with 'unit' expects the sortBy field to be a Date"),
                (ErrorCode::Location5624901, "$derivative where the sortBy is a Date requires an 'unit'"),
                (ErrorCode::Location5624902, "$derivative (with no 'unit') expects the sortBy field to be numeric"),
            ],
        )?;
        let ys = self.inputs(input)?;
        let y = |i: usize| match Num::of(ys[i].as_ref()) {
            Some(n) => Ok(n.to_f64()),
            None => Err(Error::command(ErrorCode::Location5624903, "$derivative input must not be null or missing")),
        };
        let scale = unit.and_then(TimeUnit::fixed_millis).unwrap_or(1) as f64;
        (0..self.docs.len())
            .map(|i| {
                let Some((low, high)) = windows.at(i)? else { return Ok(Some(Bson::Null)) };
                let (y1, y2) = (y(low)?, y(high)?);
                if xs[high] == xs[low] {
                    return Ok(Some(Bson::Null));
                }
                Ok(Some(Bson::Double((y2 - y1) / (xs[high] - xs[low]) * scale)))
            })
            .collect()
    }

    /// `$integral`: the trapezoidal area under the window's points.
    fn integral(&self, input: &Expr, unit: Option<TimeUnit>, windows: &Windows) -> Result<Vec<Option<Bson>>> {
        let xs = self.abscissas(
            unit,
            [
                (ErrorCode::Location5423901, "$integral with 'unit' expects the sortBy field to be a Date"),
                (ErrorCode::Location5423901, "$integral with 'unit' expects the sortBy field to be a Date"),
                (ErrorCode::Location5423902, "$integral (with no 'unit') expects the sortBy field to be numeric"),
            ],
        )?;
        let ys: Vec<f64> = self
            .inputs(input)?
            .iter()
            .map(|y| {
                Num::of(y.as_ref()).map(Num::to_f64).ok_or_else(|| {
                    Error::command(
                        ErrorCode::Location5423900,
                        "The input value of $integral window function must be a vector of 2 value, the first value must be numeric or date type and the second must be numeric.",
                    )
                })
            })
            .collect::<Result<_>>()?;
        // Running areas: area(low..=high) = prefix[high] - prefix[low].
        let mut prefix = vec![0.0; ys.len()];
        for i in 1..ys.len() {
            prefix[i] = prefix[i - 1] + (ys[i] + ys[i - 1]) * (xs[i] - xs[i - 1]) / 2.0;
        }
        let scale = unit.and_then(TimeUnit::fixed_millis).map(|ms| ms as f64);
        (0..self.docs.len())
            .map(|i| {
                let Some((low, high)) = windows.at(i)? else { return Ok(Some(Bson::Null)) };
                let area = if high == low {
                    0.0
                } else if low == 0 {
                    prefix[high]
                } else {
                    (low + 1..=high).map(|j| (ys[j] + ys[j - 1]) * (xs[j] - xs[j - 1]) / 2.0).sum()
                };
                Ok(Some(Bson::Double(scale.map_or(area, |scale| area / scale))))
            })
            .collect()
    }
}

/// An `[x, y]` pair of numbers.
fn pair(value: &Option<Bson>) -> Option<(f64, f64)> {
    let Some(Bson::Array(items)) = value else { return None };
    match items.as_slice() {
        [x, y] => Some((Num::of(Some(x))?.to_f64(), Num::of(Some(y))?.to_f64())),
        _ => None,
    }
}

/// The covariance of the pairs present, by MongoDB's online algorithm (the
/// co-moment grows by `(x - mean x before) * (y - mean y after)`), so the
/// doubles come out as MongoDB's do.
fn covariance(pairs: &[Option<(f64, f64)>], sample: bool) -> Bson {
    let (mut count, mut sum_x, mut sum_y, mut co_moment) = (0.0, 0.0, 0.0, 0.0);
    for (x, y) in pairs.iter().flatten() {
        let mean_x = if count == 0.0 { 0.0 } else { sum_x / count };
        count += 1.0;
        sum_x += x;
        sum_y += y;
        co_moment += (x - mean_x) * (y - sum_y / count);
    }
    if count == 0.0 || (sample && count < 2.0) {
        return Bson::Null;
    }
    Bson::Double(co_moment / if sample { count - 1.0 } else { count })
}

/// A sum, average or deviation that values can leave: kept as the window
/// slides instead of recomputed.
struct Sliding<'o> {
    kind: Removable<'o>,
    /// The window the state holds now.
    window: Option<(usize, usize)>,
}

enum Removable<'o> {
    Sum { op: &'o Accumulator, sum: RemovableSum },
    Deviation { sample: bool, deviation: Deviation, non_finite: usize },
}

impl<'o> Sliding<'o> {
    fn new(op: &'o Accumulator) -> Option<Sliding<'o>> {
        let kind = match op {
            Accumulator::Sum | Accumulator::Avg | Accumulator::Count => {
                Removable::Sum { op, sum: RemovableSum::default() }
            }
            Accumulator::StdDev { sample } => {
                Removable::Deviation { sample: *sample, deviation: Deviation::default(), non_finite: 0 }
            }
            _ => return None,
        };
        Some(Sliding { kind, window: None })
    }

    /// The value over `low..=high`, moving the window there: values enter and
    /// leave when both ends moved forward over an overlapping window, else the
    /// state is rebuilt.
    fn slide(&mut self, (low, high): (usize, usize), inputs: &[Option<Bson>]) -> Bson {
        match self.window {
            Some((l, h)) if low >= l && high >= h && low <= h + 1 => {
                for value in &inputs[h + 1..=high] {
                    self.kind.add(value.as_ref(), true);
                }
                for value in &inputs[l..low] {
                    self.kind.add(value.as_ref(), false);
                }
            }
            _ => {
                self.kind.reset();
                for value in &inputs[low..=high] {
                    self.kind.add(value.as_ref(), true);
                }
            }
        }
        self.window = Some((low, high));
        self.kind.value(&inputs[low..=high])
    }
}

impl Removable<'_> {
    fn reset(&mut self) {
        match self {
            Removable::Sum { sum, .. } => *sum = RemovableSum::default(),
            Removable::Deviation { deviation, non_finite, .. } => {
                *deviation = Deviation::default();
                *non_finite = 0;
            }
        }
    }

    /// Takes a value in (`entering`) or out.
    fn add(&mut self, value: Option<&Bson>, entering: bool) {
        match self {
            Removable::Sum { sum, .. } => sum.add(value, if entering { 1 } else { -1 }),
            Removable::Deviation { deviation, non_finite, .. } => {
                let Some(x) = Num::of(value).map(Num::to_f64) else { return };
                if !x.is_finite() {
                    if entering {
                        *non_finite += 1;
                    } else {
                        *non_finite -= 1;
                    }
                } else if entering {
                    deviation.add(value);
                } else {
                    deviation.remove(value);
                }
            }
        }
    }

    /// The result over `window`, the values now held.
    fn value(&self, window: &[Option<Bson>]) -> Bson {
        match self {
            Removable::Sum { op, sum } => sum.value(op, window),
            Removable::Deviation { non_finite, .. } if *non_finite > 0 => Bson::Null,
            Removable::Deviation { sample, deviation, .. } => match (deviation.parts().0, sample) {
                (1, false) => Bson::Int32(0),
                (_, true) => deviation.sample(),
                (_, false) => deviation.population(),
            },
        }
    }
}

/// A sum values can leave: integers exactly, doubles as a running double sum,
/// and counts of each kind so the result's type narrows back when doubles
/// leave, as MongoDB's removable sum does. Decimals and non-finite doubles make
/// the sum recomputed over the window.
#[derive(Debug, Default)]
struct RemovableSum {
    integers: i128,
    doubles: f64,
    numbers: i64,
    double_count: i64,
    exotic: i64,
}

impl RemovableSum {
    fn add(&mut self, value: Option<&Bson>, sign: i64) {
        let Some(n) = Num::of(value) else { return };
        self.numbers += sign;
        match n {
            Num::Int(i) => self.integers += i128::from(i) * i128::from(sign),
            Num::Long(i) => self.integers += i128::from(i) * i128::from(sign),
            Num::Double(d) if d.is_finite() => {
                self.doubles += d * sign as f64;
                self.double_count += sign;
            }
            _ => self.exotic += sign,
        }
    }

    fn value(&self, op: &Accumulator, window: &[Option<Bson>]) -> Bson {
        let average = matches!(op, Accumulator::Avg);
        if average && self.numbers == 0 {
            return Bson::Null;
        }
        if self.exotic > 0 {
            let mut sum = Sum::default();
            window.iter().filter_map(|v| Num::of(v.as_ref())).for_each(|n| sum.add(n));
            return if average { sum.average(self.numbers as u64) } else { sum.total() };
        }
        let total = self.integers as f64 + self.doubles;
        match (average, self.double_count > 0) {
            (true, _) => Bson::Double(total / self.numbers as f64),
            (false, true) => Bson::Double(total),
            (false, false) => match i32::try_from(self.integers) {
                Ok(n) => Bson::Int32(n),
                Err(_) => i64::try_from(self.integers).map_or(Bson::Double(total), Bson::Int64),
            },
        }
    }
}
