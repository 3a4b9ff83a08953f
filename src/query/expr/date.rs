//! Date operators: the parts of a date (`$year`, `$dayOfWeek`…), `$dateToString`
//! and `$dateFromString`.
//!
//! Time zones are those of `calendar`: Olson names and fixed offsets.

use std::borrow::Cow;

use bson::{Bson, DateTime};

use super::calendar::{coerce_to_date, days_from_civil, days_in_month, parse_offset, timezone, Parts, Zone, DAY};
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
        let Some(zone) = timezone(ctx, self.timezone.as_ref())? else { return Ok(Some(Cow::Owned(Bson::Null))) };
        if nullish(date.as_deref()) {
            return Ok(Some(Cow::Owned(Bson::Null)));
        }
        let parts = Parts::of(zone.local(coerce_to_date(date.as_deref())?));
        Ok(Some(Cow::Owned(super::arith::int_or_wider((self.part)(&parts).into()))))
    }
}

/// The default `$dateToString` format, also how dates convert to strings.
const ISO_FORMAT: &str = "%Y-%m-%dT%H:%M:%S.%LZ";

/// A date as `2024-01-31T12:00:00.000Z`.
pub(super) fn iso_string(millis: i64) -> String {
    format_date(ISO_FORMAT, millis, Zone::UTC).unwrap_or_default()
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

/// Formats an instant with `%` specifiers, in a time zone.
fn format_date(format: &str, millis: i64, zone: Zone) -> Result<String> {
    validate_format(format)?;
    let d = Parts::of(zone.local(millis));
    let offset = zone.offset_at(millis) / 60_000;
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
        let zone = timezone(ctx, self.timezone.as_ref())?;
        if nullish(date.as_deref()) {
            return match &self.on_null {
                Some(on_null) => ctx.eval(on_null),
                None => Ok(Some(Cow::Owned(Bson::Null))),
            };
        }
        let (Some(zone), Some(format)) = (zone, format) else { return Ok(Some(Cow::Owned(Bson::Null))) };
        let millis = coerce_to_date(date.as_deref())?;
        Ok(Some(Cow::Owned(Bson::String(format_date(&format, millis, zone)?))))
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

/// Date text read: its local time, and the UTC offset it names (minutes), if any.
struct Reading {
    local: i64,
    offset: Option<i64>,
}

/// The local time of calendar fields; `None` when a field is out of range.
fn local_time(year: i64, month: i64, day: i64, clock: (i64, i64, i64, i64)) -> Option<i64> {
    let (hour, minute, second, millis) = clock;
    let valid = (1..=12).contains(&month)
        && (1..=days_in_month(year, month)).contains(&day)
        && (0..24).contains(&hour)
        && (0..60).contains(&minute)
        && (0..60).contains(&second);
    valid.then(|| days_from_civil(year, month, day) * DAY + hour * 3_600_000 + minute * 60_000 + second * 1000 + millis)
}

/// Parses an ISO 8601 date: `2024-01-31`, optionally with a time `T12:30`,
/// seconds, fractions and a zone (`Z`, `+01:00`); without a zone it is UTC.
pub(super) fn parse_iso(text: &str) -> Option<i64> {
    let reading = read_iso(text)?;
    Some(reading.local - reading.offset.unwrap_or(0) * 60_000)
}

/// Reads an ISO 8601 date (see `parse_iso`).
fn read_iso(text: &str) -> Option<Reading> {
    let mut s = Scanner { text: text.trim(), at: 0 };
    let year = s.digits(4)?;
    s.literal('-')?;
    let month = s.digits(2)?;
    s.literal('-')?;
    let day = s.digits(2)?;
    let (mut hour, mut minute, mut second, mut millis, mut offset) = (0, 0, 0, 0, None);
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
            offset = Some(s.zone()?);
        }
    }
    if !s.done() {
        return None;
    }
    Some(Reading { local: local_time(year, month, day, (hour, minute, second, millis))?, offset })
}

/// Parses a date with a `$dateFromString` format (`%Y`, `%m`, `%d`, `%H`, `%M`,
/// `%S`, `%L`, `%z`, `%Z`, `%%` and literal characters).
fn parse_with_format(text: &str, format: &str) -> Option<Reading> {
    let mut s = Scanner { text, at: 0 };
    let (mut year, mut month, mut day) = (1970, 1, 1);
    let (mut hour, mut minute, mut second, mut millis, mut offset) = (0, 0, 0, 0, None);
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
            'z' => offset = Some(s.zone()?),
            'Z' => {
                let sign = if s.accept('-') {
                    -1
                } else {
                    s.accept('+');
                    1
                };
                offset = Some(sign * s.some_digits(4)?.0);
            }
            '%' => s.literal('%')?,
            _ => return None,
        }
    }
    if !s.done() {
        return None;
    }
    Some(Reading { local: local_time(year, month, day, (hour, minute, second, millis))?, offset })
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
    fn convert(text: &Bson, format: Option<&str>, zone: Zone) -> Result<Bson> {
        let Bson::String(text) = text else {
            let message = format!(
                "$dateFromString requires that 'dateString' be a string, found: {} with value {}",
                type_name(Some(text)),
                show(Some(text))
            );
            return Err(Error::command(ErrorCode::ConversionFailure, message));
        };
        let reading = match format {
            Some(format) => parse_with_format(text, format),
            None => read_iso(text),
        };
        let failure = |message: String| Err(Error::command(ErrorCode::ConversionFailure, message));
        match reading {
            None => failure(format!("Error parsing date string '{text}'")),
            Some(Reading { offset: Some(_), .. }) if zone != Zone::UTC => failure(
                "you cannot pass in a date/time string with GMT offset together with a timezone argument".into(),
            ),
            Some(Reading { local, offset: Some(minutes) }) => {
                Ok(Bson::DateTime(DateTime::from_millis(local - minutes * 60_000)))
            }
            Some(Reading { local, offset: None }) => Ok(Bson::DateTime(DateTime::from_millis(zone.instant(local)))),
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
        let zone = timezone(ctx, self.timezone.as_ref())?;
        if nullish(text.as_deref()) {
            return match &self.on_null {
                Some(on_null) => ctx.eval(on_null),
                None => Ok(Some(Cow::Owned(Bson::Null))),
            };
        }
        let (Some(zone), Some(format), Some(text)) = (zone, format, text) else {
            return Ok(Some(Cow::Owned(Bson::Null)));
        };
        match DateFromString::convert(&text, format.as_deref(), zone) {
            Ok(date) => Ok(Some(Cow::Owned(date))),
            Err(error) if error.code() == ErrorCode::ConversionFailure => match &self.on_error {
                Some(on_error) => ctx.eval(on_error),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }
}
