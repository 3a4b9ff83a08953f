//! Date operators: the parts of a date (`$year`, `$dayOfWeek`…), `$dateToString`
//! and `$dateFromString`.
//!
//! Time zones: UTC and fixed offsets (`"+05:30"`, `"-0800"`) are supported; an
//! Olson name other than UTC/GMT is refused with MongoDB's "unrecognized time zone"
//! error (there is no time zone database here).

use std::borrow::Cow;

use bson::{Bson, DateTime};

use super::logic::{named_args, special};
use super::{fail, nullish, show, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{Error, ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::special("$year", |p, a| DatePart::parse(p, a, "$year", |d| d.year)),
    Operator::special("$month", |p, a| DatePart::parse(p, a, "$month", |d| d.month)),
    Operator::special("$dayOfMonth", |p, a| DatePart::parse(p, a, "$dayOfMonth", |d| d.day)),
    Operator::special("$hour", |p, a| DatePart::parse(p, a, "$hour", |d| d.hour)),
    Operator::special("$minute", |p, a| DatePart::parse(p, a, "$minute", |d| d.minute)),
    Operator::special("$second", |p, a| DatePart::parse(p, a, "$second", |d| d.second)),
    Operator::special("$millisecond", |p, a| DatePart::parse(p, a, "$millisecond", |d| d.millisecond)),
    Operator::special("$dayOfWeek", |p, a| DatePart::parse(p, a, "$dayOfWeek", |d| d.day_of_week)),
    Operator::special("$dayOfYear", |p, a| DatePart::parse(p, a, "$dayOfYear", |d| d.day_of_year)),
    Operator::special("$week", |p, a| DatePart::parse(p, a, "$week", |d| d.week)),
    Operator::special("$isoWeek", |p, a| DatePart::parse(p, a, "$isoWeek", |d| d.iso_week)),
    Operator::special("$isoWeekYear", |p, a| DatePart::parse(p, a, "$isoWeekYear", |d| d.iso_year)),
    Operator::special("$isoDayOfWeek", |p, a| DatePart::parse(p, a, "$isoDayOfWeek", |d| d.iso_day_of_week)),
    Operator::special("$dateToString", DateToString::parse),
    Operator::special("$dateFromString", DateFromString::parse),
];

/// Milliseconds in a day.
const DAY: i64 = 86_400_000;

/// The calendar parts of an instant in a time zone.
#[derive(Debug, Clone, Copy)]
struct Parts {
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    millisecond: i64,
    /// 1 (Sunday) to 7.
    day_of_week: i64,
    /// 1 to 366.
    day_of_year: i64,
    /// Weeks starting on Sunday, 0 before the year's first Sunday (`%U`).
    week: i64,
    /// ISO 8601 week, year and day (1 is Monday).
    iso_week: i64,
    iso_year: i64,
    iso_day_of_week: i64,
}

impl Parts {
    /// The parts of `millis` since the epoch, shifted by `offset` minutes.
    fn of(millis: i64, offset: i64) -> Parts {
        let local = millis + offset * 60_000;
        let days = local.div_euclid(DAY);
        let in_day = local.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        let day_of_year = days - days_from_civil(year, 1, 1) + 1;
        // 1970-01-01 was a Thursday.
        let weekday = (days + 4).rem_euclid(7); // 0 is Sunday
        let iso_day_of_week = if weekday == 0 { 7 } else { weekday };
        let (iso_year, iso_week) = iso_week(year, day_of_year, iso_day_of_week);
        Parts {
            year,
            month,
            day,
            hour: in_day / 3_600_000,
            minute: in_day / 60_000 % 60,
            second: in_day / 1000 % 60,
            millisecond: in_day % 1000,
            day_of_week: weekday + 1,
            day_of_year,
            week: (day_of_year - 1 + 7 - weekday) / 7,
            iso_week,
            iso_year,
            iso_day_of_week,
        }
    }
}

/// The ISO 8601 week-numbering year and week of a day.
fn iso_week(year: i64, day_of_year: i64, iso_day_of_week: i64) -> (i64, i64) {
    let week = (day_of_year - iso_day_of_week + 10) / 7;
    if week < 1 {
        let previous = year - 1;
        return (previous, weeks_in_year(previous));
    }
    if week > weeks_in_year(year) {
        return (year + 1, 1);
    }
    (year, week)
}

/// How many ISO weeks a year has (52 or 53).
fn weeks_in_year(year: i64) -> i64 {
    let jan1 = (days_from_civil(year, 1, 1) + 4).rem_euclid(7); // 0 is Sunday
    let leap = days_from_civil(year + 1, 1, 1) - days_from_civil(year, 1, 1) == 366;
    if jan1 == 4 || (leap && jan1 == 3) {
        53
    } else {
        52
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01.
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z - era * 146_097;
    let year_of_era = (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The instant a value stands for: a date, a timestamp or an ObjectId's time.
fn coerce_to_date(value: Option<&Bson>) -> Result<i64> {
    match value {
        Some(Bson::DateTime(d)) => Ok(d.timestamp_millis()),
        Some(Bson::Timestamp(t)) => Ok(i64::from(t.time) * 1000),
        Some(Bson::ObjectId(oid)) => Ok(oid.timestamp().timestamp_millis()),
        other => fail(ErrorCode::Location16006, format!("can't convert from BSON type {} to Date", type_name(other))),
    }
}

/// A time zone's offset from UTC in minutes: `UTC`, `GMT`, `Z` or a fixed offset.
fn parse_timezone(zone: &str) -> Result<i64> {
    if matches!(zone, "UTC" | "GMT" | "Z" | "Etc/UTC" | "Etc/GMT") {
        return Ok(0);
    }
    parse_offset(zone).ok_or_else(|| {
        Error::command(ErrorCode::Location40485, format!("unrecognized time zone identifier: \"{zone}\""))
    })
}

/// A `+hh`, `+hhmm` or `+hh:mm` offset in minutes.
fn parse_offset(text: &str) -> Option<i64> {
    let (sign, rest) = match text.as_bytes().first()? {
        b'+' => (1, &text[1..]),
        b'-' => (-1, &text[1..]),
        _ => return None,
    };
    let digits: String = rest.chars().filter(|c| *c != ':').collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) || !matches!(digits.len(), 2 | 4) || rest.len() > 5 {
        return None;
    }
    let hours: i64 = digits[..2].parse().ok()?;
    let minutes: i64 = if digits.len() == 4 { digits[2..].parse().ok()? } else { 0 };
    Some(sign * (hours * 60 + minutes))
}

/// Evaluates an optional `timezone` argument: `Ok(None)` when it is null or
/// missing (the operator then returns null).
fn timezone(ctx: &mut Ctx<'_>, node: Option<&Node>) -> Result<Option<i64>> {
    let Some(node) = node else { return Ok(Some(0)) };
    match ctx.eval(node)?.as_deref() {
        Some(Bson::String(zone)) => parse_timezone(zone).map(Some),
        value if nullish(value) => Ok(None),
        other => {
            fail(ErrorCode::Location40517, format!("timezone must evaluate to a string, found {}", type_name(other)))
        }
    }
}

/// `$year`, `$month`…: `date`, `[date]` or `{date, timezone}`.
#[derive(Debug)]
struct DatePart {
    date: Node,
    timezone: Option<Node>,
    part: fn(&Parts) -> i64,
}

impl DatePart {
    fn parse(p: &mut Parser, spec: &Bson, name: &str, part: fn(&Parts) -> i64) -> Result<Node> {
        match spec {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| !k.starts_with('$')) => {
                let (mut date, mut timezone) = (None, None);
                for (field, value) in doc {
                    match field.as_str() {
                        "date" => date = Some(p.operand(value)?),
                        "timezone" => timezone = Some(p.operand(value)?),
                        _ => {
                            return fail(
                                ErrorCode::Location40535,
                                format!("unrecognized option to {name}: \"{field}\""),
                            )
                        }
                    }
                }
                let Some(date) = date else {
                    return fail(
                        ErrorCode::Location40539,
                        format!("missing 'date' argument to {name}, provided: {doc}"),
                    );
                };
                Ok(special(DatePart { date, timezone, part }))
            }
            Bson::Array(items) if items.len() != 1 => fail(
                ErrorCode::Location40536,
                format!("{name} accepts exactly one argument if given an array, but was given {}", items.len()),
            ),
            Bson::Array(items) => Ok(special(DatePart { date: p.operand(&items[0])?, timezone: None, part })),
            other => Ok(special(DatePart { date: p.operand(other)?, timezone: None, part })),
        }
    }
}

impl Special for DatePart {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let date = ctx.eval(&self.date)?;
        let Some(offset) = timezone(ctx, self.timezone.as_ref())? else { return Ok(Some(Cow::Owned(Bson::Null))) };
        if nullish(date.as_deref()) {
            return Ok(Some(Cow::Owned(Bson::Null)));
        }
        let parts = Parts::of(coerce_to_date(date.as_deref())?, offset);
        Ok(Some(Cow::Owned(super::arith::int_or_wider((self.part)(&parts).into()))))
    }
}

/// The default `$dateToString` format, also how dates convert to strings.
const ISO_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%LZ";

/// A date as `2024-01-31T12:00:00.000Z`.
pub(super) fn iso_string(millis: i64) -> String {
    format_date(ISO_FORMAT, millis, 0).unwrap_or_default()
}

/// Refuses a format with an unknown `%` specifier or a `%` at its end.
fn validate_format(format: &str) -> Result<()> {
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            continue;
        }
        match chars.next() {
            None => return fail(ErrorCode::Location18535, "Unmatched '%' at end of format string"),
            Some(
                'b' | 'B' | 'd' | 'G' | 'H' | 'j' | 'L' | 'm' | 'M' | 'S' | 'u' | 'U' | 'V' | 'w' | 'Y' | 'z' | 'Z'
                | '%',
            ) => {}
            Some(other) => {
                return fail(ErrorCode::Location18536, format!("Invalid format character '%{other}' in format string"))
            }
        }
    }
    Ok(())
}

/// Formats an instant with `%` specifiers, in a time zone `offset` minutes from
/// UTC.
fn format_date(format: &str, millis: i64, offset: i64) -> Result<String> {
    validate_format(format)?;
    let d = Parts::of(millis, offset);
    let mut out = String::new();
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        let spec = chars.next().unwrap_or('%');
        if matches!(spec, 'Y' | 'G') && !(0..=9999).contains(&if spec == 'Y' { d.year } else { d.iso_year }) {
            let message = format!("$dateToString is only defined on year 0-9999, tried to use year {}", d.year);
            return fail(ErrorCode::Location18537, message);
        }
        let text = match spec {
            'b' => month_name(d.month)[..3].to_owned(),
            'B' => month_name(d.month).to_owned(),
            'd' => format!("{:02}", d.day),
            'G' => format!("{:04}", d.iso_year),
            'H' => format!("{:02}", d.hour),
            'j' => format!("{:03}", d.day_of_year),
            'L' => format!("{:03}", d.millisecond),
            'm' => format!("{:02}", d.month),
            'M' => format!("{:02}", d.minute),
            'S' => format!("{:02}", d.second),
            'u' => d.iso_day_of_week.to_string(),
            'U' => format!("{:02}", d.week),
            'V' => format!("{:02}", d.iso_week),
            'w' => d.day_of_week.to_string(),
            'Y' => format!("{:04}", d.year),
            'z' => format!("{}{:02}{:02}", if offset < 0 { '-' } else { '+' }, offset.abs() / 60, offset.abs() % 60),
            'Z' => format!("{}{:03}", if offset < 0 { '-' } else { '+' }, offset.abs()),
            _ => "%".to_owned(),
        };
        out.push_str(&text);
    }
    Ok(out)
}

/// The English name of a month (1 to 12), as `%B` writes it (`%b`, its first three
/// letters).
fn month_name(month: i64) -> &'static str {
    const NAMES: [&str; 12] = [
        "January",
        "February",
        "March",
        "April",
        "May",
        "June",
        "July",
        "August",
        "September",
        "October",
        "November",
        "December",
    ];
    usize::try_from(month - 1).ok().and_then(|i| NAMES.get(i)).copied().unwrap_or("January")
}

/// `$dateToString: {date, format, timezone, onNull}`.
#[derive(Debug)]
struct DateToString {
    date: Node,
    format: Option<Node>,
    timezone: Option<Node>,
    on_null: Option<Node>,
}

impl DateToString {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc = named_args(spec, ErrorCode::Location18629, "$dateToString only supports an object as its argument")?;
        let (mut date, mut format, mut timezone, mut on_null) = (None, None, None, None);
        for (field, value) in doc {
            let slot = match field.as_str() {
                "date" => &mut date,
                "format" => &mut format,
                "timezone" => &mut timezone,
                "onNull" => &mut on_null,
                _ => return fail(ErrorCode::Location18534, format!("Unrecognized argument to $dateToString: {field}")),
            };
            *slot = Some(p.operand(value)?);
        }
        let Some(date) = date else {
            return fail(ErrorCode::Location18628, "Missing 'date' parameter to $dateToString");
        };
        Ok(special(DateToString { date, format, timezone, on_null }))
    }
}

impl Special for DateToString {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let date = ctx.eval(&self.date)?;
        let format = match &self.format {
            None => Some(ISO_FORMAT.to_owned()),
            Some(node) => match ctx.eval(node)?.as_deref() {
                Some(Bson::String(format)) => {
                    validate_format(format)?;
                    Some(format.clone())
                }
                value if nullish(value) => None,
                other => {
                    let message = format!(
                        "$dateToString requires that 'format' be a string, found: {} with value {}",
                        type_name(other),
                        show(other)
                    );
                    return fail(ErrorCode::Location18533, message);
                }
            },
        };
        let offset = timezone(ctx, self.timezone.as_ref())?;
        if nullish(date.as_deref()) {
            return match &self.on_null {
                Some(on_null) => ctx.eval(on_null),
                None => Ok(Some(Cow::Owned(Bson::Null))),
            };
        }
        let (Some(offset), Some(format)) = (offset, format) else { return Ok(Some(Cow::Owned(Bson::Null))) };
        let millis = coerce_to_date(date.as_deref())?;
        Ok(Some(Cow::Owned(Bson::String(format_date(&format, millis, offset)?))))
    }
}

/// A reader of date text, one field at a time.
struct Scanner<'s> {
    text: &'s str,
    at: usize,
}

impl Scanner<'_> {
    /// Exactly `n` digits.
    fn digits(&mut self, n: usize) -> Option<i64> {
        let part = self.text.get(self.at..self.at + n)?;
        if !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        self.at += n;
        part.parse().ok()
    }

    /// Between one and `max` digits, with their count.
    fn some_digits(&mut self, max: usize) -> Option<(i64, usize)> {
        let rest = &self.text[self.at..];
        let n = rest.bytes().take(max).take_while(u8::is_ascii_digit).count();
        (n > 0).then(|| self.digits(n).map(|v| (v, n)))?
    }

    /// The literal character `c`.
    fn literal(&mut self, c: char) -> Option<()> {
        self.text[self.at..].starts_with(c).then(|| self.at += c.len_utf8())
    }

    /// Whether the next character is `c` (then consumed).
    fn accept(&mut self, c: char) -> bool {
        self.literal(c).is_some()
    }

    fn done(&self) -> bool {
        self.at == self.text.len()
    }

    /// A zone designator: `Z`, or an offset `±hh[:mm]` / `±hhmm`, in minutes.
    fn zone(&mut self) -> Option<i64> {
        if self.accept('Z') {
            return Some(0);
        }
        let rest = &self.text[self.at..];
        let len = rest.bytes().skip(1).take_while(|b| b.is_ascii_digit() || *b == b':').count() + 1;
        let offset = parse_offset(&rest[..len])?;
        self.at += len;
        Some(offset)
    }
}

/// The instant of calendar fields, shifted back by a zone `offset` in minutes;
/// `None` when a field is out of range.
fn instant(year: i64, month: i64, day: i64, clock: (i64, i64, i64, i64), offset: i64) -> Option<i64> {
    let (hour, minute, second, millis) = clock;
    let month_length =
        days_from_civil(year + i64::from(month == 12), month % 12 + 1, 1) - days_from_civil(year, month, 1);
    let valid = (1..=12).contains(&month)
        && (1..=month_length).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second);
    valid.then(|| {
        days_from_civil(year, month, day) * DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis
            - offset * 60_000
    })
}

/// Parses an ISO 8601 date: `2024-01-31`, optionally with a time `T12:30`,
/// seconds, fractions and a zone (`Z`, `+01:00`); without a zone it is UTC.
pub(super) fn parse_iso(text: &str) -> Option<i64> {
    let mut s = Scanner { text: text.trim(), at: 0 };
    let year = s.digits(4)?;
    s.literal('-')?;
    let month = s.digits(2)?;
    s.literal('-')?;
    let day = s.digits(2)?;
    let (mut hour, mut minute, mut second, mut millis, mut offset) = (0, 0, 0, 0, 0);
    if s.accept('T') || s.accept(' ') {
        hour = s.digits(2)?;
        s.literal(':')?;
        minute = s.digits(2)?;
        if s.accept(':') {
            second = s.digits(2)?;
            if s.accept('.') {
                let (fraction, n) = s.some_digits(9)?;
                millis = fraction * 1000 / 10i64.pow(n as u32);
            }
        }
        s.accept(' ');
        if !s.done() {
            offset = s.zone()?;
        }
    }
    if !s.done() {
        return None;
    }
    instant(year, month, day, (hour, minute, second, millis), offset)
}

/// Parses a date with a `$dateFromString` format (`%Y`, `%m`, `%d`, `%H`, `%M`,
/// `%S`, `%L`, `%z`, `%Z`, `%%` and literal characters).
fn parse_with_format(text: &str, format: &str) -> Option<i64> {
    let mut s = Scanner { text, at: 0 };
    let (mut year, mut month, mut day) = (1970, 1, 1);
    let (mut hour, mut minute, mut second, mut millis, mut offset) = (0, 0, 0, 0, 0);
    let mut chars = format.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            s.literal(c)?;
            continue;
        }
        match chars.next()? {
            'Y' => year = s.digits(4)?,
            'm' => month = s.some_digits(2)?.0,
            'd' => day = s.some_digits(2)?.0,
            'H' => hour = s.some_digits(2)?.0,
            'M' => minute = s.some_digits(2)?.0,
            'S' => second = s.some_digits(2)?.0,
            'L' => millis = s.some_digits(3)?.0,
            'z' => offset = s.zone()?,
            'Z' => {
                let sign = if s.accept('-') {
                    -1
                } else {
                    s.accept('+');
                    1
                };
                offset = sign * s.some_digits(4)?.0;
            }
            '%' => s.literal('%')?,
            _ => return None,
        }
    }
    if !s.done() {
        return None;
    }
    instant(year, month, day, (hour, minute, second, millis), offset)
}

/// `$dateFromString: {dateString, format, timezone, onError, onNull}`.
#[derive(Debug)]
struct DateFromString {
    date_string: Node,
    format: Option<Node>,
    timezone: Option<Node>,
    on_error: Option<Node>,
    on_null: Option<Node>,
}

impl DateFromString {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let message = "$dateFromString only supports an object as an argument, found: {type}";
        let doc = named_args(spec, ErrorCode::Location40540, message)?;
        let (mut date_string, mut format, mut timezone, mut on_error, mut on_null) = (None, None, None, None, None);
        for (field, value) in doc {
            let slot = match field.as_str() {
                "dateString" => &mut date_string,
                "format" => &mut format,
                "timezone" => &mut timezone,
                "onError" => &mut on_error,
                "onNull" => &mut on_null,
                _ => {
                    return fail(ErrorCode::Location40541, format!("Unrecognized argument to $dateFromString: {field}"))
                }
            };
            *slot = Some(p.operand(value)?);
        }
        let Some(date_string) = date_string else {
            return fail(ErrorCode::Location40542, "Missing 'dateString' parameter to $dateFromString");
        };
        Ok(special(DateFromString { date_string, format, timezone, on_error, on_null }))
    }

    /// Parses the string, failing with `ConversionFailure` (which `onError` catches).
    fn convert(text: &Bson, format: Option<&str>, offset: i64) -> Result<Bson> {
        let Bson::String(text) = text else {
            let message = format!(
                "$dateFromString requires that 'dateString' be a string, found: {} with value {}",
                type_name(Some(text)),
                show(Some(text))
            );
            return Err(Error::command(ErrorCode::ConversionFailure, message));
        };
        let parsed = match format {
            Some(format) => parse_with_format(text, format).map(|m| m - offset * 60_000),
            None => parse_iso(text).map(|m| m - offset * 60_000),
        };
        match parsed {
            Some(millis) => Ok(Bson::DateTime(DateTime::from_millis(millis))),
            None => Err(Error::command(ErrorCode::ConversionFailure, format!("Error parsing date string '{text}'"))),
        }
    }
}

impl Special for DateFromString {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let text = ctx.eval(&self.date_string)?;
        let format = match &self.format {
            None => Some(None),
            Some(node) => match ctx.eval(node)?.as_deref() {
                Some(Bson::String(format)) => Some(Some(format.clone())),
                value if nullish(value) => None,
                other => {
                    let message =
                        format!("$dateFromString requires that 'format' be a string, found: {}", type_name(other));
                    return fail(ErrorCode::Location40684, message);
                }
            },
        };
        let offset = timezone(ctx, self.timezone.as_ref())?;
        if nullish(text.as_deref()) {
            return match &self.on_null {
                Some(on_null) => ctx.eval(on_null),
                None => Ok(Some(Cow::Owned(Bson::Null))),
            };
        }
        let (Some(offset), Some(format), Some(text)) = (offset, format, text) else {
            return Ok(Some(Cow::Owned(Bson::Null)));
        };
        match DateFromString::convert(&text, format.as_deref(), offset) {
            Ok(date) => Ok(Some(Cow::Owned(date))),
            Err(error) if error.code() == ErrorCode::ConversionFailure => match &self.on_error {
                Some(on_error) => ctx.eval(on_error),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }
}
