//! Golden-script tests: cases whose expected results come from MongoDB's documented
//! behaviour, kept as extended JSON in `src/query/golden/<area>.json`.
//!
//! A file is an array of groups. Every group names the documentation page its
//! expectations come from (`doc`) and holds its cases; what a case holds depends on
//! the area, and the area's test reads it.

use bson::{Bson, Document};

/// A group of cases and the page of MongoDB's documentation they follow.
pub struct Group {
    pub doc: String,
    pub name: String,
    pub body: Document,
}

/// Parses a golden file (extended JSON, relaxed or canonical) into its groups.
pub fn load(json: &str) -> Vec<Group> {
    let value: serde_json::Value = serde_json::from_str(json).expect("golden file is JSON");
    let Ok(Bson::Array(groups)) = Bson::try_from(value) else { panic!("a golden file is an array of groups") };
    groups
        .into_iter()
        .map(|group| {
            let Bson::Document(body) = group else { panic!("a group is an object") };
            let doc = body.get_str("doc").expect("every group cites a page").to_owned();
            assert!(doc.starts_with("https://www.mongodb.com/docs/"), "cite MongoDB's documentation: {doc}");
            let name = body.get_str("name").unwrap_or(&doc).to_owned();
            Group { doc, name, body }
        })
        .collect()
}
