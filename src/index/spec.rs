//! Checking an index specification of `createIndexes` and putting it in the form
//! `listIndexes` shows: `{v: 2, key, name, …options as given}`.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::Variables;
use crate::query::Filter;
use crate::value::collation::Collation;

/// The largest `expireAfterSeconds` MongoDB accepts.
const MAX_EXPIRE_AFTER_SECONDS: i64 = i32::MAX as i64;

/// Checks one element of `createIndexes.indexes` and returns its stored form.
pub fn parse(spec: &Bson) -> Result<Document> {
    let Bson::Document(spec) = spec else {
        return Err(Error::type_mismatch(format!(
            "BSON field 'createIndexes.indexes' is the wrong type '{}', expected type 'object'",
            crate::value::type_name(Some(spec))
        )));
    };
    let in_spec = |message: String| Error::command(ErrorCode::CannotCreateIndex, message);
    let key = match spec.get("key") {
        Some(Bson::Document(key)) => key,
        Some(_) => return Err(in_spec("The 'key' field must be an object".into())),
        None => {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!("Error in specification {spec} :: caused by :: The 'key' field is a required property of an index specification"),
            ))
        }
    };
    check_pattern(key)?;
    check_plugin(key)?;
    let text = crate::query::text::is_text_pattern(key);
    let name = match spec.get("name") {
        Some(Bson::String(name)) if !name.is_empty() && name != "*" => name,
        Some(Bson::String(name)) => return Err(in_spec(format!("The index name '{name}' is not valid"))),
        Some(_) => return Err(Error::type_mismatch("The 'name' field must be a string")),
        None => {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!("Error in specification {spec} :: caused by :: The 'name' field is a required property of an index specification"),
            ))
        }
    };
    let mut out = bson::doc! { "v": 2, "key": key.clone(), "name": name };
    for (option, value) in spec {
        match option.as_str() {
            "key" | "name" | "v" | "ns" => {}
            "unique" | "sparse" | "hidden" | "background" | "prepareUnique" => {
                out.insert(option, flag(option, value)?);
            }
            "expireAfterSeconds" => {
                let seconds = whole_number(value).filter(|s| (0..=MAX_EXPIRE_AFTER_SECONDS).contains(s));
                if seconds.is_none() {
                    return Err(in_spec(format!(
                        "TTL index 'expireAfterSeconds' option must be within an acceptable range, try a lower number: {value}"
                    )));
                }
                if key.len() > 1 {
                    return Err(in_spec(
                        "TTL indexes are single-field indexes, compound indexes do not support TTL".into(),
                    ));
                }
                if key.values().any(|kind| matches!(kind, Bson::String(_))) {
                    return Err(in_spec(format!(
                        "TTL indexes cannot be {} indexes",
                        key.values().next().and_then(Bson::as_str).unwrap_or_default()
                    )));
                }
                out.insert(option, value.clone());
            }
            "partialFilterExpression" => {
                let Bson::Document(filter) = value else {
                    return Err(Error::type_mismatch("The field 'partialFilterExpression' must be an object"));
                };
                Filter::parse_without_text(filter, &Variables::none())?;
                out.insert(option, value.clone());
            }
            // A text index's own options, checked and put in their stored form below.
            "weights" | "default_language" | "language_override" | "textIndexVersion" if text => {
                out.insert(option, value.clone());
            }
            // A wildcard index's paths, checked below.
            "wildcardProjection" => {
                out.insert(option, value.clone());
            }
            // A geo index's own options, checked below.
            "2dsphereIndexVersion" | "bits" | "min" | "max" | "finestIndexedLevel" | "coarsestIndexedLevel" => {
                out.insert(option, value.clone());
            }
            // Kept whole, as MongoDB lists it; the simple collation is no collation.
            "collation" => {
                if let Some(collation) = Collation::parse(value)? {
                    out.insert(option, collation.spec().clone());
                }
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::InvalidIndexSpecificationOption,
                    format!("The field '{option}' is not valid for an index specification. Specification: {spec}"),
                ))
            }
        }
    }
    if out.get_bool("sparse") == Ok(true) && out.contains_key("partialFilterExpression") {
        return Err(in_spec("cannot mix \"partialFilterExpression\" and \"sparse\" options".into()));
    }
    super::wildcard::check_spec(key, &out)?;
    if key.values().any(|v| v.as_str() == Some("hashed")) {
        check_hashed(key, &out)?;
    }
    super::geo::check_spec(key, &mut out)?;
    if text {
        // Text indexes are sparse whatever `sparse` says; a unique one is refused.
        if out.get_bool("unique") == Ok(true) {
            return Err(in_spec(format!(
                "Error in specification {spec} :: caused by :: text indexes cannot be unique"
            )));
        }
        return crate::query::text::normalize(&out);
    }
    if is_id_pattern(key) {
        if let Some(option) = out.keys().find(|o| !matches!(o.as_str(), "v" | "key" | "name" | "background")) {
            return Err(Error::command(
                ErrorCode::InvalidIndexSpecificationOption,
                format!("The field '{option}' is not valid for an _id index specification. Specification: {spec}"),
            ));
        }
    }
    Ok(out)
}

/// Whether a key pattern is the `_id` index's, `{_id: 1}`.
pub fn is_id_pattern(pattern: &Document) -> bool {
    pattern.len() == 1 && pattern.get("_id").is_some_and(|d| !is_descending(d))
}

/// Whether a key pattern's value orders its field downwards.
pub fn is_descending(direction: &Bson) -> bool {
    match direction {
        Bson::Int32(n) => *n < 0,
        Bson::Int64(n) => *n < 0,
        Bson::Double(n) => *n < 0.0,
        Bson::Decimal128(n) => n.to_string().starts_with('-'),
        _ => false,
    }
}

/// A number with no fractional part, as an integer.
pub fn whole_number(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(n) if n.fract() == 0.0 && n.abs() < 9.0e15 => Some(*n as i64),
        _ => None,
    }
}

/// Refuses key patterns this server cannot build: MongoDB's error 67 for values
/// other than non-zero numbers and index types it does not know, and for `$` in
/// field names but a wildcard's (`$**`, `a.$**`, last).
fn check_pattern(key: &Document) -> Result<()> {
    let refuse = |message: String| Error::command(ErrorCode::CannotCreateIndex, message);
    if key.is_empty() {
        return Err(refuse("Index keys cannot be empty.".into()));
    }
    for (field, direction) in key {
        if field.is_empty() {
            return Err(refuse(format!("Index keys cannot be an empty field. Key pattern: {key}")));
        }
        let wildcard_text = field == "$**" && matches!(direction, Bson::String(kind) if kind == "text");
        let wildcard = (field == "$**" || field.ends_with(".$**")) && !field[..field.len() - 3].contains('$');
        if direction.as_str() == Some("wildcard") {
            return Err(refuse(
                "The key pattern value for an 'wildcard' index must be a non-zero number, not a string.".into(),
            ));
        }
        if (field.starts_with('$') || field.contains(".$")) && !wildcard_text && !wildcard {
            return Err(refuse(format!(
                "Index key contains an illegal field name: field name starts with '$'. Key pattern: {key}"
            )));
        }
        if field.split('.').any(str::is_empty) {
            return Err(refuse(format!("Index keys cannot contain an empty field. Key pattern: {key}")));
        }
        let nonzero = match direction {
            Bson::Int32(n) => *n != 0,
            Bson::Int64(n) => *n != 0,
            Bson::Double(n) => *n != 0.0 && !n.is_nan(),
            Bson::Decimal128(n) => n.to_string().parse::<f64>().is_ok_and(|n| n != 0.0),
            Bson::String(kind) if matches!(kind.as_str(), "text" | "hashed" | "2d" | "2dsphere") => true,
            Bson::String(kind) if kind == "geoHaystack" => {
                return Err(refuse("GeoHaystack indexes cannot be created in version 5.0 and above".into()))
            }
            Bson::String(kind) => {
                return Err(refuse(format!("Index type '{kind}' is not supported by this server. Key pattern: {key}")))
            }
            other => {
                return Err(refuse(format!(
                    "Values in v:2 index key pattern cannot be of type {}. Only numbers > 0, numbers < 0, and strings are allowed.",
                    crate::value::type_name(Some(other))
                )))
            }
        };
        if !nonzero {
            return Err(refuse(format!("Values in the index key pattern can't be 0. Key pattern: {key}")));
        }
    }
    Ok(())
}

/// MongoDB's plugin rule: every string in a key pattern names the same index type.
fn check_plugin(key: &Document) -> Result<()> {
    let mut kinds = key.values().filter_map(Bson::as_str);
    let first = kinds.next();
    if kinds.any(|kind| Some(kind) != first) {
        return Err(Error::command(
            ErrorCode::CannotCreateIndex,
            "Can't use more than one index plugin for a single index.",
        ));
    }
    Ok(())
}

/// Checks a hashed index: one hashed field, not unique, no other index type, and
/// no collation (not built yet).
fn check_hashed(key: &Document, spec: &Document) -> Result<()> {
    let refuse = |message: String| Error::command(ErrorCode::CannotCreateIndex, message);
    let hashed = key.values().filter(|v| v.as_str() == Some("hashed")).count();
    if hashed > 1 {
        return Err(Error::command(
            ErrorCode::Location31303,
            format!("A maximum of one index field is allowed to be hashed but found {hashed} for 'key' {key}"),
        ));
    }

    if spec.get_bool("unique") == Ok(true) {
        return Err(Error::command(
            ErrorCode::Location16764,
            "Currently hashed indexes cannot guarantee uniqueness. Use a regular index.",
        ));
    }
    if spec.contains_key("collation") {
        return Err(refuse("hashed indexes with a collation are not supported yet".into()));
    }
    Ok(())
}

/// A boolean option; MongoDB also takes numbers (but not decimals) for them.
fn flag(option: &str, value: &Bson) -> Result<bool> {
    match value {
        Bson::Boolean(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) => Ok(crate::value::truthy(Some(value))),
        other => Err(Error::type_mismatch(format!(
            "The field '{option}' must be a boolean, not {}",
            crate::value::type_name(Some(other))
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn code(spec: Document) -> i32 {
        parse(&Bson::Document(spec)).expect_err("refused").code().code()
    }

    #[test]
    fn specs_are_stored_as_list_indexes_shows_them() {
        let spec =
            parse(&Bson::Document(doc! { "key": {"a": 1}, "name": "a_1", "unique": true, "v": 2 })).expect("valid");
        assert_eq!(spec, doc! { "v": 2, "key": {"a": 1}, "name": "a_1", "unique": true });
    }

    #[test]
    fn bad_specs_get_mongodbs_codes() {
        assert_eq!(code(doc! { "key": {"a": 1} }), 9);
        assert_eq!(code(doc! { "name": "x" }), 9);
        assert_eq!(code(doc! { "key": {"a": 0}, "name": "x" }), 67);
        assert_eq!(code(doc! { "key": {"a": "geoHaystack"}, "name": "x" }), 67);
        assert_eq!(code(doc! { "key": {"a": 1}, "name": "x", "weights": {"a": 2} }), 197);
        assert_eq!(code(doc! { "key": {"a": 1}, "name": "x", "bogus": 1 }), 197);
        assert_eq!(code(doc! { "key": {"a": 1, "b": 1}, "name": "x", "expireAfterSeconds": 5 }), 67);
        assert_eq!(code(doc! { "key": {"a": 1}, "name": "x", "expireAfterSeconds": -1 }), 67);
        assert_eq!(
            code(doc! { "key": {"a": 1}, "name": "x", "sparse": true, "partialFilterExpression": {"a": 1} }),
            67
        );
        assert_eq!(code(doc! { "key": {"_id": 1}, "name": "x", "unique": true }), 197);
    }
}
