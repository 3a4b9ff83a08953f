//! `$fill`: null and missing fields filled by the last value seen (`locf`), along
//! a line (`linear`), or with a value. As MongoDB does, it is parsed into a
//! `$setWindowFields` of `$locf` and `$linearFill` for the methods, then an
//! `$addFields` of `$ifNull` for the values.

use bson::{doc, Bson, Document};

use super::fields::{split_path, Computed};
use super::{window, Stage};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{type_name, Variables};

fn failed(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::command(code, message)
}

/// An IDL-style wrong type error for a field of `$fill`.
fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    let message = format!(
        "BSON field '$fill.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    );
    failed(ErrorCode::TypeMismatch, message)
}

/// Parses `{partitionBy, partitionByFields, sortBy, output}` into its stages.
pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<Vec<Stage>> {
    let Bson::Document(spec) = argument else {
        let message = format!("The $fill stage specification must be an object, found {}", type_name(Some(argument)));
        return Err(failed(ErrorCode::FailedToParse, message));
    };
    let (mut partition_by, mut partition_fields, mut sort_by, mut output) = (None, None, None, None);
    for (field, value) in spec {
        match field.as_str() {
            "partitionBy" => match value {
                Bson::Document(_) | Bson::String(_) => partition_by = Some(value.clone()),
                other => return Err(wrong_type(field, other, "object, string")),
            },
            "partitionByFields" => match value {
                Bson::Array(items) => partition_fields = Some(items),
                other => return Err(wrong_type(field, other, "array")),
            },
            "sortBy" => match value {
                Bson::Document(sort) => sort_by = Some(sort.clone()),
                other => return Err(wrong_type(field, other, "object")),
            },
            "output" => match value {
                Bson::Document(out) => output = Some(out),
                other => return Err(wrong_type(field, other, "object")),
            },
            _ => {
                let message = format!("BSON field '$fill.{field}' is an unknown field.");
                return Err(failed(ErrorCode::Location40415, message));
            }
        }
    }
    let Some(output) = output else {
        return Err(failed(ErrorCode::Location40414, "BSON field '$fill.output' is missing but a required field"));
    };
    if output.is_empty() {
        let message = "The output field in '$fill' must contain an object with at least one element";
        return Err(failed(ErrorCode::Location6050203, message));
    }
    if partition_by.is_some() && partition_fields.is_some() {
        let message = "Maximum one of 'partitionBy' and 'partitionByFields can be specified in '$fill'";
        return Err(failed(ErrorCode::Location6050204, message));
    }
    if let Some(fields) = partition_fields {
        partition_by = Some(Bson::Document(partition_of(fields)?));
    }
    let (mut methods, mut values) = (Document::new(), Document::new());
    for (name, spec) in output {
        match fill_of(name, spec)? {
            Fill::Method(function) => {
                methods.insert(name.clone(), doc! {function: format!("${name}")});
            }
            Fill::Value(value) => {
                values.insert(name.clone(), doc! {"$ifNull": [format!("${name}"), value]});
            }
        }
    }
    let mut stages = Vec::new();
    if !methods.is_empty() {
        let mut windows = doc! {};
        if let Some(sort_by) = sort_by {
            windows.insert("sortBy", sort_by);
        }
        if let Some(partition_by) = partition_by {
            windows.insert("partitionBy", partition_by);
        }
        windows.insert("output", methods);
        stages.extend(window::parse(&Bson::Document(windows), vars)?);
    }
    if !values.is_empty() {
        stages.push(Stage::AddFields(Computed::parse(&values, "$addFields", vars)?));
    }
    Ok(stages)
}

/// How one output field is filled.
enum Fill {
    /// The window function: `$locf` or `$linearFill`.
    Method(&'static str),
    Value(Bson),
}

fn fill_of(name: &str, spec: &Bson) -> Result<Fill> {
    let Bson::Document(spec) = spec else {
        let message = "Each fill output specification must be an object with exactly one field";
        return Err(failed(ErrorCode::Location6050200, message));
    };
    let (mut method, mut value) = (None, None);
    for (field, given) in spec {
        match field.as_str() {
            "method" => method = Some(given),
            "value" => value = Some(given),
            _ => {
                let message = format!("BSON field '$fill.output.{name}.{field}' is an unknown field.");
                return Err(failed(ErrorCode::Location40415, message));
            }
        }
    }
    match (method, value) {
        (Some(Bson::String(method)), None) => match method.as_str() {
            "locf" => Ok(Fill::Method("$locf")),
            "linear" => Ok(Fill::Method("$linearFill")),
            _ => Err(failed(ErrorCode::Location6050202, "Method must be either locf or linear")),
        },
        (Some(other), None) => Err(wrong_type(&format!("output.{name}.method"), other, "string")),
        (None, Some(value)) => Ok(Fill::Value(value.clone())),
        _ => {
            let message =
                "Each fill output specification must have exactly one of 'method' or 'value' fields, not both";
            Err(failed(ErrorCode::Location6050201, message))
        }
    }
}

/// `partitionByFields: ["a", "b.c"]` as the partition expression
/// `{a: "$a", b: {c: "$b.c"}}`.
fn partition_of(fields: &[Bson]) -> Result<Document> {
    let mut partition = Document::new();
    for field in fields {
        let Bson::String(field) = field else {
            return Err(wrong_type("partitionByFields", field, "string"));
        };
        let path = split_path(field)?;
        super::fields::set_path(&mut partition, &path, Bson::String(format!("${field}")));
    }
    Ok(partition)
}
