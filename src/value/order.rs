//! Order-preserving keys for BSON values.
//!
//! [`encode_value`] turns a value into bytes whose plain byte order (`memcmp`) is MongoDB's comparison order,
//! which [`compare`] implements directly. Values MongoDB considers equal get identical bytes, and no encoding is
//! a proper prefix of another, so encodings can be concatenated into compound keys that group by their first part.
//!
//! Every value is one type byte (its rank in MongoDB's canonical type order, never zero) and then a payload:
//! - numbers: the value rounded to a double (8 bytes, bits flipped so they sort; NaN is all zeros) and a 2-byte
//!   signed residual holding what an Int64 lost in that rounding, so big integers stay exact;
//! - strings, symbols, code, regex parts and field names: the bytes with 0x00 escaped as 0x00 0xFF, ended by
//!   0x00 0x00;
//! - objects: for each field the value's type byte, the escaped name and the payload; arrays: each element's type
//!   byte and payload; both end with 0x00, which sorts below every type byte;
//! - BinData: length (u64), subtype, bytes; ObjectId: its 12 bytes; Boolean: 0 or 1; Date: signed millis;
//!   Timestamp: time and increment (u32 each); DBPointer: namespace length (u64), namespace, id;
//! - MinKey, Null (and Undefined) and MaxKey: the type byte alone.
//!
//! All integers are big-endian; signed ones have their sign bit flipped so they sort as unsigned.

use std::cmp::Ordering;

use bson::{Bson, Document};

use super::collation::Collation;
use super::decimal;

/// Ends an object or array; below every type byte, so a shorter object or array sorts first.
const END: u8 = 0x00;

/// The type byte of a value: its place in MongoDB's canonical type order. Types MongoDB compares by value across
/// their BSON types (the four numbers; String and Symbol; Null and Undefined) share a byte.
pub fn rank(value: &Bson) -> u8 {
    match value {
        Bson::MinKey => 0x01,
        Bson::Null | Bson::Undefined => 0x02,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 0x03,
        Bson::String(_) | Bson::Symbol(_) => 0x04,
        Bson::Document(_) => 0x05,
        Bson::Array(_) => 0x06,
        Bson::Binary(_) => 0x07,
        Bson::ObjectId(_) => 0x08,
        Bson::Boolean(_) => 0x09,
        Bson::DateTime(_) => 0x0A,
        Bson::Timestamp(_) => 0x0B,
        Bson::RegularExpression(_) => 0x0C,
        Bson::DbPointer(_) => 0x0D,
        Bson::JavaScriptCode(_) => 0x0E,
        Bson::JavaScriptCodeWithScope(_) => 0x0F,
        Bson::MaxKey => 0x10,
    }
}

/// A number as it is compared: integers, doubles and decimals each exactly.
#[derive(Clone, Copy)]
enum Num {
    Int(i64),
    Float(f64),
    Decimal(dec::Decimal128),
}

/// The numeric value of an Int32, Int64, Double or Decimal128; `None` for other types.
fn number(value: &Bson) -> Option<Num> {
    match value {
        Bson::Int32(i) => Some(Num::Int(i64::from(*i))),
        Bson::Int64(i) => Some(Num::Int(*i)),
        Bson::Double(d) => Some(Num::Float(*d)),
        Bson::Decimal128(d) => Some(Num::Decimal(decimal::from_bson(d))),
        _ => None,
    }
}

/// The text of a String or Symbol, which MongoDB compares with each other by bytes; `None` for other types.
fn text(value: &Bson) -> Option<&str> {
    match value {
        Bson::String(s) | Bson::Symbol(s) => Some(s),
        _ => None,
    }
}

/// MongoDB's comparison of two BSON values (without collation): first the canonical type order, then the values.
pub fn compare(a: &Bson, b: &Bson) -> Ordering {
    compare_collated(a, b, None)
}

/// As [`compare`], with strings (also inside documents and arrays) compared by `collation`.
pub fn compare_collated(a: &Bson, b: &Bson, collation: Option<&Collation>) -> Ordering {
    rank(a).cmp(&rank(b)).then_with(|| compare_same_rank(a, b, collation))
}

/// Whether two lists of values (an index key's, field by field) are equal under
/// `collation`.
pub fn all_equal_collated(a: &[Bson], b: &[Bson], collation: Option<&Collation>) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| compare_collated(a, b, collation).is_eq())
}

/// Compares two values of the same canonical type.
fn compare_same_rank(a: &Bson, b: &Bson, collation: Option<&Collation>) -> Ordering {
    if let (Some(x), Some(y)) = (number(a), number(b)) {
        return compare_numbers(x, y);
    }
    if let (Some(x), Some(y)) = (text(a), text(b)) {
        return super::collation::compare_text(x, y, collation);
    }
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => compare_documents(x, y, collation),
        (Bson::Array(x), Bson::Array(y)) => x
            .iter()
            .zip(y)
            .map(|(l, r)| compare_collated(l, r, collation))
            .find(|o| o.is_ne())
            .unwrap_or_else(|| x.len().cmp(&y.len())),
        (Bson::Binary(x), Bson::Binary(y)) => x
            .bytes
            .len()
            .cmp(&y.bytes.len())
            .then(u8::from(x.subtype).cmp(&u8::from(y.subtype)))
            .then_with(|| x.bytes.cmp(&y.bytes)),
        (Bson::ObjectId(x), Bson::ObjectId(y)) => x.bytes().cmp(&y.bytes()),
        (Bson::Boolean(x), Bson::Boolean(y)) => x.cmp(y),
        (Bson::DateTime(x), Bson::DateTime(y)) => x.timestamp_millis().cmp(&y.timestamp_millis()),
        (Bson::Timestamp(x), Bson::Timestamp(y)) => (x.time, x.increment).cmp(&(y.time, y.increment)),
        (Bson::RegularExpression(x), Bson::RegularExpression(y)) => {
            x.pattern.as_bytes().cmp(y.pattern.as_bytes()).then_with(|| x.options.as_bytes().cmp(y.options.as_bytes()))
        }
        (Bson::DbPointer(_), Bson::DbPointer(_)) => {
            let ((x_ns, x_id), (y_ns, y_id)) = (db_pointer_parts(a), db_pointer_parts(b));
            x_ns.len().cmp(&y_ns.len()).then_with(|| x_ns.cmp(&y_ns)).then(x_id.cmp(&y_id))
        }
        (Bson::JavaScriptCode(x), Bson::JavaScriptCode(y)) => x.as_bytes().cmp(y.as_bytes()),
        (Bson::JavaScriptCodeWithScope(x), Bson::JavaScriptCodeWithScope(y)) => {
            x.code.as_bytes().cmp(y.code.as_bytes()).then_with(|| compare_documents(&x.scope, &y.scope, None))
        }
        // MinKey, MaxKey, Null and Undefined: the type is the whole value.
        _ => Ordering::Equal,
    }
}

/// Compares two numbers by value. NaN equals NaN and is below every other number; -0.0 equals 0.0.
fn compare_numbers(a: Num, b: Num) -> Ordering {
    match (a, b) {
        (Num::Int(x), Num::Int(y)) => x.cmp(&y),
        (Num::Float(x), Num::Float(y)) => match (x.is_nan(), y.is_nan()) {
            (true, true) => Ordering::Equal,
            (true, false) => Ordering::Less,
            (false, true) => Ordering::Greater,
            (false, false) => x.partial_cmp(&y).unwrap_or(Ordering::Equal),
        },
        (Num::Int(x), Num::Float(y)) => compare_int_float(x, y),
        (Num::Float(x), Num::Int(y)) => compare_int_float(y, x).reverse(),
        (Num::Decimal(x), Num::Decimal(y)) => decimal::compare(x, y),
        (Num::Decimal(x), Num::Int(y)) => decimal::compare(x, decimal::from_i64(y)),
        (Num::Int(x), Num::Decimal(y)) => decimal::compare(decimal::from_i64(x), y),
        (Num::Decimal(x), Num::Float(y)) => decimal::compare_with_f64(x, y),
        (Num::Float(x), Num::Decimal(y)) => decimal::compare_with_f64(y, x).reverse(),
    }
}

/// Compares an integer with a double exactly, without rounding the integer.
fn compare_int_float(i: i64, f: f64) -> Ordering {
    /// 2^63, the first double above every i64.
    const TWO_POW_63: f64 = 9_223_372_036_854_775_808.0;
    if f.is_nan() || f < -TWO_POW_63 {
        return Ordering::Greater;
    }
    if f >= TWO_POW_63 {
        return Ordering::Less;
    }
    // Now -2^63 <= f < 2^63, so its integer part converts to i64 exactly.
    let whole = f.trunc();
    i.cmp(&(whole as i64)).then_with(|| whole.partial_cmp(&f).unwrap_or(Ordering::Equal))
}

/// Compares two objects field by field: the value's type, then the field name, then the value. An object that
/// runs out of fields first is smaller.
fn compare_documents(a: &Document, b: &Document, collation: Option<&Collation>) -> Ordering {
    a.iter()
        .zip(b)
        .map(|((a_name, a_value), (b_name, b_value))| {
            rank(a_value)
                .cmp(&rank(b_value))
                .then_with(|| a_name.as_bytes().cmp(b_name.as_bytes()))
                .then_with(|| compare_same_rank(a_value, b_value, collation))
        })
        .find(|o| o.is_ne())
        .unwrap_or_else(|| a.len().cmp(&b.len()))
}

/// The namespace and id of a DBPointer. The `bson` crate keeps both private, so they are read back from the
/// value's BSON serialization; a value that cannot be read counts as an empty namespace and a zero id.
fn db_pointer_parts(value: &Bson) -> (Vec<u8>, [u8; 12]) {
    read_db_pointer(value).unwrap_or_default()
}

/// Serializes `{"": value}` and reads the DBPointer back out of the bytes.
fn read_db_pointer(value: &Bson) -> Option<(Vec<u8>, [u8; 12])> {
    let mut doc = Document::new();
    doc.insert("", value.clone());
    let mut raw = Vec::new();
    doc.to_writer(&mut raw).ok()?;
    // Layout: document length (4 bytes), type 0x0C, empty name and its NUL, string length counting its NUL
    // (4 bytes, little-endian), namespace, NUL, id (12 bytes), document end.
    if raw.get(4) != Some(&0x0C) {
        return None;
    }
    let length = i32::from_le_bytes(raw.get(6..10)?.try_into().ok()?);
    let ns_len = usize::try_from(length).ok()?.checked_sub(1)?;
    let namespace = raw.get(10..10 + ns_len)?.to_vec();
    let id = raw.get(11 + ns_len..23 + ns_len)?.try_into().ok()?;
    Some((namespace, id))
}

/// Appends the order-preserving, self-delimiting encoding of `value` to `out`.
pub fn encode_value(value: &Bson, out: &mut Vec<u8>) {
    encode_value_collated(value, None, out);
}

/// As [`encode_value`], with strings (also inside documents and arrays) encoded by their `collation` sort keys:
/// the bytes order as the collation compares, so strings it finds equal encode alike.
pub fn encode_value_collated(value: &Bson, collation: Option<&Collation>, out: &mut Vec<u8>) {
    out.push(rank(value));
    encode_payload(value, collation, out);
}

/// A value's encoding, on its own.
pub fn encoded(value: &Bson) -> Vec<u8> {
    let mut out = Vec::new();
    encode_value(value, &mut out);
    out
}

/// Appends an order-preserving, self-delimiting encoding of a string (used for database and collection names in
/// keys): its bytes with each 0x00 written as 0x00 0xFF, then 0x00 0x00. Byte order of the encodings is byte
/// order of the strings.
pub fn encode_str(s: &str, out: &mut Vec<u8>) {
    encode_bytes(s.as_bytes(), out);
}

/// As [`encode_str`], for any bytes.
fn encode_bytes(bytes: &[u8], out: &mut Vec<u8>) {
    for &byte in bytes {
        out.push(byte);
        if byte == 0x00 {
            out.push(0xFF);
        }
    }
    out.extend_from_slice(&[0x00, 0x00]);
}

/// Appends the part of a value's encoding that follows its type byte.
fn encode_payload(value: &Bson, collation: Option<&Collation>, out: &mut Vec<u8>) {
    match value {
        Bson::String(s) | Bson::Symbol(s) if collation.is_some() => {
            let mut key = Vec::new();
            if let Some(collation) = collation {
                collation.write_key(s, &mut key);
            }
            encode_bytes(&key, out);
        }
        Bson::Int32(i) => encode_number(Num::Int(i64::from(*i)), out),
        Bson::Int64(i) => encode_number(Num::Int(*i), out),
        Bson::Double(d) => encode_number(Num::Float(*d), out),
        // A decimal's key is its nearest double: order-preserving but not exact
        // (decimals that differ beyond a double's precision share a key and are
        // told apart by their values).
        Bson::Decimal128(d) => encode_number(Num::Float(super::number::decimal_to_f64(d)), out),
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => encode_str(s, out),
        Bson::Document(doc) => encode_document(doc, collation, out),
        Bson::Array(items) => {
            for item in items {
                encode_value_collated(item, collation, out);
            }
            out.push(END);
        }
        Bson::Binary(bin) => {
            out.extend_from_slice(&(bin.bytes.len() as u64).to_be_bytes());
            out.push(u8::from(bin.subtype));
            out.extend_from_slice(&bin.bytes);
        }
        Bson::ObjectId(id) => out.extend_from_slice(&id.bytes()),
        Bson::Boolean(b) => out.push(u8::from(*b)),
        Bson::DateTime(date) => out.extend_from_slice(&sortable_i64(date.timestamp_millis()).to_be_bytes()),
        Bson::Timestamp(ts) => {
            out.extend_from_slice(&ts.time.to_be_bytes());
            out.extend_from_slice(&ts.increment.to_be_bytes());
        }
        Bson::RegularExpression(regex) => {
            encode_str(&regex.pattern, out);
            encode_str(&regex.options, out);
        }
        Bson::DbPointer(_) => {
            let (namespace, id) = db_pointer_parts(value);
            out.extend_from_slice(&(namespace.len() as u64).to_be_bytes());
            out.extend_from_slice(&namespace);
            out.extend_from_slice(&id);
        }
        Bson::JavaScriptCodeWithScope(code) => {
            encode_str(&code.code, out);
            encode_document(&code.scope, None, out);
        }
        Bson::MinKey | Bson::MaxKey | Bson::Null | Bson::Undefined => {}
    }
}

/// Appends an object's fields (type byte, escaped name, payload) and the end byte.
fn encode_document(doc: &Document, collation: Option<&Collation>, out: &mut Vec<u8>) {
    for (name, value) in doc {
        out.push(rank(value));
        encode_str(name, out);
        encode_payload(value, collation, out);
    }
    out.push(END);
}

/// Appends a number: its nearest double, then what an integer lost in rounding to it. Rounding is monotonic,
/// so ordering by (double, residual) is ordering by value. An i64 rounds by at most half a unit in the last place
/// of a double below 2^63, which is 2^9, so the residual fits an i16; a double's residual is zero.
fn encode_number(n: Num, out: &mut Vec<u8>) {
    let (approx, residual) = match n {
        Num::Float(d) => (d, 0),
        Num::Decimal(d) => (decimal::to_f64(d), 0),
        Num::Int(i) => {
            let d = i as f64;
            (d, i16::try_from(i128::from(i) - d as i128).unwrap_or(0))
        }
    };
    out.extend_from_slice(&sortable_f64(approx).to_be_bytes());
    out.extend_from_slice(&(residual as u16 ^ 0x8000).to_be_bytes());
}

/// A double as a u64 whose unsigned order is numeric order. -0.0 becomes 0.0 and every NaN becomes 0, below
/// -infinity (no other double maps to 0).
fn sortable_f64(d: f64) -> u64 {
    if d.is_nan() {
        return 0;
    }
    let bits = if d == 0.0 { 0 } else { d.to_bits() };
    if bits >> 63 == 1 {
        !bits
    } else {
        bits | 1 << 63
    }
}

/// An i64 as a u64 whose unsigned order is signed order.
fn sortable_i64(i: i64) -> u64 {
    i as u64 ^ 1 << 63
}

#[cfg(test)]
mod tests {
    //! Hand-picked cases follow MongoDB's "Comparison/Sort Order" page,
    //! <https://www.mongodb.com/docs/v7.0/reference/bson-type-comparison-order/>; a property test checks that
    //! byte order of encodings agrees with `compare` on random nested values.

    use super::*;
    use bson::{doc, oid::ObjectId, spec::BinarySubtype, Binary, DateTime, Decimal128, JavaScriptCodeWithScope};
    use bson::{Regex, Timestamp};

    fn key(value: &Bson) -> Vec<u8> {
        let mut out = Vec::new();
        encode_value(value, &mut out);
        out
    }

    fn dec(s: &str) -> Bson {
        Bson::Decimal128(s.parse::<Decimal128>().expect("decimal literal"))
    }

    fn bin(subtype: BinarySubtype, bytes: &[u8]) -> Bson {
        Bson::Binary(Binary { subtype, bytes: bytes.to_vec() })
    }

    fn regex(pattern: &str, options: &str) -> Bson {
        Bson::RegularExpression(Regex { pattern: pattern.into(), options: options.into() })
    }

    fn code_with_scope(code: &str, scope: Document) -> Bson {
        Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: code.into(), scope })
    }

    /// A DBPointer, which the `bson` crate only builds by reading BSON bytes.
    fn db_pointer(namespace: &str, id: [u8; 12]) -> Bson {
        let mut value = Vec::new();
        value.extend_from_slice(&(namespace.len() as i32 + 1).to_le_bytes());
        value.extend_from_slice(namespace.as_bytes());
        value.push(0);
        value.extend_from_slice(&id);
        let mut raw = Vec::new();
        raw.extend_from_slice(&(value.len() as i32 + 8).to_le_bytes());
        raw.extend_from_slice(&[0x0C, b'p', 0]);
        raw.extend_from_slice(&value);
        raw.push(0);
        let doc = crate::value::decode(&raw).expect("DBPointer bytes");
        doc.get("p").cloned().expect("DBPointer field")
    }

    /// Asserts that `values` strictly ascend, by `compare` and by encoding, pair by pair and all against all.
    fn assert_ascending(values: &[Bson]) {
        for (i, a) in values.iter().enumerate() {
            for b in &values[i + 1..] {
                assert_eq!(compare(a, b), Ordering::Less, "compare {a:?} < {b:?}");
                assert_eq!(compare(b, a), Ordering::Greater, "compare {b:?} > {a:?}");
                assert!(key(a) < key(b), "key {a:?} < {b:?}");
            }
        }
    }

    /// Asserts that all `values` are equal, by `compare` and by encoding.
    fn assert_all_equal(values: &[Bson]) {
        for a in values {
            for b in values {
                assert_eq!(compare(a, b), Ordering::Equal, "compare {a:?} == {b:?}");
                assert_eq!(key(a), key(b), "key {a:?} == {b:?}");
            }
        }
    }

    #[test]
    fn types_follow_the_canonical_order() {
        assert_ascending(&[
            Bson::MinKey,
            Bson::Null,
            Bson::Double(f64::NEG_INFINITY),
            Bson::Int64(i64::MAX),
            Bson::Double(f64::INFINITY),
            Bson::String(String::new()),
            Bson::String("\u{10FFFF}".into()),
            Bson::Document(doc! {}),
            Bson::Document(doc! { "z": Bson::MaxKey }),
            Bson::Array(vec![]),
            Bson::Array(vec![Bson::MaxKey]),
            bin(BinarySubtype::Generic, b""),
            Bson::ObjectId(ObjectId::from_bytes([0; 12])),
            Bson::ObjectId(ObjectId::from_bytes([0xFF; 12])),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(DateTime::from_millis(i64::MIN)),
            Bson::DateTime(DateTime::from_millis(i64::MAX)),
            Bson::Timestamp(Timestamp { time: 0, increment: 0 }),
            Bson::Timestamp(Timestamp { time: u32::MAX, increment: u32::MAX }),
            regex("", ""),
            db_pointer("", [0; 12]),
            Bson::JavaScriptCode(String::new()),
            code_with_scope("", doc! {}),
            Bson::MaxKey,
        ]);
    }

    #[test]
    fn types_compared_by_value_share_a_rank() {
        assert_all_equal(&[Bson::Null, Bson::Undefined]);
        assert_all_equal(&[Bson::String("abc".into()), Bson::Symbol("abc".into())]);
        assert_ascending(&[Bson::Symbol("a".into()), Bson::String("b".into()), Bson::Symbol("c".into())]);
    }

    #[test]
    fn numbers_compare_by_value_across_types() {
        assert_all_equal(&[Bson::Int32(1), Bson::Int64(1), Bson::Double(1.0), dec("1"), dec("1.0"), dec("0.1E+1")]);
        assert_all_equal(&[Bson::Int32(0), Bson::Int64(0), Bson::Double(0.0), Bson::Double(-0.0), dec("-0")]);
        assert_all_equal(&[Bson::Double(f64::INFINITY), dec("Infinity")]);
        assert_ascending(&[
            Bson::Int32(i32::MIN),
            Bson::Double(-1.5),
            dec("-1"),
            Bson::Int32(0),
            Bson::Double(0.5),
            Bson::Int64(1),
            dec("1.25"),
            Bson::Int32(2),
            Bson::Double(2.5),
        ]);
    }

    #[test]
    fn big_int64_values_stay_exact() {
        let two53 = 1_i64 << 53;
        assert_all_equal(&[Bson::Int64(two53), Bson::Double(two53 as f64)]);
        assert_all_equal(&[Bson::Int64(i64::MIN), Bson::Double(-9_223_372_036_854_775_808.0)]);
        assert_ascending(&[
            Bson::Double(-9_223_372_036_854_777_856.0),
            Bson::Int64(i64::MIN),
            Bson::Int64(i64::MIN + 1),
            Bson::Int64(-two53 - 1),
            Bson::Double(-two53 as f64),
            Bson::Int64(two53 - 1),
            Bson::Double(two53 as f64),
            Bson::Int64(two53 + 1),
            Bson::Double((two53 + 2) as f64),
            Bson::Int64(two53 + 3),
            Bson::Int64((1 << 62) + 511),
            Bson::Int64((1 << 62) + 512),
            Bson::Int64((1 << 62) + 513),
            Bson::Double(((1_i64 << 62) + 1024) as f64),
            Bson::Int64(i64::MAX - 1),
            Bson::Int64(i64::MAX),
            Bson::Double(9_223_372_036_854_775_808.0),
        ]);
    }

    #[test]
    fn nan_equals_nan_and_sorts_below_all_numbers() {
        assert_all_equal(&[
            Bson::Double(f64::NAN),
            Bson::Double(-f64::NAN),
            Bson::Double(f64::from_bits(!0)),
            dec("NaN"),
        ]);
        assert_ascending(&[
            Bson::Null,
            Bson::Double(f64::NAN),
            Bson::Double(f64::NEG_INFINITY),
            Bson::Int64(i64::MIN),
            Bson::Double(-f64::MIN_POSITIVE),
            Bson::Int32(0),
        ]);
    }

    #[test]
    fn strings_compare_by_bytes_with_embedded_nuls() {
        let strings = ["", "\0", "\0\0", "\u{1}", "a", "a\0", "a\0\0", "a\0b", "a\u{1}", "ab", "b", "z", "é"];
        assert_ascending(&strings.map(|s| Bson::String(s.into())));
        for (i, a) in strings.iter().enumerate() {
            for b in &strings[i + 1..] {
                let (mut ka, mut kb) = (Vec::new(), Vec::new());
                encode_str(a, &mut ka);
                encode_str(b, &mut kb);
                assert!(ka < kb, "{a:?} < {b:?}");
                assert!(!kb.starts_with(&ka) && !ka.starts_with(&kb), "{a:?} and {b:?} are prefix-free");
            }
        }
    }

    #[test]
    fn objects_compare_type_then_name_then_value() {
        assert_ascending(&[
            Bson::Document(doc! {}),
            Bson::Document(doc! { "a": Bson::MinKey }),
            Bson::Document(doc! { "z": Bson::Null }),
            Bson::Document(doc! { "b": 1 }),
            Bson::Document(doc! { "b": 1, "a": 0 }),
            Bson::Document(doc! { "b": 2 }),
            Bson::Document(doc! { "c": -5 }),
            Bson::Document(doc! { "a": "x" }),
            Bson::Document(doc! { "a": { "b": 1 } }),
            Bson::Document(doc! { "a": { "b": 1, "c": 0 } }),
            Bson::Document(doc! { "a": { "c": 0 } }),
            Bson::Document(doc! { "a": [] }),
            Bson::Document(doc! { "a\0": [] }),
            Bson::Document(doc! { "a\0b": [] }),
            Bson::Document(doc! { "ab": [] }),
        ]);
        assert_all_equal(&[
            Bson::Document(doc! { "a": 1_i32, "b": { "c": [2_i64] } }),
            Bson::Document(doc! { "a": 1.0, "b": { "c": [2.0] } }),
        ]);
        assert_ne!(
            compare(&Bson::Document(doc! { "a": 1, "b": 2 }), &Bson::Document(doc! { "b": 2, "a": 1 })),
            Ordering::Equal
        );
    }

    #[test]
    fn arrays_compare_element_by_element() {
        assert_ascending(&[
            Bson::Array(vec![]),
            Bson::Array(vec![Bson::MinKey]),
            Bson::Array(vec![1.into()]),
            Bson::Array(vec![1.into(), Bson::Null]),
            Bson::Array(vec![1.into(), 1.into()]),
            Bson::Array(vec![2.into()]),
            Bson::Array(vec!["a".into()]),
            Bson::Array(vec![Bson::Array(vec![1.into(), 2.into()]), 3.into()]),
            Bson::Array(vec![Bson::Array(vec![1.into(), 2.into(), 0.into()])]),
            Bson::Array(vec![Bson::Array(vec![1.into(), 3.into()])]),
        ]);
        assert_all_equal(&[
            Bson::Array(vec![Bson::Int64(3), Bson::Symbol("x".into())]),
            Bson::Array(vec![3.0.into(), "x".into()]),
        ]);
    }

    #[test]
    fn other_types_compare_by_their_fields() {
        // BinData: length, then subtype, then bytes.
        assert_ascending(&[
            bin(BinarySubtype::UserDefined(0x80), b""),
            bin(BinarySubtype::Generic, b"\xFF"),
            bin(BinarySubtype::Uuid, b"\x00"),
            bin(BinarySubtype::Generic, b"\x00\x00"),
            bin(BinarySubtype::Generic, b"\x00\x01"),
        ]);
        let id = |last| {
            let mut bytes = [0x11; 12];
            bytes[11] = last;
            Bson::ObjectId(ObjectId::from_bytes(bytes))
        };
        assert_ascending(&[id(0), id(1), id(0xFF)]);
        assert_ascending(&[-1, 0, 1].map(|ms| Bson::DateTime(DateTime::from_millis(ms))));
        assert_ascending(&[
            Bson::Timestamp(Timestamp { time: 1, increment: u32::MAX }),
            Bson::Timestamp(Timestamp { time: 2, increment: 0 }),
            Bson::Timestamp(Timestamp { time: u32::MAX, increment: 0 }),
        ]);
        assert_ascending(&[regex("a", "z"), regex("a\0", ""), regex("ab", ""), regex("ab", "i"), regex("ab", "im")]);
        // DBPointer: namespace length, then namespace, then id.
        assert_ascending(&[db_pointer("z", [9; 12]), db_pointer("aa", [0; 12]), db_pointer("aa", [1; 12])]);
        assert_all_equal(&[db_pointer("db.c", [7; 12]), db_pointer("db.c", [7; 12])]);
        assert_ascending(&[Bson::JavaScriptCode("a".into()), Bson::JavaScriptCode("b".into())]);
        assert_ascending(&[
            code_with_scope("a", doc! { "x": 2 }),
            code_with_scope("b", doc! {}),
            code_with_scope("b", doc! { "x": 1 }),
            code_with_scope("b", doc! { "x": 1, "y": 0 }),
        ]);
    }

    #[test]
    fn encodings_are_prefix_free_and_group_compound_keys() {
        let values = [
            Bson::MinKey,
            Bson::Null,
            Bson::Int32(7),
            Bson::Double(7.5),
            Bson::String("a".into()),
            Bson::String("a\0".into()),
            Bson::String("ab".into()),
            Bson::Document(doc! {}),
            Bson::Document(doc! { "a": "" }),
            Bson::Document(doc! { "a": "", "b": [] }),
            Bson::Array(vec![]),
            Bson::Array(vec![Bson::Array(vec![])]),
            Bson::Array(vec![Bson::Array(vec![]), Bson::Null]),
            bin(BinarySubtype::Generic, b"\x00"),
            bin(BinarySubtype::Generic, b"\x00\x00"),
            regex("a", ""),
            regex("a", "i"),
            db_pointer("a", [0; 12]),
            code_with_scope("f", doc! { "a": 1 }),
            Bson::MaxKey,
        ];
        for a in &values {
            for b in &values {
                let (ka, kb) = (key(a), key(b));
                if ka != kb {
                    assert!(!kb.starts_with(&ka), "{a:?} is not a prefix of {b:?}");
                }
                for c in &values {
                    for d in &values {
                        let (kac, kbd) = ([key(a), key(c)].concat(), [key(b), key(d)].concat());
                        assert_eq!(
                            kac.cmp(&kbd),
                            compare(a, b).then(compare(c, d)),
                            "({a:?}, {c:?}) vs ({b:?}, {d:?})"
                        );
                    }
                }
            }
        }
    }

    /// A xorshift64 generator: small, deterministic and good enough to shuffle test values.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<T: Clone>(&mut self, items: &[T]) -> T {
            items[self.below(items.len())].clone()
        }
    }

    /// A number drawn to hit edge cases and near-ties between integers and doubles.
    fn random_number(rng: &mut Rng) -> Bson {
        let bases = [0, 1 << 53, -(1 << 53), 1 << 62, i64::MAX, i64::MIN, i64::MAX - 1024, i64::MIN + 1024];
        let offsets = [-1025, -1024, -513, -512, -511, -2, -1, 0, 1, 2, 511, 512, 513, 1024];
        let near = rng.pick(&bases).saturating_add(rng.pick(&offsets));
        match rng.below(7) {
            0 => Bson::Int32(rng.pick(&[i32::MIN, -1, 0, 1, 2, i32::MAX])),
            1 | 2 => Bson::Int64(near),
            3 => Bson::Double(near as f64),
            4 => Bson::Double(rng.pick(&[
                f64::NAN,
                -f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                0.0,
                -0.0,
                0.5,
                -0.5,
                1.0,
                1.5,
                2.0,
                f64::MIN_POSITIVE,
                f64::MAX,
                f64::MIN,
                9_223_372_036_854_775_808.0,
                -9_223_372_036_854_775_808.0,
            ])),
            5 => Bson::Double(f64::from_bits(rng.next())),
            _ => dec(rng.pick(&[
                "0",
                "-0",
                "1",
                "1.0",
                "1.5",
                "-1",
                "2",
                "NaN",
                "-Infinity",
                "1E+400",
                "9007199254740993",
            ])),
        }
    }

    fn random_text(rng: &mut Rng) -> String {
        (0..rng.below(4)).map(|_| rng.pick(&['\0', '\u{1}', 'a', 'b', 'é'])).collect()
    }

    fn random_document(rng: &mut Rng, depth: usize) -> Document {
        let mut doc = Document::new();
        for _ in 0..rng.below(4) {
            doc.insert(rng.pick(&["", "a", "b", "a\0", "\0"]), random_value(rng, depth));
        }
        doc
    }

    /// A random value nested at most `depth` levels deep.
    fn random_value(rng: &mut Rng, depth: usize) -> Bson {
        let kinds = if depth == 0 { 13 } else { 16 };
        match rng.below(kinds) {
            0..=2 => random_number(rng),
            3 => Bson::String(random_text(rng)),
            4 => Bson::Symbol(random_text(rng)),
            5 => rng.pick(&[Bson::MinKey, Bson::MaxKey, Bson::Null, Bson::Undefined]),
            6 => {
                let bytes: Vec<u8> = (0..rng.below(3)).map(|_| rng.pick(&[0, 1, 0xFF])).collect();
                bin(rng.pick(&[BinarySubtype::Generic, BinarySubtype::Uuid, BinarySubtype::UserDefined(0x80)]), &bytes)
            }
            7 => Bson::ObjectId(ObjectId::from_bytes([rng.pick(&[0, 1, 0xFF]); 12])),
            8 => Bson::Boolean(rng.below(2) == 1),
            9 => Bson::DateTime(DateTime::from_millis(rng.pick(&[i64::MIN, -1, 0, 1, i64::MAX]))),
            10 => {
                Bson::Timestamp(Timestamp { time: rng.pick(&[0, 1, u32::MAX]), increment: rng.pick(&[0, 1, u32::MAX]) })
            }
            11 => match rng.below(3) {
                0 => regex(&random_text(rng), rng.pick(&["", "i", "im"])),
                1 => Bson::JavaScriptCode(random_text(rng)),
                _ => db_pointer(&random_text(rng), [rng.pick(&[0, 1]); 12]),
            },
            12 => code_with_scope(&random_text(rng), doc! {}),
            13 => code_with_scope(&random_text(rng), random_document(rng, depth - 1)),
            14 => Bson::Document(random_document(rng, depth - 1)),
            _ => Bson::Array((0..rng.below(4)).map(|_| random_value(rng, depth - 1)).collect()),
        }
    }

    /// A value MongoDB considers equal to `value` but spelled with other types where possible.
    fn twin(value: &Bson) -> Bson {
        match value {
            Bson::Int32(i) => Bson::Double(f64::from(*i)),
            Bson::Int64(i) if (*i as f64) as i128 == i128::from(*i) => Bson::Double(*i as f64),
            Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9_223_372_036_854_775_808.0 => Bson::Int64(*d as i64),
            Bson::String(s) => Bson::Symbol(s.clone()),
            Bson::Symbol(s) => Bson::String(s.clone()),
            Bson::Null => Bson::Undefined,
            Bson::Undefined => Bson::Null,
            Bson::Document(doc) => Bson::Document(doc.iter().map(|(k, v)| (k.clone(), twin(v))).collect()),
            Bson::Array(items) => Bson::Array(items.iter().map(twin).collect()),
            other => other.clone(),
        }
    }

    fn has_decimal(value: &Bson) -> bool {
        match value {
            Bson::Decimal128(_) => true,
            Bson::Document(doc) => doc.values().any(has_decimal),
            Bson::Array(items) => items.iter().any(has_decimal),
            _ => false,
        }
    }

    #[test]
    fn byte_order_agrees_with_compare_on_random_values() {
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let (mut less, mut equal, mut greater) = (0, 0, 0);
        for _ in 0..50_000 {
            let a = random_value(&mut rng, 2);
            let b = match rng.below(4) {
                0 => twin(&a),
                _ => random_value(&mut rng, 2),
            };
            let (ka, kb) = (key(&a), key(&b));
            let order = compare(&a, &b);
            // A decimal's key is its nearest double: values apart beyond that
            // share a key, and only they may.
            let blurred = ka == kb && (has_decimal(&a) || has_decimal(&b));
            if !blurred {
                assert_eq!(ka.cmp(&kb), order, "{a:?} vs {b:?}");
            }
            assert_eq!(compare(&b, &a), order.reverse(), "{b:?} vs {a:?}");
            if ka != kb {
                assert!(!ka.starts_with(&kb) && !kb.starts_with(&ka), "{a:?} and {b:?} are prefix-free");
            }
            match order {
                Ordering::Less => less += 1,
                Ordering::Equal => equal += 1,
                Ordering::Greater => greater += 1,
            }
        }
        assert!(less > 10_000 && greater > 10_000 && equal > 10_000, "{less} < / {equal} = / {greater} >");
    }
}

/// A group key, ordered (and so deduplicated) by BSON comparison: `1` and `1.0`
/// are one group; so are strings the collation finds equal (`$group`'s keys,
/// `mapReduce`'s emitted keys).
#[derive(Debug)]
pub struct GroupKey(pub Bson, pub Option<std::sync::Arc<Collation>>);

impl PartialEq for GroupKey {
    fn eq(&self, other: &GroupKey) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for GroupKey {}

impl PartialOrd for GroupKey {
    fn partial_cmp(&self, other: &GroupKey) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for GroupKey {
    fn cmp(&self, other: &GroupKey) -> Ordering {
        compare_collated(&self.0, &other.0, self.1.as_deref())
    }
}
