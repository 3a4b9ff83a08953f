//! The array operators' arguments: `$push` with its `$each`, `$position`, `$sort`
//! and `$slice` clauses, the values `$addToSet` adds, and the conditions `$pull`
//! removes elements by.

use std::cmp::Ordering;

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Sort, Variables};
use crate::value::collation::Collation;
use crate::value::order;
use crate::value::type_name;

/// A `$push`: the values to insert and what to do with the array afterwards.
#[derive(Debug, Clone)]
pub struct Push {
    each: Vec<Bson>,
    position: Option<i64>,
    sort: Option<PushSort>,
    slice: Option<i64>,
}

/// The `$sort` of a `$push`: by whole elements, or by fields of embedded documents.
#[derive(Debug, Clone)]
enum PushSort {
    Whole { ascending: bool },
    Fields(Sort),
}

impl Push {
    /// Parses a value to push, or a document with `$each` and the other clauses.
    pub fn parse(argument: &Bson) -> Result<Push> {
        let mut push = Push { each: vec![argument.clone()], position: None, sort: None, slice: None };
        let Bson::Document(clauses) = argument else { return Ok(push) };
        if !clauses.contains_key("$each") {
            return Ok(push);
        }
        for (clause, value) in clauses {
            match clause.as_str() {
                "$each" => match value {
                    Bson::Array(items) => push.each = items.clone(),
                    other => {
                        return Err(Error::bad_value(format!(
                            "The argument to $each in $push must be an array but it was of type: {}",
                            type_name(Some(other))
                        )))
                    }
                },
                "$slice" => {
                    push.slice =
                        Some(integer(value, "The value for $slice must be an integral value but was given type: ")?)
                }
                "$position" => {
                    push.position =
                        Some(integer(value, "The value for $position must be an integer value, not of type: ")?)
                }
                "$sort" => push.sort = Some(PushSort::parse(value)?),
                other => return Err(Error::bad_value(format!("Unrecognized clause in $push: {other}"))),
            }
        }
        Ok(push)
    }

    /// Inserts the values into `items`, then sorts and slices it.
    pub fn apply(&self, collation: Option<&Collation>, items: &mut Vec<Bson>) {
        let at = match self.position {
            None => items.len(),
            Some(p) if p >= 0 => usize::try_from(p).unwrap_or(usize::MAX).min(items.len()),
            Some(p) => items.len().saturating_sub(usize::try_from(p.unsigned_abs()).unwrap_or(usize::MAX)),
        };
        items.splice(at..at, self.each.iter().cloned());
        if let Some(sort) = &self.sort {
            items.sort_by(|a, b| sort.compare(a, b, collation));
        }
        match self.slice {
            Some(n) if n >= 0 => items.truncate(usize::try_from(n).unwrap_or(usize::MAX)),
            Some(n) => {
                let keep = usize::try_from(n.unsigned_abs()).unwrap_or(usize::MAX);
                let drop = items.len().saturating_sub(keep);
                items.drain(..drop);
            }
            None => {}
        }
    }
}

impl PushSort {
    fn parse(value: &Bson) -> Result<PushSort> {
        let invalid = || {
            Error::bad_value(
                "The $sort is invalid: use 1/-1 to sort the whole element, or {field:1/-1} to sort embedded fields",
            )
        };
        match value {
            Bson::Document(pattern) => {
                if pattern.is_empty() {
                    return Err(Error::bad_value("The $sort pattern is empty when it should be a set of fields."));
                }
                if pattern.keys().any(|k| k.split('.').any(str::is_empty)) {
                    return Err(invalid());
                }
                Ok(PushSort::Fields(
                    Sort::parse(pattern)
                        .map_err(|_| Error::bad_value("The $sort element value must be either 1 or -1"))?,
                ))
            }
            other => match direction(other) {
                Some(ascending) => Ok(PushSort::Whole { ascending }),
                None => Err(invalid()),
            },
        }
    }

    /// The order of two elements; elements that are not documents sort as documents
    /// without the sorted fields.
    fn compare<'a>(&self, a: &'a Bson, b: &'a Bson, collation: Option<&Collation>) -> Ordering {
        match self {
            PushSort::Whole { ascending: true } => order::compare_collated(a, b, collation),
            PushSort::Whole { ascending: false } => order::compare_collated(b, a, collation),
            PushSort::Fields(sort) => {
                let empty = Document::new();
                let as_doc = |v: &'a Bson| match v {
                    Bson::Document(d) => d,
                    _ => &empty,
                };
                // A document whose sort key cannot be made (parallel arrays) sorts as equal.
                match (sort.key(as_doc(a)), sort.key(as_doc(b))) {
                    (Ok(a), Ok(b)) => sort.compare_keys(&a, &b),
                    _ => Ordering::Equal,
                }
            }
        }
    }
}

/// 1 (ascending) or -1 (descending).
fn direction(value: &Bson) -> Option<bool> {
    match value {
        Bson::Int32(1) | Bson::Int64(1) => Some(true),
        Bson::Int32(-1) | Bson::Int64(-1) => Some(false),
        Bson::Double(d) if *d == 1.0 => Some(true),
        Bson::Double(d) if *d == -1.0 => Some(false),
        _ => None,
    }
}

/// A number with an integral value, or `BadValue` with `message` and the type.
fn integer(value: &Bson, message: &str) -> Result<i64> {
    match value {
        Bson::Int32(n) => Ok(i64::from(*n)),
        Bson::Int64(n) => Ok(*n),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => Ok(*d as i64),
        other => Err(Error::bad_value(format!("{message}{}", type_name(Some(other))))),
    }
}

/// The values an `$addToSet` adds: one value, or the `$each` array without its repeats.
pub fn add_to_set_values(argument: &Bson) -> Result<Vec<Bson>> {
    let values = match argument {
        Bson::Document(doc) if doc.keys().next().is_some_and(|k| k == "$each") => {
            if doc.len() > 1 {
                return Err(Error::bad_value(format!(
                    "Found unexpected fields after $each in $addToSet: {}",
                    super::show::document(doc)
                )));
            }
            match doc.get("$each") {
                Some(Bson::Array(items)) => items.clone(),
                other => {
                    return Err(Error::type_mismatch(format!(
                        "The argument to $each in $addToSet must be an array but it was of type {}",
                        type_name(other)
                    )))
                }
            }
        }
        other => vec![other.clone()],
    };
    let mut unique: Vec<Bson> = Vec::with_capacity(values.len());
    for value in values {
        if !contains(&unique, &value, None) {
            unique.push(value);
        }
    }
    Ok(unique)
}

/// Whether `items` holds a value equal to `value` (strings compared by `collation`).
pub fn contains(items: &[Bson], value: &Bson, collation: Option<&Collation>) -> bool {
    items.iter().any(|item| order::compare_collated(item, value, collation) == Ordering::Equal)
}

/// The `$pop` direction: `true` removes the first element.
pub fn pop_first(argument: &Bson) -> Result<bool> {
    let value = match argument {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(d) if d.fract() == 0.0 => *d as i64,
        other => {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                format!("Expected an integer: {}", super::show::show(other)),
            ))
        }
    };
    match value {
        1 => Ok(false),
        -1 => Ok(true),
        other => Err(Error::command(ErrorCode::FailedToParse, format!("$pop expects 1 or -1, found: {other}"))),
    }
}

/// The field name a `$pull` condition on whole elements is matched under: the
/// element is wrapped as `{"": element}`, as MongoDB does.
const ELEMENT: &str = "";

/// Whether a condition starting with `key` applies to the elements themselves
/// (`{$gte: 6}`): a query operator on a value, as MongoDB's `$pull` decides. Other
/// conditions, `{$or: [...]}` among them, are queries on embedded documents.
fn is_element_operator(key: &str) -> bool {
    const DOCUMENT_LEVEL: &[&str] =
        &["$and", "$or", "$nor", "$expr", "$where", "$text", "$comment", "$jsonSchema", "$alwaysTrue", "$alwaysFalse"];
    key.starts_with('$') && !DOCUMENT_LEVEL.contains(&key)
}

/// What `$pull` removes.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Elements equal to a value.
    Equal(Bson),
    /// Elements matching query operators (`{$gte: 6}`, `{$in: [...]}`, a regex).
    Element(Filter),
    /// Embedded documents matching a query on their fields (`{score: 8}`).
    Document(Filter),
}

impl Condition {
    pub fn parse(argument: &Bson) -> Result<Condition> {
        match argument {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| is_element_operator(k)) => {
                let mut wrapped = Document::new();
                wrapped.insert(ELEMENT, argument.clone());
                Ok(Condition::Element(Filter::parse_without_text(&wrapped, &Variables::none())?))
            }
            Bson::Document(doc) => Ok(Condition::Document(Filter::parse_without_text(doc, &Variables::none())?)),
            Bson::RegularExpression(_) => {
                let mut wrapped = Document::new();
                wrapped.insert(ELEMENT, argument.clone());
                Ok(Condition::Element(Filter::parse_without_text(&wrapped, &Variables::none())?))
            }
            other => Ok(Condition::Equal(other.clone())),
        }
    }

    /// Whether `$pull` removes `element`.
    /// Strings compare by `collation`, in an equality; conditions that are filters
    /// take none (the commands refuse them under one).
    pub fn matches(&self, element: &Bson, collation: Option<&Collation>) -> bool {
        match self {
            Condition::Equal(value) => order::compare_collated(element, value, collation) == Ordering::Equal,
            Condition::Element(filter) => {
                let mut wrapped = Document::new();
                wrapped.insert(ELEMENT, element.clone());
                filter.matches(&wrapped)
            }
            Condition::Document(filter) => matches!(element, Bson::Document(doc) if filter.matches(doc)),
        }
    }
}
