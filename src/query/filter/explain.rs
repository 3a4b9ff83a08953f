//! Why a document fails a filter, as MongoDB explains a collection validator's
//! rejection (the `details` of error 121's `errInfo`): the failing clauses, each
//! with its operator, how it was specified, the reason, and the values it looked
//! at. Under `$not` and `$nor` the explanation is of what matched ("inverted").
//!
//! The filter is read again from its BSON form (the compiled tree keeps no
//! spelling); each clause is compiled on its own to learn whether it holds.

use bson::{doc, Bson, Document};

use super::schema::JsonSchema;
use super::Filter;
use crate::query::expr::{Expr, Variables};

/// At most this many considered values are listed (MongoDB's default).
const MAX_CONSIDERED: usize = 10;

/// The `details` of a document that fails `filter`.
pub fn explain_failure(filter: &Document, doc: &Document) -> Document {
    explain_clauses(&clauses(filter), doc, false)
}

/// One condition of a filter, as written.
enum Clause<'a> {
    /// `{path: {operator: operand}}`, `{path: value}` (`implicit`), or a regular
    /// expression with its `$options` (`regex` holds the path's whole operators).
    Path { path: &'a str, operator: &'a str, operand: &'a Bson, implicit: bool, regex: Option<&'a Document> },
    /// `$and`, `$or`, `$nor` and their filters' clauses.
    Logical { operator: &'a str, children: Vec<Vec<Clause<'a>>>, spec: &'a Bson },
    /// Another top-level operator (`$expr`, `$jsonSchema`, `$alwaysFalse`, ...).
    Top { operator: &'a str, operand: &'a Bson },
}

fn clauses(filter: &Document) -> Vec<Clause<'_>> {
    let mut out = Vec::new();
    for (key, value) in filter {
        match key.as_str() {
            "$comment" => {}
            "$and" | "$or" | "$nor" => {
                let children =
                    value.as_array().into_iter().flatten().filter_map(Bson::as_document).map(clauses).collect();
                out.push(Clause::Logical { operator: key, children, spec: value });
            }
            top if top.starts_with('$') => out.push(Clause::Top { operator: key, operand: value }),
            path => match value {
                Bson::Document(ops) if super::parse::is_operator_document(ops, false) => {
                    out.extend(operator_clauses(path, ops));
                }
                _ => out.push(Clause::Path { path, operator: "$eq", operand: value, implicit: true, regex: None }),
            },
        }
    }
    out
}

/// The clauses of a path's operators (`{$gt: 1, $lt: 5}`).
fn operator_clauses<'a>(path: &'a str, ops: &'a Document) -> Vec<Clause<'a>> {
    ops.iter()
        .filter(|(operator, _)| operator.as_str() != "$options")
        .map(|(operator, operand)| {
            let regex = (operator == "$regex").then_some(ops);
            Clause::Path { path, operator, operand, implicit: false, regex }
        })
        .collect()
}

impl Clause<'_> {
    /// The clause as a filter of its own.
    fn spec(&self) -> Document {
        match self {
            Clause::Path { path, operand, implicit: true, .. } => doc! {*path: (*operand).clone()},
            Clause::Path { path, regex: Some(ops), .. } => {
                let regex: Document = ops
                    .iter()
                    .filter(|(k, _)| matches!(k.as_str(), "$regex" | "$options"))
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect();
                doc! {*path: regex}
            }
            Clause::Path { path, operator, operand, .. } => doc! {*path: {*operator: (*operand).clone()}},
            Clause::Logical { operator, spec, .. } => doc! {*operator: (*spec).clone()},
            Clause::Top { operator, operand } => doc! {*operator: (*operand).clone()},
        }
    }

    fn matches(&self, doc: &Document) -> bool {
        Filter::parse(&self.spec(), &Variables::none()).is_ok_and(|f| f.matches(doc))
    }

    fn explain(&self, doc: &Document, inverted: bool) -> Document {
        match self {
            Clause::Path { path, operator: "$not", operand, .. } => {
                let inner = match operand {
                    Bson::Document(ops) => operator_clauses(path, ops),
                    regex => {
                        vec![Clause::Path { path, operator: "$regex", operand: regex, implicit: true, regex: None }]
                    }
                };
                doc! {"operatorName": "$not", "details": explain_clauses(&inner, doc, !inverted)}
            }
            Clause::Path { .. } => self.explain_path(doc, inverted),
            Clause::Logical { operator, children, .. } => explain_logical(operator, children, doc, inverted),
            Clause::Top { operator: "$jsonSchema", operand } => match (inverted, JsonSchema::parse(operand)) {
                (false, Ok(schema)) => schema.explain(doc),
                _ => doc! {"operatorName": "$jsonSchema", "reason": "schema matched"},
            },
            Clause::Top { operator: "$expr", operand } => explain_expr(operand, doc, inverted),
            Clause::Top { operator, operand } => doc! {
                "operatorName": *operator,
                "specifiedAs": {*operator: (*operand).clone()},
                "reason": if inverted { "expression always evaluates to true" } else { "expression always evaluates to false" },
            },
        }
    }

    fn explain_path(&self, doc: &Document, inverted: bool) -> Document {
        let Clause::Path { path, operator, operand, .. } = self else { return Document::new() };
        // An implicit regular expression is a `$regex`; the negations print their own
        // name with the reason of what they negate.
        let shown = match operand {
            Bson::RegularExpression(_) if self.is_implicit() => "$regex",
            _ => *operator,
        };
        let negated = match *operator {
            "$ne" | "$nin" => true,
            "$exists" => !crate::value::truthy(Some(operand)),
            _ => false,
        };
        let flipped = inverted != negated;
        let mut out = doc! {"operatorName": shown, "specifiedAs": self.spec()};
        let whole = matches!(*operator, "$size" | "$elemMatch" | "$all");
        let values = considered(doc, path, !whole);
        if *operator == "$exists" {
            out.insert("reason", if flipped { "path does exist" } else { "path does not exist" });
            return out;
        }
        let Some(values) = values else {
            out.insert("reason", "field was missing");
            return out;
        };
        if let Some(expected) = expected_types(shown) {
            if !values.iter().any(|v| expected.contains(&crate::value::type_name(Some(v)))) {
                out.insert("reason", "type did not match");
                insert_types(&mut out, &values);
                match expected {
                    [one] => out.insert("expectedType", *one),
                    many => out.insert("expectedTypes", many.to_vec()),
                };
                insert_values(&mut out, values);
                return out;
            }
        }
        if let ("$all", Bson::Array(all)) = (shown, *operand) {
            if all.is_empty() {
                out.insert("reason", "expression always evaluates to false");
                return out;
            }
        }
        out.insert("reason", reason(shown, flipped));
        if shown == "$type" {
            // `$type` names the types of the values after them.
            let types = values.clone();
            insert_values(&mut out, values);
            insert_types(&mut out, &types);
            return out;
        }
        insert_values(&mut out, values);
        out
    }

    fn is_implicit(&self) -> bool {
        matches!(self, Clause::Path { implicit: true, .. })
    }
}

/// A filter's clauses: one explains itself, several are an implicit `$and`.
fn explain_clauses(clauses: &[Clause<'_>], doc: &Document, inverted: bool) -> Document {
    match clauses {
        [one] => one.explain(doc, inverted),
        many => explain_and(many.iter().collect(), doc, inverted),
    }
}

fn explain_and(children: Vec<&Clause<'_>>, doc: &Document, inverted: bool) -> Document {
    let listed: Vec<Bson> = children
        .iter()
        .enumerate()
        .filter(|(_, child)| inverted || !child.matches(doc))
        .map(|(index, child)| Bson::from(doc! {"index": index as i32, "details": child.explain(doc, inverted)}))
        .collect();
    let key = if inverted { "clausesSatisfied" } else { "clausesNotSatisfied" };
    doc! {"operatorName": "$and", key: listed}
}

fn explain_logical(operator: &str, children: &[Vec<Clause<'_>>], doc: &Document, inverted: bool) -> Document {
    #[derive(Clone, Copy)]
    enum Listed {
        All,
        Failing,
        Matching,
    }
    let (listed, child_inverted, key) = match (operator, inverted) {
        ("$and", false) => (Listed::Failing, false, "clausesNotSatisfied"),
        ("$and", true) => (Listed::All, true, "clausesSatisfied"),
        ("$or", false) => (Listed::All, false, "clausesNotSatisfied"),
        ("$or", true) => (Listed::Matching, true, "clausesSatisfied"),
        // `$nor`: what matched, explained as matching; inverted, what did not.
        (_, false) => (Listed::Matching, true, "clausesSatisfied"),
        (_, true) => (Listed::Failing, false, "clausesNotSatisfied"),
    };
    let holds = |child: &[Clause<'_>]| child.iter().all(|c| c.matches(doc));
    let keep = |child: &[Clause<'_>]| match listed {
        Listed::All => true,
        Listed::Failing => !holds(child),
        Listed::Matching => holds(child),
    };
    let listed: Vec<Bson> = children
        .iter()
        .enumerate()
        .filter(|(_, child)| keep(child))
        .map(|(index, child)| {
            Bson::from(doc! {"index": index as i32, "details": explain_clauses(child, doc, child_inverted)})
        })
        .collect();
    doc! {"operatorName": operator, key: listed}
}

fn explain_expr(operand: &Bson, doc: &Document, inverted: bool) -> Document {
    let mut out = doc! {"operatorName": "$expr", "specifiedAs": {"$expr": operand.clone()}};
    match Expr::parse(operand, &Variables::none()).and_then(|expr| expr.evaluate(doc)) {
        Ok(result) => {
            out.insert("reason", if inverted { "expression did match" } else { "expression did not match" });
            out.insert("expressionResult", result);
        }
        Err(e) => {
            out.insert("reason", "failed to evaluate aggregation expression");
            let code = e.code();
            let message = match &e {
                crate::error::Error::Command { message, .. } => message.clone(),
                other => other.to_string(),
            };
            out.insert("details", doc! {"code": code.code(), "codeName": code.name(), "errmsg": message});
        }
    }
    out
}

/// The values a path reaches, arrays at its end spread into their elements unless
/// `spread` is false; `None` when it reaches nothing.
fn considered(doc: &Document, path: &str, spread: bool) -> Option<Vec<Bson>> {
    let parts: Vec<&str> = path.split('.').collect();
    let (first, rest) = parts.split_first()?;
    let mut out = Vec::new();
    let found = doc.get(*first).is_some_and(|value| reach(value, rest, spread, &mut out));
    found.then_some(out)
}

fn reach(value: &Bson, parts: &[&str], spread: bool, out: &mut Vec<Bson>) -> bool {
    let Some((first, rest)) = parts.split_first() else {
        match value {
            Bson::Array(items) if spread => out.extend(items.iter().cloned()),
            other => out.push(other.clone()),
        }
        return true;
    };
    match value {
        Bson::Document(doc) => doc.get(*first).is_some_and(|next| reach(next, rest, spread, out)),
        Bson::Array(items) => {
            if let Some(item) = first.parse::<usize>().ok().and_then(|i| items.get(i)) {
                return reach(item, rest, spread, out);
            }
            let mut any = false;
            for item in items {
                if let Bson::Document(_) = item {
                    any |= reach(item, parts, spread, out);
                }
            }
            any
        }
        _ => false,
    }
}

/// `consideredType` (one distinct type) or `consideredTypes` (several, sorted).
fn insert_types(out: &mut Document, values: &[Bson]) {
    let mut types: Vec<&str> = values.iter().map(|v| crate::value::type_name(Some(v))).collect();
    types.sort_unstable();
    types.dedup();
    match types.as_slice() {
        [] => {}
        [one] => {
            out.insert("consideredType", *one);
        }
        many => {
            out.insert("consideredTypes", many.to_vec());
        }
    }
}

fn insert_values(out: &mut Document, mut values: Vec<Bson>) {
    if values.len() == 1 {
        out.insert("consideredValue", values.remove(0));
        return;
    }
    let truncated = values.len() > MAX_CONSIDERED;
    values.truncate(MAX_CONSIDERED);
    out.insert("consideredValues", values);
    if truncated {
        out.insert("consideredValuesTruncated", true);
    }
}

/// The types an operator works on, when it checks them.
fn expected_types(operator: &str) -> Option<&'static [&'static str]> {
    Some(match operator {
        "$regex" => &["regex", "string", "symbol"],
        "$mod" => &["decimal", "double", "int", "long"],
        "$bitsAllSet" | "$bitsAllClear" | "$bitsAnySet" | "$bitsAnyClear" => {
            &["binData", "decimal", "double", "int", "long"]
        }
        "$size" | "$elemMatch" => &["array"],
        _ => return None,
    })
}

/// MongoDB's reason for a leaf operator that failed (`inverted`: that matched).
fn reason(operator: &str, inverted: bool) -> &'static str {
    let (normal, flipped) = match operator {
        "$in" | "$nin" => ("no matching value found in array", "matching value found in array"),
        "$type" => ("type did not match", "type did match"),
        "$regex" => ("regular expression did not match", "regular expression did match"),
        "$mod" => ("$mod did not evaluate to expected remainder", "$mod did evaluate to expected remainder"),
        "$bitsAllSet" | "$bitsAllClear" | "$bitsAnySet" | "$bitsAnyClear" => {
            ("bitwise operator failed to match", "bitwise operator matched successfully")
        }
        "$size" => ("array length was not equal to given size", "array length was equal to given size"),
        "$elemMatch" => ("array did not satisfy the child predicate", "array did satisfy the child predicate"),
        "$all" => ("array did not contain all specified values", "array did contain all specified values"),
        _ => ("comparison failed", "comparison succeeded"),
    };
    if inverted {
        flipped
    } else {
        normal
    }
}
