//! Time series collections: `create` with `timeseries: {timeField, metaField,
//! granularity | bucketMaxSpanSeconds and bucketRoundingSeconds}` and
//! `expireAfterSeconds`. MongoDB groups a series' measurements into buckets, which
//! are its storage layout; branchdb's store already keeps every document by
//! version, so a measurement is a document like any other. What a user sees is
//! MongoDB's: the options as it lists them, the checks on every measurement written
//! (a date in the time field), the default index on the meta and time fields,
//! expiry by the time field, and the refusals (writes in transactions, unique
//! indexes, tailable cursors).

use bson::{doc, Bson, Document};

use super::{args, Invocation};
use crate::error::{Error, ErrorCode, Result};
use crate::store::Collection;

/// The most `bucketMaxSpanSeconds` and `bucketRoundingSeconds` may be (a year).
const MAX_BUCKET_SECONDS: i64 = 31_536_000;

/// Whether a collection's options make it a time series collection.
pub fn is_timeseries(options: &Document) -> bool {
    options.get_document("timeseries").is_ok()
}

/// The field every measurement of a time series collection holds its date in.
pub fn time_field(collection: &Collection) -> Option<&str> {
    collection.options.get_document("timeseries").ok()?.get_str("timeField").ok()
}

/// The field a time series collection's measurements name their series by.
pub fn meta_field(collection: &Collection) -> Option<&str> {
    collection.options.get_document("timeseries").ok()?.get_str("metaField").ok()
}

/// A granularity's bucket span and rounding, in seconds.
fn bucketing(granularity: &str) -> (i64, i64) {
    match granularity {
        "minutes" => (86_400, 3_600),
        "hours" => (2_592_000, 86_400),
        _ => (3_600, 60),
    }
}

/// Checks `create`'s options for a time series collection `name` and writes them
/// as MongoDB lists them: `timeseries` first (`timeField`, `metaField`, then
/// `granularity` and `bucketMaxSpanSeconds`, or the custom bucketing), then the
/// others.
pub fn options(inv: &Invocation<'_>, name: &str, given: &Document) -> Result<Document> {
    let ns = args::namespace(inv, name);
    let not_allowed_with = |option: &str| {
        Error::command(ErrorCode::InvalidOptions, format!("{ns}: 'timeseries' is not allowed with '{option}'"))
    };
    for option in [
        "capped",
        "autoIndexId",
        "idIndex",
        "size",
        "max",
        "validator",
        "validationLevel",
        "validationAction",
        "viewOn",
        "pipeline",
        "clusteredIndex",
    ] {
        let given_option = match option {
            "capped" => crate::value::truthy(given.get(option)),
            _ => given.contains_key(option),
        };
        if given_option || (option == "idIndex" && inv.body.contains_key("idIndex")) {
            return Err(not_allowed_with(option));
        }
    }
    let spec = match given.get("timeseries") {
        Some(Bson::Document(spec)) => spec,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'create.timeseries' is the wrong type '{}', expected type 'object'",
                args::type_name(other)
            )))
        }
    };
    let timeseries = timeseries_spec(&ns, spec)?;
    let mut options = doc! {"timeseries": timeseries};
    for (key, value) in given {
        match key.as_str() {
            "timeseries" => {}
            "expireAfterSeconds" => {
                options.insert(key.clone(), super::clustered::expire_after_seconds(value)?);
            }
            _ => {
                options.insert(key.clone(), value.clone());
            }
        }
    }
    Ok(options)
}

/// The `timeseries` option checked and completed with its defaults.
fn timeseries_spec(ns: &str, spec: &Document) -> Result<Document> {
    let field = |name: &str| format!("TimeseriesOptions.{name}");
    let known = ["timeField", "metaField", "granularity", "bucketMaxSpanSeconds", "bucketRoundingSeconds"];
    if let Some(unknown) = spec.keys().find(|k| !known.contains(&k.as_str())) {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '{}' is an unknown field.", field(unknown)),
        ));
    }
    let string = |name: &str| match spec.get(name) {
        None => Ok(None),
        Some(Bson::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(Error::type_mismatch(format!(
            "BSON field '{}' is the wrong type '{}', expected type 'string'",
            field(name),
            args::type_name(Some(other))
        ))),
    };
    let Some(time_field) = string("timeField")? else {
        return Err(Error::command(
            ErrorCode::Location40414,
            format!("BSON field '{}' is missing but a required field", field("timeField")),
        ));
    };
    let top_level = |name: &str| {
        Error::command(
            ErrorCode::InvalidOptions,
            format!("{ns}: '{name}' must be a top-level field and not contain a '.'"),
        )
    };
    if time_field.contains('.') {
        return Err(top_level("timeField"));
    }
    let meta_field = string("metaField")?;
    if let Some(meta) = &meta_field {
        if meta == "_id" {
            return Err(Error::command(ErrorCode::InvalidOptions, "'metaField' cannot be \"_id\""));
        }
        if *meta == time_field {
            return Err(Error::command(ErrorCode::InvalidOptions, "'metaField' cannot be the same as 'timeField'"));
        }
        if meta.contains('.') {
            return Err(top_level("metaField"));
        }
    }
    let granularity = string("granularity")?;
    if let Some(granularity) = &granularity {
        if !matches!(granularity.as_str(), "seconds" | "minutes" | "hours") {
            return Err(Error::bad_value(format!(
                "Enumeration value '{granularity}' for field '{}' is not a valid value.",
                field("granularity")
            )));
        }
    }
    let seconds = |name: &str| -> Result<Option<i64>> {
        let Some(value) = spec.get(name) else { return Ok(None) };
        let n = match value {
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                crate::value::number::as_f64(value).unwrap_or(f64::NAN)
            }
            other => {
                return Err(Error::type_mismatch(format!(
                    "BSON field '{}' is the wrong type '{}', expected types '[long, int, decimal, double]'",
                    field(name),
                    args::type_name(Some(other))
                )))
            }
        };
        if !(1.0..=MAX_BUCKET_SECONDS as f64).contains(&n.trunc()) {
            return Err(Error::bad_value(format!(
                "BSON field '{name}' value must be {}, actual value '{}'",
                if n < 1.0 { ">= 1".to_owned() } else { format!("<= {MAX_BUCKET_SECONDS}") },
                n.trunc() as i64
            )));
        }
        Ok(Some(n.trunc() as i64))
    };
    let max_span = seconds("bucketMaxSpanSeconds")?;
    let rounding = seconds("bucketRoundingSeconds")?;
    let mut out = doc! {"timeField": &time_field};
    if let Some(meta) = &meta_field {
        out.insert("metaField", meta);
    }
    match (max_span, rounding) {
        (None, None) => {
            let granularity = granularity.unwrap_or_else(|| "seconds".to_owned());
            let (span, _) = bucketing(&granularity);
            out.insert("granularity", granularity);
            out.insert("bucketMaxSpanSeconds", span as i32);
        }
        (Some(span), Some(round)) => {
            if let Some(granularity) = granularity {
                // With a granularity, only its own span may be given.
                if bucketing(&granularity) != (span, round) {
                    return Err(Error::command(
                        ErrorCode::InvalidOptions,
                        "Time-series 'bucketMaxSpanSeconds' cannot be set to a value other than the default of the provided granularity",
                    ));
                }
                out.insert("granularity", granularity);
                out.insert("bucketMaxSpanSeconds", span as i32);
            } else {
                if span != round {
                    return Err(Error::command(
                        ErrorCode::InvalidOptions,
                        "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' fields must be equal",
                    ));
                }
                out.insert("bucketRoundingSeconds", round as i32);
                out.insert("bucketMaxSpanSeconds", span as i32);
            }
        }
        (Some(span), None) if granularity.as_deref().is_some_and(|g| bucketing(g).0 == span) => {
            let granularity = granularity.unwrap_or_default();
            out.insert("granularity", granularity);
            out.insert("bucketMaxSpanSeconds", span as i32);
        }
        (Some(_), None) | (None, Some(_)) => {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must both be set",
            ))
        }
    }
    Ok(out)
}

/// The index MongoDB creates with a time series collection that has a meta field:
/// `{<meta>: 1, <time>: 1}`.
pub fn default_index(options: &Document) -> Option<Document> {
    let spec = options.get_document("timeseries").ok()?;
    let (meta, time) = (spec.get_str("metaField").ok()?, spec.get_str("timeField").ok()?);
    let name = format!("{meta}_1_{time}_1");
    Some(doc! {"key": {meta: 1, time: 1}, "name": name})
}

/// Checks a measurement about to be written to `collection`: its time field must
/// hold a date (MongoDB's BadValue otherwise).
pub fn check_measurement(collection: &Collection, doc: &Document) -> Result<()> {
    let Some(time) = time_field(collection) else { return Ok(()) };
    match doc.get(time) {
        Some(Bson::DateTime(_)) => Ok(()),
        _ => Err(Error::bad_value(format!("'{time}' must be present and contain a valid BSON UTC datetime value"))),
    }
}

/// Refuses an index MongoDB does not allow on a time series collection.
pub fn check_index(collection: &Collection, spec: &Document) -> Result<()> {
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    if spec.get_bool("unique") == Ok(true) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "Unique indexes are not supported on time-series collections",
        ));
    }
    let key = spec.get_document("key").cloned().unwrap_or_default();
    if key.values().any(|kind| matches!(kind.as_str(), Some("text" | "hashed" | "2d")))
        && meta_field(collection).is_none()
    {
        return Err(Error::command(
            ErrorCode::CannotCreateIndex,
            format!("Index not supported on a time-series collection without a metaField: {key}"),
        ));
    }
    if spec.contains_key("expireAfterSeconds") {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "TTL indexes are not supported on time-series collections: use the collection's expireAfterSeconds",
        ));
    }
    Ok(())
}

/// `collMod` of a time series collection: `expireAfterSeconds` (seconds, or
/// `"off"`) and `timeseries.granularity`, which may only grow coarser.
pub fn modify(body: &Document, collection: &Collection, options: &mut Document) -> Result<()> {
    let timeseries = is_timeseries(&collection.options);
    if let Some(seconds) = body.get("expireAfterSeconds") {
        if !timeseries && !super::clustered::is_clustered(collection) {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "collMod expireAfterSeconds is only supported on time-series or clustered collections",
            ));
        }
        match seconds {
            Bson::String(off) if off == "off" => {
                options.remove("expireAfterSeconds");
            }
            Bson::String(other) => {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    format!(
                    "Invalid string value for the 'expireAfterSeconds' option. Got: '{other}'. Accepted value is 'off'"
                ),
                ))
            }
            value => {
                options.insert("expireAfterSeconds", super::clustered::expire_after_seconds(value)?);
            }
        }
    }
    let Some(change) = body.get("timeseries") else { return Ok(()) };
    if !timeseries {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "option only supported on a time-series collection: timeseries",
        ));
    }
    let Bson::Document(change) = change else {
        return Err(Error::type_mismatch("BSON field 'collMod.timeseries' is the wrong type, expected type 'object'"));
    };
    if let Some(unknown) =
        change.keys().find(|k| !matches!(k.as_str(), "granularity" | "bucketMaxSpanSeconds" | "bucketRoundingSeconds"))
    {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field 'collMod.timeseries.{unknown}' is an unknown field."),
        ));
    }
    let mut current = options.get_document("timeseries").cloned().unwrap_or_default();
    if let Some(granularity) = change.get("granularity") {
        let Some(granularity) = granularity.as_str().filter(|g| matches!(*g, "seconds" | "minutes" | "hours")) else {
            return Err(Error::bad_value(format!(
                "Enumeration value '{granularity}' for field 'collMod.timeseries.granularity' is not a valid value."
            )));
        };
        let rank = |g: &str| ["seconds", "minutes", "hours"].iter().position(|x| *x == g);
        let now = current.get_str("granularity").ok();
        if let Some(now) = now {
            if rank(granularity) < rank(now) {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    "Invalid transition for timeseries.granularity. Can only transition from 'seconds' to 'minutes' or 'minutes' to 'hours'.",
                ));
            }
        }
        current.insert("granularity", granularity);
        current.insert("bucketMaxSpanSeconds", bucketing(granularity).0 as i32);
        current.remove("bucketRoundingSeconds");
    }
    let span = change.get("bucketMaxSpanSeconds").map(crate::index::whole_number);
    let rounding = change.get("bucketRoundingSeconds").map(crate::index::whole_number);
    match (span, rounding) {
        (None, None) => {}
        (Some(Some(span)), Some(Some(rounding))) if span == rounding && (1..=MAX_BUCKET_SECONDS).contains(&span) => {
            let old = current.get("bucketMaxSpanSeconds").and_then(crate::index::whole_number);
            if old.is_some_and(|old| span < old) {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    "Invalid transition for timeseries.bucketMaxSpanSeconds: it may only be increased",
                ));
            }
            current.remove("granularity");
            current.insert("bucketRoundingSeconds", span as i32);
            current.insert("bucketMaxSpanSeconds", span as i32);
        }
        _ => {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Time-series 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' must both be set, to the same number of seconds from 1 to 31536000",
            ))
        }
    }
    options.insert("timeseries", current);
    Ok(())
}
