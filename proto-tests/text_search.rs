//! Text search through the Rust driver: a text index with weights, `$text` with a
//! phrase and a negation, the text score in the projection and the sort, and the
//! index belonging to the branch it was made on.

use bson::{doc, Document};
use futures_util::TryStreamExt;
use mongodb::error::ErrorKind;

use crate::common::TestServer;

#[tokio::test]
async fn a_text_query_with_its_score() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("blog");
    let posts = main.collection::<Document>("posts");
    posts
        .insert_many(vec![
            doc! {"_id": 1, "title": "Baking bread", "body": "Bread needs flour, water and time."},
            doc! {"_id": 2, "title": "Coffee", "body": "Brewing coffee with fresh bread on the side."},
            doc! {"_id": 3, "title": "Gardening", "body": "Tomatoes need water."},
            doc! {"_id": 4, "title": "Bread and coffee", "body": "A breakfast of bread and coffee."},
        ])
        .await
        .expect("posts");
    main.run_command(doc! {"createBranch": "search"}).await.expect("branch");
    let branch = client.database("blog@search");
    branch
        .run_command(doc! {"createIndexes": "posts", "indexes": [{
            "key": {"title": "text", "body": "text"}, "name": "search", "weights": {"title": 10}
        }]})
        .await
        .expect("text index on the branch");

    let searched = branch.collection::<Document>("posts");
    let found: Vec<Document> = searched
        .find(doc! {"$text": {"$search": "bread -tomatoes"}})
        .projection(doc! {"title": 1, "score": {"$meta": "textScore"}})
        .sort(doc! {"score": {"$meta": "textScore"}})
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("cursor");
    let ids: Vec<i32> = found.iter().map(|d| d.get_i32("_id").expect("_id")).collect();
    assert_eq!(ids, [4, 1, 2], "the title's weight puts titles with bread first: {found:?}");
    let scores: Vec<f64> = found.iter().map(|d| d.get_f64("score").expect("score")).collect();
    // A term counts 0.5 + 0.5 × (its share of the string's terms), times the
    // field's weight. #4: "Bread and coffee" (one of two terms, weight 10) and "A
    // breakfast of bread and coffee." (one of three); #1: "Baking bread" (one of
    // two, weight 10) and "Bread needs flour, water and time." (one of five); #2:
    // the body only, one of five.
    let expected = [10.0 * 0.75 + (0.5 / 3.0 + 0.5), 10.0 * 0.75 + 0.6, 0.6];
    for (score, expected) in scores.iter().zip(expected) {
        assert!((score - expected).abs() < 1e-9, "{scores:?}");
    }

    let phrase: Vec<Document> = searched
        .find(doc! {"$text": {"$search": "\"bread and coffee\""}})
        .await
        .expect("phrase")
        .try_collect()
        .await
        .expect("cursor");
    assert_eq!(phrase.iter().map(|d| d.get_i32("_id").expect("_id")).collect::<Vec<_>>(), [4]);

    let err = main
        .collection::<Document>("posts")
        .find_one(doc! {"$text": {"$search": "bread"}})
        .await
        .expect_err("main has no text index");
    assert!(matches!(&*err.kind, ErrorKind::Command(e) if e.code == 27), "{err}");
    server.stop().await;
}
