//! Sort specifications and the order they put documents in, as MongoDB 7.0 sorts:
//! by each field in turn, a missing field as `null`, an array by its smallest
//! element ascending and its largest descending, and an empty array before `null`.
//!
//! Sorting computes each document's key once ([`Sort::key`]) and then compares keys
//! ([`Sort::compare_keys`]); [`Sort::sort`] does both.

use std::cmp::Ordering;
use std::sync::Arc;

use bson::{Bson, Document, RawBsonRef, RawDocument};

use super::projection::{field_path, shell_element};
use super::text::TextSearch;
use crate::error::{Error, ErrorCode, Result};
use crate::value::collation::Collation;
use crate::value::order;

/// A sort specification: dotted paths with 1 (ascending) or -1 (descending).
#[derive(Debug, Clone)]
pub struct Sort {
    fields: Vec<SortField>,
    /// The collation strings sort by (bytes without one).
    collation: Option<Arc<Collation>>,
    /// The `$text` search whose scores `{$meta: "textScore"}` sorts by.
    text: Option<Box<TextSearch>>,
}

#[derive(Debug, Clone)]
struct SortField {
    /// Empty for `{$meta: "textScore"}`, which sorts by the text score, highest
    /// first.
    path: Vec<String>,
    ascending: bool,
}

/// What a document sorts by: one value per field of the specification.
#[derive(Debug, Clone, PartialEq)]
pub struct SortKey(Vec<Bson>);

impl SortKey {
    /// The key's values, one per field (to save it).
    pub fn into_values(self) -> Vec<Bson> {
        self.0
    }

    /// A key saved by [`SortKey::into_values`].
    pub fn from_values(values: Vec<Bson>) -> SortKey {
        SortKey(values)
    }
}

/// A document's key in the store's order-preserving encoding, each descending
/// field's bytes inverted: byte order is the sort's order, except that the encoding
/// cannot tell some unequal values apart (a Decimal128 and the double nearest it,
/// `undefined` and `null`), which tie. `blurred` says the key holds such a value, and
/// a tie must then be settled by comparing the keys' values ([`Sort::compare_docs`]).
/// Sorting by bytes is several times faster than comparing values, and the key
/// holds a few bytes instead of a value per field.
#[derive(Debug, Clone)]
pub struct EncodedKey {
    bytes: Box<[u8]>,
    blurred: bool,
}

impl EncodedKey {
    /// The key's bytes, and whether they are blurred.
    pub fn parts(&self) -> (&[u8], bool) {
        (&self.bytes, self.blurred)
    }
}

impl Sort {
    /// Compiles a sort specification. An empty one sorts nothing; callers normally
    /// skip it.
    pub fn parse(spec: &Document) -> Result<Sort> {
        let mut fields = Vec::with_capacity(spec.len());
        for (name, direction) in spec {
            let ascending = match direction {
                Bson::Document(meta) => {
                    check_meta(meta)?;
                    fields.push(SortField { path: Vec::new(), ascending: false });
                    continue;
                }
                Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => {
                    match number_as_i64(direction) {
                        1 => true,
                        -1 => false,
                        _ => {
                            return Err(Error::command(
                                ErrorCode::Location15975,
                                "$sort key ordering must be 1 (for ascending) or -1 (for descending)",
                            ))
                        }
                    }
                }
                _ => {
                    return Err(Error::command(
                        ErrorCode::Location15974,
                        format!("Illegal key in $sort specification: {}", shell_element(name, direction)),
                    ))
                }
            };
            fields.push(SortField { path: field_path(name)?, ascending });
        }
        Ok(Sort { fields, collation: None, text: None })
    }

    /// The path and direction (ascending) of a sort on exactly one field that is
    /// not a `$meta` score.
    pub fn single_field(&self) -> Option<(&[String], bool)> {
        match self.fields.as_slice() {
            [field] if !field.path.is_empty() => Some((&field.path, field.ascending)),
            _ => None,
        }
    }

    /// How many fields the sort has.
    pub fn len(&self) -> usize {
        self.fields.len()
    }

    /// Whether the sort has no field.
    pub fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// Whether the sort is by the text score (`{$meta: "textScore"}`).
    pub fn needs_text_score(&self) -> bool {
        self.fields.iter().any(|field| field.path.is_empty())
    }

    /// This sort, taking text scores from `search`: MongoDB's error 40218 when it
    /// sorts by them and there is no search.
    pub fn with_text_search(mut self, search: Option<&TextSearch>) -> Result<Sort> {
        if self.needs_text_score() {
            self.text = Some(Box::new(search.cloned().ok_or_else(no_text_score)?));
        }
        Ok(self)
    }

    /// This sort, with strings ordered by `collation` (by bytes without one).
    pub fn with_collation(mut self, collation: Option<&Arc<Collation>>) -> Sort {
        self.collation = collation.cloned();
        self
    }

    /// The key `doc` sorts by. Fails when two fields reach different arrays, which
    /// MongoDB refuses as "parallel arrays".
    pub fn key(&self, doc: &Document) -> Result<SortKey> {
        let mut values = Vec::with_capacity(self.fields.len());
        // The path prefix at which an earlier field met an array.
        let mut array_at: Option<&[String]> = None;
        let collation = self.collation.as_deref();
        for field in &self.fields {
            if field.path.is_empty() {
                let search = self.text.as_ref().ok_or_else(no_text_score)?;
                values.push(Bson::Double(search.score(doc)));
                continue;
            }
            if let Some(value) = scalar_at(doc, &field.path) {
                values.push(value.clone());
                continue;
            }
            let mut found = Found::default();
            collect(doc, &field.path, 0, &mut found);
            if let Some(depth) = found.array_depth {
                let prefix = &field.path[..depth];
                if array_at.is_some_and(|earlier| earlier != prefix) {
                    return Err(Error::bad_value("cannot sort with keys that are parallel arrays"));
                }
                array_at = Some(prefix);
            }
            let chosen = if field.ascending {
                found.values.into_iter().min_by(|a, b| compare_values(a, b, collation))
            } else {
                found.values.into_iter().max_by(|a, b| compare_values(a, b, collation))
            };
            values.push(chosen.cloned().unwrap_or(Bson::Null));
        }
        Ok(SortKey(values))
    }

    /// `doc`'s key, encoded (see [`EncodedKey`]).
    pub fn encoded_key(&self, doc: &Document) -> Result<EncodedKey> {
        Ok(self.encode(&self.key(doc)?.0))
    }

    /// The encoded key of a document read from its bytes, as [`Sort::encoded_key`]
    /// gives it for the decoded document; `None` when the key needs the decoded
    /// document (a path meets an array, or the sort is by text score).
    pub fn raw_encoded_key(&self, raw: &RawDocument) -> Result<Option<EncodedKey>> {
        // A text score is not in the document.
        if self.fields.iter().any(|field| field.path.is_empty()) {
            return Ok(None);
        }
        // One walk over the document's fields finds each path's first step (the
        // first field of that name, as a lookup by name finds it).
        let mut firsts: Vec<Option<RawBsonRef<'_>>> = vec![None; self.fields.len()];
        let mut unfound = self.fields.len();
        for element in raw {
            let (name, value) = element.map_err(unreadable)?;
            for (field, first) in self.fields.iter().zip(&mut firsts) {
                if first.is_none() && field.path[0] == name {
                    *first = Some(value);
                    unfound -= 1;
                }
            }
            if unfound == 0 {
                break;
            }
        }
        let mut values = Vec::with_capacity(self.fields.len());
        for (field, first) in self.fields.iter().zip(firsts) {
            let reached = match first {
                None => Reached::Missing,
                Some(value) => reached_from(value, &field.path[1..])?,
            };
            match reached {
                Reached::Value(value) => values.push(value),
                Reached::Missing => values.push(Bson::Null),
                Reached::Array => return Ok(None),
            }
        }
        Ok(Some(self.encode(&values)))
    }

    /// The encoded key of the values a document sorts by, one per field.
    fn encode(&self, values: &[Bson]) -> EncodedKey {
        let mut bytes = Vec::with_capacity(16 * values.len());
        let mut blurred = false;
        for (field, value) in self.fields.iter().zip(values) {
            blurred |= encodes_blurred(value);
            let start = bytes.len();
            order::encode_value_collated(value, self.collation.as_deref(), &mut bytes);
            if !field.ascending {
                bytes[start..].iter_mut().for_each(|byte| *byte = !*byte);
            }
        }
        EncodedKey { bytes: bytes.into_boxed_slice(), blurred }
    }

    /// The order of the documents whose encoded keys are `a` and `b`: by bytes,
    /// and on a tie that may hide a difference, by the keys' values.
    pub fn compare_encoded(&self, a: (&EncodedKey, &Document), b: (&EncodedKey, &Document)) -> Ordering {
        self.compare_encoded_with(a.0.parts(), b.0.parts(), || self.compare_documents(a.1, b.1))
    }

    /// As [`Sort::compare_encoded`], for keys given as their [`EncodedKey::parts`]
    /// (bytes, and whether they are blurred), with `by_documents` settling a tie
    /// that may hide a difference (so a caller holding bytes decodes only then).
    pub fn compare_encoded_with(
        &self,
        (a, a_blurred): (&[u8], bool),
        (b, b_blurred): (&[u8], bool),
        by_documents: impl FnOnce() -> Ordering,
    ) -> Ordering {
        match a.cmp(b) {
            Ordering::Equal if a_blurred || b_blurred => by_documents(),
            order => order,
        }
    }

    /// The order of two documents by their keys (both of which could be computed
    /// once, so they can be again).
    pub fn compare_documents(&self, a: &Document, b: &Document) -> Ordering {
        match (self.key(a), self.key(b)) {
            (Ok(a), Ok(b)) => self.compare_keys(&a, &b),
            _ => Ordering::Equal,
        }
    }

    /// The order of two keys under this specification.
    pub fn compare_keys(&self, a: &SortKey, b: &SortKey) -> Ordering {
        for ((field, x), y) in self.fields.iter().zip(&a.0).zip(&b.0) {
            let order = compare_values(x, y, self.collation.as_deref());
            let order = if field.ascending { order } else { order.reverse() };
            if order != Ordering::Equal {
                return order;
            }
        }
        Ordering::Equal
    }

    /// Sorts `docs`, computing each key once. The sort is stable: documents with
    /// equal keys keep their order.
    pub fn sort(&self, docs: Vec<Document>) -> Result<Vec<Document>> {
        let mut keyed = docs.into_iter().map(|doc| Ok((self.key(&doc)?, doc))).collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|(a, _), (b, _)| self.compare_keys(a, b));
        Ok(keyed.into_iter().map(|(_, doc)| doc).collect())
    }
}

/// Whether `value`'s encoding may equal an unequal value's: a Decimal128 encodes as
/// the double nearest it, and a sort puts `undefined` (an empty array's key) before
/// `null`, which encodes alike.
fn encodes_blurred(value: &Bson) -> bool {
    match value {
        Bson::Decimal128(_) | Bson::Undefined => true,
        Bson::Document(doc) => doc.values().any(encodes_blurred),
        Bson::Array(items) => items.iter().any(encodes_blurred),
        Bson::JavaScriptCodeWithScope(code) => code.scope.values().any(encodes_blurred),
        _ => false,
    }
}

/// The value at a path through sub-documents only, when it is neither an array
/// nor missing (the common case, which needs no collecting).
fn scalar_at<'d>(doc: &'d Document, path: &[String]) -> Option<&'d Bson> {
    let (last, parents) = path.split_last()?;
    let mut at = doc;
    for part in parents {
        match at.get(part)? {
            Bson::Document(inner) => at = inner,
            _ => return None,
        }
    }
    at.get(last).filter(|value| !matches!(value, Bson::Array(_)))
}

/// What a sort path reaches in a document's bytes, through sub-documents only.
enum Reached {
    Value(Bson),
    /// Nothing, or a scalar before the path's end: the key is `null`.
    Missing,
    /// An array, whose elements the key is chosen among.
    Array,
}

fn unreadable(e: bson::raw::Error) -> Error {
    Error::Internal(format!("a document that does not read back: {e}"))
}

/// What the rest of a sort path, `rest`, reaches from `value`, which its first
/// steps reached.
fn reached_from(value: RawBsonRef<'_>, rest: &[String]) -> Result<Reached> {
    let Some((step, rest)) = rest.split_first() else {
        return Ok(match value {
            RawBsonRef::Array(_) => Reached::Array,
            value => Reached::Value(Bson::try_from(value).map_err(unreadable)?),
        });
    };
    match value {
        RawBsonRef::Document(inner) => match inner.get(step).map_err(unreadable)? {
            Some(value) => reached_from(value, rest),
            None => Ok(Reached::Missing),
        },
        RawBsonRef::Array(_) => Ok(Reached::Array),
        _ => Ok(Reached::Missing),
    }
}

/// The values a sort path reaches in a document.
#[derive(Default)]
struct Found<'d> {
    values: Vec<&'d Bson>,
    /// How many path components lead to the first array met, if any.
    array_depth: Option<usize>,
}

/// Stands for an empty array at the end of a path, which sorts before `null`.
static EMPTY_ARRAY: Bson = Bson::Undefined;

/// Collects the values `path[depth..]` reaches from `doc`: through documents, arrays
/// of documents and numeric array indexes; an array at the end of the path gives
/// its elements (an empty one, [`EMPTY_ARRAY`]).
fn collect<'d>(doc: &'d Document, path: &[String], depth: usize, found: &mut Found<'d>) {
    if let Some(value) = doc.get(&path[depth]) {
        collect_value(value, path, depth + 1, found);
    }
}

/// Collects what `path[depth..]` reaches from `value`, which `path[..depth]` reached.
fn collect_value<'d>(value: &'d Bson, path: &[String], depth: usize, found: &mut Found<'d>) {
    let at_end = depth == path.len();
    match value {
        Bson::Array(items) => {
            found.array_depth.get_or_insert(depth);
            if at_end {
                if items.is_empty() {
                    found.values.push(&EMPTY_ARRAY);
                }
                found.values.extend(items.iter());
                return;
            }
            if let Some(item) = path[depth].parse::<usize>().ok().and_then(|index| items.get(index)) {
                collect_value(item, path, depth + 1, found);
            }
            for item in items {
                if let Bson::Document(sub) = item {
                    collect(sub, path, depth, found);
                }
            }
        }
        _ if at_end => found.values.push(value),
        Bson::Document(sub) => collect(sub, path, depth, found),
        _ => {}
    }
}

/// MongoDB's order of two sort values: [`order::compare`], except that an empty
/// array ([`EMPTY_ARRAY`], BSON undefined) sorts after MinKey and before everything
/// else.
fn compare_values(a: &Bson, b: &Bson, collation: Option<&Collation>) -> Ordering {
    match (a, b) {
        (Bson::Undefined, Bson::Undefined) => Ordering::Equal,
        (Bson::Undefined, Bson::MinKey) => Ordering::Greater,
        (Bson::Undefined, _) => Ordering::Less,
        (Bson::MinKey, Bson::Undefined) => Ordering::Less,
        (_, Bson::Undefined) => Ordering::Greater,
        _ => order::compare_collated(a, b, collation),
    }
}

/// A sort direction as MongoDB reads it (`safeNumberLong`): truncated toward zero.
fn number_as_i64(value: &Bson) -> i64 {
    match value {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(n) if n.is_nan() => 0,
        Bson::Double(n) => *n as i64,
        Bson::Decimal128(d) => d.to_string().parse::<f64>().map_or(0, |n| n as i64),
        _ => 0,
    }
}

/// Checks a `{$meta: …}` sort: only `textScore` is kept (branchdb keeps no random
/// values or search scores).
fn check_meta(meta: &Document) -> Result<()> {
    let Some((key, name)) = meta.iter().next() else {
        return Err(Error::command(
            ErrorCode::Location17312,
            "$meta is the only expression supported by $sort right now",
        ));
    };
    if key != "$meta" {
        return Err(Error::command(
            ErrorCode::Location17312,
            "$meta is the only expression supported by $sort right now",
        ));
    }
    if meta.len() > 1 {
        return Err(Error::command(
            ErrorCode::FailedToParse,
            "Cannot have additional keys in a $meta sort specification",
        ));
    }
    match name.as_str() {
        Some("textScore") => Ok(()),
        Some(name @ ("randVal" | "geoNearDistance" | "searchScore")) => {
            Err(Error::bad_value(format!("$meta sort by \"{name}\" is not supported")))
        }
        _ => Err(Error::command(ErrorCode::Location31138, format!("Illegal $meta sort: {}", shell_element(key, name)))),
    }
}

/// MongoDB's error for text scores asked of a query without `$text`.
pub fn no_text_score() -> Error {
    Error::command(ErrorCode::Location40218, "query requires text score metadata, but it is not available")
}

#[cfg(test)]
mod tests {
    use bson::{doc, Bson, Document};

    use super::*;
    use crate::query::golden;

    /// Runs one case: sorts the group's documents and compares the `_id` order, or
    /// checks the error code and message.
    fn run_case(group: &Document, case: &Document) -> std::result::Result<(), String> {
        let spec = case.get_document("sort").map_err(|e| format!("no sort: {e}"))?;
        let docs: Vec<Document> = group
            .get_array("docs")
            .map_err(|e| format!("no docs: {e}"))?
            .iter()
            .filter_map(|d| d.as_document().cloned())
            .collect();
        let result = Sort::parse(spec).and_then(|sort| sort.sort(docs));
        match (result, case.get_i32("error")) {
            (Ok(sorted), Err(_)) => {
                let got: Vec<Bson> = sorted.iter().map(|d| d.get("_id").cloned().unwrap_or(Bson::Null)).collect();
                let expected = case.get_array("expected").map_err(|_| "no expected order")?;
                if &got == expected {
                    Ok(())
                } else {
                    Err(format!("got order {got:?}, expected {expected:?}"))
                }
            }
            (Ok(_), Ok(code)) => Err(format!("expected error {code}, got a sorted result")),
            (Err(e), Ok(code)) if e.code().code() != code => Err(format!("expected error {code}, got {e}")),
            (Err(e), Ok(_)) => match (case.get_str("message"), &e) {
                (Ok(msg), Error::Command { message, .. }) if msg != message => {
                    Err(format!("expected message {msg:?}, got {message:?}"))
                }
                _ => Ok(()),
            },
            (Err(e), Err(_)) => Err(format!("unexpected error {e}")),
        }
    }

    #[test]
    fn golden_sorts() {
        let groups = golden::load(include_str!("golden/sorts.json"));
        let (mut total, mut failures) = (0, Vec::new());
        for group in &groups {
            for (index, case) in group.body.get_array("cases").expect("cases").iter().enumerate() {
                total += 1;
                let case = case.as_document().expect("a case is an object");
                if let Err(why) = run_case(&group.body, case) {
                    let spec = case.get_document("sort").map_or(String::new(), |s| s.to_string());
                    failures.push(format!("{} ({}) #{index} {spec}: {why}", group.name, group.doc));
                }
            }
        }
        assert!(failures.is_empty(), "{} golden sort failures:\n{}", failures.len(), failures.join("\n"));
        assert_eq!(total, 38, "the number of golden sort cases");
    }

    #[test]
    fn a_key_is_computed_once_per_document() {
        let sort = Sort::parse(&doc! {"a": 1, "b": -1}).expect("sort");
        let key = sort.key(&doc! {"a": [3, 1, 2], "b": "x"}).expect("key");
        assert_eq!(key, SortKey(vec![Bson::Int32(1), Bson::String("x".into())]));
        let docs: Vec<Document> = (0..100_000).rev().map(|i| doc! {"_id": i, "a": {"b": i % 1000}}).collect();
        let sorted = Sort::parse(&doc! {"a.b": 1, "_id": 1}).expect("sort").sort(docs).expect("sorted");
        assert_eq!(sorted.first().and_then(|d| d.get_i32("_id").ok()), Some(0));
        assert_eq!(sorted.get(1).and_then(|d| d.get_i32("_id").ok()), Some(1000));
        assert_eq!(sorted.last().and_then(|d| d.get_i32("_id").ok()), Some(99_999));
    }

    /// Encoded keys order documents exactly as their values do, in both directions,
    /// across types, numbers of every kind (a Decimal128 next to the double nearest
    /// it), nested documents and arrays, `undefined` next to `null`.
    #[test]
    fn encoded_keys_order_as_values_do() {
        let values: Vec<Bson> = vec![
            Bson::MinKey,
            Bson::Null,
            Bson::Array(vec![]),
            Bson::Int32(-3),
            Bson::Int64(i64::MAX),
            Bson::Int64(i64::MAX - 1),
            Bson::Double(9.223372036854776e18),
            Bson::Double(0.1),
            Bson::Decimal128("0.1".parse().expect("decimal")),
            Bson::Decimal128("0.10000000000000001".parse().expect("decimal")),
            Bson::Double(-0.0),
            Bson::Int32(0),
            Bson::Double(f64::NAN),
            Bson::Double(f64::NEG_INFINITY),
            Bson::String(String::new()),
            Bson::String("a".into()),
            Bson::String("a\0b".into()),
            Bson::String("ab".into()),
            Bson::Document(doc! {"x": 1}),
            Bson::Document(doc! {"x": 1, "y": null}),
            Bson::Document(doc! {"x": Bson::Decimal128("1.5".parse().expect("decimal"))}),
            Bson::Document(doc! {"x": 1.5}),
            Bson::Array(vec![Bson::Int32(1), Bson::Int32(2)]),
            Bson::Boolean(false),
            Bson::Boolean(true),
            Bson::DateTime(bson::DateTime::from_millis(-5)),
            Bson::DateTime(bson::DateTime::from_millis(5)),
            Bson::MaxKey,
        ];
        let docs: Vec<Document> = values.iter().map(|v| doc! {"a": v.clone(), "b": 1}).collect();
        for spec in [doc! {"a": 1, "b": 1}, doc! {"a": -1, "b": 1}] {
            let sort = Sort::parse(&spec).expect("sort");
            for x in &docs {
                for y in &docs {
                    let by_values = sort.compare_keys(&sort.key(x).expect("key"), &sort.key(y).expect("key"));
                    let (kx, ky) = (sort.encoded_key(x).expect("key"), sort.encoded_key(y).expect("key"));
                    assert_eq!(sort.compare_encoded((&kx, x), (&ky, y)), by_values, "{spec}: {x} against {y}");
                }
            }
        }
    }
}
