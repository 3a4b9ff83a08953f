//! The branch lifecycle as a pull request walks it, through the Rust driver: branch,
//! change both sides, diff, dry run, merge with a conflict under each strategy,
//! reset `main` to before the merge and back, protect, expire, the log.

use std::time::Duration;

use bson::{doc, Bson, Document};
use futures_util::TryStreamExt;
use mongodb::Client;

use crate::common::{error_code, items, run, TestServer};

/// Every document of a cursor command, read through the driver's `getMore`s.
async fn cursor(client: &Client, db: &str, command: Document) -> Vec<Document> {
    let cursor = client.database(db).run_cursor_command(command).await.expect("cursor command");
    cursor.try_collect().await.expect("batches")
}

fn ids(docs: &[Document]) -> Vec<i32> {
    docs.iter().map(|d| d.get_i32("_id").expect("_id")).collect()
}

#[tokio::test]
async fn a_pull_request_goes_from_branch_to_merge_and_back() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("shop").collection::<Document>("items");
    main.insert_many(vec![
        doc! {"_id": 1, "name": "pen", "price": 2},
        doc! {"_id": 2, "name": "ink", "price": 5},
        doc! {"_id": 3, "name": "pad", "price": 4},
    ])
    .await
    .expect("insert");
    run(&client, "shop", doc! {"createBranch": "feature"}).await;
    let feature = client.database("shop@feature").collection::<Document>("items");
    feature.update_one(doc! {"_id": 1}, doc! {"$set": {"price": 3}}).await.expect("update");
    feature.update_one(doc! {"_id": 2}, doc! {"$set": {"price": 6}}).await.expect("update");
    feature.insert_one(doc! {"_id": 4, "name": "nib", "price": 1}).await.expect("insert");
    feature.delete_one(doc! {"_id": 3}).await.expect("delete");
    // main renames the pen (no conflict) and reprices the ink (a conflict).
    main.update_one(doc! {"_id": 1}, doc! {"$set": {"name": "fountain pen"}}).await.expect("update");
    main.update_one(doc! {"_id": 2}, doc! {"$set": {"price": 7}}).await.expect("update");

    // The diff, two at a time through getMore.
    let diff = cursor(&client, "shop", doc! {"diff": "main", "with": "feature", "batchSize": 2}).await;
    let ops: Vec<(i32, &str)> =
        diff.iter().map(|d| (d.get_i32("_id").expect("_id"), d.get_str("op").expect("op"))).collect();
    assert_eq!(ops, vec![(1, "update"), (2, "update"), (3, "delete"), (4, "insert")]);
    assert_eq!(diff[0].get_document("ns").expect("ns"), &doc! {"db": "shop", "coll": "items"});
    let described = diff[0].get_document("updateDescription").expect("updateDescription");
    assert_eq!(described.get_document("updatedFields").expect("updated"), &doc! {"name": "pen", "price": 3});
    assert_eq!(diff[2].get("after"), Some(&Bson::Null));
    let only = cursor(&client, "shop", doc! {"diff": "main", "with": "feature", "collection": "other"}).await;
    assert!(only.is_empty());

    // A dry run and the default strategy write nothing and name the conflict.
    let head = run(&client, "shop", doc! {"branchInfo": "main"}).await.get_i64("headLsn").expect("head");
    for command in [doc! {"mergeBranch": "feature", "dryRun": true}, doc! {"mergeBranch": "feature"}] {
        let reply = run(&client, "shop", command).await;
        assert_eq!(reply.get_bool("merged"), Ok(false), "{reply}");
        assert_eq!(reply.get_i64("conflictCount"), Ok(1));
        let conflict = reply.get_array("conflicts").expect("conflicts")[0].as_document().expect("doc").clone();
        assert_eq!(conflict.get_i32("_id"), Ok(2));
        assert_eq!(conflict.get_array("fields").expect("fields"), &vec![Bson::String("price".into())]);
        assert_eq!(conflict.get_document("base").and_then(|b| b.get_i32("price")), Ok(5));
        assert_eq!(conflict.get_document("ours").and_then(|b| b.get_i32("price")), Ok(7));
        assert_eq!(conflict.get_document("theirs").and_then(|b| b.get_i32("price")), Ok(6));
    }
    assert_eq!(run(&client, "shop", doc! {"branchInfo": "main"}).await.get_i64("headLsn"), Ok(head));

    // ours: main keeps 7 and takes everything else.
    let reply = run(&client, "shop", doc! {"mergeBranch": "feature", "strategy": "ours"}).await;
    assert_eq!(reply.get_bool("merged"), Ok(true));
    assert_eq!((reply.get_i64("inserted"), reply.get_i64("updated"), reply.get_i64("deleted")), (Ok(1), Ok(1), Ok(1)));
    let merge_lsn = reply.get_i64("lsn").expect("lsn");
    let merged = items(&client, "shop").await;
    assert_eq!(ids(&merged), vec![1, 2, 4]);
    assert_eq!(merged[0], doc! {"_id": 1, "name": "fountain pen", "price": 3});
    assert_eq!(merged[1].get_i32("price"), Ok(7));

    // theirs: a new conflict on the same field goes to the branch.
    feature.update_one(doc! {"_id": 2}, doc! {"$set": {"price": 8}}).await.expect("update");
    main.update_one(doc! {"_id": 2}, doc! {"$set": {"price": 9}}).await.expect("update");
    let reply = run(&client, "shop", doc! {"mergeBranch": "feature", "into": "main", "strategy": "theirs"}).await;
    assert_eq!(reply.get_i64("conflictCount"), Ok(1));
    assert_eq!(items(&client, "shop").await[1].get_i32("price"), Ok(8));

    // Undo both merges: main to the state before the first, then back.
    let after_merges = run(&client, "shop", doc! {"branchInfo": "main"}).await.get_i64("headLsn").expect("head");
    let reset = run(&client, "shop", doc! {"resetBranch": "main", "to": format!("main~{}", merge_lsn - 1)}).await;
    assert!(reset.get_i64("lsn").is_ok());
    assert_eq!(ids(&items(&client, "shop").await), vec![1, 2, 3]);
    let before_reset = items(&client, &format!("shop@main~{after_merges}")).await;
    assert_eq!(ids(&before_reset), vec![1, 2, 4], "the state before the reset stays readable");
    run(&client, "shop", doc! {"resetBranch": "main", "to": format!("main~{after_merges}")}).await;
    assert_eq!(ids(&items(&client, "shop").await), vec![1, 2, 4]);

    // Protected: no reset, no merge in; read-only: no writes.
    run(&client, "shop", doc! {"updateBranch": "main", "protected": true, "description": "production"}).await;
    let info = run(&client, "shop", doc! {"branchInfo": "main"}).await;
    assert_eq!((info.get_bool("protected"), info.get_str("description")), (Ok(true), Ok("production")));
    assert_eq!(error_code(&client, "shop", doc! {"resetBranch": "main", "to": "feature"}).await, 20);
    assert_eq!(error_code(&client, "shop", doc! {"mergeBranch": "feature"}).await, 20);
    run(&client, "shop", doc! {"updateBranch": "feature", "readOnly": true}).await;
    let code = error_code(&client, "shop@feature", doc! {"insert": "items", "documents": [{"_id": 9}]}).await;
    assert_eq!(code, 20);

    // Expiry: the collector drops a branch past its time.
    run(&client, "shop", doc! {"createBranch": "ci-1234"}).await;
    let past = bson::DateTime::from_millis(bson::DateTime::now().timestamp_millis() - 1);
    run(&client, "shop", doc! {"updateBranch": "ci-1234", "expireAt": past}).await;
    let mut gone = false;
    for _ in 0..50 {
        let listed = run(&client, "shop", doc! {"listBranches": 1}).await;
        let names: Vec<&str> = listed
            .get_array("branches")
            .expect("branches")
            .iter()
            .filter_map(|b| b.as_document().and_then(|b| b.get_str("name").ok()))
            .collect();
        if !names.contains(&"ci-1234") {
            gone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(gone, "the expired branch was dropped");

    // The log: newest first, the reset and the merges named.
    let log = cursor(&client, "shop", doc! {"branchLog": "main", "batchSize": 3}).await;
    assert!(log[0].get_document("reset").is_ok(), "{:?}", log[0]);
    let merges: Vec<&Document> = log.iter().filter_map(|e| e.get_document("merge").ok()).collect();
    assert!(!merges.is_empty());
    assert!(merges.iter().all(|m| m.get_str("from") == Ok("feature")));
    let limited = cursor(&client, "shop", doc! {"branchLog": "main", "limit": 2}).await;
    assert_eq!(limited.len(), 2);

    // Errors: an unknown ref, another database.
    assert_eq!(error_code(&client, "shop", doc! {"diff": "main", "with": "nope"}).await, 26);
    assert_eq!(error_code(&client, "shop", doc! {"diff": "main", "with": "other@main"}).await, 73);
    assert_eq!(error_code(&client, "shop", doc! {"mergeBranch": "feature", "into": "other@main"}).await, 73);
    assert_eq!(error_code(&client, "shop", doc! {"mergeBranch": "nope"}).await, 26);
}

#[test]
fn the_command_line_walks_the_lifecycle_with_uri_anywhere() {
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let server = runtime.block_on(TestServer::start());
    let client = runtime.block_on(server.client());
    let shop = client.database("shop").collection::<Document>("items");
    runtime.block_on(async {
        shop.insert_many(vec![doc! {"_id": 1, "price": 2}, doc! {"_id": 2, "price": 5}]).await.expect("insert");
        run(&client, "shop", doc! {"createBranch": "feature"}).await;
        let feature = client.database("shop@feature").collection::<Document>("items");
        feature.update_one(doc! {"_id": 1}, doc! {"$set": {"price": 3}}).await.expect("update");
        feature.insert_one(doc! {"_id": 3, "price": 1}).await.expect("insert");
        shop.update_one(doc! {"_id": 1}, doc! {"$set": {"price": 4}}).await.expect("update");
    });
    let uri = format!("mongodb://{}", server.addr);
    // --uri after the subcommand's arguments.
    let cli = |args: &[&str]| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_branchdb"))
            .arg("branch")
            .args(args)
            .arg("--uri")
            .arg(&uri)
            .output()
            .expect("run branchdb");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let (ok, out) = cli(&["diff", "shop", "main", "feature"]);
    assert!(ok, "{out}");
    assert!(out.contains("~ items 1 price: 4 → 3"), "{out}");
    assert!(out.contains("+ items 3 {\"_id\":3,\"price\":1}"), "{out}");
    let (ok, out) = cli(&["diff", "shop", "main", "feature", "--json"]);
    assert!(ok && out.lines().count() == 2, "{out}");
    assert!(out.lines().all(|line| serde_json::from_str::<serde_json::Value>(line).is_ok()), "{out}");
    let (ok, out) = cli(&["merge", "shop", "feature", "--dry-run"]);
    assert!(!ok && out.contains("1 conflict") && out.contains("price"), "a dry run that would stop fails: {out}");
    let (ok, out) = cli(&["merge", "shop", "feature"]);
    assert!(!ok && out.contains("not merged"), "{out}");
    let (ok, out) = cli(&["merge", "shop", "feature", "--strategy", "theirs"]);
    assert!(ok && out.contains("merged into main"), "{out}");
    let (ok, out) = cli(&["log", "shop", "main", "--limit", "1"]);
    assert!(ok && out.contains("merge of feature"), "{out}");
    let (ok, out) = cli(&["reset", "shop", "main", "--to", "main~1"]);
    assert!(ok && out.contains("reset at LSN"), "{out}");
    let (ok, out) = cli(&["update", "shop", "main", "--protected", "--description", "prod"]);
    assert!(ok, "{out}");
    let (ok, out) = cli(&["info", "shop", "main"]);
    assert!(ok && out.contains("protected") && out.contains("\"prod\""), "{out}");
    let (ok, out) = cli(&["reset", "shop", "main", "--to", "feature"]);
    assert!(!ok && out.contains("protected") && out.contains("20"), "{out}");
    let (ok, out) = cli(&["update", "shop", "main", "--protected=false", "--expire-at", "never"]);
    assert!(ok, "{out}");
    // And --uri before the subcommand.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_branchdb"))
        .args(["branch", "--uri", &uri, "list", "shop"])
        .output()
        .expect("run branchdb");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    runtime.block_on(server.stop());
}
