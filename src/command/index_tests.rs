//! Secondary indexes through the commands: definitions, uniqueness per branch,
//! and queries answered through indexes compared with full scans.

use std::sync::Arc;

use bson::{doc, Bson, Document};

use super::*;

fn call(shared: &Arc<Context>, body: Document) -> Document {
    run(&body, &ConnectionInfo::for_tests(7), shared)
}

fn ok(shared: &Arc<Context>, body: Document) -> Document {
    let reply = call(shared, body.clone());
    assert_eq!(reply.get_f64("ok"), Ok(1.0), "{body} -> {reply}");
    reply
}

fn code(reply: &Document) -> i32 {
    reply.get_i32("code").unwrap_or_else(|_| {
        let errors = reply.get_array("writeErrors").expect("an error");
        errors[0].as_document().and_then(|e| e.get_i32("code").ok()).expect("a code")
    })
}

fn create_index(shared: &Arc<Context>, db: &str, spec: Document) -> Document {
    ok(shared, doc! {"createIndexes": "c", "indexes": [spec], "$db": db})
}

/// The documents a find returns, over every batch.
fn find(shared: &Arc<Context>, db: &str, args: Document) -> Vec<Document> {
    let mut body = doc! {"find": "c"};
    body.extend(args);
    body.insert("$db", db);
    let reply = ok(shared, body);
    let cursor = reply.get_document("cursor").expect("cursor");
    let mut docs: Vec<Document> =
        cursor.get_array("firstBatch").expect("batch").iter().filter_map(|d| d.as_document().cloned()).collect();
    let mut id = cursor.get_i64("id").expect("id");
    while id != 0 {
        let reply = ok(shared, doc! {"getMore": id, "collection": "c", "$db": db});
        let cursor = reply.get_document("cursor").expect("cursor");
        docs.extend(cursor.get_array("nextBatch").expect("batch").iter().filter_map(|d| d.as_document().cloned()));
        id = cursor.get_i64("id").expect("id");
    }
    docs
}

#[test]
fn indexes_are_created_listed_and_dropped() {
    let shared = Context::for_tests();
    let reply = create_index(&shared, "db", doc! {"key": {"a": 1}, "name": "a_1", "unique": true});
    assert_eq!(reply.get_i32("numIndexesBefore"), Ok(1));
    assert_eq!(reply.get_i32("numIndexesAfter"), Ok(2));
    assert_eq!(reply.get_bool("createdCollectionAutomatically"), Ok(true));
    // The same again is a no-op; another name for the same key, or the same name
    // for another key, is refused.
    let again = create_index(&shared, "db", doc! {"key": {"a": 1}, "name": "a_1", "unique": true});
    assert_eq!(again.get_str("note"), Ok("all indexes already exist"));
    let reply = call(
        &shared,
        doc! {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "x", "unique": true}], "$db": "db"},
    );
    assert_eq!(code(&reply), 85);
    let reply = call(&shared, doc! {"createIndexes": "c", "indexes": [{"key": {"b": 1}, "name": "a_1"}], "$db": "db"});
    assert_eq!(code(&reply), 86);
    create_index(&shared, "db", doc! {"key": {"b": 1, "c": -1}, "name": "b_1_c_-1", "sparse": true});
    let reply = ok(&shared, doc! {"listIndexes": "c", "$db": "db"});
    let batch = reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).expect("batch");
    assert_eq!(
        batch,
        &vec![
            Bson::Document(doc! {"v": 2, "key": {"_id": 1}, "name": "_id_"}),
            Bson::Document(doc! {"v": 2, "key": {"a": 1}, "name": "a_1", "unique": true}),
            Bson::Document(doc! {"v": 2, "key": {"b": 1, "c": -1}, "name": "b_1_c_-1", "sparse": true}),
        ]
    );
    assert_eq!(code(&call(&shared, doc! {"dropIndexes": "c", "index": "_id_", "$db": "db"})), 72);
    assert_eq!(code(&call(&shared, doc! {"dropIndexes": "c", "index": "nope", "$db": "db"})), 27);
    assert_eq!(code(&call(&shared, doc! {"dropIndexes": "nope", "index": "*", "$db": "db"})), 26);
    let reply = ok(&shared, doc! {"dropIndexes": "c", "index": {"a": 1}, "$db": "db"});
    assert_eq!(reply.get_i32("nIndexesWas"), Ok(3));
    let reply = ok(&shared, doc! {"dropIndexes": "c", "index": "*", "$db": "db"});
    assert_eq!(reply.get_i32("nIndexesWas"), Ok(2));
    let reply = ok(&shared, doc! {"listIndexes": "c", "$db": "db"});
    assert_eq!(reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map(Vec::len), Ok(1));
}

#[test]
fn unique_indexes_refuse_duplicates_with_key_pattern_and_value() {
    let shared = Context::for_tests();
    create_index(&shared, "db", doc! {"key": {"a": 1, "b": 1}, "name": "ab", "unique": true});
    ok(
        &shared,
        doc! {"insert": "c", "documents": [{"_id": 1, "a": 1, "b": "x"}, {"_id": 2, "a": 1, "b": "y"}], "$db": "db"},
    );
    let reply = call(&shared, doc! {"insert": "c", "documents": [{"_id": 3, "a": 1, "b": "x"}], "$db": "db"});
    let error = reply.get_array("writeErrors").expect("errors")[0].as_document().cloned().expect("error");
    assert_eq!(error.get_i32("code"), Ok(11000));
    assert_eq!(error.get_document("keyPattern"), Ok(&doc! {"a": 1, "b": 1}));
    assert_eq!(error.get_document("keyValue"), Ok(&doc! {"a": 1, "b": "x"}));
    assert_eq!(
        error.get_str("errmsg"),
        Ok("E11000 duplicate key error collection: db.c index: ab dup key: { a: 1, b: \"x\" }")
    );
    // Within one insert: the second of two equal documents fails.
    let reply = call(&shared, doc! {"insert": "c", "documents": [{"_id": 4, "a": 2}, {"_id": 5, "a": 2}], "$db": "db"});
    assert_eq!(reply.get_i32("n"), Ok(1), "{reply}");
    // An update into a taken key fails; one that frees a key lets another take it.
    let reply =
        call(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 2}, "u": {"$set": {"b": "x"}}}], "$db": "db"});
    assert_eq!(code(&reply), 11000);
    ok(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"b": "z"}}}], "$db": "db"});
    ok(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 2}, "u": {"$set": {"b": "x"}}}], "$db": "db"});
    // Deleted keys are free again.
    ok(&shared, doc! {"delete": "c", "deletes": [{"q": {"_id": 2}, "limit": 1}], "$db": "db"});
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 6, "a": 1, "b": "x"}], "$db": "db"});
    // A unique index cannot be built over duplicates.
    let reply = call(
        &shared,
        doc! {"createIndexes": "c", "indexes": [{"key": {"a": 1}, "name": "a", "unique": true}], "$db": "db"},
    );
    assert_eq!(code(&reply), 11000, "{reply}");
    // findAndModify reports the key too.
    let reply =
        call(&shared, doc! {"findAndModify": "c", "query": {"_id": 6}, "update": {"$set": {"b": "z"}}, "$db": "db"});
    assert_eq!(reply.get_document("keyValue"), Ok(&doc! {"a": 1, "b": "z"}), "{reply}");
}

#[test]
fn each_branch_checks_uniqueness_against_its_own_documents() {
    let shared = Context::for_tests();
    create_index(&shared, "db", doc! {"key": {"email": 1}, "name": "email_1", "unique": true});
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 1, "email": "a@x"}], "$db": "db"});
    ok(&shared, doc! {"createBranch": "dev", "$db": "db"});
    // Both branches take the same new value; each refuses a second copy of it.
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 2, "email": "b@x"}], "$db": "db@dev"});
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 3, "email": "b@x"}], "$db": "db"});
    let reply = call(&shared, doc! {"insert": "c", "documents": [{"_id": 4, "email": "b@x"}], "$db": "db@dev"});
    assert_eq!(code(&reply), 11000);
    // A value freed on one branch stays taken on the other.
    ok(&shared, doc! {"delete": "c", "deletes": [{"q": {"_id": 1}, "limit": 1}], "$db": "db@dev"});
    ok(&shared, doc! {"insert": "c", "documents": [{"_id": 5, "email": "a@x"}], "$db": "db@dev"});
    let reply = call(&shared, doc! {"insert": "c", "documents": [{"_id": 6, "email": "a@x"}], "$db": "db"});
    assert_eq!(code(&reply), 11000);
    // Each branch's index finds its own documents.
    assert_eq!(find(&shared, "db@dev", doc! {"filter": {"email": "a@x"}}), vec![doc! {"_id": 5, "email": "a@x"}]);
    assert_eq!(find(&shared, "db", doc! {"filter": {"email": "a@x"}}), vec![doc! {"_id": 1, "email": "a@x"}]);
    // An index created on the branch is the branch's alone.
    create_index(&shared, "db@dev", doc! {"key": {"n": 1}, "name": "n_1"});
    let reply = ok(&shared, doc! {"listIndexes": "c", "$db": "db"});
    assert_eq!(reply.get_document("cursor").and_then(|c| c.get_array("firstBatch")).map(Vec::len), Ok(2));
}

#[test]
fn a_point_in_time_view_reads_the_index_as_it_was() {
    let shared = Context::for_tests();
    create_index(&shared, "db", doc! {"key": {"n": 1}, "name": "n_1"});
    let reply = ok(&shared, doc! {"insert": "c", "documents": [{"_id": 1, "n": 1}], "$db": "db"});
    let then = reply.get_timestamp("operationTime").expect("time").time;
    let lsn = {
        let view = shared.store.view(&crate::namespace::DbRef::parse("db").expect("db"), None).expect("view");
        view.snapshot.lsn
    };
    ok(&shared, doc! {"update": "c", "updates": [{"q": {"_id": 1}, "u": {"$set": {"n": 2}}}], "$db": "db"});
    assert!(find(&shared, "db", doc! {"filter": {"n": 1}}).is_empty());
    let past = format!("db@main~{}", lsn.0);
    assert_eq!(find(&shared, &past, doc! {"filter": {"n": 1}}), vec![doc! {"_id": 1, "n": 1}], "at {then}");
    assert!(find(&shared, &past, doc! {"filter": {"n": 2}}).is_empty());
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Random(u64);

impl Random {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }

    fn value(&mut self) -> Bson {
        match self.below(10) {
            0 => Bson::Null,
            1 => Bson::String(["a", "b", "c"][self.below(3) as usize].into()),
            2 => Bson::Double(self.below(6) as f64 + 0.5),
            3 => Bson::Array(vec![Bson::Int32(self.below(6) as i32), Bson::Int32(self.below(6) as i32)]),
            4 => Bson::Array(vec![]),
            _ => Bson::Int32(self.below(6) as i32),
        }
    }

    fn condition(&mut self) -> Bson {
        let v = Bson::Int32(self.below(6) as i32);
        match self.below(9) {
            0 => v,
            1 => Bson::Document(doc! {"$gt": v}),
            2 => Bson::Document(doc! {"$lte": v}),
            3 => Bson::Document(doc! {"$gte": v, "$lt": Bson::Int32(self.below(6) as i32 + 1)}),
            4 => Bson::Document(doc! {"$in": [v, Bson::Int32(self.below(6) as i32), "b"]}),
            5 => Bson::Null,
            6 => Bson::Document(doc! {"$exists": true}),
            7 => Bson::Document(doc! {"$ne": v}),
            _ => Bson::String("a".into()),
        }
    }
}

#[test]
fn queries_through_indexes_return_what_scans_return() {
    let shared = Context::for_tests();
    let mut random = Random(0x9E37_79B9_7F4A_7C15);
    for spec in [
        doc! {"key": {"a": 1}, "name": "a"},
        doc! {"key": {"a": 1, "b": -1}, "name": "a_b"},
        doc! {"key": {"b": -1}, "name": "b_sparse", "sparse": true},
        doc! {"key": {"x.y": 1}, "name": "xy"},
        doc! {"key": {"a": 1, "x.y": 1}, "name": "a_partial", "partialFilterExpression": {"a": {"$gte": 2}}},
    ] {
        create_index(&shared, "db", spec);
    }
    let mut docs = Vec::new();
    for id in 0..300 {
        let mut doc = doc! {"_id": id};
        for field in ["a", "b"] {
            if random.below(5) > 0 {
                doc.insert(field, random.value());
            }
        }
        if random.below(2) == 0 {
            doc.insert("x", doc! {"y": Bson::Int32(random.below(6) as i32)});
        }
        docs.push(doc);
    }
    ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "db"});
    // Some writes after the build, so entries come from both.
    ok(
        &shared,
        doc! {"update": "c", "updates": [{"q": {"_id": {"$lt": 40}}, "u": {"$inc": {"a": 1}}, "multi": true}], "$db": "db"},
    );
    ok(&shared, doc! {"delete": "c", "deletes": [{"q": {"_id": {"$gte": 280}}, "limit": 0}], "$db": "db"});
    for round in 0..400 {
        let mut filter = Document::new();
        for field in ["a", "b", "x.y"] {
            if random.below(2) == 0 {
                filter.insert(field, random.condition());
            }
        }
        let sort = match random.below(6) {
            0 => Some(doc! {"a": 1}),
            1 => Some(doc! {"a": -1, "b": 1}),
            // `x.y` never holds an array: its index gives the order, either way.
            2 => Some(doc! {"x.y": 1}),
            3 => Some(doc! {"x.y": -1}),
            _ => None,
        };
        let mut scan = doc! {"filter": filter.clone(), "hint": {"$natural": 1}};
        let mut planned = doc! {"filter": filter.clone(), "batchSize": 7};
        if let Some(sort) = &sort {
            scan.insert("sort", sort.clone());
            planned.insert("sort", sort.clone());
        }
        let expected = find(&shared, "db", scan);
        let got = find(&shared, "db", planned);
        if sort.is_some() {
            // Ties may come in any order: compare the sort keys' order and the sets.
            let ids = |docs: &[Document]| {
                let mut ids: Vec<i32> = docs.iter().filter_map(|d| d.get_i32("_id").ok()).collect();
                ids.sort_unstable();
                ids
            };
            assert_eq!(ids(&got), ids(&expected), "round {round}: {filter} sorted by {sort:?}");
            // A missing field sorts as null.
            let keys = |docs: &[Document]| -> Vec<Bson> {
                docs.iter().map(|d| d.get("a").cloned().unwrap_or(Bson::Null)).collect()
            };
            if sort == Some(doc! {"a": 1}) && !keys(&got).iter().any(|k| matches!(k, Bson::Array(_))) {
                assert_eq!(keys(&got), keys(&expected), "round {round}: {filter}");
            }
            let xy = |docs: &[Document]| -> Vec<Bson> {
                docs.iter()
                    .map(|d| d.get_document("x").ok().and_then(|x| x.get("y")).cloned().unwrap_or(Bson::Null))
                    .collect()
            };
            if sort.as_ref().is_some_and(|s| s.contains_key("x.y")) {
                assert_eq!(xy(&got), xy(&expected), "round {round}: {filter} sorted by {sort:?}");
            }
        } else {
            let mut got = got;
            got.sort_by_key(|d| d.get_i32("_id").unwrap_or_default());
            assert_eq!(got, expected, "round {round}: {filter}");
        }
        let count = ok(&shared, doc! {"count": "c", "query": filter.clone(), "$db": "db"});
        assert_eq!(count.get_i32("n"), Ok(expected.len() as i32), "round {round}: {filter}");
    }
}

/// Decimals that differ from a number beyond a double's precision share its
/// index key; strict bounds through an index still find them, as a scan does.
#[test]
fn decimals_beyond_double_precision_are_found_through_indexes() {
    let shared = Context::for_tests();
    create_index(&shared, "db", doc! {"key": {"a": 1}, "name": "a"});
    let decimal = |s: &str| Bson::Decimal128(s.parse().expect("decimal"));
    let docs = vec![
        doc! {"_id": 1, "a": 1},
        doc! {"_id": 2, "a": decimal("1.0000000000000000000000000000001")},
        doc! {"_id": 3, "a": decimal("0.9999999999999999999999999999999")},
        doc! {"_id": 4, "a": decimal("1.000")},
        doc! {"_id": 5, "a": 0.1},
        doc! {"_id": 6, "a": decimal("0.1")},
    ];
    ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "db"});
    let ids = |filter: Document| {
        let mut ids: Vec<i32> =
            find(&shared, "db", doc! {"filter": filter}).iter().filter_map(|d| d.get_i32("_id").ok()).collect();
        ids.sort_unstable();
        ids
    };
    assert_eq!(ids(doc! {"a": {"$gt": 1}}), [2]);
    assert_eq!(ids(doc! {"a": {"$lt": 1, "$gt": 0.5}}), [3]);
    assert_eq!(ids(doc! {"a": {"$gte": 1, "$lte": 1}}), [1, 4]);
    assert_eq!(ids(doc! {"a": 1}), [1, 4]);
    assert_eq!(ids(doc! {"a": {"$gt": decimal("0.1"), "$lt": 0.5}}), [5]);
    assert_eq!(ids(doc! {"a": {"$lt": 0.1}}), [6]);
}

/// The stages of an explained plan, top down.
fn stages(plan: &Document) -> Vec<String> {
    let mut out = Vec::new();
    let mut stage = Some(plan);
    while let Some(s) = stage {
        out.push(s.get_str("stage").unwrap_or("?").to_owned());
        stage = s.get_document("inputStage").ok();
    }
    out
}

fn explain(shared: &Arc<Context>, command: Document, verbosity: &str) -> Document {
    ok(shared, doc! {"explain": command, "verbosity": verbosity, "$db": "db"})
}

fn winning(reply: &Document) -> Vec<String> {
    stages(reply.get_document("queryPlanner").and_then(|q| q.get_document("winningPlan")).expect("plan"))
}

#[test]
fn explain_shows_the_plan_the_query_runs_with() {
    let shared = Context::for_tests();
    create_index(&shared, "db", doc! {"key": {"a": 1, "b": -1}, "name": "a_1_b_-1"});
    let docs: Vec<Document> = (0..100).map(|i| doc! {"_id": i, "a": i % 10, "b": i, "c": i % 3}).collect();
    ok(&shared, doc! {"insert": "c", "documents": docs, "$db": "db"});
    // Equality on the index's prefix: an index scan over one key's entries.
    let reply = explain(&shared, doc! {"find": "c", "filter": {"a": 3}}, "executionStats");
    assert_eq!(winning(&reply), ["FETCH", "IXSCAN"]);
    let ixscan = reply
        .get_document("queryPlanner")
        .and_then(|q| q.get_document("winningPlan"))
        .and_then(|p| p.get_document("inputStage"))
        .expect("ixscan");
    assert_eq!(ixscan.get_str("indexName"), Ok("a_1_b_-1"));
    assert_eq!(ixscan.get_document("indexBounds"), Ok(&doc! {"a": ["[3, 3]"], "b": ["[MaxKey, MinKey]"]}));
    let stats = reply.get_document("executionStats").expect("stats");
    assert_eq!(stats.get_i64("nReturned"), Ok(10));
    assert_eq!(stats.get_i64("totalKeysExamined"), Ok(10));
    assert_eq!(stats.get_i64("totalDocsExamined"), Ok(10));
    // A range and the index's order for the sort: no SORT stage.
    let reply =
        explain(&shared, doc! {"find": "c", "filter": {"a": {"$gt": 7}}, "sort": {"a": -1, "b": 1}}, "queryPlanner");
    assert_eq!(winning(&reply), ["FETCH", "IXSCAN"]);
    // No usable index: a collection scan, sorted in memory.
    let reply =
        explain(&shared, doc! {"find": "c", "filter": {"c": 1}, "sort": {"b": 1}, "limit": 5}, "executionStats");
    assert_eq!(winning(&reply), ["SORT", "COLLSCAN"]);
    assert_eq!(reply.get_document("executionStats").and_then(|s| s.get_i64("totalDocsExamined")), Ok(100));
    assert_eq!(reply.get_document("executionStats").and_then(|s| s.get_i64("nReturned")), Ok(5));
    // An _id: one lookup. A hint: the index it names, or a scan for $natural.
    assert_eq!(winning(&explain(&shared, doc! {"find": "c", "filter": {"_id": 5}}, "queryPlanner")), ["IDHACK"]);
    let hinted = doc! {"find": "c", "filter": {"c": 1}, "hint": "a_1_b_-1"};
    assert_eq!(winning(&explain(&shared, hinted, "queryPlanner")), ["FETCH", "IXSCAN"]);
    let natural = doc! {"find": "c", "filter": {"a": 1}, "hint": {"$natural": 1}};
    assert_eq!(winning(&explain(&shared, natural, "queryPlanner")), ["COLLSCAN"]);
    let reply = call(&shared, doc! {"find": "c", "hint": "nope", "$db": "db"});
    assert_eq!(code(&reply), 2, "{reply}");
    // Other commands: the write or count on top of the same read.
    let count = doc! {"count": "c", "query": {"a": 2}};
    assert_eq!(winning(&explain(&shared, count, "queryPlanner")), ["COUNT", "FETCH", "IXSCAN"]);
    let delete = doc! {"delete": "c", "deletes": [{"q": {"c": 2}, "limit": 0}]};
    assert_eq!(winning(&explain(&shared, delete, "queryPlanner")), ["DELETE", "COLLSCAN"]);
    // An aggregation: the read under $cursor, then the other stages.
    let reply = ok(
        &shared,
        doc! {"aggregate": "c", "pipeline": [{"$match": {"a": 4}}, {"$group": {"_id": "$c"}}], "explain": true, "$db": "db"},
    );
    let first = reply.get_array("stages").expect("stages")[0].as_document().cloned().expect("stage");
    let plan = first.get_document("$cursor").and_then(|c| c.get_document("queryPlanner")).expect("planner");
    assert_eq!(stages(plan.get_document("winningPlan").expect("plan")), ["FETCH", "IXSCAN"]);
}

/// `listCollections` and `listIndexes` honour `cursor.batchSize`: the rest comes
/// through `getMore` on their `$cmd` namespace; a bad `cursor` is refused as MongoDB's
/// parser refuses it.
#[test]
fn listings_come_in_batches_of_the_size_asked() {
    let shared = Context::for_tests();
    for name in ["a", "b", "c"] {
        ok(&shared, doc! {"create": name, "$db": "db"});
    }
    for key in ["x", "y"] {
        create_index(&shared, "db", doc! {"key": {key: 1}, "name": key});
    }
    let listings = [
        (doc! {"listCollections": 1, "$db": "db"}, "$cmd.listCollections", 3),
        (doc! {"listIndexes": "c", "$db": "db"}, "c", 3),
    ];
    for (command, collection, total) in listings {
        let whole = ok(&shared, command.clone());
        let cursor = whole.get_document("cursor").expect("cursor");
        assert_eq!((cursor.get_i64("id"), cursor.get_array("firstBatch").map(Vec::len)), (Ok(0), Ok(total)));

        let mut first = command.clone();
        first.insert("cursor", doc! {"batchSize": 1});
        let reply = ok(&shared, first);
        let cursor = reply.get_document("cursor").expect("cursor");
        assert_eq!(cursor.get_array("firstBatch").map(Vec::len), Ok(1), "{reply}");
        let id = cursor.get_i64("id").expect("id");
        assert_ne!(id, 0, "{reply}");
        let more = ok(&shared, doc! {"getMore": id, "collection": collection, "$db": "db"});
        let cursor = more.get_document("cursor").expect("cursor");
        assert_eq!((cursor.get_i64("id"), cursor.get_array("nextBatch").map(Vec::len)), (Ok(0), Ok(total - 1)));

        for (bad, expected) in
            [(doc! {"batchSize": -1}, 51024), (doc! {"batchSize": "1"}, 14), (doc! {"batchSize": 1, "other": 1}, 40415)]
        {
            let mut refused = command.clone();
            refused.insert("cursor", bad);
            assert_eq!(code(&call(&shared, refused)), expected);
        }
        let mut refused = command.clone();
        refused.insert("cursor", 5);
        assert_eq!(code(&call(&shared, refused)), 14);
    }
}
