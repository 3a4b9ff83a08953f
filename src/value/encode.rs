//! A document to BSON bytes, element by element: the counterpart of `decode`,
//! written by hand because encoding through serde costs several times more (spill
//! files write every document a large sort or group holds).

use bson::spec::BinarySubtype;
use bson::{Bson, Document};

/// Appends `doc` encoded as BSON to `out`.
pub fn encode(doc: &Document, out: &mut Vec<u8>) {
    let start = begin(out);
    for (name, value) in doc {
        element(name, value, out);
    }
    end(start, out);
}

/// Reserves a document's length; returns where it starts.
fn begin(out: &mut Vec<u8>) -> usize {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    start
}

/// Closes a document begun at `start`: its final NUL and its length.
fn end(start: usize, out: &mut Vec<u8>) {
    out.push(0);
    let len = (out.len() - start) as i32;
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
}

fn cstring(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

fn string(s: &str, out: &mut Vec<u8>) {
    out.extend_from_slice(&((s.len() + 1) as i32).to_le_bytes());
    cstring(s, out);
}

/// One element: its type byte, its name, its value.
fn element(name: &str, value: &Bson, out: &mut Vec<u8>) {
    out.push(value.element_type() as u8);
    cstring(name, out);
    match value {
        Bson::Double(d) => out.extend_from_slice(&d.to_le_bytes()),
        Bson::String(s) | Bson::JavaScriptCode(s) | Bson::Symbol(s) => string(s, out),
        Bson::Document(doc) => encode(doc, out),
        Bson::Array(items) => {
            let start = begin(out);
            let mut index = itoa_buffer();
            for (i, item) in items.iter().enumerate() {
                element(index_name(i, &mut index), item, out);
            }
            end(start, out);
        }
        Bson::Binary(binary) => {
            let len = binary.bytes.len() as i32;
            if binary.subtype == BinarySubtype::BinaryOld {
                out.extend_from_slice(&(len + 4).to_le_bytes());
                out.push(u8::from(binary.subtype));
                out.extend_from_slice(&len.to_le_bytes());
            } else {
                out.extend_from_slice(&len.to_le_bytes());
                out.push(u8::from(binary.subtype));
            }
            out.extend_from_slice(&binary.bytes);
        }
        Bson::ObjectId(id) => out.extend_from_slice(&id.bytes()),
        Bson::Boolean(b) => out.push(u8::from(*b)),
        Bson::DateTime(d) => out.extend_from_slice(&d.timestamp_millis().to_le_bytes()),
        Bson::RegularExpression(regex) => {
            cstring(&regex.pattern, out);
            cstring(&regex.options, out);
        }
        Bson::JavaScriptCodeWithScope(code) => {
            let start = begin(out);
            string(&code.code, out);
            encode(&code.scope, out);
            let len = (out.len() - start) as i32;
            out[start..start + 4].copy_from_slice(&len.to_le_bytes());
        }
        Bson::Int32(n) => out.extend_from_slice(&n.to_le_bytes()),
        Bson::Timestamp(t) => {
            out.extend_from_slice(&t.increment.to_le_bytes());
            out.extend_from_slice(&t.time.to_le_bytes());
        }
        Bson::Int64(n) => out.extend_from_slice(&n.to_le_bytes()),
        Bson::Decimal128(d) => out.extend_from_slice(&d.bytes()),
        Bson::DbPointer(_) => {
            // Its fields are private to the bson crate: encode it through serde.
            let mut wrapped = Vec::new();
            let inner = bson::doc! {"": value.clone()};
            if inner.to_writer(&mut wrapped).is_ok() {
                // Skip the length, the type byte and the empty name; drop the final NUL.
                out.extend_from_slice(&wrapped[6..wrapped.len() - 1]);
            }
        }
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => {}
    }
}

/// A buffer for array indexes as names.
fn itoa_buffer() -> String {
    String::with_capacity(8)
}

/// The name of an array's `i`-th element.
fn index_name(i: usize, buffer: &mut String) -> &str {
    use std::fmt::Write;
    buffer.clear();
    let _ = write!(buffer, "{i}");
    buffer
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, Binary, Bson, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp};

    use super::*;

    #[test]
    fn encodes_as_the_bson_crate_does() {
        let doc = doc! {
            "d": 1.5, "s": "text", "o": {"a": [1, "x", {"b": null}]}, "bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
            "old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![3] }, "u": Bson::Undefined,
            "id": ObjectId::from_bytes([7; 12]), "t": true, "when": DateTime::from_millis(-5),
            "re": Regex { pattern: "a.c".into(), options: "im".into() }, "js": Bson::JavaScriptCode("f()".into()),
            "sym": Bson::Symbol("s".into()),
            "scope": JavaScriptCodeWithScope { code: "g()".into(), scope: doc! {"x": 1} },
            "i": 7, "ts": Timestamp { time: 3, increment: 4 }, "l": 9i64, "dec": Decimal128::from_bytes([1; 16]),
            "min": Bson::MinKey, "max": Bson::MaxKey, "n": Bson::Null,
        };
        let mut ours = Vec::new();
        encode(&doc, &mut ours);
        let mut theirs = Vec::new();
        doc.to_writer(&mut theirs).expect("encode");
        assert_eq!(ours, theirs);
    }
}
