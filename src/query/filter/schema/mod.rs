//! `$jsonSchema`: MongoDB's subset of JSON Schema draft 4 with its `bsonType`
//! extension, compiled once (`parse.rs`) and matched against whole documents.
//!
//! The rules follow MongoDB's, not the draft's where they differ:
//!
//! - a keyword checks only values of its own kind (`minimum` numbers, `pattern`
//!   strings, `items` arrays, `properties` documents); other values pass it;
//! - arrays are never traversed: `{type: "number"}` does not match `[1]`;
//! - at the top level the value is the stored document (`_id` included): a type
//!   that leaves out `object` matches nothing, keywords of numbers, strings and
//!   arrays have no effect, and `enum` compares the whole document;
//! - equality (`enum`, `uniqueItems`) compares numbers by value across types and
//!   documents regardless of field order;
//! - a property that is missing passes its schema unless it is `required`.

mod explain;
mod parse;

use std::cmp::Ordering;

use crate::value::regex::Regex;
use bson::spec::ElementType;
use bson::{Bson, Document};

use super::super::path::{LeafArrays, Path};
use super::eval::TypeSet;
use crate::error::Result;
use crate::value::number::as_f64;
use crate::value::order;

/// A compiled `$jsonSchema`, matched against whole documents.
#[derive(Debug, Clone)]
pub struct JsonSchema {
    root: Schema,
}

impl JsonSchema {
    /// Compiles the operand of `$jsonSchema`.
    pub fn parse(spec: &Bson) -> Result<JsonSchema> {
        parse::root(spec).map(|root| JsonSchema { root })
    }

    pub fn matches(&self, doc: &Document) -> bool {
        self.root.matches_root(doc)
    }
}

/// One schema (the top-level one, or one nested under a keyword).
#[derive(Debug, Clone, Default)]
pub(super) struct Schema {
    /// The schema as written, for explanations.
    spec: Document,
    /// `type` or `bsonType`; `encrypt` implies binData.
    types: Option<TypeSet>,
    encrypt: Option<Encrypt>,
    minimum: Option<Bound>,
    maximum: Option<Bound>,
    multiple_of: Option<Bson>,
    min_length: Option<u64>,
    max_length: Option<u64>,
    pattern: Option<Regex>,
    items: Items,
    additional_items: Option<Additional>,
    min_items: Option<u64>,
    max_items: Option<u64>,
    unique_items: bool,
    properties: Vec<(String, Schema)>,
    required: Vec<String>,
    pattern_properties: Vec<(Regex, Schema)>,
    additional_properties: Option<Additional>,
    min_properties: Option<u64>,
    max_properties: Option<u64>,
    dependencies: Vec<(String, Dependency)>,
    enumeration: Option<Vec<Bson>>,
    all_of: Vec<Schema>,
    any_of: Vec<Schema>,
    one_of: Vec<Schema>,
    not: Option<Box<Schema>>,
}

#[derive(Debug, Clone)]
struct Bound {
    value: Bson,
    exclusive: bool,
}

#[derive(Debug, Clone, Default)]
enum Items {
    #[default]
    Any,
    /// One schema for every element.
    Each(Box<Schema>),
    /// A schema per position.
    Tuple(Vec<Schema>),
}

/// `additionalItems` and `additionalProperties`.
#[derive(Debug, Clone)]
enum Additional {
    Allowed(bool),
    Schema(Box<Schema>),
}

#[derive(Debug, Clone)]
enum Dependency {
    /// The document must also have these fields.
    Fields(Vec<String>),
    /// The document must also match this schema.
    Schema(Box<Schema>),
}

/// `encrypt`: the value is an encrypted payload (binary subtype 6), of one of
/// `types` when given (the original type is the payload's 18th byte).
#[derive(Debug, Clone, Default)]
struct Encrypt {
    types: Option<TypeSet>,
}

impl Schema {
    /// The top-level schema against a stored document.
    fn matches_root(&self, doc: &Document) -> bool {
        if let Some(types) = self.stated_types() {
            if !types.types.contains(&ElementType::EmbeddedDocument) {
                return false;
            }
        }
        if let Some(values) = &self.enumeration {
            let whole = values.iter().any(|v| matches!(v, Bson::Document(d) if documents_equal(d, doc)));
            if !whole {
                return false;
            }
        }
        self.matches_document(doc, None) && self.matches_logic(|schema| schema.matches_root(doc))
    }

    /// A nested schema against a value that is present.
    fn matches(&self, value: &Bson) -> bool {
        if let Some(types) = &self.types {
            if !types.contains(value) {
                return false;
            }
        }
        if let Some(encrypt) = &self.encrypt {
            if !encrypt.matches(value) {
                return false;
            }
        }
        if let Some(values) = &self.enumeration {
            if !values.iter().any(|v| values_equal(v, value)) {
                return false;
            }
        }
        let kind_holds = match value {
            Bson::String(s) => self.matches_string(s),
            Bson::Array(items) => self.matches_array(items),
            Bson::Document(doc) => self.matches_document(doc, Some(value)),
            number if as_f64(number).is_some() => self.matches_number(number),
            _ => true,
        };
        kind_holds && self.matches_logic(|schema| schema.matches(value))
    }

    /// The type the schema states: `type`/`bsonType`, or binData for `encrypt`.
    fn stated_types(&self) -> Option<TypeSet> {
        match (&self.types, &self.encrypt) {
            (Some(types), _) => Some(expand_numbers(types)),
            (None, Some(_)) => Some(TypeSet { numbers: false, types: vec![ElementType::Binary] }),
            (None, None) => None,
        }
    }

    fn matches_logic(&self, matches: impl Fn(&Schema) -> bool) -> bool {
        self.all_of.iter().all(&matches)
            && (self.any_of.is_empty() || self.any_of.iter().any(&matches))
            && (self.one_of.is_empty() || self.one_of.iter().filter(|s| matches(s)).count() == 1)
            && self.not.as_ref().is_none_or(|schema| !matches(schema))
    }

    fn matches_number(&self, value: &Bson) -> bool {
        let within = |bound: &Option<Bound>, wanted: Ordering| {
            bound.as_ref().is_none_or(|bound| match compare_numbers(value, &bound.value) {
                Some(Ordering::Equal) => !bound.exclusive,
                Some(ordering) => ordering == wanted,
                None => false,
            })
        };
        within(&self.minimum, Ordering::Greater)
            && within(&self.maximum, Ordering::Less)
            && self.multiple_of.as_ref().is_none_or(|divisor| is_multiple(value, divisor))
    }

    fn matches_string(&self, s: &str) -> bool {
        let length = s.chars().count() as u64;
        self.min_length.is_none_or(|min| length >= min)
            && self.max_length.is_none_or(|max| length <= max)
            && self.pattern.as_ref().is_none_or(|re| re.is_match(s).unwrap_or(false))
    }

    fn matches_array(&self, items: &[Bson]) -> bool {
        let count = items.len() as u64;
        if self.min_items.is_some_and(|min| count < min) || self.max_items.is_some_and(|max| count > max) {
            return false;
        }
        if self.unique_items && items.iter().enumerate().any(|(i, a)| items[..i].iter().any(|b| values_equal(a, b))) {
            return false;
        }
        match &self.items {
            Items::Any => true,
            Items::Each(schema) => items.iter().all(|item| schema.matches(item)),
            Items::Tuple(schemas) => {
                schemas.iter().zip(items).all(|(schema, item)| schema.matches(item))
                    && items.iter().skip(schemas.len()).all(|item| match &self.additional_items {
                        None | Some(Additional::Allowed(true)) => true,
                        Some(Additional::Allowed(false)) => false,
                        Some(Additional::Schema(schema)) => schema.matches(item),
                    })
            }
        }
    }

    /// The keywords of documents; `value` is `doc` as a nested value, `None` at
    /// the top level.
    fn matches_document(&self, doc: &Document, value: Option<&Bson>) -> bool {
        let count = doc.len() as u64;
        if self.min_properties.is_some_and(|min| count < min) || self.max_properties.is_some_and(|max| count > max) {
            return false;
        }
        if !self.required.iter().all(|name| exists(doc, name)) {
            return false;
        }
        let properties_hold = self.properties.iter().all(|(name, schema)| property_matches(doc, name, schema));
        if !properties_hold {
            return false;
        }
        if !self.pattern_properties.is_empty() || self.additional_properties.is_some() {
            for (name, value) in doc {
                let mut covered = self.properties.iter().any(|(p, _)| p == name);
                for (re, schema) in &self.pattern_properties {
                    if re.is_match(name).unwrap_or(false) {
                        covered = true;
                        if !schema.matches(value) {
                            return false;
                        }
                    }
                }
                let allowed = covered
                    || match &self.additional_properties {
                        None | Some(Additional::Allowed(true)) => true,
                        Some(Additional::Allowed(false)) => false,
                        Some(Additional::Schema(schema)) => schema.matches(value),
                    };
                if !allowed {
                    return false;
                }
            }
        }
        self.dependencies.iter().all(|(name, dependency)| {
            !exists(doc, name)
                || match dependency {
                    Dependency::Fields(fields) => fields.iter().all(|field| exists(doc, field)),
                    Dependency::Schema(schema) => match value {
                        Some(value) => schema.matches(value),
                        None => schema.matches_root(doc),
                    },
                }
        })
    }
}

impl Encrypt {
    fn matches(&self, value: &Bson) -> bool {
        let Bson::Binary(binary) = value else { return false };
        if binary.subtype != bson::spec::BinarySubtype::Encrypted {
            return false;
        }
        let Some(types) = &self.types else { return true };
        let bytes = &binary.bytes;
        bytes.len() >= 18
            && matches!(bytes[0], 1 | 2)
            && ElementType::from(bytes[17]).is_some_and(|t| expand_numbers(types).types.contains(&t))
    }
}

/// The type set with the alias `number` spelled out as its four types.
fn expand_numbers(types: &TypeSet) -> TypeSet {
    let mut expanded = types.clone();
    if expanded.numbers {
        expanded.types.extend([ElementType::Double, ElementType::Int32, ElementType::Int64, ElementType::Decimal128]);
    }
    expanded
}

/// Whether field `name` (a path when dotted) exists; `null` counts.
fn exists(doc: &Document, name: &str) -> bool {
    if !name.contains('.') {
        return doc.contains_key(name);
    }
    Path::new(name).any(doc, LeafArrays::Whole, &mut |value, _| value.is_some())
}

/// Whether property `name` is missing or matches `schema` (through arrays on the
/// way when the name is a dotted path).
fn property_matches(doc: &Document, name: &str, schema: &Schema) -> bool {
    if !name.contains('.') {
        return doc.get(name).is_none_or(|value| schema.matches(value));
    }
    let mut present = false;
    let any = Path::new(name).any(doc, LeafArrays::Whole, &mut |value, _| match value {
        Some(value) => {
            present = true;
            schema.matches(value)
        }
        None => false,
    });
    any || !present
}

/// Numbers compared by value across types; `None` when either is NaN (then only
/// two NaNs are equal, and no bound holds otherwise).
fn compare_numbers(a: &Bson, b: &Bson) -> Option<Ordering> {
    let (x, y) = (as_f64(a)?, as_f64(b)?);
    match (x.is_nan(), y.is_nan()) {
        (true, true) => Some(Ordering::Equal),
        (false, false) => Some(order::compare(a, b)),
        _ => None,
    }
}

/// `multipleOf`: whether `value` divided by `divisor` leaves nothing, computed
/// exactly on both numbers rounded to 15 significant digits (so that 0.3 is a
/// multiple of 0.1, as in MongoDB's decimal arithmetic). NaN and the infinities are
/// multiples of nothing.
fn is_multiple(value: &Bson, divisor: &Bson) -> bool {
    let (Some(v), Some(d)) = (decimal_digits(value), decimal_digits(divisor)) else { return false };
    if d.0 == 0 {
        return false;
    }
    // Both as integers scaled to the smaller exponent.
    let exponent = v.1.min(d.1);
    let scale = |(mantissa, exp): (i128, i32)| -> Option<i128> {
        let shift = u32::try_from(exp - exponent).ok()?;
        mantissa.checked_mul(10i128.checked_pow(shift)?)
    };
    match (scale(v), scale(d)) {
        (Some(v), Some(d)) => v % d == 0,
        // Too far apart to scale: a value far larger than its divisor is a multiple
        // when the divisor's digits divide it, which at this size they do.
        _ => v.1 > d.1,
    }
}

/// A number as `mantissa × 10^exponent` with at most 15 significant digits
/// (integers exactly); `None` for NaN and the infinities.
fn decimal_digits(value: &Bson) -> Option<(i128, i32)> {
    match value {
        Bson::Int32(n) => Some((i128::from(*n), 0)),
        Bson::Int64(n) => Some((i128::from(*n), 0)),
        Bson::Double(_) | Bson::Decimal128(_) => {
            let x = as_f64(value)?;
            if !x.is_finite() {
                return None;
            }
            if x == 0.0 {
                return Some((0, 0));
            }
            let written = format!("{x:.14e}");
            let (digits, exponent) = written.split_once('e')?;
            let exponent: i32 = exponent.parse().ok()?;
            let negative = digits.starts_with('-');
            let digits: String = digits.chars().filter(char::is_ascii_digit).collect();
            let mut mantissa: i128 = digits.parse().ok()?;
            let mut exponent = exponent - 14;
            while mantissa % 10 == 0 {
                mantissa /= 10;
                exponent += 1;
            }
            Some((if negative { -mantissa } else { mantissa }, exponent))
        }
        _ => None,
    }
}

/// Equality as `enum` and `uniqueItems` see it: numbers by value across types,
/// documents regardless of field order, arrays in order, everything else exactly.
fn values_equal(a: &Bson, b: &Bson) -> bool {
    match (a, b) {
        (Bson::Document(x), Bson::Document(y)) => documents_equal(x, y),
        (Bson::Array(x), Bson::Array(y)) => x.len() == y.len() && x.iter().zip(y).all(|(a, b)| values_equal(a, b)),
        _ if as_f64(a).is_some() && as_f64(b).is_some() => compare_numbers(a, b) == Some(Ordering::Equal),
        _ => a.element_type() == b.element_type() && order::compare(a, b) == Ordering::Equal,
    }
}

fn documents_equal(x: &Document, y: &Document) -> bool {
    x.len() == y.len() && x.iter().all(|(name, a)| y.get(name).is_some_and(|b| values_equal(a, b)))
}

#[cfg(test)]
mod tests;
