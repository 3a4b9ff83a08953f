//! A collection scan feeding a leading `$sort` hands it documents as bytes
//! (`aggregate.rs`, `pipeline/spill.rs`): its results must be those of the same
//! sort over decoded documents, in memory and spilled, for every kind of key.

use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::*;

fn ok(shared: &Arc<Context>, body: Document) -> Document {
    let reply = run(&body, &ConnectionInfo::for_tests(7), shared);
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{body} -> {reply}");
    reply
}

/// The documents of an aggregation, in order, over every batch.
fn aggregate(shared: &Arc<Context>, pipeline: Vec<Document>) -> Vec<Document> {
    let reply =
        ok(shared, doc! {"aggregate": "c", "pipeline": pipeline, "cursor": {}, "allowDiskUse": true, "$db": "db"});
    let cursor = reply.get_document("cursor").expect("cursor");
    let mut docs: Vec<Document> =
        cursor.get_array("firstBatch").expect("batch").iter().filter_map(|d| d.as_document().cloned()).collect();
    let mut id = cursor.get_i64("id").expect("id");
    while id != 0 {
        let reply = ok(shared, doc! {"getMore": id, "collection": "c", "$db": "db"});
        let cursor = reply.get_document("cursor").expect("cursor");
        docs.extend(cursor.get_array("nextBatch").expect("batch").iter().filter_map(|d| d.as_document().cloned()));
        id = cursor.get_i64("id").expect("id");
    }
    docs
}

/// A value of many kinds for key `i`: numbers of every type (decimals beside the
/// doubles they round to), strings, documents, arrays (which the bytes cannot key),
/// null, and nothing.
fn value(i: i32) -> Option<Bson> {
    let decimal = |s: &str| Bson::Decimal128(s.parse().expect("decimal"));
    Some(match i % 13 {
        0 => Bson::Int32(i % 7),
        1 => Bson::Double(f64::from(i % 5) + 0.5),
        2 => Bson::Int64(i64::from(i % 3)),
        3 => decimal("1.0000000000000000000000000000001"),
        4 => decimal("1"),
        5 => Bson::String(format!("s{}", i % 4)),
        6 => Bson::Document(doc! {"x": i % 3}),
        7 => Bson::Array(vec![Bson::Int32(i % 6), Bson::Int32(2)]),
        8 => Bson::Array(vec![]),
        9 => Bson::Null,
        10 => decimal("0.9999999999999999999999999999999"),
        11 => Bson::Boolean(i % 2 == 0),
        _ => return None,
    })
}

#[test]
fn sorts_fed_bytes_order_as_sorts_fed_documents() {
    let _spilling = crate::query::pipeline::SPILLING.lock().unwrap_or_else(|p| p.into_inner());
    let shared = Context::for_tests();
    let mut docs = Vec::new();
    for i in 0..3000 {
        let mut doc = doc! {"_id": i, "pad": "x".repeat(200)};
        if let Some(v) = value(i * 7 + 3) {
            doc.insert("a", v);
        }
        if let Some(v) = value(i) {
            doc.insert("b", doc! {"c": v});
        }
        if i % 11 == 0 {
            doc.insert("b", 5);
        }
        docs.push(doc);
    }
    ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "db"});
    for spill in [false, true] {
        if spill {
            let limit =
                doc! {"setParameter": 1, "internalQueryMaxBlockingSortMemoryUsageBytes": 100_000, "$db": "admin"};
            ok(&shared, limit);
        }
        for sort in [doc! {"a": 1}, doc! {"a": -1, "_id": 1}, doc! {"b.c": 1, "_id": -1}, doc! {"b": -1}] {
            let raw = aggregate(&shared, vec![doc! {"$sort": sort.clone()}]);
            let decoded = aggregate(&shared, vec![doc! {"$match": {}}, doc! {"$sort": sort.clone()}]);
            assert_eq!(raw.len(), 3000);
            let ids = |docs: &[Document]| docs.iter().map(|d| d.get("_id").cloned()).collect::<Vec<_>>();
            assert_eq!(ids(&raw), ids(&decoded), "sorted by {sort}, spilling: {spill}");
        }
    }
}
