//! Transactions through the Rust driver: a commit shows all its writes at once (on
//! several collections, a branch and another database), an abort none, readers
//! outside see nothing before the commit; of two transactions writing the same
//! document the second to write gets a labelled write conflict, and a commit that
//! finds the document changed since gets one too. A transaction larger than a log
//! record commits whole.

use bson::{doc, Document};
use mongodb::error::{ErrorKind, TRANSIENT_TRANSACTION_ERROR};

use crate::common::TestServer;

#[tokio::test]
async fn a_commit_shows_every_write_at_once_and_an_abort_none() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("bank");
    main.collection::<Document>("a").insert_one(doc! {"_id": 0, "v": 0}).await.expect("seed");
    main.run_command(doc! {"createBranch": "side"}).await.expect("branch");
    let side = client.database("bank@side");
    let other = client.database("ledger");
    let mut session = client.start_session().await.expect("session");
    session.start_transaction().await.expect("start");
    main.collection::<Document>("a")
        .update_one(doc! {"_id": 0}, doc! {"$inc": {"v": 1}})
        .session(&mut session)
        .await
        .expect("update");
    main.collection::<Document>("b").insert_one(doc! {"_id": 1}).session(&mut session).await.expect("insert");
    side.collection::<Document>("a").insert_one(doc! {"_id": 2}).session(&mut session).await.expect("branch");
    other.collection::<Document>("l").insert_one(doc! {"_id": 3}).session(&mut session).await.expect("other db");
    // Inside, the transaction reads its own writes; outside, nothing has changed.
    let inside = main.collection::<Document>("a").find_one(doc! {}).session(&mut session).await.expect("read");
    assert_eq!(inside.and_then(|d| d.get_i32("v").ok()), Some(1));
    let outside = main.collection::<Document>("a").find_one(doc! {}).await.expect("read");
    assert_eq!(outside.and_then(|d| d.get_i32("v").ok()), Some(0));
    assert_eq!(side.collection::<Document>("a").count_documents(doc! {}).await.expect("count"), 1);
    session.commit_transaction().await.expect("commit");
    let after = main.collection::<Document>("a").find_one(doc! {}).await.expect("read");
    assert_eq!(after.and_then(|d| d.get_i32("v").ok()), Some(1));
    assert_eq!(main.collection::<Document>("b").count_documents(doc! {}).await.expect("count"), 1);
    assert_eq!(side.collection::<Document>("a").count_documents(doc! {}).await.expect("count"), 2);
    assert_eq!(other.collection::<Document>("l").count_documents(doc! {}).await.expect("count"), 1);

    session.start_transaction().await.expect("start");
    main.collection::<Document>("b").insert_one(doc! {"_id": 9}).session(&mut session).await.expect("insert");
    session.abort_transaction().await.expect("abort");
    assert_eq!(main.collection::<Document>("b").count_documents(doc! {}).await.expect("count"), 1);
    server.stop().await;
}

#[tokio::test]
async fn the_first_writer_wins_and_a_commit_finds_later_changes() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("t").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "n": 0}).await.expect("seed");
    let (mut first, mut second) =
        (client.start_session().await.expect("s1"), client.start_session().await.expect("s2"));
    first.start_transaction().await.expect("start");
    second.start_transaction().await.expect("start");
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}).session(&mut first).await.expect("update");
    // The second transaction to write the document fails at once, and is aborted.
    let err =
        coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 1}}).session(&mut second).await.expect_err("conflict");
    assert!(matches!(&*err.kind, ErrorKind::Command(e) if e.code == 112), "{err}");
    assert!(err.contains_label(TRANSIENT_TRANSACTION_ERROR), "{err}");
    first.commit_transaction().await.expect("first commit");
    let err = second.commit_transaction().await.expect_err("aborted");
    assert!(matches!(&*err.kind, ErrorKind::Command(e) if e.code == 251), "{err}");
    // A change committed outside after a transaction's write fails its commit.
    first.start_transaction().await.expect("start");
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 10}}).session(&mut first).await.expect("update");
    coll.update_one(doc! {"_id": 1}, doc! {"$inc": {"n": 100}}).await.expect("outside");
    let err = first.commit_transaction().await.expect_err("conflict");
    assert!(matches!(&*err.kind, ErrorKind::Command(e) if e.code == 112), "{err}");
    assert!(err.contains_label(TRANSIENT_TRANSACTION_ERROR), "{err}");
    let doc = coll.find_one(doc! {}).await.expect("read").expect("doc");
    assert_eq!(doc.get_i32("n"), Ok(101));
    server.stop().await;
}

#[tokio::test]
async fn a_transaction_larger_than_a_log_record_commits_whole() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let big = client.database("big").collection::<Document>("c");
    let pad = bson::Binary { subtype: bson::spec::BinarySubtype::Generic, bytes: vec![7u8; 15 << 20] };
    let mut session = client.start_session().await.expect("session");
    session.start_transaction().await.expect("start");
    for id in 0..3 {
        big.insert_one(doc! {"_id": id, "pad": pad.clone()}).session(&mut session).await.expect("insert");
    }
    // 45 MiB: more than one log record holds, so the commit is framed.
    session.commit_transaction().await.expect("commit");
    let server = server.restart().await;
    let client = server.client().await;
    let big = client.database("big").collection::<Document>("c");
    assert_eq!(big.count_documents(doc! {}).await.expect("count"), 3);
    let last = big.find_one(doc! {"_id": 2}).await.expect("find").expect("the last document");
    assert_eq!(last.get_binary_generic("pad").expect("pad").len(), 15 << 20);
    server.stop().await;
}
