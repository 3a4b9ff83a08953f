//! The golden cases of `src/query/golden/expressions.json`: each case evaluates
//! `expr` against `root` and expects the value `expect` (compared exactly: field
//! order and numeric types count), or the error code `error`. A case may say
//! `"missing": true` to expect a missing value.

use bson::Bson;

use super::{Expr, Variables};
use crate::query::golden;

/// How many cases the golden file holds; update it when adding cases.
const CASES: usize = 1029;

#[test]
fn golden_expressions() {
    let mut failures = Vec::new();
    let mut count = 0;
    for group in golden::load(include_str!("../golden/expressions.json")) {
        let cases = group.body.get_array("cases").expect("a group has cases");
        for (index, case) in cases.iter().enumerate() {
            count += 1;
            let Bson::Document(case) = case else { panic!("{}: case {index} is not an object", group.name) };
            let root = case.get_document("root").cloned().unwrap_or_default();
            let spec = case.get("expr").expect("a case has an expr");
            let got = Expr::parse(spec, &Variables::none()).and_then(|e| e.evaluate_optional(&root));
            let outcome = match (&got, case.get("expect"), case.get("error")) {
                (Ok(value), Some(expected), None) if value.as_ref() == Some(expected) => None,
                (Ok(None), None, None) if case.get_bool("missing") == Ok(true) => None,
                (Err(e), None, Some(code)) if Bson::Int32(e.code().code()) == *code => None,
                _ => Some(format!(
                    "{} ({}) case {index}: {spec} got {got:?}, expected {:?}",
                    group.name,
                    group.doc,
                    case.get("expect").or(case.get("error"))
                )),
            };
            failures.extend(outcome);
        }
    }
    assert!(failures.is_empty(), "{} of {count} cases failed:\n{}", failures.len(), failures.join("\n"));
    assert_eq!(count, CASES, "the number of golden cases changed");
}
