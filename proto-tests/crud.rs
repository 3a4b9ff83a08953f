//! CRUD through the driver: the query language, updates, findAndModify, distinct and
//! aggregate on a branch; batches larger than one log record, documents at MongoDB's
//! limit.

use bson::{doc, Bson, Document};
use futures_util::TryStreamExt;
use mongodb::options::ReturnDocument;

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

#[tokio::test]
async fn the_query_language_updates_and_aggregate_work_on_a_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("shop").collection::<Document>("items");
    let docs =
        (0..50).map(|i| doc! {"_id": i, "price": i * 2, "tags": if i % 2 == 0 { vec!["even"] } else { vec!["odd"] }});
    main.insert_many(docs).await.expect("insert");
    client.database("shop").run_command(doc! {"createBranch": "sale"}).await.expect("branch");
    let sale = client.database("shop@sale").collection::<Document>("items");

    let cheap = doc! {"price": {"$lt": 20}, "tags": {"$in": ["even"]}};
    let updated = sale.update_many(cheap.clone(), doc! {"$mul": {"price": 0.5}, "$push": {"tags": "sale"}}).await;
    assert_eq!(updated.expect("update").modified_count, 5);
    let on_sale: Vec<Document> = sale
        .find(doc! {"tags": "sale"})
        .sort(doc! {"price": -1})
        .projection(doc! {"_id": 0, "price": 1})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("cursor");
    let prices: Vec<f64> = on_sale.iter().map(|d| d.get_f64("price").expect("a double")).collect();
    assert_eq!(prices, [8.0, 6.0, 4.0, 2.0, 0.0]);
    assert_eq!(main.count_documents(doc! {"tags": "sale"}).await.expect("count on main"), 0);

    let taken = sale
        .find_one_and_update(doc! {"tags": "odd", "price": {"$gte": 90}}, doc! {"$inc": {"stock": -1}})
        .sort(doc! {"price": 1})
        .return_document(ReturnDocument::After)
        .await
        .expect("findAndModify");
    assert_eq!(taken, Some(doc! {"_id": 45, "price": 90, "tags": ["odd"], "stock": -1}));

    let tags = sale.distinct("tags", doc! {"price": {"$lt": 4}}).await.expect("distinct");
    assert_eq!(tags, [Bson::from("even"), Bson::from("odd"), Bson::from("sale")]);

    let pipeline = [
        doc! {"$match": {"price": {"$gte": 10}}},
        doc! {"$unwind": "$tags"},
        doc! {"$group": {"_id": "$tags", "n": {"$sum": 1}, "top": {"$max": "$price"}}},
        doc! {"$sort": {"_id": 1}},
    ];
    let groups: Vec<Document> = sale.aggregate(pipeline).await.expect("aggregate").try_collect().await.expect("cursor");
    assert_eq!(groups, [doc! {"_id": "even", "n": 20, "top": 96}, doc! {"_id": "odd", "n": 23, "top": 98}]);

    let refused = sale.find(doc! {"price": {"$frobnicate": 1}}).await.expect_err("unknown operator");
    assert!(refused.to_string().contains("unknown operator: $frobnicate"), "{refused}");
    server.stop().await;
}
