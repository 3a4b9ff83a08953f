//! Change streams through the Rust driver: `watch()` as applications call it, and
//! the commands themselves where a test needs every field (tokens, batches, waits).

use std::time::{Duration, Instant};

use bson::{doc, Bson, Document, Timestamp};
use futures_util::StreamExt;
use mongodb::change_stream::event::OperationType;
use mongodb::Client;

use crate::common::{error_code, run, TestServer};

/// A stream opened with `aggregate` and read with `getMore`s.
struct Stream {
    db: String,
    collection: Bson,
    id: i64,
    token: Document,
    ended: bool,
}

impl Stream {
    async fn open(client: &Client, db: &str, collection: Option<&str>, spec: Document) -> (Stream, Vec<Document>) {
        let target = collection.map_or(Bson::Int32(1), |c| Bson::String(c.into()));
        let reply =
            run(client, db, doc! {"aggregate": target.clone(), "pipeline": [{"$changeStream": spec}], "cursor": {}})
                .await;
        let cursor = reply.get_document("cursor").expect("cursor");
        let first = cursor.get_array("firstBatch").expect("firstBatch").iter().map(doc_of).collect();
        let collection = match collection {
            Some(c) => Bson::String(c.into()),
            None => Bson::String("$cmd.aggregate".into()),
        };
        let stream = Stream {
            db: db.into(),
            collection,
            id: cursor.get_i64("id").expect("id"),
            token: cursor.get_document("postBatchResumeToken").expect("token").clone(),
            ended: false,
        };
        (stream, first)
    }

    /// One `getMore` that waits up to `wait_ms` for events.
    async fn get_more(&mut self, client: &Client, wait_ms: i64) -> Vec<Document> {
        let command = doc! {"getMore": self.id, "collection": self.collection.clone(), "maxTimeMS": wait_ms};
        let reply = run(client, &self.db, command).await;
        let cursor = reply.get_document("cursor").expect("cursor");
        self.token = cursor.get_document("postBatchResumeToken").expect("token").clone();
        self.ended = cursor.get_i64("id") == Ok(0);
        cursor.get_array("nextBatch").expect("nextBatch").iter().map(doc_of).collect()
    }

    /// Events until `n` arrived (or ten seconds passed).
    async fn take(&mut self, client: &Client, n: usize) -> Vec<Document> {
        let mut events = Vec::new();
        let started = Instant::now();
        while events.len() < n && !self.ended && started.elapsed() < Duration::from_secs(10) {
            events.extend(self.get_more(client, 500).await);
        }
        events
    }
}

fn doc_of(value: &Bson) -> Document {
    value.as_document().expect("an event").clone()
}

fn kinds(events: &[Document]) -> Vec<&str> {
    events.iter().map(|e| e.get_str("operationType").expect("operationType")).collect()
}

fn keys(events: &[Document]) -> Vec<i32> {
    events.iter().map(|e| e.get_document("documentKey").expect("key").get_i32("_id").expect("_id")).collect()
}

#[tokio::test]
async fn watch_in_the_driver_sees_writes_as_they_commit() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let items = client.database("shop").collection::<Document>("items");
    let mut stream = items.watch().await.expect("watch");
    items.insert_one(doc! {"_id": 1, "name": "pen"}).await.expect("insert");
    items.update_one(doc! {"_id": 1}, doc! {"$set": {"price": 2}}).await.expect("update");
    items.delete_one(doc! {"_id": 1}).await.expect("delete");
    let mut seen = Vec::new();
    for _ in 0..3 {
        let event = tokio::time::timeout(Duration::from_secs(10), stream.next()).await.expect("in time");
        seen.push(event.expect("an event").expect("no error").operation_type);
    }
    assert_eq!(seen, vec![OperationType::Insert, OperationType::Update, OperationType::Delete]);
    assert!(stream.resume_token().is_some());
}

#[tokio::test]
async fn a_stream_per_branch_sees_only_its_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": 0}]}).await;
    run(&client, "shop", doc! {"createBranch": "feature"}).await;
    let (mut main, _) = Stream::open(&client, "shop", Some("items"), doc! {}).await;
    let (mut feature, _) = Stream::open(&client, "shop@feature", Some("items"), doc! {}).await;
    let (mut database, _) = Stream::open(&client, "shop", None, doc! {"showExpandedEvents": true}).await;
    run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": 1}]}).await;
    run(&client, "shop@feature", doc! {"insert": "items", "documents": [{"_id": 2}]}).await;
    run(&client, "shop@feature", doc! {"update": "items", "updates": [{"q": {"_id": 0}, "u": {"$set": {"x": 1}}}]})
        .await;
    run(&client, "shop", doc! {"createBranch": "other"}).await;
    run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": 3}]}).await;

    let on_main = main.take(&client, 2).await;
    assert_eq!((kinds(&on_main), keys(&on_main)), (vec!["insert", "insert"], vec![1, 3]));
    assert_eq!(on_main[0].get_document("ns").expect("ns"), &doc! {"db": "shop", "coll": "items"});
    let on_feature = feature.take(&client, 2).await;
    assert_eq!((kinds(&on_feature), keys(&on_feature)), (vec!["insert", "update"], vec![2, 0]));
    assert_eq!(on_feature[0].get_document("ns").expect("ns"), &doc! {"db": "shop@feature", "coll": "items"});
    // The database stream on main sees the branch forked from it, as an event of its own.
    let on_database = database.take(&client, 3).await;
    assert_eq!(kinds(&on_database), vec!["insert", "createBranch", "insert"]);
    let created = on_database[1].get_document("operationDescription").expect("description");
    assert_eq!((created.get_str("branch"), created.get_str("from")), (Ok("other"), Ok("shop")));

    // Dropping the branch ends its streams.
    run(&client, "shop", doc! {"dropBranch": "feature"}).await;
    let ended = feature.take(&client, 1).await;
    assert_eq!(kinds(&ended), vec!["invalidate"]);
    assert!(feature.ended, "the cursor is closed after the invalidate");
    // A point in the past never changes: no stream on it.
    let point = format!("shop@main~{}", 1);
    let code =
        error_code(&client, &point, doc! {"aggregate": "items", "pipeline": [{"$changeStream": {}}], "cursor": {}})
            .await;
    assert_eq!(code, 72);
}

#[tokio::test]
async fn a_reset_and_a_merge_reach_the_branch_stream_as_the_writes_they_make() {
    let server = TestServer::start().await;
    let client = server.client().await;
    run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": 1, "v": 1}, {"_id": 2, "v": 1}]}).await;
    run(&client, "shop", doc! {"createBranch": "feature"}).await;
    run(&client, "shop@feature", doc! {"update": "items", "updates": [{"q": {"_id": 1}, "u": {"$set": {"v": 2}}}]})
        .await;
    run(&client, "shop@feature", doc! {"insert": "items", "documents": [{"_id": 3}]}).await;
    let (mut main, _) = Stream::open(&client, "shop", Some("items"), doc! {}).await;
    run(&client, "shop", doc! {"mergeBranch": "feature"}).await;
    let merged = main.take(&client, 2).await;
    assert_eq!((kinds(&merged), keys(&merged)), (vec!["replace", "insert"], vec![1, 3]));

    let (mut feature, _) = Stream::open(&client, "shop@feature", Some("items"), doc! {}).await;
    run(&client, "shop@feature", doc! {"delete": "items", "deletes": [{"q": {"_id": 2}, "limit": 1}]}).await;
    run(&client, "shop", doc! {"resetBranch": "feature", "to": "main"}).await;
    let events = feature.take(&client, 2).await;
    assert_eq!(kinds(&events), vec!["delete", "insert"], "{events:?}");
    assert_eq!(keys(&events), vec![2, 2], "the reset brings _id 2 back");
}

#[tokio::test]
async fn start_at_operation_time_replays_history_in_order() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let first = run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": 0}]}).await;
    let from = first.get_timestamp("operationTime").expect("operationTime");
    let mut expected = vec![("insert", 0)];
    for i in 1..200 {
        run(&client, "shop", doc! {"insert": "items", "documents": [{"_id": i}]}).await;
        expected.push(("insert", i));
        if i % 3 == 0 {
            run(&client, "shop", doc! {"update": "items", "updates": [{"q": {"_id": i - 1}, "u": {"$set": {"n": i}}}]})
                .await;
            expected.push(("update", i - 1));
        }
        if i % 7 == 0 {
            run(&client, "shop", doc! {"delete": "items", "deletes": [{"q": {"_id": i - 2}, "limit": 1}]}).await;
            expected.push(("delete", i - 2));
        }
    }
    for (start, name) in
        [(from, "at the first write"), (Timestamp { time: from.time - 3600, increment: 0 }, "an hour back")]
    {
        let spec = doc! {"startAtOperationTime": start};
        let (mut stream, mut events) = Stream::open(&client, "shop", Some("items"), spec).await;
        events.extend(stream.take(&client, expected.len() - events.len()).await);
        let seen: Vec<(&str, i32)> = kinds(&events).into_iter().zip(keys(&events)).collect();
        assert_eq!(seen, expected, "{name}");
        let tokens: Vec<&str> =
            events.iter().map(|e| e.get_document("_id").expect("_id").get_str("_data").expect("_data")).collect();
        assert!(tokens.windows(2).all(|w| w[0] < w[1]), "tokens follow the log");
        // Resuming after any event replays exactly what follows it.
        let middle = events[expected.len() / 2].get_document("_id").expect("_id").clone();
        let (mut resumed, mut rest) = Stream::open(&client, "shop", Some("items"), doc! {"resumeAfter": middle}).await;
        let want = expected.len() - expected.len() / 2 - 1;
        rest.extend(resumed.take(&client, want - rest.len()).await);
        assert_eq!(keys(&rest), keys(&events[expected.len() / 2 + 1..]), "{name}");
    }
}

#[tokio::test]
async fn update_descriptions_reach_into_nested_fields_and_arrays() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let doc = doc! {"_id": 1, "a": {"b": 1, "c": {"d": 1}}, "tags": ["x", "y", "z"], "n": 1};
    run(&client, "shop", doc! {"insert": "items", "documents": [doc]}).await;
    let (mut stream, _) = Stream::open(&client, "shop", Some("items"), doc! {"showExpandedEvents": true}).await;
    let update = |u: Bson| doc! {"update": "items", "updates": [{"q": {"_id": 1}, "u": u}]};
    run(&client, "shop", update(Bson::Document(doc! {"$set": {"a.b": 2}, "$unset": {"a.c.d": ""}, "$inc": {"n": 1}})))
        .await;
    run(&client, "shop", update(Bson::Document(doc! {"$push": {"tags": "w"}}))).await;
    run(&client, "shop", update(Bson::Document(doc! {"$pop": {"tags": 1}}))).await;
    run(&client, "shop", update(Bson::Array(vec![Bson::Document(doc! {"$set": {"tags": ["x"]}})]))).await;
    run(&client, "shop", update(Bson::Document(doc! {"$set": {"tags.0": "q", "a.7": 1}}))).await;
    let events = stream.take(&client, 5).await;
    let described: Vec<Document> =
        events.iter().map(|e| e.get_document("updateDescription").expect("updateDescription").clone()).collect();
    assert_eq!(
        described[0],
        doc! {"updatedFields": {"a.b": 2, "n": 2}, "removedFields": ["a.c.d"], "truncatedArrays": [], "disambiguatedPaths": {}}
    );
    assert_eq!(described[1].get_document("updatedFields").expect("updated"), &doc! {"tags.3": "w"});
    assert_eq!(
        described[2].get_array("truncatedArrays").expect("truncated"),
        &vec![Bson::Document(doc! {"field": "tags", "newSize": 3})]
    );
    assert_eq!(
        described[3].get_array("truncatedArrays").expect("truncated"),
        &vec![Bson::Document(doc! {"field": "tags", "newSize": 1})]
    );
    assert_eq!(described[4].get_document("updatedFields").expect("updated"), &doc! {"tags.0": "q", "a.7": 1});
    assert_eq!(described[4].get_document("disambiguatedPaths").expect("paths"), &doc! {"a.7": ["a", "7"]});
}

#[tokio::test]
async fn a_waiting_get_more_returns_when_its_write_commits_not_before() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let (mut stream, _) = Stream::open(&client, "shop", Some("items"), doc! {}).await;
    // A write elsewhere does not end the wait.
    run(&client, "shop", doc! {"insert": "other", "documents": [{"_id": 1}]}).await;
    let started = Instant::now();
    let early = stream.get_more(&client, 300).await;
    assert!(early.is_empty(), "{early:?}");
    assert!(started.elapsed() >= Duration::from_millis(290), "waited the whole maxTimeMS");
    let writer = client.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        run(&writer, "shop", doc! {"insert": "items", "documents": [{"_id": 1}]}).await;
    });
    let started = Instant::now();
    let events = stream.get_more(&client, 5000).await;
    assert_eq!(keys(&events), vec![1]);
    assert!(started.elapsed() < Duration::from_secs(2), "returned when the write committed");
}

#[tokio::test]
async fn refusals_name_what_is_wrong() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let open = |spec: Document, rest: Vec<Document>| {
        let mut pipeline = vec![Bson::Document(doc! {"$changeStream": spec})];
        pipeline.extend(rest.into_iter().map(Bson::Document));
        doc! {"aggregate": "items", "pipeline": pipeline, "cursor": {}}
    };
    assert_eq!(error_code(&client, "shop", open(doc! {"bogus": 1}, vec![])).await, 40415);
    assert_eq!(error_code(&client, "shop", open(doc! {"fullDocument": "sometimes"}, vec![])).await, 2);
    assert_eq!(error_code(&client, "shop", open(doc! {}, vec![doc! {"$group": {"_id": 1}}])).await, 20);
    assert_eq!(error_code(&client, "shop", open(doc! {}, vec![doc! {"$nonsense": {}}])).await, 40324);
    let token = doc! {"_data": "00"};
    assert_eq!(error_code(&client, "shop", open(doc! {"resumeAfter": token}, vec![])).await, 260);
    let both = doc! {"startAtOperationTime": Timestamp { time: 1, increment: 0 }, "startAfter": {"_data": "00"}};
    assert_eq!(error_code(&client, "shop", open(both, vec![])).await, 40674);
    let cluster = doc! {"aggregate": 1, "pipeline": [{"$changeStream": {"allChangesForCluster": true}}], "cursor": {}};
    assert_eq!(error_code(&client, "shop", cluster.clone()).await, 73);
    run(&client, "admin", cluster).await;
    let not_first = doc! {"aggregate": "items", "pipeline": [{"$match": {}}, {"$changeStream": {}}], "cursor": {}};
    assert_eq!(error_code(&client, "shop", not_first).await, 40602);
}
