//! `profile`: a database's profiling level and filter, and the server's slow
//! operation threshold and sample rate, as mongosh's `db.setProfilingLevel` and
//! `db.getProfilingStatus` use them. `{profile: -1}` reads the database's level;
//! 0, 1 and 2 set it. `slowms` and `sampleRate` change the server's settings,
//! `filter` the database's (`"unset"` removes it). The reply is the settings from
//! before, as MongoDB's.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, Result};
use crate::profiling::FilterChange;
use crate::query::{Filter, Variables};

/// What MongoDB adds to the reply when a filter is involved.
const FILTER_NOTE: &str =
    "When a filter expression is set, slowms and sampleRate are not used for profiling and slow-query log lines.";

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let level = match inv.body.get("profile").and_then(crate::index::whole_number) {
        Some(level @ -1..=2) => level as i32,
        _ => return Err(Error::bad_value("Invalid profiling level: profile must be -1, 0, 1 or 2")),
    };
    let filter = match inv.body.get("filter") {
        None => FilterChange::Keep,
        Some(Bson::String(unset)) if unset == "unset" => FilterChange::Unset,
        Some(Bson::Document(spec)) => {
            FilterChange::Set(spec.clone(), Filter::parse_without_text(spec, &Variables::none())?)
        }
        Some(other) => {
            return Err(Error::bad_value(format!(
                "Expected an object, or the string 'unset' for the profile filter, not {other}"
            )))
        }
    };
    let slow_ms = match args::integer(inv.body, "slowms")? {
        Some(ms) if ms >= 0 => Some(ms as u64),
        Some(ms) => return Err(Error::bad_value(format!("slowms must be at least 0, not {ms}"))),
        None => None,
    };
    let sample_rate = match inv.body.get("sampleRate") {
        None => None,
        Some(Bson::Double(rate)) if (0.0..=1.0).contains(rate) => Some(*rate),
        Some(Bson::Int32(rate @ 0..=1)) => Some(f64::from(*rate)),
        Some(Bson::Int64(rate @ 0..=1)) => Some(*rate as f64),
        Some(other) => {
            return Err(Error::bad_value(format!("'sampleRate' must be between 0.0 and 1.0 inclusive, not {other}")))
        }
    };
    let profiling = &inv.context.profiling;
    let filter_given = matches!(filter, FilterChange::Set(..));
    let db = &inv.db.db;
    let before = match (level, filter) {
        (-1, FilterChange::Keep) => profiling.settings(db),
        // A filter given with -1 changes, the level stays.
        (-1, filter) => profiling.set(db, profiling.settings(db).level, filter),
        (level, filter) => profiling.set(db, level, filter),
    };
    let mut reply = doc! {
        "was": before.level,
        "slowms": i32::try_from(profiling.slow_ms()).unwrap_or(i32::MAX),
        "sampleRate": profiling.sample_rate(),
    };
    let had_filter = before.filter.is_some();
    if let Some(spec) = before.filter {
        reply.insert("filter", spec);
    }
    if had_filter || filter_given {
        reply.insert("note", FILTER_NOTE);
    }
    if let Some(ms) = slow_ms {
        profiling.set_slow_ms(ms);
    }
    if let Some(rate) = sample_rate {
        profiling.set_sample_rate(rate);
    }
    Ok(reply)
}
