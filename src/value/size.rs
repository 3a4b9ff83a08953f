//! The size of a document once encoded as BSON, computed by walking it: checking a
//! document against the 16 MiB limit or a reply batch against its cap needs the
//! number, not the bytes.

use bson::{spec::BinarySubtype, Bson, Document};

/// The largest document MongoDB stores or returns: 16 MiB.
pub const MAX_DOCUMENT: usize = 16 * 1024 * 1024;

/// Memory a map entry of a document takes besides its name and value: the
/// `(String, Bson)` pair and the map's index and hash.
const ENTRY: usize = std::mem::size_of::<(String, Bson)>() + 16;
/// Memory a document or array takes besides its elements.
const CONTAINER: usize = 64;

/// About how many bytes `doc` holds in memory as a [`Document`] (its elements and
/// what they keep on the heap): what memory limits count, as MongoDB counts its own
/// in-memory documents rather than their BSON.
pub fn document_footprint(doc: &Document) -> usize {
    CONTAINER + doc.iter().map(|(name, value)| ENTRY + name.len() + value_heap(value)).sum::<usize>()
}

/// About how many bytes `value` holds in memory, itself included.
pub fn value_footprint(value: &Bson) -> usize {
    std::mem::size_of::<Bson>() + value_heap(value)
}

/// What a value keeps on the heap.
fn value_heap(value: &Bson) -> usize {
    match value {
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => s.len(),
        Bson::Document(doc) => document_footprint(doc),
        Bson::Array(items) => CONTAINER + items.iter().map(value_footprint).sum::<usize>(),
        Bson::Binary(binary) => binary.bytes.len(),
        Bson::RegularExpression(regex) => regex.pattern.len() + regex.options.len(),
        Bson::JavaScriptCodeWithScope(code) => code.code.len() + document_footprint(&code.scope),
        _ => 0,
    }
}

/// The length of `doc` encoded as BSON.
pub fn document_size(doc: &Document) -> usize {
    // Length prefix, then per element a type byte, the name and its NUL, the value;
    // then the final NUL.
    4 + doc.iter().map(|(name, value)| 1 + name.len() + 1 + value_size(value)).sum::<usize>() + 1
}

/// The length of `doc` encoded as BSON if it is at most `limit`, found without
/// measuring more of it than `limit` (a check of a command that may be huge).
pub fn document_size_within(doc: &Document, limit: usize) -> Option<usize> {
    fields_size_within(doc.iter().map(|(name, value)| (name.len(), value)), limit)
}

/// The length of a document or array whose elements have names of these lengths
/// and these values, if it is at most `limit`.
fn fields_size_within<'a>(fields: impl Iterator<Item = (usize, &'a Bson)>, limit: usize) -> Option<usize> {
    let mut size = 4 + 1;
    for (name_len, value) in fields {
        let room = limit.checked_sub(size + 1 + name_len + 1)?;
        size += 1 + name_len + 1 + value_size_within(value, room)?;
    }
    (size <= limit).then_some(size)
}

/// The length of a value's encoding (as [`value_size`]) if it is at most `limit`.
pub fn value_size_within(value: &Bson, limit: usize) -> Option<usize> {
    let size = match value {
        Bson::Document(doc) => document_size_within(doc, limit)?,
        Bson::Array(items) => fields_size_within(items.iter().enumerate().map(|(i, v)| (decimal_digits(i), v)), limit)?,
        other => value_size(other),
    };
    (size <= limit).then_some(size)
}

fn array_size(items: &[Bson]) -> usize {
    4 + items.iter().enumerate().map(|(i, value)| 1 + decimal_digits(i) + 1 + value_size(value)).sum::<usize>() + 1
}

/// The number of digits of `i` written in decimal (an array element's name).
fn decimal_digits(i: usize) -> usize {
    i.checked_ilog10().map_or(1, |d| d as usize + 1)
}

/// A length-prefixed, NUL-terminated string.
fn string_size(s: &str) -> usize {
    4 + s.len() + 1
}

/// The length of a value's BSON encoding, without the element's type byte and name.
pub fn value_size(value: &Bson) -> usize {
    match value {
        Bson::Double(_) | Bson::DateTime(_) | Bson::Timestamp(_) | Bson::Int64(_) => 8,
        Bson::Int32(_) => 4,
        Bson::Decimal128(_) => 16,
        Bson::ObjectId(_) => 12,
        Bson::Boolean(_) => 1,
        Bson::Null | Bson::Undefined | Bson::MinKey | Bson::MaxKey => 0,
        Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s) => string_size(s),
        Bson::Document(doc) => document_size(doc),
        Bson::Array(items) => array_size(items),
        Bson::Binary(binary) => {
            // The old binary subtype repeats the length inside the payload.
            let inner = if binary.subtype == BinarySubtype::BinaryOld { 4 } else { 0 };
            4 + 1 + inner + binary.bytes.len()
        }
        Bson::RegularExpression(regex) => regex.pattern.len() + 1 + regex.options.len() + 1,
        Bson::JavaScriptCodeWithScope(code) => 4 + string_size(&code.code) + document_size(&code.scope),
        // The bson crate keeps a DBPointer's parts private: measure its encoding.
        Bson::DbPointer(_) => {
            let mut doc = Document::new();
            doc.insert("", value.clone());
            bson::to_vec(&doc).map_or(0, |bytes| bytes.len() - 4 - 1 - 1 - 1)
        }
    }
}

#[cfg(test)]
mod within_tests {
    use bson::doc;

    use super::*;

    #[test]
    fn a_size_within_a_limit_is_the_size_and_beyond_it_none() {
        let doc = doc! {"a": 1, "b": {"c": [1, "two", {"d": null}]}, "e": "x".repeat(100)};
        let size = document_size(&doc);
        assert_eq!(document_size_within(&doc, size), Some(size));
        assert_eq!(document_size_within(&doc, size + 1000), Some(size));
        assert_eq!(document_size_within(&doc, size - 1), None);
        assert_eq!(document_size_within(&doc, 10), None);
    }
}

#[cfg(test)]
mod footprint_tests {
    use bson::doc;

    use super::*;

    #[test]
    fn a_footprint_counts_what_memory_holds_not_the_encoding() {
        let small = doc! {"a": 1};
        assert!(document_footprint(&small) > document_size(&small) * 5, "a small field costs an entry");
        let big = doc! {"s": "x".repeat(100_000)};
        let (footprint, size) = (document_footprint(&big), document_size(&big));
        assert!(footprint >= 100_000 && footprint < size + 1000, "{footprint} for {size}");
        let nested = doc! {"d": {"a": [1, 2, "xyz"]}};
        assert!(document_footprint(&nested) > document_footprint(&doc! {"d": {}}) + 3 * std::mem::size_of::<Bson>());
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, oid::ObjectId, Binary, DateTime, Decimal128, JavaScriptCodeWithScope, Regex, Timestamp};

    use super::*;

    #[test]
    fn sizes_equal_the_encoded_length() {
        let samples = [
            doc! {},
            doc! {"a": 1, "b": 2.5, "c": "text", "d": true, "e": null, "f": 5i64},
            doc! {"array": (0..15).map(Bson::Int32).collect::<Vec<_>>(), "nested": {"x": [{"y": []}]}},
            doc! {"id": ObjectId::new(), "when": DateTime::now(), "ts": Timestamp { time: 1, increment: 2 }},
            doc! {"bin": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2, 3] }},
            doc! {"old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![1, 2, 3] }},
            doc! {"re": Regex { pattern: "^a.*".into(), options: "i".into() }, "dec": Decimal128::from_bytes([0; 16])},
            doc! {"code": Bson::JavaScriptCode("f()".into()), "scoped": JavaScriptCodeWithScope { code: "g".into(), scope: doc! {"v": 1} }},
            doc! {"min": Bson::MinKey, "max": Bson::MaxKey, "u": Bson::Undefined, "s": Bson::Symbol("sym".into())},
        ];
        for doc in samples {
            assert_eq!(document_size(&doc), bson::to_vec(&doc).expect("encodes").len(), "{doc}");
        }
    }
}
