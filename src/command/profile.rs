//! `profile`: the profiling level and the slow operation threshold, as mongosh's
//! `db.setProfilingLevel` and `db.getProfilingStatus` use them. `{profile: -1}`
//! reads; `{profile: 0, slowms, sampleRate}` changes the threshold and the share of
//! slow operations logged (for the whole server, as MongoDB's `slowms` is). Levels
//! 1 and 2 write `system.profile`, which is not built: they are refused, and so is
//! `filter`.

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};

pub fn run(inv: &Invocation<'_>) -> Result<Document> {
    let level = match inv.body.get("profile").and_then(crate::index::whole_number) {
        Some(level @ -1..=2) => level,
        _ => return Err(Error::bad_value("Invalid profiling level: profile must be -1, 0, 1 or 2")),
    };
    let profiling = &inv.context.profiling;
    let before = doc! {
        "was": 0,
        "slowms": i32::try_from(profiling.slow_ms()).unwrap_or(i32::MAX),
        "sampleRate": profiling.sample_rate(),
    };
    if level == -1 {
        return Ok(before);
    }
    if level > 0 {
        return Err(Error::command(
            ErrorCode::IllegalOperation,
            format!(
                "profiling level {level} writes system.profile, which branchdb does not have yet; level 0 logs \
                 operations slower than slowms"
            ),
        ));
    }
    if inv.body.contains_key("filter") {
        return Err(Error::command(ErrorCode::IllegalOperation, "profile filters are not supported yet"));
    }
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
        Some(other) => return Err(Error::bad_value(format!("'sampleRate' must be between 0.0 and 1.0, not {other}"))),
    };
    if let Some(ms) = slow_ms {
        profiling.set_slow_ms(ms);
    }
    if let Some(rate) = sample_rate {
        profiling.set_sample_rate(rate);
    }
    Ok(before)
}
