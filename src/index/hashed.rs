//! The keys of hashed indexes: MongoDB's 64-bit hash of a value (`BSONElementHasher`),
//! the first eight bytes, little-endian, of an MD5 digest over a four-byte seed (0)
//! and the value: its canonical type as a 32-bit integer, then numbers as 64-bit
//! integers (so `5`, `5.0` and `NumberLong(5)` hash alike, and `5.5` as 5), other
//! scalars as their BSON bytes, and documents and arrays element by element (type,
//! name, value) ending with an end-of-object element. The same value hashes the same
//! as in MongoDB, so hashed keys and `convertShardKeyToHashed` agree with it.

use bson::spec::BinarySubtype;
use bson::Bson;
use md5::{Digest, Md5};

/// MongoDB's hash of `value`, seed 0.
pub fn hash(value: &Bson) -> i64 {
    let mut md5 = Md5::new();
    md5.update(0i32.to_le_bytes());
    add(&mut md5, value);
    let digest = md5.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_le_bytes(first)
}

/// MongoDB's canonical type of a value: the types that compare as one share one.
fn canonical_type(value: &Bson) -> i32 {
    match value {
        Bson::MinKey => -1,
        Bson::Undefined => 0,
        Bson::Null => 5,
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => 10,
        Bson::String(_) | Bson::Symbol(_) => 15,
        Bson::Document(_) => 20,
        Bson::Array(_) => 25,
        Bson::Binary(_) => 30,
        Bson::ObjectId(_) => 35,
        Bson::Boolean(_) => 40,
        Bson::DateTime(_) => 45,
        Bson::Timestamp(_) => 47,
        Bson::RegularExpression(_) => 50,
        Bson::DbPointer(_) => 55,
        Bson::JavaScriptCode(_) => 60,
        Bson::JavaScriptCodeWithScope(_) => 65,
        Bson::MaxKey => 127,
    }
}

/// A value: its canonical type, then what it holds.
fn add(md5: &mut Md5, value: &Bson) {
    md5.update(canonical_type(value).to_le_bytes());
    add_value(md5, value);
}

/// An element inside a document or an array: its type, its name, its value.
fn add_named(md5: &mut Md5, name: &str, value: &Bson) {
    md5.update(canonical_type(value).to_le_bytes());
    md5.update(name.as_bytes());
    md5.update([0]);
    add_value(md5, value);
}

/// A value without its type (written by the caller).
fn add_value(md5: &mut Md5, value: &Bson) {
    match value {
        Bson::Document(doc) => {
            for (name, inner) in doc {
                add_named(md5, name, inner);
            }
            end(md5);
        }
        Bson::Array(items) => {
            for (index, inner) in items.iter().enumerate() {
                add_named(md5, &index.to_string(), inner);
            }
            end(md5);
        }
        Bson::JavaScriptCodeWithScope(code) => {
            md5.update(code.code.as_bytes());
            md5.update([0]);
            for (name, inner) in &code.scope {
                add_named(md5, name, inner);
            }
            end(md5);
        }
        Bson::Int32(n) => md5.update(i64::from(*n).to_le_bytes()),
        Bson::Int64(n) => md5.update(n.to_le_bytes()),
        Bson::Double(n) => md5.update(double_as_long(*n).to_le_bytes()),
        Bson::Decimal128(d) => {
            let n: f64 = d.to_string().parse().unwrap_or(f64::NAN);
            md5.update(double_as_long(n.round_ties_even()).to_le_bytes())
        }
        other => md5.update(value_bytes(other)),
    }
}

/// The end-of-object element closing a document: canonical type 0 (that of EOO),
/// and no name.
fn end(md5: &mut Md5) {
    md5.update(0i32.to_le_bytes());
}

/// A double as MongoDB squashes it for hashing: truncated toward zero, NaN as 0,
/// out of range clamped, except 2^63 itself, which rolls over to -2^63.
fn double_as_long(n: f64) -> i64 {
    if n == 9_223_372_036_854_775_808.0 {
        return i64::MIN;
    }
    n as i64
}

/// The BSON bytes of a scalar's value (what follows its type and name).
fn value_bytes(value: &Bson) -> Vec<u8> {
    let string = |s: &str| {
        let mut out = ((s.len() + 1) as i32).to_le_bytes().to_vec();
        out.extend_from_slice(s.as_bytes());
        out.push(0);
        out
    };
    match value {
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => string(s),
        Bson::Boolean(b) => vec![u8::from(*b)],
        Bson::DateTime(d) => d.timestamp_millis().to_le_bytes().to_vec(),
        Bson::ObjectId(id) => id.bytes().to_vec(),
        Bson::Timestamp(t) => {
            let mut out = t.increment.to_le_bytes().to_vec();
            out.extend_from_slice(&t.time.to_le_bytes());
            out
        }
        Bson::Binary(binary) => {
            let mut out = Vec::with_capacity(binary.bytes.len() + 9);
            if binary.subtype == BinarySubtype::BinaryOld {
                out.extend_from_slice(&((binary.bytes.len() + 4) as i32).to_le_bytes());
                out.push(u8::from(binary.subtype));
                out.extend_from_slice(&(binary.bytes.len() as i32).to_le_bytes());
            } else {
                out.extend_from_slice(&(binary.bytes.len() as i32).to_le_bytes());
                out.push(u8::from(binary.subtype));
            }
            out.extend_from_slice(&binary.bytes);
            out
        }
        Bson::RegularExpression(re) => {
            let mut out = re.pattern.as_bytes().to_vec();
            out.push(0);
            out.extend_from_slice(re.options.as_bytes());
            out.push(0);
            out
        }
        Bson::DbPointer(_) => bson::to_vec(&bson::doc! {"": value.clone()})
            .map(|bytes| bytes.get(6..bytes.len().saturating_sub(1)).unwrap_or_default().to_vec())
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mongodbs_own_check_value() {
        // MongoDB checks at start-up that {check: 42} hashes to this.
        assert_eq!(hash(&Bson::Int32(42)), -944302157085130861);
    }

    #[test]
    fn numbers_hash_as_64_bit_integers() {
        assert_eq!(hash(&Bson::Int32(5)), hash(&Bson::Double(5.0)));
        assert_eq!(hash(&Bson::Int64(5)), hash(&Bson::Double(5.9)));
        assert_ne!(hash(&Bson::Int32(5)), hash(&Bson::String("5".into())));
        assert_ne!(hash(&Bson::Null), hash(&Bson::Undefined));
    }
}
