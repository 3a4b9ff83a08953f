//! BSON types by MongoDB's names (`$type`, `$convert`, error messages) and numbers.

use bson::spec::ElementType;
use bson::Bson;

/// Every BSON type MongoDB names, with its alias, in type-number order.
const TYPES: [(ElementType, &str); 21] = [
    (ElementType::Double, "double"),
    (ElementType::String, "string"),
    (ElementType::EmbeddedDocument, "object"),
    (ElementType::Array, "array"),
    (ElementType::Binary, "binData"),
    (ElementType::Undefined, "undefined"),
    (ElementType::ObjectId, "objectId"),
    (ElementType::Boolean, "bool"),
    (ElementType::DateTime, "date"),
    (ElementType::Null, "null"),
    (ElementType::RegularExpression, "regex"),
    (ElementType::DbPointer, "dbPointer"),
    (ElementType::JavaScriptCode, "javascript"),
    (ElementType::Symbol, "symbol"),
    (ElementType::JavaScriptCodeWithScope, "javascriptWithScope"),
    (ElementType::Int32, "int"),
    (ElementType::Timestamp, "timestamp"),
    (ElementType::Int64, "long"),
    (ElementType::Decimal128, "decimal"),
    (ElementType::MinKey, "minKey"),
    (ElementType::MaxKey, "maxKey"),
];

/// MongoDB's name for a value's type, as `$type` returns it and error messages
/// say it; `"missing"` for no value.
pub fn type_name(value: Option<&Bson>) -> &'static str {
    value.map_or("missing", |v| alias(v.element_type()))
}

/// MongoDB's alias of a type.
pub fn alias(t: ElementType) -> &'static str {
    TYPES.iter().find(|(known, _)| *known == t).map_or("unknown", |(_, name)| name)
}

/// The type an alias names.
pub fn type_by_alias(alias: &str) -> Option<ElementType> {
    TYPES.iter().find(|(_, name)| *name == alias).map(|(t, _)| *t)
}

/// The type of a BSON type number (`-1` is minKey, `127` maxKey).
pub fn type_by_code(code: i64) -> Option<ElementType> {
    let byte = match code {
        -1 => 0xFF,
        0x01..=0x13 | 0x7F => code as u8,
        _ => return None,
    };
    ElementType::from(byte)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_type_round_trips_by_alias_and_number() {
        for (t, name) in TYPES {
            assert_eq!(alias(t), name);
            assert_eq!(type_by_alias(name), Some(t));
            let code = match t as u8 {
                0xFF => -1,
                b => i64::from(b),
            };
            assert_eq!(type_by_code(code), Some(t), "{name}");
        }
        assert_eq!(type_by_alias("number"), None, "number is $type's own alias");
        assert_eq!(type_by_code(0), None);
        assert_eq!(type_by_code(20), None);
        assert_eq!(type_name(None), "missing");
        assert_eq!(type_name(Some(&Bson::Int64(1))), "long");
    }
}
