//! `$dateFromParts` and `$dateToParts`: a date from calendar or ISO week parts in
//! a time zone, and back.
//!
//! Parts out of their usual range carry over as MongoDB's do: month 14 is
//! February of the next year, day 0 the last day of the month before, a negative
//! millisecond borrows from the second.

use std::borrow::Cow;

use bson::{doc, Bson, DateTime};

use super::calendar::{coerce_to_date, days_from_civil, iso_year_start, timezone, Parts, DAY};
use super::logic::special;
use super::{fail, integral, nullish, show, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] =
    &[Operator::special("$dateFromParts", DateFromParts::parse), Operator::special("$dateToParts", DateToParts::parse)];

/// The fields of `$dateFromParts`, in the order of `DateFromParts::parts`.
const PART_NAMES: [&str; 10] =
    ["year", "month", "day", "hour", "minute", "second", "millisecond", "isoWeekYear", "isoWeek", "isoDayOfWeek"];
const YEAR: usize = 0;
const MONTH: usize = 1;
const DAY_PART: usize = 2;
const HOUR: usize = 3;
const MINUTE: usize = 4;
const SECOND: usize = 5;
const MILLISECOND: usize = 6;
const ISO_WEEK_YEAR: usize = 7;
const ISO_WEEK: usize = 8;
const ISO_DAY_OF_WEEK: usize = 9;

/// `$dateFromParts: {year, month, day, hour, minute, second, millisecond, timezone}`
/// or the same with `isoWeekYear, isoWeek, isoDayOfWeek` for the date.
#[derive(Debug)]
struct DateFromParts {
    parts: [Option<Node>; 10],
    timezone: Option<Node>,
}

impl DateFromParts {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            return fail(ErrorCode::Location40519, "$dateFromParts only supports an object as its argument");
        };
        let mut parts: [Option<Node>; 10] = Default::default();
        let mut timezone = None;
        for (field, value) in doc {
            if field == "timezone" {
                timezone = Some(p.operand(value)?);
                continue;
            }
            let Some(index) = PART_NAMES.iter().position(|name| name == field) else {
                return fail(ErrorCode::Location40518, format!("Unrecognized argument to $dateFromParts: {field}"));
            };
            parts[index] = Some(p.operand(value)?);
        }
        let has = |index: usize| parts[index].is_some();
        if !has(YEAR) && !has(ISO_WEEK_YEAR) {
            let message = "$dateFromParts requires either 'year' or 'isoWeekYear' to be present";
            return fail(ErrorCode::Location40516, message);
        }
        if has(YEAR) && (has(ISO_WEEK_YEAR) || has(ISO_WEEK) || has(ISO_DAY_OF_WEEK)) {
            return fail(ErrorCode::Location40489, "$dateFromParts does not allow mixing natural dates with ISO dates");
        }
        if has(ISO_WEEK_YEAR) && (has(YEAR) || has(MONTH) || has(DAY_PART)) {
            return fail(ErrorCode::Location40525, "$dateFromParts does not allow mixing ISO dates with natural dates");
        }
        Ok(special(DateFromParts { parts, timezone }))
    }

    /// Evaluates one part: its default when absent, `None` when null or
    /// missing; `bounded` parts must fit in 16 bits.
    fn part(&self, ctx: &mut Ctx<'_>, index: usize, default: i64, bounded: bool) -> Result<Option<i64>> {
        let name = PART_NAMES[index];
        let Some(node) = &self.parts[index] else { return Ok(Some(default)) };
        let value = ctx.eval(node)?;
        if nullish(value.as_deref()) {
            return Ok(None);
        }
        let Some(n) = integral(value.as_deref()) else {
            let message = format!(
                "'{name}' must evaluate to an integer, found {} with value {}",
                type_name(value.as_deref()),
                show(value.as_deref())
            );
            return fail(ErrorCode::Location40515, message);
        };
        if bounded && !(-32768..=32767).contains(&n) {
            let message =
                format!("'{name}' must evaluate to a value in the range [-32768, 32767]; value {n} is not in range");
            return fail(ErrorCode::Location31034, message);
        }
        Ok(Some(n))
    }

    /// Refuses a year outside 1 to 9999.
    fn check_year(year: i64, name: &str, code: ErrorCode) -> Result<()> {
        if (1..=9999).contains(&year) {
            return Ok(());
        }
        fail(code, format!("'{name}' must evaluate to an integer in the range 1 to 9999, found {year}"))
    }
}

impl Special for DateFromParts {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let null = || Ok(Some(Cow::Owned(Bson::Null)));
        let mut clock = [0i64; 4];
        for (slot, (index, bounded)) in
            [(HOUR, true), (MINUTE, true), (SECOND, false), (MILLISECOND, false)].into_iter().enumerate()
        {
            let Some(value) = self.part(ctx, index, 0, bounded)? else { return null() };
            clock[slot] = value;
        }
        let Some(zone) = timezone(ctx, self.timezone.as_ref())? else { return null() };
        let days = if self.parts[YEAR].is_some() {
            let Some(year) = self.part(ctx, YEAR, 1970, false)? else { return null() };
            let Some(month) = self.part(ctx, MONTH, 1, true)? else { return null() };
            let Some(day) = self.part(ctx, DAY_PART, 1, true)? else { return null() };
            DateFromParts::check_year(year, "year", ErrorCode::Location40523)?;
            let month_index = year * 12 + month - 1;
            days_from_civil(month_index.div_euclid(12), month_index.rem_euclid(12) + 1, 1) + day - 1
        } else {
            let Some(year) = self.part(ctx, ISO_WEEK_YEAR, 1970, false)? else { return null() };
            let Some(week) = self.part(ctx, ISO_WEEK, 1, true)? else { return null() };
            let Some(day) = self.part(ctx, ISO_DAY_OF_WEEK, 1, true)? else { return null() };
            DateFromParts::check_year(year, "isoWeekYear", ErrorCode::Location31095)?;
            iso_year_start(year) + (week - 1) * 7 + day - 1
        };
        let [hour, minute, second, millisecond] = clock.map(i128::from);
        let local =
            i128::from(days) * i128::from(DAY) + hour * 3_600_000 + minute * 60_000 + second * 1000 + millisecond;
        let local = i64::try_from(local).unwrap_or(if local < 0 { i64::MIN } else { i64::MAX });
        Ok(Some(Cow::Owned(Bson::DateTime(DateTime::from_millis(zone.instant(local))))))
    }
}

/// `$dateToParts: {date, timezone, iso8601}`: a document of ints.
#[derive(Debug)]
struct DateToParts {
    date: Node,
    timezone: Option<Node>,
    iso8601: Option<Node>,
}

impl DateToParts {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            return fail(ErrorCode::Location40524, "$dateToParts only supports an object as its argument");
        };
        let (mut date, mut timezone, mut iso8601) = (None, None, None);
        for (field, value) in doc {
            let slot = match field.as_str() {
                "date" => &mut date,
                "timezone" => &mut timezone,
                "iso8601" => &mut iso8601,
                _ => return fail(ErrorCode::Location40520, format!("Unrecognized argument to $dateToParts: {field}")),
            };
            *slot = Some(p.operand(value)?);
        }
        let Some(date) = date else {
            return fail(ErrorCode::Location40522, "Missing 'date' parameter to $dateToParts");
        };
        Ok(special(DateToParts { date, timezone, iso8601 }))
    }
}

impl Special for DateToParts {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let null = || Ok(Some(Cow::Owned(Bson::Null)));
        let date = ctx.eval(&self.date)?;
        let Some(zone) = timezone(ctx, self.timezone.as_ref())? else { return null() };
        let iso = match &self.iso8601 {
            None => false,
            Some(node) => match ctx.eval(node)?.as_deref() {
                Some(Bson::Boolean(iso)) => *iso,
                value if nullish(value) => return null(),
                other => {
                    let message = format!("iso8601 must evaluate to a bool, found {}", type_name(other));
                    return fail(ErrorCode::Location40521, message);
                }
            },
        };
        if nullish(date.as_deref()) {
            return null();
        }
        let d = Parts::of(zone.local(coerce_to_date(date.as_deref())?));
        let int = |n: i64| Bson::Int32(n as i32);
        let mut parts = if iso {
            doc! { "isoWeekYear": int(d.iso_year), "isoWeek": int(d.iso_week), "isoDayOfWeek": int(d.iso_day_of_week) }
        } else {
            doc! { "year": int(d.year), "month": int(d.month), "day": int(d.day) }
        };
        parts.insert("hour", int(d.hour));
        parts.insert("minute", int(d.minute));
        parts.insert("second", int(d.second));
        parts.insert("millisecond", int(d.millisecond));
        Ok(Some(Cow::Owned(Bson::Document(parts))))
    }
}
