//! `$queryStats`: the statistics of each query shape of `find`, `aggregate`,
//! `distinct` and `count` (`profiling::query_stats`), recorded as each command
//! ends and listed by the stage, on `admin` with `{aggregate: 1}`. With
//! `transformIdentifiers`, the names in each key (database, collection, fields)
//! are shown as the base64 of their HMAC-SHA-256 under the given key, as MongoDB
//! shows them.
//!
//! A query whose cursor stays open is recorded when its last batch is read
//! (`getMore`) or its cursor killed (`killCursors`), with every batch's time and
//! documents: `firstResponseExecMicros` is its first batch's time. (A cursor that
//! times out is recorded only when too many wait, `MAX_OPEN`.)

use std::time::Duration;

use base64::Engine as _;
use bson::{doc, Bson, Document};
use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

use super::Invocation;
use crate::context::Context;
use crate::error::{Error, ErrorCode, Result};
use crate::profiling::query_stats::{Execution, Open};
use crate::query::shape;
use crate::value::type_name;

/// The commands whose queries are counted.
const COUNTED: &[&str] = &["find", "aggregate", "distinct", "count"];
/// First stages whose aggregations are not queries of data.
const NOT_COUNTED_STAGES: &[&str] = &["$queryStats", "$querySettings", "$changeStream", "$currentOp"];

/// Counts a command that ran, when it is a query.
pub fn record(context: &Context, command: &str, body: &Document, reply: &Document, took: Duration) {
    let micros = u64::try_from(took.as_micros()).unwrap_or(u64::MAX);
    match command {
        "getMore" => {
            let (Ok(id), Ok(cursor)) = (body.get_i64("getMore"), reply.get_document("cursor")) else { return };
            let docs = cursor.get_array("nextBatch").map_or(0, Vec::len) as u64;
            context.query_stats.more(id, micros, docs, cursor.get_i64("id") == Ok(0));
            return;
        }
        "killCursors" => {
            for id in body.get_array("cursors").into_iter().flatten().filter_map(Bson::as_i64) {
                context.query_stats.close(id);
            }
            return;
        }
        _ => {}
    }
    if !COUNTED.contains(&command) || body.contains_key("explain") {
        return;
    }
    let first_stage = body.get_array("pipeline").ok().and_then(|p| p.first()).and_then(Bson::as_document);
    if first_stage.and_then(|s| s.keys().next()).is_some_and(|name| NOT_COUNTED_STAGES.contains(&name.as_str())) {
        return;
    }
    let db = body.get_str("$db").unwrap_or_default();
    let Some(query_shape) = shape::of_command(db, body) else { return };
    let key = doc! {"queryShape": query_shape, "collectionType": "collection"};
    let mut bytes = Vec::with_capacity(128);
    crate::value::encode(&key, &mut bytes);
    let docs_returned = match command {
        "distinct" => reply.get_array("values").map_or(0, Vec::len),
        "count" => 1,
        _ => reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map_or(0, Vec::len),
    };
    let run = Execution { micros, first_response_micros: micros, docs_returned: docs_returned as u64 };
    let key_hash = |bytes: &[u8]| base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes));
    let cursor = reply.get_document("cursor").and_then(|c| c.get_i64("id")).unwrap_or(0);
    if cursor != 0 {
        let shape_hash = key.get_document("queryShape").map(shape::hash).unwrap_or_default();
        let hash = key_hash(&bytes);
        context.query_stats.open(cursor, Open::new(bytes, key, hash, shape_hash, run));
        return;
    }
    // The hashes are worked out once per shape, when it is first seen.
    context.query_stats.record(
        &bytes,
        || {
            let shape_hash = key.get_document("queryShape").map(shape::hash).unwrap_or_default();
            let hash = key_hash(&bytes);
            (key, hash, shape_hash)
        },
        run,
    );
}

fn failed(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

/// The HMAC key `transformIdentifiers` gives, if any.
fn transform_key(spec: &Document) -> Result<Option<Vec<u8>>> {
    let Some(transform) = spec.get("transformIdentifiers") else { return Ok(None) };
    let Bson::Document(transform) = transform else {
        return Err(Error::type_mismatch(format!(
            "BSON field '$queryStats.transformIdentifiers' is the wrong type '{}', expected type 'object'",
            type_name(Some(transform))
        )));
    };
    let mut algorithm = None;
    let mut key = None;
    for (field, value) in transform {
        match (field.as_str(), value) {
            ("algorithm", Bson::String(name)) if name == "hmac-sha-256" => algorithm = Some(name),
            ("algorithm", Bson::String(name)) => {
                return Err(Error::bad_value(format!(
                    "Enumeration value '{name}' for field '$queryStats.transformIdentifiers.algorithm' is not a valid \
                     value."
                )))
            }
            ("hmacKey", Bson::Binary(binary)) if binary.bytes.len() >= 32 => key = Some(binary.bytes.clone()),
            ("hmacKey", Bson::Binary(_)) => {
                return Err(Error::bad_value(
                    "The 'hmacKey' parameter of the $queryStats stage must be at least 32 bytes",
                ))
            }
            ("algorithm" | "hmacKey", other) => {
                return Err(Error::type_mismatch(format!(
                    "BSON field '$queryStats.transformIdentifiers.{field}' is the wrong type '{}'",
                    type_name(Some(other))
                )))
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '$queryStats.transformIdentifiers.{field}' is an unknown field."),
                ))
            }
        }
    }
    if algorithm.is_none() {
        return Err(Error::command(
            ErrorCode::Location40414,
            "BSON field '$queryStats.transformIdentifiers.algorithm' is missing but a required field",
        ));
    }
    match key {
        Some(key) => Ok(Some(key)),
        None => Err(failed(
            "The 'hmacKey' parameter of the $queryStats stage must be specified when applying the hmac-sha-256 \
             algorithm",
        )),
    }
}

/// An identifier under the HMAC key, base64 as MongoDB shows it.
fn transformed(key: &[u8], name: &str) -> String {
    let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(name.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// A dotted path with each part transformed.
fn transformed_path(key: &[u8], path: &str) -> String {
    path.split('.').map(|part| transformed(key, part)).collect::<Vec<_>>().join(".")
}

/// A shape with its field names and field paths transformed; operators and
/// placeholders stay.
fn transform_value(key: &[u8], value: &Bson) -> Bson {
    match value {
        Bson::Document(doc) => Bson::Document(
            doc.iter()
                .map(|(name, value)| {
                    let name = if name.starts_with('$') { name.clone() } else { transformed_path(key, name) };
                    (name, transform_value(key, value))
                })
                .collect(),
        ),
        Bson::Array(items) => Bson::Array(items.iter().map(|item| transform_value(key, item)).collect()),
        Bson::String(path) if path.starts_with('$') && !path.starts_with("$$") => {
            Bson::String(format!("${}", transformed_path(key, &path[1..])))
        }
        other => other.clone(),
    }
}

/// The key with its identifiers transformed.
fn transform_key_document(key: &[u8], entry_key: &Document) -> Document {
    let mut out = entry_key.clone();
    if let Ok(query_shape) = entry_key.get_document("queryShape") {
        let mut shape = query_shape.clone();
        if let Ok(ns) = query_shape.get_document("cmdNs") {
            let names: Document = ns
                .iter()
                .map(|(field, value)| match value {
                    Bson::String(name) => (field.clone(), Bson::String(transformed(key, name))),
                    other => (field.clone(), other.clone()),
                })
                .collect();
            shape.insert("cmdNs", names);
        }
        for (field, value) in query_shape {
            if !matches!(field.as_str(), "cmdNs" | "command") {
                shape.insert(field.clone(), transform_value(key, value));
            }
        }
        out.insert("queryShape", shape);
    }
    out
}

/// `$queryStats`: one document per query shape.
pub fn stage(inv: &Invocation<'_>, argument: &Bson) -> Result<Vec<Document>> {
    if inv.db.db != "admin" {
        return Err(Error::command(
            ErrorCode::InvalidNamespace,
            "$queryStats must be run against the 'admin' database with {aggregate: 1}",
        ));
    }
    let Bson::Document(spec) = argument else {
        return Err(failed(format!("$queryStats value must be an object. Found: {}", type_name(Some(argument)))));
    };
    if let Some(field) = spec.keys().find(|field| field.as_str() != "transformIdentifiers") {
        return Err(Error::command(
            ErrorCode::Location40415,
            format!("BSON field '$queryStats.{field}' is an unknown field."),
        ));
    }
    let hmac_key = transform_key(spec)?;
    let as_of = super::cluster_settings::change_time(inv.context);
    Ok(inv
        .context
        .query_stats
        .snapshot()
        .into_iter()
        .map(|entry| {
            let key = match &hmac_key {
                Some(hmac_key) => transform_key_document(hmac_key, &entry.key),
                None => entry.key.clone(),
            };
            let long = |n: u64| Bson::Int64(i64::try_from(n).unwrap_or(i64::MAX));
            doc! {
                "key": key,
                "keyHash": entry.key_hash,
                "queryShapeHash": entry.query_shape_hash,
                "metrics": {
                    "lastExecutionMicros": long(entry.last_execution_micros),
                    "execCount": long(entry.exec_count),
                    "totalExecMicros": entry.total_exec_micros.to_document(),
                    "firstResponseExecMicros": entry.first_response_exec_micros.to_document(),
                    "docsReturned": entry.docs_returned.to_document(),
                    "firstSeenTimestamp": entry.first_seen,
                    "lastSeenTimestamp": entry.last_seen,
                },
                "asOf": as_of,
            }
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use bson::{doc, Document};

    use crate::command::run;
    use crate::context::{ConnectionInfo, Context};

    fn ok(shared: &Arc<Context>, body: Document) -> Document {
        let reply = run(&body, &ConnectionInfo::for_tests(7), shared);
        assert_eq!(reply.get_f64("ok"), Ok(1.0), "{body} -> {reply}");
        reply
    }

    /// Each query's `execCount` and `docsReturned`, by the filter's field.
    fn counted(shared: &Arc<Context>) -> Vec<Document> {
        let pipeline = vec![
            doc! {"$queryStats": {}},
            doc! {"$project": {"_id": 0, "filter": "$key.queryShape.filter", "n": "$metrics.execCount",
            "docs": "$metrics.docsReturned.sum", "first": "$metrics.firstResponseExecMicros.sum",
            "total": "$metrics.totalExecMicros.sum"}},
            doc! {"$sort": {"docs": 1}},
        ];
        let reply = ok(shared, doc! {"aggregate": 1, "pipeline": pipeline, "cursor": {}, "$db": "admin"});
        let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
        batch.iter().filter_map(|d| d.as_document().cloned()).collect()
    }

    #[test]
    fn a_query_is_recorded_with_every_batch_when_its_cursor_ends() {
        let shared = Context::for_tests();
        let docs: Vec<Document> = (0..10).map(|i| doc! {"_id": i, "a": 1, "b": 1}).collect();
        ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "db"});
        // Read to its end over three getMores.
        let reply = ok(&shared, doc! {"find": "c", "filter": {"a": 1}, "batchSize": 3, "$db": "db"});
        let id = reply.get_document("cursor").and_then(|c| c.get_i64("id")).expect("an id");
        ok(&shared, doc! {"getMore": id, "collection": "c", "batchSize": 3, "$db": "db"});
        assert!(counted(&shared).is_empty(), "recorded only when the cursor ends");
        ok(&shared, doc! {"getMore": id, "collection": "c", "batchSize": 3, "$db": "db"});
        ok(&shared, doc! {"getMore": id, "collection": "c", "batchSize": 3, "$db": "db"});
        // Killed after its first batch.
        let reply = ok(&shared, doc! {"find": "c", "filter": {"b": 1}, "batchSize": 2, "$db": "db"});
        let id = reply.get_document("cursor").and_then(|c| c.get_i64("id")).expect("an id");
        ok(&shared, doc! {"killCursors": "c", "cursors": [id], "$db": "db"});
        let entries = counted(&shared);
        assert_eq!(entries.len(), 2, "{entries:?}");
        assert_eq!(entries[0].get_document("filter"), Ok(&doc! {"b": 1}));
        assert_eq!((entries[0].get_i64("n"), entries[0].get_i64("docs")), (Ok(1), Ok(2)));
        assert_eq!((entries[1].get_i64("n"), entries[1].get_i64("docs")), (Ok(1), Ok(10)));
        let (first, total) = (entries[1].get_i64("first"), entries[1].get_i64("total"));
        assert!(first.expect("first") <= total.expect("total"), "{:?}", entries[1]);
    }
}
