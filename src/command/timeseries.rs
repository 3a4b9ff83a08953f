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
    // Only these may come with `timeseries` (and `capped: false`), in the order
    // MongoDB lists them.
    const ALLOWED: [&str; 5] = ["temp", "storageEngine", "indexOptionDefaults", "collation", "expireAfterSeconds"];
    let refused = given.iter().find(|(key, value)| {
        let plain = key.as_str() == "capped" && !crate::value::truthy(Some(value));
        key.as_str() != "timeseries" && !plain && !ALLOWED.contains(&key.as_str())
    });
    if let Some(option) = refused.map(|(k, _)| k.as_str()).or(inv.body.contains_key("idIndex").then_some("idIndex")) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("{ns}: 'timeseries' is not allowed with '{option}'"),
        ));
    }
    if matches!(inv.session, Some(super::invocation::SessionUse::Transaction(_))) {
        return Err(Error::command(
            ErrorCode::OperationNotSupportedInTransaction,
            "Cannot create a time-series collection in a multi-document transaction.",
        ));
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
    let mut options = Document::new();
    for option in ALLOWED {
        match (option, given.get(option)) {
            (_, None) => {}
            ("expireAfterSeconds", Some(value)) => {
                options.insert(option, super::clustered::expire_after_seconds(value)?);
            }
            (_, Some(value)) => {
                options.insert(option, value.clone());
            }
        }
    }
    options.insert("timeseries", timeseries);
    Ok(options)
}

/// Refuses `create` of a time series collection where one with other options is.
pub fn exists_error(ns: &str) -> Error {
    Error::command(ErrorCode::NamespaceExists, format!("A timeseries collection already exists. NS: {ns}"))
}

/// The `timeseries` option checked and completed with its defaults.
fn timeseries_spec(ns: &str, spec: &Document) -> Result<Document> {
    let field = |name: &str| format!("create.timeseries.{name}");
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
    let must_equal = || {
        Error::command(
            ErrorCode::InvalidOptions,
            "Time-series 'bucketRoundingSeconds' must be equal to 'bucketMaxSpanSeconds'",
        )
    };
    match (granularity, max_span, rounding) {
        (Some(_), _, Some(_)) => {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Time-series 'bucketRoundingSeconds' cannot be set alongside the granularity parameter",
            ))
        }
        (Some(granularity), span, None) => {
            let default = bucketing(&granularity).0;
            if span.is_some_and(|span| span != default) {
                return Err(Error::command(
                    ErrorCode::InvalidOptions,
                    format!("Time-series 'bucketMaxSpanSeconds' cannot be set to a value other than the default of {default} for the provided granularity"),
                ));
            }
            out.insert("granularity", granularity);
            out.insert("bucketMaxSpanSeconds", default as i32);
        }
        (None, None, None) => {
            out.insert("granularity", "seconds");
            out.insert("bucketMaxSpanSeconds", bucketing("seconds").0 as i32);
        }
        (None, Some(span), Some(round)) if span == round => {
            out.insert("bucketRoundingSeconds", round as i32);
            out.insert("bucketMaxSpanSeconds", span as i32);
        }
        (None, _, _) => return Err(must_equal()),
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

/// Refuses an index MongoDB does not allow on a time series collection: unique,
/// text and sparse-measurement indexes (72), the time field but ascending or
/// descending and measurement fields but those or 2dsphere (67), and a TTL index but
/// on the time field over a partial filter on the meta field (72).
pub fn check_index(collection: &Collection, spec: &Document) -> Result<()> {
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    let invalid = |message: &str| Err(Error::command(ErrorCode::InvalidOptions, message.to_owned()));
    if spec.get_bool("unique") == Ok(true) {
        return invalid("Unique indexes are not supported on time-series collections");
    }
    let key = spec.get_document("key").cloned().unwrap_or_default();
    if key.values().any(|kind| kind.as_str() == Some("text")) {
        return invalid("Text indexes are not supported on time-series collections");
    }
    let time = time_field(collection).unwrap_or_default();
    let meta = meta_field(collection);
    let on_meta = |path: &str| meta.is_some_and(|m| path == m || path.starts_with(&format!("{m}.")));
    let measurements = key.keys().any(|path| path != time && !on_meta(path));
    if crate::value::truthy(spec.get("sparse")) && measurements {
        return invalid("Sparse indexes are not supported on time-series measurements");
    }
    for (path, kind) in &key {
        let numeric = kind.as_str().is_none();
        let bad = match () {
            _ if path == time => {
                (!numeric).then_some("Indexes on the time field must be ascending or descending (numbers only)")
            }
            _ if on_meta(path) => None,
            _ => (!numeric && kind.as_str() != Some("2dsphere") || path.ends_with("$**")).then_some(
                "Indexes on measurement fields must be ascending or descending (numbers only), or '2dsphere'",
            ),
        };
        if let Some(why) = bad {
            return Err(Error::command(
                ErrorCode::CannotCreateIndex,
                format!("BadValue: Invalid index spec for time-series collection: {spec}. {why}: {path}: {kind}"),
            ));
        }
    }
    if spec.contains_key("expireAfterSeconds") {
        if key.len() != 1 || !key.contains_key(time) {
            return invalid("TTL indexes on non-time fields are not supported on time-series collections");
        }
        let partial_on_meta = spec
            .get_document("partialFilterExpression")
            .is_ok_and(|filter| !filter.is_empty() && filter_fields(filter).into_iter().all(on_meta));
        if !partial_on_meta {
            return invalid(
                "TTL indexes on time-series collections require a partialFilterExpression on the metaField",
            );
        }
    }
    Ok(())
}

/// Refuses what `collMod` may not change on a time series collection (72).
pub fn check_modify(body: &Document, collection: &Collection) -> Result<()> {
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    let refused = [
        "validator",
        "validationLevel",
        "validationAction",
        "changeStreamPreAndPostImages",
        "recordPreImages",
        "cappedSize",
        "cappedMax",
    ];
    if let Some(option) = refused.into_iter().find(|o| body.contains_key(*o)) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("option not supported on a time-series collection: {option}"),
        ));
    }
    if body.get_document("index").is_ok_and(|index| index.contains_key("expireAfterSeconds")) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            "TTL indexes are not supported for time-series collections. Please refer to the documentation and use the top-level 'expireAfterSeconds' option instead",
        ));
    }
    Ok(())
}

/// Refuses a `find` option MongoDB cannot run on a time series collection, whose
/// reads are an aggregation over its buckets (168).
pub fn check_find(collection: &Collection, body: &Document) -> Result<()> {
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    if crate::value::truthy(body.get("tailable")) {
        return Err(Error::command(
            ErrorCode::InvalidPipelineOperator,
            "Tailable cursors are not supported in aggregation.",
        ));
    }
    if body.get_document("sort").is_ok_and(|sort| sort.contains_key("$natural")) {
        return Err(Error::command(
            ErrorCode::InvalidPipelineOperator,
            "Sort option $natural not supported in aggregation.",
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
                "'expireAfterSeconds' option is only supported on collections clustered by _id",
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
                    "Invalid string value for the 'clusteredIndex::expireAfterSeconds' option. Got: '{other}'. Accepted value is 'off'"
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
        let mut with_granularity = doc! {"timeField": current.get_str("timeField").unwrap_or_default()};
        if let Ok(meta) = current.get_str("metaField") {
            with_granularity.insert("metaField", meta);
        }
        with_granularity.insert("granularity", granularity);
        with_granularity.insert("bucketMaxSpanSeconds", bucketing(granularity).0 as i32);
        current = with_granularity;
    }
    let span = change.get("bucketMaxSpanSeconds").map(|v| crate::index::whole_number(v).unwrap_or(0));
    let rounding = change.get("bucketRoundingSeconds").map(|v| crate::index::whole_number(v).unwrap_or(0));
    let refuse = |message: &str| Err(Error::command(ErrorCode::InvalidOptions, message.to_owned()));
    if let Ok(granularity) = change.get_str("granularity") {
        if rounding.is_some() {
            return refuse(
                "Timeseries 'bucketRoundingSeconds' is not configurable alongside the granularity parameter",
            );
        }
        if span.is_some_and(|span| span != bucketing(granularity).0) {
            return refuse(
                "Timeseries 'bucketMaxSpanSeconds' is not configurable to a value other than the default for the provided granularity",
            );
        }
        options.insert("timeseries", current);
        return Ok(());
    }
    match (span, rounding) {
        (None, None) => {}
        (Some(_), None) | (None, Some(_)) => {
            return refuse(
                "Timeseries 'bucketMaxSpanSeconds' and 'bucketRoundingSeconds' need to be set alongside each other",
            )
        }
        (Some(span), Some(round)) if span != round => {
            return refuse("Timeseries 'bucketRoundingSeconds' needs to be equal to 'bucketMaxSpanSeconds'")
        }
        (Some(span), Some(_)) => {
            if !(1..=MAX_BUCKET_SECONDS).contains(&span) {
                return Err(Error::bad_value(format!("Invalid value for timeseries.bucketMaxSpanSeconds: {span}")));
            }
            // A collection with a granularity compares with its implied bucketing.
            let (old_span, old_round) = match current.get_str("granularity") {
                Ok(granularity) => bucketing(granularity),
                Err(_) => (
                    current.get("bucketMaxSpanSeconds").and_then(crate::index::whole_number).unwrap_or(0),
                    current.get("bucketRoundingSeconds").and_then(crate::index::whole_number).unwrap_or(0),
                ),
            };
            if span < old_span {
                return refuse("Timeseries 'bucketMaxSpanSeconds' needs to be equal or greater to transition");
            }
            if span < old_round {
                return refuse("Timeseries 'bucketRoundingSeconds' needs to be equal or greater to transition");
            }
            let mut custom = doc! {"timeField": current.get_str("timeField").unwrap_or_default()};
            if let Ok(meta) = current.get_str("metaField") {
                custom.insert("metaField", meta);
            }
            custom.insert("bucketRoundingSeconds", span as i32);
            custom.insert("bucketMaxSpanSeconds", span as i32);
            current = custom;
        }
    }
    options.insert("timeseries", current);
    Ok(())
}

/// Refuses an insert into time series collection `name` in a transaction, as
/// MongoDB does: the whole command fails (263), not one write.
pub fn refuse_in_transaction(inv: &Invocation<'_>, name: &str) -> Result<()> {
    if !matches!(inv.session, Some(super::invocation::SessionUse::Transaction(_))) {
        return Ok(());
    }
    let Some(collection) = inv.read_view()?.collection(name)? else { return Ok(()) };
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    let ns = args::namespace(inv, name);
    Err(Error::command(
        ErrorCode::OperationNotSupportedInTransaction,
        format!(
            "time-series insert failed: {ns} :: caused by :: Cannot insert into a time-series collection in a multi-document transaction: {ns}"
        ),
    ))
}

/// Refuses an update MongoDB 8.0 does not run on time series `collection` (72):
/// only `multi: true` updates with operators, that select and change the
/// `metaField` alone, are allowed.
pub fn check_update(collection: &Collection, statement: &Document, shape: args::Shape) -> Result<()> {
    if !is_timeseries(&collection.options) {
        return Ok(());
    }
    let refuse = |message: String| Err(Error::command(ErrorCode::InvalidOptions, message));
    if !crate::value::truthy(statement.get("multi")) {
        return refuse("Cannot perform a non-multi update on a time-series collection".into());
    }
    if crate::value::truthy(statement.get("upsert")) {
        return refuse("Cannot perform an upsert on a time-series collection".into());
    }
    let Some(meta) = meta_field(collection) else {
        return refuse("Cannot perform an update on a time-series collection that does not have a metaField".into());
    };
    let on_meta = |path: &str| path == meta || path.starts_with(&format!("{meta}."));
    if let Ok(filter) = statement.get_document(shape.filter()) {
        if filter_fields(filter).into_iter().any(|f| !on_meta(f)) {
            return refuse(format!(
                "Cannot perform an update or delete on a time-series collection when querying on a field that is not the metaField '{meta}'"
            ));
        }
    }
    let update = match statement.get(shape.update()) {
        Some(Bson::Document(update)) => update,
        Some(Bson::Array(_)) => {
            return refuse("Cannot perform an update on a time-series collection using a pipeline update".into())
        }
        _ => return Ok(()),
    };
    if !update.keys().next().is_some_and(|k| k.starts_with('$')) {
        return refuse("Cannot perform an update on a time-series collection using a replacement document".into());
    }
    for (operator, fields) in update {
        let Bson::Document(fields) = fields else { continue };
        for (path, value) in fields {
            let renamed_to = (operator == "$rename").then(|| value.as_str()).flatten();
            if !on_meta(path) || renamed_to.is_some_and(|to| !on_meta(to)) {
                return refuse(format!(
                    "Cannot perform an update on a time-series collection which updates a field that is not the metaField '{meta}'"
                ));
            }
        }
    }
    Ok(())
}

/// The top-level fields a filter names, through `$and`, `$or` and `$nor`.
fn filter_fields(filter: &Document) -> Vec<&str> {
    let mut fields = Vec::new();
    for (key, value) in filter {
        match (key.as_str(), value) {
            ("$and" | "$or" | "$nor", Bson::Array(clauses)) => {
                for clause in clauses.iter().filter_map(Bson::as_document) {
                    fields.extend(filter_fields(clause));
                }
            }
            (operator, _) if operator.starts_with('$') => {}
            (field, _) => fields.push(field),
        }
    }
    fields
}
