//! A query's shape: its predicate with the values taken out, so that queries that
//! differ only in the values they compare with have the same shape (index filters,
//! `planCacheSetFilter`). Field names and operators stay; the conditions of a
//! document and of `$and`/`$or`/`$nor` are put in order, so their order in the query
//! does not matter.

use bson::{doc, Bson, Document};
use sha2::{Digest, Sha256};

use crate::value::order::compare;

/// What stands for a value.
const VALUE: Bson = Bson::Int32(1);

/// The shape of the filter `filter`.
pub fn of(filter: &Document) -> Document {
    let mut fields: Vec<(String, Bson)> =
        filter.iter().map(|(key, value)| (key.clone(), condition(key, value))).collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| compare(&a.1, &b.1)));
    fields.into_iter().collect()
}

/// The shape of `key: value` in a filter.
fn condition(key: &str, value: &Bson) -> Bson {
    match (key, value) {
        ("$and" | "$or" | "$nor", Bson::Array(clauses)) => {
            let mut shapes: Vec<Bson> = clauses
                .iter()
                .map(|clause| match clause {
                    Bson::Document(clause) => Bson::Document(of(clause)),
                    _ => VALUE,
                })
                .collect();
            shapes.sort_by(compare);
            Bson::Array(shapes)
        }
        // `$expr`, `$where`, `$text`, `$jsonSchema`: their argument as a whole.
        (key, _) if key.starts_with('$') => VALUE,
        (_, Bson::Document(operators)) if operators.keys().next().is_some_and(|k| k.starts_with('$')) => {
            let mut shaped: Vec<(String, Bson)> = operators
                .iter()
                .map(|(operator, operand)| (operator.clone(), operand_shape(operator, operand)))
                .collect();
            shaped.sort_by(|a, b| a.0.cmp(&b.0));
            Bson::Document(shaped.into_iter().collect())
        }
        // An equality.
        _ => VALUE,
    }
}

/// The shape of an operator's operand: `$elemMatch` and `$not` keep theirs.
fn operand_shape(operator: &str, operand: &Bson) -> Bson {
    match (operator, operand) {
        ("$elemMatch", Bson::Document(inner)) => Bson::Document(of(inner)),
        ("$not", Bson::Document(inner)) => condition("", &Bson::Document(inner.clone())),
        _ => VALUE,
    }
}

/// The shape of a `find`, `distinct`, `count` or `aggregate` command on `db`, as
/// query settings and query statistics key it: the namespace, the command, its
/// predicates' shapes ([`of`], also in an aggregation's `$match` stages, whose
/// other stages count as written), and the options that choose a plan (sort,
/// projection, collation, hint; whether there is a skip or a limit, not their
/// values). `None` for other commands.
pub fn of_command(db: &str, body: &Document) -> Option<Document> {
    let (command, target) = body.iter().next()?;
    let coll = match target {
        Bson::String(coll) => coll.as_str(),
        _ => "",
    };
    let mut shape = doc! {"cmdNs": {"db": db, "coll": coll}, "command": command.as_str()};
    let predicate = |field: &str| body.get_document(field).map(of).unwrap_or_default();
    match command.as_str() {
        "find" => {
            shape.insert("filter", predicate("filter"));
            for field in ["sort", "projection", "collation", "hint"] {
                if let Some(value) = body.get(field) {
                    shape.insert(field, value.clone());
                }
            }
            for field in ["skip", "limit"] {
                if body.contains_key(field) {
                    shape.insert(field, "?number");
                }
            }
        }
        "distinct" => {
            shape.insert("key", body.get("key").cloned().unwrap_or(Bson::Null));
            shape.insert("query", predicate("query"));
        }
        "count" => {
            shape.insert("query", predicate("query"));
        }
        "aggregate" => {
            let stages = body.get_array("pipeline").map(|p| p.as_slice()).unwrap_or_default();
            let shaped: Vec<Bson> = stages
                .iter()
                .map(|stage| match stage.as_document().and_then(|s| s.get_document("$match").ok()) {
                    Some(filter) => Bson::Document(doc! {"$match": of(filter)}),
                    None => stage.clone(),
                })
                .collect();
            shape.insert("pipeline", shaped);
        }
        _ => return None,
    }
    if let Some(collation) = body.get("collation").filter(|_| command != "find") {
        shape.insert("collation", collation.clone());
    }
    Some(shape)
}

/// A shape's hash, as MongoDB shows a `queryShapeHash`: SHA-256 of its BSON, in
/// upper-case hex.
pub fn hash(shape: &Document) -> String {
    let mut bytes = Vec::new();
    crate::value::encode(shape, &mut bytes);
    Sha256::digest(&bytes).iter().map(|byte| format!("{byte:02X}")).collect()
}

#[cfg(test)]
mod tests {
    use bson::doc;

    use super::of;

    #[test]
    fn values_and_the_order_of_conditions_do_not_count() {
        assert_eq!(of(&doc! {"a": 1, "b": {"$gt": 5}}), of(&doc! {"b": {"$gt": 100}, "a": "x"}));
        assert_eq!(of(&doc! {"a": {"$in": [1, 2]}}), of(&doc! {"a": {"$in": [3]}}));
        assert_eq!(of(&doc! {"$or": [{"a": 1}, {"b": {"$lt": 2}}]}), of(&doc! {"$or": [{"b": {"$lt": 9}}, {"a": 7}]}));
        assert_ne!(of(&doc! {"a": 1}), of(&doc! {"a": {"$gt": 1}}));
        assert_ne!(of(&doc! {"a": 1}), of(&doc! {"b": 1}));
        assert_ne!(of(&doc! {"a": {"$elemMatch": {"x": 1}}}), of(&doc! {"a": {"$elemMatch": {"y": 1}}}));
        assert_eq!(of(&doc! {"a": {"$not": {"$gt": 1}}}), of(&doc! {"a": {"$not": {"$gt": 3}}}));
    }
}
