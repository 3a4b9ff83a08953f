//! The golden cases of `golden/updates.json` (MongoDB's documented results) and a
//! few unit tests of the API.

use bson::{bson, doc, Bson, DateTime, Document};

use super::*;
use crate::query::golden;

/// The number of golden cases: a case lost from the file fails the test.
const CASES: usize = 211;

/// The time `$currentDate` sets in the golden cases (2020-01-22T21:21:41.052Z).
const NOW_MILLIS: i64 = 1_579_728_101_052;

/// Runs one golden case: parses the update with its array filters and applies it
/// to `before` with the case's `position` and `inserting`.
fn run(case: &Document) -> Result<Document> {
    let filters: Vec<Document> = match case.get("arrayFilters") {
        Some(Bson::Array(items)) => {
            items.iter().map(|f| f.as_document().cloned().expect("an array filter is a document")).collect()
        }
        _ => Vec::new(),
    };
    let update = Update::parse(case.get("update").expect("a case has an update"), &filters, &Variables::none())?;
    let ctx = Context {
        inserting: case.get_bool("inserting").unwrap_or(false),
        position: case.get_i32("position").ok().map(|p| usize::try_from(p).expect("a position")),
        now: DateTime::from_millis(NOW_MILLIS),
    };
    update.apply(case.get_document("before").expect("a case has a document before"), &ctx)
}

/// Whether the filters can evaluate query operators such as `$gte` yet (they are
/// built elsewhere); cases marked `filterOperators` need them.
fn filter_operators() -> bool {
    crate::query::Filter::parse(&doc! {"a": {"$gte": 1}}, &Variables::none()).is_ok()
}

#[test]
fn golden_updates() {
    let operators = filter_operators();
    let (mut total, mut skipped) = (0, 0);
    let mut failures = Vec::new();
    for group in golden::load(include_str!("../golden/updates.json")) {
        let cases = group.body.get_array("cases").expect("a group has cases");
        for (index, case) in cases.iter().enumerate() {
            total += 1;
            let case = case.as_document().expect("a case is an object");
            if case.get_bool("filterOperators").unwrap_or(false) && !operators {
                skipped += 1;
                continue;
            }
            let got = run(case);
            let failure = match (case.get_document("after"), case.get_i32("error")) {
                (Ok(after), _) => match &got {
                    Ok(doc) if doc == after => None,
                    _ => Some(format!("expected {after}")),
                },
                (_, Ok(code)) => match &got {
                    Err(err) if err.code().code() == code => match case.get_str("message") {
                        Ok(message) if !err.to_string().ends_with(message) => {
                            Some(format!("expected message {message}"))
                        }
                        _ => None,
                    },
                    _ => Some(format!("expected error {code}")),
                },
                _ => Some("a case needs `after` or `error`".to_owned()),
            };
            if let Some(expected) = failure {
                failures.push(format!("{} ({}) #{index}: {expected}, got {got:?}", group.name, group.doc));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} golden update cases failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(total, CASES, "the number of golden update cases");
    if skipped > 0 {
        eprintln!("{skipped} golden update cases need query operators in filters and were skipped");
    }
}

#[test]
fn replacement_is_detected_for_multi_updates() {
    assert!(matches!(Update::parse(&bson!({"a": 1}), &[], &Variables::none()).expect("parse"), Update::Replace(_)));
    assert!(matches!(
        Update::parse(&bson!({"$set": {"a": 1}}), &[], &Variables::none()).expect("parse"),
        Update::Operators(_)
    ));
    assert!(matches!(
        Update::parse(&bson!([{"$set": {"a": 1}}]), &[], &Variables::none()).expect("parse"),
        Update::Pipeline(_)
    ));
}

#[test]
fn an_upsert_seed_gets_set_on_insert_fields() {
    let update =
        Update::parse(&bson!({"$setOnInsert": {"b": 1}, "$set": {"a": 1}}), &[], &Variables::none()).expect("parse");
    let inserted = update.apply(&doc! {"_id": 1}, &Context::new(true, None)).expect("apply");
    assert_eq!(inserted, doc! {"_id": 1, "a": 1, "b": 1});
    let updated = update.apply(&doc! {"_id": 1}, &Context::new(false, None)).expect("apply");
    assert_eq!(updated, doc! {"_id": 1, "a": 1});
}

#[test]
fn a_pipeline_update_keeps_the_id_it_leaves_out() {
    let ctx = Context::new(false, None);
    let doc = doc! {"_id": 1, "x": 1, "t": {"u": {"v": 1}}};
    let update = Update::parse(
        &bson!([{"$replaceRoot": {"newRoot": "$t"}}, {"$addFields": {"foo": 1}}]),
        &[],
        &Variables::none(),
    )
    .expect("parse");
    assert_eq!(update.apply(&doc, &ctx).expect("apply"), doc! {"_id": 1, "u": {"v": 1}, "foo": 1});
    let moved =
        Update::parse(&bson!([{"$replaceWith": {"a": 1, "_id": "$_id"}}]), &[], &Variables::none()).expect("parse");
    assert_eq!(moved.apply(&doc, &ctx).expect("apply"), doc! {"_id": 1, "a": 1});
    let altered = Update::parse(&bson!([{"$set": {"_id": 2}}]), &[], &Variables::none()).expect("parse");
    assert_eq!(altered.apply(&doc, &ctx).expect_err("altered").code().code(), 66);
}
