//! `$bucket` (documents grouped into ranges between given boundaries) and
//! `$bucketAuto` (into a number of ranges of about equal counts).
//!
//! `$bucket` is what MongoDB makes of it: a `$group` whose `_id` is a `$switch`
//! picking the range's lower boundary (or the default), then a `$sort` by `_id`.

use std::cmp::Ordering;

use bson::{doc, Bson, Document};

use super::granularity::Granularity;
use super::group::{Accumulators, Group};
use super::held::Held;
use super::Stage;
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{self, show, type_name, Expr, Variables};
use crate::query::Sort;
use crate::value::order;
use crate::value::size::{document_footprint, value_footprint};

/// Compiles `$bucket: {groupBy, boundaries, default, output}` into a `$group` and a
/// `$sort`.
pub(super) fn parse_bucket(argument: &Bson, vars: &Variables) -> Result<Vec<Stage>> {
    let Bson::Document(spec) = argument else {
        let message =
            format!("Argument to $bucket stage must be an object, but found type: {}.", type_name(Some(argument)));
        return Err(Error::command(ErrorCode::Location40201, message));
    };
    let (mut group_by, mut boundaries, mut default, mut output) = (None, Vec::new(), None, None);
    for (name, value) in spec {
        match name.as_str() {
            "groupBy" => {
                if !is_group_by(value) {
                    let message = format!(
                        "The $bucket 'groupBy' field must be defined as a $-prefixed path or an expression, but found: {}.",
                        show(Some(value))
                    );
                    return Err(Error::command(ErrorCode::Location40202, message));
                }
                group_by = Some(value);
            }
            "boundaries" => boundaries = parse_boundaries(value, vars)?,
            "default" => match Expr::parse(value, vars)?.constant() {
                Some(constant) => default = Some(constant.clone()),
                None => {
                    let message = format!(
                        "The $bucket 'default' field must be a constant expression, but found: {}.",
                        show(Some(value))
                    );
                    return Err(Error::command(ErrorCode::Location40195, message));
                }
            },
            "output" => match value {
                Bson::Document(fields) => output = Some(fields),
                other => {
                    let message = format!(
                        "The $bucket 'output' field must be an object, but found type: {}.",
                        type_name(Some(other))
                    );
                    return Err(Error::command(ErrorCode::Location40196, message));
                }
            },
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40197,
                    format!("Unrecognized option to $bucket: {name}."),
                ))
            }
        }
    }
    let (Some(group_by), Some(lowest), Some(highest)) = (group_by, boundaries.first(), boundaries.last()) else {
        return Err(Error::command(
            ErrorCode::Location40198,
            "$bucket requires 'groupBy' and 'boundaries' to be specified.",
        ));
    };
    if let Some(default) = &default {
        let inside = order::rank(default) == order::rank(lowest)
            && order::compare(default, lowest).is_ge()
            && order::compare(default, highest).is_lt();
        if inside {
            return Err(Error::command(
                ErrorCode::Location40199,
                "The $bucket 'default' field must be less than the lowest boundary or greater than or equal to the highest boundary.",
            ));
        }
    }
    let branches: Vec<Bson> = boundaries
        .windows(2)
        .map(|pair| {
            let (lower, upper) = (literal(&pair[0]), literal(&pair[1]));
            let case = doc! {"$and": [{"$gte": [group_by.clone(), lower.clone()]}, {"$lt": [group_by.clone(), upper]}]};
            Bson::Document(doc! {"case": case, "then": lower})
        })
        .collect();
    let mut switch = doc! {"branches": branches};
    if let Some(default) = default {
        switch.insert("default", literal(&default));
    }
    let mut group = doc! {"_id": {"$switch": switch}};
    match output {
        Some(fields) => group.extend(fields.clone()),
        None => {
            group.insert("count", doc! {"$sum": 1});
        }
    }
    Ok(vec![Stage::Group(Group::parse(&Bson::Document(group), vars)?), Stage::Sort(Sort::parse(&doc! {"_id": 1})?)])
}

/// Whether a `groupBy` is a `$`-prefixed path or an operator expression.
fn is_group_by(value: &Bson) -> bool {
    match value {
        Bson::String(path) => path.starts_with('$'),
        Bson::Document(spec) => spec.keys().next().is_some_and(|k| k.starts_with('$')),
        _ => false,
    }
}

/// A constant as an expression that evaluates to it.
fn literal(value: &Bson) -> Bson {
    Bson::Document(doc! {"$literal": value.clone()})
}

/// `boundaries`: at least two constants of one canonical type, ascending.
fn parse_boundaries(value: &Bson, vars: &Variables) -> Result<Vec<Bson>> {
    let Bson::Array(items) = value else {
        let message =
            format!("The $bucket 'boundaries' field must be an array, but found type: {}.", type_name(Some(value)));
        return Err(Error::command(ErrorCode::Location40200, message));
    };
    let mut boundaries = Vec::with_capacity(items.len());
    for item in items {
        match Expr::parse(item, vars)?.constant() {
            Some(constant) => boundaries.push(constant.clone()),
            None => {
                let message = format!(
                    "The $bucket 'boundaries' field must be an array of constant values, but found value: {}.",
                    show(Some(item))
                );
                return Err(Error::command(ErrorCode::Location40191, message));
            }
        }
    }
    if boundaries.len() < 2 {
        let message = format!(
            "The $bucket 'boundaries' field must have at least 2 values, but found {} value(s).",
            boundaries.len()
        );
        return Err(Error::command(ErrorCode::Location40192, message));
    }
    for (i, pair) in boundaries.windows(2).enumerate() {
        let (lower, upper) = (&pair[0], &pair[1]);
        if order::rank(lower) != order::rank(upper) {
            let message = format!(
                "All values in the the 'boundaries' option to $bucket must have the same type. Found conflicting types {} and {}.",
                type_name(Some(lower)),
                type_name(Some(upper))
            );
            return Err(Error::command(ErrorCode::Location40193, message));
        }
        if order::compare(lower, upper) != Ordering::Less {
            let message = format!(
                "The 'boundaries' option to $bucket must be sorted, but elements {} and {} are not in ascending order ({} is not less than {}).",
                i,
                i + 1,
                show(Some(lower)),
                show(Some(upper))
            );
            return Err(Error::command(ErrorCode::Location40194, message));
        }
    }
    Ok(boundaries)
}

/// A compiled `$bucketAuto` stage.
#[derive(Debug, Clone)]
pub(super) struct BucketAuto {
    group_by: Expr,
    buckets: usize,
    output: Accumulators,
    granularity: Option<Granularity>,
}

impl BucketAuto {
    /// Parses `{groupBy, buckets, output, granularity}`.
    pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<BucketAuto> {
        let Bson::Document(spec) = argument else {
            let message =
                format!("The argument to $bucketAuto must be an object, but found type: {}", type_name(Some(argument)));
            return Err(Error::command(ErrorCode::Location40240, message));
        };
        let (mut group_by, mut buckets, mut output) = (None, None, Accumulators::default());
        let mut granularity = None;
        for (name, value) in spec {
            match name.as_str() {
                "groupBy" => {
                    let valid = match value {
                        Bson::String(path) => path.len() > 1 && path.starts_with('$'),
                        other => is_group_by(other),
                    };
                    if !valid {
                        let message = format!(
                            "The $bucketAuto 'groupBy' field must be defined as a $-prefixed path or an expression object, but found: {}",
                            show(Some(value))
                        );
                        return Err(Error::command(ErrorCode::Location40239, message));
                    }
                    group_by = Some(Expr::parse(value, vars)?);
                }
                "buckets" => buckets = Some(parse_buckets(value)?),
                "output" => match value {
                    Bson::Document(fields) => {
                        for (field, accumulator) in fields {
                            output.add_field(field, accumulator, vars)?;
                        }
                    }
                    other => {
                        let message = format!(
                            "The $bucketAuto 'output' field must be an object, but found type: {}",
                            type_name(Some(other))
                        );
                        return Err(Error::command(ErrorCode::Location40244, message));
                    }
                },
                "granularity" => granularity = Some(parse_granularity(value)?),
                _ => {
                    let message = format!("Unrecognized option to $bucketAuto: {name}");
                    return Err(Error::command(ErrorCode::Location40245, message));
                }
            }
        }
        let (Some(group_by), Some(buckets)) = (group_by, buckets) else {
            return Err(Error::command(
                ErrorCode::Location40246,
                "$bucketAuto requires 'groupBy' and 'buckets' to be specified",
            ));
        };
        if output.is_empty() {
            output.add_field("count", &Bson::Document(doc! {"$sum": 1}), vars)?;
        }
        Ok(BucketAuto { group_by, buckets, output, granularity })
    }

    /// The key a document is bucketed by: `groupBy`, missing as null; with a
    /// granularity, a number not below zero (40258, 40259, 40260).
    fn key(&self, doc: &Document) -> Result<Bson> {
        let key = self.group_by.evaluate(doc)?;
        if self.granularity.is_some() {
            let Some(number) = expr::Num::of(Some(&key)).map(|n| n.to_f64()) else {
                let message = format!(
                    "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a value with type: {}",
                    type_name(Some(&key))
                );
                return Err(Error::command(ErrorCode::Location40258, message));
            };
            if number.is_nan() {
                let message = "$bucketAuto can specify a 'granularity' with numeric boundaries only, but found a NaN";
                return Err(Error::command(ErrorCode::Location40259, message));
            }
            if number < 0.0 {
                let message =
                    "$bucketAuto can specify a 'granularity' with non-negative numbers only, but found a negative number";
                return Err(Error::command(ErrorCode::Location40260, message));
            }
        }
        Ok(key)
    }

    /// Sorts the documents by their keys and cuts them into buckets of
    /// `round(n / buckets)` documents (at least one), as MongoDB does: a bucket
    /// also takes the following documents with its last key (with a granularity:
    /// below its last key rounded up, which becomes its `max`), and the last
    /// bucket all that remain. A bucket's `min` is the previous bucket's `max`;
    /// without a granularity, a bucket's `max` is the next bucket's first key (the
    /// last bucket's own largest). With one, the first bucket's `min` is rounded
    /// down and the last bucket's `max` up.
    pub(super) fn run(&self, docs: impl Iterator<Item = Result<Document>>, held: &mut Held) -> Result<Vec<Document>> {
        let mut keyed = docs
            .map(|doc| {
                let doc = doc?;
                let key = self.key(&doc)?;
                held.add(document_footprint(&doc) + value_footprint(&key))?;
                Ok((key, doc))
            })
            .collect::<Result<Vec<_>>>()?;
        keyed.sort_by(|(a, _), (b, _)| expr::compare(Some(a), Some(b)));
        let n = keyed.len();
        let size = ((n as f64 / self.buckets as f64).round() as usize).max(1);
        // Each bucket's documents (a range of `keyed`) and bounds.
        let mut buckets: Vec<(std::ops::Range<usize>, Bson, Bson)> = Vec::new();
        let mut start = 0;
        while start < n && buckets.len() < self.buckets {
            let mut end = if buckets.len() + 1 == self.buckets { n } else { (start + size).min(n) };
            let mut max = keyed[end - 1].0.clone();
            match self.granularity {
                Some(granularity) if end < n => {
                    let boundary = granularity.round_up(&max)?;
                    while end < n && expr::compare(Some(&boundary), Some(&keyed[end].0)).is_gt() {
                        end += 1;
                    }
                    if end < n {
                        max = boundary;
                    } else {
                        max = keyed[end - 1].0.clone();
                    }
                }
                Some(_) => {}
                None => {
                    while end < n && expr::compare(Some(&keyed[end].0), Some(&max)).is_eq() {
                        end += 1;
                    }
                }
            }
            let mut min = keyed[start].0.clone();
            if let Some((_, _, previous_max)) = buckets.last_mut() {
                match self.granularity {
                    Some(granularity) => {
                        if expr::Num::of(Some(previous_max)).is_some_and(|n| n.to_f64() == 0.0) {
                            *previous_max = granularity.round_down(&min)?;
                        }
                        min = previous_max.clone();
                    }
                    None => *previous_max = min.clone(),
                }
            }
            buckets.push((start..end, min, max));
            start = end;
        }
        if let (Some(granularity), false) = (self.granularity, buckets.is_empty()) {
            let first_min = granularity.round_down(&buckets[0].1)?;
            buckets[0].1 = first_min;
            let last = buckets.len() - 1;
            let last_max = granularity.round_up(&buckets[last].2)?;
            buckets[last].2 = last_max;
        }
        let mut out = Vec::with_capacity(buckets.len());
        for (range, min, max) in buckets {
            let mut states = self.output.start(&Bson::Null)?;
            for (_, doc) in &keyed[range] {
                self.output.add(&mut states, doc)?;
            }
            let mut bucket = doc! {"_id": {"min": min, "max": max}};
            self.output.finish(states, &mut bucket)?;
            out.push(bucket);
        }
        Ok(out)
    }
}

/// `granularity`: the name of a series MongoDB knows.
fn parse_granularity(value: &Bson) -> Result<Granularity> {
    match value {
        Bson::String(name) => Granularity::named(name).ok_or_else(|| {
            Error::command(ErrorCode::Location40257, format!("Rounding granularity not recognized: {name}"))
        }),
        other => Err(Error::command(
            ErrorCode::Location40261,
            format!("The $bucketAuto 'granularity' field must be a string, but found type: {}", type_name(Some(other))),
        )),
    }
}

/// `buckets`: a positive 32-bit integer.
fn parse_buckets(value: &Bson) -> Result<usize> {
    let number = match value {
        Bson::Int32(_) | Bson::Int64(_) | Bson::Double(_) | Bson::Decimal128(_) => value,
        other => {
            let message = format!(
                "The $bucketAuto 'buckets' field must be a numeric value, but found type: {}",
                type_name(Some(other))
            );
            return Err(Error::command(ErrorCode::Location40241, message));
        }
    };
    let Some(n) = expr::integral(Some(number)).and_then(|n| i32::try_from(n).ok()) else {
        let message = format!(
            "The $bucketAuto 'buckets' field must be representable as a 32-bit integer, but found {}",
            show(Some(value))
        );
        return Err(Error::command(ErrorCode::Location40242, message));
    };
    match usize::try_from(n) {
        Ok(n) if n > 0 => Ok(n),
        _ => {
            let message = format!("The $bucketAuto 'buckets' field must be greater than 0, but found: {n}");
            Err(Error::command(ErrorCode::Location40243, message))
        }
    }
}
