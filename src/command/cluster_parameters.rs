//! Cluster parameters, as a MongoDB 8.0 router keeps them: `getClusterParameter`
//! and `setClusterParameter` over documents of `config.clusterParameters`
//! (`cluster_settings.rs`), `{_id: <name>, clusterParameterTime, ...fields}`.
//!
//! Two parameters, both applied:
//! - `defaultMaxTimeMS: {readOperations}`: the time limit of `find`, `aggregate`
//!   (without `$out` or `$merge`), `count`, `distinct` and `dbHash` when they give
//!   no `maxTimeMS`, for users without `bypassDefaultMaxTimeMS` while access control
//!   is on (as in MongoDB, it has no effect without it);
//! - `changeStreamOptions: {preAndPostImages: {expireAfterSeconds}}`: how long change
//!   streams may return the documents before and after a change
//!   (`fullDocumentBeforeChange`, `fullDocument: "whenAvailable"/"required"`);
//!   `"off"` keeps them as long as the store's history.
//!
//! The others MongoDB lists concern sharding, queryable encryption or serverless
//! deployments, and are not here (4, as for any unknown name).

use std::time::Duration;

use bson::{doc, Bson, Document, Timestamp};

use super::cluster_settings::PARAMETERS;
use super::{Command, Invocation};
use crate::auth::privileges::{Action, Actions, Target};
use crate::context::{ConnectionInfo, Context};
use crate::error::{Error, ErrorCode, Result};
use crate::value::type_name;

const CHANGE_STREAM_OPTIONS: &str = "changeStreamOptions";
const DEFAULT_MAX_TIME_MS: &str = "defaultMaxTimeMS";

/// Every parameter, in the order `"*"` lists them.
const NAMES: &[&str] = &[CHANGE_STREAM_OPTIONS, DEFAULT_MAX_TIME_MS];

/// A parameter's value when never set.
fn default_of(name: &str) -> Document {
    match name {
        CHANGE_STREAM_OPTIONS => doc! {"preAndPostImages": {"expireAfterSeconds": "off"}},
        _ => doc! {"readOperations": 0i64},
    }
}

/// Parameter `name` as `getClusterParameter` shows it.
fn current(context: &Context, name: &str) -> Result<Document> {
    let (settings, _) = context.cluster_settings.get(context)?;
    Ok(match settings.parameter(name) {
        Some(stored) => stored.clone(),
        None => {
            let mut shown = doc! {"_id": name, "clusterParameterTime": Timestamp { time: 0, increment: 0 }};
            shown.extend(default_of(name));
            shown
        }
    })
}

pub fn get(inv: &Invocation<'_>) -> Result<Document> {
    let names: Vec<&str> = match inv.body.get("getClusterParameter") {
        Some(Bson::String(all)) if all == "*" => NAMES.to_vec(),
        Some(Bson::String(name)) => vec![name.as_str()],
        Some(Bson::Array(names)) if names.is_empty() => {
            return Err(Error::bad_value("Must provide at least one cluster parameter name"))
        }
        Some(Bson::Array(names)) => names
            .iter()
            .map(|name| match name {
                Bson::String(name) => Ok(name.as_str()),
                other => Err(wrong_type("getClusterParameter.getClusterParameter", other, "string")),
            })
            .collect::<Result<_>>()?,
        other => {
            return Err(Error::type_mismatch(format!(
                "BSON field 'getClusterParameter.getClusterParameter' is the wrong type '{}', expected types \
                 '[string, array']",
                type_name(other)
            )))
        }
    };
    let mut shown = Vec::with_capacity(names.len());
    for name in names {
        if !NAMES.contains(&name) {
            return Err(unknown(name));
        }
        shown.push(Bson::Document(current(inv.context, name)?));
    }
    Ok(doc! {"clusterParameters": shown})
}

pub fn set(inv: &Invocation<'_>) -> Result<Document> {
    let request = match inv.body.get("setClusterParameter") {
        None | Some(Bson::Null) => {
            return Err(Error::command(
                ErrorCode::Location40414,
                "BSON field 'setClusterParameter.setClusterParameter' is missing but a required field",
            ))
        }
        Some(Bson::Document(request)) => request,
        Some(other) => return Err(wrong_type("setClusterParameter.setClusterParameter", other, "object")),
    };
    let mut fields = request.iter();
    let (name, value) = match (fields.next(), fields.next()) {
        (Some(only), None) => only,
        (None, _) => return Err(unknown("")),
        (Some(_), Some(_)) => {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                "Expected exactly one cluster server parameter to be set",
            ))
        }
    };
    if !NAMES.contains(&name.as_str()) {
        return Err(unknown(name));
    }
    let Bson::Document(value) = value else {
        return Err(Error::bad_value(format!("Cluster parameter {name} must be an object, not {value}")));
    };
    if let Some(field) = value.keys().find(|field| field.starts_with('$')) {
        return Err(Error::command(
            ErrorCode::DollarPrefixedFieldName,
            format!("Cluster parameter {name} may not have a '$'-prefixed field: {field}"),
        ));
    }
    let old = current(inv.context, name)?;
    let mut next =
        doc! {"_id": name.as_str(), "clusterParameterTime": super::cluster_settings::change_time(inv.context)};
    match name.as_str() {
        CHANGE_STREAM_OPTIONS => next.extend(change_stream_options(value)?),
        _ => next.extend(default_max_time_value(value, &old)?),
    }
    super::cluster_settings::save(inv, PARAMETERS, next)?;
    Ok(Document::new())
}

/// `changeStreamOptions`: `{preAndPostImages: {expireAfterSeconds: "off" | n > 0}}`,
/// the only field, required.
fn change_stream_options(value: &Document) -> Result<Document> {
    if let Some(field) = value.keys().find(|field| *field != "preAndPostImages") {
        return Err(Error::bad_value(format!("changeStreamOptions has no field '{field}'")));
    }
    let images = match value.get("preAndPostImages") {
        Some(Bson::Document(images)) => images,
        None => return Err(Error::bad_value("changeStreamOptions.preAndPostImages is required")),
        Some(other) => {
            return Err(Error::bad_value(format!(
                "changeStreamOptions.preAndPostImages must be an object, not {other}"
            )))
        }
    };
    if let Some(field) = images.keys().find(|field| *field != "expireAfterSeconds") {
        return Err(Error::bad_value(format!("changeStreamOptions.preAndPostImages has no field '{field}'")));
    }
    let expire = match images.get("expireAfterSeconds") {
        None | Some(Bson::Null) => Bson::String("off".into()),
        Some(Bson::String(off)) if off == "off" => Bson::String("off".into()),
        Some(number) => match crate::index::whole_number(number) {
            Some(seconds) if seconds > 0 => Bson::Int64(seconds),
            _ => {
                return Err(Error::bad_value(format!(
                    "changeStreamOptions.preAndPostImages.expireAfterSeconds must be 'off' or a number of seconds \
                     above 0, not {number}"
                )))
            }
        },
    };
    Ok(doc! {"preAndPostImages": {"expireAfterSeconds": expire}})
}

/// `defaultMaxTimeMS`: `{readOperations: n >= 0}`; a field left out keeps its
/// value, a null one goes back to 0.
fn default_max_time_value(value: &Document, old: &Document) -> Result<Document> {
    if let Some(field) = value.keys().find(|field| *field != "readOperations") {
        return Err(Error::bad_value(format!("defaultMaxTimeMS has no field '{field}'")));
    }
    let read = match value.get("readOperations") {
        None => old.get_i64("readOperations").unwrap_or(0),
        Some(Bson::Null) => 0,
        Some(number @ (Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))) => {
            match crate::index::whole_number(number) {
                Some(ms) if (0..=i64::from(i32::MAX)).contains(&ms) => ms,
                _ => {
                    return Err(Error::bad_value(format!(
                        "defaultMaxTimeMS.readOperations must be a whole number of milliseconds from 0 to {}, not \
                         {number}",
                        i32::MAX
                    )))
                }
            }
        }
        Some(other) => return Err(wrong_type("defaultMaxTimeMS.readOperations", other, "long")),
    };
    Ok(doc! {"readOperations": read})
}

/// The commands `defaultMaxTimeMS.readOperations` limits.
fn is_read_operation(command: &Command, body: &Document) -> bool {
    match command.name {
        "find" | "count" | "distinct" | "dbHash" => true,
        "aggregate" => !super::aggregate::writes(body),
        _ => false,
    }
}

/// The time limit of a command that gives no `maxTimeMS`: the default for reads,
/// unless access control is off or the user may bypass it (as in MongoDB).
pub fn default_max_time(
    context: &Context,
    connection: &ConnectionInfo,
    command: &Command,
    body: &Document,
) -> Result<Option<Duration>> {
    if !context.security.enabled || !is_read_operation(command, body) {
        return Ok(None);
    }
    let ms = current(context, DEFAULT_MAX_TIME_MS)?.get_i64("readOperations").unwrap_or(0);
    if ms <= 0 {
        return Ok(None);
    }
    let grants = super::user_store::connection_grants(context, connection);
    if grants.allow(&Target::Cluster, Actions::of(&[Action::BypassDefaultMaxTimeMs])) {
        return Ok(None);
    }
    Ok(Some(Duration::from_millis(ms as u64)))
}

/// How long change streams may return pre- and post-images (`None`: as long as
/// the history holds them).
pub fn images_expire_after(context: &Context) -> Result<Option<Duration>> {
    let options = current(context, CHANGE_STREAM_OPTIONS)?;
    let expire = options.get_document("preAndPostImages").ok().and_then(|i| i.get_i64("expireAfterSeconds").ok());
    Ok(expire.map(|seconds| Duration::from_secs(seconds.max(0) as u64)))
}

fn unknown(name: &str) -> Error {
    Error::command(ErrorCode::NoSuchKey, format!("Unknown Cluster Parameter {name}"))
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    Error::type_mismatch(format!(
        "BSON field '{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    ))
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson, Document, Timestamp};

    use crate::command::run;
    use crate::context::{ConnectionInfo, Context};

    #[test]
    fn a_set_value_is_read_back_and_each_change_is_later() {
        let shared = Context::for_tests();
        let call = |body: Document| run(&body, &ConnectionInfo::for_tests(1), &shared);
        let get = || {
            let reply = call(doc! {"getClusterParameter": "changeStreamOptions", "$db": "admin"});
            reply.get_array("clusterParameters").expect("parameters")[0].as_document().expect("one").clone()
        };
        let set = |seconds: Bson| {
            let body = doc! {
                "setClusterParameter": {"changeStreamOptions": {"preAndPostImages": {"expireAfterSeconds": seconds}}},
                "$db": "admin",
            };
            assert_eq!(call(body).get_f64("ok"), Ok(1.0));
        };
        assert_eq!(get().get_timestamp("clusterParameterTime"), Ok(Timestamp { time: 0, increment: 0 }));
        set(Bson::Int32(7200));
        let first = get();
        assert_eq!(first.get_document("preAndPostImages"), Ok(&doc! {"expireAfterSeconds": 7200i64}));
        set(Bson::String("off".into()));
        let second = get();
        assert_eq!(second.get_document("preAndPostImages"), Ok(&doc! {"expireAfterSeconds": "off"}));
        let time = |d: &Document| d.get_timestamp("clusterParameterTime").expect("time");
        assert!(time(&second) > time(&first), "{second} after {first}");
    }
}
