//! The golden cases of `src/query/golden/expressions.json`: each case evaluates
//! `expr` against `root` and expects the value `expect` (compared exactly: field
//! order and numeric types count), or the error code `error`. A case may say
//! `"missing": true` to expect a missing value.

use bson::Bson;

use super::{Expr, Variables};
use crate::query::golden;

/// How many cases the golden file holds; update it when adding cases.
const CASES: usize = 1075;

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

/// A decimal product keeps the operands' exponents when it is exact, as IEEE 754
/// decimal multiplication does: 2.50 × 2 is 5.00, not 5.0.
#[test]
fn an_exact_decimal_product_keeps_its_exponent() {
    let product = |a: &str, b: Bson| {
        let spec = bson::doc! {"$multiply": [Bson::Decimal128(a.parse().expect("decimal")), b]};
        Expr::parse(&Bson::Document(spec), &Variables::none()).and_then(|e| e.evaluate(&bson::Document::new()))
    };
    let decimal = |s: &str| Bson::Decimal128(s.parse().expect("decimal"));
    assert_eq!(product("2.50", Bson::Int32(2)).expect("product"), decimal("5.00"));
    assert_eq!(product("1.1", decimal("1.1")).expect("product"), decimal("1.21"));
    assert_eq!(product("100", Bson::Int32(3)).expect("product"), decimal("300"));
}
