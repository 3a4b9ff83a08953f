//! The golden cases of `src/query/golden/aggregation.json`: each group holds input
//! `documents`, and each case a `pipeline` that must produce exactly `expect` (field
//! order and numeric types count), `count` documents (for `$sample`), or fail with
//! the error code `error`.

use bson::{doc, Bson, Document};

use super::{NoCollections, Pipeline};
use crate::error::Result;
use crate::query::expr::Variables;
use crate::query::golden;

/// How many cases the golden file holds; update it when adding cases.
const CASES: usize = 101;

/// Runs a case's pipeline over the group's documents.
fn run(pipeline: &[Bson], documents: &[Document]) -> Result<Vec<Document>> {
    Pipeline::parse(pipeline, &Variables::none())?.run(documents.iter().cloned().map(Ok), &NoCollections)
}

#[test]
fn golden_aggregation() {
    let mut failures = Vec::new();
    let mut count = 0;
    for group in golden::load(include_str!("../golden/aggregation.json")) {
        let documents: Vec<Document> = match group.body.get_array("documents") {
            Ok(docs) => docs.iter().map(|d| d.as_document().expect("documents are objects").clone()).collect(),
            Err(_) => Vec::new(),
        };
        let cases = group.body.get_array("cases").expect("a group has cases");
        for (index, case) in cases.iter().enumerate() {
            count += 1;
            let Bson::Document(case) = case else { panic!("{}: case {index} is not an object", group.name) };
            let pipeline = case.get_array("pipeline").expect("a case has a pipeline");
            let got = run(pipeline, &documents);
            let ok = match (&got, case.get("expect"), case.get("error"), case.get("count")) {
                (Ok(docs), Some(Bson::Array(expected)), None, None) => {
                    docs.len() == expected.len() && docs.iter().zip(expected).all(|(d, e)| e.as_document() == Some(d))
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
