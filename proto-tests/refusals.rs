//! Validators per branch, and unknown arguments refused as MongoDB refuses them,
//! through the Rust driver; and `$pull` with `$or`/`$and`/`$nor` conditions, which
//! MongoDB accepts.

use bson::{doc, Document};
use mongodb::error::ErrorKind;
use mongodb::options::ValidationLevel;

use crate::common::TestServer;

fn code(err: &mongodb::error::Error) -> Option<i32> {
    match &*err.kind {
        ErrorKind::Command(e) => Some(e.code),
        ErrorKind::Write(mongodb::error::WriteFailure::WriteError(e)) => Some(e.code),
        _ => None,
    }
}

/// A validator belongs to its branch: changed with `collMod` on `shop@loose`, it
/// still rejects on `main`, and each branch's rejection is MongoDB's error 121.
#[tokio::test]
async fn validators_are_per_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("shop");
    main.create_collection("items")
        .validator(doc! {"$jsonSchema": {"required": ["price"], "properties": {"price": {"bsonType": "number"}}}})
        .validation_level(ValidationLevel::Strict)
        .await
        .expect("create with a validator");
    main.run_command(doc! {"createBranch": "loose"}).await.expect("branch");
    let loose = client.database("shop@loose");
    loose.run_command(doc! {"collMod": "items", "validator": {}}).await.expect("collMod on the branch");
    let items = |db: &mongodb::Database| db.collection::<Document>("items");
    items(&loose).insert_one(doc! {"_id": 1, "name": "no price"}).await.expect("the branch takes it");
    let err = items(&main).insert_one(doc! {"_id": 1, "name": "no price"}).await.expect_err("main refuses it");
    assert_eq!(code(&err), Some(121), "{err}");
    let ErrorKind::Write(mongodb::error::WriteFailure::WriteError(write)) = &*err.kind else { panic!("{err}") };
    let details = write.details.as_ref().and_then(|d| d.get_document("details").ok()).expect("errInfo.details");
    assert_eq!(details.get_str("operatorName"), Ok("$jsonSchema"), "{details}");
    items(&main).insert_one(doc! {"_id": 1, "price": 5}).await.expect("a valid document");
    let err = items(&main)
        .update_one(doc! {"_id": 1}, doc! {"$set": {"price": "five"}})
        .await
        .expect_err("an update that breaks it");
    assert_eq!(code(&err), Some(121), "{err}");
    items(&main)
        .update_one(doc! {"_id": 1}, doc! {"$set": {"price": "five"}})
        .bypass_document_validation(true)
        .await
        .expect("bypassed");
    assert_eq!(items(&loose).count_documents(doc! {}).await.expect("count"), 1);
    server.stop().await;
}

#[tokio::test]
async fn unknown_arguments_are_refused_as_mongodb_refuses_them() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let err = client.database("args").run_command(doc! {"find": "c", "notAnOption": 1}).await.expect_err("refused");
    assert_eq!(code(&err), Some(40415), "{err}");
    server.stop().await;
}

#[tokio::test]
async fn pull_takes_logical_conditions_on_embedded_documents() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let coll = client.database("pull").collection::<Document>("c");
    coll.insert_one(doc! {"_id": 1, "arr": [{"x": 1}, {"x": 2}, {"x": 3, "y": 1}, 1]}).await.expect("insert");
    coll.update_one(doc! {"_id": 1}, doc! {"$pull": {"arr": {"$or": [{"x": 1}, {"x": 3}]}}}).await.expect("$or");
    let doc = coll.find_one(doc! {}).await.expect("find").expect("found");
    assert_eq!(doc.get_array("arr").expect("arr"), &vec![bson::bson!({"x": 2}), bson::bson!(1)]);
    coll.update_one(doc! {"_id": 1}, doc! {"$pull": {"arr": {"$and": [{"x": {"$gte": 2}}]}}}).await.expect("$and");
    coll.update_one(doc! {"_id": 1}, doc! {"$pull": {"arr": {"$nor": [{"x": 5}]}}}).await.expect("$nor");
    let doc = coll.find_one(doc! {}).await.expect("find").expect("found");
    assert_eq!(doc.get_array("arr").expect("arr"), &vec![bson::bson!(1)]);
    server.stop().await;
}
