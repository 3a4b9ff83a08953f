//! Queries: filters, sorts, projections, update specifications, aggregation
//! expressions and pipelines, each compiled once from its BSON form and then applied
//! to documents.

pub mod expr;
pub mod filter;
pub mod geo;
pub mod path;
pub mod pipeline;
pub mod plan;
pub mod projection;
pub mod shape;
pub mod sort;
pub mod text;
pub mod update;

#[cfg(test)]
pub(crate) mod golden;

pub use expr::Variables;
pub use filter::{explain_failure, Filter};
pub use projection::Projection;
pub use sort::Sort;
pub use update::Update;

#[cfg(test)]
mod tests {
    use std::cmp::Ordering;

    use bson::{doc, Document};

    use super::*;

    #[test]
    fn equality_matches_fields_paths_and_array_elements() {
        let doc = doc! {"a": 1, "b": {"c": "x"}, "tags": ["red", "blue"], "items": [{"n": 1}, {"n": 2}]};
        let matches = |f: Document| Filter::parse(&f, &Variables::none()).expect("filter").matches(&doc);
        assert!(matches(doc! {"a": 1.0}), "numbers compare by value");
        assert!(matches(doc! {"b.c": "x"}));
        assert!(matches(doc! {"tags": "blue"}), "an array matches an element");
        assert!(matches(doc! {"tags": ["red", "blue"]}), "or as a whole");
        assert!(matches(doc! {"items.n": 2}), "paths run through arrays of documents");
        assert!(matches(doc! {"missing": null}), "missing equals null");
        assert!(matches(doc! {"a": {"$eq": 1}}));
        assert!(!matches(doc! {"a": 2}));
        assert!(!matches(doc! {"tags": "green"}));
        assert!(Filter::parse(&doc! {"a": {"$where": 1}}, &Variables::none()).is_err());
        assert!(Filter::parse(&doc! {"$where": "1"}, &Variables::none()).is_err());
    }

    #[test]
    fn sorts_and_projections() {
        let sort = Sort::parse(&doc! {"a": -1, "b": 1}).expect("sort");
        let (x, y) = (doc! {"a": 2, "b": 1}, doc! {"a": 2, "b": 0});
        let key = |d: &Document| sort.key(d).expect("key");
        assert_eq!(sort.compare_keys(&key(&x), &key(&y)), Ordering::Greater);
        let p = Projection::parse(&doc! {"a": 1}, &Variables::none()).expect("projection").expect("some");
        assert_eq!(p.apply(doc! {"_id": 1, "a": 2, "b": 3}, None).expect("apply"), doc! {"_id": 1, "a": 2});
        let p = Projection::parse(&doc! {"b": 0, "_id": 0}, &Variables::none()).expect("projection").expect("some");
        assert_eq!(p.apply(doc! {"_id": 1, "a": 2, "b": 3}, None).expect("apply"), doc! {"a": 2});
        assert!(Projection::parse(&doc! {"a": 1, "b": 0}, &Variables::none()).is_err());
    }
}
