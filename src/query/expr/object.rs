//! Object operators: `$mergeObjects`, `$objectToArray`, `$arrayToObject`,
//! `$getField`.

use std::borrow::Cow;

use bson::{doc, Bson, Document};

use super::logic::special;
use super::{fail, nullish, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$mergeObjects", Arity::Any, merge_objects),
    Operator::eager("$objectToArray", Arity::Exactly(1), object_to_array),
    Operator::eager("$arrayToObject", Arity::Exactly(1), array_to_object),
    Operator::special("$getField", GetField::parse),
];

/// `$mergeObjects`: later fields win; null and missing arguments are skipped.
fn merge_objects(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut out = Document::new();
    for arg in args {
        merge_into(&mut out, *arg)?;
    }
    Ok(Some(Bson::Document(out)))
}

/// Merges one object into another (the `$mergeObjects` step, also used by the
/// accumulator).
pub(crate) fn merge_into(out: &mut Document, value: Option<&Bson>) -> Result<()> {
    match value {
        Some(Bson::Document(doc)) => {
            for (name, value) in doc {
                out.insert(name.clone(), value.clone());
            }
            Ok(())
        }
        other if nullish(other) => Ok(()),
        other => {
            let message = format!(
                "$mergeObjects requires object inputs, but input {} is of type {}",
                super::show(other),
                type_name(other)
            );
            fail(ErrorCode::Location40400, message)
        }
    }
}

/// `$objectToArray`: `[{k, v}, …]`.
fn object_to_array(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    match args[0] {
        Some(Bson::Document(doc)) => {
            let pairs = doc.iter().map(|(k, v)| Bson::Document(doc! {"k": k.clone(), "v": v.clone()}));
            Ok(Some(Bson::Array(pairs.collect())))
        }
        other if nullish(other) => Ok(Some(Bson::Null)),
        other => fail(
            ErrorCode::Location40390,
            format!("$objectToArray requires a document input, found: {}", type_name(other)),
        ),
    }
}

/// `$arrayToObject`: from `[[k, v], …]` or `[{k, v}, …]` (the first element decides).
fn array_to_object(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let items = match args[0] {
        Some(Bson::Array(items)) => items,
        other if nullish(other) => return Ok(Some(Bson::Null)),
        other => {
            let found = type_name(other);
            return fail(ErrorCode::Location40386, format!("$arrayToObject requires an array input, found: {found}"));
        }
    };
    let mut out = Document::new();
    let pairs = match items.first() {
        None => true,
        Some(Bson::Array(_)) => true,
        Some(Bson::Document(_)) => false,
        Some(other) => {
            let found = type_name(Some(other));
            return fail(
                ErrorCode::Location40398,
                format!("Unrecognised input type format for $arrayToObject: {found}"),
            );
        }
    };
    for item in items {
        let (key, value) = if pairs { pair(item)? } else { key_value(item)? };
        if key.contains('\0') {
            return fail(ErrorCode::Location4940400, "Key field cannot contain an embedded null byte");
        }
        out.insert(key, value.clone());
    }
    Ok(Some(Bson::Document(out)))
}

/// A `[key, value]` element of `$arrayToObject`.
fn pair(item: &Bson) -> Result<(String, &Bson)> {
    let Bson::Array(pair) = item else {
        let found = type_name(Some(item));
        let message = format!("$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Array was detected, now found: {found}");
        return fail(ErrorCode::Location40396, message);
    };
    let [key, value] = pair.as_slice() else {
        let message = format!("$arrayToObject requires an array of size 2 arrays,found array of size: {}", pair.len());
        return fail(ErrorCode::Location40397, message);
    };
    let Bson::String(key) = key else {
        let found = type_name(Some(key));
        let message = format!("$arrayToObject requires an array of key-value pairs, where the key must be of type string. Found key type: {found}");
        return fail(ErrorCode::Location40395, message);
    };
    Ok((key.clone(), value))
}

/// A `{k, v}` element of `$arrayToObject`.
fn key_value(item: &Bson) -> Result<(String, &Bson)> {
    let Bson::Document(doc) = item else {
        let found = type_name(Some(item));
        let message = format!("$arrayToObject requires a consistent input format. Elements must all be arrays or all be objects. Object was detected, now found: {found}");
        return fail(ErrorCode::Location40391, message);
    };
    if doc.len() != 2 {
        let message = format!(
            "$arrayToObject requires an object keys of 'k' and 'v'. Found incorrect number of keys:{}",
            doc.len()
        );
        return fail(ErrorCode::Location40392, message);
    }
    let (Some(key), Some(value)) = (doc.get("k"), doc.get("v")) else {
        let message =
            format!("$arrayToObject requires an object with keys 'k' and 'v'. Missing either or both keys from: {doc}");
        return fail(ErrorCode::Location40393, message);
    };
    let Bson::String(key) = key else {
        let found = type_name(Some(key));
        let message = format!("$arrayToObject requires an object with keys 'k' and 'v', where the value of 'k' must be of type string. Found type: {found}");
        return fail(ErrorCode::Location40394, message);
    };
    Ok((key.clone(), value))
}

/// `$getField: {field, input}` (or `$getField: field`): a field by its literal
/// name, dots and dollars included; `input` defaults to `$$CURRENT`.
#[derive(Debug)]
struct GetField {
    field: String,
    input: Node,
}

impl GetField {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let (field, input) = match spec {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| !k.starts_with('$')) => {
                let (mut field, mut input) = (None, None);
                for (name, value) in doc {
                    match name.as_str() {
                        "field" => field = Some(value),
                        "input" => input = Some(p.operand(value)?),
                        _ => {
                            return fail(
                                ErrorCode::Location3041701,
                                format!("$getField found an unknown argument: {name}"),
                            )
                        }
                    }
                }
                let Some(field) = field else {
                    return fail(ErrorCode::Location3041702, "$getField requires 'field' to be specified");
                };
                (field, input)
            }
            other => (other, None),
        };
        let field = match field {
            Bson::String(name) => name.clone(),
            Bson::Document(doc) if doc.len() == 1 && matches!(doc.get("$literal"), Some(Bson::String(_))) => {
                doc.get_str("$literal").unwrap_or_default().to_owned()
            }
            other => {
                let message = format!(
                    "$getField requires 'field' to evaluate to a constant, but got a non-constant argument of type {}",
                    type_name(Some(other))
                );
                return fail(ErrorCode::Location5654601, message);
            }
        };
        Ok(special(GetField { field, input: input.unwrap_or(Node::Current(Vec::new())) }))
    }
}

impl Special for GetField {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        if matches!(&self.input, Node::Current(path) if path.is_empty()) {
            return Ok(ctx.root().get(&self.field).map(Cow::Borrowed));
        }
        match ctx.eval(&self.input)? {
            Some(Cow::Borrowed(Bson::Document(doc))) => Ok(doc.get(&self.field).map(Cow::Borrowed)),
            Some(Cow::Owned(Bson::Document(mut doc))) => Ok(doc.remove(&self.field).map(Cow::Owned)),
            Some(value) if nullish(Some(&value)) => Ok(Some(Cow::Owned(Bson::Null))),
            None => Ok(Some(Cow::Owned(Bson::Null))),
            Some(other) => {
                let found = type_name(Some(&other));
                fail(
                    ErrorCode::Location3041705,
                    format!("$getField requires 'input' to evaluate to type Object, but got {found}"),
                )
            }
        }
    }
}
