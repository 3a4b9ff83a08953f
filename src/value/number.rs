//! Numbers across BSON's four numeric types, as doubles where a rule needs one.

use bson::{Bson, Decimal128};

/// A number of any of the four numeric types as a double (a long beyond 2^53 and
/// a decimal to the nearest); `None` for other types.
pub fn as_f64(value: &Bson) -> Option<f64> {
    match value {
        Bson::Int32(i) => Some(f64::from(*i)),
        Bson::Int64(i) => Some(*i as f64),
        Bson::Double(d) => Some(*d),
        Bson::Decimal128(d) => Some(decimal_to_f64(d)),
        _ => None,
    }
}

/// A decimal as its nearest double, NaN and the infinities included. (Values
/// are compared exactly in [`super::order`], not through this.)
pub fn decimal_to_f64(d: &Decimal128) -> f64 {
    super::decimal::to_f64(super::decimal::from_bson(d))
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    #[test]
    fn every_numeric_type_widens_to_a_double() {
        let decimal = |s: &str| Bson::Decimal128(Decimal128::from_str(s).expect("decimal"));
        assert_eq!(as_f64(&Bson::Int32(-3)), Some(-3.0));
        assert_eq!(as_f64(&Bson::Int64(1 << 40)), Some(1_099_511_627_776.0));
        assert_eq!(as_f64(&decimal("2.5")), Some(2.5));
        assert_eq!(as_f64(&decimal("-Infinity")), Some(f64::NEG_INFINITY));
        assert!(as_f64(&decimal("NaN")).is_some_and(f64::is_nan));
        assert_eq!(as_f64(&Bson::String("1".into())), None);
    }
}
