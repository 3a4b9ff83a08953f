//! Query planning: how a query reaches its candidate documents. A filter that pins
//! an `_id` reads one document; one whose conditions an index can narrow (an
//! equality, a range, an `$in`, on a prefix of the index's fields) reads the index's
//! entries in those ranges of keys; a sort an index's order gives reads that index;
//! anything else scans the collection. Every candidate is still checked against
//! the whole filter, so ranges only have to hold every match (they may hold more).
//!
//! Ranges are computed on encoded keys (see `value::order`): a field's condition
//! becomes intervals of its encoding, each bounded by an [`Edge`], and the fields
//! of a compound index concatenate.

mod collated;
mod geo;
mod hashed;
mod text;
mod wildcard;

use std::cmp::Ordering;
use std::collections::HashMap;
use std::sync::Arc;

use bson::{Bson, Document};

use super::filter::{Filter, Narrowing};
use crate::error::{Error, Result};
use crate::index::{Index, ID_INDEX};
use crate::store::Collection;
use crate::value::collation::Collation;
use crate::value::order::{encode_value, rank};

pub use geo::NearScan;

/// How a query reads its candidates.
#[derive(Debug, Clone)]
pub enum Access {
    /// Every document, in the collection's natural order (its `_id`s', or a capped
    /// collection's insertion order), or the opposite.
    CollectionScan {
        backwards: bool,
    },
    /// The one document whose `_id` the filter pins.
    IdLookup(Bson),
    IndexScan(Box<IndexScan>),
    /// A geo index read nearest first (`$near`, `$nearSphere`, `$geoNear`).
    Near(Box<NearScan>),
}

/// A scan of an index over ranges of keys.
#[derive(Debug, Clone)]
pub struct IndexScan {
    pub index: Index,
    /// Key ranges `[lower, upper)` in key order, disjoint; an empty `upper` is
    /// unbounded.
    pub ranges: Vec<(Vec<u8>, Vec<u8>)>,
    /// Scan the ranges from the highest key down.
    pub reverse: bool,
    /// The bounds as `explain` shows them: `{field: ["[5, 5]"]}`.
    pub bounds: Document,
}

/// A chosen plan.
#[derive(Debug, Clone)]
pub struct Plan {
    pub access: Access,
    /// The access returns documents in the query's sort order: no sort needed.
    pub sorted: bool,
}

impl Plan {
    /// A plan that scans the collection.
    pub fn collection_scan() -> Plan {
        Plan { access: Access::CollectionScan { backwards: false }, sorted: false }
    }
}

/// Chooses how to read the documents of `collection` that may match `filter`, to
/// be returned in the order of `sort` (a sort specification) when given. `hint`
/// names an index (by name or key pattern) or `{$natural: 1}`.
pub fn choose(collection: &Collection, filter: &Filter, sort: Option<&Document>, hint: Option<&Bson>) -> Result<Plan> {
    if filter.has_text() {
        return text::plan(collection, filter, hint);
    }
    if filter.near().is_some() {
        if sort.is_some_and(|s| s.contains_key("$natural")) {
            return Err(Error::bad_value("geoNear expression not allowed with $natural sort order"));
        }
        if matches!(hint, Some(Bson::Document(h)) if h.contains_key("$natural")) {
            return Err(Error::bad_value("geoNear expression not allowed with $natural hint"));
        }
        let scan = geo::near_plan(collection, filter, hint)?;
        return Ok(Plan { access: Access::Near(Box::new(scan)), sorted: sort.is_none_or(|s| s.is_empty()) });
    }
    // A `$natural` sort is a collection scan's own order.
    if let Some(backwards) = sort.and_then(natural) {
        return Ok(Plan { access: Access::CollectionScan { backwards }, sorted: true });
    }
    let sort = sort.map(sort_fields).unwrap_or_default();
    let bounds = FieldBounds::of(filter);
    if let Some(hint) = hint {
        return hinted(collection, filter, &bounds, &sort, hint);
    }
    if let Some(id) = filter.id_equality() {
        return Ok(Plan { access: Access::IdLookup(id.clone()), sorted: true });
    }
    let best = collection
        .indexes
        .iter()
        .filter(|index| !index.spec.get_bool("hidden").unwrap_or(false) && index.text.is_none())
        .filter_map(|index| candidate(index, filter, &bounds, &sort, false))
        .filter(|c| c.score > (0, false, false))
        .reduce(|best, c| if c.score > best.score { c } else { best });
    Ok(match best {
        Some(c) => Plan { sorted: c.sorted, access: Access::IndexScan(Box::new(c.scan)) },
        None => Plan { access: Access::CollectionScan { backwards: false }, sorted: in_id_order(collection, &sort) },
    })
}

/// As [`choose`], for a query whose strings compare by `collation`: an index with
/// the same collation serves the query's equalities on its leading fields; other
/// indexes and the `_id` order hold strings in byte order, so only a single
/// document gives the sort's order; the rest is sorted after reading.
pub fn choose_collated(
    collection: &Collection,
    filter: &Filter,
    sort: Option<&Document>,
    hint: Option<&Bson>,
    collation: Option<&Arc<Collation>>,
) -> Result<Plan> {
    let Some(collation) = collation.filter(|_| sort.and_then(natural).is_none()) else {
        return choose(collection, filter, sort, hint);
    };
    let mut plan = match hint.is_none() && filter.id_equality().is_none() && !filter.has_text() {
        true => match collated::equality_scan(collection, filter, collation) {
            Some(plan) => plan,
            None => choose(collection, filter, None, hint)?,
        },
        false => choose(collection, filter, None, hint)?,
    };
    plan.sorted = sort.is_none() || matches!(plan.access, Access::IdLookup(_));
    Ok(plan)
}

/// Whether a sort is the `_id` order a scan of `collection` reads in (a capped
/// collection's is its insertion order).
fn in_id_order(collection: &Collection, sort: &[(String, bool)]) -> bool {
    matches!(sort, [(path, false)] if path == "_id") && !crate::store::capped::is_capped(&collection.options)
}

/// The direction a `{$natural: <n>}` sort or hint asks for (`true`: backwards);
/// `None` for any other.
pub fn natural(spec: &Document) -> Option<bool> {
    match spec.iter().next() {
        Some((key, value)) if spec.len() == 1 && key == "$natural" => {
            Some(crate::value::number::as_f64(value).is_some_and(|n| n < 0.0))
        }
        _ => None,
    }
}

/// The plan a hint asks for; MongoDB's BadValue when it names no usable index.
fn hinted(
    collection: &Collection,
    filter: &Filter,
    bounds: &HashMap<&str, FieldBounds>,
    sort: &[(String, bool)],
    hint: &Bson,
) -> Result<Plan> {
    if let Bson::Document(pattern) = hint {
        if pattern.contains_key("$natural") {
            let backwards = natural(pattern).unwrap_or(false);
            return Ok(Plan { access: Access::CollectionScan { backwards }, sorted: sort.is_empty() });
        }
    }
    match hinted_index(collection, hint)? {
        // The `_id` index is the documents' own order.
        None => Ok(match filter.id_equality() {
            Some(id) => Plan { access: Access::IdLookup(id.clone()), sorted: true },
            None => Plan { access: Access::CollectionScan { backwards: false }, sorted: in_id_order(collection, sort) },
        }),
        // A text index serves `$text` only.
        Some(index) if index.text.is_some() => Err(unusable_hint()),
        Some(index) => {
            let c = candidate(index, filter, bounds, sort, true).ok_or_else(unusable_hint)?;
            Ok(Plan { sorted: c.sorted, access: Access::IndexScan(Box::new(c.scan)) })
        }
    }
}

/// The index a hint names (`None`: the `_id` index or `$natural`); MongoDB's
/// BadValue when there is no such index.
fn hinted_index<'c>(collection: &'c Collection, hint: &Bson) -> Result<Option<&'c Index>> {
    let index = match hint {
        Bson::String(name) if name == ID_INDEX => return Ok(None),
        Bson::String(name) => collection.index(name),
        Bson::Document(pattern) if pattern.contains_key("$natural") => return Ok(None),
        Bson::Document(pattern) if crate::index::is_id_pattern(pattern) => return Ok(None),
        Bson::Document(pattern) => collection.indexes.iter().find(|i| &i.pattern() == pattern),
        _ => return Err(Error::bad_value("hint must be a string or an object")),
    };
    index.map(Some).ok_or_else(unusable_hint)
}

fn unusable_hint() -> Error {
    Error::bad_value(
        "error processing query: planner returned error :: caused by :: hint provided does not correspond to an existing index",
    )
}

/// An index scan the planner could use, and how good it is: (fields with one or
/// more points, a range after them, gives the sort order).
struct Candidate {
    scan: IndexScan,
    sorted: bool,
    score: (usize, bool, bool),
}

/// The scan of `index` for a query, or `None` when the index cannot answer it
/// (it is sparse or partial and may miss matches). `hinted`: use it even for a
/// whole scan, as long as it has every match.
fn candidate<'f>(
    index: &Index,
    filter: &'f Filter,
    bounds: &HashMap<&'f str, FieldBounds>,
    sort: &[(String, bool)],
    hinted: bool,
) -> Option<Candidate> {
    if index.geo.is_some() {
        let mut c = geo::candidate(index, filter, bounds, hinted)?;
        c.sorted = sort.is_empty();
        return Some(c);
    }
    if let Some(field) = index.fields.iter().find(|field| field.hashed) {
        return hashed::candidate(index, &field.path, filter, bounds, sort, hinted);
    }
    if let Some(wildcard) = &index.wildcard {
        // Collated strings are collation keys there: by-bytes bounds do not fit.
        return match index.collation {
            Some(_) => None,
            None => wildcard::candidate(index, wildcard, filter, bounds),
        };
    }
    if index.collation.is_none() {
        return candidate_by_bounds(index, bounds, sort, hinted);
    }
    // An index with a collation holds strings as collation keys: bounds made of
    // values by bytes do not fit it, nor does its order give a sort by bytes. Read
    // whole when hinted, else not at all.
    let mut whole = candidate_by_bounds(index, &HashMap::new(), &[], hinted).filter(|_| hinted)?;
    whole.sorted = sort.is_empty();
    Some(whole)
}

/// As [`candidate`], for an index whose keys order as values do.
fn candidate_by_bounds(
    index: &Index,
    bounds: &HashMap<&str, FieldBounds>,
    sort: &[(String, bool)],
    hinted: bool,
) -> Option<Candidate> {
    let full = FieldBounds::default();
    let field_bounds: Vec<&FieldBounds> =
        index.fields.iter().map(|f| bounds.get(f.path.as_str()).unwrap_or(&full)).collect();
    if index.sparse && !field_bounds.first().is_some_and(|b| b.present) && !hinted {
        return None;
    }
    if let Some(partial) = &index.partial {
        if !implies(bounds, partial) {
            return None;
        }
    }
    // Fields bounded by points extend every key prefix; the first bounded by
    // ranges ends the prefixes; later fields are unbounded.
    let mut prefixes: Vec<Vec<u8>> = vec![Vec::new()];
    let mut shown = Document::new();
    let mut points = 0;
    let mut single_points = 0;
    let mut last: Option<Vec<Interval>> = None;
    for (field, b) in index.fields.iter().zip(&field_bounds) {
        let intervals = b.directed(index.multikey, field.descending);
        shown.insert(field.path.clone(), intervals.iter().map(|i| i.shown(field.descending)).collect::<Vec<_>>());
        if last.is_some() || !b.narrowed() {
            if last.is_none() {
                last = Some(intervals);
            }
            continue;
        }
        match intervals.iter().map(Interval::point).collect::<Option<Vec<_>>>() {
            Some(keys) if prefixes.len() * keys.len() <= MAX_RANGES => {
                prefixes = prefixes.iter().flat_map(|p| keys.iter().map(move |k| [p.as_slice(), k].concat())).collect();
                points += 1;
                if keys.len() == 1 && single_points + 1 == points {
                    single_points += 1;
                }
            }
            _ => last = Some(intervals),
        }
    }
    let ranged = last.as_ref().is_some_and(|l| l.len() != 1 || !l[0].is_full());
    let tail = last.unwrap_or_else(|| vec![Interval::full()]);
    let mut ranges: Vec<(Vec<u8>, Vec<u8>)> = Vec::new();
    for prefix in &prefixes {
        for interval in &tail {
            let lower = interval.lower.under(prefix).position();
            let upper = interval.upper.under(prefix).position();
            if upper.is_empty() || lower < upper {
                ranges.push((lower, upper));
            }
        }
    }
    let (sorted, reverse) = sort_order(index, sort, single_points);
    let scan = IndexScan { index: index.clone(), ranges: merge(ranges), reverse, bounds: shown };
    Some(Candidate { scan, sorted, score: (points, ranged, sorted) })
}

/// Most ranges a scan is split into; past that, a field's points become one range.
const MAX_RANGES: usize = 4096;

/// Whether scanning `index` (forward, or in reverse) gives the order of `sort`:
/// its fields are the index's, after leading fields bounded to one point each,
/// all in the index's directions or all opposite. A multikey index has no order.
fn sort_order(index: &Index, sort: &[(String, bool)], single_points: usize) -> (bool, bool) {
    if sort.is_empty() || index.multikey {
        return (false, false);
    }
    for skip in 0..=single_points {
        let Some(fields) = index.fields.get(skip..skip + sort.len()) else { break };
        if !fields.iter().zip(sort).all(|(f, (path, _))| &f.path == path) {
            continue;
        }
        let same: Vec<bool> = fields.iter().zip(sort).map(|(f, (_, desc))| f.descending == *desc).collect();
        if same.iter().all(|&s| s) {
            return (true, false);
        }
        if same.iter().all(|&s| !s) {
            return (true, true);
        }
    }
    (false, false)
}

/// Sorts ranges by their lower bound and joins those that overlap.
fn merge(mut ranges: Vec<(Vec<u8>, Vec<u8>)>) -> Vec<(Vec<u8>, Vec<u8>)> {
    ranges.sort();
    let mut out: Vec<(Vec<u8>, Vec<u8>)> = Vec::with_capacity(ranges.len());
    for (lower, upper) in ranges {
        match out.last_mut() {
            Some((_, last)) if !last.is_empty() && lower <= *last => {
                if upper.is_empty() || upper > *last {
                    *last = upper;
                }
            }
            Some((_, last)) if last.is_empty() => {}
            _ => out.push((lower, upper)),
        }
    }
    out
}

/// Whether every document matching a query with `bounds` matches the partial
/// filter `partial`: each of its conditions narrows a path, and on that path one
/// of the query's conditions allows only values within all of the filter's.
fn implies(bounds: &HashMap<&str, FieldBounds>, partial: &Filter) -> bool {
    if !partial.only_narrowings() {
        return false;
    }
    FieldBounds::of(partial).iter().all(|(path, needed)| {
        let Some(query) = bounds.get(path) else { return false };
        if needed.present && !query.present {
            return false;
        }
        let allowed = needed.intervals(false);
        !needed.narrowed() || query.sets.iter().any(|set| set.iter().all(|q| allowed.iter().any(|n| n.contains(q))))
    })
}

/// The sort specification as (path, descending) pairs.
fn sort_fields(sort: &Document) -> Vec<(String, bool)> {
    sort.iter().map(|(path, direction)| (path.clone(), crate::index::is_descending(direction))).collect()
}

/// What a query's conditions say of one path.
#[derive(Debug, Clone, Default)]
struct FieldBounds {
    /// For each condition on the path, intervals (ascending) holding some value a
    /// match has there. Through an array, different conditions may hold for
    /// different elements, so only an index that is not multikey may intersect them.
    sets: Vec<Vec<Interval>>,
    /// Every match has the path (it has a non-null value there, or `$exists`).
    present: bool,
}

impl FieldBounds {
    /// The bounds of each path a filter narrows.
    fn of(filter: &Filter) -> HashMap<&str, FieldBounds> {
        let mut out: HashMap<&str, FieldBounds> = HashMap::new();
        let null = Interval::point_of(&Bson::Null);
        for (path, narrowing) in filter.narrowings() {
            let bounds = out.entry(path).or_default();
            if narrowing == Narrowing::Exists {
                bounds.present = true;
                continue;
            }
            let Some(set) = intervals(narrowing) else { continue };
            bounds.present |= !set.iter().any(|i| i.overlaps(&null));
            bounds.sets.push(set);
        }
        out
    }

    fn narrowed(&self) -> bool {
        !self.sets.is_empty()
    }

    /// The intervals every match has a value in: all conditions' intersection, or
    /// for a multikey index the first condition's.
    fn intervals(&self, multikey: bool) -> Vec<Interval> {
        let mut sets = self.sets.iter();
        let Some(first) = sets.next() else { return vec![Interval::full()] };
        if multikey {
            return first.clone();
        }
        sets.fold(first.clone(), |acc, set| {
            acc.iter().flat_map(|a| set.iter().filter_map(|b| a.intersect(b))).collect()
        })
    }

    /// The intervals in the order of a field of that direction, each flipped for
    /// a descending one.
    fn directed(&self, multikey: bool, descending: bool) -> Vec<Interval> {
        let intervals = self.intervals(multikey);
        match descending {
            false => intervals,
            true => intervals.iter().rev().map(Interval::flipped).collect(),
        }
    }
}

/// The intervals of encoded values a condition allows; `None` when it cannot be
/// expressed (arrays, regular expressions and the like keep their own rules).
fn intervals(narrowing: Narrowing<'_>) -> Option<Vec<Interval>> {
    let comparable = |v: &Bson| {
        !matches!(
            v,
            Bson::Array(_) | Bson::RegularExpression(_) | Bson::MinKey | Bson::MaxKey | Bson::Null | Bson::Undefined
        )
    };
    let mut out = match narrowing {
        Narrowing::Eq(v) if comparable(v) || matches!(v, Bson::Null) => vec![Interval::point_of(v)],
        Narrowing::In(values) if values.iter().all(|v| comparable(v) || matches!(v, Bson::Null)) => {
            values.iter().map(Interval::point_of).collect()
        }
        // A number's key is shared by decimals that differ from it beyond a
        // double's precision, so a strict bound keeps its own key in the scan and
        // the filter drops what is equal.
        Narrowing::Gt(v) if comparable(v) => vec![Interval::range(v, Some(false), None).keeping_numbers_key(v, true)],
        Narrowing::Gte(v) if comparable(v) => vec![Interval::range(v, Some(true), None)],
        Narrowing::Lt(v) if comparable(v) => vec![Interval::range(v, None, Some(false)).keeping_numbers_key(v, false)],
        Narrowing::Lte(v) if comparable(v) => vec![Interval::range(v, None, Some(true))],
        _ => return None,
    };
    out.sort_by(|a, b| compare_places(&a.lower, &b.lower));
    out.dedup_by(|a, b| a.lower == b.lower && a.upper == b.upper);
    Some(out)
}

fn is_number(value: &Bson) -> bool {
    matches!(value, Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_))
}

/// A place between encoded keys: just before every key that starts with `bytes`,
/// or just after them all. `Before([])` is the lowest place, `After([])` the highest.
#[derive(Debug, Clone, PartialEq)]
struct Edge {
    bytes: Vec<u8>,
    after: bool,
}

impl Edge {
    fn before(bytes: Vec<u8>) -> Edge {
        Edge { bytes, after: false }
    }

    fn after(bytes: Vec<u8>) -> Edge {
        Edge { bytes, after: true }
    }

    /// The smallest key at or past this place; empty for the highest place.
    fn position(&self) -> Vec<u8> {
        match self.after {
            false => self.bytes.clone(),
            true => crate::store::prefix_end(&self.bytes),
        }
    }

    /// This place among keys that start with `prefix`.
    fn under(&self, prefix: &[u8]) -> Edge {
        Edge { bytes: [prefix, &self.bytes].concat(), after: self.after }
    }

    /// The place in the inverted encoding of a descending field.
    fn flipped(&self) -> Edge {
        Edge { bytes: self.bytes.iter().map(|b| !b).collect(), after: !self.after }
    }
}

/// Compares places. An empty position is the lowest place before anything and
/// the highest after something.
fn compare_places(a: &Edge, b: &Edge) -> Ordering {
    let key = |e: &Edge| {
        let position = e.position();
        let class = match (position.is_empty(), e.after) {
            (true, false) => 0,
            (true, true) => 2,
            (false, _) => 1,
        };
        (class, position)
    };
    key(a).cmp(&key(b))
}

/// The keys between two places, with how `explain` shows them.
#[derive(Debug, Clone)]
struct Interval {
    lower: Edge,
    upper: Edge,
    /// `[`/`(`, the lower value, the upper value, `]`/`)`, as `explain` shows them.
    shown: (bool, String, String, bool),
}

impl Interval {
    fn full() -> Interval {
        Interval {
            lower: Edge::before(Vec::new()),
            upper: Edge::after(Vec::new()),
            shown: (true, "MinKey".into(), "MaxKey".into(), true),
        }
    }

    fn is_full(&self) -> bool {
        self.lower == Edge::before(Vec::new()) && self.upper == Edge::after(Vec::new())
    }

    fn point_of(value: &Bson) -> Interval {
        let mut bytes = Vec::new();
        encode_value(value, &mut bytes);
        let text = show(value);
        Interval {
            lower: Edge::before(bytes.clone()),
            upper: Edge::after(bytes),
            shown: (true, text.clone(), text, true),
        }
    }

    /// The values from `low` to `high`, both included.
    fn between(low: &Bson, high: &Bson) -> Interval {
        let (mut lower, mut upper) = (Vec::new(), Vec::new());
        encode_value(low, &mut lower);
        encode_value(high, &mut upper);
        Interval { lower: Edge::before(lower), upper: Edge::after(upper), shown: (true, show(low), show(high), true) }
    }

    /// The values of `value`'s type bracket above it (`lower` given: inclusive or
    /// not) or below it (`upper` given).
    fn range(value: &Bson, lower: Option<bool>, upper: Option<bool>) -> Interval {
        let mut bytes = Vec::new();
        encode_value(value, &mut bytes);
        let bracket = vec![rank(value)];
        let (low_end, high_end) = bracket_ends(value);
        match (lower, upper) {
            (Some(inclusive), _) => Interval {
                lower: if inclusive { Edge::before(bytes) } else { Edge::after(bytes) },
                upper: Edge::after(bracket),
                shown: (inclusive, show(value), high_end, true),
            },
            (None, inclusive) => {
                let inclusive = inclusive.unwrap_or(false);
                Interval {
                    lower: Edge::before(bracket),
                    upper: if inclusive { Edge::after(bytes) } else { Edge::before(bytes) },
                    shown: (true, low_end, show(value), inclusive),
                }
            }
        }
    }

    /// A strict bound at a number widened to take in the number's own key (the
    /// bound `explain` shows is unchanged).
    fn keeping_numbers_key(mut self, value: &Bson, above: bool) -> Interval {
        match (is_number(value), above) {
            // Above the value: start before its key, not after it.
            (true, true) => self.lower.after = false,
            // Below it: end after its key, not before it.
            (true, false) => self.upper.after = true,
            (false, _) => {}
        }
        self
    }

    /// The interval's keys when it has exactly one: an equality.
    fn point(&self) -> Option<Vec<u8>> {
        (!self.lower.after && self.upper.after && self.lower.bytes == self.upper.bytes && !self.lower.bytes.is_empty())
            .then(|| self.lower.bytes.clone())
    }

    fn intersect(&self, other: &Interval) -> Option<Interval> {
        let (lower, low_shown) = match compare_places(&self.lower, &other.lower) {
            Ordering::Less => (&other.lower, &other.shown),
            _ => (&self.lower, &self.shown),
        };
        let (upper, high_shown) = match compare_places(&self.upper, &other.upper) {
            Ordering::Greater => (&other.upper, &other.shown),
            _ => (&self.upper, &self.shown),
        };
        (compare_places(lower, upper) == Ordering::Less).then(|| Interval {
            lower: lower.clone(),
            upper: upper.clone(),
            shown: (low_shown.0, low_shown.1.clone(), high_shown.2.clone(), high_shown.3),
        })
    }

    fn overlaps(&self, other: &Interval) -> bool {
        self.intersect(other).is_some()
    }

    fn contains(&self, other: &Interval) -> bool {
        compare_places(&self.lower, &other.lower) != Ordering::Greater
            && compare_places(&self.upper, &other.upper) != Ordering::Less
    }

    fn flipped(&self) -> Interval {
        Interval { lower: self.upper.flipped(), upper: self.lower.flipped(), shown: self.shown.clone() }
    }

    /// As `explain` shows it: `[5, 10)`, reversed for a descending field.
    fn shown(&self, descending: bool) -> String {
        let (low_inclusive, low, high, high_inclusive) = &self.shown;
        let open = |inclusive: bool| if inclusive { '[' } else { '(' };
        let close = |inclusive: bool| if inclusive { ']' } else { ')' };
        match descending {
            false => format!("{}{low}, {high}{}", open(*low_inclusive), close(*high_inclusive)),
            true => format!("{}{high}, {low}{}", open(*high_inclusive), close(*low_inclusive)),
        }
    }
}

/// A value as index bounds show it.
fn show(value: &Bson) -> String {
    match value {
        Bson::Double(d) if d.is_infinite() => format!("{}inf.0", if *d < 0.0 { "-" } else { "" }),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => format!("{d:.1}"),
        Bson::ObjectId(id) => format!("ObjectId('{id}')"),
        Bson::DateTime(d) => format!("new Date({})", d.timestamp_millis()),
        Bson::Null => "null".into(),
        other => other.to_string(),
    }
}

/// How `explain` shows the two ends of a value's type bracket.
fn bracket_ends(value: &Bson) -> (String, String) {
    let (low, high) = match value {
        Bson::Double(_) | Bson::Int32(_) | Bson::Int64(_) | Bson::Decimal128(_) => ("-inf.0", "inf.0"),
        Bson::String(_) | Bson::Symbol(_) => ("\"\"", "{}"),
        Bson::Document(_) => ("{}", "[]"),
        Bson::ObjectId(_) => ("ObjectId('000000000000000000000000')", "ObjectId('ffffffffffffffffffffffff')"),
        Bson::Boolean(_) => ("false", "true"),
        Bson::DateTime(_) => ("new Date(-9223372036854775808)", "new Date(9223372036854775807)"),
        _ => ("MinKey", "MaxKey"),
    };
    (low.into(), high.into())
}
