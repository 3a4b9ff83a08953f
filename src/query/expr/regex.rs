//! `$regexFind`, `$regexFindAll` and `$regexMatch`: PCRE2 patterns (see
//! [`crate::value::regex`]) over strings, with match positions counted in code
//! points. A constant pattern is compiled once, as the expression is parsed.

use std::borrow::Cow;

use bson::{doc, Bson};

use super::logic::special;
use super::{fail, int, nullish, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};
use crate::value::regex::{Invalid, Regex};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::special("$regexFind", |p, a| RegexOp::parse(p, a, Mode::Find)),
    Operator::special("$regexFindAll", |p, a| RegexOp::parse(p, a, Mode::FindAll)),
    Operator::special("$regexMatch", |p, a| RegexOp::parse(p, a, Mode::Match)),
];

/// The most `$regexFindAll` may return, as MongoDB's `BufferMaxSize`.
const MAX_OUTPUT_BYTES: usize = 64 * 1024 * 1024;

/// Which operator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Mode {
    Find,
    FindAll,
    Match,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::Find => "$regexFind",
            Mode::FindAll => "$regexFindAll",
            Mode::Match => "$regexMatch",
        }
    }
}

#[derive(Debug)]
struct RegexOp {
    mode: Mode,
    input: Node,
    regex: Node,
    options: Option<Node>,
    /// The compiled pattern when `regex` and `options` are constants (`None`
    /// inside when the pattern is null).
    constant: Option<Option<Regex>>,
}

impl RegexOp {
    fn parse(p: &mut Parser, spec: &Bson, mode: Mode) -> Result<Node> {
        let name = mode.name();
        let Bson::Document(args) = spec else {
            let found = super::type_name(Some(spec));
            return fail(
                ErrorCode::Location51103,
                format!("{name} expects an object of named arguments but found: {found}"),
            );
        };
        let (mut input, mut regex, mut options) = (None, None, None);
        for (field, value) in args {
            match field.as_str() {
                "input" => input = Some(p.operand(value)?),
                "regex" => regex = Some(p.operand(value)?),
                "options" => options = Some(p.operand(value)?),
                _ => return fail(ErrorCode::Location31024, format!("{name} found an unknown argument: {field}")),
            }
        }
        let Some(input) = input else {
            return fail(ErrorCode::Location31022, format!("{name} requires 'input' parameter"));
        };
        let Some(regex) = regex else {
            return fail(ErrorCode::Location31023, format!("{name} requires 'regex' parameter"));
        };
        let constant = match (regex.folded(), options.as_ref().map(Node::folded)) {
            (Some(pattern), None) => Some(evaluated_regex(name, Some(&pattern), None)?),
            (Some(pattern), Some(Some(options))) => Some(evaluated_regex(name, Some(&pattern), Some(&options))?),
            _ => None,
        };
        Ok(special(RegexOp { mode, input, regex, options, constant }))
    }
}

/// The pattern of `regex` and `options` as evaluated for a document, or as parsed
/// when both are constants (MongoDB's optimizer checks them then).
fn evaluated_regex(name: &str, pattern: Option<&Bson>, options: Option<&Bson>) -> Result<Option<Regex>> {
    let (source, flags) = match pattern {
        Some(Bson::RegularExpression(re)) => {
            if !nullish(options) && !re.options.is_empty() {
                let message = format!("{name}: found regex option(s) specified in both 'regex' and 'option' fields");
                return fail(ErrorCode::Location51107, message);
            }
            (Some(re.pattern.as_str()), re.options.as_str())
        }
        Some(Bson::String(s)) => (Some(s.as_str()), ""),
        other if nullish(other) => (None, ""),
        _ => return fail(ErrorCode::Location51105, format!("{name} needs 'regex' to be of type string or regex")),
    };
    let flags = match options {
        Some(Bson::String(s)) => s.as_str(),
        other if nullish(other) => flags,
        _ => return fail(ErrorCode::Location51106, format!("{name} needs 'options' to be of type string")),
    };
    if source.is_some_and(|s| s.contains('\0')) {
        return fail(
            ErrorCode::Location51109,
            format!("{name}: regular expression cannot contain an embedded null byte"),
        );
    }
    if flags.contains('\0') {
        let message = format!("{name}: regular expression options cannot contain an embedded null byte");
        return fail(ErrorCode::Location51110, message);
    }
    compile(name, source, flags)
}

/// Compiles a pattern (`None` for a null one, whose options are still checked).
fn compile(name: &str, source: Option<&str>, flags: &str) -> Result<Option<Regex>> {
    match Regex::new(source.unwrap_or(""), flags) {
        Err(invalid @ Invalid::Flag(_)) => fail(ErrorCode::Location51108, invalid.to_string()),
        Err(invalid) if source.is_some() => {
            fail(ErrorCode::Location51111, format!("Invalid Regex in {name}: {invalid}"))
        }
        Err(_) => Ok(None),
        Ok(regex) => Ok(source.map(|_| regex)),
    }
}

impl Special for RegexOp {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let name = self.mode.name();
        let input = ctx.eval(&self.input)?;
        let text = match input.as_deref() {
            Some(Bson::String(s)) => Some(s.as_str()),
            other if nullish(other) => None,
            _ => return fail(ErrorCode::Location51104, format!("{name} needs 'input' to be of type string")),
        };
        let evaluated;
        let regex = match &self.constant {
            Some(regex) => regex.as_ref(),
            None => {
                let pattern = ctx.eval(&self.regex)?;
                let options = match &self.options {
                    Some(options) => ctx.eval(options)?,
                    None => None,
                };
                evaluated = evaluated_regex(name, pattern.as_deref(), options.as_deref())?;
                evaluated.as_ref()
            }
        };
        let (Some(text), Some(regex)) = (text, regex) else {
            let nothing = match self.mode {
                Mode::Find => Bson::Null,
                Mode::FindAll => Bson::Array(Vec::new()),
                Mode::Match => Bson::Boolean(false),
            };
            return Ok(Some(Cow::Owned(nothing)));
        };
        let result = match self.mode {
            Mode::Match => Bson::Boolean(regex.is_match(text).or_else(|e| failed(name, &e.0))?),
            Mode::Find => match find(name, regex, text, 0)? {
                Some((found, _)) => found,
                None => Bson::Null,
            },
            Mode::FindAll => find_all(name, regex, text)?,
        };
        Ok(Some(Cow::Owned(result)))
    }
}

/// The first match at or after byte `start`, as `{match, idx, captures}`, and the
/// byte where it ends.
fn find(name: &str, regex: &Regex, text: &str, start: usize) -> Result<Option<(Bson, usize)>> {
    let Some(found) = regex.find_at(text, start).or_else(|e| failed(name, &e.0))? else { return Ok(None) };
    let captures = found.groups.iter().map(|group| match group {
        Some((from, to)) => Bson::String(text[*from..*to].to_owned()),
        None => Bson::Null,
    });
    let result = doc! {
        "match": &text[found.start..found.end],
        "idx": int(text[..found.start].chars().count()),
        "captures": captures.collect::<Vec<_>>(),
    };
    Ok(Some((Bson::Document(result), found.end.max(found.start))))
}

/// Every match, left to right and not overlapping; after an empty match the
/// search goes on one character further.
fn find_all(name: &str, regex: &Regex, text: &str) -> Result<Bson> {
    let mut out = Vec::new();
    let mut bytes = 0;
    let mut start = 0;
    loop {
        let Some((found, end)) = find(name, regex, text, start)? else { break };
        bytes += crate::value::size::value_footprint(&found);
        if bytes > MAX_OUTPUT_BYTES {
            let message = format!("{name}: the size of buffer to store output exceeded the 64MB limit");
            return fail(ErrorCode::Location51151, message);
        }
        let empty = matches!(&found, Bson::Document(d) if d.get_str("match").is_ok_and(str::is_empty));
        out.push(found);
        start = if empty {
            let at = end;
            at + text[at..].chars().next().map_or(1, char::len_utf8)
        } else {
            end
        };
        if start >= text.len() {
            break;
        }
    }
    Ok(Bson::Array(out))
}

/// A match that did not finish (PCRE2's match limit).
fn failed<T>(name: &str, error: &str) -> Result<T> {
    let message = format!("Error occurred while executing the regular expression in {name}. Result code: {error}");
    fail(ErrorCode::Location51156, message)
}
