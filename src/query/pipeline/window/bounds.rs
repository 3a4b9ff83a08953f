//! Window bounds: `documents: [lower, upper]` counts documents from the current
//! one; `range: [lower, upper]` (with an optional time `unit`) takes the
//! documents whose sort value lies within a distance of the current one's.

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{compare, Expr, Num, TimeUnit, Variables};

/// One end of a window.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bound {
    Unbounded,
    Current,
    /// A document offset (`documents`) or a distance in the sort value (`range`).
    At(Bson),
}

/// A window specification.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Bounds {
    Documents(Bound, Bound),
    Range { lower: Bound, upper: Bound, unit: Option<TimeUnit> },
}

fn failed(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

impl Bounds {
    /// The default window: the whole partition.
    pub(super) const WHOLE: Bounds = Bounds::Documents(Bound::Unbounded, Bound::Unbounded);

    /// Parses a `window` object.
    pub(super) fn parse(spec: &Bson, vars: &Variables) -> Result<Bounds> {
        let Bson::Document(spec) = spec else { return Err(failed("'window' field must be an object")) };
        let (documents, range, unit) = (spec.get("documents"), spec.get("range"), spec.get("unit"));
        if spec.is_empty() {
            return Ok(Bounds::WHOLE);
        }
        if documents.is_some() && range.is_some() {
            return Err(failed("Window bounds can specify either 'documents' or 'unit', not both."));
        }
        if unit.is_some() && range.is_none() {
            return Err(failed("Window bounds can only specify 'unit' with range-based bounds."));
        }
        if let Some(documents) = documents {
            if spec.len() > 1 {
                return Err(failed("'window' field that specifies documents cannot have other fields"));
            }
            let (lower, upper) = pair(documents, vars, |value| match value.as_ref().and_then(integral) {
                Some(n) => Ok(Bson::Int64(n)),
                None => Err(failed("Numeric document-based bounds must be an integer")),
            })?;
            check_order(&lower, &upper)?;
            return Ok(Bounds::Documents(lower, upper));
        }
        let Some(range) = range else {
            return Err(failed(
                "'window' field can only contain 'documents' as the only argument or 'range' with an optional 'unit' field",
            ));
        };
        if spec.len() > 1 + usize::from(unit.is_some()) {
            return Err(failed("'window' field that specifies range cannot have other fields besides 'unit'"));
        }
        let unit = match unit {
            None => None,
            Some(Bson::String(name)) => Some(TimeUnit::named(name).map_err(failed)?),
            Some(_) => return Err(failed("'unit' must be a string")),
        };
        let (lower, upper) = pair(range, vars, |value| match value {
            Some(number) if Num::of(Some(&number)).is_some() => match unit {
                Some(_) => integral(&number)
                    .map(Bson::Int64)
                    .ok_or_else(|| failed("With 'unit', range-based bounds must be an integer")),
                None => Ok(number),
            },
            _ => Err(failed("Range-based bounds expression must be a number")),
        })?;
        check_order(&lower, &upper)?;
        Ok(Bounds::Range { lower, upper, unit })
    }

    /// Whether the window starts at the partition's first document (so a
    /// function can take documents in as the window grows).
    pub(super) fn left_unbounded(&self) -> bool {
        matches!(self, Bounds::Documents(Bound::Unbounded, _) | Bounds::Range { lower: Bound::Unbounded, .. })
    }
}

/// An integral number as an `i64`.
fn integral(value: &Bson) -> Option<i64> {
    match Num::of(Some(value))? {
        Num::Int(n) => Some(i64::from(n)),
        Num::Long(n) => Some(n),
        other => {
            let n = other.to_f64();
            (n.fract() == 0.0 && n.abs() < 9.2e18).then_some(n as i64)
        }
    }
}

/// Reads `[lower, upper]`, each `"unbounded"`, `"current"` or a constant
/// expression whose value `number` checks.
fn pair(spec: &Bson, vars: &Variables, number: impl Fn(Option<Bson>) -> Result<Bson>) -> Result<(Bound, Bound)> {
    let items = match spec {
        Bson::Array(items) if items.len() == 2 => items,
        other => return Err(failed(format!("Window bounds must be a 2-element array: {other}"))),
    };
    let bound = |item: &Bson| -> Result<Bound> {
        match item {
            Bson::String(s) if s == "unbounded" => Ok(Bound::Unbounded),
            Bson::String(s) if s == "current" => Ok(Bound::Current),
            Bson::String(s) if !s.starts_with('$') => {
                Err(failed("Window bounds must be 'unbounded', 'current', or a number."))
            }
            other => {
                let expr = Expr::parse(other, vars)?;
                let Some(value) = expr.folded() else {
                    return Err(failed("Window bounds expression must be a constant."));
                };
                number(Some(value)).map(Bound::At)
            }
        }
    };
    Ok((bound(&items[0])?, bound(&items[1])?))
}

/// Refuses a lower bound past the upper one.
fn check_order(lower: &Bound, upper: &Bound) -> Result<()> {
    let offset = |bound: &Bound| match bound {
        Bound::Current => Some(Bson::Int32(0)),
        Bound::At(value) => Some(value.clone()),
        Bound::Unbounded => None,
    };
    if let (Some(l), Some(u)) = (offset(lower), offset(upper)) {
        if compare(Some(&l), Some(&u)) == Ordering::Greater {
            let show = |b: &Bound| match b {
                Bound::Current => "current".to_owned(),
                Bound::At(value) => value.to_string(),
                Bound::Unbounded => "unbounded".to_owned(),
            };
            let message = format!("Lower bound must not exceed upper bound: [{}, {}]", show(lower), show(upper));
            return Err(Error::command(ErrorCode::Location5339900, message));
        }
    }
    Ok(())
}

/// Finds the windows of a partition's documents.
pub(super) struct Windows<'p> {
    bounds: &'p Bounds,
    count: usize,
    /// For range windows: each document's sort value and the span of documents
    /// whose sort value has the expected type (numbers, or dates with a unit).
    values: Vec<Option<&'p Bson>>,
    typed: Option<(usize, usize)>,
}

impl<'p> Windows<'p> {
    /// The windows of `docs`, sorted by `path` (for range windows).
    pub(super) fn new(bounds: &'p Bounds, docs: &'p [Document], path: Option<&[String]>) -> Windows<'p> {
        let mut windows = Windows { bounds, count: docs.len(), values: Vec::new(), typed: None };
        if let (Bounds::Range { unit, .. }, Some(path)) = (bounds, path) {
            windows.values = docs.iter().map(|doc| super::super::fields::get_path(doc, path)).collect();
            let expected = |v: &Option<&Bson>| expected_type(*v, unit.is_some());
            let first = windows.values.iter().position(expected);
            let last = windows.values.iter().rposition(expected);
            windows.typed = first.zip(last);
        }
        windows
    }

    /// The window of the document at `at`: its first and last positions, or
    /// `None` when empty.
    pub(super) fn at(&self, at: usize) -> Result<Option<(usize, usize)>> {
        match self.bounds {
            Bounds::Documents(lower, upper) => Ok(self.by_documents(at, lower, upper)),
            Bounds::Range { lower, upper, unit } => self.by_range(at, lower, upper, *unit),
        }
    }

    fn by_documents(&self, at: usize, lower: &Bound, upper: &Bound) -> Option<(usize, usize)> {
        let last = self.count as i64 - 1;
        let offset = |bound: &Bound, unbounded: i64| match bound {
            Bound::Unbounded => unbounded,
            Bound::Current => at as i64,
            Bound::At(n) => (at as i64).saturating_add(integral(n).unwrap_or(0)),
        };
        let (low, high) = (offset(lower, 0).max(0), offset(upper, last).min(last));
        (low <= high).then_some((low as usize, high as usize))
    }

    fn by_range(
        &self,
        at: usize,
        lower: &Bound,
        upper: &Bound,
        unit: Option<TimeUnit>,
    ) -> Result<Option<(usize, usize)>> {
        let base = self.values.get(at).copied().flatten();
        if !expected_type(base, unit.is_some()) {
            return Err(match (unit, base) {
                (None, Some(Bson::DateTime(_))) => Error::command(
                    ErrorCode::Location5429413,
                    "Invalid range: For windows that involve date or time ranges, a unit must be provided.",
                ),
                (None, other) => Error::command(
                    ErrorCode::Location5429414,
                    format!("Invalid range: Expected the sortBy field to be a number, but it was {}", type_name(other)),
                ),
                (Some(_), other) => Error::command(
                    ErrorCode::Location5429513,
                    format!("Invalid range: Expected the sortBy field to be a Date, but it was {}", type_name(other)),
                ),
            });
        }
        let (Some((first, last)), Some(base)) = (self.typed, base) else { return Ok(None) };
        let value = |i: usize| self.values[i].unwrap_or(&Bson::Null);
        let low = match lower {
            Bound::Unbounded => first,
            Bound::Current => at,
            Bound::At(delta) => {
                let threshold = shifted(base, delta, unit)?;
                partition_point(first, last + 1, |i| compare(Some(value(i)), Some(&threshold)).is_lt())
            }
        };
        let high = match upper {
            Bound::Unbounded => Some(last),
            Bound::Current => Some(at),
            Bound::At(delta) => {
                let threshold = shifted(base, delta, unit)?;
                partition_point(first, last + 1, |i| compare(Some(value(i)), Some(&threshold)).is_le()).checked_sub(1)
            }
        };
        Ok(high.filter(|&high| low <= high && low <= last).map(|high| (low, high)))
    }
}

/// The first position in `start..end` where `before` turns false (it must be
/// true, then false, along the range).
fn partition_point(mut start: usize, mut end: usize, before: impl Fn(usize) -> bool) -> usize {
    while start < end {
        let middle = start + (end - start) / 2;
        if before(middle) {
            start = middle + 1;
        } else {
            end = middle;
        }
    }
    start
}

fn type_name(value: Option<&Bson>) -> &'static str {
    crate::query::expr::type_name(value)
}

/// Whether a sort value has the type a range window needs: a number, or a date
/// with a unit.
fn expected_type(value: Option<&Bson>, dated: bool) -> bool {
    match value {
        Some(Bson::DateTime(_)) => dated,
        other => !dated && Num::of(other).is_some(),
    }
}

/// A sort value moved by a bound's distance.
fn shifted(base: &Bson, delta: &Bson, unit: Option<TimeUnit>) -> Result<Bson> {
    match (base, unit) {
        (Bson::DateTime(date), Some(unit)) => {
            let amount = integral(delta).unwrap_or(0);
            Ok(Bson::DateTime(bson::DateTime::from_millis(unit.add(date.timestamp_millis(), amount)?)))
        }
        _ => Ok(crate::query::expr::add_numbers(base, delta)),
    }
}
