//! Geospatial queries through the Rust driver: `$near` over a 2dsphere index made
//! on a branch (nearest first, within the distances given, in metres), the
//! `$geoNear` stage's distances, and `$geoWithin` a polygon.

use bson::{doc, Document};
use futures_util::TryStreamExt;
use mongodb::error::ErrorKind;

use crate::common::TestServer;

fn place(id: i32, lng: f64, lat: f64) -> Document {
    doc! {"_id": id, "loc": {"type": "Point", "coordinates": [lng, lat]}}
}

#[tokio::test]
async fn near_reads_nearest_first_on_its_branch() {
    let server = TestServer::start().await;
    let client = server.client().await;
    let main = client.database("maps");
    // Along the equator, 0.01° of longitude is about 1113 m.
    let places: Vec<Document> = (0..50).map(|i| place(i, f64::from(i) * 0.01, 0.0)).collect();
    main.collection::<Document>("places").insert_many(places).await.expect("places");
    main.run_command(doc! {"createBranch": "geo"}).await.expect("branch");
    let branch = client.database("maps@geo");
    branch
        .run_command(doc! {"createIndexes": "places", "indexes": [{"key": {"loc": "2dsphere"}, "name": "loc"}]})
        .await
        .expect("2dsphere index on the branch");

    let near = doc! {"loc": {"$near": {
        "$geometry": {"type": "Point", "coordinates": [0.2049, 0.0]},
        "$minDistance": 550.0,
        "$maxDistance": 3000.0,
    }}};
    let found: Vec<Document> = branch
        .collection::<Document>("places")
        .find(near.clone())
        .await
        .expect("find")
        .try_collect()
        .await
        .expect("cursor");
    let ids: Vec<i32> = found.iter().map(|d| d.get_i32("_id").expect("_id")).collect();
    // 20 is 545 m away, inside $minDistance; 21 (568 m) to 23 (2794 m) are within
    // 3 km, and 17 (3885 m) is not.
    assert_eq!(ids, [21, 19, 22, 18, 23], "{found:?}");

    // On main there is no geo index: MongoDB's 291.
    let error = main.collection::<Document>("places").find_one(near).await.expect_err("no index on main");
    match *error.kind {
        ErrorKind::Command(ref e) => assert_eq!(e.code, 291, "{e:?}"),
        ref other => panic!("{other:?}"),
    }

    let pipeline = vec![
        doc! {"$geoNear": {
            "near": {"type": "Point", "coordinates": [0.0, 0.0]},
            "distanceField": "meters",
            "query": {"_id": {"$gte": 10}},
        }},
        doc! {"$limit": 2},
    ];
    let nearest: Vec<Document> = branch
        .collection::<Document>("places")
        .aggregate(pipeline)
        .await
        .expect("aggregate")
        .try_collect()
        .await
        .expect("cursor");
    let ids: Vec<i32> = nearest.iter().map(|d| d.get_i32("_id").expect("_id")).collect();
    assert_eq!(ids, [10, 11]);
    let meters = nearest[0].get_f64("meters").expect("distance");
    // 0.1° of a great circle of MongoDB's Earth radius (6378.1 km).
    let expected = 0.1f64.to_radians() * 6_378_100.0;
    assert!((meters - expected).abs() < 0.01, "{meters} vs {expected}");

    let square = doc! {"loc": {"$geoWithin": {"$geometry": {"type": "Polygon", "coordinates": [[
        [0.095, -1.0], [0.125, -1.0], [0.125, 1.0], [0.095, 1.0], [0.095, -1.0]
    ]]}}}};
    let mut within: Vec<i32> = main
        .collection::<Document>("places")
        .find(square)
        .await
        .expect("find")
        .try_collect::<Vec<Document>>()
        .await
        .expect("cursor")
        .iter()
        .map(|d| d.get_i32("_id").expect("_id"))
        .collect();
    within.sort();
    assert_eq!(within, [10, 11, 12], "$geoWithin needs no index");
}
