//! `$replaceOne` and `$replaceAll`: literal (not pattern) replacement in strings.

use std::borrow::Cow;

use bson::Bson;

use super::logic::special;
use super::{fail, nullish, show, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::special("$replaceOne", |p, a| Replace::parse(p, a, false)),
    Operator::special("$replaceAll", |p, a| Replace::parse(p, a, true)),
];

/// The longest string a replacement may build, as MongoDB's buffers allow.
const MAX_STRING_BYTES: usize = 64 * 1024 * 1024;

#[derive(Debug)]
struct Replace {
    all: bool,
    input: Node,
    find: Node,
    replacement: Node,
}

impl Replace {
    fn name(all: bool) -> &'static str {
        if all {
            "$replaceAll"
        } else {
            "$replaceOne"
        }
    }

    fn parse(p: &mut Parser, spec: &Bson, all: bool) -> Result<Node> {
        let name = Replace::name(all);
        let Bson::Document(args) = spec else {
            let found = type_name(Some(spec));
            return fail(ErrorCode::Location51751, format!("{name} requires an object as an argument, found: {found}"));
        };
        let (mut input, mut find, mut replacement) = (None, None, None);
        for (field, value) in args {
            match field.as_str() {
                "input" => input = Some(p.operand(value)?),
                "find" => find = Some(p.operand(value)?),
                "replacement" => replacement = Some(p.operand(value)?),
                _ => return fail(ErrorCode::Location51750, format!("{name} found an unknown argument: {field}")),
            }
        }
        let required = |node: Option<Node>, field: &str, code| match node {
            Some(node) => Ok(node),
            None => fail(code, format!("{name} requires '{field}' to be specified")),
        };
        let input = required(input, "input", ErrorCode::Location51749)?;
        let find = required(find, "find", ErrorCode::Location51748)?;
        let replacement = required(replacement, "replacement", ErrorCode::Location51747)?;
        Ok(special(Replace { all, input, find, replacement }))
    }
}

impl Special for Replace {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let name = Replace::name(self.all);
        let input = ctx.eval(&self.input)?;
        let find = ctx.eval(&self.find)?;
        let replacement = ctx.eval(&self.replacement)?;
        // Every argument is checked before a null one makes the result null.
        let mut texts = [""; 3];
        let arguments = [(&input, "input", ErrorCode::Location51746), (&find, "find", ErrorCode::Location51745)];
        let arguments = arguments.into_iter().chain([(&replacement, "replacement", ErrorCode::Location51744)]);
        let mut null = false;
        for (place, (value, field, code)) in arguments.enumerate() {
            match value.as_deref() {
                Some(Bson::String(s)) => texts[place] = s,
                other if nullish(other) => null = true,
                other => {
                    return fail(code, format!("{name} requires that '{field}' be a string, found: {}", show(other)))
                }
            }
        }
        if null {
            return Ok(Some(Cow::Owned(Bson::Null)));
        }
        let [input, find, replacement] = texts;
        let places = match (self.all, find.is_empty()) {
            (false, _) => usize::from(input.contains(find)),
            (true, true) => input.chars().count() + 1,
            (true, false) => input.matches(find).count(),
        };
        let size = (input.len() - find.len() * places).saturating_add(places.saturating_mul(replacement.len()));
        if size > MAX_STRING_BYTES {
            let message = format!("BufBuilder attempted to grow() to {size} bytes, past the 64MB limit.");
            return fail(ErrorCode::Location13548, message);
        }
        let replaced = if self.all {
            if find.is_empty() {
                // The empty string matches between every two characters and at both ends.
                let mut out = String::with_capacity(input.len() * (replacement.len() + 1) + replacement.len());
                for c in input.chars() {
                    out.push_str(replacement);
                    out.push(c);
                }
                out.push_str(replacement);
                out
            } else {
                input.replace(find, replacement)
            }
        } else {
            input.replacen(find, replacement, 1)
        };
        Ok(Some(Cow::Owned(Bson::String(replaced))))
    }
}
