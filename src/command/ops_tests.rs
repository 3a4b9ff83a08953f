//! Tests of the statistics and operation commands: `dbStats`, `collStats`,
//! `$collStats`, `validate`, `currentOp` and `killOp`.

use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::*;
use crate::store::DOC_KEY_OVERHEAD;
use crate::value::order;
use crate::value::size::document_size;

fn call(shared: &Arc<Context>, body: Document) -> Document {
    run(&body, &ConnectionInfo::for_tests(7), shared)
}

fn assert_error(reply: &Document, code: i32, message: &str) {
    assert_eq!(reply.get_f64("ok"), Ok(0.0), "{reply}");
    assert_eq!(reply.get_i32("code"), Ok(code), "{reply}");
    assert_eq!(reply.get_str("errmsg"), Ok(message), "{reply}");
}

/// The documents inserted into `t.c` by [`with_documents`].
fn documents() -> Vec<Document> {
    (0..5).map(|i| doc! {"_id": i, "name": "x".repeat(i as usize * 10)}).collect()
}

/// A server with [`documents`] in `t.c` and one document in `t.d`.
fn with_documents() -> Arc<Context> {
    let shared = Context::for_tests();
    let docs: Vec<Bson> = documents().into_iter().map(Bson::Document).collect();
    assert_eq!(call(&shared, doc! {"insert": "c", "documents": docs, "$db": "t"}).get_i32("n"), Ok(5));
    assert_eq!(call(&shared, doc! {"insert": "d", "documents": [{"_id": "a"}], "$db": "t"}).get_i32("n"), Ok(1));
    shared
}

/// The BSON bytes and key bytes the store holds for `docs`.
fn sizes(docs: &[Document]) -> (i64, i64) {
    let data = docs.iter().map(|d| document_size(d) as i64).sum();
    let keys = docs
        .iter()
        .map(|d| {
            let mut key = Vec::new();
            order::encode_value(d.get("_id").expect("an _id"), &mut key);
            (key.len() + DOC_KEY_OVERHEAD) as i64
        })
        .sum();
    (data, keys)
}

#[test]
fn db_stats_sums_the_collections_of_the_addressed_branch() {
    let shared = with_documents();
    let mut all = documents();
    all.push(doc! {"_id": "a"});
    let (data, keys) = sizes(&all);
    let reply = call(&shared, doc! {"dbStats": 1, "$db": "t"});
    let expected = doc! {
        "db": "t",
        "collections": 2,
        "views": 0,
        "objects": 6,
        "avgObjSize": data as f64 / 6.0,
        "dataSize": data as f64,
        "storageSize": data as f64,
        "indexes": 2,
        "indexSize": keys as f64,
        "totalSize": (data + keys) as f64,
        "scaleFactor": 1,
    };
    for (key, value) in &expected {
        assert_eq!(reply.get(key), Some(value), "{key} in {reply}");
    }
    let fields: Vec<&str> = reply.keys().map(String::as_str).collect();
    assert_eq!(&fields[..11], expected.keys().map(String::as_str).collect::<Vec<_>>().as_slice());
    assert!(matches!(reply.get("fsUsedSize"), Some(Bson::Double(_))), "{reply}");
    assert!(matches!(reply.get("fsTotalSize"), Some(Bson::Double(_))), "{reply}");

    let scaled = call(&shared, doc! {"dbStats": 1, "scale": 1023.9, "freeStorage": 1, "$db": "t"});
    assert_eq!(scaled.get_f64("dataSize"), Ok(data as f64 / 1023.0), "{scaled}");
    assert_eq!(scaled.get_f64("avgObjSize"), Ok(data as f64 / 6.0), "avgObjSize is not scaled: {scaled}");
    assert_eq!(scaled.get_i32("scaleFactor"), Ok(1023));
    assert_eq!(scaled.get_f64("totalFreeStorageSize"), Ok(0.0));

    let other = call(&shared, doc! {"createBranch": "b", "$db": "t"});
    assert_eq!(other.get_f64("ok"), Ok(1.0), "{other}");
    call(&shared, doc! {"insert": "c", "documents": [{"_id": 99}], "$db": "t@b"});
    assert_eq!(call(&shared, doc! {"dbStats": 1, "$db": "t@b"}).get_i32("objects"), Ok(7));
    assert_eq!(call(&shared, doc! {"dbStats": 1, "$db": "t"}).get_i32("objects"), Ok(6), "main is unchanged");
}

#[test]
fn db_stats_of_an_empty_database_is_zero_and_scale_is_checked() {
    let shared = Context::for_tests();
    let reply = call(&shared, doc! {"dbstats": 1, "$db": "nothing"});
    for key in ["dataSize", "storageSize", "indexSize", "totalSize", "fsUsedSize", "fsTotalSize", "avgObjSize"] {
        assert_eq!(reply.get_f64(key), Ok(0.0), "{key} in {reply}");
    }
    assert_eq!(reply.get_i32("collections"), Ok(0));
    let message = "Scale factor must be greater than zero and less than or equal to 2^50";
    assert_error(&call(&shared, doc! {"dbStats": 1, "scale": 0, "$db": "t"}), 2, message);
    assert_error(&call(&shared, doc! {"dbStats": 1, "scale": 0.5, "$db": "t"}), 2, message);
    assert_error(&call(&shared, doc! {"dbStats": 1, "scale": (1i64 << 50) + 1, "$db": "t"}), 2, message);
    let wrong = call(&shared, doc! {"dbStats": 1, "scale": "k", "$db": "t"});
    assert_eq!(wrong.get_i32("code"), Ok(14), "{wrong}");
}

#[test]
fn coll_stats_reports_mongodb_7_fields_in_order() {
    let shared = with_documents();
    let (data, keys) = sizes(&documents());
    let reply = call(&shared, doc! {"collStats": "c", "$db": "t"});
    let expected = doc! {
        "ns": "t.c",
        "size": data as i32,
        "count": 5,
        "avgObjSize": (data / 5) as i32,
        "numOrphanDocs": 0,
        "storageSize": data as i32,
        "freeStorageSize": 0,
        "capped": false,
        "nindexes": 1,
        "indexDetails": {},
        "indexBuilds": [],
        "totalIndexSize": keys as i32,
        "indexSizes": {"_id_": keys as i32},
        "totalSize": (data + keys) as i32,
        "scaleFactor": 1,
        "ok": 1.0,
    };
    let mut reply = reply;
    reply.remove("operationTime");
    assert_eq!(reply, expected);

    let scaled = call(&shared, doc! {"collStats": "c", "scale": 2, "$db": "t"});
    assert_eq!(scaled.get_i32("size"), Ok((data / 2) as i32), "{scaled}");
    assert_eq!(scaled.get_i32("count"), Ok(5), "counts are not scaled");
    assert_eq!(scaled.get_i32("scaleFactor"), Ok(2));
    let zero = call(&shared, doc! {"collStats": "c", "scale": 0, "$db": "t"});
    assert_error(&zero, 51024, "BSON field 'scale' value must be >= 1, actual value '0'");
}

#[test]
fn coll_stats_of_a_missing_collection_is_ok_and_zero_as_in_mongodb_7() {
    let shared = Context::for_tests();
    let mut reply = call(&shared, doc! {"collStats": "nope", "$db": "t"});
    reply.remove("operationTime");
    let expected = doc! {
        "ns": "t.nope", "size": 0, "count": 0, "numOrphanDocs": 0, "storageSize": 0, "totalSize": 0,
        "nindexes": 0, "totalIndexSize": 0, "indexDetails": {}, "indexSizes": {}, "scaleFactor": 1, "ok": 1.0,
    };
    assert_eq!(reply, expected);
}

fn aggregate(shared: &Arc<Context>, collection: &str, pipeline: Vec<Document>) -> Document {
    let pipeline: Vec<Bson> = pipeline.into_iter().map(Bson::Document).collect();
    call(shared, doc! {"aggregate": collection, "pipeline": pipeline, "cursor": {}, "$db": "t"})
}

fn first_batch(reply: &Document) -> Vec<Document> {
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("a batch");
    batch.iter().map(|d| d.as_document().expect("a document").clone()).collect()
}

#[test]
fn coll_stats_stage_nests_storage_stats_and_feeds_the_rest_of_the_pipeline() {
    let shared = with_documents();
    let (data, keys) = sizes(&documents());
    let reply = aggregate(&shared, "c", vec![doc! {"$collStats": {"storageStats": {"scale": 1}, "count": {}}}]);
    let batch = first_batch(&reply);
    assert_eq!(batch.len(), 1, "{reply}");
    let stats = &batch[0];
    assert_eq!(stats.keys().collect::<Vec<_>>(), ["ns", "host", "localTime", "storageStats", "count"]);
    assert_eq!(stats.get_str("ns"), Ok("t.c"));
    assert!(stats.get_str("host").expect("host").ends_with(":27017"), "{stats}");
    assert!(matches!(stats.get("localTime"), Some(Bson::DateTime(_))));
    assert_eq!(stats.get_i32("count"), Ok(5));
    let storage = stats.get_document("storageStats").expect("storageStats");
    assert_eq!(storage.get_i32("size"), Ok(data as i32));
    assert_eq!(storage.get_i32("totalIndexSize"), Ok(keys as i32));
    assert!(!storage.contains_key("ns"), "{storage}");

    let projected = aggregate(
        &shared,
        "c",
        vec![doc! {"$collStats": {"storageStats": {}}}, doc! {"$project": {"_id": 0, "n": "$storageStats.count"}}],
    );
    assert_eq!(first_batch(&projected), vec![doc! {"n": 5}], "{projected}");
    let bare = aggregate(&shared, "nope", vec![doc! {"$collStats": {}}]);
    assert_eq!(first_batch(&bare).len(), 1, "no statistics asked for, so a missing collection is fine: {bare}");
}

#[test]
fn coll_stats_stage_errors_are_mongodb_7s() {
    let shared = with_documents();
    let missing = aggregate(&shared, "nope", vec![doc! {"$collStats": {"storageStats": {}}}]);
    assert_error(
        &missing,
        26,
        "PlanExecutor error during aggregation :: caused by :: Unable to retrieve storageStats in $collStats stage \
         :: caused by :: Collection [t.nope] not found.",
    );
    let second = aggregate(&shared, "c", vec![doc! {"$match": {}}, doc! {"$collStats": {}}]);
    assert_error(&second, 40602, "$collStats is only valid as the first stage in a pipeline");
    let scalar = aggregate(&shared, "c", vec![doc! {"$collStats": 1}]);
    assert_error(&scalar, 40166, "$collStats must take a nested object but found: $collStats: 1");
    let unknown = aggregate(&shared, "c", vec![doc! {"$collStats": {"sizes": {}}}]);
    assert_error(&unknown, 40415, "BSON field '$collStats.sizes' is an unknown field.");
    let wrong = aggregate(&shared, "c", vec![doc! {"$collStats": {"count": 1}}]);
    assert_error(&wrong, 14, "BSON field '$collStats.count' is the wrong type 'int', expected type 'object'");
}

#[test]
fn validate_counts_records_and_keys() {
    let shared = with_documents();
    let mut reply = call(&shared, doc! {"validate": "c", "full": true, "$db": "t"});
    reply.remove("operationTime");
    let expected = doc! {
        "ns": "t.c",
        "nInvalidDocuments": 0,
        "nNonCompliantDocuments": 0,
        "nrecords": 5,
        "nIndexes": 1,
        "keysPerIndex": {"_id_": 5},
        "indexDetails": {"_id_": {"valid": true}},
        "valid": true,
        "repaired": false,
        "warnings": [],
        "errors": [],
        "extraIndexEntries": [],
        "missingIndexEntries": [],
        "corruptRecords": [],
        "ok": 1.0,
    };
    assert_eq!(reply, expected);
    let missing = call(&shared, doc! {"validate": "nope", "$db": "t"});
    assert_error(&missing, 26, "Collection 't.nope' does not exist to validate.");
}

/// An invocation of `body` registered as a running operation, as dispatch makes one.
fn registered<'a>(shared: &'a Arc<Context>, connection: &ConnectionInfo, body: &Document) -> Running<'a> {
    let name = body.keys().next().expect("a command name");
    let db = DbRef::parse(body.get_str("$db").expect("$db")).expect("db");
    shared.operations.start(current_op::describe(
        lookup(name).expect("a command"),
        body,
        std::borrow::Cow::Borrowed(body),
        &db,
        connection,
    ))
}

use crate::operations::Running;

#[test]
fn current_op_lists_running_operations_in_mongodb_7s_shape() {
    let shared = with_documents();
    let connection = ConnectionInfo::for_tests(12);
    let body = doc! {"find": "c", "filter": {"name": "x"}, "lsid": {"id": 1}, "$db": "t"};
    let running = registered(&shared, &connection, &body);
    let reply = call(&shared, doc! {"currentOp": 1, "ns": "t.c", "$db": "admin"});
    let inprog = reply.get_array("inprog").expect("inprog");
    assert_eq!(inprog.len(), 1, "{reply}");
    let op = inprog[0].as_document().expect("a document");
    for (key, value) in doc! {
        "type": "op",
        "desc": "conn12",
        "connectionId": 12,
        "client": "127.0.0.1:5000",
        "active": true,
        "threaded": true,
        "opid": running.id as i32,
        "lsid": {"id": 1},
        "op": "query",
        "ns": "t.c",
        "redacted": false,
        "command": body.clone(),
        "numYields": 0,
        "waitingForLock": false,
    } {
        assert_eq!(op.get(&key), Some(&value), "{key} in {op}");
    }
    assert!(matches!(op.get("secs_running"), Some(Bson::Int64(_))), "{op}");
    assert!(matches!(op.get("microsecs_running"), Some(Bson::Int64(_))), "{op}");
    assert!(op.get_str("currentOpTime").expect("currentOpTime").ends_with("+00:00"), "{op}");
    assert!(!op.contains_key("killPending"), "{op}");

    let all = call(&shared, doc! {"currentOp": 1, "$all": true, "$db": "admin"});
    let ops = all.get_array("inprog").expect("inprog");
    assert_eq!(ops.len(), 2, "the find and currentOp itself: {all}");
    let own = ops.iter().filter_map(Bson::as_document).find(|o| o.get_str("ns") == Ok("admin.$cmd"));
    assert_eq!(own.and_then(|o| o.get_str("op").ok()), Some("command"), "{all}");
    let none = call(&shared, doc! {"currentOp": 1, "op": "insert", "$db": "admin"});
    assert_eq!(none.get_array("inprog").map(Vec::len), Ok(0), "{none}");
    let refused = call(&shared, doc! {"currentOp": 1, "$db": "t"});
    assert_error(&refused, 13, "currentOp may only be run against the admin database.");
    drop(running);
    let after = call(&shared, doc! {"currentOp": 1, "ns": "t.c", "$db": "admin"});
    assert_eq!(after.get_array("inprog").map(Vec::len), Ok(0), "a finished operation is gone: {after}");
}

#[test]
fn large_commands_are_shown_truncated() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let docs: Vec<Bson> = (0..200).map(|i| Bson::Document(doc! {"_id": i, "é": "ü".repeat(20)})).collect();
    let body = doc! {"insert": "c", "documents": docs, "comment": "bulk", "$db": "t"};
    let running = registered(&shared, &connection, &body);
    assert_eq!(running.kind, "insert");
    let text = running.command.get_str("$truncated").expect("truncated");
    assert!(text.len() <= 1024 && text.len() > 1000, "{}", text.len());
    assert!(text.starts_with("{ \"insert\": \"c\""), "{text}");
    assert_eq!(running.command.get_str("comment"), Ok("bulk"));
}

#[test]
fn kill_op_interrupts_a_long_scan_at_its_next_check() {
    let shared = Context::for_tests();
    let docs: Vec<Bson> = (0..3000).map(|i| Bson::Document(doc! {"_id": i})).collect();
    assert_eq!(call(&shared, doc! {"insert": "big", "documents": docs, "$db": "t"}).get_i32("n"), Ok(3000));
    let connection = ConnectionInfo::for_tests(3);
    for body in [
        doc! {"count": "big", "query": {"_id": {"$gte": 0}}, "$db": "t"},
        doc! {"find": "big", "filter": {"_id": {"$lt": 0}}, "$db": "t"},
        // The filter of the killOp protocol test, with less work per document.
        doc! {"find": "big", "filter": {"$expr": {"$lt": [
            {"$reduce": {"input": {"$range": [0, 10]}, "initialValue": 0, "in": {"$add": ["$$value", 1]}}},
            0,
        ]}}, "$db": "t"},
        doc! {"collStats": "big", "$db": "t"},
    ] {
        let running = registered(&shared, &connection, &body);
        let killed = call(&shared, doc! {"killOp": 1, "op": running.id, "$db": "admin"});
        assert_eq!(killed.get_str("info"), Ok("attempting to kill op"), "{killed}");
        let report = call(&shared, doc! {"currentOp": 1, "opid": running.id as i32, "$db": "admin"});
        let op = report.get_array("inprog").ok().and_then(|ops| ops.first()).and_then(Bson::as_document);
        assert_eq!(op.and_then(|o| o.get_bool("killPending").ok()), Some(true), "{report}");
        let inv = Invocation {
            body: &body,
            db: DbRef::parse("t").expect("db"),
            connection: &connection,
            context: &shared,
            deadline: None,
            op: Some(&running),
            session: None,
            first_statement: 0,
        };
        let name = body.keys().next().expect("a name");
        let err = (lookup(name).expect("a command").run)(&inv).expect_err("killed");
        assert_eq!(err.code(), ErrorCode::Interrupted, "{body}");
        assert_eq!(err.to_reply().get_str("errmsg"), Ok("operation was interrupted"));
    }
    let unknown = call(&shared, doc! {"killOp": 1, "op": 123456, "$db": "admin"});
    assert_eq!(unknown.get_str("info"), Ok("attempting to kill op"), "MongoDB answers the same: {unknown}");
}

#[test]
fn kill_op_checks_its_arguments() {
    let shared = Context::for_tests();
    assert_error(&call(&shared, doc! {"killOp": 1, "$db": "admin"}), 4, "Missing expected field \"op\"");
    let text = call(&shared, doc! {"killOp": 1, "op": "1", "$db": "admin"});
    assert_error(&text, 14, "Expected field \"op\" to have numeric type, but found string");
    let fraction = call(&shared, doc! {"killOp": 1, "op": 1.5, "$db": "admin"});
    assert_eq!(fraction.get_i32("code"), Ok(2), "{fraction}");
    let refused = call(&shared, doc! {"killOp": 1, "op": 1, "$db": "t"});
    assert_error(&refused, 13, "killOp may only be run against the admin database.");
    assert_eq!(call(&shared, doc! {"killOp": 1, "op": 1i64, "$db": "admin"}).get_f64("ok"), Ok(1.0));
}

#[test]
fn operations_are_described_with_mongodb_kinds_and_namespaces() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(2);
    for (body, kind, ns) in [
        (doc! {"getMore": 5i64, "collection": "c", "$db": "t@b"}, "getmore", "t@b.c"),
        (doc! {"insert": "c", "documents": [], "$db": "t"}, "insert", "t.c"),
        (doc! {"update": "c", "updates": [], "$db": "t"}, "update", "t.c"),
        (doc! {"delete": "c", "deletes": [], "$db": "t"}, "remove", "t.c"),
        (doc! {"findandmodify": "c", "$db": "t"}, "command", "t.c"),
        (doc! {"aggregate": 1, "pipeline": [], "$db": "t"}, "command", "t.$cmd"),
        (doc! {"getParameter": "*", "$db": "admin"}, "command", "admin.$cmd"),
    ] {
        let running = registered(&shared, &connection, &body);
        assert_eq!((running.kind, running.ns.as_str()), (kind, ns), "{body}");
        assert_eq!(running.command, body);
    }
}
