//! Whether two values are the same BSON, byte for byte: of one type, with their
//! fields in the same order, and doubles with the same bits. `Bson`'s and
//! `Document`'s own equality differ on each count: a document compares as a map,
//! `0.0` equals `-0.0`, and a NaN never equals itself.
//! MongoDB decides by the bytes whether an update modified a document.

use bson::{Bson, Document};

/// Whether `a` and `b` encode to the same bytes.
pub fn identical(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(a), Bson::Document(b)) => identical_documents(a, b),
        (Bson::Array(a), Bson::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(a, b)| identical(a, b)),
        (Bson::Double(a), Bson::Double(b)) => a.to_bits() == b.to_bits(),
        (Bson::JavaScriptCodeWithScope(a), Bson::JavaScriptCodeWithScope(b)) => {
            a.code == b.code && identical_documents(&a.scope, &b.scope)
        }
        _ => a == b,
    }
}

/// As [`identical`], for documents.
pub fn identical_documents(a: &Document, b: &Document) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|((ka, va), (kb, vb))| ka == kb && identical(va, vb))
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::*;

    #[test]
    fn field_order_types_and_double_bits_count() {
        assert!(identical_documents(&doc! {"a": 1, "b": {"c": [1.5, "x"]}}, &doc! {"a": 1, "b": {"c": [1.5, "x"]}}));
        assert!(!identical_documents(&doc! {"a": 1, "b": 2}, &doc! {"b": 2, "a": 1}));
        assert!(!identical_documents(&doc! {"x": {"a": 1, "b": 2}}, &doc! {"x": {"b": 2, "a": 1}}));
        assert!(!identical(&Bson::Int32(1), &Bson::Int64(1)));
        assert!(!identical(&Bson::Int32(1), &Bson::Double(1.0)));
        assert!(!identical(&Bson::Double(0.0), &Bson::Double(-0.0)));
        assert!(identical(&Bson::Double(f64::NAN), &Bson::Double(f64::NAN)));
        assert!(!identical(&bson::bson!([1, 2]), &bson::bson!([1, 2, 3])));
    }
}
