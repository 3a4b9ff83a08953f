//! Statistics and operations through the driver: dbStats, collStats, `$collStats`,
//! validate, and a running find seen by currentOp and stopped by killOp.

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document};
use futures_util::TryStreamExt;

use crate::common::TestServer;

#[tokio::test]
async fn statistics_commands_answer_through_the_driver() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("stats");
    let coll = db.collection::<Document>("items");
    coll.insert_many((0..100).map(|i| doc! {"_id": i, "name": format!("item {i}")})).await.expect("insert");

    let stats = db.run_command(doc! {"dbStats": 1}).await.expect("dbStats");
    assert_eq!(stats.get_i32("objects"), Ok(100), "{stats}");
    assert!(stats.get_f64("fsTotalSize").expect("fsTotalSize") > 0.0, "a real data directory: {stats}");
    let coll_stats = db.run_command(doc! {"collStats": "items"}).await.expect("collStats");
    assert_eq!(coll_stats.get_i32("count"), Ok(100), "{coll_stats}");
    let staged: Vec<Document> = coll
        .aggregate([doc! {"$collStats": {"storageStats": {}, "count": {}}}])
        .await
        .expect("$collStats")
        .try_collect()
        .await
        .expect("one document");
    assert_eq!(staged.len(), 1);
    assert_eq!(staged[0].get_i32("count"), Ok(100), "{:?}", staged[0]);
    let validated = db.run_command(doc! {"validate": "items"}).await.expect("validate");
    assert_eq!(validated.get_bool("valid"), Ok(true), "{validated}");
    server.stop().await;
}

#[tokio::test]
async fn kill_op_stops_a_find_that_current_op_shows() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("t").collection::<Document>("slow");
    coll.insert_many((0..3000).map(|i| doc! {"_id": i})).await.expect("insert");
    // About a millisecond of work per document, and no document matches.
    let slow = doc! {"$expr": {"$lt": [
        {"$reduce": {"input": {"$range": [0, 20000]}, "initialValue": 0, "in": {"$add": ["$$value", 1]}}},
        0,
    ]}};
    let find = tokio::spawn({
        let coll = coll.clone();
        async move { coll.find(slow).await?.try_collect::<Vec<Document>>().await }
    });

    let admin = client.database("admin");
    let started = Instant::now();
    let opid = loop {
        let reply = admin.run_command(doc! {"currentOp": 1, "ns": "t.slow", "op": "query"}).await.expect("currentOp");
        let found = reply.get_array("inprog").ok().and_then(|ops| ops.first()).and_then(Bson::as_document);
        if let Some(op) = found {
            assert_eq!(op.get_bool("active"), Ok(true), "{op}");
            break op.get("opid").expect("opid").clone();
        }
        assert!(started.elapsed() < Duration::from_secs(10), "the find never showed in currentOp");
        tokio::time::sleep(Duration::from_millis(5)).await;
    };
    let killed = admin.run_command(doc! {"killOp": 1, "op": opid}).await.expect("killOp");
    assert_eq!(killed.get_str("info"), Ok("attempting to kill op"), "{killed}");

    let err = find.await.expect("the find task").expect_err("the find was killed");
    match *err.kind {
        mongodb::error::ErrorKind::Command(ref e) => {
            assert_eq!(e.code, 11601, "{e:?}");
            assert_eq!(e.message, "operation was interrupted");
        }
        ref other => panic!("unexpected error {other:?}"),
    }
    server.stop().await;
}
