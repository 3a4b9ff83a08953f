//! An update event's `updateDescription`, computed from the document before and
//! after the update (the log holds whole post-images and the store the versions
//! before them). Fields are compared by value and type, as MongoDB compares them:
//! a field added or changed is in `updatedFields`, one gone in `removedFields`;
//! inside a subdocument or an array the description goes down to what changed
//! (`a.b`, `items.3`), and an array that only lost its tail is in `truncatedArrays`
//! with its new size. A field set to what it was is no change, as in MongoDB. Where
//! MongoDB's description follows the update operators and this one the documents,
//! they differ in granularity only: `$set: {a: [1, 2, 3]}` over `[1, 2]` is
//! `a: [1, 2, 3]` in MongoDB and `a.2: 3` here; applying either gives the same
//! document.

use bson::{doc, Bson, Document};

use crate::value::identical;

/// One step of a path: a field of a document or an index of an array.
#[derive(Debug, Clone)]
enum Step {
    Field(String),
    Index(usize),
}

/// What an update changed.
#[derive(Debug, Default, PartialEq)]
pub struct Description {
    pub updated: Document,
    pub removed: Vec<String>,
    /// Arrays that lost their tail, with their new size.
    pub truncated: Vec<(String, usize)>,
    /// For each path above that a dotted string does not say unambiguously (a field
    /// named with digits or holding a dot), its steps: field names as strings,
    /// array indexes as integers.
    pub disambiguated: Document,
}

impl Description {
    /// The `updateDescription` of an event; `disambiguatedPaths` with expanded events.
    pub fn to_document(&self, expanded: bool) -> Document {
        let truncated: Vec<Bson> = self
            .truncated
            .iter()
            .map(|(field, size)| Bson::Document(doc! {"field": field, "newSize": *size as i32}))
            .collect();
        let mut description = doc! {
            "updatedFields": self.updated.clone(),
            "removedFields": self.removed.clone(),
            "truncatedArrays": truncated,
        };
        if expanded {
            description.insert("disambiguatedPaths", self.disambiguated.clone());
        }
        description
    }
}

/// How `before` became `after`.
pub fn describe(before: &Document, after: &Document) -> Description {
    let mut description = Description::default();
    let mut path = Vec::new();
    documents(before, after, &mut path, &mut description);
    description
}

fn documents(before: &Document, after: &Document, path: &mut Vec<Step>, out: &mut Description) {
    for (name, new) in after {
        path.push(Step::Field(name.clone()));
        match before.get(name) {
            Some(old) => values(old, new, path, out),
            None => updated(path, new, out),
        }
        path.pop();
    }
    for name in before.keys().filter(|name| !after.contains_key(name.as_str())) {
        path.push(Step::Field(name.clone()));
        let dotted = dotted(path);
        note_ambiguity(path, &dotted, out);
        out.removed.push(dotted);
        path.pop();
    }
}

fn values(old: &Bson, new: &Bson, path: &mut Vec<Step>, out: &mut Description) {
    match (old, new) {
        _ if identical(old, new) => {}
        (Bson::Document(old), Bson::Document(new)) if same_order(old, new) => documents(old, new, path, out),
        (Bson::Array(old), Bson::Array(new)) => {
            for (index, new_item) in new.iter().enumerate() {
                path.push(Step::Index(index));
                match old.get(index) {
                    Some(old_item) => values(old_item, new_item, path, out),
                    None => updated(path, new_item, out),
                }
                path.pop();
            }
            if new.len() < old.len() {
                let dotted = dotted(path);
                note_ambiguity(path, &dotted, out);
                out.truncated.push((dotted, new.len()));
            }
        }
        _ => updated(path, new, out),
    }
}

/// Whether the fields both documents have come in the same order: otherwise the
/// subdocument is described whole, since field-by-field changes would not give its
/// new order back.
fn same_order(old: &Document, new: &Document) -> bool {
    let kept =
        |a: &Document, b: &Document| a.keys().filter(|k| b.contains_key(k.as_str())).cloned().collect::<Vec<_>>();
    kept(old, new) == kept(new, old)
}

fn updated(path: &[Step], value: &Bson, out: &mut Description) {
    let dotted = dotted(path);
    note_ambiguity(path, &dotted, out);
    out.updated.insert(dotted, value.clone());
}

fn dotted(path: &[Step]) -> String {
    let parts: Vec<String> = path
        .iter()
        .map(|step| match step {
            Step::Field(name) => name.clone(),
            Step::Index(index) => index.to_string(),
        })
        .collect();
    parts.join(".")
}

/// Adds `path` to the disambiguated paths when a field in it is all digits or holds
/// a dot (array indexes alone are not ambiguous).
fn note_ambiguity(path: &[Step], dotted: &str, out: &mut Description) {
    let ambiguous = path.iter().any(|step| match step {
        Step::Field(name) => name.contains('.') || (!name.is_empty() && name.bytes().all(|b| b.is_ascii_digit())),
        Step::Index(_) => false,
    });
    if ambiguous {
        let steps: Vec<Bson> = path
            .iter()
            .map(|step| match step {
                Step::Field(name) => Bson::String(name.clone()),
                Step::Index(index) => Bson::Int32(*index as i32),
            })
            .collect();
        out.disambiguated.insert(dotted, steps);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_level_fields_set_added_and_removed() {
        let d = describe(&doc! {"_id": 1, "a": 1, "b": 2, "c": 3}, &doc! {"_id": 1, "a": 1, "b": 5, "d": 4});
        assert_eq!(d.updated, doc! {"b": 5, "d": 4});
        assert_eq!(d.removed, vec!["c".to_owned()]);
        assert!(d.truncated.is_empty() && d.disambiguated.is_empty());
    }

    #[test]
    fn a_value_of_another_type_is_a_change() {
        let d = describe(&doc! {"a": 1}, &doc! {"a": 1.0});
        assert_eq!(d.updated, doc! {"a": 1.0});
    }

    #[test]
    fn nested_documents_and_arrays_are_described_where_they_changed() {
        let before = doc! {"a": {"b": 1, "c": {"d": 1}}, "items": [1, {"x": 1}, 3]};
        let after = doc! {"a": {"b": 2, "c": {}}, "items": [1, {"x": 2}, 3, 4]};
        let d = describe(&before, &after);
        assert_eq!(d.updated, doc! {"a.b": 2, "items.1.x": 2, "items.3": 4});
        assert_eq!(d.removed, vec!["a.c.d".to_owned()]);
    }

    #[test]
    fn an_array_that_lost_its_tail_is_truncated() {
        let before = doc! {"array": ["foo", {"a": "bar"}, 1, 2, 3]};
        let after = doc! {"array": ["foo", {"a": "bar"}]};
        let d = describe(&before, &after);
        assert_eq!(d.truncated, vec![("array".to_owned(), 2)]);
        assert!(d.updated.is_empty());
        let doc = d.to_document(false);
        assert_eq!(doc.get_array("truncatedArrays").expect("array").len(), 1);
        assert!(!doc.contains_key("disambiguatedPaths"));
    }

    #[test]
    fn numeric_field_names_and_dots_are_disambiguated_array_indexes_are_not() {
        let d = describe(
            &doc! {"a": {"1": 1}, "b": [{"1": 1}], "c": [1]},
            &doc! {"a": {"1": 2}, "b": [{"1": 2}], "c": [2]},
        );
        assert_eq!(d.updated, doc! {"a.1": 2, "b.0.1": 2, "c.0": 2});
        assert_eq!(d.disambiguated, doc! {"a.1": ["a", "1"], "b.0.1": ["b", 0, "1"]});
        let d = describe(&doc! {}, &doc! {"x.y": 1});
        assert_eq!(d.disambiguated, doc! {"x.y": ["x.y"]});
        assert!(d.to_document(true).contains_key("disambiguatedPaths"));
    }

    #[test]
    fn a_reordered_subdocument_is_described_whole() {
        let d = describe(&doc! {"a": {"x": 1, "y": 2}}, &doc! {"a": {"y": 2, "x": 1}});
        assert_eq!(d.updated, doc! {"a": {"y": 2, "x": 1}});
    }
}
