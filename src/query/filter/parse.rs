//! Compiling a filter from its BSON form.

use bson::{Bson, Document};

use std::sync::Arc;

use super::super::expr::{Expr, Variables};
use super::super::geo::{GeoQuery, Near};
use super::super::path::Path;
use super::eval::*;
use crate::error::{Error, ErrorCode, Result};
use crate::value::number::as_f64;

/// Where a document being parsed sits: the filter itself, with the command's
/// variables its `$expr` may read, or a document inside `$elemMatch` (where
/// `$expr` and `$text` are refused).
#[derive(Debug, Clone, Copy)]
pub(super) enum Level<'v> {
    /// The filter's own level: its `$expr` reads `vars`; `$where` is allowed when
    /// `javascript` is (a query's filter, not a stage's, an index's or a validator's).
    Top {
        vars: &'v Variables,
        javascript: bool,
    },
    Nested,
}

/// Parses a filter document into the conjunction of its conditions.
pub(super) fn parse_document(filter: &Document, level: Level<'_>) -> Result<Vec<Node>> {
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
pub(super) fn parse_top_operator(key: &str, value: &Bson, level: Level<'_>) -> Result<Option<Node>> {
    let node = match key {
        "$and" => Node::And(parse_list(key, value, level)?.into_iter().flatten().collect()),
        "$or" => Node::Or(parse_list(key, value, level)?.into_iter().map(Node::And).collect()),
        "$nor" => Node::Nor(parse_list(key, value, level)?.into_iter().map(Node::And).collect()),
        "$expr" => match level {
            Level::Top { vars, .. } => Node::Expr(Expr::parse(value, vars)?),
            Level::Nested => return Err(Error::bad_value("$expr can only be applied to the top-level document")),
        },
        "$comment" => return Ok(None),
        "$sampleRate" => sample_rate(value, level)?,
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
        "$text" => Node::Text(Box::new(super::text::Text {
            query: crate::query::text::TextQuery::parse(value)?,
            search: None,
        })),
        "$where" => match level {
            Level::Top { javascript: true, .. } => where_function(value)?,
            Level::Top { javascript: false, .. } => {
                return Err(Error::bad_value("$where is not allowed in this context"))
            }
            Level::Nested => return Err(Error::bad_value("$where can only be applied to the top-level document")),
        },
        "$jsonSchema" => Node::Schema(Box::new(super::schema::JsonSchema::parse(value)?)),
        _ => return Err(Error::bad_value(format!("unknown top level operator: {key}"))),
    };
    Ok(Some(node))
}

/// `$where: <code>`: a JavaScript predicate over `this` (and `obj`), compiled now
/// so that a syntax error fails the query before any document is read.
fn where_function(value: &Bson) -> Result<Node> {
    let source = match value {
        Bson::String(source) | Bson::JavaScriptCode(source) => source,
        Bson::JavaScriptCodeWithScope(_) => {
            return Err(Error::command(
                ErrorCode::Location4649201,
                "$where no longer supports deprecated BSON type CodeWScope",
            ))
        }
        _ => return Err(Error::bad_value("$where got bad type")),
    };
    if source.is_empty() {
        return Err(Error::bad_value("code for $where cannot be empty"));
    }
    let scope = crate::js::Scope::new();
    scope.compile(source)?;
    Ok(Node::Where(source.as_str().into(), scope))
}

/// `$sampleRate: p`: each document matches with probability `p`, as
/// `{$expr: {$lt: [{$rand: {}}, p]}}` (0 never, 1 always).
fn sample_rate(value: &Bson, level: Level<'_>) -> Result<Node> {
    let Level::Top { vars, .. } = level else {
        return Err(Error::bad_value("$sampleRate can only be applied to the top-level document"));
    };
    let Some(rate) = crate::query::expr::Num::of(Some(value)).map(|n| n.to_f64()) else {
        return Err(Error::bad_value("argument to $sampleRate must be a numeric type"));
    };
    if !(0.0..=1.0).contains(&rate) {
        return Err(Error::bad_value("numeric argument to $sampleRate must be in [0, 1]"));
    }
    Ok(match rate {
        0.0 => Node::Always(false),
        1.0 => Node::Always(true),
        _ => Node::Expr(Expr::parse(&bson::bson!({"$lt": [{"$rand": {}}, rate]}), vars)?),
    })
}

/// Whether `key` is one of the operators that stand in place of a field.
pub(super) fn is_top_operator(key: &str) -> bool {
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
            | "$sampleRate"
            | "$jsonSchema"
    )
}

/// Parses the array of filters of `$and`, `$or` or `$nor`.
pub(super) fn parse_list(operator: &str, value: &Bson, level: Level<'_>) -> Result<Vec<Vec<Node>>> {
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
pub(super) fn is_operator_document(doc: &Document, incomplete_dbrefs: bool) -> bool {
    let Some(first) = doc.keys().next() else { return false };
    let has = |key: &str| doc.contains_key(key);
    let dbref = if incomplete_dbrefs { has("$ref") || has("$id") || has("$db") } else { has("$ref") && has("$id") };
    first.starts_with('$') && !dbref
}

/// Parses a field's operator document (`{$gt: 1, $lt: 5}`) into its clauses.
pub(super) fn parse_operators(path: &str, operators: &Document) -> Result<Vec<Clause>> {
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
            // The whole operator document is the near query's (its distances beside it).
            "$near" | "$nearSphere" | "$geoNear" => {
                let first = operators.keys().next().is_some_and(|k| k == operator);
                if !first || !matches!(operand, Bson::Document(_) | Bson::Array(_)) {
                    let shown = crate::query::geo::shown(&Bson::Document(operators.clone()));
                    return Err(Error::bad_value(format!("near must be first in: {shown}")));
                }
                clauses.push(test(Test::Near(Arc::new(Near::parse(operator, operators)?))));
                return Ok(clauses);
            }
            "$geoWithin" | "$within" | "$geoIntersects" => {
                if let Some((other, value)) = operators.iter().find(|(k, _)| *k != operator) {
                    let shown = crate::query::geo::shown(value);
                    return Err(Error::bad_value(format!("can't parse extra field: {other}: {shown}")));
                }
                test(Test::Geo(Box::new(GeoQuery::parse(operator, operand)?)))
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
pub(super) fn equality(operand: &Bson) -> Result<Test> {
    if matches!(operand, Bson::Undefined) {
        return Err(Error::bad_value("cannot compare to undefined"));
    }
    Ok(Test::Compare(Comparison::Eq, operand.clone()))
}

/// `$gt`, `$gte`, `$lt` or `$lte`.
pub(super) fn comparison(op: Comparison, path: &str, operand: &Bson) -> Result<Test> {
    if matches!(operand, Bson::RegularExpression(_)) {
        return Err(Error::bad_value(format!("Can't have RegEx as arg to predicate over field '{path}'.")));
    }
    equality(operand).map(|_| Test::Compare(op, operand.clone()))
}

/// The operand of `$size`: a non-negative whole number.
pub(super) fn size(operand: &Bson) -> Result<usize> {
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
pub(super) fn modulo(operand: &Bson) -> Result<Test> {
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
pub(super) fn mod_argument(name: &str, value: &Bson) -> Result<i64> {
    let invalid = |why: &str| Error::bad_value(format!("malformed mod, {name} value is invalid :: caused by :: {why}"));
    if as_f64(value).is_some_and(|f| !f.is_finite()) {
        return Err(invalid("Unable to coerce NaN/Inf to integral type"));
    }
    truncated(value).ok_or_else(|| invalid("Out of bounds coercing to integral value"))
}

/// The pattern of an operator document with `$regex` (and maybe `$options`).
pub(super) fn regex_document(operators: &Document) -> Result<Pattern> {
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
pub(super) fn elem_match(operand: &Bson) -> Result<Test> {
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
pub(super) fn all(operand: &Bson) -> Result<Vec<Clause>> {
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
pub(super) fn not(path: &str, operand: &Bson) -> Result<Vec<Clause>> {
    match operand {
        Bson::RegularExpression(re) => {
            Ok(vec![Clause::Test(Test::Regex(Box::new(Pattern::new(&re.pattern, &re.options)?)))])
        }
        Bson::Document(d) if d.is_empty() => Err(Error::bad_value("$not cannot be empty")),
        Bson::Document(d) => parse_operators(path, d),
        _ => Err(Error::bad_value("$not needs a regex or a document")),
    }
}
