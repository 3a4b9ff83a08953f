//! The branch workflow as a user walks it, through the Rust driver and through the
//! `branchdb branch` command line.

use std::time::Duration;

use bson::{doc, Bson, Document};
use futures_util::TryStreamExt;
use mongodb::Client;

use crate::common::{error_code, items, run, TestServer};

async fn head_lsn(client: &Client, db: &str, branch: &str) -> i64 {
    run(client, db, doc! {"branchInfo": branch}).await.get_i64("headLsn").expect("headLsn")
}

#[tokio::test]
async fn a_user_branches_writes_and_travels_in_time() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let shop = client.database("shop").collection::<Document>("items");
    shop.insert_many(vec![doc! {"_id": 1, "name": "pen", "price": 2}, doc! {"_id": 2, "name": "ink", "price": 5}])
        .await
        .expect("insert");
    let before_lsn = head_lsn(&client, "shop", "main").await;
    // A time to the second after the first writes and before the next ones.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let now = bson::DateTime::now().timestamp_millis();
    let point_time = bson::DateTime::from_millis(now - now % 1000);
    let point_text = point_time.try_to_rfc3339_string().expect("rfc3339").replace(".000", "");
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let created = run(&client, "shop", doc! {"createBranch": "feature-x"}).await;
    assert_eq!(created.get_str("name"), Ok("feature-x"));
    assert_eq!(created.get_str("parent"), Ok("main"));
    assert!(created.get_i64("baseLsn").expect("baseLsn") >= before_lsn);
    assert!(created.get_datetime("createdAt").is_ok());
    assert!(created.get_timestamp("operationTime").is_ok());

    let feature = client.database("shop@feature-x").collection::<Document>("items");
    feature.update_one(doc! {"_id": 1}, doc! {"$set": {"price": 3}}).await.expect("update");
    feature.insert_one(doc! {"_id": 3, "name": "nib", "price": 1}).await.expect("insert");
    feature.delete_one(doc! {"_id": 2}).await.expect("delete");
    shop.insert_one(doc! {"_id": 4, "name": "pad", "price": 4}).await.expect("insert on main");

    let main_now = items(&client, "shop").await;
    assert_eq!(main_now.iter().map(|d| d.get_i32("_id").expect("id")).collect::<Vec<_>>(), vec![1, 2, 4]);
    assert_eq!(main_now[0].get_i32("price"), Ok(2), "main is unchanged by the branch");
    let branch_now = items(&client, "shop@feature-x").await;
    assert_eq!(branch_now.iter().map(|d| d.get_i32("_id").expect("id")).collect::<Vec<_>>(), vec![1, 3]);
    assert_eq!(branch_now[0].get_i32("price"), Ok(3));

    // The past, by LSN and by time: only the first two documents.
    for past in [format!("shop@main~{before_lsn}"), format!("shop@main~{point_text}")] {
        let docs = items(&client, &past).await;
        assert_eq!(docs.len(), 2, "{past}: {docs:?}");
        assert_eq!(docs[0].get_i32("price"), Ok(2), "{past}");
        let code = error_code(&client, &past, doc! {"insert": "items", "documents": [{"_id": 9}]}).await;
        assert_eq!(code, 20, "{past} is read-only");
        let listed = run(&client, &past, doc! {"listCollections": 1}).await;
        let first = listed.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
        assert_eq!(first.len(), 1);
    }

    // atClusterTime through readConcern: the operationTime of the first writes.
    let resolved = run(&client, "shop", doc! {"resolvePoint": point_time}).await;
    assert_eq!(resolved.get_i64("lsn"), Ok(before_lsn));
    let at = bson::Timestamp { time: (now / 1000) as u32 - 1, increment: u32::MAX };
    let reply = run(
        &client,
        "shop",
        doc! {"find": "items", "readConcern": {"level": "snapshot", "atClusterTime": at}, "sort": {"_id": 1}},
    )
    .await;
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(batch.len(), 2, "{reply}");

    // listDatabases shows each branch.
    let dbs = run(&client, "admin", doc! {"listDatabases": 1, "nameOnly": true}).await;
    let names: Vec<&str> = dbs
        .get_array("databases")
        .expect("databases")
        .iter()
        .filter_map(|d| d.as_document()?.get_str("name").ok())
        .collect();
    assert!(names.contains(&"shop") && names.contains(&"shop@feature-x"), "{names:?}");

    // Errors of SPEC §3.
    assert_eq!(error_code(&client, "shop", doc! {"createBranch": "feature-x"}).await, 48);
    assert_eq!(error_code(&client, "shop", doc! {"createBranch": "bad name!"}).await, 73);
    assert_eq!(error_code(&client, "shop", doc! {"createBranch": "y", "from": "nope"}).await, 26);
    assert_eq!(error_code(&client, "shop", doc! {"branchInfo": "nope"}).await, 26);
    assert_eq!(error_code(&client, "shop", doc! {"dropBranch": "main"}).await, 20);

    let listed = run(&client, "shop@feature-x", doc! {"listBranches": 1}).await;
    let branches = listed.get_array("branches").expect("branches");
    assert_eq!(branches.len(), 2);
    let main = branches[0].as_document().expect("doc");
    assert_eq!(main.get_str("name"), Ok("main"));
    assert_eq!(main.get("parent"), Some(&Bson::Null));

    run(&client, "shop", doc! {"dropBranch": "feature-x"}).await;
    assert_eq!(error_code(&client, "shop@feature-x", doc! {"find": "items"}).await, 26);
    assert_eq!(items(&client, "shop").await.len(), 3);
    server.stop().await;
}

#[tokio::test]
async fn cursors_iterate_past_the_first_batch_on_a_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("big").collection::<Document>("c");
    main.insert_many((0..250).map(|i| doc! {"_id": i, "even": i % 2 == 0})).await.expect("insert");
    run(&client, "big", doc! {"createBranch": "b"}).await;
    let branch = client.database("big@b").collection::<Document>("c");
    branch.delete_many(doc! {"even": true}).await.expect("delete");
    let all: Vec<Document> =
        main.find(doc! {}).batch_size(20).await.expect("find").try_collect().await.expect("cursor");
    assert_eq!(all.len(), 250);
    let odd: Vec<Document> = branch.find(doc! {}).await.expect("find").try_collect().await.expect("cursor");
    assert_eq!(odd.len(), 125);
    assert!(odd.iter().all(|d| d.get_bool("even") == Ok(false)));
    // countDocuments runs an aggregate on the branch's view: main still has its evens.
    assert_eq!(main.count_documents(doc! {"even": true}).await.expect("count on main"), 125);
    assert_eq!(branch.count_documents(doc! {"even": true}).await.expect("count on the branch"), 0);
    server.stop().await;
}

#[test]
fn the_command_line_manages_branches_of_a_running_server() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let client = runtime.block_on(server.client());
    runtime.block_on(async {
        client.database("crm").collection::<Document>("people").insert_one(doc! {"_id": 1}).await.expect("insert");
    });
    let uri = format!("mongodb://{}", server.addr);
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_branchdb"))
            .arg("branch")
            .arg("--uri")
            .arg(&uri)
            .args(args)
            .output()
            .expect("run branchdb");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = cli(&["create", "crm", "try-1"]);
    assert!(ok, "{out}");
    assert!(out.contains("try-1") && out.contains("main"), "{out}");
    let (ok, out) = cli(&["create", "crm", "try-2", "--from", "try-1", "--at", "1"]);
    assert!(!ok, "LSN 1 is before try-1 begins: {out}");
    let (ok, out) = cli(&["list", "crm"]);
    assert!(ok && out.contains("try-1") && out.contains("main"), "{out}");
    let (ok, out) = cli(&["info", "crm", "try-1"]);
    assert!(ok && out.contains("try-1"), "{out}");
    let (ok, out) = cli(&["create", "crm", "try-1"]);
    assert!(!ok && out.contains("48"), "{out}");
    let (ok, out) = cli(&["drop", "crm", "try-1"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["info", "crm", "try-1"]);
    assert!(!ok && out.contains("26"), "{out}");
    runtime.block_on(server.stop());
}
