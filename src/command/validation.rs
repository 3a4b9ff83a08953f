//! Document validation: a collection's `validator` (any filter, `$jsonSchema`
//! included), `validationLevel` (`strict`, `moderate`, `off`) and
//! `validationAction` (`error`, `warn`), stored with its other options (so each
//! branch and point has its own) and checked on every write that stores a
//! document, unless the command says `bypassDocumentValidation`.

use std::cell::RefCell;

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Variables};
use crate::store::Collection;

const VALIDATOR: &str = "validator";
const LEVEL: &str = "validationLevel";
const ACTION: &str = "validationAction";
const LEVELS: &[&str] = &["off", "strict", "moderate"];
const ACTIONS: &[&str] = &["error", "warn"];

/// Whether a command's writes are checked (`bypassDocumentValidation` unset or
/// false) or not, and the validator it compiled last (a batch of writes compiles
/// its collection's once).
#[derive(Debug)]
pub struct Validation {
    bypass: bool,
    compiled: RefCell<Option<(Document, Filter)>>,
}

impl Validation {
    /// What `body` asks: `bypassDocumentValidation` is read as a boolean (any
    /// number, `null` for false), as MongoDB reads it.
    pub fn of(body: &Document) -> Validation {
        let bypass = body.get("bypassDocumentValidation").is_some_and(|v| crate::value::truthy(Some(v)));
        Validation { bypass, compiled: RefCell::new(None) }
    }

    /// Checks `new`, about to be stored in `collection` (replacing `old` for an
    /// update): an error when it fails the collection's validator and the action is
    /// `error`; a log line when the action is `warn`.
    pub fn check(&self, collection: &Collection, old: Option<&Document>, new: &Document) -> Result<()> {
        // A time series measurement needs its date, bypass or not.
        super::timeseries::check_measurement(collection, new)?;
        let options = &collection.options;
        let Ok(spec) = options.get_document(VALIDATOR) else { return Ok(()) };
        let level = options.get_str(LEVEL).unwrap_or("strict");
        if self.bypass || spec.is_empty() || level == "off" {
            return Ok(());
        }
        let stale = self.compiled.borrow().as_ref().is_none_or(|(cached, _)| cached != spec);
        if stale {
            *self.compiled.borrow_mut() = Some((spec.clone(), Filter::parse(spec, &Variables::none())?));
        }
        let compiled = self.compiled.borrow();
        let Some((_, filter)) = compiled.as_ref() else { return Ok(()) };
        if filter.matches(new) {
            return Ok(());
        }
        // Moderate: a document that already failed may be updated into anything.
        if level == "moderate" && old.is_some_and(|old| !filter.matches(old)) {
            return Ok(());
        }
        let id = new.get("_id").cloned().unwrap_or(Bson::Null);
        let info = err_info(id, crate::query::explain_failure(spec, new));
        if options.get_str(ACTION) == Ok("warn") {
            tracing::warn!(
                id = 20294,
                namespace = %collection.name,
                errInfo = %info,
                "Document would fail validation"
            );
            return Ok(());
        }
        Err(Error::Command {
            code: ErrorCode::DocumentValidationFailure,
            message: "Document failed validation".into(),
            info: Some(Box::new(doc! {"errInfo": info})),
            labels: Vec::new(),
        })
    }
}

/// The most an explanation may take, as in MongoDB.
const MAX_ERR_INFO: usize = 12 << 20;

/// `errInfo` of error 121: the document's `_id` and the explanation, within
/// [`MAX_ERR_INFO`] as MongoDB keeps it: first without what the clauses were
/// specified as and the values they considered (`truncated: true`), then with a
/// note instead of the explanation.
fn err_info(id: Bson, details: Document) -> Document {
    let size = |doc: &Document| crate::value::size::document_size(doc);
    let info = doc! {"failingDocumentId": id.clone(), "details": details};
    if size(&info) <= MAX_ERR_INFO {
        return info;
    }
    let Some(Bson::Document(details)) = info.get("details").cloned().map(strip_values) else { return info };
    let truncated = doc! {"failingDocumentId": id.clone(), "truncated": true, "details": details};
    if size(&truncated) <= MAX_ERR_INFO {
        return truncated;
    }
    doc! {"failingDocumentId": id, "note": "detailed error was too large"}
}

/// An explanation without `specifiedAs` and the considered values, at any depth.
fn strip_values(value: Bson) -> Bson {
    const STRIPPED: &[&str] = &["specifiedAs", "consideredValue", "consideredValues", "consideredValuesTruncated"];
    match value {
        Bson::Document(doc) => Bson::Document(
            doc.into_iter()
                .filter(|(k, _)| !STRIPPED.contains(&k.as_str()))
                .map(|(k, v)| (k, strip_values(v)))
                .collect(),
        ),
        Bson::Array(items) => Bson::Array(items.into_iter().map(strip_values).collect()),
        other => other,
    }
}

/// Checks the validation options of a `create` (`command`) of collection `name` in
/// database `db`, as MongoDB checks them; they are stored as given.
pub fn check_create(db: &str, name: &str, options: &Document) -> Result<()> {
    check_options("create", db, name, options)
}

/// Applies the validation options of a `collMod` to `options`: as MongoDB, any of
/// them also fills in the level and action with their current or default values;
/// an empty validator removes validation.
pub fn modify(db: &str, name: &str, body: &Document, options: &mut Document) -> Result<()> {
    if ![VALIDATOR, LEVEL, ACTION].iter().any(|field| body.contains_key(*field)) {
        return Ok(());
    }
    // The levels and actions are checked as the command is parsed; the validator's
    // own errors come with collMod's context.
    check_choices("collMod", body)?;
    check_validator("collMod", db, name, body).map_err(|e| match e.code() {
        ErrorCode::TypeMismatch | ErrorCode::InvalidOptions => e,
        _ => e.caused_by("Parsing of collection validator failed"),
    })?;
    if let Some(Bson::Document(validator)) = body.get(VALIDATOR) {
        match validator.is_empty() {
            true => options.remove(VALIDATOR),
            false => options.insert(VALIDATOR, validator.clone()),
        };
    }
    for (field, default) in [(LEVEL, "strict"), (ACTION, "error")] {
        let value = body.get_str(field).ok().or(options.get_str(field).ok()).unwrap_or(default).to_owned();
        options.insert(field, value);
    }
    Ok(())
}

fn check_options(command: &str, db: &str, name: &str, options: &Document) -> Result<()> {
    check_choices(command, options)?;
    check_validator(command, db, name, options)
}

/// `validationLevel` and `validationAction`: one of their values, as strings.
fn check_choices(command: &str, options: &Document) -> Result<()> {
    for (field, allowed) in [(LEVEL, LEVELS), (ACTION, ACTIONS)] {
        match options.get(field) {
            None => {}
            Some(Bson::String(value)) if allowed.contains(&value.as_str()) => {}
            Some(Bson::String(value)) => {
                return Err(Error::bad_value(format!(
                    "Enumeration value '{value}' for field '{command}.{field}' is not a valid value."
                )))
            }
            Some(other) => {
                return Err(Error::type_mismatch(format!(
                    "BSON field '{command}.{field}' is the wrong type '{}', expected type 'string'",
                    crate::value::type_name(Some(other))
                )))
            }
        }
    }
    Ok(())
}

/// The `validator`: a filter a validator may use, on a collection that may have one.
fn check_validator(command: &str, db: &str, name: &str, options: &Document) -> Result<()> {
    let validator = match options.get(VALIDATOR) {
        None => return Ok(()),
        Some(Bson::Document(validator)) => validator,
        Some(other) => {
            return Err(Error::type_mismatch(format!(
                "BSON field '{command}.{VALIDATOR}' is the wrong type '{}', expected type 'object'",
                crate::value::type_name(Some(other))
            )))
        }
    };
    if validator.is_empty() {
        return Ok(());
    }
    if name.starts_with("system.") {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("Document validators not allowed on system collection {db}.{name}"),
        ));
    }
    if matches!(db, "admin" | "local" | "config") && !(db == "config" && name == "settings") {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("Document validators are not allowed on collection {db}.{name} in the {db} internal database"),
        ));
    }
    refuse_in_validators(validator)?;
    Filter::parse(validator, &Variables::none()).map(|_| ())
}

/// Whether an expression calls `$function` somewhere.
fn calls_function(expression: &Bson) -> bool {
    match expression {
        Bson::Document(doc) => doc.iter().any(|(key, value)| key == "$function" || calls_function(value)),
        Bson::Array(items) => items.iter().any(calls_function),
        _ => false,
    }
}

/// The operators a validator may not use, which a query may: `$where`, `$text` and
/// the nearness operators (a document is checked alone; they need a collection).
fn refuse_in_validators(filter: &Document) -> Result<()> {
    for (key, value) in filter {
        match key.as_str() {
            "$where" => return Err(Error::bad_value("$where is not allowed in this context")),
            "$text" => return Err(Error::bad_value("$text is not allowed in this context")),
            "$expr" if calls_function(value) => {
                return Err(Error::command(ErrorCode::Location4660800, "$function cannot be used inside a validator."))
            }
            "$and" | "$or" | "$nor" => {
                for clause in value.as_array().into_iter().flatten() {
                    if let Bson::Document(clause) = clause {
                        refuse_in_validators(clause)?;
                    }
                }
            }
            _ => {
                let near = match value {
                    Bson::Document(ops) => {
                        ops.keys().any(|k| matches!(k.as_str(), "$near" | "$nearSphere" | "$geoNear"))
                    }
                    _ => false,
                };
                if near {
                    return Err(Error::command(
                        ErrorCode::Location5626500,
                        "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators \
                         require sorting geospatial data. If you do not need sort, consider using $geoWithin \
                         instead.",
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson};

    use super::*;

    #[test]
    fn an_explanation_too_large_is_truncated_then_replaced_by_a_note() {
        let big = "x".repeat(7 << 20);
        let details = doc! {"operatorName": "$eq", "specifiedAs": {"a": &big}, "reason": "comparison failed", "consideredValue": &big};
        let info = err_info(Bson::Int32(1), details);
        let expected = doc! {"failingDocumentId": 1, "truncated": true, "details": {"operatorName": "$eq", "reason": "comparison failed"}};
        assert_eq!(info, expected);
        let huge: Vec<Bson> = (0..2).map(|i| Bson::from(doc! {"index": i, "details": {"reason": &big}})).collect();
        let info = err_info(Bson::Int32(1), doc! {"operatorName": "$or", "clausesNotSatisfied": huge});
        assert_eq!(info, doc! {"failingDocumentId": 1, "note": "detailed error was too large"});
    }
}
