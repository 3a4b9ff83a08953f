//! `$zip`: arrays transposed, to the shortest or, with `useLongestLength`, the
//! longest, padded with `defaults`.

use std::borrow::Cow;

use bson::Bson;

use super::logic::special;
use super::{fail, nullish, show, type_name, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[Operator::special("$zip", Zip::parse)];

#[derive(Debug)]
struct Zip {
    inputs: Vec<Node>,
    defaults: Vec<Node>,
    longest: bool,
}

impl Zip {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(args) = spec else {
            let found = type_name(Some(spec));
            return fail(
                ErrorCode::Location34460,
                format!("$zip only supports an object as an argument, found {found}"),
            );
        };
        let (mut inputs, mut defaults, mut longest) = (Vec::new(), Vec::new(), false);
        for (field, value) in args {
            match (field.as_str(), value) {
                ("inputs", Bson::Array(items)) => {
                    inputs = items.iter().map(|item| p.operand(item)).collect::<Result<_>>()?;
                }
                ("inputs", other) => {
                    let found = type_name(Some(other));
                    return fail(
                        ErrorCode::Location34461,
                        format!("inputs must be an array of expressions, found {found}"),
                    );
                }
                ("defaults", Bson::Array(items)) => {
                    defaults = items.iter().map(|item| p.operand(item)).collect::<Result<_>>()?;
                }
                ("defaults", other) => {
                    let found = type_name(Some(other));
                    let message = format!("defaults must be an array of expressions, found {found}");
                    return fail(ErrorCode::Location34462, message);
                }
                ("useLongestLength", Bson::Boolean(yes)) => longest = *yes,
                // MongoDB names the type of the whole argument here, an object.
                ("useLongestLength", _) => {
                    return fail(ErrorCode::Location34463, "useLongestLength must be a bool, found object")
                }
                (other, _) => {
                    return fail(ErrorCode::Location34464, format!("$zip found an unknown argument: {other}"))
                }
            }
        }
        if inputs.is_empty() {
            return fail(ErrorCode::Location34465, "$zip requires at least one input array");
        }
        if !longest && !defaults.is_empty() {
            return fail(ErrorCode::Location34466, "cannot specify defaults unless useLongestLength is true");
        }
        if !defaults.is_empty() && defaults.len() != inputs.len() {
            return fail(ErrorCode::Location34467, "defaults and inputs must have the same length");
        }
        Ok(special(Zip { inputs, defaults, longest }))
    }
}

impl Special for Zip {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let mut arrays = Vec::with_capacity(self.inputs.len());
        for input in &self.inputs {
            match ctx.eval_owned(input)? {
                Some(Bson::Array(items)) => arrays.push(items),
                other if nullish(other.as_ref()) => return Ok(Some(Cow::Owned(Bson::Null))),
                other => {
                    let message = format!("$zip found a non-array expression in input: {}", show(other.as_ref()));
                    return fail(ErrorCode::Location34468, message);
                }
            }
        }
        let shortest = arrays.iter().map(Vec::len).min().unwrap_or(0);
        let longest = arrays.iter().map(Vec::len).max().unwrap_or(0);
        let mut defaults = vec![Bson::Null; arrays.len()];
        if shortest != longest {
            for (place, default) in self.defaults.iter().enumerate() {
                defaults[place] = ctx.eval_owned(default)?.unwrap_or(Bson::Null);
            }
        }
        let rows = if self.longest { longest } else { shortest };
        let zipped = (0..rows).map(|row| {
            let items = arrays.iter().zip(&defaults).map(|(array, default)| array.get(row).unwrap_or(default).clone());
            Bson::Array(items.collect())
        });
        Ok(Some(Cow::Owned(Bson::Array(zipped.collect()))))
    }
}
