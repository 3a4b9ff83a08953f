//! Collection types and collations through the Rust driver: a view over a
//! `$lookup`, on a branch; a case-insensitive unique index; a tailable cursor on a
//! capped collection; a time series `$group`.

use bson::{doc, Document};
use futures_util::TryStreamExt;
use mongodb::error::ErrorKind;

use crate::common::TestServer;

/// A view whose pipeline joins another collection reads like a collection (find
/// with a filter and sort, count, aggregate), refuses writes with 166, and
/// belongs to the branch it was created on.
#[tokio::test]
async fn a_view_over_a_lookup() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("shop");
    main.collection::<Document>("orders")
        .insert_many(vec![
            doc! {"_id": 1, "item": "pen", "qty": 2},
            doc! {"_id": 2, "item": "ink", "qty": 1},
            doc! {"_id": 3, "item": "pen", "qty": 5},
        ])
        .await
        .expect("orders");
    main.collection::<Document>("items")
        .insert_many(vec![doc! {"_id": "pen", "price": 3}, doc! {"_id": "ink", "price": 10}])
        .await
        .expect("items");
    main.run_command(doc! {"createBranch": "priced"}).await.expect("branch");
    let branch = client.database("shop@priced");
    branch
        .create_collection("priced")
        .view_on("orders".to_string())
        .pipeline(vec![
            doc! {"$lookup": {"from": "items", "localField": "item", "foreignField": "_id", "as": "it"}},
            doc! {"$project": {"item": 1, "total": {"$multiply": ["$qty", {"$first": "$it.price"}]}}},
        ])
        .await
        .expect("create the view");
    let priced = branch.collection::<Document>("priced");
    let found: Vec<Document> = priced
        .find(doc! {"total": {"$gte": 6}})
        .sort(doc! {"total": -1})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("cursor");
    assert_eq!(
        found,
        vec![
            doc! {"_id": 3, "item": "pen", "total": 15},
            doc! {"_id": 2, "item": "ink", "total": 10},
            doc! {"_id": 1, "item": "pen", "total": 6}
        ]
    );
    assert_eq!(priced.count_documents(doc! {"item": "pen"}).await.expect("count"), 2);
    assert_eq!(priced.estimated_document_count().await.expect("estimated count"), 3);
    let sums: Vec<Document> = priced
        .aggregate(vec![doc! {"$group": {"_id": null, "sum": {"$sum": "$total"}}}])
        .await
        .expect("aggregate")
        .try_collect()
        .await
        .expect("cursor");
    assert_eq!(sums, vec![doc! {"_id": null, "sum": 31}]);
    let err = priced.insert_one(doc! {"_id": 9}).await.expect_err("a view takes no writes");
    assert!(matches!(&*err.kind, ErrorKind::Command(e) if e.code == 166), "{err}");
    let names = main.list_collection_names().await.expect("main's collections");
    assert!(!names.contains(&"priced".to_string()), "the view is the branch's: {names:?}");
    server.stop().await;
}

/// A unique index with a strength-2 collation refuses a name that differs only in
/// case, and queries with that collation find names whatever their case.
#[tokio::test]
async fn a_case_insensitive_unique_index() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let users = client.database("app").collection::<Document>("users");
    let case_insensitive = mongodb::options::Collation::builder()
        .locale("en")
        .strength(mongodb::options::CollationStrength::Secondary)
        .build();
    let index = mongodb::IndexModel::builder()
        .keys(doc! {"email": 1})
        .options(mongodb::options::IndexOptions::builder().unique(true).collation(case_insensitive.clone()).build())
        .build();
    users.create_index(index).await.expect("create the index");
    users.insert_one(doc! {"_id": 1, "email": "Ada@Example.com"}).await.expect("first");
    let err = users.insert_one(doc! {"_id": 2, "email": "ada@example.COM"}).await.expect_err("same but for case");
    let ErrorKind::Write(mongodb::error::WriteFailure::WriteError(write)) = &*err.kind else { panic!("{err}") };
    assert_eq!(write.code, 11000, "{err}");
    users.insert_one(doc! {"_id": 3, "email": "grace@example.com"}).await.expect("another");
    let found = users
        .find_one(doc! {"email": "ADA@EXAMPLE.COM"})
        .collation(case_insensitive.clone())
        .await
        .expect("find")
        .expect("found whatever the case");
    assert_eq!(found.get_i32("_id"), Ok(1));
    assert!(users.find_one(doc! {"email": "ADA@EXAMPLE.COM"}).await.expect("find").is_none(), "by bytes: no match");
    let listed: Vec<mongodb::IndexModel> =
        users.list_indexes().await.expect("list").try_collect().await.expect("cursor");
    let collation = listed[1].options.as_ref().and_then(|o| o.collation.clone()).expect("the index's collation");
    assert_eq!(collation.locale, "en");
    assert!(matches!(collation.strength, Some(mongodb::options::CollationStrength::Secondary)), "{collation:?}");
    server.stop().await;
}

/// A tailable awaitData cursor on a capped collection reads the documents in the
/// order they were inserted, waits for new ones (each `getMore` returns as soon as
/// one is inserted, not at the end of its wait), sees only its own branch's, and
/// dies with 136 once the collection has deleted the last document it read to make
/// room; the collection keeps its newest `max` documents.
#[tokio::test]
async fn a_tailable_cursor_on_a_capped_collection() {
    use mongodb::options::CursorType;
    use std::time::{Duration, Instant};

    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("logs");
    main.run_command(doc! {"create": "events", "capped": true, "size": 100_000, "max": 5})
        .await
        .expect("a capped collection");
    let events = main.collection::<Document>("events");
    // `_id`s against the insertion order: the order read is the insertion order.
    for id in [30, 10, 20] {
        events.insert_one(doc! {"_id": id}).await.expect("insert");
    }
    main.run_command(doc! {"createBranch": "other"}).await.expect("branch");
    let mut tail = events
        .find(doc! {})
        .cursor_type(CursorType::TailableAwait)
        .max_await_time(Duration::from_secs(5))
        .await
        .expect("tailable cursor");
    let mut read = Vec::new();
    for _ in 0..3 {
        let doc = tail.try_next().await.expect("next").expect("a document");
        read.push(doc.get_i32("_id").expect("_id"));
    }
    assert_eq!(read, [30, 10, 20], "insertion order");

    // A write on the other branch is not this cursor's; one on main is, at once.
    let writer = {
        let client = client.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            let other = client.database("logs@other").collection::<Document>("events");
            other.insert_one(doc! {"_id": 99}).await.expect("insert on the branch");
            tokio::time::sleep(Duration::from_millis(300)).await;
            let events = client.database("logs").collection::<Document>("events");
            events.insert_one(doc! {"_id": 5}).await.expect("insert on main");
            Instant::now()
        })
    };
    let doc = tokio::time::timeout(Duration::from_secs(10), tail.try_next())
        .await
        .expect("the insert wakes the cursor")
        .expect("next")
        .expect("a document");
    let inserted_at = writer.await.expect("writer");
    assert_eq!(doc.get_i32("_id"), Ok(5), "main's insert, not the branch's");
    assert!(inserted_at.elapsed() < Duration::from_secs(2), "the wait ended with the insert");

    // Ten more: the collection keeps its five newest, and the cursor's place is gone.
    let more: Vec<Document> = (100..110).map(|id| doc! {"_id": id}).collect();
    events.insert_many(more).await.expect("insert many");
    let kept: Vec<i32> = events
        .find(doc! {})
        .await
        .expect("find")
        .try_collect::<Vec<Document>>()
        .await
        .expect("cursor")
        .iter()
        .map(|d| d.get_i32("_id").expect("_id"))
        .collect();
    assert_eq!(kept, [105, 106, 107, 108, 109], "the newest five, oldest first");
    let error = tail.try_next().await.expect_err("the cursor lost its place");
    match *error.kind {
        ErrorKind::Command(ref e) => assert_eq!(e.code, 136, "{e:?}"),
        ref other => panic!("{other:?}"),
    }
    // The branch still has what it had, and its own insert.
    let branch = client.database("logs@other").collection::<Document>("events");
    assert_eq!(branch.count_documents(doc! {}).await.expect("count"), 4);
    server.stop().await;
}

/// A time series collection made on a branch: the options it lists, the index on
/// its meta and time fields, a `$group` by sensor over a time range, and the
/// refusal of a measurement without its date; main has no such collection.
#[tokio::test]
async fn a_time_series_group() {
    use bson::DateTime;

    let server = TestServer::start().await;
    let client = server.client().await;
    client.database("iot").run_command(doc! {"create": "seed"}).await.expect("main exists");
    client.database("iot").run_command(doc! {"createBranch": "sensors"}).await.expect("branch");
    let branch = client.database("iot@sensors");
    branch
        .run_command(doc! {
            "create": "weather",
            "timeseries": {"timeField": "ts", "metaField": "sensor", "granularity": "minutes"},
            "expireAfterSeconds": 86_400 * 3650,
        })
        .await
        .expect("a time series collection");
    let weather = branch.collection::<Document>("weather");
    let start = DateTime::parse_rfc3339_str("2026-12-01T00:00:00Z").expect("date").timestamp_millis();
    let minute = 60_000;
    let readings: Vec<Document> = (0..60)
        .map(|i: i64| {
            doc! {
                "sensor": {"id": i % 3, "kind": "temp"},
                "ts": DateTime::from_millis(start + i * minute),
                "temp": 10.0 + (i % 3) as f64 + (i as f64) / 100.0,
            }
        })
        .collect();
    weather.insert_many(readings).await.expect("measurements");

    let pipeline = vec![
        doc! {"$match": {"ts": {"$gte": DateTime::from_millis(start), "$lt": DateTime::from_millis(start + 30 * minute)}}},
        doc! {"$group": {"_id": "$sensor.id", "n": {"$sum": 1}, "avg": {"$avg": "$temp"}, "last": {"$max": "$ts"}}},
        doc! {"$sort": {"_id": 1}},
    ];
    let groups: Vec<Document> =
        weather.aggregate(pipeline).await.expect("aggregate").try_collect().await.expect("cursor");
    assert_eq!(groups.len(), 3, "{groups:?}");
    for (sensor, group) in groups.iter().enumerate() {
        assert_eq!(group.get_i64("_id").or_else(|_| group.get_i32("_id").map(i64::from)), Ok(sensor as i64));
        assert_eq!(group.get_i32("n"), Ok(10), "{group:?}");
        // Readings i = sensor, sensor + 3, ..., sensor + 27: temp 10 + sensor + i / 100.
        let expected = 10.0 + sensor as f64 + (sensor as f64 + 13.5) / 100.0;
        let avg = group.get_f64("avg").expect("avg");
        assert!((avg - expected).abs() < 1e-9, "sensor {sensor}: {avg} vs {expected}");
        let last = group.get_datetime("last").expect("last").timestamp_millis();
        assert_eq!(last, start + (sensor as i64 + 27) * minute);
    }

    let listed =
        branch.run_command(doc! {"listCollections": 1, "filter": {"name": "weather"}}).await.expect("listCollections");
    let info = listed.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch")[0]
        .as_document()
        .expect("entry")
        .clone();
    assert_eq!(info.get_str("type"), Ok("timeseries"), "{info}");
    let options = info.get_document("options").expect("options");
    assert_eq!(
        options.get_document("timeseries").expect("timeseries"),
        &doc! {"timeField": "ts", "metaField": "sensor", "granularity": "minutes", "bucketMaxSpanSeconds": 86_400},
    );
    let indexes: Vec<String> = weather.list_index_names().await.expect("indexes");
    assert_eq!(indexes, ["sensor_1_ts_1"], "no _id index, as in MongoDB");

    let error = weather.insert_one(doc! {"sensor": {"id": 1}, "temp": 3.0}).await.expect_err("no date");
    let ErrorKind::Write(mongodb::error::WriteFailure::WriteError(write)) = &*error.kind else { panic!("{error}") };
    assert_eq!(write.code, 2, "{error}");
    assert!(write.message.contains("'ts' must be present"), "{error}");

    let on_main = client.database("iot").list_collection_names().await.expect("main");
    assert!(!on_main.contains(&"weather".to_string()), "the branch's own: {on_main:?}");
    server.stop().await;
}
