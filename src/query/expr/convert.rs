//! Type operators: `$type`, `$isNumber`, `$convert` and its shorthands (`$toInt`,
//! `$toString`…).

use std::borrow::Cow;

use bson::{oid::ObjectId, Bson, DateTime};

use super::arith::Num;
use super::bindata::{self, Format};
use super::decimal::{self, Dec, Rounding};
use super::logic::special;
use super::{fail, is_number, nullish, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{Error, ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$type", Arity::Exactly(1), |a| Ok(Some(Bson::String(type_name(a[0]).to_owned())))),
    Operator::eager("$isNumber", Arity::Exactly(1), |a| Ok(Some(Bson::Boolean(is_number(a[0]))))),
    Operator::special("$convert", Convert::parse),
    Operator::special("$toString", |p, arg| Convert::shorthand(p, arg, "$toString", Target::String)),
    Operator::special("$toInt", |p, arg| Convert::shorthand(p, arg, "$toInt", Target::Int)),
    Operator::special("$toLong", |p, arg| Convert::shorthand(p, arg, "$toLong", Target::Long)),
    Operator::special("$toDouble", |p, arg| Convert::shorthand(p, arg, "$toDouble", Target::Double)),
    Operator::special("$toDecimal", |p, arg| Convert::shorthand(p, arg, "$toDecimal", Target::Decimal)),
    Operator::special("$toBool", |p, arg| Convert::shorthand(p, arg, "$toBool", Target::Bool)),
    Operator::special("$toObjectId", |p, arg| Convert::shorthand(p, arg, "$toObjectId", Target::ObjectId)),
    Operator::special("$toDate", |p, arg| Convert::shorthand(p, arg, "$toDate", Target::Date)),
    Operator::special("$toUUID", |p, arg| Convert::shorthand(p, arg, "$toUUID", Target::BinData)),
];

/// A type `$convert` converts to.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Double,
    String,
    ObjectId,
    Bool,
    Date,
    Int,
    Long,
    Decimal,
    /// Binary data (of the subtype the conversion is given).
    BinData,
    /// Another valid BSON type, to which only identity conversions exist.
    Other(&'static str),
}

impl Target {
    /// The type and binary subtype a `to` value names: a type name, a BSON type
    /// number, or `{type, subtype}` (subtype 0 by default).
    fn resolve(to: &Bson) -> Result<(Target, Bson)> {
        match to {
            Bson::Document(spec) => {
                let target = Target::named(spec.get("type").unwrap_or(&Bson::Undefined))?;
                Ok((target, spec.get("subtype").cloned().unwrap_or(Bson::Int32(0))))
            }
            other => Ok((Target::named(other)?, Bson::Int32(0))),
        }
    }

    /// The type a `to` value names (a type name or a BSON type number).
    fn named(to: &Bson) -> Result<Target> {
        let name = match to {
            Bson::String(name) => name.as_str(),
            number if is_number(Some(number)) => match super::integral(Some(number)) {
                Some(code) => type_for_code(code)?,
                None => return fail(ErrorCode::FailedToParse, "In $convert, numeric 'to' argument is not an integer"),
            },
            other => {
                let found = type_name(Some(other));
                return fail(
                    ErrorCode::FailedToParse,
                    format!("$convert's 'to' argument must be a string or number, but is {found}"),
                );
            }
        };
        Ok(match name {
            "double" => Target::Double,
            "string" => Target::String,
            "objectId" => Target::ObjectId,
            "bool" => Target::Bool,
            "date" => Target::Date,
            "int" => Target::Int,
            "long" => Target::Long,
            "decimal" => Target::Decimal,
            "binData" => Target::BinData,
            "missing" => Target::Other("missing"),
            other => match crate::value::type_by_alias(other) {
                Some(t) => Target::Other(crate::value::alias(t)),
                None => return fail(ErrorCode::BadValue, format!("Unknown type name: {name}")),
            },
        })
    }

    /// MongoDB's name of the type.
    fn name(self) -> &'static str {
        match self {
            Target::Double => "double",
            Target::String => "string",
            Target::ObjectId => "objectId",
            Target::Bool => "bool",
            Target::Date => "date",
            Target::Int => "int",
            Target::Long => "long",
            Target::Decimal => "decimal",
            Target::BinData => "binData",
            Target::Other(name) => name,
        }
    }
}

/// The type name of a BSON type number.
fn type_for_code(code: i64) -> Result<&'static str> {
    match crate::value::type_by_code(code) {
        Some(t) => Ok(crate::value::alias(t)),
        None => {
            let message = format!("In $convert, numeric value for 'to' does not correspond to a BSON type: {code}");
            fail(ErrorCode::FailedToParse, message)
        }
    }
}

/// `$convert: {input, to, format, onError, onNull}`, and the `$toX` shorthands.
#[derive(Debug)]
struct Convert {
    input: Node,
    to: Node,
    format: Option<Node>,
    /// What a shorthand (`$toInt`…) converts to, which `to` does not name.
    fixed: Option<Fixed>,
    on_error: Option<Node>,
    on_null: Option<Node>,
}

/// A shorthand's target, binary subtype and format.
#[derive(Debug)]
struct Fixed {
    target: Target,
    subtype: Bson,
    format: Option<Format>,
}

impl Convert {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            let found = type_name(Some(spec));
            return fail(
                ErrorCode::FailedToParse,
                format!("$convert expects an object of named arguments but found: {found}"),
            );
        };
        let (mut input, mut to, mut format, mut on_error, mut on_null) = (None, None, None, None, None);
        for (field, value) in doc {
            let slot = match field.as_str() {
                "input" => &mut input,
                "to" => &mut to,
                "format" => &mut format,
                "onError" => &mut on_error,
                "onNull" => &mut on_null,
                _ => return fail(ErrorCode::FailedToParse, format!("$convert found an unknown argument: {field}")),
            };
            *slot = Some(p.operand(value)?);
        }
        let Some(input) = input else { return fail(ErrorCode::FailedToParse, "Missing 'input' parameter to $convert") };
        let Some(to) = to else { return fail(ErrorCode::FailedToParse, "Missing 'to' parameter to $convert") };
        Ok(special(Convert { input, to, format, fixed: None, on_error, on_null }))
    }

    /// `$toInt: expr` and the like: a conversion without `onError` or `onNull`.
    /// `$toString` writes binary data in the `auto` format; `$toUUID` reads a
    /// UUID's text.
    fn shorthand(p: &mut Parser, spec: &Bson, name: &str, target: Target) -> Result<Node> {
        let mut args = p.arguments(spec)?;
        if args.len() != 1 {
            return fail(ErrorCode::Location50723, format!("{name} requires a single argument, got {}", args.len()));
        }
        let input = args.pop().unwrap_or(Node::Missing);
        let fixed = match target {
            Target::String => Fixed { target, subtype: Bson::Int32(0), format: Some(Format::Auto) },
            Target::BinData => Fixed { target, subtype: Bson::Int32(4), format: Some(Format::Uuid) },
            _ => Fixed { target, subtype: Bson::Int32(0), format: None },
        };
        Ok(special(Convert {
            input,
            to: Node::Missing,
            format: None,
            fixed: Some(fixed),
            on_error: None,
            on_null: None,
        }))
    }
}

impl Special for Convert {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        // `to` is checked before the input's null test, as MongoDB does.
        let target = match &self.fixed {
            Some(fixed) => Some((fixed.target, fixed.subtype.clone())),
            None => match ctx.eval(&self.to)?.as_deref() {
                value if nullish(value) => None,
                Some(value) => Some(Target::resolve(value)?),
                None => None,
            },
        };
        let input = ctx.eval(&self.input)?;
        let format = match &self.format {
            Some(node) => ctx.eval_owned(node)?,
            None => None,
        };
        if nullish(input.as_deref()) {
            return match &self.on_null {
                Some(on_null) => ctx.eval(on_null),
                None => Ok(Some(Cow::Owned(Bson::Null))),
            };
        }
        let (Some((target, subtype)), Some(input)) = (target, input) else { return Ok(Some(Cow::Owned(Bson::Null))) };
        let format = match &self.fixed {
            Some(fixed) => fixed.format,
            None => bindata::format_of(format.as_ref())?,
        };
        match convert(&input, target, &subtype, format) {
            Ok(value) => Ok(Some(Cow::Owned(value))),
            Err(error) if error.code() == ErrorCode::ConversionFailure => match &self.on_error {
                Some(on_error) => ctx.eval(on_error),
                None => Err(error),
            },
            Err(error) => Err(error),
        }
    }
}

/// A conversion failure (`ConversionFailure`, which `onError` catches).
fn failure<T>(message: impl Into<String>) -> Result<T> {
    Err(Error::command(ErrorCode::ConversionFailure, message))
}

/// Converts a value that is not null to a type (binary data to `subtype`, to and
/// from strings in `format`).
fn convert(value: &Bson, target: Target, subtype: &Bson, format: Option<Format>) -> Result<Bson> {
    let same = type_name(Some(value)) == target.name();
    if same && !matches!(target, Target::BinData | Target::Other(_)) {
        return Ok(value.clone());
    }
    let unsupported = || {
        let from = type_name(Some(value));
        failure(format!("Unsupported conversion from {from} to {} in $convert with no onError value", target.name()))
    };
    match target {
        Target::Bool => Ok(Bson::Boolean(match value {
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => super::truthy(Some(value)),
            Bson::DateTime(_) | Bson::String(_) | Bson::ObjectId(_) => true,
            Bson::Document(_) | Bson::Array(_) | Bson::Binary(_) | Bson::RegularExpression(_) => true,
            Bson::JavaScriptCode(_) | Bson::Symbol(_) | Bson::JavaScriptCodeWithScope(_) | Bson::Timestamp(_) => true,
            Bson::DbPointer(_) | Bson::MinKey | Bson::MaxKey => true,
            _ => return unsupported(),
        })),
        Target::String => match value {
            Bson::Double(d) => Ok(Bson::String(format_double(*d))),
            Bson::Int32(n) => Ok(Bson::String(n.to_string())),
            Bson::Int64(n) => Ok(Bson::String(n.to_string())),
            Bson::Decimal128(d) => Ok(Bson::String(d.to_string())),
            Bson::Boolean(b) => Ok(Bson::String(b.to_string())),
            Bson::ObjectId(oid) => Ok(Bson::String(oid.to_hex())),
            Bson::DateTime(d) => Ok(Bson::String(super::date::iso_string(d.timestamp_millis()))),
            Bson::Binary(binary) => bindata::to_string(binary, format),
            _ => unsupported(),
        },
        Target::Double => match value {
            Bson::Boolean(b) => Ok(Bson::Double(if *b { 1.0 } else { 0.0 })),
            Bson::DateTime(d) => Ok(Bson::Double(d.timestamp_millis() as f64)),
            Bson::String(s) => parse_double(s).map(Bson::Double),
            Bson::Decimal128(d) => {
                let f = decimal::to_f64(d);
                if f.is_infinite() && Dec::of(d).is_finite() {
                    return failure(format!("Conversion would overflow target type in $convert with no onError value: {d}"));
                }
                Ok(Bson::Double(f))
            }
            other => Num::of(Some(other)).map_or_else(unsupported, |n| Ok(Bson::Double(n.to_f64()))),
        },
        Target::Int | Target::Long => to_integer(value, target).and_then(|n| n.map_or_else(unsupported, Ok)),
        Target::Decimal => match value {
            Bson::Boolean(b) => Ok(decimal::to_bson(Dec::from_i128(i128::from(*b)))),
            Bson::DateTime(d) => Ok(decimal::to_bson(Dec::from_i128(d.timestamp_millis().into()))),
            Bson::String(s) => match s.parse::<bson::Decimal128>() {
                Ok(d) if !s.starts_with("0x") => Ok(Bson::Decimal128(d)),
                _ => failure(format!("Failed to parse number '{s}' in $convert with no onError value: Failed to parse string to decimal")),
            },
            Bson::Double(d) => Ok(decimal::from_f64(*d)),
            other => match Num::of(Some(other)).map(Num::to_dec) {
                Some(d) => Ok(decimal::to_bson(d)),
                None => unsupported(),
            },
        },
        Target::ObjectId => match value {
            Bson::String(s) => match ObjectId::parse_str(s) {
                Ok(oid) if s.len() == 24 => Ok(Bson::ObjectId(oid)),
                _ => failure(format!(
                    "Failed to parse objectId '{s}' in $convert with no onError value: Invalid string length for parsing to OID, expected 24 but found {}",
                    s.len()
                )),
            },
            _ => unsupported(),
        },
        Target::Date => match value {
            Bson::String(s) => match super::date::parse_iso(s) {
                Some(millis) => Ok(Bson::DateTime(DateTime::from_millis(millis))),
                None => failure(format!("Error parsing date string '{s}'")),
            },
            Bson::ObjectId(oid) => Ok(Bson::DateTime(oid.timestamp())),
            Bson::Timestamp(t) => Ok(Bson::DateTime(DateTime::from_millis(i64::from(t.time) * 1000))),
            Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => match to_integer(value, Target::Long)? {
                Some(Bson::Int64(millis)) => Ok(Bson::DateTime(DateTime::from_millis(millis))),
                _ => unsupported(),
            },
            _ => unsupported(),
        },
        Target::BinData => match value {
            Bson::String(text) => bindata::from_string(text, format, subtype),
            Bson::Binary(binary) => bindata::to_binary(binary, subtype),
            _ => unsupported(),
        },
        Target::Other(_) => unsupported(),
    }
}

/// Converts to an int or a long (truncating doubles and decimals), `Ok(None)` when
/// the type cannot convert.
fn to_integer(value: &Bson, target: Target) -> Result<Option<Bson>> {
    let (min, max) = if target == Target::Int {
        (i128::from(i32::MIN), i128::from(i32::MAX))
    } else {
        (i128::from(i64::MIN), i128::from(i64::MAX))
    };
    let make = |n: i128| if target == Target::Int { Bson::Int32(n as i32) } else { Bson::Int64(n as i64) };
    let overflow = |shown: String| {
        failure(format!("Conversion would overflow target type in $convert with no onError value: {shown}"))
    };
    let whole: i128 = match value {
        Bson::Boolean(b) => i128::from(*b),
        Bson::Int32(n) => i128::from(*n),
        Bson::Int64(n) => i128::from(*n),
        Bson::DateTime(d) if target == Target::Long => i128::from(d.timestamp_millis()),
        Bson::Double(d) => {
            if d.is_nan() {
                return failure("Attempt to convert NaN value to integer type in $convert with no onError value");
            }
            if d.is_infinite() {
                return failure("Attempt to convert infinity value to integer type in $convert with no onError value");
            }
            let t = d.trunc();
            if t < min as f64 || t >= max as f64 + 1.0 {
                return overflow(d.to_string());
            }
            t as i128
        }
        Bson::Decimal128(d) => {
            let dec = Dec::of(d);
            if !dec.is_finite() {
                let what = if dec.is_nan() { "NaN" } else { "infinity" };
                return failure(format!(
                    "Attempt to convert {what} value to integer type in $convert with no onError value"
                ));
            };
            match dec.quantize(0, Rounding::TowardZero).map(Dec::integer) {
                Some(t) if t >= min && t <= max => t,
                _ => return overflow(d.to_string()),
            }
        }
        Bson::String(s) => {
            let parsed = s.parse::<i128>().ok().filter(|_| !s.starts_with('+') || s.len() > 1);
            match parsed {
                Some(n) if n >= min && n <= max => n,
                Some(_) => return overflow(s.clone()),
                None => {
                    return failure(format!(
                        "Failed to parse number '{s}' in $convert with no onError value: Did not consume whole string."
                    ))
                }
            }
        }
        _ => return Ok(None),
    };
    if whole < min || whole > max {
        return overflow(whole.to_string());
    }
    Ok(Some(make(whole)))
}

/// Parses a double the way `$convert` does: decimal text, `Infinity`, `NaN`; no
/// hexadecimal.
fn parse_double(s: &str) -> Result<f64> {
    let parsed = match s {
        "Infinity" | "inf" | "infinity" => Some(f64::INFINITY),
        "-Infinity" | "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        _ if s.contains(|c: char| c.is_ascii_alphabetic() && c != 'e' && c != 'E') => None,
        _ => s.trim_start_matches('+').parse::<f64>().ok().filter(|_| !s.is_empty()),
    };
    match parsed {
        Some(d) => Ok(d),
        None => failure(format!(
            "Failed to parse number '{s}' in $convert with no onError value: Did not consume whole string."
        )),
    }
}

/// A double as MongoDB prints it in strings: the shortest text that reads back as
/// the same double, with `Infinity`, `-Infinity`, `NaN` and `-0` spelled out.
pub(super) fn format_double(d: f64) -> String {
    if d.is_nan() {
        "NaN".to_owned()
    } else if d.is_infinite() {
        if d > 0.0 { "Infinity" } else { "-Infinity" }.to_owned()
    } else if d == 0.0 && d.is_sign_negative() {
        "-0".to_owned()
    } else {
        d.to_string()
    }
}
