//! Date arithmetic: `$dateAdd`, `$dateSubtract`, `$dateDiff` and `$dateTrunc`,
//! with MongoDB's units, time zones and week starts.
//!
//! Units of a day or longer work on the local calendar of the time zone (adding a
//! day keeps the wall-clock time across a daylight saving change; a month added
//! to the 31st clamps to the month's last day); shorter units work on elapsed
//! time. Differences count unit boundaries crossed, not whole units elapsed.

use std::borrow::Cow;

use bson::{Bson, DateTime, Document};

use super::calendar::{date_like, days_from_civil, days_in_month, timezone, Parts, Zone, DAY};
use super::logic::special;
use super::{fail, integral, nullish, show, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{Error, ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::special("$dateAdd", |p, a| DateAdd::parse(p, a, "$dateAdd")),
    Operator::special("$dateSubtract", |p, a| DateAdd::parse(p, a, "$dateSubtract")),
    Operator::special("$dateDiff", DateDiff::parse),
    Operator::special("$dateTrunc", DateTrunc::parse),
];

/// A unit of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Unit {
    Year,
    Quarter,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl Unit {
    const NAMES: [(&'static str, Unit); 9] = [
        ("year", Unit::Year),
        ("quarter", Unit::Quarter),
        ("month", Unit::Month),
        ("week", Unit::Week),
        ("day", Unit::Day),
        ("hour", Unit::Hour),
        ("minute", Unit::Minute),
        ("second", Unit::Second),
        ("millisecond", Unit::Millisecond),
    ];

    fn name(self) -> &'static str {
        Unit::NAMES.iter().find(|(_, unit)| *unit == self).map_or("", |(name, _)| name)
    }

    /// The length of a unit of elapsed time in milliseconds (hours and shorter).
    fn millis(self) -> Option<i64> {
        match self {
            Unit::Hour => Some(3_600_000),
            Unit::Minute => Some(60_000),
            Unit::Second => Some(1000),
            Unit::Millisecond => Some(1),
            _ => None,
        }
    }

    /// The months in a unit of the calendar (years, quarters and months).
    fn months(self) -> Option<i64> {
        match self {
            Unit::Year => Some(12),
            Unit::Quarter => Some(3),
            Unit::Month => Some(1),
            _ => None,
        }
    }
}

/// The time units, for `$setWindowFields`' range windows with `unit`,
/// `$derivative` and `$integral`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeUnit(Unit);

impl TimeUnit {
    /// The unit called `name` (case-sensitive), or MongoDB's message for an
    /// unknown one.
    pub(crate) fn named(name: &str) -> std::result::Result<TimeUnit, String> {
        Unit::NAMES
            .iter()
            .find(|(known, _)| *known == name)
            .map(|(_, unit)| TimeUnit(*unit))
            .ok_or_else(|| format!("unknown time unit value: {name}"))
    }

    /// The unit's length in milliseconds, for a week and shorter units.
    pub(crate) fn fixed_millis(self) -> Option<i64> {
        match self.0 {
            Unit::Week => Some(7 * DAY),
            Unit::Day => Some(DAY),
            unit => unit.millis(),
        }
    }

    /// `date` plus `amount` units, in UTC.
    pub(crate) fn add(self, date: i64, amount: i64) -> Result<i64> {
        i64::try_from(date_add(date, self.0, amount, Zone::UTC)?).map_err(|_| add_overflowed())
    }
}

/// A unit argument, `None` when it is null or missing.
fn unit_of(value: Option<&Bson>, op: &str) -> Result<Option<Unit>> {
    match value {
        value if nullish(value) => Ok(None),
        Some(Bson::String(text)) => match Unit::NAMES.iter().find(|(name, _)| name == text) {
            Some((_, unit)) => Ok(Some(*unit)),
            None => fail(
                ErrorCode::FailedToParse,
                format!("{op} parameter 'unit' value parsing failed :: caused by :: unknown time unit value: {text}"),
            ),
        },
        other => fail(
            ErrorCode::Location5439013,
            format!("{op} requires 'unit' to be a string, but got {}", type_name(other)),
        ),
    }
}

/// A `startOfWeek` argument as an ISO day (1 is Monday), `None` when it is null
/// or missing. Day names are matched without regard to case.
fn start_of_week_of(value: Option<&Bson>, op: &str) -> Result<Option<i64>> {
    const DAYS: [(&str, &str); 7] = [
        ("monday", "mon"),
        ("tuesday", "tue"),
        ("wednesday", "wed"),
        ("thursday", "thu"),
        ("friday", "fri"),
        ("saturday", "sat"),
        ("sunday", "sun"),
    ];
    match value {
        value if nullish(value) => Ok(None),
        Some(Bson::String(text)) => {
            let lower = text.to_lowercase();
            match DAYS.iter().position(|(long, short)| lower == *long || lower == *short) {
                Some(index) => Ok(Some(index as i64 + 1)),
                None => fail(
                    ErrorCode::Location5439016,
                    format!("{op} parameter 'startOfWeek' value cannot be recognized as a day of a week: {text}"),
                ),
            }
        }
        other => fail(
            ErrorCode::Location5439015,
            format!("{op} requires 'startOfWeek' to be a string, but got {}", type_name(other)),
        ),
    }
}

/// The default start of the week: Sunday.
const SUNDAY: i64 = 7;

/// Evaluates a `timezone` argument, with the context MongoDB gives its errors in
/// `$dateDiff` and `$dateTrunc`.
fn timezone_in(ctx: &mut Ctx<'_>, node: Option<&Node>, op: &str) -> Result<Option<Zone>> {
    timezone(ctx, node).map_err(|error| {
        let message = format!("{op} parameter 'timezone' value parsing failed :: caused by :: {}", error.message());
        Error::command(error.code(), message)
    })
}

/// The null result of an operator.
fn null<'a>() -> Result<Val<'a>> {
    Ok(Some(Cow::Owned(Bson::Null)))
}

/// A date result, or `overflow` when it lies outside a date's range.
fn date_result<'a>(millis: i128, overflow: fn() -> Error) -> Result<Val<'a>> {
    let millis = i64::try_from(millis).map_err(|_| overflow())?;
    Ok(Some(Cow::Owned(Bson::DateTime(DateTime::from_millis(millis)))))
}

fn add_overflowed() -> Error {
    Error::command(ErrorCode::Location5166406, "dateAdd overflowed")
}

/// Whether `amount` units can be added without overflowing the arithmetic (the
/// result is checked separately).
fn amount_in_range(amount: i64, unit: Unit) -> bool {
    const MAX_DAYS: i64 = (1i128 << 64).div_euclid(DAY as i128) as i64 + 1;
    const MAX_YEARS: i64 = MAX_DAYS / 365 + 1;
    let max = match unit {
        Unit::Year => MAX_YEARS,
        Unit::Quarter => 4 * MAX_YEARS,
        Unit::Month => 12 * MAX_YEARS,
        Unit::Week => MAX_DAYS / 7,
        Unit::Day => MAX_DAYS,
        Unit::Hour => 24 * MAX_DAYS,
        Unit::Minute => 24 * 60 * MAX_DAYS,
        Unit::Second | Unit::Millisecond => 24 * 60 * 60 * MAX_DAYS,
    };
    -max < amount && amount < max
}

/// `date` plus `amount` units in a time zone, as milliseconds (unchecked: the
/// caller refuses a result outside a date's range).
fn date_add(date: i64, unit: Unit, amount: i64, zone: Zone) -> Result<i128> {
    if unit == Unit::Millisecond {
        return Ok(i128::from(date) + i128::from(amount));
    }
    if !amount_in_range(amount, unit) {
        let message = format!("invalid dateAdd 'amount' parameter value: {amount} {}", unit.name());
        return fail(ErrorCode::Location5976500, message);
    }
    if let Some(length) = unit.millis() {
        return Ok(i128::from(date) + i128::from(amount) * i128::from(length));
    }
    let local = Parts::of(zone.local(date));
    let days = match unit.months() {
        Some(months) => {
            // The same day of the target month, or its last day when shorter.
            let month_index = local.year * 12 + local.month - 1 + amount * months;
            let (year, month) = (month_index.div_euclid(12), month_index.rem_euclid(12) + 1);
            let day = local.day.min(days_in_month(year, month));
            days_from_civil(year, month, day) - local.days
        }
        None if unit == Unit::Week => amount * 7,
        None => amount,
    };
    let shifted = i128::from(zone.local(date)) + i128::from(days) * i128::from(DAY);
    match i64::try_from(shifted) {
        Ok(shifted) => Ok(i128::from(zone.instant(shifted))),
        Err(_) => Ok(shifted),
    }
}

/// The unit boundaries crossed from `start` to `end` in a time zone (negative
/// when `end` is earlier); weeks start on `start_of_week` (an ISO day).
fn date_diff(start: i64, end: i64, unit: Unit, zone: Zone, start_of_week: i64) -> Option<i64> {
    if unit == Unit::Millisecond {
        return end.checked_sub(start);
    }
    let (a, b) = (Parts::of(zone.local(start)), Parts::of(zone.local(end)));
    let years = b.year - a.year;
    let days = b.days - a.days;
    // How much the offset from UTC changed, in seconds.
    let offset_change = (zone.offset_at(start) - zone.offset_at(end)) / 1000;
    let hours = b.hour - a.hour + 24 * days;
    let minutes = b.minute - a.minute + 60 * hours;
    Some(match unit {
        Unit::Year => years,
        Unit::Quarter => (b.month - 1) / 3 - (a.month - 1) / 3 + 4 * years,
        Unit::Month => b.month - a.month + 12 * years,
        Unit::Day => days,
        Unit::Week => {
            let into_week = |parts: &Parts| (parts.iso_day_of_week - start_of_week + 7) % 7;
            (days + into_week(&a) - into_week(&b)) / 7
        }
        Unit::Hour => hours + offset_change / 3600,
        Unit::Minute => minutes + offset_change / 60,
        Unit::Second => b.second - a.second + 60 * minutes + offset_change,
        Unit::Millisecond => unreachable!("handled above"),
    })
}

/// Reads an operator's named arguments into `slots`, in the order of `names`;
/// an unknown name gets `unknown(name)`.
fn arguments(
    p: &mut Parser,
    doc: &Document,
    names: &[&str],
    unknown: impl Fn(&str) -> Error,
) -> Result<Vec<Option<Node>>> {
    let mut slots: Vec<Option<Node>> = names.iter().map(|_| None).collect();
    for (field, value) in doc {
        let index = names.iter().position(|name| name == field).ok_or_else(|| unknown(field))?;
        slots[index] = Some(p.operand(value)?);
    }
    Ok(slots)
}

/// `$dateAdd` and `$dateSubtract: {startDate, unit, amount, timezone}`.
#[derive(Debug)]
struct DateAdd {
    op: &'static str,
    start: Node,
    unit: Node,
    amount: Node,
    timezone: Option<Node>,
}

impl DateAdd {
    fn parse(p: &mut Parser, spec: &Bson, op: &'static str) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            return fail(ErrorCode::Location5166400, format!("{op} expects an object as its argument"));
        };
        let names = ["startDate", "unit", "amount", "timezone"];
        let unknown = |field: &str| {
            let message = format!(
                "Unrecognized argument to {op}: {field}. Expected arguments are startDate, unit, amount, and \
                 optionally timezone."
            );
            Error::command(ErrorCode::Location5166401, message)
        };
        let mut slots = arguments(p, doc, &names, unknown)?.into_iter();
        let (start, unit, amount, timezone) =
            (slots.next().flatten(), slots.next().flatten(), slots.next().flatten(), slots.next().flatten());
        let (Some(start), Some(unit), Some(amount)) = (start, unit, amount) else {
            return fail(
                ErrorCode::Location5166402,
                format!("{op} requires startDate, unit, and amount to be present"),
            );
        };
        Ok(special(DateAdd { op, start, unit, amount, timezone }))
    }
}

impl Special for DateAdd {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let start = ctx.eval(&self.start)?;
        if nullish(start.as_deref()) {
            return null();
        }
        let Some(unit) = unit_of(ctx.eval(&self.unit)?.as_deref(), self.op)? else { return null() };
        let amount = ctx.eval(&self.amount)?;
        if nullish(amount.as_deref()) {
            return null();
        }
        let Some(zone) = timezone(ctx, self.timezone.as_ref())? else { return null() };
        let Some(start) = date_like(start.as_deref()) else {
            return fail(
                ErrorCode::Location5166403,
                format!("{} requires startDate to be convertible to a date", self.op),
            );
        };
        let Some(mut amount) = integral(amount.as_deref()) else {
            return fail(ErrorCode::Location5166405, format!("{} expects integer amount of time units", self.op));
        };
        if self.op == "$dateSubtract" {
            amount = amount.checked_neg().ok_or_else(|| {
                let message = format!("invalid $dateSubtract 'amount' parameter value: {amount}");
                Error::command(ErrorCode::Location6045000, message)
            })?;
        }
        date_result(date_add(start, unit, amount, zone)?, add_overflowed)
    }
}

/// `$dateDiff: {startDate, endDate, unit, timezone, startOfWeek}`: a long.
#[derive(Debug)]
struct DateDiff {
    start: Node,
    end: Node,
    unit: Node,
    timezone: Option<Node>,
    start_of_week: Option<Node>,
}

impl DateDiff {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            return fail(ErrorCode::Location5166301, "$dateDiff only supports an object as its argument");
        };
        let names = ["startDate", "endDate", "unit", "timezone", "startOfWeek"];
        let unknown = |field: &str| {
            Error::command(ErrorCode::Location5166302, format!("Unrecognized argument to $dateDiff: {field}"))
        };
        let mut slots = arguments(p, doc, &names, unknown)?.into_iter();
        let mut required = |code: ErrorCode, name: &str| {
            slots
                .next()
                .flatten()
                .ok_or_else(|| Error::command(code, format!("Missing '{name}' parameter to $dateDiff")))
        };
        let start = required(ErrorCode::Location5166303, "startDate")?;
        let end = required(ErrorCode::Location5166304, "endDate")?;
        let unit = required(ErrorCode::Location5166305, "unit")?;
        let (timezone, start_of_week) = (slots.next().flatten(), slots.next().flatten());
        Ok(special(DateDiff { start, end, unit, timezone, start_of_week }))
    }
}

impl Special for DateDiff {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        const OP: &str = "$dateDiff";
        let start = ctx.eval(&self.start)?;
        if nullish(start.as_deref()) {
            return null();
        }
        let end = ctx.eval(&self.end)?;
        if nullish(end.as_deref()) {
            return null();
        }
        let Some(unit) = unit_of(ctx.eval(&self.unit)?.as_deref(), OP)? else { return null() };
        let Some(start_of_week) = week_start(ctx, unit, self.start_of_week.as_ref(), OP)? else { return null() };
        let Some(zone) = timezone_in(ctx, self.timezone.as_ref(), OP)? else { return null() };
        let date = |value: Option<&Bson>, name: &str| {
            date_like(value).ok_or_else(|| {
                let message = format!("$dateDiff requires '{name}' to be a date, but got {}", type_name(value));
                Error::command(ErrorCode::Location5166307, message)
            })
        };
        let (start, end) = (date(start.as_deref(), "startDate")?, date(end.as_deref(), "endDate")?);
        let difference = date_diff(start, end, unit, zone, start_of_week)
            .ok_or_else(|| Error::command(ErrorCode::Location5166308, "dateDiff overflowed"))?;
        Ok(Some(Cow::Owned(Bson::Int64(difference))))
    }
}

/// Reads `startOfWeek` when the unit is a week (it is ignored otherwise):
/// `Ok(None)` when it is null or missing.
fn week_start(ctx: &mut Ctx<'_>, unit: Unit, node: Option<&Node>, op: &str) -> Result<Option<i64>> {
    match node {
        Some(node) if unit == Unit::Week => start_of_week_of(ctx.eval(node)?.as_deref(), op),
        _ => Ok(Some(SUNDAY)),
    }
}

/// `$dateTrunc: {date, unit, binSize, timezone, startOfWeek}`.
#[derive(Debug)]
struct DateTrunc {
    date: Node,
    unit: Node,
    bin_size: Option<Node>,
    timezone: Option<Node>,
    start_of_week: Option<Node>,
}

/// 2000-01-01T00:00:00Z, where MongoDB's bins start.
const REFERENCE: i64 = 946_684_800_000;

impl DateTrunc {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            return fail(ErrorCode::Location5439007, "$dateTrunc only supports an object as its argument");
        };
        let names = ["date", "unit", "binSize", "timezone", "startOfWeek"];
        let unknown = |field: &str| {
            let message = format!(
                "Unrecognized argument to $dateTrunc: {field}. Expected arguments are date, unit, and optionally, \
                 binSize, timezone, startOfWeek"
            );
            Error::command(ErrorCode::Location5439008, message)
        };
        let mut slots = arguments(p, doc, &names, unknown)?.into_iter();
        let Some(date) = slots.next().flatten() else {
            return fail(ErrorCode::Location5439009, "Missing 'date' parameter to $dateTrunc");
        };
        let Some(unit) = slots.next().flatten() else {
            return fail(ErrorCode::Location5439010, "Missing 'unit' parameter to $dateTrunc");
        };
        let (bin_size, timezone, start_of_week) =
            (slots.next().flatten(), slots.next().flatten(), slots.next().flatten());
        Ok(special(DateTrunc { date, unit, bin_size, timezone, start_of_week }))
    }

    /// The start of the bin holding `date`: bins of `bin_size` units counted from
    /// 2000-01-01 local time (for weeks, from the first `start_of_week` day on or
    /// after it).
    fn truncate(date: i64, unit: Unit, bin_size: i64, zone: Zone, start_of_week: i64) -> Result<i64> {
        let overflow = |code: ErrorCode| Error::command(code, "dateTrunc overflowed");
        let mut reference = REFERENCE - zone.offset_at(REFERENCE);
        if unit == Unit::Week {
            // 2000-01-01 was a Saturday (ISO day 6).
            reference += (start_of_week - 6).rem_euclid(7) * DAY;
        }
        if let Some(length) = unit.millis() {
            let bin = bin_size.checked_mul(length).ok_or_else(|| overflow(ErrorCode::Location5439002))?;
            let since = date.checked_sub(reference).ok_or_else(|| overflow(ErrorCode::Location5439000))?;
            return date.checked_sub(since.rem_euclid(bin)).ok_or_else(|| overflow(ErrorCode::Location5439001));
        }
        if bin_size > 100_000_000_000 {
            return fail(ErrorCode::Location5439006, "dateTrunc unsupported binSize value");
        }
        let distance = date_diff(reference, date, unit, zone, start_of_week)
            .ok_or_else(|| overflow(ErrorCode::Location5439004))?;
        let lower = distance - distance.rem_euclid(bin_size);
        let start = date_add(reference, unit, lower, zone).map_err(|_| overflow(ErrorCode::Location5439004))?;
        i64::try_from(start).map_err(|_| overflow(ErrorCode::Location5439004))
    }
}

impl Special for DateTrunc {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        const OP: &str = "$dateTrunc";
        let date = ctx.eval(&self.date)?;
        if nullish(date.as_deref()) {
            return null();
        }
        let bin_size = match &self.bin_size {
            None => 1,
            Some(node) => {
                let value = ctx.eval(node)?;
                if nullish(value.as_deref()) {
                    return null();
                }
                let Some(bin_size) = integral(value.as_deref()) else {
                    let message = format!(
                        "$dateTrunc requires 'binSize' to be a 64-bit integer, but got value '{}' of type {}",
                        show(value.as_deref()),
                        type_name(value.as_deref())
                    );
                    return fail(ErrorCode::Location5439017, message);
                };
                if bin_size <= 0 {
                    let message =
                        format!("$dateTrunc requires 'binSize' to be greater than 0, but got value {bin_size}");
                    return fail(ErrorCode::Location5439018, message);
                }
                bin_size
            }
        };
        let Some(unit) = unit_of(ctx.eval(&self.unit)?.as_deref(), OP)? else { return null() };
        let Some(start_of_week) = week_start(ctx, unit, self.start_of_week.as_ref(), OP)? else { return null() };
        let Some(zone) = timezone_in(ctx, self.timezone.as_ref(), OP)? else { return null() };
        let Some(date) = date_like(date.as_deref()) else {
            let message = format!("$dateTrunc requires 'date' to be a date, but got {}", type_name(date.as_deref()));
            return fail(ErrorCode::Location5166307, message);
        };
        let start = DateTrunc::truncate(date, unit, bin_size, zone, start_of_week)?;
        Ok(Some(Cow::Owned(Bson::DateTime(DateTime::from_millis(start)))))
    }
}
