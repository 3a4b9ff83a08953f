//! What is not built is refused, never accepted and ignored: validators and
//! unknown arguments, through the Rust driver; and `$pull` with
//! `$or`/`$and`/`$nor` conditions, which MongoDB accepts.

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

#[tokio::test]
async fn validators_are_refused() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let db = client.database("valid");
    let err = db
        .create_collection("v")
        .validator(doc! {"$jsonSchema": {"required": ["x"]}})
        .await
        .expect_err("validator refused");
    assert_eq!(code(&err), Some(238), "{err}");
    let err = db.create_collection("v").validation_level(ValidationLevel::Strict).await.expect_err("refused");
    assert_eq!(code(&err), Some(238), "{err}");
    assert!(db.list_collection_names().await.expect("list").is_empty());
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
