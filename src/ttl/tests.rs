//! The expirer's passes, run with a chosen clock on an in-memory server, and its
//! parameters and counters through the commands.

use std::sync::Arc;
use std::time::{Duration, Instant};

use bson::{doc, Bson, DateTime, Document};

use super::*;
use crate::context::{ConnectionInfo, Context};

/// The clock of the passes: 2024-01-01T00:00:00Z.
const NOW: i64 = 1_704_067_200_000;

fn now() -> DateTime {
    DateTime::from_millis(NOW)
}

/// The date `secs` seconds from [`NOW`].
fn at(secs: i64) -> Bson {
    Bson::DateTime(DateTime::from_millis(NOW + secs * 1000))
}

fn call(shared: &Arc<Context>, body: Document) -> Document {
    crate::command::run(&body, &ConnectionInfo::for_tests(1), shared)
}

fn ok(shared: &Arc<Context>, body: Document) -> Document {
    let reply = call(shared, body.clone());
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{body} -> {reply}");
    reply
}

fn code(reply: &Document) -> i32 {
    reply.get_i32("code").unwrap_or_else(|_| panic!("not an error: {reply}"))
}

/// Collection `c` of `db` with the index `spec` and the documents `docs`.
fn setup(shared: &Arc<Context>, db: &str, spec: Document, docs: Vec<Document>) {
    ok(shared, doc! {"createIndexes": "c", "indexes": [spec], "$db": db});
    if !docs.is_empty() {
        ok(shared, doc! {"insert": "c", "documents": docs, "$db": db});
    }
}

/// The `_id`s of the documents of `c` in `db`, in order.
fn ids(shared: &Arc<Context>, db: &str) -> Vec<i32> {
    let reply = ok(shared, doc! {"find": "c", "sort": {"_id": 1}, "batchSize": 10_000, "$db": db});
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    batch.iter().map(|d| d.as_document().and_then(|d| d.get_i32("_id").ok()).expect("an int _id")).collect()
}

fn ttl_index(key: Document, expire_after_seconds: i32) -> Document {
    doc! {"key": key, "name": "ttl", "expireAfterSeconds": expire_after_seconds}
}

#[test]
fn expired_dates_go_fresh_dates_and_other_values_stay() {
    let shared = Context::for_tests();
    let docs = vec![
        doc! {"_id": 1, "at": at(-7200)},
        // Exactly `now - expireAfterSeconds`: expired (MongoDB's monitor deletes `$lte`).
        doc! {"_id": 2, "at": at(-3600)},
        doc! {"_id": 3, "at": at(-3599)},
        doc! {"_id": 4, "at": at(3600)},
        doc! {"_id": 5, "at": "2000-01-01T00:00:00Z"},
        doc! {"_id": 6, "at": 0_i64},
        doc! {"_id": 7, "at": Bson::Timestamp(bson::Timestamp { time: 1, increment: 1 })},
        doc! {"_id": 8, "at": Bson::Null},
        doc! {"_id": 9},
        doc! {"_id": 10, "at": {"date": at(-7200)}},
        // Before 1970, and the earliest date there is.
        doc! {"_id": 11, "at": Bson::DateTime(DateTime::from_millis(-5_000))},
        doc! {"_id": 12, "at": Bson::DateTime(DateTime::MIN)},
    ];
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 3600), docs);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 4);
    assert_eq!(ids(&shared, "db"), vec![3, 4, 5, 6, 7, 8, 9, 10]);
    // A second pass finds nothing more.
    assert_eq!(shared.ttl.pass(&shared.store, now()), 0);
    let status = ok(&shared, doc! {"serverStatus": 1, "$db": "admin"});
    let ttl = status.get_document("metrics").and_then(|m| m.get_document("ttl")).expect("metrics.ttl");
    assert_eq!(ttl, &doc! {"deletedDocuments": 4_i64, "passes": 2_i64});
}

#[test]
fn arrays_expire_by_their_earliest_date() {
    let shared = Context::for_tests();
    let docs = vec![
        doc! {"_id": 1, "at": [at(3600), at(-7200)]},
        doc! {"_id": 2, "at": [at(-60), at(3600)]},
        doc! {"_id": 3, "at": ["old", at(-7200), 5]},
        doc! {"_id": 4, "at": ["old", 5]},
        doc! {"_id": 5, "at": []},
        doc! {"_id": 6, "at": [at(-7200), at(-9000), at(-3601)]},
    ];
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 3600), docs);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 3);
    assert_eq!(ids(&shared, "db"), vec![2, 4, 5]);
}

#[test]
fn dotted_paths_reach_into_arrays_of_documents() {
    let shared = Context::for_tests();
    let docs = vec![
        doc! {"_id": 1, "e": [{"d": at(60)}, {"d": at(-120)}]},
        doc! {"_id": 2, "e": [{"d": at(60)}, {"x": at(-120)}]},
        doc! {"_id": 3, "e": {"d": at(-1)}},
    ];
    setup(&shared, "db", ttl_index(doc! {"e.d": 1}, 0), docs);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 2);
    assert_eq!(ids(&shared, "db"), vec![2]);
}

#[test]
fn a_descending_ttl_index_expires_the_same_documents() {
    let shared = Context::for_tests();
    let docs = vec![
        doc! {"_id": 1, "at": at(-7200)},
        doc! {"_id": 2, "at": at(-3600)},
        doc! {"_id": 3, "at": at(-3599)},
        doc! {"_id": 4, "at": at(3600)},
        doc! {"_id": 5, "at": "old"},
        doc! {"_id": 6, "at": Bson::DateTime(DateTime::MIN)},
        doc! {"_id": 7, "at": Bson::DateTime(DateTime::MAX)},
        doc! {"_id": 8, "at": [at(3600), at(-7200)]},
        doc! {"_id": 9, "at": Bson::MaxKey},
    ];
    setup(&shared, "db", ttl_index(doc! {"at": -1}, 3600), docs);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 4);
    assert_eq!(ids(&shared, "db"), vec![3, 4, 5, 7, 9]);
}

#[test]
fn a_partial_ttl_index_only_expires_the_documents_it_holds() {
    let shared = Context::for_tests();
    let spec = doc! {
        "key": {"at": 1}, "name": "ttl", "expireAfterSeconds": 0,
        "partialFilterExpression": {"kind": "session"},
    };
    let docs = vec![
        doc! {"_id": 1, "kind": "session", "at": at(-10)},
        doc! {"_id": 2, "kind": "log", "at": at(-10)},
        doc! {"_id": 3, "kind": "session", "at": at(10)},
        doc! {"_id": 4, "at": at(-10)},
    ];
    setup(&shared, "db", spec, docs);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 1);
    assert_eq!(ids(&shared, "db"), vec![2, 3, 4]);
}

#[test]
fn collections_without_a_ttl_index_are_left_alone() {
    let shared = Context::for_tests();
    setup(&shared, "db", doc! {"key": {"at": 1}, "name": "at_1"}, vec![doc! {"_id": 1, "at": at(-7200)}]);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 0);
    assert_eq!(ids(&shared, "db"), vec![1]);
}

#[test]
fn each_branch_expires_its_own_documents() {
    let shared = Context::for_tests();
    let docs = vec![doc! {"_id": 1, "at": at(-7200)}, doc! {"_id": 2, "at": at(-7200)}, doc! {"_id": 3, "at": at(60)}];
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 3600), docs);
    ok(&shared, doc! {"createBranch": "dev", "$db": "db"});
    // On dev, document 1 was touched: its date is fresh there, still old on main.
    ok(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"at": at(0)}}}], "$db": "db@dev"});
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 4, "at": at(-7200)}], "$db": "db@dev"});
    // Another database, with its own TTL index.
    setup(&shared, "other", ttl_index(doc! {"at": 1}, 60), vec![doc! {"_id": 1, "at": at(-61)}]);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 5);
    assert_eq!(ids(&shared, "db"), vec![3]);
    assert_eq!(ids(&shared, "db@dev"), vec![1, 3]);
    assert_eq!(ids(&shared, "other"), Vec::<i32>::new());
}

#[test]
fn deletions_are_logged_records_that_past_points_do_not_see() {
    let shared = Context::for_tests();
    let docs: Vec<Document> = (0..2500).map(|i| doc! {"_id": i, "at": at(-7200 - i64::from(i))}).collect();
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 3600), docs);
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 5000, "at": at(0)}], "$db": "db"});
    let before = shared.store.published().lsn;
    assert_eq!(shared.ttl.pass(&shared.store, now()), 2500);
    assert_eq!(ids(&shared, "db"), vec![5000]);
    // 1000 deletions per record.
    let records = shared.wal.read(before.next(), None).expect("read the log").count();
    assert_eq!(records, 3);
    // The past is read-only and keeps what it had.
    let past = format!("db@main~{}", before.0);
    assert_eq!(ids(&shared, &past).len(), 2501);
}

#[test]
fn documents_are_checked_again_before_they_are_deleted() {
    let shared = Context::for_tests();
    let docs =
        vec![doc! {"_id": 1, "at": at(-7200)}, doc! {"_id": 2, "at": at(-7200)}, doc! {"_id": 3, "at": at(-7200)}];
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 3600), docs);
    let target = DbRef { db: "db".into(), branch: "main".into(), point: None };
    let view = shared.store.view(&target, None).expect("view");
    let collection = view.collection("c").expect("catalog").expect("c");
    let index = collection.index("ttl").expect("the TTL index").clone();
    let threshold = threshold(&index, now()).expect("a TTL index");
    let found = expired_ids(&shared.store, &target, &collection, &index, threshold).expect("scan");
    assert_eq!(found, vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)]);
    // Since the scan, 1 was refreshed and 2 deleted.
    ok(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"at": at(0)}}}], "$db": "db"});
    ok(&shared, doc! {"delete": "c", "deletes": [{"q": {"_id": 2}, "limit": 1}], "$db": "db"});
    let deleted = shared
        .ttl
        .delete_expiring(&shared.store, &target, &collection, &found, index_expires(index.id, now()))
        .expect("delete");
    assert_eq!(deleted, 1);
    assert_eq!(ids(&shared, "db"), vec![1]);
    // Once the index is dropped, nothing is deleted.
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 4, "at": at(-7200)}], "$db": "db"});
    ok(&shared, doc! {"dropIndexes": "c", "index": "ttl", "$db": "db"});
    let four = [Bson::Int32(4)];
    assert_eq!(
        shared
            .ttl
            .delete_expiring(&shared.store, &target, &collection, &four, index_expires(index.id, now()))
            .expect("delete"),
        0
    );
    assert_eq!(shared.ttl.pass(&shared.store, now()), 0);
    assert_eq!(ids(&shared, "db"), vec![1, 4]);
}

#[test]
fn a_dropped_branch_is_skipped() {
    let shared = Context::for_tests();
    setup(&shared, "db", ttl_index(doc! {"at": 1}, 0), vec![doc! {"_id": 1, "at": at(-1)}]);
    ok(&shared, doc! {"createBranch": "gone", "$db": "db"});
    let gone = shared.store.branch("db", "gone").expect("branch");
    ok(&shared, doc! {"dropBranch": "gone", "$db": "db"});
    // As if the branch had been listed just before it was dropped.
    assert_eq!(shared.ttl.expire_branch(&shared.store, &gone, now()), 0);
    assert_eq!(shared.ttl.pass(&shared.store, now()), 1);
}

#[test]
fn the_thread_runs_passes_at_the_interval_and_stops_promptly() {
    let shared = Context::for_tests();
    let monitor = Arc::new(Monitor::new(3600));
    let thread = monitor.start(shared.store.clone()).expect("start");
    // A shorter interval applies to the wait in progress.
    monitor.set_sleep_secs(1);
    let started = Instant::now();
    while monitor.passes() == 0 && started.elapsed() < Duration::from_secs(10) {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(monitor.passes() >= 1);
    monitor.set_sleep_secs(3600);
    let stopping = Instant::now();
    monitor.stop();
    thread.join().expect("the thread ends");
    assert!(stopping.elapsed() < Duration::from_secs(5));
}

#[test]
fn ttl_parameters_are_read_and_set_at_runtime() {
    let shared = Context::for_tests();
    let get = |name: &str| {
        let reply = ok(&shared, doc! {"getParameter": 1, name: 1, "$db": "admin"});
        reply.get(name).cloned().expect("the parameter")
    };
    assert_eq!(get("ttlMonitorSleepSecs"), Bson::Int32(60));
    assert_eq!(get("ttlMonitorEnabled"), Bson::Boolean(true));
    let reply = ok(&shared, doc! {"setParameter": 1, "ttlMonitorSleepSecs": 5, "$db": "admin"});
    assert_eq!(reply.get("was"), Some(&Bson::Int32(60)));
    assert_eq!(get("ttlMonitorSleepSecs"), Bson::Int32(5));
    assert_eq!(shared.ttl.sleep_secs(), 5);
    let reply = ok(&shared, doc! {"setParameter": 1, "ttlMonitorEnabled": false, "$db": "admin"});
    assert_eq!(reply.get("was"), Some(&Bson::Boolean(true)));
    assert!(!shared.ttl.enabled());
    let set = |body: Document| code(&call(&shared, body));
    assert_eq!(set(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 0, "$db": "admin"}), 2);
    assert_eq!(set(doc! {"setParameter": 1, "ttlMonitorSleepSecs": "5", "$db": "admin"}), 14);
    assert_eq!(set(doc! {"setParameter": 1, "nope": 1, "$db": "admin"}), 72);
    assert_eq!(set(doc! {"setParameter": 1, "$db": "admin"}), 72);
    assert_eq!(set(doc! {"setParameter": 1, "enableTestCommands": true, "$db": "admin"}), 20);
    assert_eq!(set(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 5, "$db": "db"}), 13);
    assert_eq!(shared.ttl.sleep_secs(), 5);
}

#[test]
fn a_clustered_collection_expires_documents_by_their_id_date() {
    let shared = Context::for_tests();
    ok(
        &shared,
        doc! {"create": "c", "clusteredIndex": {"key": {"_id": 1}, "unique": true}, "expireAfterSeconds": 60, "$db": "k"},
    );
    let docs = vec![
        doc! {"_id": 1},
        doc! {"_id": "text"},
        doc! {"_id": at(-3600)},
        doc! {"_id": at(-60)},
        doc! {"_id": at(-59)},
        doc! {"_id": Bson::DateTime(DateTime::MIN)},
        doc! {"_id": bson::Timestamp { time: 1, increment: 1 }},
    ];
    ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "k"});
    assert_eq!(shared.ttl.pass(&shared.store, now()), 3);
    let reply = ok(&shared, doc! {"find": "c", "$db": "k"});
    let left = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch").clone();
    let ids: Vec<Bson> = left.iter().filter_map(|d| d.as_document()?.get("_id").cloned()).collect();
    assert_eq!(
        ids,
        vec![
            Bson::Int32(1),
            Bson::String("text".into()),
            at(-59),
            Bson::Timestamp(bson::Timestamp { time: 1, increment: 1 })
        ]
    );
}
