//! Indexes through the driver: unique indexes refusing duplicates on each branch
//! separately, the driver's index helpers, and `explain` choosing an index.

use bson::{doc, Document};
use futures_util::TryStreamExt;
use mongodb::error::{ErrorKind, WriteFailure};
use mongodb::options::IndexOptions;
use mongodb::IndexModel;

use crate::common::TestServer;

/// The code and message of a failed write.
fn write_error(err: &mongodb::error::Error) -> (i32, String) {
    match err.kind.as_ref() {
        ErrorKind::Write(WriteFailure::WriteError(e)) => (e.code, e.message.clone()),
        ErrorKind::InsertMany(e) => {
            let first = e.write_errors.as_ref().and_then(|errors| errors.first()).expect("a write error");
            (first.code, first.message.clone())
        }
        other => panic!("not a write error: {other:?}"),
    }
}

#[tokio::test]
async fn unique_indexes_hold_on_each_branch_separately() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("shop").collection::<Document>("users");
    let unique =
        IndexModel::builder().keys(doc! {"email": 1}).options(IndexOptions::builder().unique(true).build()).build();
    let created = main.create_index(unique).await.expect("create index");
    assert_eq!(created.index_name, "email_1");
    main.insert_one(doc! {"_id": 1, "email": "ann@example.com"}).await.expect("ann");
    client.database("shop").run_command(doc! {"createBranch": "trial", "from": "main"}).await.expect("branch");
    let trial = client.database("shop@trial").collection::<Document>("users");

    // The branch inherits the index: a copy of main's value is refused there.
    let err = trial.insert_one(doc! {"_id": 2, "email": "ann@example.com"}).await.expect_err("duplicate");
    assert_eq!(
        write_error(&err),
        (
            11000,
            "E11000 duplicate key error collection: shop@trial.users index: email_1 dup key: { email: \"ann@example.com\" }"
                .to_owned()
        )
    );

    // Each branch takes a new value once; the other branch's copy does not count.
    trial.insert_one(doc! {"_id": 3, "email": "bob@example.com"}).await.expect("bob on trial");
    main.insert_one(doc! {"_id": 4, "email": "bob@example.com"}).await.expect("bob on main");
    let err = main.insert_one(doc! {"_id": 5, "email": "bob@example.com"}).await.expect_err("duplicate on main");
    assert_eq!(write_error(&err).0, 11000);
    let err = trial
        .update_one(doc! {"_id": 1}, doc! {"$set": {"email": "bob@example.com"}})
        .await
        .expect_err("duplicate by update on trial");
    assert_eq!(write_error(&err).0, 11000);

    // Renaming ann on the branch frees her address there, not on main.
    trial.update_one(doc! {"_id": 1}, doc! {"$set": {"email": "ann@trial"}}).await.expect("rename");
    trial.insert_one(doc! {"_id": 6, "email": "ann@example.com"}).await.expect("free on trial");
    let err = main.insert_one(doc! {"_id": 7, "email": "ann@example.com"}).await.expect_err("taken on main");
    assert_eq!(write_error(&err).0, 11000);

    // Within one insertMany, the second copy fails and the first stays.
    let err = main
        .insert_many(vec![doc! {"_id": 8, "email": "cy@x"}, doc! {"_id": 9, "email": "cy@x"}])
        .await
        .expect_err("duplicate in one batch");
    assert_eq!(write_error(&err).0, 11000);
    assert_eq!(main.count_documents(doc! {"email": "cy@x"}).await.expect("count"), 1);

    let names = trial.list_index_names().await.expect("list");
    assert_eq!(names, vec!["_id_".to_owned(), "email_1".to_owned()]);
    server.stop().await;
}

#[tokio::test]
async fn explain_shows_index_scans_and_collection_scans() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("plans");
    let coll = db.collection::<Document>("orders");
    let docs: Vec<Document> = (0..500).map(|i| doc! {"_id": i, "customer": i % 50, "total": i}).collect();
    coll.insert_many(docs).await.expect("insert");
    coll.create_index(IndexModel::builder().keys(doc! {"customer": 1, "total": -1}).build()).await.expect("index");

    let explain = |filter: Document, sort: Document| {
        let db = db.clone();
        async move {
            db.run_command(doc! {
                "explain": {"find": "orders", "filter": filter, "sort": sort},
                "verbosity": "executionStats",
            })
            .await
            .expect("explain")
        }
    };
    let plan = explain(doc! {"customer": 7}, doc! {"total": -1}).await;
    let winning = plan.get_document("queryPlanner").and_then(|q| q.get_document("winningPlan")).expect("plan");
    assert_eq!(winning.get_str("stage"), Ok("FETCH"), "{plan}");
    let ixscan = winning.get_document("inputStage").expect("input");
    assert_eq!(ixscan.get_str("stage"), Ok("IXSCAN"));
    assert_eq!(ixscan.get_str("indexName"), Ok("customer_1_total_-1"));
    let stats = plan.get_document("executionStats").expect("stats");
    assert_eq!(stats.get_i64("nReturned"), Ok(10));
    assert_eq!(stats.get_i64("totalDocsExamined"), Ok(10), "only the customer's orders are read");

    let plan = explain(doc! {"total": {"$gt": 490}}, doc! {}).await;
    let winning = plan.get_document("queryPlanner").and_then(|q| q.get_document("winningPlan")).expect("plan");
    assert_eq!(winning.get_str("stage"), Ok("COLLSCAN"), "no index starts with total: {plan}");
    assert_eq!(plan.get_document("executionStats").and_then(|s| s.get_i64("totalDocsExamined")), Ok(500));

    // The index answers the query: same documents as a scan, in the sort's order.
    let through_index: Vec<Document> =
        coll.find(doc! {"customer": 7}).sort(doc! {"total": -1}).await.expect("find").try_collect().await.expect("all");
    let totals: Vec<i32> = through_index.iter().filter_map(|d| d.get_i32("total").ok()).collect();
    assert_eq!(totals, (0..10).rev().map(|i| i * 50 + 7).collect::<Vec<_>>());
    server.stop().await;
}

#[tokio::test]
async fn ttl_indexes_expire_documents_in_the_background() {
    let server = TestServer::start_with(|settings| settings.ttl_monitor_sleep_secs = 1).await;
    let client = server.client().await;
    let coll = client.database("ttl").collection::<Document>("sessions");
    let ttl = IndexModel::builder()
        .keys(doc! {"seen": 1})
        .options(IndexOptions::builder().expire_after(std::time::Duration::from_secs(0)).build())
        .build();
    coll.create_index(ttl).await.expect("ttl index");
    let past = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 60_000);
    let future = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() + 3_600_000);
    coll.insert_many(vec![
        doc! {"_id": "old", "seen": past},
        doc! {"_id": "new", "seen": future},
        doc! {"_id": "text", "seen": "not a date"},
    ])
    .await
    .expect("insert");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    loop {
        let ids: Vec<Document> = coll.find(doc! {}).await.expect("find").try_collect().await.expect("all");
        let ids: Vec<&str> = ids.iter().filter_map(|d| d.get_str("_id").ok()).collect();
        if ids == ["new", "text"] {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "not expired in time: {ids:?}");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    server.stop().await;
}
