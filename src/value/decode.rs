//! Raw BSON bytes to a document, with no interpretation of field names.

use bson::{Document, RawDocument};

/// Decodes one BSON document from exactly `bytes`, keeping every element as it is
/// encoded: field order, numeric types, and subdocuments whose keys look like
/// Extended JSON (`{$oid: "…"}` stays a subdocument with a string).
pub fn decode(bytes: &[u8]) -> Result<Document, bson::raw::Error> {
    Document::try_from(RawDocument::from_bytes(bytes)?)
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
