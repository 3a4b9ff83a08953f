//! Truthiness: whether a value counts as true where MongoDB wants a condition
//! (`$expr`, `$cond`, `$and`, `$allElementsTrue`, projection flags, boolean options
//! given as numbers).

use bson::{Bson, Decimal128};

/// False for `false`, null, undefined, missing and every zero (int, long, double,
/// decimal, negative zero included); true for everything else, NaN included.
pub fn truthy(value: Option<&Bson>) -> bool {
    match value {
        None | Some(Bson::Null | Bson::Undefined | Bson::Boolean(false)) => false,
        Some(Bson::Int32(n)) => *n != 0,
        Some(Bson::Int64(n)) => *n != 0,
        Some(Bson::Double(n)) => *n != 0.0,
        Some(Bson::Decimal128(d)) => !is_zero(d),
        Some(_) => true,
    }
}

/// Whether a decimal is a zero of any sign and exponent (`0`, `-0`, `0.000`,
/// `0E+3`): its coefficient has no digit but zeros. NaN and the infinities are not.
fn is_zero(d: &Decimal128) -> bool {
    super::decimal::from_bson(d).is_zero()
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use super::*;

    fn decimal(text: &str) -> Option<Bson> {
        Some(Bson::Decimal128(Decimal128::from_str(text).expect("a decimal")))
    }

    #[test]
    fn zeros_of_every_type_are_false_and_nan_is_true() {
        for falsy in [None, Some(Bson::Null), Some(Bson::Undefined), Some(Bson::Boolean(false))] {
            assert!(!truthy(falsy.as_ref()), "{falsy:?}");
        }
        for zero in [Some(Bson::Int32(0)), Some(Bson::Int64(0)), Some(Bson::Double(0.0)), Some(Bson::Double(-0.0))] {
            assert!(!truthy(zero.as_ref()), "{zero:?}");
        }
        for zero in ["0", "-0", "0.000", "0E+3", "-0E-6"] {
            assert!(!truthy(decimal(zero).as_ref()), "{zero}");
        }
        for one in ["1", "-0.001", "1E-6000", "NaN", "Infinity", "-Infinity"] {
            assert!(truthy(decimal(one).as_ref()), "{one}");
        }
        assert!(truthy(Some(&Bson::Double(f64::NAN))));
        for other in [Bson::String(String::new()), Bson::Array(vec![]), Bson::Document(bson::doc! {}), Bson::MinKey] {
            assert!(truthy(Some(&other)), "{other:?}");
        }
    }
}
