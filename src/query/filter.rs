//! Filters: MongoDB's query language, compiled once from its BSON form into a tree
//! of conditions and then evaluated against documents.
//!
//! The tree follows MongoDB's match expressions. A [`Node`] is a condition on a
//! whole document: a [`Test`] that some value reached by a path must pass (see
//! [`Path::any`] for how paths run through arrays), or a logical combination. The
//! negating operators (`$ne`, `$nin`, `$not`, `$exists: false`) negate the whole
//! path condition, so `{a: {$ne: 1}}` holds when *no* value of `a` equals 1.

use std::cmp::Ordering;

use bson::spec::ElementType;
use bson::{Bson, Document, RawBsonRef, RawDocument};
use regex::{Regex, RegexBuilder};

use super::expr::{Expr, Variables};
use super::path::{set_path, LeafArrays, Path};
use crate::error::{Error, ErrorCode, Result};
use crate::value::number::as_f64;
use crate::value::order;

/// A compiled filter: every condition must hold.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    conditions: Vec<Node>,
}

impl Filter {
    /// Compiles a filter; its `$expr` conditions may read `vars`, the command's
    /// variables.
    pub fn parse(filter: &Document, vars: &Variables) -> Result<Filter> {
        Ok(Filter { conditions: parse_document(filter, Level::Top(vars))? })
    }

    pub fn matches(&self, doc: &Document) -> bool {
        self.conditions.iter().all(|node| node.eval(doc, &mut None))
    }

    /// Whether a stored document certainly does not match, judged from its raw
    /// bytes without decoding it: some top-level condition on a top-level field
    /// fails on that field's value (a scalar, or missing). `false` means "decode and
    /// see", so scans decode only the documents that may match.
    pub fn rejects_raw(&self, doc: &RawDocument) -> bool {
        self.conditions.iter().any(|node| node.rejects_raw(doc))
    }

    /// The index of the array element through which `doc` matched: what the
    /// positional `$` of updates and projections refers to. `None` when the
    /// document does not match or matched through no array.
    pub fn matched_position(&self, doc: &Document) -> Option<usize> {
        let mut position = None;
        self.conditions.iter().all(|node| node.eval(doc, &mut position)).then_some(position).flatten()
    }

    /// The `_id` this filter pins, when one of its top-level conditions is an
    /// equality on `_id` with a plain value (not an array, a regular expression or
    /// a document of operators): a point lookup. The other conditions still have
    /// to be checked with [`Filter::matches`].
    pub fn id_equality(&self) -> Option<&Bson> {
        self.equalities().into_iter().find_map(|(path, value)| {
            let plain = match value {
                Bson::Array(_) | Bson::RegularExpression(_) => false,
                Bson::Document(d) => !d.keys().next().is_some_and(|k| k.starts_with('$')),
                _ => true,
            };
            (path == "_id" && plain).then_some(value)
        })
    }

    /// The equality conditions an upsert seeds its new document with: `{path: v}`,
    /// `{path: {$eq: v}}` and one-value `$in`, at the top level or inside a
    /// top-level `$and`. Paths may be dotted.
    pub fn equalities(&self) -> Vec<(&str, &Bson)> {
        let mut out = Vec::new();
        collect_equalities(&self.conditions, &mut out);
        out
    }

    /// The document an upsert starts from: the [equalities](Filter::equalities),
    /// dotted paths expanded into embedded documents. Two equalities on one path,
    /// or on a path and its prefix, are MongoDB's error 54.
    pub fn upsert_seed(&self) -> Result<Document> {
        let equalities = self.equalities();
        for (i, (path, _)) in equalities.iter().enumerate() {
            for (earlier, _) in &equalities[..i] {
                if path == earlier {
                    return Err(Error::command(
                        ErrorCode::NotSingleValueField,
                        format!("cannot infer query fields to set, path '{path}' is matched twice"),
                    ));
                }
                if is_prefix(earlier, path) || is_prefix(path, earlier) {
                    return Err(Error::command(
                        ErrorCode::NotSingleValueField,
                        format!("cannot infer query fields to set, both paths '{earlier}' and '{path}' are matched"),
                    ));
                }
            }
        }
        let mut seed = Document::new();
        for (path, value) in equalities {
            set_path(&mut seed, path, value.clone());
        }
        Ok(seed)
    }
}

/// A condition on the values of one path that an index can turn into ranges of
/// keys (see `query::plan`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Narrowing<'f> {
    Eq(&'f Bson),
    Gt(&'f Bson),
    Gte(&'f Bson),
    Lt(&'f Bson),
    Lte(&'f Bson),
    /// `$in` with values only (no regular expressions).
    In(&'f [Bson]),
    /// `$exists: true`.
    Exists,
}

impl Filter {
    /// The conditions every matching document satisfies (the top-level ones, and
    /// those inside a top-level `$and`) that an index can narrow, by path. The
    /// filter's other conditions still have to be checked.
    pub fn narrowings(&self) -> Vec<(&str, Narrowing<'_>)> {
        let mut out = Vec::new();
        collect_narrowings(&self.conditions, &mut out);
        out
    }
}

impl Filter {
    /// Whether the filter is a conjunction of conditions that each narrow a path:
    /// what a partial index's filter must be for a query to be known to imply it.
    pub fn only_narrowings(&self) -> bool {
        fn all(nodes: &[Node]) -> bool {
            nodes.iter().all(|node| match node {
                Node::Path { test: Test::Compare(..) | Test::Exists, .. } => true,
                Node::Path { test: Test::In(list), .. } => list.regexes.is_empty(),
                Node::And(children) => all(children),
                _ => false,
            })
        }
        all(&self.conditions)
    }
}

fn collect_narrowings<'f>(nodes: &'f [Node], out: &mut Vec<(&'f str, Narrowing<'f>)>) {
    for node in nodes {
        let (path, narrowing) = match node {
            Node::Path { path, test: Test::Compare(comparison, value) } => (
                path,
                match comparison {
                    Comparison::Eq => Narrowing::Eq(value),
                    Comparison::Gt => Narrowing::Gt(value),
                    Comparison::Gte => Narrowing::Gte(value),
                    Comparison::Lt => Narrowing::Lt(value),
                    Comparison::Lte => Narrowing::Lte(value),
                },
            ),
            Node::Path { path, test: Test::In(list) } if list.regexes.is_empty() => (path, Narrowing::In(&list.values)),
            Node::Path { path, test: Test::Exists } => (path, Narrowing::Exists),
            Node::And(children) => {
                collect_narrowings(children, out);
                continue;
            }
            _ => continue,
        };
        out.push((path.as_str(), narrowing));
    }
}

/// Whether `prefix` names a document that `path` runs through (`a` of `a.b`).
fn is_prefix(prefix: &str, path: &str) -> bool {
    path.strip_prefix(prefix).is_some_and(|rest| rest.starts_with('.'))
}

/// Adds the equalities among `nodes` (a conjunction) to `out`, descending into
/// nested conjunctions.
fn collect_equalities<'f>(nodes: &'f [Node], out: &mut Vec<(&'f str, &'f Bson)>) {
    for node in nodes {
        match node {
            Node::Path { path, test: Test::Compare(Comparison::Eq, value) } => out.push((path.as_str(), value)),
            Node::Path { path, test: Test::In(list) } if list.regexes.is_empty() && list.values.len() == 1 => {
                out.extend(list.values.first().map(|value| (path.as_str(), value)));
            }
            Node::And(children) => collect_equalities(children, out),
            _ => {}
        }
    }
}

/// A condition on a whole document.
#[derive(Debug, Clone)]
enum Node {
    /// Some value the path reaches passes the test.
    Path {
        path: Path,
        test: Test,
    },
    And(Vec<Node>),
    Or(Vec<Node>),
    Nor(Vec<Node>),
    Not(Box<Node>),
    /// An aggregation expression (`$expr`) whose value is truthy.
    Expr(Expr),
    /// `$alwaysTrue` and `$alwaysFalse`.
    Always(bool),
}

impl Node {
    /// See [`Filter::rejects_raw`].
    fn rejects_raw(&self, doc: &RawDocument) -> bool {
        match self {
            Node::Path { path, test } if !path.as_str().contains('.') => match doc.get(path.as_str()) {
                Ok(None) => !test.matches(None, &mut None),
                Ok(Some(RawBsonRef::Array(_) | RawBsonRef::Document(_))) | Err(_) => false,
                Ok(Some(raw)) => Bson::try_from(raw).is_ok_and(|value| !test.matches(Some(&value), &mut None)),
            },
            Node::And(children) => children.iter().any(|child| child.rejects_raw(doc)),
            _ => false,
        }
    }

    /// Whether `doc` satisfies this condition. A path condition that holds through
    /// an array element records the element's index in `position` (the last one
    /// recorded wins, as in MongoDB); the logical operators other than `$and` do
    /// not record positions.
    fn eval(&self, doc: &Document, position: &mut Option<usize>) -> bool {
        match self {
            Node::Path { path, test } => path.any(doc, test.leaf_arrays(), &mut |value, offset| {
                let mut inner = None;
                let found = test.matches(value, &mut inner);
                if let Some(at) = offset.or(inner).filter(|_| found) {
                    *position = Some(at);
                }
                found
            }),
            Node::And(children) => children.iter().all(|child| child.eval(doc, position)),
            Node::Or(children) => children.iter().any(|child| child.eval(doc, &mut None)),
            Node::Nor(children) => !children.iter().any(|child| child.eval(doc, &mut None)),
            Node::Not(child) => !child.eval(doc, &mut None),
            Node::Expr(expr) => expr.evaluate(doc).is_ok_and(|value| crate::value::truthy(Some(&value))),
            Node::Always(value) => *value,
        }
    }
}

/// What one operator of a field's operator document (`{$gt: 1}`) asks of a value.
#[derive(Debug, Clone)]
enum Clause {
    Test(Test),
    /// None of the clauses' conjunction: `$ne`, `$nin`, `$not`, `$exists: false`.
    Not(Vec<Clause>),
}

impl Clause {
    /// The clause as a condition on the values a path reaches.
    fn into_node(self, path: &Path) -> Node {
        match self {
            Clause::Test(test) => Node::Path { path: path.clone(), test },
            Clause::Not(clauses) => {
                Node::Not(Box::new(Node::And(clauses.into_iter().map(|c| c.into_node(path)).collect())))
            }
        }
    }

    /// Whether one value satisfies the clause, arrays taken as they are (the value
    /// form of `$elemMatch`).
    fn matches_value(&self, value: &Bson) -> bool {
        match self {
            Clause::Test(test) => test.matches(Some(value), &mut None),
            Clause::Not(clauses) => !clauses.iter().all(|c| c.matches_value(value)),
        }
    }
}

/// A test of one value a path reaches; `None` stands for a missing field.
#[derive(Debug, Clone)]
enum Test {
    Compare(Comparison, Bson),
    In(Box<InList>),
    Regex(Box<Pattern>),
    Exists,
    Type(TypeSet),
    Size(usize),
    Mod {
        divisor: i64,
        remainder: i64,
    },
    Bits(Box<BitTest>),
    /// An array with an element (document) matching the conditions.
    ElemMatchDocument(Box<Node>),
    /// An array with an element satisfying every clause.
    ElemMatchValue(Vec<Clause>),
    /// Matches nothing (`$all: []`).
    Never,
}

impl Test {
    /// Whether the test looks at an array a path ends at as a whole only.
    fn leaf_arrays(&self) -> LeafArrays {
        match self {
            Test::Size(_) | Test::ElemMatchDocument(_) | Test::ElemMatchValue(_) => LeafArrays::Whole,
            _ => LeafArrays::Traverse,
        }
    }

    /// Whether `value` passes; an `$elemMatch` records the matching element's
    /// index in `position`.
    fn matches(&self, value: Option<&Bson>, position: &mut Option<usize>) -> bool {
        match self {
            Test::Compare(comparison, operand) => comparison.holds(value.unwrap_or(&Bson::Undefined), operand),
            Test::In(list) => list.contains(value),
            Test::Regex(pattern) => value.is_some_and(|v| pattern.matches(v)),
            Test::Exists => value.is_some(),
            Test::Type(types) => value.is_some_and(|v| types.contains(v)),
            Test::Size(size) => matches!(value, Some(Bson::Array(items)) if items.len() == *size),
            Test::Mod { divisor, remainder } => {
                value.and_then(truncated).is_some_and(|dividend| dividend.wrapping_rem(*divisor) == *remainder)
            }
            Test::Bits(bits) => value.is_some_and(|v| bits.matches(v)),
            Test::ElemMatchDocument(node) => {
                let Some(Bson::Array(items)) = value else { return false };
                let found = items.iter().position(|item| match item {
                    Bson::Document(doc) => node.eval(doc, &mut None),
                    Bson::Array(inner) => node.eval(&array_as_document(inner), &mut None),
                    _ => false,
                });
                *position = found.or(*position);
                found.is_some()
            }
            Test::ElemMatchValue(clauses) => {
                let Some(Bson::Array(items)) = value else { return false };
                let found = items.iter().position(|item| clauses.iter().all(|c| c.matches_value(item)));
                *position = found.or(*position);
                found.is_some()
            }
            Test::Never => false,
        }
    }
}

/// An array seen as the document `{"0": .., "1": ..}`, as `$elemMatch` sees an
/// array nested in an array.
fn array_as_document(items: &[Bson]) -> Document {
    items.iter().enumerate().map(|(i, item)| (i.to_string(), item.clone())).collect()
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Comparison {
    Eq,
    Gt,
    Gte,
    Lt,
    Lte,
}

impl Comparison {
    /// Whether `value` compares to `operand` this way. Values of different
    /// canonical types never do, except that everything is above MinKey and below
    /// MaxKey; NaN is only equal to NaN.
    fn holds(self, value: &Bson, operand: &Bson) -> bool {
        if order::rank(value) != order::rank(operand) {
            return match operand {
                Bson::MinKey => matches!(self, Comparison::Gt | Comparison::Gte),
                Bson::MaxKey => matches!(self, Comparison::Lt | Comparison::Lte),
                _ => false,
            };
        }
        if self != Comparison::Eq && (is_nan(value) || is_nan(operand)) {
            return matches!(self, Comparison::Gte | Comparison::Lte) && is_nan(value) && is_nan(operand);
        }
        let order = order::compare(value, operand);
        match self {
            Comparison::Eq => order == Ordering::Equal,
            Comparison::Gt => order == Ordering::Greater,
            Comparison::Gte => order != Ordering::Less,
            Comparison::Lt => order == Ordering::Less,
            Comparison::Lte => order != Ordering::Greater,
        }
    }
}

/// Whether a value is a double or decimal NaN.
fn is_nan(value: &Bson) -> bool {
    match value {
        Bson::Double(d) => d.is_nan(),
        // Decimal128 NaNs have the combination field 11111 (bits 122..127 of the
        // little-endian bytes).
        Bson::Decimal128(d) => d.bytes()[15] & 0x7C == 0x7C,
        _ => false,
    }
}

/// The operand of `$in` and `$nin`: values (sorted for binary search) and patterns.
#[derive(Debug, Clone)]
struct InList {
    values: Vec<Bson>,
    regexes: Vec<Pattern>,
    /// Whether the list holds null, which also matches a missing field.
    has_null: bool,
}

impl InList {
    fn parse(operator: &str, operand: &Bson) -> Result<InList> {
        let Bson::Array(items) = operand else {
            return Err(Error::bad_value(format!("{operator} needs an array")));
        };
        let mut list = InList { values: Vec::new(), regexes: Vec::new(), has_null: false };
        for item in items {
            match item {
                Bson::Document(d) if is_operator_document(d, false) => {
                    return Err(Error::bad_value(format!("cannot nest $ under {operator}")))
                }
                Bson::RegularExpression(re) => list.regexes.push(Pattern::new(&re.pattern, &re.options)?),
                Bson::Undefined => return Err(Error::bad_value("InMatchExpression equality cannot be undefined")),
                other => {
                    list.has_null |= matches!(other, Bson::Null);
                    list.values.push(other.clone());
                }
            }
        }
        list.values.sort_by(order::compare);
        list.values.dedup_by(|a, b| order::compare(a, b) == Ordering::Equal);
        Ok(list)
    }

    fn contains(&self, value: Option<&Bson>) -> bool {
        let Some(value) = value else { return self.has_null };
        self.values.binary_search_by(|probe| order::compare(probe, value)).is_ok()
            || self.regexes.iter().any(|pattern| pattern.matches(value))
    }
}

/// A regular expression of a filter, with its source kept to match stored regexes.
#[derive(Debug, Clone)]
struct Pattern {
    regex: Regex,
    pattern: String,
    options: String,
}

impl Pattern {
    /// Compiles `pattern` with MongoDB's options `i`, `m`, `s`, `x` (and `u`,
    /// which changes nothing here).
    fn new(pattern: &str, options: &str) -> Result<Pattern> {
        if let Some(flag) = options.chars().find(|c| !"imsxu".contains(*c)) {
            return Err(Error::command(ErrorCode::Location51108, format!("invalid flag in regex options: {flag}")));
        }
        if pattern.contains('\0') {
            return Err(Error::bad_value("Regular expression cannot contain an embedded null byte"));
        }
        let regex = RegexBuilder::new(pattern)
            .case_insensitive(options.contains('i'))
            .multi_line(options.contains('m'))
            .dot_matches_new_line(options.contains('s'))
            .ignore_whitespace(options.contains('x'))
            .build()
            .map_err(|e| Error::command(ErrorCode::Location51091, format!("Regular expression is invalid: {e}")))?;
        Ok(Pattern { regex, pattern: pattern.to_owned(), options: options.to_owned() })
    }

    /// Strings and symbols match by the expression; a stored regular expression
    /// matches when it is the same one.
    fn matches(&self, value: &Bson) -> bool {
        match value {
            Bson::String(s) | Bson::Symbol(s) => self.regex.is_match(s),
            Bson::RegularExpression(re) => re.pattern == self.pattern && re.options == self.options,
            _ => false,
        }
    }
}

/// The types `$type` accepts.
#[derive(Debug, Clone, Default)]
struct TypeSet {
    /// The alias "number": doubles, 32- and 64-bit integers and decimals.
    numbers: bool,
    types: Vec<ElementType>,
}

impl TypeSet {
    fn parse(path: &str, operand: &Bson) -> Result<TypeSet> {
        let mut set = TypeSet::default();
        match operand {
            Bson::Array(items) => {
                for item in items {
                    set.add(item)?;
                }
                if items.is_empty() {
                    return Err(Error::command(
                        ErrorCode::FailedToParse,
                        format!("{path} must match at least one type"),
                    ));
                }
            }
            single => set.add(single)?,
        }
        Ok(set)
    }

    /// Adds a type given by alias or number.
    fn add(&mut self, spec: &Bson) -> Result<()> {
        match spec {
            Bson::String(alias) if alias == "number" => self.numbers = true,
            Bson::String(alias) => {
                let found = crate::value::type_by_alias(alias)
                    .ok_or_else(|| Error::bad_value(format!("Unknown type name alias: {alias}")))?;
                self.types.push(found);
            }
            number if as_f64(number).is_some() => {
                let code = integer(number).and_then(|c| match c {
                    -1 => Some(ElementType::MinKey),
                    1..=127 => u8::try_from(c).ok().and_then(ElementType::from),
                    _ => None,
                });
                let invalid = || Error::bad_value(format!("Invalid numerical type code: {}", show_number(number)));
                self.types.push(code.ok_or_else(invalid)?);
            }
            _ => return Err(Error::type_mismatch("type must be represented as a number or a string")),
        }
        Ok(())
    }

    fn contains(&self, value: &Bson) -> bool {
        (self.numbers && as_f64(value).is_some()) || self.types.contains(&value.element_type())
    }
}

/// The bitwise operators.
#[derive(Debug, Clone, Copy)]
enum BitOp {
    AllSet,
    AllClear,
    AnySet,
    AnyClear,
}

/// A bitwise test: the bit positions, and the same as a 64-bit mask for numbers
/// (positions past 63 test the sign bit, as numbers are sign-extended).
#[derive(Debug, Clone)]
struct BitTest {
    op: BitOp,
    positions: Vec<u64>,
    mask: u64,
}

impl BitTest {
    fn parse(operator: &str, op: BitOp, operand: &Bson) -> Result<BitTest> {
        let positions: Vec<u64> = match operand {
            Bson::Array(items) => items.iter().map(bit_position).collect::<Result<_>>()?,
            Bson::Binary(binary) => (0..binary.bytes.len() as u64 * 8)
                .filter(|bit| binary.bytes[(bit / 8) as usize] & (1 << (bit % 8)) != 0)
                .collect(),
            number if as_f64(number).is_some() => {
                let mask = integer(number).ok_or_else(|| {
                    Error::command(ErrorCode::FailedToParse, format!("Expected an integer: {operator}: {number}"))
                })?;
                if mask < 0 {
                    return Err(Error::command(
                        ErrorCode::FailedToParse,
                        format!("Expected a positive number in: {operator}: {number}"),
                    ));
                }
                (0..64).filter(|bit| mask & (1 << bit) != 0).collect()
            }
            other => {
                return Err(Error::bad_value(format!(
                    "{operator} takes an Array, a number, or a BinData but received: {operator}: {other}"
                )))
            }
        };
        let mask = positions.iter().fold(0u64, |mask, p| mask | 1 << (*p).min(63));
        Ok(BitTest { op, positions, mask })
    }

    fn matches(&self, value: &Bson) -> bool {
        if let Bson::Binary(binary) = value {
            let is_set = |p: &u64| binary.bytes.get((p / 8) as usize).is_some_and(|byte| byte & (1 << (p % 8)) != 0);
            return match self.op {
                BitOp::AllSet => self.positions.iter().all(is_set),
                BitOp::AllClear => !self.positions.iter().any(is_set),
                BitOp::AnySet => self.positions.iter().any(is_set),
                BitOp::AnyClear => !self.positions.iter().all(is_set),
            };
        }
        // Numbers must be integral and fit in 64 bits.
        let Some(bits) = integer(value).map(|n| n as u64) else { return false };
        match self.op {
            BitOp::AllSet => bits & self.mask == self.mask,
            BitOp::AllClear => !bits & self.mask == self.mask,
            BitOp::AnySet => bits & self.mask != 0,
            BitOp::AnyClear => !bits & self.mask != 0,
        }
    }
}

/// One bit position of a `$bits...` array: a non-negative 32-bit integer.
fn bit_position(item: &Bson) -> Result<u64> {
    let position =
        integer(item).ok_or_else(|| Error::bad_value(format!("bit positions must be an integer but got: {item}")))?;
    if i32::try_from(position).is_err() {
        return Err(Error::bad_value(format!(
            "bit positions cannot be represented as a 32-bit signed integer: {item}"
        )));
    }
    u64::try_from(position).map_err(|_| Error::bad_value(format!("bit positions must be >= 0 but got: {item}")))
}

/// A number that is an integer fitting in 64 bits; `None` for fractions, NaN,
/// numbers out of range and other types.
fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        other => as_f64(other).filter(|f| f.fract() == 0.0 && in_i64_range(*f)).map(|f| f as i64),
    }
}

/// A number rounded toward zero to a 64-bit integer, as `$mod` takes its dividend.
fn truncated(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        other => as_f64(other).map(f64::trunc).filter(|f| in_i64_range(*f)).map(|f| f as i64),
    }
}

/// Whether a (finite, whole) double converts to i64 exactly: -2^63 <= f < 2^63.
fn in_i64_range(f: f64) -> bool {
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
}

/// A number as MongoDB prints it in messages: whole numbers without a fraction.
fn show_number(value: &Bson) -> String {
    match as_f64(value) {
        Some(f) if f.fract() == 0.0 && in_i64_range(f) => (f as i64).to_string(),
        Some(f) => f.to_string(),
        None => value.to_string(),
    }
}

/// Where a document being parsed sits: the filter itself, with the command's
/// variables its `$expr` may read, or a document inside `$elemMatch` (where
/// `$expr` and `$text` are refused).
#[derive(Debug, Clone, Copy)]
enum Level<'v> {
    Top(&'v Variables),
    Nested,
}

/// Parses a filter document into the conjunction of its conditions.
fn parse_document(filter: &Document, level: Level<'_>) -> Result<Vec<Node>> {
    let mut nodes = Vec::new();
    for (key, value) in filter {
        if key.starts_with('$') {
            nodes.extend(parse_top_operator(key, value, level)?);
            continue;
        }
        let path = Path::new(key);
        match value {
            Bson::Document(operators) if is_operator_document(operators, false) => {
                let clauses = parse_operators(key, operators)?;
                nodes.extend(clauses.into_iter().map(|clause| clause.into_node(&path)));
            }
            Bson::RegularExpression(re) => {
                nodes.push(Node::Path { path, test: Test::Regex(Box::new(Pattern::new(&re.pattern, &re.options)?)) })
            }
            _ => nodes.push(Node::Path { path, test: equality(value)? }),
        }
    }
    Ok(nodes)
}

/// Parses an operator that stands in place of a field (`$and`, `$expr`, ...);
/// `None` for those that add no condition (`$comment`).
fn parse_top_operator(key: &str, value: &Bson, level: Level<'_>) -> Result<Option<Node>> {
    let node = match key {
        "$and" => Node::And(parse_list(key, value, level)?.into_iter().flatten().collect()),
        "$or" => Node::Or(parse_list(key, value, level)?.into_iter().map(Node::And).collect()),
        "$nor" => Node::Nor(parse_list(key, value, level)?.into_iter().map(Node::And).collect()),
        "$expr" => match level {
            Level::Top(vars) => Node::Expr(Expr::parse(value, vars)?),
            Level::Nested => return Err(Error::bad_value("$expr can only be applied to the top-level document")),
        },
        "$comment" => return Ok(None),
        "$alwaysTrue" | "$alwaysFalse" => {
            if integer(value) != Some(1) {
                return Err(Error::command(ErrorCode::FailedToParse, format!("{key} must be an integer value of 1")));
            }
            Node::Always(key == "$alwaysTrue")
        }
        // The fields of a DBRef, matched inside `$elemMatch`.
        "$ref" | "$id" | "$db" => Node::Path { path: Path::new(key), test: equality(value)? },
        "$text" if matches!(level, Level::Nested) => {
            return Err(Error::bad_value("$text can only be applied to the top-level document"))
        }
        "$text" => return Err(Error::command(ErrorCode::IndexNotFound, "text index required for $text query")),
        "$where" => return Err(Error::bad_value("$where is not allowed in this context")),
        "$jsonSchema" => return Err(Error::bad_value("$jsonSchema is not supported")),
        _ => return Err(Error::bad_value(format!("unknown top level operator: {key}"))),
    };
    Ok(Some(node))
}

/// Whether `key` is one of the operators that stand in place of a field.
fn is_top_operator(key: &str) -> bool {
    matches!(
        key,
        "$and"
            | "$or"
            | "$nor"
            | "$expr"
            | "$comment"
            | "$alwaysTrue"
            | "$alwaysFalse"
            | "$text"
            | "$where"
            | "$jsonSchema"
    )
}

/// Parses the array of filters of `$and`, `$or` or `$nor`.
fn parse_list(operator: &str, value: &Bson, level: Level<'_>) -> Result<Vec<Vec<Node>>> {
    let Bson::Array(items) = value else {
        return Err(Error::bad_value(format!("{operator} must be an array")));
    };
    if items.is_empty() {
        return Err(Error::bad_value("$and/$or/$nor must be a nonempty array"));
    }
    items
        .iter()
        .map(|item| match item {
            Bson::Document(filter) => parse_document(filter, level),
            _ => Err(Error::bad_value("$or/$and/$nor entries need to be full objects")),
        })
        .collect()
}

/// Whether a field's value is a document of operators (`{$gt: 1}`) rather than a
/// value to compare with: its first field starts with `$` and it is not a DBRef
/// (`{$ref, $id}`; with `incomplete_dbrefs`, any of `$ref`, `$id`, `$db`).
fn is_operator_document(doc: &Document, incomplete_dbrefs: bool) -> bool {
    let Some(first) = doc.keys().next() else { return false };
    let has = |key: &str| doc.contains_key(key);
    let dbref = if incomplete_dbrefs { has("$ref") || has("$id") || has("$db") } else { has("$ref") && has("$id") };
    first.starts_with('$') && !dbref
}

/// Parses a field's operator document (`{$gt: 1, $lt: 5}`) into its clauses.
fn parse_operators(path: &str, operators: &Document) -> Result<Vec<Clause>> {
    let mut clauses = Vec::new();
    for (operator, operand) in operators {
        let test = |t| Clause::Test(t);
        let clause = match operator.as_str() {
            "$eq" => test(equality(operand)?),
            "$gt" => test(comparison(Comparison::Gt, path, operand)?),
            "$gte" => test(comparison(Comparison::Gte, path, operand)?),
            "$lt" => test(comparison(Comparison::Lt, path, operand)?),
            "$lte" => test(comparison(Comparison::Lte, path, operand)?),
            "$ne" if matches!(operand, Bson::RegularExpression(_)) => {
                return Err(Error::bad_value("Can't have regex as arg to $ne."))
            }
            "$ne" => Clause::Not(vec![test(equality(operand)?)]),
            "$in" => test(Test::In(Box::new(InList::parse(operator, operand)?))),
            "$nin" => Clause::Not(vec![test(Test::In(Box::new(InList::parse(operator, operand)?)))]),
            "$exists" if crate::value::truthy(Some(operand)) => test(Test::Exists),
            "$exists" => Clause::Not(vec![test(Test::Exists)]),
            "$type" => test(Test::Type(TypeSet::parse(path, operand)?)),
            "$size" => test(Test::Size(size(operand)?)),
            "$mod" => test(modulo(operand)?),
            "$regex" => test(Test::Regex(Box::new(regex_document(operators)?))),
            "$options" if operators.contains_key("$regex") => continue,
            "$options" => return Err(Error::bad_value("$options needs a $regex")),
            "$elemMatch" => test(elem_match(operand)?),
            "$all" => {
                clauses.extend(all(operand)?);
                continue;
            }
            "$not" => Clause::Not(not(path, operand)?),
            "$bitsAllSet" => test(Test::Bits(Box::new(BitTest::parse(operator, BitOp::AllSet, operand)?))),
            "$bitsAllClear" => test(Test::Bits(Box::new(BitTest::parse(operator, BitOp::AllClear, operand)?))),
            "$bitsAnySet" => test(Test::Bits(Box::new(BitTest::parse(operator, BitOp::AnySet, operand)?))),
            "$bitsAnyClear" => test(Test::Bits(Box::new(BitTest::parse(operator, BitOp::AnyClear, operand)?))),
            "$near" | "$nearSphere" | "$geoNear" => {
                return Err(Error::command(
                    ErrorCode::NoQueryExecutionPlans,
                    "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query",
                ))
            }
            "$geoWithin" | "$geoIntersects" | "$within" => {
                return Err(Error::bad_value(format!("{operator} is not supported")))
            }
            "$where" => return Err(Error::bad_value("$where cannot be applied to a field")),
            _ => return Err(Error::bad_value(format!("unknown operator: {operator}"))),
        };
        clauses.push(clause);
    }
    Ok(clauses)
}

/// Equality with a value (`{a: v}`, `{$eq: v}`); a regular expression here is
/// compared as a value.
fn equality(operand: &Bson) -> Result<Test> {
    if matches!(operand, Bson::Undefined) {
        return Err(Error::bad_value("cannot compare to undefined"));
    }
    Ok(Test::Compare(Comparison::Eq, operand.clone()))
}

/// `$gt`, `$gte`, `$lt` or `$lte`.
fn comparison(op: Comparison, path: &str, operand: &Bson) -> Result<Test> {
    if matches!(operand, Bson::RegularExpression(_)) {
        return Err(Error::bad_value(format!("Can't have RegEx as arg to predicate over field '{path}'.")));
    }
    equality(operand).map(|_| Test::Compare(op, operand.clone()))
}

/// The operand of `$size`: a non-negative whole number.
fn size(operand: &Bson) -> Result<usize> {
    let size = match operand {
        Bson::Int32(i) => i64::from(*i),
        Bson::Int64(i) => i64::from(
            i32::try_from(*i).map_err(|_| Error::bad_value("$size must be representable as a 32-bit integer"))?,
        ),
        Bson::Double(d) if d.fract() == 0.0 && (f64::from(i32::MIN)..=f64::from(i32::MAX)).contains(d) => *d as i64,
        Bson::Double(_) => return Err(Error::bad_value("$size must be a whole number")),
        _ => return Err(Error::bad_value("$size needs a number")),
    };
    usize::try_from(size).map_err(|_| Error::bad_value("$size may not be negative"))
}

/// `$mod: [divisor, remainder]`.
fn modulo(operand: &Bson) -> Result<Test> {
    let Bson::Array(items) = operand else {
        return Err(Error::bad_value("malformed mod, needs to be an array"));
    };
    let not_enough = || Error::bad_value("malformed mod, not enough elements");
    let mut items = items.iter();
    let divisor = items.next().ok_or_else(not_enough)?;
    if as_f64(divisor).is_none() {
        return Err(Error::bad_value("malformed mod, divisor not a number"));
    }
    let remainder = items.next().ok_or_else(not_enough)?;
    if as_f64(remainder).is_none() {
        return Err(Error::bad_value("malformed mod, remainder not a number"));
    }
    if items.next().is_some() {
        return Err(Error::bad_value("malformed mod, too many elements"));
    }
    let (divisor, remainder) = (mod_argument("divisor", divisor)?, mod_argument("remainder", remainder)?);
    if divisor == 0 {
        return Err(Error::bad_value("divisor cannot be 0"));
    }
    Ok(Test::Mod { divisor, remainder })
}

/// A `$mod` argument, rounded toward zero to a 64-bit integer.
fn mod_argument(name: &str, value: &Bson) -> Result<i64> {
    let invalid = |why: &str| Error::bad_value(format!("malformed mod, {name} value is invalid :: caused by :: {why}"));
    if as_f64(value).is_some_and(|f| !f.is_finite()) {
        return Err(invalid("Unable to coerce NaN/Inf to integral type"));
    }
    truncated(value).ok_or_else(|| invalid("Out of bounds coercing to integral value"))
}

/// The pattern of an operator document with `$regex` (and maybe `$options`).
fn regex_document(operators: &Document) -> Result<Pattern> {
    let (mut pattern, mut options) = ("", "");
    for (key, value) in operators {
        match (key.as_str(), value) {
            ("$regex", Bson::String(s)) => pattern = s,
            ("$regex", Bson::RegularExpression(re)) => {
                pattern = &re.pattern;
                if !re.options.is_empty() {
                    if !options.is_empty() {
                        return Err(Error::command(
                            ErrorCode::Location51074,
                            "options set in both $regex and $options",
                        ));
                    }
                    options = &re.options;
                }
            }
            ("$regex", _) => return Err(Error::bad_value("$regex has to be a string")),
            ("$options", Bson::String(s)) => {
                if !options.is_empty() {
                    return Err(Error::command(ErrorCode::Location51075, "options set in both $regex and $options"));
                }
                options = s;
            }
            ("$options", _) => return Err(Error::bad_value("$options has to be a string")),
            _ => {}
        }
    }
    Pattern::new(pattern, options)
}

/// `$elemMatch`: the value form (`{$gt: 1}`, conditions on each element) or the
/// document form (`{a: 1}`, a filter for each element).
fn elem_match(operand: &Bson) -> Result<Test> {
    let Bson::Document(spec) = operand else {
        return Err(Error::bad_value("$elemMatch needs an Object"));
    };
    let value_form = is_operator_document(spec, true) && spec.keys().next().is_some_and(|k| !is_top_operator(k));
    if value_form {
        return Ok(Test::ElemMatchValue(parse_operators("", spec)?));
    }
    Ok(Test::ElemMatchDocument(Box::new(Node::And(parse_document(spec, Level::Nested)?))))
}

/// `$all`: every listed value (or `$elemMatch`) matches.
fn all(operand: &Bson) -> Result<Vec<Clause>> {
    let Bson::Array(items) = operand else {
        return Err(Error::bad_value("$all needs an array"));
    };
    let first_key = |item: &Bson| match item {
        Bson::Document(d) => d.keys().next().cloned(),
        _ => None,
    };
    if items.first().and_then(first_key).as_deref() == Some("$elemMatch") {
        return items
            .iter()
            .map(|item| match item {
                Bson::Document(d) if first_key(item).as_deref() == Some("$elemMatch") => {
                    elem_match(d.get("$elemMatch").unwrap_or(&Bson::Null)).map(Clause::Test)
                }
                _ => Err(Error::bad_value("$all/$elemMatch has to be consistent")),
            })
            .collect();
    }
    if items.is_empty() {
        return Ok(vec![Clause::Test(Test::Never)]);
    }
    items
        .iter()
        .map(|item| match item {
            Bson::RegularExpression(re) => {
                Ok(Clause::Test(Test::Regex(Box::new(Pattern::new(&re.pattern, &re.options)?))))
            }
            Bson::Document(d) if is_operator_document(d, false) => Err(Error::bad_value("no $ expressions in $all")),
            value => equality(value).map(Clause::Test),
        })
        .collect()
}

/// The operand of `$not`: a regular expression or a document of operators.
fn not(path: &str, operand: &Bson) -> Result<Vec<Clause>> {
    match operand {
        Bson::RegularExpression(re) => {
            Ok(vec![Clause::Test(Test::Regex(Box::new(Pattern::new(&re.pattern, &re.options)?)))])
        }
        Bson::Document(d) if d.is_empty() => Err(Error::bad_value("$not cannot be empty")),
        Bson::Document(d) => parse_operators(path, d),
        _ => Err(Error::bad_value("$not needs a regex or a document")),
    }
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson, Document};

    use super::*;

    fn filter(spec: Document) -> Filter {
        Filter::parse(&spec, &Variables::none()).expect("filter parses")
    }

    fn error_code(spec: Document) -> i32 {
        Filter::parse(&spec, &Variables::none()).expect_err("filter is refused").code().code()
    }

    /// Runs every case of `golden/filters.json`: a case holds a filter and either
    /// the `_id`s of the group's documents it matches (in collection order, with
    /// the matched array positions when `positions` is given) or the error code it
    /// is refused with.
    #[test]
    fn golden_filters() {
        let groups = crate::query::golden::load(include_str!("golden/filters.json"));
        let (mut total, mut failures) = (0, Vec::new());
        for group in &groups {
            let documents: Vec<Document> = group
                .body
                .get_array("documents")
                .expect("a group has documents")
                .iter()
                .map(|d| d.as_document().expect("documents are objects").clone())
                .collect();
            for (index, case) in group.body.get_array("cases").expect("a group has cases").iter().enumerate() {
                total += 1;
                let case = case.as_document().expect("a case is an object");
                let spec = case.get_document("filter").expect("a case has a filter");
                let got = match Filter::parse(spec, &Variables::none()) {
                    Err(e) => Bson::from(doc! {"error": e.code().code()}),
                    Ok(f) => {
                        let matched: Vec<&Document> = documents.iter().filter(|d| f.matches(d)).collect();
                        let ids: Vec<Bson> =
                            matched.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
                        let mut got = doc! {"expect": ids};
                        if case.contains_key("positions") {
                            let positions: Vec<Bson> = matched
                                .iter()
                                .map(|d| f.matched_position(d).map_or(Bson::Null, |p| Bson::Int32(p as i32)))
                                .collect();
                            got.insert("positions", positions);
                        }
                        Bson::from(got)
                    }
                };
                let mut expected = case.clone();
                expected.remove("filter");
                if let Some(code) = expected.get("error").cloned() {
                    expected.insert("error", Bson::Int32(code.as_i32().expect("error codes are ints")));
                }
                if got != Bson::from(expected.clone()) {
                    failures.push(format!(
                        "{} #{index} ({}): {spec}\n  got      {got}\n  expected {expected}",
                        group.name, group.doc
                    ));
                }
            }
        }
        assert!(failures.is_empty(), "{} of {total} golden cases failed:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(total, 288, "the number of golden cases");
    }

    #[test]
    fn default_filter_matches_everything() {
        let f = Filter::default();
        assert!(f.matches(&doc! {}));
        assert!(f.matches(&doc! {"a": 1}));
        assert!(filter(doc! {}).matches(&doc! {"a": 1}));
    }

    #[test]
    fn missing_and_null() {
        let f = filter(doc! {"a.b": null});
        assert!(f.matches(&doc! {}), "missing parent");
        assert!(f.matches(&doc! {"a": 5}), "a scalar where the path goes on counts as missing");
        assert!(f.matches(&doc! {"a": [{"c": 1}]}), "an element without the field");
        assert!(!f.matches(&doc! {"a": [1, 2]}), "scalars in an array reach nothing");
        assert!(!f.matches(&doc! {"a": []}));
        assert!(f.matches(&doc! {"a": {"b": Bson::Undefined}}), "undefined equals null");
        assert!(!filter(doc! {"a": {"$ne": null}}).matches(&doc! {"a": [null, 1]}));
        assert!(filter(doc! {"a": {"$gte": null}}).matches(&doc! {}));
        assert!(!filter(doc! {"a": {"$lt": null}}).matches(&doc! {}));
    }

    #[test]
    fn missing_fields_against_min_and_max_key() {
        assert!(filter(doc! {"a": {"$gt": Bson::MinKey}}).matches(&doc! {}));
        assert!(filter(doc! {"a": {"$lte": Bson::MaxKey}}).matches(&doc! {}));
        assert!(!filter(doc! {"a": Bson::MinKey}).matches(&doc! {}));
        assert!(!filter(doc! {"a": {"$gt": 5}}).matches(&doc! {}));
    }

    #[test]
    fn nan_is_only_equal_to_nan() {
        let nan = doc! {"a": f64::NAN};
        assert!(filter(doc! {"a": f64::NAN}).matches(&nan));
        assert!(filter(doc! {"a": {"$gte": f64::NAN}}).matches(&nan));
        assert!(!filter(doc! {"a": {"$lt": 5}}).matches(&nan), "NaN is below numbers when sorting, not in $lt");
        assert!(!filter(doc! {"a": {"$gt": f64::NAN}}).matches(&doc! {"a": 5}));
    }

    #[test]
    fn numeric_path_parts_and_nested_arrays() {
        assert!(filter(doc! {"a.0.b": 1}).matches(&doc! {"a": [{"b": 1}]}));
        assert!(filter(doc! {"a.0.b": 1}).matches(&doc! {"a": [[{"b": 1}]]}), "a numeric part enters a nested array");
        assert!(!filter(doc! {"a.b": 1}).matches(&doc! {"a": [[{"b": 1}]]}), "no implicit descent into nested arrays");
        assert!(filter(doc! {"a.0": 1}).matches(&doc! {"a": {"0": 1}}), "a numeric part also names a field");
        assert!(filter(doc! {"a.0": 1}).matches(&doc! {"a": [{"0": 1}]}));
        assert!(!filter(doc! {"a.01": 1}).matches(&doc! {"a": [5, 1]}), "only canonical numbers are positions");
        assert!(!filter(doc! {"a": 1}).matches(&doc! {"a": [[1]]}), "only one level of elements");
        assert!(filter(doc! {"a": [1]}).matches(&doc! {"a": [[1]]}));
        assert!(filter(doc! {"a.b.c": 3}).matches(&doc! {"a": [{"b": [{"c": 1}, {"c": 3}]}]}));
    }

    #[test]
    fn negations_cover_every_value() {
        let doc = doc! {"a": [1, 2]};
        assert!(!filter(doc! {"a": {"$ne": 1}}).matches(&doc));
        assert!(!filter(doc! {"a": {"$nin": [2, 5]}}).matches(&doc));
        assert!(filter(doc! {"a": {"$not": {"$gt": 5}}}).matches(&doc));
        assert!(!filter(doc! {"a": {"$not": {"$gt": 1}}}).matches(&doc));
        assert!(filter(doc! {"a.b": {"$exists": false}}).matches(&doc));
    }

    #[test]
    fn elem_match_on_nested_arrays_and_dbrefs() {
        assert!(filter(doc! {"a": {"$elemMatch": {"0": 1}}}).matches(&doc! {"a": [[1, 2]]}));
        assert!(filter(doc! {"a": {"$elemMatch": {"$elemMatch": {"$gt": 1}}}}).matches(&doc! {"a": [[0, 2]]}));
        let refs = doc! {"a": [{"$ref": "c", "$id": 1}, {"$ref": "c", "$id": 2}]};
        assert!(filter(doc! {"a": {"$elemMatch": {"$ref": "c", "$id": 2}}}).matches(&refs));
        assert!(filter(doc! {"a": {"$ref": "c", "$id": 2}}).matches(&refs), "a DBRef is a value, not operators");
    }

    #[test]
    fn regex_semantics() {
        assert!(filter(doc! {"a": {"$regex": "^b"}}).matches(&doc! {"a": Bson::Symbol("bee".into())}));
        assert!(!filter(doc! {"a": {"$regex": "1"}}).matches(&doc! {"a": 1}));
        assert!(filter(doc! {"a": {"$in": [bson::Regex { pattern: "x".into(), options: "".into() }]}})
            .matches(&doc! {"a": bson::Regex { pattern: "x".into(), options: "".into() }}));
        assert_eq!(error_code(doc! {"a": {"$regex": "a", "$options": "q"}}), 51108);
        let err = Filter::parse(&doc! {"a": {"$regex": "("}}, &Variables::none()).expect_err("invalid");
        assert!(err.to_string().contains("Regular expression is invalid"), "{err}");
    }

    #[test]
    fn error_messages_read_like_mongodbs() {
        let message = |spec: Document| match Filter::parse(&spec, &Variables::none()) {
            Err(Error::Command { message, .. }) => message,
            other => panic!("expected a command error, got {other:?}"),
        };
        assert_eq!(message(doc! {"$foo": 1}), "unknown top level operator: $foo");
        assert_eq!(message(doc! {"a": {"$foo": 1}}), "unknown operator: $foo");
        assert_eq!(message(doc! {"a": {"$in": 1}}), "$in needs an array");
        assert_eq!(message(doc! {"a": {"$nin": 1}}), "$nin needs an array");
        assert_eq!(message(doc! {"a": {"$all": 1}}), "$all needs an array");
        assert_eq!(message(doc! {"$or": []}), "$and/$or/$nor must be a nonempty array");
        assert_eq!(message(doc! {"a": {"$size": "x"}}), "$size needs a number");
        assert_eq!(message(doc! {"a": {"$type": "foo"}}), "Unknown type name alias: foo");
        assert_eq!(message(doc! {"a": {"$mod": [1]}}), "malformed mod, not enough elements");
        assert_eq!(
            message(doc! {"a": {"$mod": [f64::NAN, 1]}}),
            "malformed mod, divisor value is invalid :: caused by :: Unable to coerce NaN/Inf to integral type"
        );
        assert_eq!(message(doc! {"a": {"$elemMatch": 1}}), "$elemMatch needs an Object");
        assert_eq!(message(doc! {"a": {"$not": 1}}), "$not needs a regex or a document");
        assert_eq!(message(doc! {"a": {"$regex": 1}}), "$regex has to be a string");
        assert_eq!(message(doc! {"a": {"$options": "i"}}), "$options needs a $regex");
        assert_eq!(message(doc! {"a": Bson::Undefined}), "cannot compare to undefined");
    }

    #[test]
    fn expr_is_false_when_evaluation_fails() {
        // Whatever `$expr` evaluates to, {$eq: [1, 2]} is false; an evaluation
        // error makes the document not match instead of failing the query.
        assert!(!filter(doc! {"$expr": {"$eq": [1, 2]}}).matches(&doc! {"a": 1}));
    }

    #[test]
    fn id_equality_is_a_point_lookup_only() {
        assert_eq!(filter(doc! {"_id": 5, "a": 1}).id_equality(), Some(&Bson::Int32(5)));
        assert_eq!(filter(doc! {"_id": {"$eq": "x"}}).id_equality(), Some(&Bson::String("x".into())));
        assert_eq!(filter(doc! {"$and": [{"_id": 7}]}).id_equality(), Some(&Bson::Int32(7)));
        assert_eq!(filter(doc! {"_id": {"a": 1}}).id_equality(), Some(&Bson::Document(doc! {"a": 1})));
        assert_eq!(filter(doc! {"_id": [1, 2]}).id_equality(), None);
        assert_eq!(filter(doc! {"_id": {"$gt": 1}}).id_equality(), None);
        assert_eq!(filter(doc! {"_id": {"$in": [1, 2]}}).id_equality(), None);
        assert_eq!(filter(doc! {"_id": {"$ne": 1}}).id_equality(), None);
        assert_eq!(filter(doc! {"_id": {"$eq": {"$gt": 1}}}).id_equality(), None);
        assert_eq!(filter(doc! {"$or": [{"_id": 1}]}).id_equality(), None);
        let regex = bson::Regex { pattern: "x".into(), options: "".into() };
        assert_eq!(filter(doc! {"_id": regex.clone()}).id_equality(), None);
        assert_eq!(filter(doc! {"_id": {"$eq": regex}}).id_equality(), None);
        assert_eq!(filter(doc! {"a._id": 1}).id_equality(), None);
    }

    #[test]
    fn upsert_seed_takes_equalities() {
        let seed = filter(doc! {
            "a": 1, "b.c": {"$eq": 2}, "d": {"$gt": 3}, "e": {"$in": [4]}, "f": {"$in": [5, 6]},
            "$and": [{"g": 7}, {"b.d": 8}], "$or": [{"h": 9}], "i": {"$regex": "x"},
        })
        .upsert_seed()
        .expect("seed");
        assert_eq!(seed, doc! {"a": 1, "b": {"c": 2, "d": 8}, "e": 4, "g": 7});
        assert_eq!(filter(doc! {"a": 1, "$and": [{"a": 2}]}).upsert_seed().expect_err("twice").code().code(), 54);
        assert_eq!(filter(doc! {"a": 1, "a.b": 2}).upsert_seed().expect_err("prefix").code().code(), 54);
        assert!(filter(doc! {"a": 1, "ab": 2}).upsert_seed().is_ok());
    }

    #[test]
    fn matched_position_prefers_the_outer_array() {
        let doc = doc! {"a": [{"b": [1, 2]}, {"b": [3, 4]}]};
        assert_eq!(filter(doc! {"a.b": 4}).matched_position(&doc), Some(1));
        assert_eq!(filter(doc! {"a.1.b": 4}).matched_position(&doc), Some(1), "the inner b array");
        assert_eq!(filter(doc! {"a.b": 9}).matched_position(&doc), None);
        assert_eq!(filter(doc! {"x": 1, "a.b": 2}).matched_position(&doc! {"x": 1, "a": [{"b": 2}]}), Some(0));
        assert_eq!(filter(doc! {"$or": [{"a.b": 4}]}).matched_position(&doc), None, "$or records no position");
    }

    #[test]
    fn refused_operators() {
        assert_eq!(error_code(doc! {"$where": "1"}), 2);
        assert_eq!(error_code(doc! {"a": {"$geoWithin": {}}}), 2);
        assert_eq!(error_code(doc! {"$jsonSchema": {}}), 2);
        assert_eq!(error_code(doc! {"a": {"$elemMatch": {"$text": {"$search": "x"}}}}), 2);
        assert!(filter(doc! {"$alwaysTrue": 1}).matches(&doc! {}));
        assert!(!filter(doc! {"$alwaysFalse": 1}).matches(&doc! {}));
    }
}
