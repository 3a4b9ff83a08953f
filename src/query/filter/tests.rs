use bson::{doc, Bson, Document};

use super::*;

fn filter(spec: Document) -> Filter {
    Filter::parse(&spec, &Variables::none()).expect("filter parses")
}

fn error_code(spec: Document) -> i32 {
    Filter::parse(&spec, &Variables::none()).expect_err("filter is refused").code().code()
}

/// Runs every case of `golden/filters.json`: a case holds a filter and either
/// the `_id`s of the group's documents it matches (in collection order, with
/// the matched array positions when `positions` is given) or the error code it
/// is refused with.
#[test]
fn golden_filters() {
    run_golden(include_str!("../golden/filters.json"), 288);
}

/// The `$jsonSchema` cases (`golden/json-schema.json`), run like the filters'.
#[test]
fn golden_json_schema() {
    run_golden(include_str!("../golden/json-schema.json"), 208);
}

fn run_golden(file: &str, count: usize) {
    let groups = crate::query::golden::load(file);
    let (mut total, mut failures) = (0, Vec::new());
    for group in &groups {
        let documents: Vec<Document> = group
            .body
            .get_array("documents")
            .expect("a group has documents")
            .iter()
            .map(|d| d.as_document().expect("documents are objects").clone())
            .collect();
        for (index, case) in group.body.get_array("cases").expect("a group has cases").iter().enumerate() {
            total += 1;
            let case = case.as_document().expect("a case is an object");
            let spec = case.get_document("filter").expect("a case has a filter");
            let got = match Filter::parse(spec, &Variables::none()) {
                Err(e) => Bson::from(doc! {"error": e.code().code()}),
                Ok(f) => {
                    let matched: Vec<&Document> = documents.iter().filter(|d| f.matches(d)).collect();
                    let ids: Vec<Bson> = matched.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
                    let mut got = doc! {"expect": ids};
                    if case.contains_key("positions") {
                        let positions: Vec<Bson> = matched
                            .iter()
                            .map(|d| f.matched_position(d).map_or(Bson::Null, |p| Bson::Int32(p as i32)))
                            .collect();
                        got.insert("positions", positions);
                    }
                    Bson::from(got)
                }
            };
            let mut expected = case.clone();
            expected.remove("filter");
            if let Some(code) = expected.get("error").cloned() {
                expected.insert("error", Bson::Int32(code.as_i32().expect("error codes are ints")));
            }
            if got != Bson::from(expected.clone()) {
                failures.push(format!(
                    "{} #{index} ({}): {spec}\n  got      {got}\n  expected {expected}",
                    group.name, group.doc
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} golden cases failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(total, count, "the number of golden cases");
}

#[test]
fn default_filter_matches_everything() {
    let f = Filter::default();
    assert!(f.matches(&doc! {}));
    assert!(f.matches(&doc! {"a": 1}));
    assert!(filter(doc! {}).matches(&doc! {"a": 1}));
}

#[test]
fn missing_and_null() {
    let f = filter(doc! {"a.b": null});
    assert!(f.matches(&doc! {}), "missing parent");
    assert!(f.matches(&doc! {"a": 5}), "a scalar where the path goes on counts as missing");
    assert!(f.matches(&doc! {"a": [{"c": 1}]}), "an element without the field");
    assert!(!f.matches(&doc! {"a": [1, 2]}), "scalars in an array reach nothing");
    assert!(!f.matches(&doc! {"a": []}));
    assert!(f.matches(&doc! {"a": {"b": Bson::Undefined}}), "undefined equals null");
    assert!(!filter(doc! {"a": {"$ne": null}}).matches(&doc! {"a": [null, 1]}));
    assert!(filter(doc! {"a": {"$gte": null}}).matches(&doc! {}));
    assert!(!filter(doc! {"a": {"$lt": null}}).matches(&doc! {}));
}

#[test]
fn missing_fields_against_min_and_max_key() {
    assert!(filter(doc! {"a": {"$gt": Bson::MinKey}}).matches(&doc! {}));
    assert!(filter(doc! {"a": {"$lte": Bson::MaxKey}}).matches(&doc! {}));
    assert!(!filter(doc! {"a": Bson::MinKey}).matches(&doc! {}));
    assert!(!filter(doc! {"a": {"$gt": 5}}).matches(&doc! {}));
}

#[test]
fn nan_is_only_equal_to_nan() {
    let nan = doc! {"a": f64::NAN};
    assert!(filter(doc! {"a": f64::NAN}).matches(&nan));
    assert!(filter(doc! {"a": {"$gte": f64::NAN}}).matches(&nan));
    assert!(!filter(doc! {"a": {"$lt": 5}}).matches(&nan), "NaN is below numbers when sorting, not in $lt");
    assert!(!filter(doc! {"a": {"$gt": f64::NAN}}).matches(&doc! {"a": 5}));
}

#[test]
fn numeric_path_parts_and_nested_arrays() {
    assert!(filter(doc! {"a.0.b": 1}).matches(&doc! {"a": [{"b": 1}]}));
    assert!(filter(doc! {"a.0.b": 1}).matches(&doc! {"a": [[{"b": 1}]]}), "a numeric part enters a nested array");
    assert!(!filter(doc! {"a.b": 1}).matches(&doc! {"a": [[{"b": 1}]]}), "no implicit descent into nested arrays");
    assert!(filter(doc! {"a.0": 1}).matches(&doc! {"a": {"0": 1}}), "a numeric part also names a field");
    assert!(filter(doc! {"a.0": 1}).matches(&doc! {"a": [{"0": 1}]}));
    assert!(!filter(doc! {"a.01": 1}).matches(&doc! {"a": [5, 1]}), "only canonical numbers are positions");
    assert!(!filter(doc! {"a": 1}).matches(&doc! {"a": [[1]]}), "only one level of elements");
    assert!(filter(doc! {"a": [1]}).matches(&doc! {"a": [[1]]}));
    assert!(filter(doc! {"a.b.c": 3}).matches(&doc! {"a": [{"b": [{"c": 1}, {"c": 3}]}]}));
}

#[test]
fn negations_cover_every_value() {
    let doc = doc! {"a": [1, 2]};
    assert!(!filter(doc! {"a": {"$ne": 1}}).matches(&doc));
    assert!(!filter(doc! {"a": {"$nin": [2, 5]}}).matches(&doc));
    assert!(filter(doc! {"a": {"$not": {"$gt": 5}}}).matches(&doc));
    assert!(!filter(doc! {"a": {"$not": {"$gt": 1}}}).matches(&doc));
    assert!(filter(doc! {"a.b": {"$exists": false}}).matches(&doc));
}

#[test]
fn elem_match_on_nested_arrays_and_dbrefs() {
    assert!(filter(doc! {"a": {"$elemMatch": {"0": 1}}}).matches(&doc! {"a": [[1, 2]]}));
    assert!(filter(doc! {"a": {"$elemMatch": {"$elemMatch": {"$gt": 1}}}}).matches(&doc! {"a": [[0, 2]]}));
    let refs = doc! {"a": [{"$ref": "c", "$id": 1}, {"$ref": "c", "$id": 2}]};
    assert!(filter(doc! {"a": {"$elemMatch": {"$ref": "c", "$id": 2}}}).matches(&refs));
    assert!(filter(doc! {"a": {"$ref": "c", "$id": 2}}).matches(&refs), "a DBRef is a value, not operators");
}

#[test]
fn regex_semantics() {
    assert!(filter(doc! {"a": {"$regex": "^b"}}).matches(&doc! {"a": Bson::Symbol("bee".into())}));
    assert!(!filter(doc! {"a": {"$regex": "1"}}).matches(&doc! {"a": 1}));
    assert!(filter(doc! {"a": {"$in": [bson::Regex { pattern: "x".into(), options: "".into() }]}})
        .matches(&doc! {"a": bson::Regex { pattern: "x".into(), options: "".into() }}));
    assert_eq!(error_code(doc! {"a": {"$regex": "a", "$options": "q"}}), 51108);
    let err = Filter::parse(&doc! {"a": {"$regex": "("}}, &Variables::none()).expect_err("invalid");
    assert!(err.to_string().contains("Regular expression is invalid"), "{err}");
}

#[test]
fn error_messages_read_like_mongodbs() {
    let message = |spec: Document| match Filter::parse(&spec, &Variables::none()) {
        Err(Error::Command { message, .. }) => message,
        other => panic!("expected a command error, got {other:?}"),
    };
    assert_eq!(message(doc! {"$foo": 1}), "unknown top level operator: $foo");
    assert_eq!(message(doc! {"a": {"$foo": 1}}), "unknown operator: $foo");
    assert_eq!(message(doc! {"a": {"$in": 1}}), "$in needs an array");
    assert_eq!(message(doc! {"a": {"$nin": 1}}), "$nin needs an array");
    assert_eq!(message(doc! {"a": {"$all": 1}}), "$all needs an array");
    assert_eq!(message(doc! {"$or": []}), "$and/$or/$nor must be a nonempty array");
    assert_eq!(message(doc! {"a": {"$size": "x"}}), "$size needs a number");
    assert_eq!(message(doc! {"a": {"$type": "foo"}}), "Unknown type name alias: foo");
    assert_eq!(message(doc! {"a": {"$mod": [1]}}), "malformed mod, not enough elements");
    assert_eq!(
        message(doc! {"a": {"$mod": [f64::NAN, 1]}}),
        "malformed mod, divisor value is invalid :: caused by :: Unable to coerce NaN/Inf to integral type"
    );
    assert_eq!(message(doc! {"a": {"$elemMatch": 1}}), "$elemMatch needs an Object");
    assert_eq!(message(doc! {"a": {"$not": 1}}), "$not needs a regex or a document");
    assert_eq!(message(doc! {"a": {"$regex": 1}}), "$regex has to be a string");
    assert_eq!(message(doc! {"a": {"$options": "i"}}), "$options needs a $regex");
    assert_eq!(message(doc! {"a": Bson::Undefined}), "cannot compare to undefined");
}

#[test]
fn expr_is_false_when_evaluation_fails() {
    // Whatever `$expr` evaluates to, {$eq: [1, 2]} is false; an evaluation
    // error makes the document not match instead of failing the query.
    assert!(!filter(doc! {"$expr": {"$eq": [1, 2]}}).matches(&doc! {"a": 1}));
}

#[test]
fn id_equality_is_a_point_lookup_only() {
    assert_eq!(filter(doc! {"_id": 5, "a": 1}).id_equality(), Some(&Bson::Int32(5)));
    assert_eq!(filter(doc! {"_id": {"$eq": "x"}}).id_equality(), Some(&Bson::String("x".into())));
    assert_eq!(filter(doc! {"$and": [{"_id": 7}]}).id_equality(), Some(&Bson::Int32(7)));
    assert_eq!(filter(doc! {"_id": {"a": 1}}).id_equality(), Some(&Bson::Document(doc! {"a": 1})));
    assert_eq!(filter(doc! {"_id": [1, 2]}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$gt": 1}}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$in": [1, 2]}}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$ne": 1}}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$eq": {"$gt": 1}}}).id_equality(), None);
    assert_eq!(filter(doc! {"$or": [{"_id": 1}]}).id_equality(), None);
    let regex = bson::Regex { pattern: "x".into(), options: "".into() };
    assert_eq!(filter(doc! {"_id": regex.clone()}).id_equality(), None);
    assert_eq!(filter(doc! {"_id": {"$eq": regex}}).id_equality(), None);
    assert_eq!(filter(doc! {"a._id": 1}).id_equality(), None);
}

#[test]
fn upsert_seed_takes_equalities() {
    let seed = filter(doc! {
        "a": 1, "b.c": {"$eq": 2}, "d": {"$gt": 3}, "e": {"$in": [4]}, "f": {"$in": [5, 6]},
        "$and": [{"g": 7}, {"b.d": 8}], "$or": [{"h": 9}], "i": {"$regex": "x"},
    })
    .upsert_seed()
    .expect("seed");
    assert_eq!(seed, doc! {"a": 1, "b": {"c": 2, "d": 8}, "e": 4, "g": 7});
    assert_eq!(filter(doc! {"a": 1, "$and": [{"a": 2}]}).upsert_seed().expect_err("twice").code().code(), 54);
    assert_eq!(filter(doc! {"a": 1, "a.b": 2}).upsert_seed().expect_err("prefix").code().code(), 54);
    assert!(filter(doc! {"a": 1, "ab": 2}).upsert_seed().is_ok());
}

#[test]
fn matched_position_prefers_the_outer_array() {
    let doc = doc! {"a": [{"b": [1, 2]}, {"b": [3, 4]}]};
    assert_eq!(filter(doc! {"a.b": 4}).matched_position(&doc), Some(1));
    assert_eq!(filter(doc! {"a.1.b": 4}).matched_position(&doc), Some(1), "the inner b array");
    assert_eq!(filter(doc! {"a.b": 9}).matched_position(&doc), None);
    assert_eq!(filter(doc! {"x": 1, "a.b": 2}).matched_position(&doc! {"x": 1, "a": [{"b": 2}]}), Some(0));
    assert_eq!(filter(doc! {"$or": [{"a.b": 4}]}).matched_position(&doc), None, "$or records no position");
}

#[test]
fn refused_operators() {
    assert_eq!(error_code(doc! {"$where": "1"}), 2);
    assert_eq!(error_code(doc! {"a": {"$geoWithin": {}}}), 2);
    assert_eq!(error_code(doc! {"a": {"$elemMatch": {"$text": {"$search": "x"}}}}), 2);
    assert!(filter(doc! {"$alwaysTrue": 1}).matches(&doc! {}));
    assert!(!filter(doc! {"$alwaysFalse": 1}).matches(&doc! {}));
}

/// The explanations of rejected documents (`golden/validation-errors.json`): each
/// case holds a validator, a document it rejects and the `details` MongoDB gives.
/// Integers are compared by value (MongoDB's own tests do the same).
#[test]
fn golden_validation_errors() {
    fn widen(value: Bson) -> Bson {
        match value {
            Bson::Int32(n) => Bson::Int64(i64::from(n)),
            Bson::Document(doc) => Bson::Document(doc.into_iter().map(|(k, v)| (k, widen(v))).collect()),
            Bson::Array(items) => Bson::Array(items.into_iter().map(widen).collect()),
            other => other,
        }
    }
    let groups = crate::query::golden::load(include_str!("../golden/validation-errors.json"));
    let (mut total, mut failures) = (0, Vec::new());
    for group in &groups {
        for (index, case) in group.body.get_array("cases").expect("cases").iter().enumerate() {
            total += 1;
            let case = case.as_document().expect("a case is an object");
            let validator = case.get_document("validator").expect("validator");
            let document = case.get_document("document").expect("document");
            let expected = case.get_document("details").expect("details");
            let filter = Filter::parse(validator, &Variables::none()).expect("the validator parses");
            assert!(!filter.matches(document), "case #{index}: {document} passes {validator}");
            let got = super::explain_failure(validator, document);
            if widen(Bson::from(got.clone())) != widen(Bson::from(expected.clone())) {
                failures.push(format!("#{index}: {validator} on {document}\n  got      {got}\n  expected {expected}"));
            }
        }
    }
    assert!(failures.is_empty(), "{} of {total} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(total, 95, "the number of cases");
}

#[test]
fn sample_rate_keeps_each_document_with_its_probability() {
    let parse = |rate: Bson| Filter::parse(&doc! {"$sampleRate": rate}, &Variables::none());
    let doc = doc! {"a": 1};
    assert!(!parse(Bson::Int32(0)).expect("0").matches(&doc));
    assert!(parse(Bson::Int32(1)).expect("1").matches(&doc));
    let half = parse(Bson::Double(0.5)).expect("0.5");
    let kept = (0..2000).filter(|_| half.matches(&doc)).count();
    assert!((800..1200).contains(&kept), "kept {kept} of 2000");
    for bad in [Bson::Double(1.5), Bson::String("x".into()), Bson::Double(f64::NAN)] {
        assert_eq!(parse(bad).map(|_| ()).map_err(|e| e.code()), Err(crate::error::ErrorCode::BadValue));
    }
    let nested = Filter::parse(&doc! {"a": {"$elemMatch": {"$sampleRate": 0.5}}}, &Variables::none());
    assert!(nested.is_err());
}
