//! `bulkWrite` with sessions: a retry returns what the first attempt did without
//! doing it again, a `multi` operation cannot be retried, a transaction's first
//! error aborts it, and the results cursor serves `getMore` on `admin`.

use bson::{doc, spec::BinarySubtype, Binary, Bson, Document};

use crate::command::run;
use crate::context::{ConnectionInfo, Context};

fn lsid() -> Document {
    doc! {"id": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] }}
}

fn bulk(ops: Vec<Document>, extra: Document) -> Document {
    let mut body = doc! {"bulkWrite": 1, "ops": ops, "nsInfo": [{"ns": "bw.c"}], "errorsOnly": false, "$db": "admin"};
    body.extend(extra);
    body
}

fn count(shared: &std::sync::Arc<Context>, connection: &ConnectionInfo) -> i32 {
    let reply = run(&doc! {"count": "c", "$db": "bw"}, connection, shared);
    reply.get_i32("n").unwrap_or_else(|_| panic!("{reply}"))
}

#[test]
fn a_retry_returns_the_first_attempts_results_and_writes_nothing_again() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    run(&doc! {"insert": "c", "documents": [{"_id": 1, "v": 0}], "$db": "bw"}, &connection, &shared);
    let ops = vec![
        doc! {"insert": 0, "document": {"_id": 2}},
        doc! {"update": 0, "filter": {"_id": 1}, "updateMods": {"$inc": {"v": 1}}, "multi": false},
        doc! {"update": 0, "filter": {"_id": 3}, "updateMods": {"$inc": {"v": 1}}, "upsert": true, "multi": false},
        doc! {"delete": 0, "filter": {"_id": 2}, "multi": false},
    ];
    let body = bulk(ops, doc! {"lsid": lsid(), "txnNumber": 1i64});
    let first = run(&body, &connection, &shared);
    let again = run(&body, &connection, &shared);
    let batch = |reply: &Document| reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).cloned();
    assert_eq!(batch(&first), batch(&again), "{first}\n{again}");
    assert!(!first.contains_key("retriedStmtIds"), "{first}");
    assert_eq!(
        again.get_array("retriedStmtIds").ok(),
        Some(&vec![Bson::Int32(0), Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)])
    );
    for field in ["nInserted", "nMatched", "nUpserted", "nDeleted"] {
        assert_eq!(first.get_i32(field), again.get_i32(field), "{field}");
    }
    let found = run(&doc! {"find": "c", "$db": "bw"}, &connection, &shared);
    let docs = found.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(docs, &vec![Bson::Document(doc! {"_id": 1, "v": 1}), Bson::Document(doc! {"_id": 3, "v": 1})]);
}

#[test]
fn a_multi_operation_in_a_retryable_write_fails_alone() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let ops = vec![
        doc! {"insert": 0, "document": {"_id": 1}},
        doc! {"delete": 0, "filter": {}, "multi": true},
        doc! {"insert": 0, "document": {"_id": 2}},
    ];
    let reply = run(&bulk(ops, doc! {"lsid": lsid(), "txnNumber": 1i64, "ordered": false}), &connection, &shared);
    assert_eq!(reply.get_i32("nErrors"), Ok(1), "{reply}");
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    let failed = batch[1].as_document().expect("item");
    assert_eq!((failed.get_i32("idx"), failed.get_i32("code")), (Ok(1), Ok(72)), "{failed}");
    assert_eq!(count(&shared, &connection), 2);
}

#[test]
fn an_error_in_a_transaction_stops_the_command_and_aborts_the_transaction() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    run(&doc! {"insert": "c", "documents": [{"_id": 1}], "$db": "bw"}, &connection, &shared);
    let ops = vec![
        doc! {"insert": 0, "document": {"_id": 2}},
        doc! {"insert": 0, "document": {"_id": 1}},
        doc! {"insert": 0, "document": {"_id": 3}},
    ];
    let txn = doc! {"lsid": lsid(), "txnNumber": 1i64, "autocommit": false, "startTransaction": true, "ordered": false};
    let reply = run(&bulk(ops, txn), &connection, &shared);
    assert_eq!((reply.get_f64("ok"), reply.get_i32("nErrors")), (Ok(1.0), Ok(1)), "{reply}");
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(batch.len(), 2, "nothing runs after the error: {reply}");
    let commit = doc! {"commitTransaction": 1, "lsid": lsid(), "txnNumber": 1i64, "autocommit": false, "$db": "admin"};
    let committed = run(&commit, &connection, &shared);
    assert_eq!(committed.get_i32("code"), Ok(251), "{committed}");
    assert_eq!(count(&shared, &connection), 1);
}

#[test]
fn the_results_cursor_serves_get_more_on_admin() {
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let ops: Vec<Document> = (0..5).map(|i| doc! {"insert": 0, "document": {"_id": i}}).collect();
    let reply = run(&bulk(ops, doc! {"cursor": {"batchSize": 2}}), &connection, &shared);
    let cursor = reply.get_document("cursor").expect("cursor");
    let id = cursor.get_i64("id").expect("id");
    assert_ne!(id, 0, "{reply}");
    assert_eq!(cursor.get_array("firstBatch").map(Vec::len), Ok(2));
    let more = run(&doc! {"getMore": id, "collection": "$cmd.bulkWrite", "$db": "admin"}, &connection, &shared);
    let cursor = more.get_document("cursor").unwrap_or_else(|_| panic!("{more}"));
    assert_eq!(cursor.get_i64("id"), Ok(0));
    assert_eq!(cursor.get_str("ns"), Ok("admin.$cmd.bulkWrite"));
    let idx: Vec<i32> = cursor
        .get_array("nextBatch")
        .expect("batch")
        .iter()
        .filter_map(|item| item.as_document()?.get_i32("idx").ok())
        .collect();
    assert_eq!(idx, vec![2, 3, 4]);
}

#[test]
fn a_long_run_read_ahead_does_what_short_runs_read_on_demand_do() {
    // Over a thousand operations, so that point runs are read on a second thread
    // and split across records; among them failures of every kind, a statement
    // that does not parse, and an update whose filter pins no `_id`. The same
    // operations in commands of a hundred are read as the writer reaches them.
    let shared = Context::for_tests();
    let connection = ConnectionInfo::for_tests(1);
    let mut ops = Vec::new();
    for i in 0..450 {
        ops.push(doc! {"insert": 0, "document": {"_id": i, "v": 0}});
        ops.push(doc! {"update": 0, "filter": {"_id": i}, "updateMods": {"$inc": {"v": 1}}});
        match i % 50 {
            7 => ops.push(doc! {"insert": 0, "document": {"_id": i - 1}}),
            13 => ops.push(doc! {"update": 0, "filter": {"_id": i}, "updateMods": {"$inc": {"v": "x"}}}),
            21 => ops.push(doc! {"update": 0, "filter": {"_id": i}, "updateMods": {"$bad": {"v": 1}}}),
            29 => ops.push(doc! {"update": 0, "filter": {"v": 1}, "updateMods": {"$set": {"w": i}}}),
            _ => {}
        }
        if i % 3 == 0 {
            ops.push(doc! {"delete": 0, "filter": {"_id": i}});
        }
    }
    assert!(ops.len() > 1000, "{}", ops.len());
    // What each operation's result says, but for its index and message.
    let outcome = |reply: &Document| -> Vec<Document> {
        let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch"));
        let items = batch.unwrap_or_else(|_| panic!("{reply}")).iter().filter_map(Bson::as_document);
        let said = |(name, _): &(&String, &Bson)| matches!(name.as_str(), "ok" | "n" | "nModified" | "code");
        items.map(|item| item.iter().filter(said).map(|(k, v)| (k.clone(), v.clone())).collect()).collect()
    };
    let together = run(&bulk(ops.clone(), doc! {"ordered": false}), &connection, &shared);
    let mut alone = Vec::new();
    for chunk in ops.chunks(100) {
        let body = doc! {"bulkWrite": 1, "ops": chunk, "nsInfo": [{"ns": "bw.d"}], "ordered": false, "$db": "admin"};
        let body = Document::from_iter(body.into_iter().chain(doc! {"errorsOnly": false}));
        alone.extend(outcome(&run(&body, &connection, &shared)));
    }
    assert_eq!(outcome(&together), alone);
    let failed = alone.iter().filter(|item| item.get_f64("ok") == Ok(0.0)).count();
    assert!(failed >= 18, "{failed} failed");
    assert_eq!(together.get_i32("nErrors"), Ok(failed as i32), "{together}");
    let all = |collection: &str| run(&doc! {"find": collection, "batchSize": 1000, "$db": "bw"}, &connection, &shared);
    let (c, d) = (all("c"), all("d"));
    assert_eq!(
        c.get_document("cursor").and_then(|c| c.get_array("firstBatch")),
        d.get_document("cursor").and_then(|c| c.get_array("firstBatch"))
    );
}
