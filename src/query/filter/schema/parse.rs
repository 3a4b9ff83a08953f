//! Compiling a `$jsonSchema` with MongoDB's checks, in MongoDB's order (the first
//! error found is the one reported): unknown, unsupported and repeated keywords
//! first, then `description`/`title`, the type keywords, and the keywords of
//! strings and numbers, arrays, encryption, documents and logic in that order.

use crate::value::regex::{Invalid, Regex};
use bson::spec::ElementType;
use bson::{Bson, Document};

use super::{Additional, Bound, Dependency, Encrypt, Items, Schema};
use crate::error::{Error, ErrorCode, Result};
use crate::query::filter::eval::TypeSet;
use crate::value::number::as_f64;
use crate::value::show;

const KEYWORDS: &[&str] = &[
    "additionalItems",
    "additionalProperties",
    "allOf",
    "anyOf",
    "bsonType",
    "dependencies",
    "description",
    "encrypt",
    "encryptMetadata",
    "enum",
    "exclusiveMaximum",
    "exclusiveMinimum",
    "items",
    "maxItems",
    "maxLength",
    "maxProperties",
    "maximum",
    "minItems",
    "minLength",
    "minProperties",
    "minimum",
    "multipleOf",
    "not",
    "oneOf",
    "pattern",
    "patternProperties",
    "properties",
    "required",
    "title",
    "type",
    "uniqueItems",
];

/// Keywords of draft 4 that MongoDB refuses by name.
const UNSUPPORTED: &[&str] = &["$ref", "$schema", "default", "definitions", "format", "id"];

/// The operand of `$jsonSchema`.
pub(super) fn root(spec: &Bson) -> Result<Schema> {
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch("$jsonSchema must be an object"));
    };
    schema(spec, true)
}

fn failed(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

fn keyword_type(keyword: &str, expected: &str) -> Error {
    Error::type_mismatch(format!("$jsonSchema keyword '{keyword}' must be {expected}"))
}

fn type_name(value: &Bson) -> &'static str {
    crate::value::type_name(Some(value))
}

/// One schema; `top` for the operand itself, whose keywords of numbers, strings
/// and arrays have no effect (though they are checked).
fn schema(spec: &Document, top: bool) -> Result<Schema> {
    let mut seen: Vec<&str> = Vec::new();
    for name in spec.keys() {
        if !KEYWORDS.contains(&name.as_str()) {
            return Err(match UNSUPPORTED.contains(&name.as_str()) {
                true => failed(format!("$jsonSchema keyword '{name}' is not currently supported")),
                false => failed(format!("Unknown $jsonSchema keyword: {name}")),
            });
        }
        if seen.contains(&name.as_str()) {
            return Err(failed(format!("Duplicate $jsonSchema keyword: {name}")));
        }
        seen.push(name);
    }
    for keyword in ["description", "title"] {
        if spec.get(keyword).is_some_and(|v| !matches!(v, Bson::String(_))) {
            return Err(Error::type_mismatch(format!("$jsonSchema keyword '{keyword}' must be of type string")));
        }
    }
    let has = |keyword: &str| spec.contains_key(keyword);
    if has("type") && has("bsonType") {
        return Err(failed("Cannot specify both $jsonSchema keywords 'type' and 'bsonType'"));
    }
    for keyword in ["type", "bsonType"] {
        if has(keyword) && has("encrypt") {
            return Err(failed(format!(
                "$jsonSchema keyword 'encrypt' cannot be used in conjunction with '{keyword}', 'encrypt' implies \
                 type 'bsonType::BinData'"
            )));
        }
    }
    let mut out = Schema { spec: spec.clone(), ..Schema::default() };
    if let Some(value) = spec.get("type") {
        out.types = Some(types("type", value)?);
    } else if let Some(value) = spec.get("bsonType") {
        out.types = Some(types("bsonType", value)?);
    }
    // Strings and numbers.
    if let Some(value) = spec.get("pattern") {
        let Bson::String(pattern) = value else { return Err(keyword_type("pattern", "a string")) };
        if !top {
            out.pattern = Some(pattern_regex(pattern)?);
        }
    }
    out.max_length = count(spec, "maxLength")?;
    out.min_length = count(spec, "minLength")?;
    if let Some(value) = spec.get("multipleOf") {
        let Some(number) = as_f64(value) else { return Err(keyword_type("multipleOf", "a number")) };
        let positive = match number.is_nan() {
            true => !value_is_negative(value),
            false => number > 0.0,
        };
        if !positive {
            return Err(failed("$jsonSchema keyword 'multipleOf' must have a positive value"));
        }
        if !top && number.is_nan() {
            return Err(Error::bad_value("divisor cannot be NaN"));
        }
        if !top && number.is_infinite() {
            return Err(Error::bad_value("divisor cannot be infinite"));
        }
        out.multiple_of = Some(value.clone());
    }
    out.maximum = bound(spec, "maximum", "exclusiveMaximum")?;
    out.minimum = bound(spec, "minimum", "exclusiveMinimum")?;
    // Arrays.
    out.min_items = count(spec, "minItems")?;
    out.max_items = count(spec, "maxItems")?;
    if let Some(value) = spec.get("uniqueItems") {
        let Bson::Boolean(unique) = value else { return Err(keyword_type("uniqueItems", "a boolean")) };
        out.unique_items = *unique;
    }
    if let Some(value) = spec.get("items") {
        out.items = match value {
            Bson::Document(each) => Items::Each(Box::new(schema(each, false)?)),
            Bson::Array(list) => Items::Tuple(
                list.iter()
                    .map(|item| match item {
                        Bson::Document(each) => schema(each, false),
                        other => Err(Error::type_mismatch(format!(
                            "$jsonSchema keyword 'items' requires that each element of the array is an object, but \
                             found a {}",
                            type_name(other)
                        ))),
                    })
                    .collect::<Result<_>>()?,
            ),
            other => {
                return Err(Error::type_mismatch(format!(
                    "$jsonSchema keyword 'items' must be an array or an object, not {}",
                    type_name(other)
                )))
            }
        };
    }
    if let Some(value) = spec.get("additionalItems") {
        out.additional_items = Some(match value {
            Bson::Boolean(allowed) => Additional::Allowed(*allowed),
            Bson::Document(each) => Additional::Schema(Box::new(schema(each, false)?)),
            other => {
                return Err(Error::type_mismatch(format!(
                    "$jsonSchema keyword 'additionalItems' must be either an object or a boolean, but got a {}",
                    type_name(other)
                )))
            }
        });
    }
    if top {
        out.items = Items::Any;
        out.additional_items = None;
        (out.min_items, out.max_items, out.unique_items) = (None, None, false);
        (out.min_length, out.max_length) = (None, None);
        (out.minimum, out.maximum, out.multiple_of) = (None, None, None);
    }
    encryption(spec, &mut out)?;
    // Documents.
    if let Some(value) = spec.get("required") {
        out.required = required(value)?;
    }
    if let Some(value) = spec.get("properties") {
        let Bson::Document(properties) = value else { return Err(keyword_type("properties", "an object")) };
        for (name, property) in properties {
            let Bson::Document(property) = property else {
                return Err(Error::type_mismatch(format!(
                    "Nested schema for $jsonSchema property '{name}' must be an object"
                )));
            };
            out.properties.push((name.clone(), schema(property, false)?));
        }
    }
    if let Some(value) = spec.get("patternProperties") {
        let Bson::Document(patterns) = value else { return Err(keyword_type("patternProperties", "an object")) };
        let mut parsed = Vec::new();
        for (pattern, property) in patterns {
            let Bson::Document(property) = property else {
                return Err(Error::type_mismatch(format!(
                    "$jsonSchema keyword 'patternProperties' has property '{pattern}' which is not an object"
                )));
            };
            parsed.push((pattern, schema(property, false)?));
        }
        if let Some(value) = spec.get("additionalProperties") {
            out.additional_properties = Some(additional_properties(value)?);
        }
        for (pattern, property) in parsed {
            let re =
                Regex::new(pattern, "").map_err(|e| Error::bad_value(format!("Invalid regular expression: {e}")))?;
            out.pattern_properties.push((re, property));
        }
    } else if let Some(value) = spec.get("additionalProperties") {
        out.additional_properties = Some(additional_properties(value)?);
    }
    out.min_properties = count(spec, "minProperties")?;
    out.max_properties = count(spec, "maxProperties")?;
    if let Some(value) = spec.get("dependencies") {
        out.dependencies = dependencies(value)?;
    }
    // Logic.
    for keyword in ["allOf", "anyOf", "oneOf"] {
        let Some(value) = spec.get(keyword) else { continue };
        let list = schema_list(keyword, value, top)?;
        match keyword {
            "allOf" => out.all_of = list,
            "anyOf" => out.any_of = list,
            _ => out.one_of = list,
        }
    }
    if let Some(value) = spec.get("not") {
        let Bson::Document(not) = value else {
            return Err(Error::type_mismatch(format!(
                "$jsonSchema keyword 'not' must be an object, but found an element of type {}",
                type_name(value)
            )));
        };
        out.not = Some(Box::new(schema(not, top)?));
    }
    if let Some(value) = spec.get("enum") {
        out.enumeration = Some(enumeration(value)?);
    }
    Ok(out)
}

/// `type` (JSON's names) or `bsonType` (`$type`'s aliases).
fn types(keyword: &str, value: &Bson) -> Result<TypeSet> {
    let names: Vec<&str> = match value {
        Bson::String(name) => vec![name.as_str()],
        Bson::Array(items) => {
            let mut names = Vec::new();
            for item in items {
                let Bson::String(name) = item else {
                    return Err(Error::type_mismatch(format!(
                        "$jsonSchema keyword '{keyword}' array elements must be strings"
                    )));
                };
                if name == "integer" {
                    return Err(failed("$jsonSchema type 'integer' is not currently supported."));
                }
                if names.contains(&name.as_str()) {
                    return Err(failed(format!("$jsonSchema keyword '{keyword}' has duplicate value: {name}")));
                }
                names.push(name.as_str());
            }
            names
        }
        _ => {
            return Err(Error::type_mismatch(format!(
                "$jsonSchema keyword '{keyword}' must be either a string or an array of strings"
            )))
        }
    };
    if names.is_empty() {
        return Err(failed(format!("$jsonSchema keyword '{keyword}' must name at least one type")));
    }
    if names.contains(&"integer") {
        return Err(failed("$jsonSchema type 'integer' is not currently supported."));
    }
    let mut sorted = names.clone();
    sorted.sort_unstable();
    let mut set = TypeSet::default();
    for name in sorted {
        if name == "missing" {
            return Err(Error::bad_value(
                "'missing' is not a legal type name. To query for non-existence of a field, use {$exists:false}.",
            ));
        }
        match (keyword, name) {
            (_, "number") => set.numbers = true,
            ("type", _) => set.types.push(json_type(name)?),
            _ => set.types.push(
                crate::value::type_by_alias(name)
                    .ok_or_else(|| Error::bad_value(format!("Unknown type name alias: {name}")))?,
            ),
        }
    }
    Ok(set)
}

/// A JSON Schema type name other than `number`.
fn json_type(name: &str) -> Result<ElementType> {
    Ok(match name {
        "object" => ElementType::EmbeddedDocument,
        "array" => ElementType::Array,
        "string" => ElementType::String,
        "boolean" => ElementType::Boolean,
        "null" => ElementType::Null,
        _ => return Err(Error::bad_value(format!("Unknown type name alias: {name}"))),
    })
}

/// `pattern`: searched for anywhere in the string.
fn pattern_regex(pattern: &str) -> Result<Regex> {
    Regex::new(pattern, "").map_err(|invalid| match invalid {
        Invalid::Syntax(e) => Error::command(ErrorCode::Location51091, format!("Regular expression is invalid: {e}")),
        other => Error::bad_value(other.to_string()),
    })
}

/// A keyword whose value is a count: a non-negative whole number.
fn count(spec: &Document, keyword: &str) -> Result<Option<u64>> {
    let Some(value) = spec.get(keyword) else { return Ok(None) };
    let element = show::element(keyword, value);
    let whole = match value {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(d) if d.is_nan() => {
            return Err(failed(format!("Expected an integer, but found NaN in: {element}")))
        }
        Bson::Double(d) if *d < -9.223_372_036_854_776e18 || *d >= 9.223_372_036_854_776e18 => {
            return Err(failed(format!("Cannot represent as a 64-bit integer: {element}")))
        }
        Bson::Double(d) if d.fract() != 0.0 => return Err(failed(format!("Expected an integer: {element}"))),
        Bson::Double(d) => *d as i64,
        Bson::Decimal128(_) => {
            let exact = as_f64(value).filter(|d| d.is_finite() && d.fract() == 0.0 && d.abs() < 9.2e18);
            match exact {
                Some(d) => d as i64,
                None => return Err(failed(format!("Cannot represent as a 64-bit integer: {element}"))),
            }
        }
        _ => return Err(failed(format!("Expected a number in: {element}"))),
    };
    u64::try_from(whole).map(Some).map_err(|_| failed(format!("Expected a non-negative number in: {element}")))
}

/// `maximum`/`minimum` with their `exclusive…` partner.
fn bound(spec: &Document, keyword: &str, exclusive: &str) -> Result<Option<Bound>> {
    let Some(value) = spec.get(keyword) else {
        if spec.contains_key(exclusive) {
            return Err(failed(format!("$jsonSchema keyword '{keyword}' must be a present if {exclusive} is present")));
        }
        return Ok(None);
    };
    let exclusive = match spec.get(exclusive) {
        None => false,
        Some(Bson::Boolean(flag)) => *flag,
        Some(_) => return Err(keyword_type(exclusive, "a boolean")),
    };
    if as_f64(value).is_none() {
        return Err(keyword_type(keyword, "a number"));
    }
    Ok(Some(Bound { value: value.clone(), exclusive }))
}

/// Whether a number's sign is negative (for a NaN divisor, which MongoDB refuses
/// as not positive when its sign bit is set).
fn value_is_negative(value: &Bson) -> bool {
    match value {
        Bson::Double(d) => d.is_sign_negative(),
        Bson::Decimal128(d) => d.to_string().starts_with('-'),
        _ => false,
    }
}

fn required(value: &Bson) -> Result<Vec<String>> {
    let Bson::Array(items) = value else {
        return Err(Error::type_mismatch(format!(
            "$jsonSchema keyword 'required' must be an array, but found an element of type {}",
            type_name(value)
        )));
    };
    let mut names: Vec<String> = Vec::new();
    for item in items {
        let Bson::String(name) = item else {
            return Err(Error::type_mismatch(format!(
                "$jsonSchema keyword 'required' must be an array of strings, but found an element of type: {}",
                type_name(item)
            )));
        };
        if names.contains(name) {
            return Err(failed("$jsonSchema keyword 'required' array cannot contain duplicate values"));
        }
        names.push(name.clone());
    }
    if names.is_empty() {
        return Err(failed("$jsonSchema keyword 'required' cannot be an empty array"));
    }
    Ok(names)
}

fn additional_properties(value: &Bson) -> Result<Additional> {
    match value {
        Bson::Boolean(allowed) => Ok(Additional::Allowed(*allowed)),
        Bson::Document(each) => Ok(Additional::Schema(Box::new(schema(each, false)?))),
        _ => Err(keyword_type("additionalProperties", "an object or a boolean")),
    }
}

fn dependencies(value: &Bson) -> Result<Vec<(String, Dependency)>> {
    let Bson::Document(entries) = value else { return Err(keyword_type("dependencies", "an object")) };
    let mut out = Vec::new();
    for (name, entry) in entries {
        match entry {
            Bson::Document(dependency) => {
                out.push((name.clone(), Dependency::Schema(Box::new(schema(dependency, false)?))))
            }
            Bson::Array(fields) => {
                if fields.is_empty() {
                    return Err(failed(format!(
                        "property '{name}' in $jsonSchema keyword 'dependencies' cannot be an empty array"
                    )));
                }
                let mut names: Vec<String> = Vec::new();
                for field in fields {
                    let Bson::String(field) = field else {
                        return Err(Error::type_mismatch(format!(
                            "array '{name}' in $jsonSchema keyword 'dependencies' can only contain strings, but found \
                             element of type: {}",
                            type_name(field)
                        )));
                    };
                    if names.contains(field) {
                        return Err(failed(format!(
                            "array '{name}' in $jsonSchema keyword 'dependencies' contains duplicate element: {field}"
                        )));
                    }
                    names.push(field.clone());
                }
                out.push((name.clone(), Dependency::Fields(names)));
            }
            Bson::String(_) if name == "title" || name == "description" => {}
            _ => {
                return Err(Error::type_mismatch(format!(
                    "property '{name}' in $jsonSchema keyword 'dependencies' must be either an object or an array"
                )))
            }
        }
    }
    Ok(out)
}

/// `allOf`, `anyOf`, `oneOf`: schemas applied at the same level.
fn schema_list(keyword: &str, value: &Bson, top: bool) -> Result<Vec<Schema>> {
    let Bson::Array(items) = value else { return Err(keyword_type(keyword, "an array")) };
    if items.is_empty() {
        return Err(Error::bad_value(format!("$jsonSchema keyword '{keyword}' must be a non-empty array")));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(each) => schema(each, top),
            other => Err(Error::type_mismatch(format!(
                "$jsonSchema keyword '{keyword}' must be an array of objects, but found an element of type {}",
                type_name(other)
            ))),
        })
        .collect()
}

fn enumeration(value: &Bson) -> Result<Vec<Bson>> {
    let Bson::Array(items) = value else {
        return Err(Error::type_mismatch(format!(
            "$jsonSchema keyword 'enum' must be an array, but found an element of type {}",
            type_name(value)
        )));
    };
    if items.is_empty() {
        return Err(failed("$jsonSchema keyword 'enum' cannot be an empty array"));
    }
    for (i, item) in items.iter().enumerate() {
        if items[..i].iter().any(|earlier| super::values_equal(earlier, item)) {
            return Err(failed("$jsonSchema keyword 'enum' array cannot contain duplicate values."));
        }
    }
    Ok(items.clone())
}

/// `encrypt` and `encryptMetadata` (client-side field level encryption): checked
/// as MongoDB checks them; `encrypt` matches encrypted payloads only.
fn encryption(spec: &Document, out: &mut Schema) -> Result<()> {
    let (encrypt, metadata) = (spec.get("encrypt"), spec.get("encryptMetadata"));
    if encrypt.is_some() && metadata.is_some() {
        return Err(failed("Cannot specify both $jsonSchema keywords 'encrypt' and 'encryptMetadata'"));
    }
    if let Some(value) = metadata {
        let Bson::Document(fields) = value else { return Err(keyword_type("encryptMetadata", "an object ")) };
        if fields.is_empty() {
            return Err(failed("$jsonSchema keyword 'encryptMetadata' cannot be an empty object "));
        }
        encryption_fields("encryptMetadata", fields, false)?;
    }
    if let Some(value) = encrypt {
        let Bson::Document(fields) = value else { return Err(keyword_type("encrypt", "an object ")) };
        let types = encryption_fields("encrypt", fields, true)?;
        out.encrypt = Some(Encrypt { types });
    }
    Ok(())
}

/// The fields of `encrypt` (`bsonType`, `algorithm`, `keyId`) or `encryptMetadata`
/// (`algorithm`, `keyId`); the types `encrypt.bsonType` names.
fn encryption_fields(keyword: &str, fields: &Document, with_type: bool) -> Result<Option<TypeSet>> {
    let mut types = None;
    for (name, value) in fields {
        match name.as_str() {
            "bsonType" if with_type => types = Some(self::types("bsonType", value)?),
            "algorithm" => {
                let Bson::String(algorithm) = value else {
                    return Err(Error::type_mismatch(format!(
                        "BSON field '{keyword}.algorithm' is the wrong type '{}', expected type 'string'",
                        type_name(value)
                    )));
                };
                if !matches!(
                    algorithm.as_str(),
                    "AEAD_AES_256_CBC_HMAC_SHA_512-Deterministic" | "AEAD_AES_256_CBC_HMAC_SHA_512-Random"
                ) {
                    return Err(Error::bad_value(format!(
                        "Enumeration value '{algorithm}' for field '{keyword}.algorithm' is not a valid value."
                    )));
                }
            }
            "keyId" => match value {
                Bson::String(_) => {}
                Bson::Array(ids)
                    if ids
                        .iter()
                        .all(|id| matches!(id, Bson::Binary(b) if b.subtype == bson::spec::BinarySubtype::Uuid)) => {}
                _ => {
                    return Err(Error::command(
                        ErrorCode::Location51088,
                        "JSONPointer must be a string or an array of UUIDs",
                    ))
                }
            },
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40415,
                    format!("BSON field '{keyword}.{name}' is an unknown field."),
                ))
            }
        }
    }
    Ok(types)
}
