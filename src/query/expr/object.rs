//! Object operators: `$mergeObjects`, `$objectToArray`, `$arrayToObject`,
//! `$getField`, `$setField` and `$unsetField`.

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
    Operator::special("$setField", SetField::parse_set),
    Operator::special("$unsetField", SetField::parse_unset),
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
                        "field" => field = Some((value, p.operand(value)?)),
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
            other => ((other, p.operand(other)?), None),
        };
        let codes = FieldCodes {
            reference: ErrorCode::Location5654600,
            constant: ErrorCode::Location5654601,
            string: ErrorCode::Location5654602,
        };
        let field = constant_field("$getField", field.0, field.1, codes)?;
        Ok(special(GetField { field, input: input.unwrap_or_else(|| p.current(Vec::new())) }))
    }
}

/// The error codes of a bad `field` argument to `$getField` or `$setField`.
struct FieldCodes {
    /// A field path or variable, which MongoDB refuses suggesting `$literal`.
    reference: ErrorCode,
    /// Another expression that is not a constant.
    constant: ErrorCode,
    /// A constant that is not a string.
    string: ErrorCode,
}

/// The field name the `field` argument of `operator` gives (`raw` parsed into
/// `node`): it must be a constant string (`{$literal: "$a"}` names the field `$a`).
fn constant_field(operator: &str, raw: &Bson, node: Node, codes: FieldCodes) -> Result<String> {
    match (raw, node) {
        (Bson::String(path), _) if path.starts_with('$') => {
            let reference = match path.strip_prefix("$$") {
                Some(variable) => format!("${variable}"),
                None => format!("$CURRENT.{}", &path[1..]),
            };
            let message = format!(
                "'{reference}' is a field path reference which is not allowed in this context. Did you mean {{$literal: '{reference}'}}?"
            );
            fail(codes.reference, message)
        }
        (_, Node::Const(Bson::String(name))) => Ok(name),
        (_, Node::Const(other)) => {
            let found = type_name(Some(&other));
            fail(codes.string, format!("{operator} requires 'field' to evaluate to type String, but got {found}"))
        }
        _ => fail(
            codes.constant,
            format!("{operator} requires 'field' to evaluate to a constant, but got a non-constant argument"),
        ),
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

/// `$setField: {field, input, value}`, and `$unsetField: {field, input}` (the same
/// with `value: "$$REMOVE"`): the `input` object with the field named `field`
/// (taken literally, dots and dollars included) set to `value`, in place when it
/// exists and appended when not, or removed when the value is missing.
#[derive(Debug)]
struct SetField {
    field: String,
    input: Node,
    value: Node,
}

impl SetField {
    /// `$setField`.
    fn parse_set(p: &mut Parser, spec: &Bson) -> Result<Node> {
        SetField::parse(p, spec, "$setField")
    }

    /// `$unsetField`.
    fn parse_unset(p: &mut Parser, spec: &Bson) -> Result<Node> {
        SetField::parse(p, spec, "$unsetField")
    }

    /// Either operator, `name` telling which.
    fn parse(p: &mut Parser, spec: &Bson, name: &str) -> Result<Node> {
        let Bson::Document(args) = spec else {
            return fail(ErrorCode::Location4161100, format!("{name} only supports an object as its argument"));
        };
        let unset = name == "$unsetField";
        let (mut field, mut input, mut value) = (None, None, unset.then_some(Node::Missing));
        for (arg, spec) in args {
            match arg.as_str() {
                "field" => field = Some((spec, p.operand(spec)?)),
                "input" => input = Some(p.operand(spec)?),
                "value" if !unset => value = Some(p.operand(spec)?),
                _ => return fail(ErrorCode::Location4161101, format!("{name} found an unknown argument: {arg}")),
            }
        }
        let Some((raw, field)) = field else {
            return fail(ErrorCode::Location4161102, format!("{name} requires 'field' to be specified"));
        };
        let Some(value) = value else {
            return fail(ErrorCode::Location4161103, format!("{name} requires 'value' to be specified"));
        };
        let Some(input) = input else {
            return fail(ErrorCode::Location4161109, format!("{name} requires 'input' to be specified"));
        };
        let codes = FieldCodes {
            reference: ErrorCode::Location4161108,
            constant: ErrorCode::Location4161106,
            string: ErrorCode::Location4161107,
        };
        let field = constant_field(name, raw, field, codes)?;
        Ok(special(SetField { field, input, value }))
    }
}

impl Special for SetField {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let mut doc = match ctx.eval_owned(&self.input)? {
            Some(Bson::Document(doc)) => doc,
            input if nullish(input.as_ref()) => return Ok(Some(Cow::Owned(Bson::Null))),
            _ => return fail(ErrorCode::Location4161105, "$setField requires 'input' to evaluate to type Object"),
        };
        match ctx.eval_owned(&self.value)? {
            Some(value) => {
                doc.insert(self.field.clone(), value);
            }
            None => {
                doc.remove(&self.field);
            }
        }
        Ok(Some(Cow::Owned(Bson::Document(doc))))
    }
}
