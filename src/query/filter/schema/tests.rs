use bson::{doc, Bson};

use super::*;

#[test]
fn multiples_are_decided_on_fifteen_digits() {
    let multiple = |v: Bson, d: Bson| is_multiple(&v, &d);
    assert!(multiple(Bson::Double(0.3), Bson::Double(0.1)));
    assert!(multiple(Bson::Double(1e300), Bson::Double(1e-300)), "far apart: a multiple");
    assert!(!multiple(Bson::Double(1e-300), Bson::Double(1e300)));
    assert!(multiple(Bson::Int64(i64::MAX), Bson::Int32(1)));
    assert!(!multiple(Bson::Int64(i64::MAX), Bson::Int32(2)));
    assert!(multiple(Bson::Double(-4.5), Bson::Double(1.5)));
    assert!(!multiple(Bson::Double(f64::NAN), Bson::Int32(1)));
    assert!(!multiple(Bson::Double(f64::INFINITY), Bson::Int32(1)));
}

#[test]
fn equality_ignores_field_order_and_number_types() {
    assert!(values_equal(&Bson::from(doc! {"a": 1, "b": [1.0]}), &Bson::from(doc! {"b": [1i64], "a": 1.0})));
    assert!(!values_equal(
        &Bson::from(vec![Bson::Int32(1), Bson::Int32(2)]),
        &Bson::from(vec![Bson::Int32(2), Bson::Int32(1)])
    ));
    assert!(!values_equal(&Bson::Null, &Bson::Undefined));
    assert!(values_equal(&Bson::Double(f64::NAN), &Bson::Double(f64::NAN)));
}
