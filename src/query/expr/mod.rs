//! Aggregation expressions (`{$add: ["$a", 1]}`, `"$field"`, literals), compiled
//! once into a tree and evaluated against a document. Used by `$expr` in filters, by
//! projections, by pipeline-style updates and by the aggregation stages.
//!
//! # Missing versus null
//!
//! MongoDB tells a *missing* value (a field that is not there, `$$REMOVE`) from
//! `null`: an object expression leaves out a field whose value is missing, an array
//! expression turns it into `null`, and `$type` reports `"missing"`. Evaluation here
//! yields `Option<Bson>`, with `None` for missing: [`Expr::evaluate_optional`]
//! exposes it (callers that build documents omit the field on `None`), and
//! [`Expr::evaluate`] is the shorthand that reads missing as `null`.
//!
//! # Shape of the code
//!
//! [`Expr::parse`] compiles the specification into a [`Node`] tree; user variables
//! (`$let`, `$$this` in `$map`…) are resolved at parse time to numbered slots.
//! Evaluation walks the tree with a [`Ctx`] that holds the root document and the
//! variable slots; values borrow from the input where they can (a field path
//! does not copy the document it reads). Operators live in one file per family,
//! each with a table of [`Operator`]s: an *eager* operator gets its evaluated
//! arguments, a *special* one (lazy branches, named arguments, variables) parses its
//! own node.

mod arith;
mod array;
mod bindata;
mod bitwise;
mod calendar;
mod convert;
mod data;
mod date;
mod date_math;
mod date_parts;
mod decimal;
pub(crate) use decimal::round_to_series;
pub use decimal::to_i64_half_even;
mod function;
mod logic;
mod n_elements;
mod object;
mod regex;
mod replace;
mod set;
mod sort_array;
pub(crate) mod stats;
mod string;
mod trig;
mod variables;
mod zip;

#[cfg(test)]
mod tests;

use std::borrow::Cow;
use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::value::order;

pub(crate) use arith::{add_numbers, multiply_decimals, Num, Sum};
pub(crate) use date_math::TimeUnit;
pub(crate) use n_elements::{n_arguments, n_value, Pick};
pub(crate) use object::merge_into;
pub use variables::Variables;

/// A compiled expression.
#[derive(Debug, Clone)]
pub struct Expr {
    node: Node,
    /// How many variable slots evaluation needs.
    slots: usize,
    /// Whether it reads the text score (`{$meta: "textScore"}`).
    text_score: bool,
}

impl Expr {
    /// Compiles an expression: a literal, a `"$field.path"`, a `"$$variable"`, an
    /// operator object `{$op: args}`, an object of expressions or an array of them.
    /// `vars` are the command's variables (its `let`), which `$$name` may read.
    pub fn parse(spec: &Bson, vars: &Variables) -> Result<Expr> {
        let mut parser = Parser::new(vars);
        let node = parser.operand(spec)?;
        Ok(Expr { node, slots: parser.slots, text_score: parser.text_score })
    }

    /// The expression's value with `$$ROOT` and `$$CURRENT` bound to `root`; a
    /// missing value reads as `null`.
    pub fn evaluate(&self, root: &Document) -> Result<Bson> {
        Ok(self.evaluate_optional(root)?.unwrap_or(Bson::Null))
    }

    /// The expression's value, or `None` when it is missing (a field that does not
    /// exist, `$$REMOVE`): callers that build documents leave the field out.
    pub fn evaluate_optional(&self, root: &Document) -> Result<Option<Bson>> {
        self.evaluate_scored(root, None)
    }

    /// As [`Expr::evaluate_optional`], with `text_score` the document's score for the
    /// query's `$text` search, which `{$meta: "textScore"}` reads (MongoDB's error
    /// 40218 without one).
    pub fn evaluate_scored(&self, root: &Document, text_score: Option<f64>) -> Result<Option<Bson>> {
        let mut ctx = Ctx { root, vars: vec![None; self.slots], text_score };
        Ok(ctx.eval(&self.node)?.map(Cow::into_owned))
    }

    /// Whether the expression reads the text score.
    pub fn needs_text_score(&self) -> bool {
        self.text_score
    }

    /// Whether the expression only reads and arranges values (constants, field
    /// paths, variables, objects and arrays of them), calling no operator: what
    /// compares nothing, whatever the collation.
    pub fn is_plain(&self) -> bool {
        fn plain(node: &Node) -> bool {
            match node {
                Node::Const(_) | Node::Missing | Node::Current(_) | Node::Var(..) | Node::Now | Node::TextScore => true,
                Node::Object(fields) => fields.iter().all(|(_, node)| plain(node)),
                Node::Array(items) => items.iter().all(plain),
                Node::Call(..) | Node::Special(_) => false,
            }
        }
        plain(&self.node)
    }

    /// Whether the expression is a constant (it reads neither the document nor a
    /// variable), and its value if so.
    pub fn constant(&self) -> Option<&Bson> {
        match &self.node {
            Node::Const(value) => Some(value),
            _ => None,
        }
    }

    /// The value of an expression built of constants only (arrays and objects of
    /// them included).
    pub fn folded(&self) -> Option<Bson> {
        self.node.folded()
    }
}

/// A value during evaluation: borrowed from the input where possible; `None` is
/// missing.
pub(super) type Val<'a> = Option<Cow<'a, Bson>>;

/// An eager operator's implementation: the evaluated arguments (`None` for missing)
/// to the result.
type EagerFn = fn(&[Option<&Bson>]) -> Result<Option<Bson>>;

/// A special operator's parser: the operator's argument to the node evaluating it.
type SpecialFn = fn(&mut Parser, &Bson) -> Result<Node>;

/// An operator of the expression language, as the family tables list them.
pub(super) struct Operator {
    name: &'static str,
    kind: Kind,
}

/// How an operator is parsed and evaluated.
enum Kind {
    /// Evaluates all its arguments, then computes.
    Eager(Arity, EagerFn),
    /// Parses its own argument into a node.
    Special(SpecialFn),
}

impl Operator {
    /// An eager operator.
    const fn eager(name: &'static str, arity: Arity, f: EagerFn) -> Operator {
        Operator { name, kind: Kind::Eager(arity, f) }
    }

    /// A special operator.
    const fn special(name: &'static str, parse: SpecialFn) -> Operator {
        Operator { name, kind: Kind::Special(parse) }
    }
}

/// How many arguments an eager operator takes.
#[derive(Clone, Copy)]
enum Arity {
    Exactly(usize),
    Between(usize, usize),
    Any,
}

/// The operator called `name`, from the family tables.
fn operator(name: &str) -> Option<&'static Operator> {
    FAMILIES.iter().copied().flatten().find(|op| op.name == name)
}

/// The operator tables, one per family.
const FAMILIES: &[&[Operator]] = &[
    arith::OPERATORS,
    array::OPERATORS,
    bitwise::OPERATORS,
    convert::OPERATORS,
    data::OPERATORS,
    date::OPERATORS,
    date_math::OPERATORS,
    date_parts::OPERATORS,
    function::OPERATORS,
    logic::OPERATORS,
    n_elements::OPERATORS,
    object::OPERATORS,
    regex::OPERATORS,
    replace::OPERATORS,
    set::OPERATORS,
    sort_array::OPERATORS,
    stats::OPERATORS,
    string::OPERATORS,
    trig::OPERATORS,
    zip::OPERATORS,
];

/// Whether `name` is an operator of the expression language (for the
/// compatibility table).
pub fn is_operator(name: &str) -> bool {
    matches!(name, "$literal" | "$const" | "$meta") || operator(name).is_some()
}

/// A node of a compiled expression.
#[derive(Clone)]
pub(super) enum Node {
    /// A constant value.
    Const(Bson),
    /// The missing value (`$$REMOVE`).
    Missing,
    /// A field path from the current document (`"$a.b"`), or the whole document.
    Current(Vec<String>),
    /// A variable, and a path into it (`"$$this.a"`).
    Var(usize, Vec<String>),
    /// `$$NOW`.
    Now,
    /// `{$meta: "textScore"}`.
    TextScore,
    /// An object of expressions.
    Object(Vec<(String, Node)>),
    /// An array of expressions.
    Array(Vec<Node>),
    /// An eager operator and its arguments.
    Call(&'static str, EagerFn, Vec<Node>),
    /// An operator that evaluates its arguments itself.
    Special(Arc<dyn Special>),
}

impl fmt::Debug for Node {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Node::Const(value) => write!(f, "{value}"),
            Node::Missing => write!(f, "$$REMOVE"),
            Node::Current(path) => write!(f, "${}", path.join(".")),
            Node::Var(slot, path) => write!(f, "$${slot}.{}", path.join(".")),
            Node::Now => write!(f, "$$NOW"),
            Node::TextScore => write!(f, "{{$meta: \"textScore\"}}"),
            Node::Object(fields) => f.debug_map().entries(fields.iter().map(|(k, v)| (k, v))).finish(),
            Node::Array(items) => f.debug_list().entries(items).finish(),
            Node::Call(name, _, args) => write!(f, "{{{name}: {args:?}}}"),
            Node::Special(special) => special.fmt(f),
        }
    }
}

impl Node {
    /// The value of a node that reads neither the document nor a variable (a
    /// constant, or an array or object of them), as MongoDB's optimizer folds it.
    pub(super) fn folded(&self) -> Option<Bson> {
        match self {
            Node::Const(value) => Some(value.clone()),
            Node::Array(items) => items.iter().map(Node::folded).collect::<Option<_>>().map(Bson::Array),
            Node::Object(fields) => fields
                .iter()
                .map(|(name, node)| Some((name.clone(), node.folded()?)))
                .collect::<Option<Document>>()
                .map(Bson::Document),
            _ => None,
        }
    }
}

/// An operator node that evaluates its own arguments (lazily, or with variables).
pub(super) trait Special: fmt::Debug + Send + Sync {
    fn eval<'a>(&self, ctx: &mut Ctx<'a>) -> Result<Val<'a>>;
}

/// Compiles expressions, keeping the user variables in scope.
pub(super) struct Parser<'v> {
    /// The command's variables, constants read where no user variable of the same
    /// name is in scope.
    command: &'v Variables,
    /// Variables in scope, innermost last: name and slot.
    scope: Vec<(String, usize)>,
    /// Slots handed out so far.
    slots: usize,
    /// Whether the expression reads the current document (a field path,
    /// `$$ROOT` or `$$CURRENT`).
    reads_document: bool,
    /// Whether it reads the text score.
    text_score: bool,
}

impl<'v> Parser<'v> {
    /// A parser with the command's variables and no user variable in scope.
    fn new(command: &'v Variables) -> Parser<'v> {
        Parser { command, scope: Vec::new(), slots: 0, reads_document: false, text_score: false }
    }

    /// An operand: a field path or variable, an object, an array or a constant.
    fn operand(&mut self, spec: &Bson) -> Result<Node> {
        match spec {
            Bson::String(s) if s.starts_with("$$") => self.variable(&s[2..]),
            Bson::String(s) if s.starts_with('$') => Ok(self.current(field_path(s, &s[1..])?)),
            Bson::Document(doc) => self.object(doc),
            Bson::Array(items) => Ok(Node::Array(items.iter().map(|i| self.operand(i)).collect::<Result<_>>()?)),
            other => Ok(Node::Const(other.clone())),
        }
    }

    /// An object: an operator expression when its first field starts with `$`,
    /// else an object of expressions.
    fn object(&mut self, doc: &Document) -> Result<Node> {
        let Some(first) = doc.keys().next() else { return Ok(Node::Object(Vec::new())) };
        if first.starts_with('$') {
            if doc.len() != 1 {
                let message = format!("An object representing an expression must have exactly one field: {doc}");
                return Err(Error::command(ErrorCode::Location15983, message));
            }
            return self.operator(first, &doc[first]);
        }
        let mut fields: Vec<(String, Node)> = Vec::with_capacity(doc.len());
        for (name, value) in doc {
            check_field_name(name)?;
            if fields.iter().any(|(seen, _)| seen == name) {
                let message = format!("duplicate field name specified in object literal: {doc}");
                return Err(Error::command(ErrorCode::Location16406, message));
            }
            fields.push((name.clone(), self.operand(value)?));
        }
        Ok(Node::Object(fields))
    }

    /// An operator expression `{name: argument}`.
    fn operator(&mut self, name: &str, argument: &Bson) -> Result<Node> {
        if name == "$literal" || name == "$const" {
            return Ok(Node::Const(argument.clone()));
        }
        if name == "$meta" {
            return self.meta(argument);
        }
        let Some(op) = operator(name) else {
            return Err(Error::command(
                ErrorCode::InvalidPipelineOperator,
                format!("Unrecognized expression '{name}'"),
            ));
        };
        match op.kind {
            Kind::Eager(arity, f) => {
                let args = self.arguments(argument)?;
                check_arity(op.name, arity, args.len())?;
                Ok(Node::Call(op.name, f, args))
            }
            Kind::Special(parse) => parse(self, argument),
        }
    }

    /// `{$meta: …}`: the text score; the other metadata MongoDB keeps (search
    /// scores, index keys, record ids) branchdb has not.
    fn meta(&mut self, argument: &Bson) -> Result<Node> {
        match argument {
            Bson::String(name) if name == "textScore" => {
                self.text_score = true;
                Ok(Node::TextScore)
            }
            Bson::String(name) if META_NAMES.contains(&name.as_str()) => {
                Err(Error::bad_value(format!("$meta of \"{name}\" is not supported")))
            }
            Bson::String(name) => {
                Err(Error::command(ErrorCode::Location17308, format!("Unsupported argument to $meta: {name}")))
            }
            _ => Err(Error::command(ErrorCode::Location17307, "$meta only supports string arguments")),
        }
    }

    /// The arguments of an operator: the elements of an array, or the one operand.
    fn arguments(&mut self, argument: &Bson) -> Result<Vec<Node>> {
        match argument {
            Bson::Array(items) => items.iter().map(|item| self.operand(item)).collect(),
            other => Ok(vec![self.operand(other)?]),
        }
    }

    /// A `$$name` or `$$name.path` reference.
    fn variable(&mut self, spec: &str) -> Result<Node> {
        let (name, rest) = spec.split_once('.').map_or((spec, None), |(n, r)| (n, Some(r)));
        let path = match rest {
            Some(rest) => field_path(spec, rest)?,
            None => Vec::new(),
        };
        match name {
            "ROOT" | "CURRENT" => return Ok(self.current(path)),
            "REMOVE" => return Ok(Node::Missing),
            "NOW" => return Ok(Node::Now),
            // `$redact`'s decisions.
            "KEEP" | "PRUNE" | "DESCEND" if path.is_empty() => {
                return Ok(Node::Const(Bson::String(name.to_lowercase())));
            }
            _ => {}
        }
        check_variable_name(name)?;
        if let Some((_, slot)) = self.scope.iter().rev().find(|(n, _)| n == name) {
            return Ok(Node::Var(*slot, path));
        }
        match self.command.get(name) {
            Some(value) => {
                Ok(value.and_then(|v| walk_value(v, &path)).map_or(Node::Missing, |v| Node::Const(v.into_owned())))
            }
            None => Err(Error::command(ErrorCode::Location17276, format!("Use of undefined variable: {name}"))),
        }
    }

    /// A path into the current document (the whole document for the empty path).
    fn current(&mut self, path: Vec<String>) -> Node {
        self.reads_document = true;
        Node::Current(path)
    }

    /// Brings a user variable into scope, returning its slot; the caller ends the
    /// scope with [`Parser::end_scope`].
    fn define(&mut self, name: &str) -> Result<usize> {
        check_variable_name(name)?;
        let slot = self.slots;
        self.slots += 1;
        self.scope.push((name.to_owned(), slot));
        Ok(slot)
    }

    /// How many variables are in scope: the mark [`Parser::end_scope`] goes back to.
    fn scope_mark(&self) -> usize {
        self.scope.len()
    }

    /// Ends the variables defined since `mark`.
    fn end_scope(&mut self, mark: usize) {
        self.scope.truncate(mark);
    }
}

/// The fields of a path like `a.b.c` (from `"$a.b.c"`, quoted in errors as `raw`).
fn field_path(raw: &str, path: &str) -> Result<Vec<String>> {
    if path.is_empty() {
        return Err(Error::command(ErrorCode::Location16872, "'$' by itself is not a valid FieldPath"));
    }
    path.split('.')
        .map(|field| {
            if field.is_empty() {
                Err(Error::command(ErrorCode::Location15998, "FieldPath field names may not be empty strings."))
            } else if field.starts_with('$') {
                Err(Error::command(
                    ErrorCode::Location16410,
                    format!(
                        "FieldPath field names may not start with '$'. Consider using $getField or $setField. ({raw})"
                    ),
                ))
            } else {
                Ok(field.to_owned())
            }
        })
        .collect()
}

/// Refuses a field name an object expression cannot have.
fn check_field_name(name: &str) -> Result<()> {
    if name.starts_with('$') {
        return Err(Error::command(
            ErrorCode::Location16410,
            format!("FieldPath field names may not start with '$'. Consider using $getField or $setField. ({name})"),
        ));
    }
    if name.contains('.') {
        return Err(Error::command(ErrorCode::Location16412, "FieldPath field names may not contain '.'."));
    }
    if name.is_empty() {
        return Err(Error::command(ErrorCode::Location15998, "FieldPath field names may not be empty strings."));
    }
    Ok(())
}

/// Refuses a user variable name that does not start with a lowercase letter.
fn check_variable_name(name: &str) -> Result<()> {
    let Some(first) = name.chars().next() else {
        return Err(Error::command(ErrorCode::FailedToParse, "empty variable names are not allowed"));
    };
    if first.is_ascii() && !first.is_ascii_lowercase() {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            format!("'{name}' starts with an invalid character for a user variable name"),
        ));
    }
    if let Some(bad) = name.chars().find(|c| !(c.is_alphanumeric() || *c == '_')) {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            format!("'{name}' contains an invalid character for a variable name: '{bad}'"),
        ));
    }
    Ok(())
}

/// Refuses an operator call with the wrong number of arguments.
fn check_arity(name: &str, arity: Arity, count: usize) -> Result<()> {
    match arity {
        Arity::Exactly(n) if count != n => Err(Error::command(
            ErrorCode::Location16020,
            format!("Expression {name} takes exactly {n} arguments. {count} were passed in."),
        )),
        Arity::Between(min, max) if count < min || count > max => Err(Error::command(
            ErrorCode::Location28667,
            format!("Expression {name} takes at least {min} arguments, and at most {max}, but {count} were passed in."),
        )),
        _ => Ok(()),
    }
}

/// What evaluation runs against: the root document and the variables' values.
pub(super) struct Ctx<'a> {
    root: &'a Document,
    vars: Vec<Val<'a>>,
    text_score: Option<f64>,
}

impl<'a> Ctx<'a> {
    /// Evaluates a node.
    pub(super) fn eval(&mut self, node: &Node) -> Result<Val<'a>> {
        match node {
            Node::Const(value) => Ok(Some(Cow::Owned(value.clone()))),
            Node::Missing => Ok(None),
            Node::Current(path) => Ok(walk_document(self.root, path)),
            Node::Var(slot, path) => Ok(self.variable(*slot, path)),
            Node::Now => Ok(Some(Cow::Owned(Bson::DateTime(bson::DateTime::now())))),
            Node::TextScore => match self.text_score {
                Some(score) => Ok(Some(Cow::Owned(Bson::Double(score)))),
                None => Err(crate::query::sort::no_text_score()),
            },
            Node::Object(fields) => {
                let mut out = Document::new();
                for (name, value) in fields {
                    if let Some(value) = self.eval(value)? {
                        out.insert(name.clone(), value.into_owned());
                    }
                }
                Ok(Some(Cow::Owned(Bson::Document(out))))
            }
            Node::Array(items) => {
                let items = items.iter().map(|item| Ok(self.eval(item)?.map_or(Bson::Null, Cow::into_owned)));
                Ok(Some(Cow::Owned(Bson::Array(items.collect::<Result<_>>()?))))
            }
            Node::Call(_, f, args) => {
                let values = args.iter().map(|arg| self.eval(arg)).collect::<Result<Vec<_>>>()?;
                let refs: Vec<Option<&Bson>> = values.iter().map(|v| v.as_deref()).collect();
                Ok(f(&refs)?.map(Cow::Owned))
            }
            Node::Special(special) => special.eval(self),
        }
    }

    /// Evaluates a node to an owned value (`None` for missing).
    pub(super) fn eval_owned(&mut self, node: &Node) -> Result<Option<Bson>> {
        Ok(self.eval(node)?.map(Cow::into_owned))
    }

    /// The document `$$ROOT` and `$$CURRENT` stand for.
    pub(super) fn root(&self) -> &'a Document {
        self.root
    }

    /// Binds a variable slot.
    pub(super) fn set(&mut self, slot: usize, value: Val<'a>) {
        if let Some(place) = self.vars.get_mut(slot) {
            *place = value;
        }
    }

    /// A variable's value, or a path into it.
    fn variable(&self, slot: usize, path: &[String]) -> Val<'a> {
        match self.vars.get(slot)? {
            Some(Cow::Borrowed(value)) => walk_value(value, path),
            Some(Cow::Owned(value)) => walk_value(value, path).map(|v| Cow::Owned(v.into_owned())),
            None => None,
        }
    }
}

/// The value a field path reaches in a document (`ExpressionFieldPath`): through
/// sub-documents, and through arrays of documents, where it collects the values
/// reached in each element; the empty path is the document itself.
fn walk_document<'v>(doc: &'v Document, path: &[String]) -> Option<Cow<'v, Bson>> {
    let Some((first, rest)) = path.split_first() else {
        return Some(Cow::Owned(Bson::Document(doc.clone())));
    };
    let value = doc.get(first)?;
    if rest.is_empty() {
        return Some(Cow::Borrowed(value));
    }
    match value {
        Bson::Document(inner) => walk_document(inner, rest),
        Bson::Array(items) => Some(Cow::Owned(walk_array(items, rest))),
        _ => None,
    }
}

/// The value a path reaches from a value (a variable's): the value itself for the
/// empty path.
fn walk_value<'v>(value: &'v Bson, path: &[String]) -> Option<Cow<'v, Bson>> {
    if path.is_empty() {
        return Some(Cow::Borrowed(value));
    }
    match value {
        Bson::Document(doc) => walk_document(doc, path),
        Bson::Array(items) => Some(Cow::Owned(walk_array(items, path))),
        _ => None,
    }
}

/// The values a path reaches in the documents of an array (other elements are
/// skipped, and so are documents where the path is missing).
fn walk_array(items: &[Bson], path: &[String]) -> Bson {
    let values = items.iter().filter_map(|item| match item {
        Bson::Document(doc) => walk_document(doc, path).map(Cow::into_owned),
        _ => None,
    });
    Bson::Array(values.collect())
}

/// Whether a value is null, undefined or missing.
pub(super) fn nullish(value: Option<&Bson>) -> bool {
    matches!(value, None | Some(Bson::Null | Bson::Undefined))
}

pub(super) use crate::value::truthy;

/// MongoDB's name for a value's type, as `$type` returns it.
pub(crate) use crate::value::type_name;

/// Compares two values in BSON order, where missing sorts with undefined, below
/// null and above MinKey.
pub(crate) fn compare(a: Option<&Bson>, b: Option<&Bson>) -> Ordering {
    /// Where a missing value sorts against a present one.
    fn missing_against(other: &Bson) -> Ordering {
        match other {
            Bson::Undefined => Ordering::Equal,
            Bson::MinKey => Ordering::Greater,
            _ => Ordering::Less,
        }
    }
    match (a, b) {
        (None, None) => Ordering::Equal,
        (None, Some(b)) => missing_against(b),
        (Some(a), None) => missing_against(a).reverse(),
        (Some(a), Some(b)) => order::compare(a, b),
    }
}

/// An error with a MongoDB location code.
pub(super) fn fail<T>(code: ErrorCode, message: impl Into<String>) -> Result<T> {
    Err(Error::command(code, message))
}

/// A value as MongoDB prints it in error messages (relaxed extended JSON).
pub(crate) fn show(value: Option<&Bson>) -> String {
    match value {
        None => "MISSING".to_owned(),
        Some(Bson::String(s)) => format!("\"{s}\""),
        Some(other) => other.to_string(),
    }
}

/// An integral number as an `i64` (an int, a long, or a double or decimal without
/// a fraction that fits), or `None`.
pub(super) fn integral(value: Option<&Bson>) -> Option<i64> {
    match value? {
        Bson::Int32(n) => Some(i64::from(*n)),
        Bson::Int64(n) => Some(*n),
        Bson::Double(d) => (d.fract() == 0.0 && d.abs() < 9.2e18).then_some(*d as i64),
        Bson::Decimal128(d) => {
            let d = decimal::to_f64(d);
            (d.fract() == 0.0 && d.abs() < 9.2e18).then_some(d as i64)
        }
        _ => None,
    }
}

/// Whether a value is a number.
pub(super) fn is_number(value: Option<&Bson>) -> bool {
    matches!(value, Some(Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_)))
}

/// A count or index as MongoDB returns it: an int.
pub(super) fn int(n: usize) -> Bson {
    i32::try_from(n).map_or(Bson::Int64(n as i64), Bson::Int32)
}

/// The metadata `$meta` knows in MongoDB 8.0.
const META_NAMES: &[&str] = &[
    "textScore",
    "randVal",
    "searchScore",
    "searchHighlights",
    "searchScoreDetails",
    "geoNearDistance",
    "geoNearPoint",
    "recordId",
    "indexKey",
    "sortKey",
    "vectorSearchScore",
];
