//! String operators. Lengths and indexes are in bytes for the `Bytes` operators and
//! in code points for the `CP` ones.

use std::borrow::Cow;

use bson::Bson;

use super::logic::{named_args, special};
use super::{
    fail, int, integral, is_number, nullish, show, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val,
};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$concat", Arity::Any, concat),
    Operator::eager("$toLower", Arity::Exactly(1), |a| Ok(Some(Bson::String(coerce_to_string(a[0])?.to_lowercase())))),
    Operator::eager("$toUpper", Arity::Exactly(1), |a| Ok(Some(Bson::String(coerce_to_string(a[0])?.to_uppercase())))),
    Operator::eager("$substr", Arity::Exactly(3), substr_bytes),
    Operator::eager("$substrBytes", Arity::Exactly(3), substr_bytes),
    Operator::eager("$substrCP", Arity::Exactly(3), substr_cp),
    Operator::eager("$strLenBytes", Arity::Exactly(1), |a| {
        str_len("$strLenBytes", ErrorCode::Location34473, a[0], str::len)
    }),
    Operator::eager("$strLenCP", Arity::Exactly(1), |a| {
        str_len("$strLenCP", ErrorCode::Location34471, a[0], |s| s.chars().count())
    }),
    Operator::eager("$split", Arity::Exactly(2), split),
    Operator::eager("$indexOfBytes", Arity::Between(2, 4), |a| index_of("$indexOfBytes", a, false)),
    Operator::eager("$indexOfCP", Arity::Between(2, 4), |a| index_of("$indexOfCP", a, true)),
    Operator::eager("$strcasecmp", Arity::Exactly(2), strcasecmp),
    Operator::special("$trim", |p, arg| Trim::parse(p, arg, "$trim", true, true)),
    Operator::special("$ltrim", |p, arg| Trim::parse(p, arg, "$ltrim", true, false)),
    Operator::special("$rtrim", |p, arg| Trim::parse(p, arg, "$rtrim", false, true)),
];

/// A value as a string, as the lenient string operators read it: null and missing
/// are empty, numbers and dates are formatted.
fn coerce_to_string(value: Option<&Bson>) -> Result<String> {
    match value {
        None | Some(Bson::Null | Bson::Undefined) => Ok(String::new()),
        Some(Bson::String(s) | Bson::Symbol(s) | Bson::JavaScriptCode(s)) => Ok(s.clone()),
        Some(Bson::Int32(n)) => Ok(n.to_string()),
        Some(Bson::Int64(n)) => Ok(n.to_string()),
        Some(Bson::Double(d)) => Ok(super::convert::format_double(*d)),
        Some(Bson::Decimal128(d)) => Ok(d.to_string()),
        Some(Bson::DateTime(d)) => Ok(super::date::iso_string(d.timestamp_millis())),
        Some(Bson::Timestamp(t)) => Ok(format!("Timestamp({}, {})", t.time, t.increment)),
        Some(other) => {
            fail(ErrorCode::Location16007, format!("can't convert from BSON type {} to String", type_name(Some(other))))
        }
    }
}

/// `$concat`: null if any argument is null or missing.
fn concat(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let mut out = String::new();
    for arg in args {
        match arg {
            Some(Bson::String(s)) => out.push_str(s),
            other if nullish(*other) => return Ok(Some(Bson::Null)),
            other => {
                return fail(
                    ErrorCode::Location16702,
                    format!("$concat only supports strings, not {}", type_name(*other)),
                )
            }
        }
    }
    Ok(Some(Bson::String(out)))
}

/// `$substrBytes` (and `$substr`): `length` bytes from byte `start`; a negative
/// length takes the rest; the range must not split a character.
fn substr_bytes(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let text = coerce_to_string(args[0])?;
    let name = "$substrBytes";
    let numeric = |v: Option<&Bson>| matches!(v, Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_)));
    if !numeric(args[1]) {
        let found = type_name(args[1]);
        return fail(
            ErrorCode::Location16034,
            format!("{name}:  starting index must be a numeric type (is BSON type {found})"),
        );
    }
    if !numeric(args[2]) {
        let found = type_name(args[2]);
        return fail(
            ErrorCode::Location16035,
            format!("{name}:  length must be a numeric type (is BSON type {found})"),
        );
    }
    let start = as_long(args[1]);
    if start < 0 {
        return fail(ErrorCode::Location50752, format!("{name}:  starting index must be non-negative (got: {start})"));
    }
    let start = usize::try_from(start).unwrap_or(usize::MAX);
    let length = as_long(args[2]);
    let length = if length < 0 { text.len() } else { usize::try_from(length).unwrap_or(usize::MAX) };
    if start < text.len() && !text.is_char_boundary(start) {
        return fail(
            ErrorCode::Location28656,
            format!("{name}:  Invalid range, starting index is a UTF-8 continuation byte."),
        );
    }
    let end = start.saturating_add(length);
    if end < text.len() && !text.is_char_boundary(end) {
        return fail(
            ErrorCode::Location28657,
            format!("{name}:  Invalid range, ending index is in the middle of a UTF-8 character."),
        );
    }
    if start >= text.len() {
        return Ok(Some(Bson::String(String::new())));
    }
    Ok(Some(Bson::String(text[start..end.min(text.len())].to_owned())))
}

/// A number truncated to a long, as `coerceToLong` does.
fn as_long(value: Option<&Bson>) -> i64 {
    match value {
        Some(Bson::Int32(n)) => (*n).into(),
        Some(Bson::Int64(n)) => *n,
        Some(Bson::Double(d)) => *d as i64,
        _ => 0,
    }
}

/// `$substrCP`: `length` code points from code point `start`.
fn substr_cp(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let text = coerce_to_string(args[0])?;
    let name = "$substrCP";
    let index = |value: Option<&Bson>, what: &str, codes: (ErrorCode, ErrorCode)| -> Result<i64> {
        if !is_number(value) {
            let found = type_name(value);
            return fail(codes.0, format!("{name}: {what} must be a numeric type (is BSON type {found})"));
        }
        match integral(value).filter(|n| i32::try_from(*n).is_ok()) {
            Some(n) => Ok(n),
            None => fail(
                codes.1,
                format!("{name}: {what} cannot be represented as a 32-bit integral value: {}", show(value)),
            ),
        }
    };
    let start = index(args[1], "starting index", (ErrorCode::Location34450, ErrorCode::Location34451))?;
    let length = index(args[2], "length", (ErrorCode::Location34452, ErrorCode::Location34453))?;
    if length < 0 {
        return fail(ErrorCode::Location34454, format!("{name}: length must be a nonnegative integer."));
    }
    if start < 0 {
        return fail(ErrorCode::Location34455, format!("{name}: the starting index must be nonnegative integer."));
    }
    let out: String = text.chars().skip(start as usize).take(length as usize).collect();
    Ok(Some(Bson::String(out)))
}

/// `$strLenBytes` and `$strLenCP`.
fn str_len(name: &str, code: ErrorCode, value: Option<&Bson>, len: fn(&str) -> usize) -> Result<Option<Bson>> {
    match value {
        Some(Bson::String(s)) => Ok(Some(int(len(s)))),
        other => fail(code, format!("{name} requires a string argument, found: {}", type_name(other))),
    }
}

/// `$split`: the parts of a string between the separators.
fn split(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    if nullish(args[0]) || nullish(args[1]) {
        return Ok(Some(Bson::Null));
    }
    let Some(Bson::String(text)) = args[0] else {
        let found = type_name(args[0]);
        let message =
            format!("$split requires an expression that evaluates to a string as a first argument, found: {found}");
        return fail(ErrorCode::Location40085, message);
    };
    let Some(Bson::String(separator)) = args[1] else {
        let found = type_name(args[1]);
        let message =
            format!("$split requires an expression that evaluates to a string as a second argument, found: {found}");
        return fail(ErrorCode::Location40086, message);
    };
    if separator.is_empty() {
        return fail(ErrorCode::Location40087, "$split requires a non-empty separator");
    }
    Ok(Some(Bson::Array(text.split(separator.as_str()).map(|part| Bson::String(part.to_owned())).collect())))
}

/// `$indexOfBytes` and `$indexOfCP` (`code_points`): the first index of a substring
/// in `[start, end)`, or -1.
fn index_of(name: &str, args: &[Option<&Bson>], code_points: bool) -> Result<Option<Bson>> {
    if nullish(args[0]) {
        return Ok(Some(Bson::Null));
    }
    let codes = if code_points {
        (ErrorCode::Location40093, ErrorCode::Location40094)
    } else {
        (ErrorCode::Location40091, ErrorCode::Location40092)
    };
    let Some(Bson::String(text)) = args[0] else {
        let found = type_name(args[0]);
        return fail(codes.0, format!("{name} requires a string as the first argument, found: {found}"));
    };
    let Some(Bson::String(token)) = args[1] else {
        let found = type_name(args[1]);
        return fail(codes.1, format!("{name} requires a string as the second argument, found: {found}"));
    };
    let start = args.get(2).map(|v| super::array::bound(name, "starting index", *v)).transpose()?.unwrap_or(0);
    let end = args.get(3).map(|v| super::array::bound(name, "ending index", *v)).transpose()?;
    // Work on the units the operator counts in: bytes, or code points.
    let units: Vec<usize> = if code_points {
        text.char_indices().map(|(i, _)| i).chain([text.len()]).collect()
    } else {
        (0..=text.len()).collect()
    };
    let length = units.len() - 1;
    let end = end.unwrap_or(length).min(length);
    if start > length || end < start {
        return Ok(Some(Bson::Int32(-1)));
    }
    let window = &text.as_bytes()[..units[end]];
    let found = (start..=end).find(|&unit| {
        let at = units[unit];
        window.len() >= at + token.len()
            && &window[at..at + token.len()] == token.as_bytes()
            && (unit < end || token.is_empty())
    });
    Ok(Some(found.map_or(Bson::Int32(-1), int)))
}

/// `$strcasecmp`: -1, 0 or 1, ignoring ASCII case.
fn strcasecmp(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    let a = coerce_to_string(args[0])?.to_ascii_uppercase();
    let b = coerce_to_string(args[1])?.to_ascii_uppercase();
    Ok(Some(Bson::Int32(a.cmp(&b) as i32)))
}

/// The characters `$trim` removes by default: NUL, whitespace and the Unicode
/// spaces MongoDB lists.
const WHITESPACE: &[char] = &[
    '\0', ' ', '\t', '\n', '\u{0B}', '\u{0C}', '\r', '\u{A0}', '\u{1680}', '\u{2000}', '\u{2001}', '\u{2002}',
    '\u{2003}', '\u{2004}', '\u{2005}', '\u{2006}', '\u{2007}', '\u{2008}', '\u{2009}', '\u{200A}',
];

/// `$trim`, `$ltrim`, `$rtrim`: `{input, chars}`.
#[derive(Debug)]
struct Trim {
    name: &'static str,
    input: Node,
    chars: Option<Node>,
    left: bool,
    right: bool,
}

impl Trim {
    fn parse(p: &mut Parser, spec: &Bson, name: &'static str, left: bool, right: bool) -> Result<Node> {
        let message = format!("{name} only supports an object as an argument, found {{type}}");
        let doc = named_args(spec, ErrorCode::Location50696, &message)?;
        let (mut input, mut chars) = (None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(p.operand(value)?),
                "chars" => chars = Some(p.operand(value)?),
                _ => return fail(ErrorCode::Location50694, format!("{name} found an unknown argument: {field}")),
            }
        }
        let Some(input) = input else {
            return fail(ErrorCode::Location50695, format!("{name} requires an 'input' field"));
        };
        Ok(special(Trim { name, input, chars, left, right }))
    }
}

impl Special for Trim {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let input = ctx.eval(&self.input)?;
        let text = match input.as_deref() {
            Some(Bson::String(s)) => s.clone(),
            other if nullish(other) => return Ok(Some(Cow::Owned(Bson::Null))),
            other => {
                let message = format!(
                    "{} requires its input to be a string, got {} (of type {}) instead.",
                    self.name,
                    show(other),
                    type_name(other)
                );
                return fail(ErrorCode::Location50699, message);
            }
        };
        let chars: Vec<char> = match &self.chars {
            None => WHITESPACE.to_vec(),
            Some(chars) => match ctx.eval(chars)?.as_deref() {
                Some(Bson::String(s)) => s.chars().collect(),
                other if nullish(other) => return Ok(Some(Cow::Owned(Bson::Null))),
                other => {
                    let message = format!(
                        "{} requires 'chars' to be a string, got {} (of type {}) instead.",
                        self.name,
                        show(other),
                        type_name(other)
                    );
                    return fail(ErrorCode::Location50700, message);
                }
            },
        };
        let mut out = text.as_str();
        if self.left {
            out = out.trim_start_matches(chars.as_slice());
        }
        if self.right {
            out = out.trim_end_matches(chars.as_slice());
        }
        Ok(Some(Cow::Owned(Bson::String(out.to_owned()))))
    }
}
