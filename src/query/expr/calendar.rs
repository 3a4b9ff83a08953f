//! The calendar under the date operators: proleptic Gregorian days, the parts of
//! a local time, and time zones (UTC, a fixed offset, or an Olson name from the
//! IANA database through `chrono-tz`).
//!
//! Instants are milliseconds since the epoch in UTC; a "local" time is the same
//! count read on a zone's wall clock (UTC plus the zone's offset at that moment).

use std::str::FromStr;

use bson::Bson;
use chrono::{DateTime, Offset, TimeZone};
use chrono_tz::Tz;

use super::{fail, nullish, type_name, Ctx, Node};
use crate::error::{Error, ErrorCode, Result};

/// Milliseconds in a day.
pub(super) const DAY: i64 = 86_400_000;

/// Days since 1970-01-01 of a proleptic Gregorian date.
pub(super) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * (month + if month > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The proleptic Gregorian date of a day since 1970-01-01.
pub(super) fn civil_from_days(days: i64) -> (i64, i64, i64) {
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

/// The number of days in a month (1 to 12) of a year.
pub(super) fn days_in_month(year: i64, month: i64) -> i64 {
    days_from_civil(year + i64::from(month == 12), month % 12 + 1, 1) - days_from_civil(year, month, 1)
}

/// The ISO day of the week of a day since 1970-01-01: 1 (Monday) to 7 (Sunday).
pub(super) fn iso_day_of_week(days: i64) -> i64 {
    // 1970-01-01 was a Thursday.
    (days + 3).rem_euclid(7) + 1
}

/// The calendar parts of a local time.
#[derive(Debug, Clone, Copy)]
pub(super) struct Parts {
    /// Days since 1970-01-01.
    pub days: i64,
    pub year: i64,
    pub month: i64,
    pub day: i64,
    pub hour: i64,
    pub minute: i64,
    pub second: i64,
    pub millisecond: i64,
    /// 1 (Sunday) to 7.
    pub day_of_week: i64,
    /// 1 to 366.
    pub day_of_year: i64,
    /// Weeks starting on Sunday, 0 before the year's first Sunday (`%U`).
    pub week: i64,
    /// ISO 8601 week, year and day (1 is Monday).
    pub iso_week: i64,
    pub iso_year: i64,
    pub iso_day_of_week: i64,
}

impl Parts {
    /// The parts of a local time in milliseconds.
    pub(super) fn of(local: i64) -> Parts {
        let days = local.div_euclid(DAY);
        let in_day = local.rem_euclid(DAY);
        let (year, month, day) = civil_from_days(days);
        let day_of_year = days - days_from_civil(year, 1, 1) + 1;
        let iso_day_of_week = iso_day_of_week(days);
        let weekday = iso_day_of_week % 7; // 0 is Sunday
        let (iso_year, iso_week) = iso_week(year, day_of_year, iso_day_of_week);
        Parts {
            days,
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
    let jan1 = iso_day_of_week(days_from_civil(year, 1, 1));
    let leap = days_in_month(year, 2) == 29;
    if jan1 == 4 || (leap && jan1 == 3) {
        53
    } else {
        52
    }
}

/// The Monday that starts ISO week 1 of a year, in days since 1970-01-01.
pub(super) fn iso_year_start(year: i64) -> i64 {
    let jan4 = days_from_civil(year, 1, 4);
    jan4 - (iso_day_of_week(jan4) - 1)
}

/// A time zone, as the `timezone` argument of the date operators names it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Zone {
    /// A fixed offset from UTC in milliseconds (UTC itself is 0).
    Fixed(i64),
    /// An Olson time zone, with its daylight saving rules.
    Named(Tz),
}

/// The range of instants chrono represents; offsets beyond it are those at its
/// edges (the time zone rules hold no changes that far out).
const CHRONO_MILLIS: std::ops::RangeInclusive<i64> = -8_000_000_000_000_000..=8_000_000_000_000_000;

impl Zone {
    pub(super) const UTC: Zone = Zone::Fixed(0);

    /// Parses a time zone: an Olson identifier (case-sensitive, as MongoDB's time
    /// zone database matches it), or a UTC offset `±HH`, `±HHMM` or `±HH:MM`.
    pub(super) fn parse(text: &str) -> Result<Zone> {
        if text == "UTC" {
            return Ok(Zone::UTC);
        }
        if let Ok(tz) = Tz::from_str(text) {
            return Ok(Zone::Named(tz));
        }
        parse_offset(text).map(|minutes| Zone::Fixed(minutes * 60_000)).ok_or_else(|| {
            Error::command(ErrorCode::Location40485, format!("unrecognized time zone identifier: \"{text}\""))
        })
    }

    /// The zone's offset from UTC at an instant, in milliseconds.
    pub(super) fn offset_at(&self, instant: i64) -> i64 {
        match self {
            Zone::Fixed(offset) => *offset,
            Zone::Named(tz) => {
                let instant = instant.clamp(*CHRONO_MILLIS.start(), *CHRONO_MILLIS.end());
                let utc = DateTime::from_timestamp_millis(instant).unwrap_or_default().naive_utc();
                i64::from(tz.offset_from_utc_datetime(&utc).fix().local_minus_utc()) * 1000
            }
        }
    }

    /// The local time of an instant.
    pub(super) fn local(&self, instant: i64) -> i64 {
        instant.saturating_add(self.offset_at(instant))
    }

    /// The instant of a local time. A time that the clocks skip (a gap when
    /// daylight saving starts) moves forward by the gap, as MongoDB's does; a
    /// time that happens twice is its first occurrence.
    pub(super) fn instant(&self, local: i64) -> i64 {
        let Zone::Named(_) = self else { return local.saturating_sub(self.offset_at(local)) };
        // The offsets in force a day before and a day after: a local time is in
        // at most one change of offset, between them.
        let before = self.offset_at(local.saturating_sub(DAY));
        let after = self.offset_at(local.saturating_add(DAY));
        let candidates = [local.saturating_sub(before), local.saturating_sub(after)];
        let mut valid = candidates.into_iter().filter(|&instant| self.local(instant) == local);
        match valid.next() {
            Some(first) => valid.fold(first, i64::min),
            // In a gap: read with the offset from before it.
            None => local.saturating_sub(before),
        }
    }
}

/// A `±HH`, `±HHMM` or `±HH:MM` offset in minutes (the digits' values are not
/// checked, as MongoDB does not).
pub(super) fn parse_offset(text: &str) -> Option<i64> {
    let bytes = text.as_bytes();
    let sign = match bytes.first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits = |range: std::ops::Range<usize>| -> Option<i64> {
        let part = text.get(range)?;
        part.bytes().all(|b| b.is_ascii_digit()).then(|| part.parse().ok())?
    };
    let (hours, minutes) = match bytes.len() {
        3 => (digits(1..3)?, 0),
        5 => (digits(1..3)?, digits(3..5)?),
        6 if bytes[3] == b':' => (digits(1..3)?, digits(4..6)?),
        _ => return None,
    };
    Some(sign * (hours * 60 + minutes))
}

/// Evaluates an optional `timezone` argument: UTC when absent, `Ok(None)` when it
/// is null or missing (the operator then returns null).
pub(super) fn timezone(ctx: &mut Ctx<'_>, node: Option<&Node>) -> Result<Option<Zone>> {
    let Some(node) = node else { return Ok(Some(Zone::UTC)) };
    zone_of(ctx.eval(node)?.as_deref())
}

/// The zone a `timezone` value names, `None` for null or missing.
pub(super) fn zone_of(value: Option<&Bson>) -> Result<Option<Zone>> {
    match value {
        Some(Bson::String(zone)) => Zone::parse(zone).map(Some),
        value if nullish(value) => Ok(None),
        other => {
            fail(ErrorCode::Location40517, format!("timezone must evaluate to a string, found {}", type_name(other)))
        }
    }
}

/// The instant a value stands for: a date, a timestamp (its seconds) or an
/// ObjectId's creation time; `None` for anything else.
pub(super) fn date_like(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::DateTime(d) => Some(d.timestamp_millis()),
        Bson::Timestamp(t) => Some(i64::from(t.time) * 1000),
        Bson::ObjectId(oid) => Some(oid.timestamp().timestamp_millis()),
        _ => None,
    }
}

/// The instant a value stands for, or MongoDB's conversion error.
pub(super) fn coerce_to_date(value: Option<&Bson>) -> Result<i64> {
    date_like(value).map_or_else(
        || fail(ErrorCode::Location16006, format!("can't convert from BSON type {} to Date", type_name(value))),
        Ok,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(text: &str) -> i64 {
        super::super::date::parse_iso(text).expect("date")
    }

    #[test]
    fn named_zones_follow_daylight_saving() {
        let new_york = Zone::parse("America/New_York").expect("zone");
        assert_eq!(new_york.offset_at(utc("2021-01-15T12:00:00Z")), -5 * 3_600_000);
        assert_eq!(new_york.offset_at(utc("2021-07-15T12:00:00Z")), -4 * 3_600_000);
        // 02:20 on the day clocks skip from 02:00 to 03:00 is 03:20 EDT.
        assert_eq!(new_york.instant(utc("2021-03-14T02:20:00Z")), utc("2021-03-14T07:20:00Z"));
        assert_eq!(new_york.instant(utc("2021-03-14T10:00:00Z")), utc("2021-03-14T14:00:00Z"));
        assert!(Zone::parse("america/new_york").is_err());
    }

    #[test]
    fn offsets_take_three_shapes() {
        assert_eq!(parse_offset("+05"), Some(300));
        assert_eq!(parse_offset("-0530"), Some(-330));
        assert_eq!(parse_offset("+05:30"), Some(330));
        assert_eq!(parse_offset("+99:99"), Some(99 * 60 + 99));
        for bad in ["+5", "05:30", "+05:3", "+0530:", "UTC+1", "+05-30"] {
            assert_eq!(parse_offset(bad), None, "{bad}");
        }
    }
}
