//! The compiled tree of a filter and its evaluation on decoded documents.

use std::cmp::Ordering;
use std::sync::Arc;

use crate::value::regex::{Invalid, Regex};
use bson::spec::ElementType;
use bson::{Bson, Document};

use super::super::expr::Expr;
use super::super::path::{LeafArrays, Path};
use super::parse::is_operator_document;
use crate::error::{Error, ErrorCode, Result};
use crate::value::collation::Collation;
use crate::value::number::as_f64;
use crate::value::order;

/// A condition on a whole document.
#[derive(Debug, Clone)]
pub(super) enum Node {
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
    /// `$jsonSchema`, on the whole document.
    Schema(Box<super::schema::JsonSchema>),
    /// `$text`: the document matches the search of the collection's text index.
    Text(Box<super::text::Text>),
    /// `$where`: the JavaScript predicate, and the scope it runs in.
    Where(Arc<str>, Arc<crate::js::Scope>),
}

impl Node {
    /// Whether `doc` satisfies this condition. A path condition that holds through
    /// an array element records the element's index in `position` (the last one
    /// recorded wins, as in MongoDB); the logical operators other than `$and` do
    /// not record positions. Fails when an expression (`$expr`) or a `$where`
    /// function fails.
    pub(super) fn eval(&self, doc: &Document, position: &mut Option<usize>) -> Result<bool> {
        Ok(match self {
            Node::Path { path, test } => path.any(doc, test.leaf_arrays(), &mut |value, offset| {
                let mut inner = None;
                let found = test.matches(value, &mut inner);
                if let Some(at) = offset.or(inner).filter(|_| found) {
                    *position = Some(at);
                }
                found
            }),
            Node::And(children) => {
                for child in children {
                    if !child.eval(doc, position)? {
                        return Ok(false);
                    }
                }
                true
            }
            Node::Or(children) => any(children, doc)?,
            Node::Nor(children) => !any(children, doc)?,
            Node::Not(child) => !child.eval(doc, &mut None)?,
            Node::Expr(expr) => crate::value::truthy(Some(&expr.evaluate(doc)?)),
            Node::Where(source, scope) => scope.test(source, doc)?,
            Node::Always(value) => *value,
            Node::Schema(schema) => schema.matches(doc),
            Node::Text(text) => text.matches(doc),
        })
    }
}

/// Whether some of `children` holds for `doc` (positions are not recorded).
fn any(children: &[Node], doc: &Document) -> Result<bool> {
    for child in children {
        if child.eval(doc, &mut None)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// What one operator of a field's operator document (`{$gt: 1}`) asks of a value.
#[derive(Debug, Clone)]
pub(super) enum Clause {
    Test(Test),
    /// None of the clauses' conjunction: `$ne`, `$nin`, `$not`, `$exists: false`.
    Not(Vec<Clause>),
}

impl Clause {
    /// The clause as a condition on the values a path reaches.
    pub(super) fn into_node(self, path: &Path) -> Node {
        match self {
            Clause::Test(test) => Node::Path { path: path.clone(), test },
            Clause::Not(clauses) => {
                Node::Not(Box::new(Node::And(clauses.into_iter().map(|c| c.into_node(path)).collect())))
            }
        }
    }

    /// Whether one value satisfies the clause, arrays taken as they are (the value
    /// form of `$elemMatch`).
    pub(super) fn matches_value(&self, value: &Bson) -> bool {
        match self {
            Clause::Test(test) => test.matches(Some(value), &mut None),
            Clause::Not(clauses) => !clauses.iter().all(|c| c.matches_value(value)),
        }
    }
}

/// A test of one value a path reaches; `None` stands for a missing field.
#[derive(Debug, Clone)]
pub(super) enum Test {
    Compare(Comparison, Bson),
    /// A comparison whose strings compare by a collation.
    Collated(Comparison, Bson, Arc<Collation>),
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
    /// `$geoWithin`, `$geoIntersects`.
    Geo(Box<crate::query::geo::GeoQuery>),
    /// `$near`, `$nearSphere`: a location within the query's distances (the
    /// nearest-first order is the plan's).
    Near(Arc<crate::query::geo::Near>),
    /// Matches nothing (`$all: []`).
    Never,
}

impl Test {
    /// Whether the test looks at an array a path ends at as a whole only.
    pub(super) fn leaf_arrays(&self) -> LeafArrays {
        match self {
            Test::Size(_) | Test::ElemMatchDocument(_) | Test::ElemMatchValue(_) => LeafArrays::Whole,
            _ => LeafArrays::Traverse,
        }
    }

    /// Whether `value` passes; an `$elemMatch` records the matching element's
    /// index in `position`.
    pub(super) fn matches(&self, value: Option<&Bson>, position: &mut Option<usize>) -> bool {
        match self {
            Test::Compare(comparison, operand) => comparison.holds(value.unwrap_or(&Bson::Undefined), operand, None),
            Test::Collated(comparison, operand, collation) => {
                comparison.holds(value.unwrap_or(&Bson::Undefined), operand, Some(collation))
            }
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
                    Bson::Document(doc) => node.eval(doc, &mut None).unwrap_or(false),
                    Bson::Array(inner) => node.eval(&array_as_document(inner), &mut None).unwrap_or(false),
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
            Test::Geo(query) => value.is_some_and(|v| query.matches(v)),
            Test::Near(near) => value.is_some_and(|v| near.matches(v)),
            Test::Never => false,
        }
    }
}

/// An array seen as the document `{"0": .., "1": ..}`, as `$elemMatch` sees an
/// array nested in an array.
pub(super) fn array_as_document(items: &[Bson]) -> Document {
    items.iter().enumerate().map(|(i, item)| (i.to_string(), item.clone())).collect()
}

/// The comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Comparison {
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
    pub(super) fn holds(self, value: &Bson, operand: &Bson, collation: Option<&Collation>) -> bool {
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
        let order = order::compare_collated(value, operand, collation);
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
pub(super) fn is_nan(value: &Bson) -> bool {
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
pub(super) struct InList {
    pub(super) values: Vec<Bson>,
    pub(super) regexes: Vec<Pattern>,
    /// Whether the list holds null, which also matches a missing field.
    pub(super) has_null: bool,
    /// The collation its strings compare by (and its values are sorted by).
    pub(super) collation: Option<Arc<Collation>>,
}

impl InList {
    pub(super) fn parse(operator: &str, operand: &Bson) -> Result<InList> {
        let Bson::Array(items) = operand else {
            return Err(Error::bad_value(format!("{operator} needs an array")));
        };
        let mut list = InList { values: Vec::new(), regexes: Vec::new(), has_null: false, collation: None };
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

    /// The list with its strings compared by `collation`.
    pub(super) fn collated(mut self, collation: Arc<Collation>) -> InList {
        let compare = |a: &Bson, b: &Bson| order::compare_collated(a, b, Some(&collation));
        self.values.sort_by(compare);
        self.values.dedup_by(|a, b| compare(a, b) == Ordering::Equal);
        self.collation = Some(collation);
        self
    }

    pub(super) fn contains(&self, value: Option<&Bson>) -> bool {
        let Some(value) = value else { return self.has_null };
        let collation = self.collation.as_deref();
        self.values.binary_search_by(|probe| order::compare_collated(probe, value, collation)).is_ok()
            || self.regexes.iter().any(|pattern| pattern.matches(value))
    }
}

/// A regular expression of a filter, with its source kept to match stored regexes.
#[derive(Debug, Clone)]
pub(super) struct Pattern {
    pub(super) regex: Regex,
}

impl Pattern {
    /// Compiles `pattern` with MongoDB's options `i`, `m`, `s`, `x` (and `u`,
    /// which changes nothing here).
    pub(super) fn new(pattern: &str, options: &str) -> Result<Pattern> {
        let regex = Regex::new(pattern, options).map_err(|invalid| match invalid {
            Invalid::Flag(_) => Error::command(ErrorCode::Location51108, invalid.to_string()),
            Invalid::NullByte => Error::bad_value(invalid.to_string()),
            Invalid::Syntax(e) => {
                Error::command(ErrorCode::Location51091, format!("Regular expression is invalid: {e}"))
            }
        })?;
        Ok(Pattern { regex })
    }

    /// Strings and symbols match by the expression (not when the match fails to
    /// finish, as past PCRE2's match limit); a stored regular expression matches
    /// when it is the same one.
    pub(super) fn matches(&self, value: &Bson) -> bool {
        match value {
            Bson::String(s) | Bson::Symbol(s) => self.regex.is_match(s).unwrap_or(false),
            Bson::RegularExpression(re) => re.pattern == self.regex.pattern() && re.options == self.regex.options(),
            _ => false,
        }
    }
}

/// The types `$type` accepts.
#[derive(Debug, Clone, Default)]
pub(super) struct TypeSet {
    /// The alias "number": doubles, 32- and 64-bit integers and decimals.
    pub(super) numbers: bool,
    pub(super) types: Vec<ElementType>,
}

impl TypeSet {
    pub(super) fn parse(path: &str, operand: &Bson) -> Result<TypeSet> {
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
    pub(super) fn add(&mut self, spec: &Bson) -> Result<()> {
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

    pub(super) fn contains(&self, value: &Bson) -> bool {
        (self.numbers && as_f64(value).is_some()) || self.types.contains(&value.element_type())
    }
}

/// The bitwise operators.
#[derive(Debug, Clone, Copy)]
pub(super) enum BitOp {
    AllSet,
    AllClear,
    AnySet,
    AnyClear,
}

/// A bitwise test: the bit positions, and the same as a 64-bit mask for numbers
/// (positions past 63 test the sign bit, as numbers are sign-extended).
#[derive(Debug, Clone)]
pub(super) struct BitTest {
    pub(super) op: BitOp,
    pub(super) positions: Vec<u64>,
    pub(super) mask: u64,
}

impl BitTest {
    pub(super) fn parse(operator: &str, op: BitOp, operand: &Bson) -> Result<BitTest> {
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

    pub(super) fn matches(&self, value: &Bson) -> bool {
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
pub(super) fn bit_position(item: &Bson) -> Result<u64> {
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
pub(super) fn integer(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        other => as_f64(other).filter(|f| f.fract() == 0.0 && in_i64_range(*f)).map(|f| f as i64),
    }
}

/// A number rounded toward zero to a 64-bit integer, as `$mod` takes its dividend.
pub(super) fn truncated(value: &Bson) -> Option<i64> {
    match value {
        Bson::Int32(i) => Some(i64::from(*i)),
        Bson::Int64(i) => Some(*i),
        other => as_f64(other).map(f64::trunc).filter(|f| in_i64_range(*f)).map(|f| f as i64),
    }
}

/// Whether a (finite, whole) double converts to i64 exactly: -2^63 <= f < 2^63.
pub(super) fn in_i64_range(f: f64) -> bool {
    (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&f)
}

/// A number as MongoDB prints it in messages: whole numbers without a fraction.
pub(super) fn show_number(value: &Bson) -> String {
    match as_f64(value) {
        Some(f) if f.fract() == 0.0 && in_i64_range(f) => (f as i64).to_string(),
        Some(f) => f.to_string(),
        None => value.to_string(),
    }
}
