//! The golden aggregation cases of `src/query/golden/aggregation.json` and
//! `src/query/golden/aggregation-stages.json` (and windows, accumulators,
//! `$densify` and `$fill` in `aggregation-windows.json`): each group holds input `documents`
//! and, for `$lookup`, other `collections` (name to documents); each case a
//! `pipeline` that must produce exactly `expect` (field order and numeric types
//! count), `count` documents (for `$sample`), or fail with the error code `error`.

use std::collections::HashMap;

use bson::{doc, Bson, Document};

use super::{Collections, NoCollections, Pipeline};
use crate::error::Result;
use crate::query::expr::Variables;
use crate::query::golden;

/// How many cases the golden files hold; update it when adding cases.
const CASES: usize = 579;

/// Collections held in memory, as tests give them to `$lookup`.
#[derive(Default)]
struct MapCollections(HashMap<String, Vec<Document>>);

impl Collections for MapCollections {
    fn scan(&self, name: &str) -> Result<Vec<Document>> {
        Ok(self.0.get(name).cloned().unwrap_or_default())
    }
}

/// The documents of a JSON array of objects.
fn documents(value: Option<&Bson>) -> Vec<Document> {
    match value {
        Some(Bson::Array(docs)) => {
            docs.iter().map(|d| d.as_document().expect("documents are objects").clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// Runs a case's pipeline over the group's documents, with its collections.
fn run(pipeline: &[Bson], documents: &[Document], collections: &MapCollections) -> Result<Vec<Document>> {
    Pipeline::parse(pipeline, &Variables::none())?.run(documents.iter().cloned().map(Ok), collections)
}

#[test]
fn golden_aggregation() {
    let mut failures = Vec::new();
    let mut count = 0;
    let groups = [
        include_str!("../golden/aggregation.json"),
        include_str!("../golden/aggregation-stages.json"),
        include_str!("../golden/aggregation-windows.json"),
    ]
    .into_iter()
    .flat_map(golden::load);
    for group in groups {
        let documents = documents(group.body.get("documents"));
        let mut collections = MapCollections::default();
        if let Ok(named) = group.body.get_document("collections") {
            for (name, docs) in named {
                collections.0.insert(name.clone(), self::documents(Some(docs)));
            }
        }
        let cases = group.body.get_array("cases").expect("a group has cases");
        for (index, case) in cases.iter().enumerate() {
            count += 1;
            let Bson::Document(case) = case else { panic!("{}: case {index} is not an object", group.name) };
            let pipeline = case.get_array("pipeline").expect("a case has a pipeline");
            let got = run(pipeline, &documents, &collections);
            let ok = match (&got, case.get("expect"), case.get("error"), case.get("count")) {
                (Ok(docs), Some(Bson::Array(expected)), None, None) => {
                    docs.len() == expected.len()
                        && docs
                            .iter()
                            .zip(expected)
                            .all(|(d, e)| e.as_document().is_some_and(|e| crate::value::identical_documents(e, d)))
                }
                (Ok(docs), None, None, Some(n)) => Bson::Int32(docs.len() as i32) == *n,
                (Err(e), None, Some(code), None) => Bson::Int32(e.code().code()) == *code,
                _ => false,
            };
            if !ok {
                let wanted = case.get("expect").or(case.get("error")).or(case.get("count"));
                failures.push(format!(
                    "{} ({}) case {index}: {pipeline:?}\n  got {got:?}\n  expected {wanted:?}",
                    group.name, group.doc
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(count, CASES, "the number of golden cases changed");
}

#[test]
fn limit_stops_pulling_input() {
    let pipeline = Pipeline::parse(&[Bson::Document(doc! {"$limit": 2})], &Variables::none()).expect("pipeline");
    let mut pulled = 0;
    let input = (0..100).map(|i| {
        pulled += 1;
        Ok(doc! {"_id": i})
    });
    let out = pipeline.run(input, &NoCollections).expect("run");
    assert_eq!(out.len(), 2);
    drop(out);
    assert_eq!(pulled, 2, "the input is not read past the limit");
}

#[test]
fn leading_match_and_emptiness() {
    let pipeline =
        Pipeline::parse(&[Bson::Document(doc! {"$match": {"_id": 5}})], &Variables::none()).expect("pipeline");
    assert_eq!(pipeline.leading_match().and_then(|f| f.id_equality()), Some(&Bson::Int32(5)));
    assert!(!pipeline.is_empty());
    assert!(Pipeline::parse(&[], &Variables::none()).expect("empty").is_empty());
}

#[test]
fn update_pipelines_refuse_other_stages() {
    let refused = Pipeline::parse_update(&[Bson::Document(doc! {"$group": {"_id": null}})], &Variables::none())
        .expect_err("refused");
    assert_eq!(refused.code().code(), 72);
    let unknown = Pipeline::parse_update(&[Bson::Document(doc! {"$foo": 1})], &Variables::none()).expect_err("unknown");
    assert_eq!(unknown.code().code(), 40324);
    let update = Pipeline::parse_update(
        &[Bson::Document(doc! {"$set": {"total": {"$add": ["$a", "$b"]}}}), Bson::Document(doc! {"$unset": "b"})],
        &Variables::none(),
    )
    .expect("update pipeline");
    let out = update.apply_to(doc! {"_id": 1, "a": 1, "b": 2}).expect("applied");
    assert_eq!(out, doc! {"_id": 1, "a": 1, "total": 3});
}

/// A pipeline of one stage.
fn one_stage(stage: Document) -> Pipeline {
    Pipeline::parse(&[Bson::Document(stage)], &Variables::none()).expect("pipeline")
}

/// Documents whose `k` values repeat out of order, padded to take some room.
fn padded_documents(n: i32) -> Vec<Document> {
    (0..n).map(|i| doc! {"_id": i, "k": (i * 7919) % 97, "pad": "x".repeat(100)}).collect()
}

#[test]
fn blocking_stages_past_the_memory_limit_fail_without_allow_disk_use() {
    let _spilling = SPILLING.lock().unwrap_or_else(|p| p.into_inner());
    let docs = padded_documents(200);
    for stage in [doc! {"$sort": {"k": 1}}, doc! {"$group": {"_id": "$k", "all": {"$push": "$$ROOT"}}}] {
        let pipeline = one_stage(stage.clone()).with_memory_limit(4096);
        let err = pipeline.run(docs.iter().cloned().map(Ok), &NoCollections).expect_err("over the limit");
        assert_eq!(err.code().code(), 292, "{stage}: {err:?}");
        let within = one_stage(stage.clone()).run(docs.iter().cloned().map(Ok), &NoCollections);
        assert!(within.is_ok(), "{stage} fits in the default limit");
    }
    let group = one_stage(doc! {"$group": {"_id": "$k", "all": {"$push": "$_id"}}}).with_memory_limit(4096);
    let out = group.allow_disk_use(true).run(docs.iter().cloned().map(Ok), &NoCollections).expect("allowed");
    assert_eq!(out.len(), 97);
}

use super::SPILLING;

/// The spill files of this process still on disk.
fn spill_files() -> usize {
    let prefix = format!("branchdb-spill-{}-", std::process::id());
    std::fs::read_dir(std::env::temp_dir())
        .expect("temp dir")
        .filter(|entry| entry.as_ref().is_ok_and(|e| e.file_name().to_string_lossy().starts_with(&prefix)))
        .count()
}

#[test]
fn a_sort_past_the_limit_spills_with_allow_disk_use_and_keeps_a_stable_order() {
    let _spilling = SPILLING.lock().unwrap_or_else(|p| p.into_inner());
    let docs = padded_documents(2000);
    let mut expected = docs.clone();
    expected.sort_by_key(|d| d.get_i32("k").expect("k"));
    for (spec, reverse) in [(doc! {"k": 1}, false), (doc! {"k": -1}, true)] {
        let pipeline = one_stage(doc! {"$sort": spec}).with_memory_limit(8192).allow_disk_use(true);
        let out = pipeline.run(docs.iter().cloned().map(Ok), &NoCollections).expect("spilled sort");
        let mut wanted = expected.clone();
        if reverse {
            // Stable descending: keys reversed, equal keys still in input order.
            wanted.sort_by_key(|d| std::cmp::Reverse(d.get_i32("k").expect("k")));
        }
        assert_eq!(out.len(), wanted.len());
        assert!(out == wanted, "the merged runs give the stable sorted order");
    }
    assert_eq!(spill_files(), 0, "the runs' files are removed");
}

#[test]
fn a_group_past_the_limit_spills_with_allow_disk_use_and_merges_its_parts() {
    let _spilling = SPILLING.lock().unwrap_or_else(|p| p.into_inner());
    let docs = padded_documents(3000);
    let spec = doc! {"$group": {
        "_id": "$k",
        "n": {"$sum": 1}, "total": {"$sum": "$_id"}, "avg": {"$avg": "$_id"},
        "min": {"$min": "$_id"}, "max": {"$max": "$_id"},
        "first": {"$first": "$_id"}, "last": {"$last": "$_id"},
        "ids": {"$push": "$_id"}, "ks": {"$addToSet": "$k"}, "m": {"$mergeObjects": {"a": "$_id"}}, "c": {"$count": {}},
    }};
    let sorted = |mut out: Vec<Document>| {
        out.sort_by_key(|d| d.get_i32("_id").expect("_id"));
        out
    };
    let in_memory = sorted(one_stage(spec.clone()).run(docs.iter().cloned().map(Ok), &NoCollections).expect("fits"));
    let small = one_stage(spec).with_memory_limit(16 * 1024).allow_disk_use(true);
    let spilled = small.run(docs.iter().cloned().map(Ok), &NoCollections).expect("spilled group");
    let keys: Vec<i32> = spilled.iter().map(|d| d.get_i32("_id").expect("_id")).collect();
    assert!(keys.windows(2).all(|w| w[0] < w[1]), "spilled groups come in key order");
    assert_eq!(in_memory.len(), 97);
    assert!(sorted(spilled) == in_memory, "the merged parts make the same groups");
    assert_eq!(spill_files(), 0, "the runs' files are removed");
}

#[test]
fn what_a_run_holds_counts_against_the_server_budget() {
    let _spilling = SPILLING.lock().unwrap_or_else(|p| p.into_inner());
    let docs = padded_documents(2000);
    let budget = crate::memory::Budget::new(64 * 1024);
    let sort = one_stage(doc! {"$sort": {"k": 1}}).allow_disk_use(true).with_budget(budget.clone());
    let err = sort.run(docs.iter().cloned().map(Ok), &NoCollections).expect_err("over the budget");
    assert_eq!(err.code().code(), 146, "{err:?}");
    assert_eq!(budget.used(), 0, "a failed run gives back what it held");
    let fits = one_stage(doc! {"$match": {"k": 1}}).with_budget(budget.clone());
    let (out, held) = fits.run_held(docs.iter().cloned().map(Ok), &NoCollections).expect("fits");
    assert_eq!(held.bytes(), out.iter().map(crate::value::size::document_footprint).sum::<usize>());
    drop(held);
    assert_eq!(budget.used(), 0);
}

#[test]
fn a_lookup_joining_more_than_16_mib_fails_with_4568() {
    let mut map = MapCollections::default();
    map.0.insert("big".into(), (0..20).map(|i| doc! {"_id": i, "pad": "x".repeat(1 << 20)}).collect());
    let stages = [Bson::Document(doc! {"$lookup": {"from": "big", "pipeline": [], "as": "all"}})];
    let pipeline = Pipeline::parse(&stages, &Variables::none()).expect("parses");
    let err = pipeline.run(std::iter::once(Ok(doc! {"_id": 1})), &map).expect_err("too large");
    assert_eq!(err.code().code(), 4568, "{err:?}");
    let stages =
        [Bson::Document(doc! {"$lookup": {"from": "big", "localField": "x", "foreignField": "y", "as": "all"}})];
    let pipeline = Pipeline::parse(&stages, &Variables::none()).expect("parses");
    let err = pipeline.run(std::iter::once(Ok(doc! {"_id": 1})), &map).expect_err("too large");
    assert_eq!(err.code().code(), 4568, "every document matches a missing field: {err:?}");
}

/// Collections that count how often each is scanned.
struct CountingCollections(MapCollections, std::cell::Cell<usize>);

impl Collections for CountingCollections {
    fn scan(&self, name: &str) -> Result<Vec<Document>> {
        self.1.set(self.1.get() + 1);
        self.0.scan(name)
    }
}

#[test]
fn lookup_scans_the_foreign_collection_once_per_run() {
    let mut map = MapCollections::default();
    map.0.insert("b".into(), (0..5).map(|i| doc! {"_id": i, "x": i % 2}).collect());
    let collections = CountingCollections(map, std::cell::Cell::new(0));
    let stages = [
        Bson::Document(doc! {"$lookup": {"from": "b", "localField": "x", "foreignField": "x", "as": "eq"}}),
        Bson::Document(doc! {"$lookup": {"from": "b", "let": {"v": "$x"}, "pipeline": [
            {"$match": {"$expr": {"$eq": ["$x", "$$v"]}}},
            {"$lookup": {"from": "b", "let": {"w": "$_id"}, "pipeline": [
                {"$match": {"$expr": {"$and": [{"$eq": ["$_id", "$$w"]}, {"$eq": ["$x", "$$v"]}]}}},
                {"$project": {"_id": 1}},
            ], "as": "self"}},
            {"$project": {"x": 0}},
        ], "as": "nested"}}),
        Bson::Document(doc! {"$project": {"eq": {"$size": "$eq"}, "nested": 1}}),
    ];
    let pipeline = Pipeline::parse(&stages, &Variables::none()).expect("pipeline");
    let input = [doc! {"_id": "a", "x": 1}, doc! {"_id": "b", "x": 0}];
    let out = pipeline.run(input.into_iter().map(Ok), &collections).expect("runs");
    assert_eq!(
        out,
        vec![
            doc! {"_id": "a", "eq": 2, "nested": [{"_id": 1, "self": [{"_id": 1}]}, {"_id": 3, "self": [{"_id": 3}]}]},
            doc! {"_id": "b", "eq": 3, "nested": [
                {"_id": 0, "self": [{"_id": 0}]}, {"_id": 2, "self": [{"_id": 2}]}, {"_id": 4, "self": [{"_id": 4}]},
            ]},
        ]
    );
    assert_eq!(collections.1.get(), 1, "one scan of b for every $lookup of the run");
}

#[test]
fn sub_pipelines_refuse_the_stages_mongodb_refuses() {
    let refused = |stages: Bson| {
        let Bson::Array(stages) = stages else { unreachable!() };
        Pipeline::parse(&stages, &Variables::none()).expect_err("refused").code().code()
    };
    let lookup = |inner: Bson| bson::bson!([{"$lookup": {"from": "b", "pipeline": [inner], "as": "j"}}]);
    assert_eq!(refused(lookup(bson::bson!({"$out": "c"}))), 51047);
    assert_eq!(refused(lookup(bson::bson!({"$merge": {"into": "c"}}))), 51047);
    let facet = |inner: Bson| bson::bson!([{"$facet": {"f": [inner]}}]);
    assert_eq!(refused(facet(bson::bson!({"$out": "c"}))), 40600);
    assert_eq!(refused(facet(bson::bson!({"$merge": {"into": "c"}}))), 40600);
    assert_eq!(refused(facet(bson::bson!({"$facet": {"g": []}}))), 40600);
    let update = Pipeline::parse_update(
        &[Bson::Document(doc! {"$lookup": {"from": "b", "localField": "a", "foreignField": "a", "as": "j"}})],
        &Variables::none(),
    );
    assert_eq!(update.expect_err("refused").code().code(), 72);
}
