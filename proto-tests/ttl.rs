//! TTL indexes through the Rust driver: the server's expirer deletes the expired
//! documents on its own, on every branch.

use std::time::{Duration, Instant};

use bson::{doc, DateTime, Document};
use futures_util::TryStreamExt;
use mongodb::options::IndexOptions;
use mongodb::{Client, IndexModel};

use crate::common::TestServer;

/// The `_id`s of collection `sessions` of `db`, in order.
async fn ids(client: &Client, db: &str) -> Vec<i32> {
    let coll = client.database(db).collection::<Document>("sessions");
    let docs: Vec<Document> =
        coll.find(doc! {}).sort(doc! {"_id": 1}).await.expect("find").try_collect().await.expect("cursor");
    docs.iter().map(|d| d.get_i32("_id").expect("an int _id")).collect()
}

/// Polls until `db` holds exactly `expected`, for up to ten seconds.
async fn wait_for(client: &Client, db: &str, expected: &[i32]) {
    let started = Instant::now();
    loop {
        let now = ids(client, db).await;
        if now == expected {
            return;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{db}: still {now:?}, expected {expected:?}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn expired_documents_are_deleted_in_the_background_on_every_branch() {
    let server = TestServer::start_with(|settings| settings.ttl_monitor_sleep_secs = 1).await;
    let client = server.client().await;
    let sessions = client.database("app").collection::<Document>("sessions");
    let ttl = IndexOptions::builder().expire_after(Duration::from_secs(0)).build();
    sessions.create_index(IndexModel::builder().keys(doc! {"at": 1}).options(ttl).build()).await.expect("index");
    client.database("app").run_command(doc! {"createBranch": "dev"}).await.expect("createBranch");

    let hour = 3_600_000;
    let old = DateTime::from_millis(DateTime::now().timestamp_millis() - hour);
    let future = DateTime::from_millis(DateTime::now().timestamp_millis() + hour);
    sessions.insert_many(vec![doc! {"_id": 1, "at": old}, doc! {"_id": 2, "at": future}]).await.expect("insert");
    let dev = client.database("app@dev").collection::<Document>("sessions");
    dev.insert_many(vec![doc! {"_id": 3, "at": old}, doc! {"_id": 4, "at": future}]).await.expect("insert on dev");

    // A read-only branch keeps what expires on it (the expirer writes through the
    // same refusal as everyone; it skips such branches rather than fail on them).
    client.database("app").run_command(doc! {"createBranch": "frozen"}).await.expect("createBranch");
    let soon = DateTime::from_millis(DateTime::now().timestamp_millis() + 1500);
    let frozen = client.database("app@frozen").collection::<Document>("sessions");
    frozen.insert_one(doc! {"_id": 5, "at": soon}).await.expect("insert on frozen");
    client.database("app").run_command(doc! {"updateBranch": "frozen", "readOnly": true}).await.expect("readOnly");

    wait_for(&client, "app", &[2]).await;
    wait_for(&client, "app@dev", &[4]).await;
    tokio::time::sleep(Duration::from_millis(3000)).await;
    assert!(ids(&client, "app@frozen").await.contains(&5), "the read-only branch kept its document");

    let status = client.database("admin").run_command(doc! {"serverStatus": 1}).await.expect("serverStatus");
    let metrics = status.get_document("metrics").and_then(|m| m.get_document("ttl")).expect("metrics.ttl");
    assert!(metrics.get_i64("passes").expect("passes") >= 1);
    assert_eq!(metrics.get_i64("deletedDocuments"), Ok(2));
    let admin = client.database("admin");
    let got = admin.run_command(doc! {"getParameter": 1, "ttlMonitorSleepSecs": 1}).await.expect("getParameter");
    assert_eq!(got.get_i32("ttlMonitorSleepSecs"), Ok(1));
    let set = admin.run_command(doc! {"setParameter": 1, "ttlMonitorSleepSecs": 30}).await.expect("setParameter");
    assert_eq!(set.get_i32("was"), Ok(1));
    server.stop().await;
}
