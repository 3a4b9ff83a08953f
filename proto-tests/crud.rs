//! CRUD through the driver where sizes matter: batches larger than one log record,
//! documents at MongoDB's limit.

use bson::{doc, Document};
use futures_util::TryStreamExt;

use crate::common::TestServer;

#[tokio::test]
async fn batches_larger_than_a_log_record_are_split_not_refused() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("big").collection::<Document>("docs");
    // 40 documents of 1 MiB: one insert command, more than one 32 MiB log record.
    let pad = "x".repeat(1 << 20);
    let docs: Vec<Document> = (0..40).map(|i| doc! {"_id": i, "pad": &pad}).collect();
    coll.insert_many(docs).await.expect("insert 40 MiB");
    let updated = coll.update_many(doc! {}, doc! {"$set": {"tag": "t"}}).await.expect("update 40 MiB");
    assert_eq!((updated.matched_count, updated.modified_count), (40, 40));
    let tagged: Vec<Document> =
        coll.find(doc! {"tag": "t"}).projection(doc! {"pad": 0}).await.expect("find").try_collect().await.expect("all");
    assert_eq!(tagged.len(), 40);
    let deleted = coll.delete_many(doc! {}).await.expect("delete");
    assert_eq!(deleted.deleted_count, 40);
    server.stop().await;
}

#[tokio::test]
async fn documents_over_16_mib_are_refused_with_code_10334() {
    let server = TestServer::start().await;
    // Raw, as drivers refuse to send such a document.
    let mut raw = server.raw().await;
    let reply = raw
        .command(doc! {"insert": "docs", "documents": [{"_id": 1, "pad": "x".repeat(16 * 1024 * 1024)}], "$db": "big"})
        .await;
    let errors = reply.get_array("writeErrors").expect("writeErrors");
    let code = errors[0].as_document().and_then(|e| e.get_i32("code").ok());
    assert_eq!(code, Some(10334), "{reply}");
    assert_eq!(reply.get_i32("n"), Ok(0));
    server.stop().await;
}
