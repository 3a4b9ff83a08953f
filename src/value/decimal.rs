//! Decimal128 values as IEEE 754-2008 decimal numbers.
//!
//! BSON stores a Decimal128 in the binary integer decimal encoding (BID); the
//! arithmetic is libdecnumber's, through the `dec` crate, whose numbers use the
//! densely packed encoding (DPD). This module reads and writes BSON's encoding and
//! moves values between the two, so every rule about a decimal's value (equality,
//! order, conversion to and from doubles) is computed on the number itself.

use std::cmp::Ordering;

use bson::Decimal128 as Bid;
use dec::{Context, Decimal128};

/// The largest coefficient a Decimal128 holds: 34 nines. A larger one in BSON's
/// encoding is non-canonical and reads as zero.
const MAX_COEFFICIENT: u128 = 9_999_999_999_999_999_999_999_999_999_999_999;

/// The bias of the stored exponent: a stored 0 is 10^-6176.
const EXPONENT_BIAS: i32 = 6176;

/// The context of decimal128 arithmetic: 34 digits, exponents -6176 to 6111,
/// rounding half-even, no traps.
pub fn context() -> Context<Decimal128> {
    Context::default()
}

/// A BSON decimal as a decimal number (NaN, the infinities and negative zero
/// included).
pub fn from_bson(d: &Bid) -> Decimal128 {
    let bits = u128::from_le_bytes(d.bytes());
    let negative = bits >> 127 == 1;
    let magnitude = match (bits >> 122) & 0x1f {
        0x1f => Decimal128::NAN,
        0x1e => infinity(),
        _ => {
            // Two forms: the coefficient in the low 113 bits, or (when the two bits
            // after the sign are set) "100" followed by the low 111 bits, which is
            // always past 34 digits and so non-canonical.
            let (exponent, coefficient) = if (bits >> 125) & 0b11 == 0b11 {
                ((bits >> 111) & 0x3fff, MAX_COEFFICIENT + 1)
            } else {
                ((bits >> 113) & 0x3fff, bits & ((1 << 113) - 1))
            };
            let coefficient = if coefficient > MAX_COEFFICIENT { 0 } else { coefficient };
            let mut cx = context();
            let mut number = cx.from_u128(coefficient);
            cx.set_exponent(&mut number, exponent as i32 - EXPONENT_BIAS);
            number
        }
    };
    if negative {
        negate(magnitude)
    } else {
        magnitude
    }
}

/// A decimal number in BSON's encoding (canonical: NaN is quiet, with no payload).
pub fn to_bson(d: Decimal128) -> Bid {
    let sign = u128::from(d.is_signed()) << 127;
    let bits = if d.is_nan() {
        0x1f << 122
    } else if d.is_infinite() {
        0x1e << 122
    } else {
        // A finite decimal128 has at most 34 digits, which fit the 113-bit form.
        let coefficient = d.coefficient().unsigned_abs();
        let exponent = (d.exponent() + EXPONENT_BIAS) as u128;
        (exponent << 113) | coefficient
    };
    Bid::from_bytes((sign | bits).to_le_bytes())
}

/// Positive infinity (the same bits in both encodings).
pub fn infinity() -> Decimal128 {
    Decimal128::from_le_bytes((0x1e_u128 << 122).to_le_bytes())
}

/// `-d`, exactly: only the sign changes (zeros and NaN included).
pub fn negate(d: Decimal128) -> Decimal128 {
    let mut bytes = d.to_le_bytes();
    bytes[15] ^= 0x80;
    Decimal128::from_le_bytes(bytes)
}

/// A long as a decimal (exactly: a long has at most 19 digits).
pub fn from_i64(n: i64) -> Decimal128 {
    context().from_i128(n.into())
}

/// A double as a decimal rounded to `digits` significant digits (MongoDB converts
/// with 15 for arithmetic and 34 for comparisons); NaN and the infinities as
/// themselves.
pub fn from_f64(f: f64, digits: usize) -> Decimal128 {
    if f.is_nan() {
        return Decimal128::NAN;
    }
    if f.is_infinite() {
        return if f > 0.0 { infinity() } else { negate(infinity()) };
    }
    let text = format!("{f:.prec$e}", prec = digits.clamp(1, 34) - 1);
    context().parse(text.as_str()).unwrap_or(Decimal128::NAN)
}

/// The double nearest a decimal (NaN and the infinities as themselves).
pub fn to_f64(d: Decimal128) -> f64 {
    if d.is_nan() {
        return f64::NAN;
    }
    let magnitude = if d.is_infinite() {
        f64::INFINITY
    } else {
        // The coefficient and exponent in Rust's float syntax are parsed with
        // correct rounding.
        format!("{}e{}", d.coefficient().unsigned_abs(), d.exponent()).parse().unwrap_or(f64::NAN)
    };
    if d.is_signed() {
        -magnitude
    } else {
        magnitude
    }
}

/// Compares two decimals by value, as MongoDB orders numbers: NaN equals NaN and
/// is below every other number; zeros of either sign and any exponent are equal.
pub fn compare(a: Decimal128, b: Decimal128) -> Ordering {
    match (a.is_nan(), b.is_nan()) {
        (true, true) => Ordering::Equal,
        (true, false) => Ordering::Less,
        (false, true) => Ordering::Greater,
        (false, false) => context().partial_cmp(a, b).unwrap_or(Ordering::Equal),
    }
}

/// Compares a decimal with a double exactly, as MongoDB does (NaN equals NaN and
/// is below every other number).
pub fn compare_with_f64(d: Decimal128, f: f64) -> Ordering {
    match (d.is_nan(), f.is_nan()) {
        (true, true) => return Ordering::Equal,
        (true, false) => return Ordering::Less,
        (false, true) => return Ordering::Greater,
        (false, false) => {}
    }
    // Rounding to the nearest double keeps order, so the nearest double settles
    // every case but the one where it is `f` itself.
    let nearest = to_f64(d);
    if nearest != f {
        return nearest.partial_cmp(&f).unwrap_or(Ordering::Equal);
    }
    if f.is_infinite() {
        // `d` rounds to an infinity only when it is one or past every double.
        return if d.is_infinite() {
            Ordering::Equal
        } else {
            f.partial_cmp(&0.0).unwrap_or(Ordering::Equal).reverse()
        };
    }
    // Every finite double is a decimal of at most 767 significant digits, which
    // Rust writes exactly at this precision.
    let mut cx = Context::<Exact>::default();
    let exact = cx.parse(format!("{f:.767e}")).unwrap_or_else(|_| Exact::nan());
    cx.partial_cmp(&Exact::from(d), &exact).unwrap_or(Ordering::Equal)
}

/// A general decimal wide enough to hold any double exactly (256 units of 3 digits).
type Exact = dec::Decimal<256>;

#[cfg(test)]
mod tests {
    use super::*;

    fn bid(text: &str) -> Bid {
        text.parse().expect("a decimal")
    }

    #[test]
    fn bson_values_read_and_write_back_bit_for_bit() {
        for text in [
            "0",
            "-0",
            "1",
            "-1.5",
            "0.100000000000000",
            "1E+6111",
            "9.999999999999999999999999999999999E+6144",
            "1E-6176",
            "-1.234567890123456789012345678901234E-6143",
            "Infinity",
            "-Infinity",
            "NaN",
            "1234567890123456789012345678901234",
            "5.00",
            "0E-10",
            "-0E+3",
        ] {
            let d = from_bson(&bid(text));
            assert_eq!(to_bson(d).bytes(), bid(text).bytes(), "{text}");
            assert_eq!(d.to_string().parse::<Bid>().map(|b| b.bytes()).ok(), Some(bid(text).bytes()), "{text}");
        }
    }

    #[test]
    fn non_canonical_coefficients_read_as_zero() {
        // Coefficient 10^34 in the 113-bit form, exponent 0.
        let bits = (6176u128 << 113) | (MAX_COEFFICIENT + 1);
        let d = from_bson(&Bid::from_bytes(bits.to_le_bytes()));
        assert!(d.is_zero() && d.exponent() == 0);
        // The second form ("11" after the sign), exponent 0.
        let bits = (0b11u128 << 125) | (6176u128 << 111) | 5;
        assert!(from_bson(&Bid::from_bytes(bits.to_le_bytes())).is_zero());
    }

    #[test]
    fn decimals_compare_exactly_where_doubles_would_blur_them() {
        let (one, a_bit_more) = (from_bson(&bid("1")), from_bson(&bid("1.0000000000000000000000000000001")));
        assert_eq!(to_f64(one), to_f64(a_bit_more));
        assert_eq!(compare(one, a_bit_more), Ordering::Less);
        assert_eq!(compare(from_bson(&bid("-0")), from_bson(&bid("0E+5"))), Ordering::Equal);
        assert_eq!(compare(Decimal128::NAN, negate(infinity())), Ordering::Less);
        assert_eq!(compare(Decimal128::NAN, Decimal128::NAN), Ordering::Equal);
    }

    #[test]
    fn decimals_compare_with_doubles_exactly() {
        let d = |text: &str| from_bson(&bid(text));
        assert_eq!(compare_with_f64(d("0.1"), 0.1), Ordering::Less, "0.1 as a double is a little above 1/10");
        assert_eq!(compare_with_f64(d("0.1000000000000000055511151231257827"), 0.1), Ordering::Less);
        assert_eq!(compare_with_f64(d("0.1000000000000000055511151231257828"), 0.1), Ordering::Greater);
        assert_eq!(compare_with_f64(d("1.5"), 1.5), Ordering::Equal);
        assert_eq!(compare_with_f64(d("-0"), 0.0), Ordering::Equal);
        assert_eq!(compare_with_f64(d("1E+400"), f64::INFINITY), Ordering::Less);
        assert_eq!(compare_with_f64(d("-1E+400"), f64::NEG_INFINITY), Ordering::Greater);
        assert_eq!(compare_with_f64(d("-Infinity"), f64::NEG_INFINITY), Ordering::Equal);
        assert_eq!(compare_with_f64(d("1E-400"), 0.0), Ordering::Greater);
        assert_eq!(compare_with_f64(d("NaN"), f64::NAN), Ordering::Equal);
        assert_eq!(compare_with_f64(d("NaN"), f64::NEG_INFINITY), Ordering::Less);
        assert_eq!(compare_with_f64(d("5E-324"), 5e-324), Ordering::Greater);
    }

    #[test]
    fn doubles_convert_with_the_requested_digits() {
        assert_eq!(from_f64(0.1, 15).to_string(), "0.100000000000000");
        assert_eq!(from_f64(0.1, 34).to_string(), "0.1000000000000000055511151231257827");
        assert_eq!(from_f64(-16.0, 15).to_string(), "-16.0000000000000");
        assert_eq!(to_f64(from_bson(&bid("-2.5E-3"))), -0.0025);
        assert!(to_f64(Decimal128::NAN).is_nan());
    }
}
