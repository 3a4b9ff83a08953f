//! Comparison, boolean and conditional operators, and the ones that bind
//! variables: `$let`, `$map`, `$filter`, `$reduce`.

use std::borrow::Cow;
use std::cmp::Ordering;
use std::sync::Arc;

use bson::{Bson, Document};

use super::{check_arity, compare, fail, nullish, truthy, type_name, Arity, Ctx, Node, Operator, Parser, Special, Val};
use crate::error::{ErrorCode, Result};

pub(super) const OPERATORS: &[Operator] = &[
    Operator::eager("$eq", Arity::Exactly(2), |a| compared(a, |o| o.is_eq())),
    Operator::eager("$ne", Arity::Exactly(2), |a| compared(a, |o| o.is_ne())),
    Operator::eager("$gt", Arity::Exactly(2), |a| compared(a, |o| o.is_gt())),
    Operator::eager("$gte", Arity::Exactly(2), |a| compared(a, |o| o.is_ge())),
    Operator::eager("$lt", Arity::Exactly(2), |a| compared(a, |o| o.is_lt())),
    Operator::eager("$lte", Arity::Exactly(2), |a| compared(a, |o| o.is_le())),
    Operator::eager("$cmp", Arity::Exactly(2), cmp),
    Operator::eager("$not", Arity::Exactly(1), |a| Ok(Some(Bson::Boolean(!truthy(a[0]))))),
    Operator::special("$and", |p, arg| Ok(special(Junction { all: true, args: p.arguments(arg)? }))),
    Operator::special("$or", |p, arg| Ok(special(Junction { all: false, args: p.arguments(arg)? }))),
    Operator::special("$cond", Cond::parse),
    Operator::special("$ifNull", IfNull::parse),
    Operator::special("$switch", Switch::parse),
    Operator::special("$let", Let::parse),
    Operator::special("$map", Map::parse),
    Operator::special("$filter", Filter::parse),
    Operator::special("$reduce", Reduce::parse),
];

/// Wraps a special operator into a node.
pub(super) fn special(op: impl Special + 'static) -> Node {
    Node::Special(Arc::new(op))
}

/// A comparison's boolean result.
fn compared(args: &[Option<&Bson>], test: fn(Ordering) -> bool) -> Result<Option<Bson>> {
    Ok(Some(Bson::Boolean(test(compare(args[0], args[1])))))
}

/// `$cmp`: -1, 0 or 1.
fn cmp(args: &[Option<&Bson>]) -> Result<Option<Bson>> {
    Ok(Some(Bson::Int32(compare(args[0], args[1]) as i32)))
}

/// The fields of an operator's object argument, refusing a non-object with `code`.
pub(super) fn named_args<'s>(spec: &'s Bson, code: ErrorCode, message: &str) -> Result<&'s Document> {
    match spec {
        Bson::Document(doc) => Ok(doc),
        _ => fail(code, message.replace("{type}", type_name(Some(spec)))),
    }
}

/// `$and` (all) or `$or` (not all): short-circuits on the first deciding argument.
#[derive(Debug)]
struct Junction {
    all: bool,
    args: Vec<Node>,
}

impl Special for Junction {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        for arg in &self.args {
            if truthy(ctx.eval(arg)?.as_deref()) != self.all {
                return Ok(Some(Cow::Owned(Bson::Boolean(!self.all))));
            }
        }
        Ok(Some(Cow::Owned(Bson::Boolean(self.all))))
    }
}

/// `$cond`: `[if, then, else]` or `{if, then, else}`.
#[derive(Debug)]
struct Cond {
    test: Node,
    then: Node,
    otherwise: Node,
}

impl Cond {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let Bson::Document(doc) = spec else {
            let mut args = p.arguments(spec)?;
            check_arity("$cond", Arity::Exactly(3), args.len())?;
            let otherwise = args.pop().unwrap_or(Node::Missing);
            let then = args.pop().unwrap_or(Node::Missing);
            let test = args.pop().unwrap_or(Node::Missing);
            return Ok(special(Cond { test, then, otherwise }));
        };
        let (mut test, mut then, mut otherwise) = (None, None, None);
        for (name, value) in doc {
            let slot = match name.as_str() {
                "if" => &mut test,
                "then" => &mut then,
                "else" => &mut otherwise,
                _ => return fail(ErrorCode::Location17083, format!("Unrecognized parameter to $cond: {name}")),
            };
            *slot = Some(p.operand(value)?);
        }
        let Some(test) = test else { return fail(ErrorCode::Location17080, "Missing 'if' parameter to $cond") };
        let Some(then) = then else { return fail(ErrorCode::Location17081, "Missing 'then' parameter to $cond") };
        let Some(otherwise) = otherwise else {
            return fail(ErrorCode::Location17082, "Missing 'else' parameter to $cond");
        };
        Ok(special(Cond { test, then, otherwise }))
    }
}

impl Special for Cond {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        if truthy(ctx.eval(&self.test)?.as_deref()) {
            ctx.eval(&self.then)
        } else {
            ctx.eval(&self.otherwise)
        }
    }
}

/// `$ifNull`: the first argument that is not null or missing, else the last one.
#[derive(Debug)]
struct IfNull(Vec<Node>);

impl IfNull {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let args = p.arguments(spec)?;
        if args.len() < 2 {
            return fail(
                ErrorCode::Location1257300,
                format!("$ifNull needs at least two arguments, had: {}", args.len()),
            );
        }
        Ok(special(IfNull(args)))
    }
}

impl Special for IfNull {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let (last, tried) = self.0.split_last().unwrap_or((&Node::Missing, &[]));
        for arg in tried {
            let value = ctx.eval(arg)?;
            if !nullish(value.as_deref()) {
                return Ok(value);
            }
        }
        ctx.eval(last)
    }
}

/// `$switch`: the `then` of the first branch whose `case` holds, else `default`.
#[derive(Debug)]
struct Switch {
    branches: Vec<(Node, Node)>,
    default: Option<Node>,
}

impl Switch {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc =
            named_args(spec, ErrorCode::Location40060, "$switch requires an object as an argument, found: {type}")?;
        let mut switch = Switch { branches: Vec::new(), default: None };
        for (name, value) in doc {
            match name.as_str() {
                "branches" => {
                    let Bson::Array(branches) = value else {
                        let found = type_name(Some(value));
                        return fail(
                            ErrorCode::Location40061,
                            format!("$switch expected an array for 'branches', found: {found}"),
                        );
                    };
                    for branch in branches {
                        switch.branches.push(Switch::branch(p, branch)?);
                    }
                }
                "default" => switch.default = Some(p.operand(value)?),
                _ => return fail(ErrorCode::Location40067, format!("$switch found an unknown argument: {name}")),
            }
        }
        if switch.branches.is_empty() {
            return fail(ErrorCode::Location40068, "$switch requires at least one branch.");
        }
        Ok(special(switch))
    }

    /// One `{case, then}` branch.
    fn branch(p: &mut Parser, spec: &Bson) -> Result<(Node, Node)> {
        let doc =
            named_args(spec, ErrorCode::Location40062, "$switch expected each branch to be an object, found: {type}")?;
        let (mut case, mut then) = (None, None);
        for (name, value) in doc {
            match name.as_str() {
                "case" => case = Some(p.operand(value)?),
                "then" => then = Some(p.operand(value)?),
                _ => {
                    return fail(
                        ErrorCode::Location40063,
                        format!("$switch found an unknown argument to a branch: {name}"),
                    )
                }
            }
        }
        let Some(case) = case else {
            return fail(ErrorCode::Location40064, "$switch requires each branch have a 'case' expression");
        };
        let Some(then) = then else {
            return fail(ErrorCode::Location40065, "$switch requires each branch have a 'then' expression.");
        };
        Ok((case, then))
    }
}

impl Special for Switch {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        for (case, then) in &self.branches {
            if truthy(ctx.eval(case)?.as_deref()) {
                return ctx.eval(then);
            }
        }
        match &self.default {
            Some(default) => ctx.eval(default),
            None => fail(
                ErrorCode::Location40066,
                "$switch could not find a matching branch for an input, and no default was specified.",
            ),
        }
    }
}

/// `$let`: binds variables, then evaluates `in` with them.
#[derive(Debug)]
struct Let {
    vars: Vec<(usize, Node)>,
    body: Node,
}

impl Let {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc = named_args(spec, ErrorCode::Location16874, "$let only supports an object as its argument")?;
        let (mut vars, mut body) = (None, None);
        for (name, value) in doc {
            match name.as_str() {
                "vars" => vars = Some(value),
                "in" => body = Some(value),
                _ => return fail(ErrorCode::Location16875, format!("Unrecognized parameter to $let: {name}")),
            }
        }
        let Some(vars) = vars else { return fail(ErrorCode::Location16876, "Missing 'vars' parameter to $let") };
        let Some(body) = body else { return fail(ErrorCode::Location16877, "Missing 'in' parameter to $let") };
        let Bson::Document(vars) = vars else {
            let found = type_name(Some(vars));
            return fail(
                ErrorCode::Location10065,
                format!("invalid parameter: expected an object (vars), found {found}"),
            );
        };
        // The values see only the outer variables; `in` sees the new ones too.
        let values = vars.values().map(|v| p.operand(v)).collect::<Result<Vec<_>>>()?;
        let mark = p.scope_mark();
        let slots = vars.keys().map(|name| p.define(name)).collect::<Result<Vec<_>>>()?;
        let body = p.operand(body)?;
        p.end_scope(mark);
        Ok(special(Let { vars: slots.into_iter().zip(values).collect(), body }))
    }
}

impl Special for Let {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let values = self.vars.iter().map(|(_, value)| ctx.eval(value)).collect::<Result<Vec<_>>>()?;
        for ((slot, _), value) in self.vars.iter().zip(values) {
            ctx.set(*slot, value);
        }
        ctx.eval(&self.body)
    }
}

/// The array an iterating operator reads (`input`): `Ok(None)` when it is null or
/// missing, an error with `code` when it is not an array.
fn input_array<'a>(ctx: &mut Ctx<'a>, input: &Node, code: ErrorCode, what: &str) -> Result<Option<Vec<Val<'a>>>> {
    match ctx.eval(input)? {
        None => Ok(None),
        Some(Cow::Borrowed(Bson::Array(items))) => Ok(Some(items.iter().map(|i| Some(Cow::Borrowed(i))).collect())),
        Some(Cow::Owned(Bson::Array(items))) => Ok(Some(items.into_iter().map(|i| Some(Cow::Owned(i))).collect())),
        Some(value) if nullish(Some(&value)) => Ok(None),
        Some(value) => fail(code, format!("{what} {}", type_name(Some(&value)))),
    }
}

/// The name an iterating operator binds each element to (`as`, default `this`).
fn element_name(value: Option<&Bson>) -> Result<String> {
    match value {
        None => Ok("this".to_owned()),
        Some(Bson::String(name)) => Ok(name.clone()),
        Some(other) => {
            fail(ErrorCode::FailedToParse, format!("'as' must be a string, found {}", type_name(Some(other))))
        }
    }
}

/// `$map`: `in` evaluated for each element of `input`.
#[derive(Debug)]
struct Map {
    input: Node,
    slot: usize,
    each: Node,
}

impl Map {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc = named_args(spec, ErrorCode::Location16878, "$map only supports an object as its argument")?;
        let (mut input, mut name, mut each) = (None, None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(value),
                "as" => name = Some(value),
                "in" => each = Some(value),
                _ => return fail(ErrorCode::Location16879, format!("Unrecognized parameter to $map: {field}")),
            }
        }
        let Some(input) = input else { return fail(ErrorCode::Location16880, "Missing 'input' parameter to $map") };
        let Some(each) = each else { return fail(ErrorCode::Location16882, "Missing 'in' parameter to $map") };
        let input = p.operand(input)?;
        let mark = p.scope_mark();
        let slot = p.define(&element_name(name)?)?;
        let each = p.operand(each)?;
        p.end_scope(mark);
        Ok(special(Map { input, slot, each }))
    }
}

impl Special for Map {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let what = "input to $map must be an array not";
        let Some(items) = input_array(ctx, &self.input, ErrorCode::Location16883, what)? else {
            return Ok(Some(Cow::Owned(Bson::Null)));
        };
        let mut out = Vec::with_capacity(items.len());
        for item in items {
            ctx.set(self.slot, item);
            out.push(ctx.eval_owned(&self.each)?.unwrap_or(Bson::Null));
        }
        Ok(Some(Cow::Owned(Bson::Array(out))))
    }
}

/// `$filter`: the elements of `input` for which `cond` holds, at most `limit`.
#[derive(Debug)]
struct Filter {
    input: Node,
    slot: usize,
    cond: Node,
    limit: Option<Node>,
}

impl Filter {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc = named_args(spec, ErrorCode::Location28646, "$filter only supports an object as its argument")?;
        let (mut input, mut name, mut cond, mut limit) = (None, None, None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(value),
                "as" => name = Some(value),
                "cond" => cond = Some(value),
                "limit" => limit = Some(value),
                _ => return fail(ErrorCode::Location28647, format!("Unrecognized parameter to $filter: {field}")),
            }
        }
        let Some(input) = input else { return fail(ErrorCode::Location28648, "Missing 'input' parameter to $filter") };
        let Some(cond) = cond else { return fail(ErrorCode::Location28650, "Missing 'cond' parameter to $filter") };
        let input = p.operand(input)?;
        let limit = limit.map(|l| p.operand(l)).transpose()?;
        let mark = p.scope_mark();
        let slot = p.define(&element_name(name)?)?;
        let cond = p.operand(cond)?;
        p.end_scope(mark);
        Ok(special(Filter { input, slot, cond, limit }))
    }

    /// The `limit`, when given: a positive integer, or `None` when null.
    fn limit(&self, ctx: &mut Ctx<'_>) -> Result<Option<usize>> {
        let Some(limit) = &self.limit else { return Ok(None) };
        let value = ctx.eval(limit)?;
        if nullish(value.as_deref()) {
            return Ok(None);
        }
        match super::integral(value.as_deref()) {
            Some(n) if n >= 1 => Ok(Some(usize::try_from(n).unwrap_or(usize::MAX))),
            Some(n) => fail(ErrorCode::Location327392, format!("$filter: limit must be greater than 0: {n}")),
            None => fail(
                ErrorCode::Location327391,
                format!(
                    "$filter: limit must be represented as a 32-bit integral value: {}",
                    super::show(value.as_deref())
                ),
            ),
        }
    }
}

impl Special for Filter {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let what = "input to $filter must be an array not";
        let Some(items) = input_array(ctx, &self.input, ErrorCode::Location28651, what)? else {
            return Ok(Some(Cow::Owned(Bson::Null)));
        };
        let limit = self.limit(ctx)?.unwrap_or(usize::MAX);
        let mut out = Vec::new();
        for item in items {
            if out.len() >= limit {
                break;
            }
            ctx.set(self.slot, item.clone());
            if truthy(ctx.eval(&self.cond)?.as_deref()) {
                out.push(item.map_or(Bson::Null, Cow::into_owned));
            }
        }
        Ok(Some(Cow::Owned(Bson::Array(out))))
    }
}

/// `$reduce`: folds `input` into `initialValue` with `in`, which sees `$$this` and
/// `$$value`.
#[derive(Debug)]
struct Reduce {
    input: Node,
    initial: Node,
    this: usize,
    value: usize,
    each: Node,
}

impl Reduce {
    fn parse(p: &mut Parser, spec: &Bson) -> Result<Node> {
        let doc =
            named_args(spec, ErrorCode::Location40075, "$reduce requires an object as an argument, found: {type}")?;
        let (mut input, mut initial, mut each) = (None, None, None);
        for (field, value) in doc {
            match field.as_str() {
                "input" => input = Some(value),
                "initialValue" => initial = Some(value),
                "in" => each = Some(value),
                _ => return fail(ErrorCode::Location40076, format!("$reduce found an unknown argument: {field}")),
            }
        }
        let Some(input) = input else {
            return fail(ErrorCode::Location40077, "$reduce requires 'input' to be specified");
        };
        let Some(initial) = initial else {
            return fail(ErrorCode::Location40078, "$reduce requires 'initialValue' to be specified");
        };
        let Some(each) = each else { return fail(ErrorCode::Location40079, "$reduce requires 'in' to be specified") };
        let input = p.operand(input)?;
        let initial = p.operand(initial)?;
        let mark = p.scope_mark();
        let this = p.define("this")?;
        let value = p.define("value")?;
        let each = p.operand(each)?;
        p.end_scope(mark);
        Ok(special(Reduce { input, initial, this, value, each }))
    }
}

impl Special for Reduce {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>> {
        let input = ctx.eval(&self.input)?;
        let items: Vec<Val<'a>> = match input {
            None => return Ok(Some(Cow::Owned(Bson::Null))),
            Some(Cow::Borrowed(Bson::Array(items))) => items.iter().map(|i| Some(Cow::Borrowed(i))).collect(),
            Some(Cow::Owned(Bson::Array(items))) => items.into_iter().map(|i| Some(Cow::Owned(i))).collect(),
            Some(value) if nullish(Some(&value)) => return Ok(Some(Cow::Owned(Bson::Null))),
            Some(value) => {
                let found = super::show(Some(&value));
                return fail(
                    ErrorCode::Location40080,
                    format!("$reduce requires that 'input' be an array, found: {found}"),
                );
            }
        };
        let mut accumulated = ctx.eval(&self.initial)?;
        for item in items {
            ctx.set(self.this, item);
            ctx.set(self.value, accumulated);
            accumulated = ctx.eval(&self.each)?;
        }
        Ok(accumulated)
    }
}
