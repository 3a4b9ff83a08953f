//! Wildcard indexes (`{"$**": 1}`, `{"a.b.$**": 1}`, with `wildcardProjection`):
//! one key per leaf value of every path they cover, `(path, value)`, as MongoDB's
//! wildcard key generator makes them. Embedded documents are walked; an array's
//! elements are indexed under the array's path (documents in it walked, arrays in
//! it indexed whole); an empty document is indexed as itself, an empty array as
//! `undefined`. `_id` is left out unless the projection includes it.

use bson::{Bson, Document};

use super::keys::{encode_field, encode_field_collated, Key, Keys};
use super::Index;
use crate::error::{Error, ErrorCode, Result};

/// The paths a wildcard index covers.
#[derive(Debug, Clone, PartialEq)]
pub struct Wildcard {
    /// `a.b` for `{"a.b.$**": 1}`; `None` for `{"$**": 1}`.
    root: Option<String>,
    /// `wildcardProjection`: the paths it includes (`true`) or excludes.
    projection: Vec<String>,
    include: bool,
    /// `_id` is covered (the projection includes it).
    id: bool,
}

/// Whether `path` is `prefix` or lies under it.
fn under(path: &str, prefix: &str) -> bool {
    path == prefix || (path.starts_with(prefix) && path.as_bytes().get(prefix.len()) == Some(&b'.'))
}

impl Wildcard {
    /// The wildcard part of an index spec (checked by [`check_spec`]).
    pub fn from_spec(spec: &Document) -> Option<Wildcard> {
        let key = spec.get_document("key").ok()?;
        let (field, kind) = key.iter().next()?;
        if key.len() != 1 || kind.as_str().is_some() {
            return None;
        }
        let root = match field.as_str() {
            "$**" => None,
            other => Some(other.strip_suffix(".$**")?.to_owned()),
        };
        let mut projection = Vec::new();
        let mut include = false;
        let mut id = false;
        for (path, value) in spec.get_document("wildcardProjection").into_iter().flatten() {
            let on = crate::value::truthy(Some(value));
            if path == "_id" {
                id = on;
                continue;
            }
            include = on;
            projection.push(path.clone());
        }
        Some(Wildcard { root, projection, include, id })
    }

    /// Whether the index holds the values of `path`.
    pub fn covers(&self, path: &str) -> bool {
        if under(path, "_id") {
            return self.id;
        }
        if self.root.as_deref().is_some_and(|root| !under(path, root)) {
            return false;
        }
        if self.projection.is_empty() {
            return true;
        }
        self.projection.iter().any(|p| under(path, p)) == self.include
    }

    /// Whether some path the index covers lies at or under `path` (so a walk of the
    /// document goes into it).
    fn reaches(&self, path: &str) -> bool {
        if under(path, "_id") {
            return self.id;
        }
        let prefixes = self.root.iter().chain(self.projection.iter().filter(|_| self.include));
        let mut ancestor = false;
        let mut constrained = false;
        for prefix in prefixes {
            constrained = true;
            ancestor |= under(prefix, path);
        }
        self.covers(path) || (constrained && ancestor)
    }

    /// The keys of `doc` in `index`.
    pub fn keys(&self, index: &Index, doc: &Document) -> Result<Keys> {
        let mut keys = Vec::new();
        let mut multikey = false;
        self.walk(doc, "", &mut |path, value| keys.push(key(index, path, value)), &mut multikey);
        keys.sort_by(|a: &Key, b: &Key| a.bytes.cmp(&b.bytes));
        keys.dedup_by(|a, b| a.bytes == b.bytes);
        Ok(Keys { keys, multikey })
    }

    fn walk(&self, doc: &Document, prefix: &str, add: &mut dyn FnMut(&str, &Bson), multikey: &mut bool) {
        for (name, value) in doc {
            let path = if prefix.is_empty() { name.clone() } else { format!("{prefix}.{name}") };
            if !self.reaches(&path) {
                continue;
            }
            self.value(&path, value, false, add, multikey);
        }
    }

    fn value(&self, path: &str, value: &Bson, in_array: bool, add: &mut dyn FnMut(&str, &Bson), multikey: &mut bool) {
        let covered = self.covers(path);
        match value {
            // An array in an array is a value.
            Bson::Array(_) if in_array => {
                if covered {
                    add(path, value);
                }
            }
            Bson::Array(items) => {
                *multikey = true;
                if items.is_empty() {
                    if covered {
                        add(path, &Bson::Undefined);
                    }
                    return;
                }
                for item in items {
                    self.value(path, item, true, add, multikey);
                }
            }
            Bson::Document(inner) if inner.is_empty() => {
                if covered {
                    add(path, value);
                }
            }
            Bson::Document(inner) => self.walk(inner, path, add, multikey),
            _ => {
                if covered {
                    add(path, value);
                }
            }
        }
    }
}

/// The key `(path, value)`.
fn key(index: &Index, path: &str, value: &Bson) -> Key {
    let path = Bson::String(path.to_owned());
    let mut bytes = Vec::new();
    encode_field(&path, false, &mut bytes);
    encode_field_collated(value, false, index.collation.as_deref(), &mut bytes);
    Key { values: vec![path, value.clone()], bytes }
}

/// Whether a key pattern is a wildcard index's.
pub fn is_wildcard_pattern(key: &Document) -> bool {
    key.iter().any(|(field, kind)| (field == "$**" || field.ends_with(".$**")) && kind.as_str().is_none())
}

/// Checks a wildcard index's spec as MongoDB does: one field (compound wildcard
/// indexes are not built yet), no `sparse`, `unique` or TTL, and a
/// `wildcardProjection` only with `{"$**": 1}`, of inclusions or exclusions.
pub fn check_spec(key: &Document, spec: &Document) -> Result<()> {
    let wildcard = is_wildcard_pattern(key);
    if let Some(projection) = spec.get("wildcardProjection") {
        if !wildcard {
            return Err(Error::bad_value("The field 'wildcardProjection' is only allowed in an 'wildcard' index"));
        }
        let Bson::Document(projection) = projection else {
            return Err(Error::type_mismatch(format!(
                "The field 'wildcardProjection' must be a non-empty object, but got {}",
                crate::value::type_name(Some(projection))
            )));
        };
        if !key.contains_key("$**") {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                "The field 'wildcardProjection' is only allowed when 'key' is {\"$**\": ±1}",
            ));
        }
        if projection.is_empty() {
            return Err(Error::command(
                ErrorCode::FailedToParse,
                "The 'wildcardProjection' field can't be an empty object",
            ));
        }
        check_projection(projection)?;
    }
    if !wildcard {
        return Ok(());
    }
    if key.len() != 1 {
        return Err(Error::command(
            ErrorCode::NotImplemented,
            "compound wildcard indexes are not supported yet: a wildcard index has one field",
        ));
    }
    let refuse = |what: &str| Error::command(ErrorCode::CannotCreateIndex, format!("Index type 'wildcard' {what}"));
    if crate::value::truthy(spec.get("sparse")) {
        return Err(refuse("does not support the sparse option"));
    }
    if crate::value::truthy(spec.get("unique")) {
        return Err(refuse("does not support the unique option"));
    }
    if spec.contains_key("expireAfterSeconds") {
        return Err(refuse("cannot be a TTL index"));
    }
    Ok(())
}

/// A `wildcardProjection`: all inclusions or all exclusions (`_id` either way).
fn check_projection(projection: &Document) -> Result<()> {
    let mut kind: Option<bool> = None;
    for (path, value) in projection {
        let on = match value {
            Bson::Boolean(b) => *b,
            Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                crate::value::truthy(Some(value))
            }
            _ => {
                return Err(Error::bad_value(format!(
                    "Failed to parse: wildcardProjection :: caused by :: {path} must be a number or a boolean"
                )))
            }
        };
        if path == "_id" {
            continue;
        }
        match kind {
            Some(inclusion) if inclusion != on => {
                let (code, message) = match inclusion {
                    true => (
                        ErrorCode::Location31254,
                        format!("Cannot do exclusion on field {path} in inclusion projection"),
                    ),
                    false => (
                        ErrorCode::Location31253,
                        format!("Cannot do inclusion on field {path} in exclusion projection"),
                    ),
                };
                return Err(Error::command(
                    code,
                    format!("Failed to parse: wildcardProjection :: caused by :: {message}"),
                ));
            }
            _ => kind = Some(on),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn paths(spec: Document, doc: Document) -> Vec<(String, Bson)> {
        let index = Index::new(7, spec).expect("index");
        let wildcard = Wildcard::from_spec(&index.spec).expect("wildcard");
        let keys = wildcard.keys(&index, &doc).expect("keys");
        let mut out: Vec<(String, Bson)> = keys
            .keys
            .into_iter()
            .map(|k| (k.values[0].as_str().unwrap_or_default().to_owned(), k.values[1].clone()))
            .collect();
        out.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| format!("{:?}", a.1).cmp(&format!("{:?}", b.1))));
        out
    }

    #[test]
    fn every_leaf_is_a_key_and_id_is_left_out() {
        let spec = doc! {"v": 2, "key": {"$**": 1}, "name": "$**_1"};
        let found = paths(spec, doc! {"_id": 1, "a": 1, "b": {"c": "x", "d": {}}, "e": [1, {"f": 2}, [3]], "g": []});
        let expected: Vec<(String, Bson)> = vec![
            ("a".into(), Bson::Int32(1)),
            ("b.c".into(), Bson::String("x".into())),
            ("b.d".into(), Bson::Document(doc! {})),
            ("e".into(), Bson::Array(vec![Bson::Int32(3)])),
            ("e".into(), Bson::Int32(1)),
            ("e.f".into(), Bson::Int32(2)),
            ("g".into(), Bson::Undefined),
        ];
        assert_eq!(found, expected);
    }

    #[test]
    fn a_root_and_a_projection_choose_the_paths() {
        let under_a = doc! {"v": 2, "key": {"a.$**": 1}, "name": "a"};
        assert_eq!(paths(under_a, doc! {"a": {"b": 1}, "ab": 2, "c": 3}), vec![("a.b".to_owned(), Bson::Int32(1))]);
        let only_b = doc! {"v": 2, "key": {"$**": 1}, "name": "w", "wildcardProjection": {"b.c": 1, "_id": 1}};
        assert_eq!(
            paths(only_b, doc! {"_id": 9, "b": {"c": 1, "d": 2}, "x": 1}),
            vec![("_id".to_owned(), Bson::Int32(9)), ("b.c".to_owned(), Bson::Int32(1))]
        );
        let not_b = doc! {"v": 2, "key": {"$**": 1}, "name": "w", "wildcardProjection": {"b": 0}};
        assert_eq!(paths(not_b, doc! {"b": {"c": 1}, "x": 1}), vec![("x".to_owned(), Bson::Int32(1))]);
    }
}
