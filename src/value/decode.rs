//! Raw BSON bytes to a document, with no interpretation of field names.
//!
//! One pass over the bytes builds the values as it goes. The `bson` crate's own
//! conversion (`Document::try_from(&RawDocument)`) copies each embedded document or
//! array into a buffer of its own before converting it, so a value nested `n` deep
//! is copied `n` times; on the documents a `bulkWrite` carries (an operation around
//! a filter around an `_id`) that made decoding take twice as long. The result is
//! the same document that conversion gives (`tests` compare the two, on every type
//! and on damaged bytes).

use bson::oid::ObjectId;
use bson::spec::BinarySubtype;
use bson::{Binary, Bson, Decimal128, Document, JavaScriptCodeWithScope, Regex, Timestamp};

/// The deepest nesting decoded: far above what a message may hold (the wire's
/// check refuses more than [`super::check::MAX_NESTING_DEPTH`]), so it only keeps
/// the recursion within a thread's stack.
const MAX_DEPTH: usize = 1000;

/// Why bytes are not a BSON document.
#[derive(Debug, Clone, PartialEq)]
pub struct DecodeError(String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "malformed BSON: {}", self.0)
    }
}

impl std::error::Error for DecodeError {}

type Result<T> = std::result::Result<T, DecodeError>;

fn malformed<T>(what: impl Into<String>) -> Result<T> {
    Err(DecodeError(what.into()))
}

/// Decodes one BSON document from exactly `bytes`, keeping every element as it is
/// encoded: field order, numeric types, and subdocuments whose keys look like
/// Extended JSON (`{$oid: "…"}` stays a subdocument with a string).
pub fn decode(bytes: &[u8]) -> Result<Document> {
    let mut doc = Document::new();
    let end = Reader { bytes }.elements(0, 0, |key, value| {
        doc.insert(key, value);
    })?;
    match end == bytes.len() {
        true => Ok(doc),
        false => malformed("the document's length is not its size"),
    }
}

/// A cursor-free view of the bytes being decoded: every read names its offset
/// and checks its bounds.
struct Reader<'a> {
    bytes: &'a [u8],
}

impl Reader<'_> {
    /// Reads the document at `at` (nested `depth` deep), handing each element to
    /// `each`; returns the offset after it.
    fn elements(&self, at: usize, depth: usize, mut each: impl FnMut(String, Bson)) -> Result<usize> {
        if depth > MAX_DEPTH {
            return malformed("nesting deeper than the limit");
        }
        let len = self.length(at)?;
        let end = at + len;
        if len < 5 || end > self.bytes.len() {
            return malformed("a document's length overruns its bytes");
        }
        if self.bytes[end - 1] != 0 {
            return malformed("a document does not end with a zero byte");
        }
        let mut pos = at + 4;
        while pos < end - 1 {
            let tag = self.bytes[pos];
            let key_end = self.cstring_end(pos + 1, end - 1)?;
            let key = self.str(pos + 1, key_end)?;
            let (value, next) = self.value(tag, key_end + 1, end - 1, depth)?;
            each(key.to_owned(), value);
            pos = next;
        }
        match pos == end - 1 {
            true => Ok(end),
            false => malformed("an element overruns its document"),
        }
    }

    /// The value of type `tag` at `at`, which must end by `limit`, and the offset
    /// after it.
    fn value(&self, tag: u8, at: usize, limit: usize, depth: usize) -> Result<(Bson, usize)> {
        let fixed = |size: usize| match at.checked_add(size).filter(|&end| end <= limit) {
            Some(end) => Ok((&self.bytes[at..end], end)),
            None => malformed("a value overruns its document"),
        };
        let le8 = |bytes: &[u8]| {
            let mut array = [0u8; 8];
            array.copy_from_slice(bytes);
            array
        };
        Ok(match tag {
            0x01 => fixed(8).map(|(b, end)| (Bson::Double(f64::from_le_bytes(le8(b))), end))?,
            0x02 => self.string(at, limit).map(|(s, end)| (Bson::String(s.to_owned()), end))?,
            0x03 => {
                let mut doc = Document::new();
                let end = self.elements(at, depth + 1, |key, value| {
                    doc.insert(key, value);
                })?;
                (Bson::Document(doc), self.within(end, limit)?)
            }
            0x04 => {
                let mut items = Vec::new();
                let end = self.elements(at, depth + 1, |_, value| items.push(value))?;
                (Bson::Array(items), self.within(end, limit)?)
            }
            0x05 => self.binary(at, limit)?,
            0x06 => (Bson::Undefined, at),
            0x07 => fixed(12).map(|(b, end)| {
                let mut id = [0u8; 12];
                id.copy_from_slice(b);
                (Bson::ObjectId(ObjectId::from_bytes(id)), end)
            })?,
            0x08 => match fixed(1)? {
                ([flag @ (0 | 1)], end) => (Bson::Boolean(*flag == 1), end),
                _ => return malformed("a boolean is neither 0 nor 1"),
            },
            0x09 => fixed(8)
                .map(|(b, end)| (Bson::DateTime(bson::DateTime::from_millis(i64::from_le_bytes(le8(b)))), end))?,
            0x0A => (Bson::Null, at),
            0x0B => {
                let pattern_end = self.cstring_end(at, limit)?;
                let options_end = self.cstring_end(pattern_end + 1, limit)?;
                let pattern = self.str(at, pattern_end)?.to_owned();
                // Options are kept in alphabetical order, as the crate's `Regex` keeps them.
                let mut options: Vec<char> = self.str(pattern_end + 1, options_end)?.chars().collect();
                options.sort_unstable();
                (Bson::RegularExpression(Regex { pattern, options: options.into_iter().collect() }), options_end + 1)
            }
            0x0C => self.db_pointer(at, limit)?,
            0x0D => self.string(at, limit).map(|(s, end)| (Bson::JavaScriptCode(s.to_owned()), end))?,
            0x0E => self.string(at, limit).map(|(s, end)| (Bson::Symbol(s.to_owned()), end))?,
            0x0F => self.code_with_scope(at, limit, depth)?,
            0x10 => fixed(4).map(|(b, end)| (Bson::Int32(i32::from_le_bytes([b[0], b[1], b[2], b[3]])), end))?,
            0x11 => fixed(8).map(|(b, end)| {
                let increment = u32::from_le_bytes([b[0], b[1], b[2], b[3]]);
                let time = u32::from_le_bytes([b[4], b[5], b[6], b[7]]);
                (Bson::Timestamp(Timestamp { time, increment }), end)
            })?,
            0x12 => fixed(8).map(|(b, end)| (Bson::Int64(i64::from_le_bytes(le8(b))), end))?,
            0x13 => fixed(16).map(|(b, end)| {
                let mut bytes = [0u8; 16];
                bytes.copy_from_slice(b);
                (Bson::Decimal128(Decimal128::from_bytes(bytes)), end)
            })?,
            0x7F => (Bson::MaxKey, at),
            0xFF => (Bson::MinKey, at),
            other => return malformed(format!("unknown element type {other:#04x}")),
        })
    }

    /// A length-prefixed, zero-terminated UTF-8 string at `at`, and the offset after it.
    fn string(&self, at: usize, limit: usize) -> Result<(&str, usize)> {
        let len = self.length(at)?;
        let end = (at + 4).checked_add(len).filter(|&end| len >= 1 && end <= limit);
        let Some(end) = end else { return malformed("a string overruns its document") };
        if self.bytes[end - 1] != 0 {
            return malformed("a string does not end with a zero byte");
        }
        Ok((self.str(at + 4, end - 1)?, end))
    }

    fn binary(&self, at: usize, limit: usize) -> Result<(Bson, usize)> {
        let len = self.length(at)?;
        let end = (at + 5).checked_add(len).filter(|&end| end <= limit);
        let Some(end) = end else { return malformed("binary data overruns its document") };
        let subtype = BinarySubtype::from(self.bytes[at + 4]);
        let mut data = &self.bytes[at + 5..end];
        if subtype == BinarySubtype::BinaryOld {
            // The old subtype repeats the length inside the data.
            match data.get(..4).map(|inner| i32::from_le_bytes([inner[0], inner[1], inner[2], inner[3]])) {
                Some(inner) if usize::try_from(inner).ok() == Some(len - 4) => data = &data[4..],
                _ => return malformed("old binary subtype has a wrong inner length"),
            }
        }
        Ok((Bson::Binary(Binary { subtype, bytes: data.to_vec() }), end))
    }

    fn code_with_scope(&self, at: usize, limit: usize, depth: usize) -> Result<(Bson, usize)> {
        let len = self.length(at)?;
        let end = at.checked_add(len).filter(|&end| len >= 14 && end <= limit);
        let Some(end) = end else { return malformed("code with scope overruns its document") };
        let (code, scope_at) = self.string(at + 4, end)?;
        let mut scope = Document::new();
        let scope_end = self.elements(scope_at, depth + 1, |key, value| {
            scope.insert(key, value);
        })?;
        match scope_end == end {
            true => Ok((Bson::JavaScriptCodeWithScope(JavaScriptCodeWithScope { code: code.to_owned(), scope }), end)),
            false => malformed("code with scope's length is not its size"),
        }
    }

    /// The deprecated DBPointer, which the crate builds only itself: the element
    /// alone, decoded by it.
    fn db_pointer(&self, at: usize, limit: usize) -> Result<(Bson, usize)> {
        let (_, id_at) = self.string(at, limit)?;
        let end = id_at + 12;
        if end > limit {
            return malformed("a DBPointer overruns its document");
        }
        let mut alone = Vec::with_capacity(end - at + 8);
        alone.extend_from_slice(&((end - at + 8) as i32).to_le_bytes());
        alone.extend_from_slice(&[0x0C, b'p', 0]);
        alone.extend_from_slice(&self.bytes[at..end]);
        alone.push(0);
        let doc = bson::RawDocument::from_bytes(&alone)
            .and_then(Document::try_from)
            .map_err(|e| DecodeError(e.to_string()))?;
        match doc.get("p") {
            Some(pointer) => Ok((pointer.clone(), end)),
            None => malformed("a DBPointer did not decode"),
        }
    }

    /// The value of the little-endian `i32` length at `at`, which must not be negative.
    fn length(&self, at: usize) -> Result<usize> {
        match self.bytes.get(at..at.saturating_add(4)) {
            Some(b) => match usize::try_from(i32::from_le_bytes([b[0], b[1], b[2], b[3]])) {
                Ok(len) => Ok(len),
                Err(_) => malformed("a negative length"),
            },
            None => malformed("a length overruns the bytes"),
        }
    }

    /// Where the zero byte ending the C string at `at` is, before `limit`.
    fn cstring_end(&self, at: usize, limit: usize) -> Result<usize> {
        match self.bytes.get(at..limit).and_then(|rest| rest.iter().position(|&b| b == 0)) {
            Some(len) => Ok(at + len),
            None => malformed("a field name or pattern has no end"),
        }
    }

    fn str(&self, at: usize, end: usize) -> Result<&str> {
        std::str::from_utf8(&self.bytes[at..end]).or_else(|e| malformed(format!("invalid UTF-8: {e}")))
    }

    /// `end`, if a nested value ends by its parent's `limit`.
    fn within(&self, end: usize, limit: usize) -> Result<usize> {
        match end <= limit {
            true => Ok(end),
            false => malformed("an embedded document overruns its parent"),
        }
    }
}

/// [`decode`] of the next document of a stream of them (a spill file), its
/// length read from its first four bytes.
pub fn decode_next(reader: &mut impl std::io::Read) -> std::io::Result<Document> {
    let mut len = [0u8; 4];
    reader.read_exact(&mut len)?;
    let len = usize::try_from(i32::from_le_bytes(len))
        .ok()
        .filter(|&len| len >= 5)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::InvalidData, "bad document length"))?;
    let mut bytes = vec![0u8; len];
    bytes[..4].copy_from_slice(&(len as i32).to_le_bytes());
    reader.read_exact(&mut bytes[4..])?;
    decode(&bytes).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e.to_string()))
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;

    /// What the `bson` crate's own conversion makes of `bytes`.
    fn by_the_crate(bytes: &[u8]) -> std::result::Result<Document, bson::raw::Error> {
        Document::try_from(bson::RawDocument::from_bytes(bytes)?)
    }

    /// A document of every element type, nested in documents, arrays and a
    /// code-with-scope, with a DBPointer (which only raw bytes can hold) at the end.
    fn every_type() -> Vec<u8> {
        let values = doc! {
            "double": 1.5, "string": "héllo", "empty": "", "doc": {"a": {"b": [1, {"c": null}]}},
            "array": [1i64, "two", [3.0], {}], "generic": Binary { subtype: BinarySubtype::Generic, bytes: vec![1, 2] },
            "uuid": Binary { subtype: BinarySubtype::Uuid, bytes: vec![7; 16] },
            "old": Binary { subtype: BinarySubtype::BinaryOld, bytes: vec![9, 8, 7] },
            "user": Binary { subtype: BinarySubtype::UserDefined(0x80), bytes: vec![] },
            "undefined": Bson::Undefined, "oid": ObjectId::from_bytes([3; 12]), "true": true, "false": false,
            "date": bson::DateTime::from_millis(-5), "null": null,
            "regex": Regex { pattern: "^a.*".into(), options: "xmi".into() },
            "code": Bson::JavaScriptCode("f()".into()), "symbol": Bson::Symbol("s".into()),
            "scoped": JavaScriptCodeWithScope { code: "g(x)".into(), scope: doc! {"x": [1]} },
            "int": -7, "ts": Timestamp { time: 10, increment: 3 }, "long": i64::MIN,
            "decimal": Decimal128::from_bytes([5; 16]), "max": Bson::MaxKey, "min": Bson::MinKey,
        };
        let mut bytes = Vec::new();
        doc! {"values": values.clone(), "again": [values]}.to_writer(&mut bytes).expect("encodes");
        // {"p": DBPointer("db.c", ObjectId)} spliced in before the terminator.
        let mut pointer = vec![0x0C, b'p', 0];
        pointer.extend_from_slice(&5i32.to_le_bytes());
        pointer.extend_from_slice(b"db.c\0");
        pointer.extend_from_slice(&[4; 12]);
        bytes.splice(bytes.len() - 1..bytes.len() - 1, pointer);
        let len = bytes.len() as i32;
        bytes[..4].copy_from_slice(&len.to_le_bytes());
        bytes
    }

    #[test]
    fn every_type_decodes_as_the_crate_decodes_it() {
        let bytes = every_type();
        let decoded = decode(&bytes).expect("decodes");
        assert_eq!(decoded, by_the_crate(&bytes).expect("the crate decodes it"));
        assert!(matches!(decoded.get("p"), Some(Bson::DbPointer(_))));
        let regex = decoded.get_document("values").ok().and_then(|v| v.get("regex"));
        assert!(matches!(regex, Some(Bson::RegularExpression(Regex { options, .. })) if options == "imx"));
    }

    /// Damaged bytes never panic, and decode exactly when the crate decodes them,
    /// to the same document.
    #[test]
    fn damaged_bytes_decode_as_the_crate_decodes_them_or_not_at_all() {
        let bytes = every_type();
        let mut damaged: Vec<Vec<u8>> = (0..bytes.len()).map(|cut| bytes[..cut].to_vec()).collect();
        for at in 0..bytes.len() {
            for replacement in [0x00, 0x01, 0x02, 0x05, 0x7F, 0x80, 0xFF] {
                let mut b = bytes.clone();
                b[at] = replacement;
                damaged.push(b);
            }
        }
        for b in damaged {
            match (decode(&b), by_the_crate(&b)) {
                // Compared as bytes: a damaged double may be a NaN, unequal to itself.
                (Ok(ours), Ok(theirs)) => assert_eq!(encoded(&ours), encoded(&theirs)),
                (Err(_), Err(_)) => {}
                (ours, theirs) => panic!("{b:?}: ours {ours:?}, the crate's {theirs:?}"),
            }
        }
    }

    fn encoded(doc: &Document) -> Vec<u8> {
        let mut bytes = Vec::new();
        doc.to_writer(&mut bytes).expect("encodes");
        bytes
    }

    #[test]
    fn nesting_past_the_limit_is_refused_not_a_crash() {
        let mut bytes = vec![5, 0, 0, 0, 0];
        for _ in 0..MAX_DEPTH + 10 {
            let mut outer = Vec::with_capacity(bytes.len() + 8);
            outer.extend_from_slice(&((bytes.len() + 8) as i32).to_le_bytes());
            outer.extend_from_slice(&[0x03, b'a', 0]);
            outer.extend_from_slice(&bytes);
            outer.push(0);
            bytes = outer;
        }
        assert!(decode(&bytes).is_err());
    }

    /// Every Extended JSON look-alike stays the subdocument it was.
    #[test]
    fn extended_json_shapes_stay_documents() {
        let shapes = vec![
            doc! {"$oid": "507f1f77bcf86cd799439011"},
            doc! {"$numberLong": "1"},
            doc! {"$numberInt": "1"},
            doc! {"$numberDouble": "1.5"},
            doc! {"$numberDecimal": "1.5"},
            doc! {"$date": {"$numberLong": "0"}},
            doc! {"$date": "2020-01-01T00:00:00Z"},
            doc! {"$symbol": "s"},
            doc! {"$code": "x"},
            doc! {"$code": "x", "$scope": {}},
            doc! {"$maxKey": 1},
            doc! {"$minKey": 1},
            doc! {"$timestamp": {"t": 1, "i": 2}},
            doc! {"$regularExpression": {"pattern": "a", "options": ""}},
            doc! {"$binary": {"base64": "AA==", "subType": "00"}},
            doc! {"$binary": "AA==", "$type": "00"},
            doc! {"$uuid": "00000000-0000-0000-0000-000000000000"},
            doc! {"$dbPointer": {"$ref": "c", "$id": {"$oid": "507f1f77bcf86cd799439011"}}},
            doc! {"$undefined": true},
        ];
        for shape in shapes {
            let original = doc! {"_id": 1, "a": shape.clone()};
            let mut bytes = Vec::new();
            original.to_writer(&mut bytes).expect("encodes");
            let decoded = decode(&bytes).expect("decodes");
            assert_eq!(decoded.get("a"), Some(&Bson::Document(shape)), "{original}");
            let mut again = Vec::new();
            decoded.to_writer(&mut again).expect("encodes");
            assert_eq!(again, bytes);
        }
    }

    #[test]
    fn streams_of_documents_decode_one_at_a_time() {
        let mut bytes = Vec::new();
        doc! {"a": {"$oid": "x"}}.to_writer(&mut bytes).expect("encodes");
        doc! {"b": 2}.to_writer(&mut bytes).expect("encodes");
        let mut reader = bytes.as_slice();
        assert_eq!(decode_next(&mut reader).expect("first"), doc! {"a": {"$oid": "x"}});
        assert_eq!(decode_next(&mut reader).expect("second"), doc! {"b": 2});
        assert!(decode_next(&mut reader).is_err());
    }
}
