//! The accumulators of `$group`, `$bucket`, `$bucketAuto` and of window
//! functions: each operator's parsed arguments, and the state one group (or one
//! window) has gathered, which spilled runs can save and merge back.

use std::cmp::Ordering;
use std::collections::VecDeque;
use std::sync::Arc;

use bson::{doc, Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::stats::{Deviation, QuantileSpec};
use crate::query::expr::{self, n_value, Expr, Num, Pick, Sum, Variables};
use crate::query::sort::{Sort, SortKey};
use crate::value::size::value_footprint;

/// An accumulator operator and its arguments besides the input expression.
#[derive(Debug, Clone)]
pub(super) enum Accumulator {
    Sum,
    Avg,
    Min,
    Max,
    First,
    Last,
    Push,
    AddToSet,
    MergeObjects,
    Count,
    /// `$stdDevPop` or (`sample`) `$stdDevSamp`.
    StdDev {
        sample: bool,
    },
    /// `$firstN`, `$lastN`, `$maxN`, `$minN`: `n` is evaluated once per group.
    N {
        pick: Pick,
        n: Expr,
    },
    /// `$top`, `$bottom` (no `n`: a single value), `$topN`, `$bottomN`.
    Top {
        bottom: bool,
        n: Option<Expr>,
        sort: Sort,
    },
    /// `$median`, `$percentile`.
    Quantile(Arc<QuantileSpec>),
    /// `$accumulator`: JavaScript functions; its input is `accumulateArgs`.
    Js(Arc<super::js_accumulator::JsAccumulator>),
}

/// The most one accumulator may keep in a group, as MongoDB's
/// `internalQueryMaxPushBytes` and `internalQueryTopNAccumulatorBytes`.
const MAX_KEPT_BYTES: usize = 100 * 1024 * 1024;

impl Accumulator {
    /// Parses `{op: argument}`: the accumulator and its input expression.
    /// `None` when `op` is not an accumulator.
    pub(super) fn parse(op: &str, argument: &Bson, vars: &Variables) -> Result<Option<(Accumulator, Expr)>> {
        let simple = match op {
            "$sum" => Accumulator::Sum,
            "$avg" => Accumulator::Avg,
            "$min" => Accumulator::Min,
            "$max" => Accumulator::Max,
            "$first" => Accumulator::First,
            "$last" => Accumulator::Last,
            "$push" => Accumulator::Push,
            "$addToSet" => Accumulator::AddToSet,
            "$mergeObjects" => Accumulator::MergeObjects,
            "$stdDevPop" => Accumulator::StdDev { sample: false },
            "$stdDevSamp" => Accumulator::StdDev { sample: true },
            "$count" => {
                if !matches!(argument, Bson::Document(d) if d.is_empty()) {
                    return Err(Error::type_mismatch("$count takes no arguments, i.e. $count:{}"));
                }
                return Ok(Some((Accumulator::Count, Expr::parse(&Bson::Int32(1), vars)?)));
            }
            "$firstN" | "$lastN" | "$maxN" | "$minN" => {
                let pick = match op {
                    "$firstN" => Pick::First,
                    "$lastN" => Pick::Last,
                    "$maxN" => Pick::Max,
                    _ => Pick::Min,
                };
                let ordered = matches!(pick, Pick::Max | Pick::Min);
                let (n, input) = expr::n_arguments(argument, op, ordered)?;
                let n = Expr::parse(n, vars)?;
                return Ok(Some((Accumulator::N { pick, n }, Expr::parse(input, vars)?)));
            }
            "$top" | "$bottom" | "$topN" | "$bottomN" => return Accumulator::parse_top(op, argument, vars).map(Some),
            "$accumulator" => return super::js_accumulator::JsAccumulator::parse(argument, vars).map(Some),
            "$median" | "$percentile" => {
                let spec = QuantileSpec::parse_accumulator(argument, op, vars)?;
                let input = Expr::parse(&spec.input, vars)?;
                return Ok(Some((Accumulator::Quantile(Arc::new(spec)), input)));
            }
            _ => return Ok(None),
        };
        Ok(Some((simple, Expr::parse(argument, vars)?)))
    }

    /// `{$topN: {n, sortBy, output}}` and the like.
    fn parse_top(op: &str, argument: &Bson, vars: &Variables) -> Result<(Accumulator, Expr)> {
        let Bson::Document(spec) = argument else {
            return Err(Error::command(
                ErrorCode::Location5788001,
                format!("specification must be an object; found {op}: {argument}"),
            ));
        };
        let single = matches!(op, "$top" | "$bottom");
        let (mut n, mut sort_by, mut output) = (None, None, None);
        for (field, value) in spec {
            match field.as_str() {
                "n" if !single => n = Some(value),
                "output" => output = Some(value),
                "sortBy" => match value {
                    Bson::Document(sort) => sort_by = Some(sort),
                    _ => {
                        return Err(Error::command(
                            ErrorCode::Location10065,
                            "invalid parameter: expected an object (sortBy)",
                        ))
                    }
                },
                _ => {
                    let message = format!("Unknown argument to {op} '{field}'");
                    return Err(Error::command(ErrorCode::Location5788002, message));
                }
            }
        }
        if !single && n.is_none() {
            return Err(Error::command(ErrorCode::Location5788003, "Missing value for 'n'"));
        }
        let Some(output) = output else {
            return Err(Error::command(ErrorCode::Location5788004, "Missing value for 'output'"));
        };
        let Some(sort_by) = sort_by else {
            return Err(Error::command(ErrorCode::Location5788005, "Missing value for 'sortBy'"));
        };
        let n = n.map(|n| Expr::parse(n, vars)).transpose()?;
        let sort = Sort::parse(sort_by)?;
        let bottom = matches!(op, "$bottom" | "$bottomN");
        Ok((Accumulator::Top { bottom, n, sort }, Expr::parse(output, vars)?))
    }

    /// The operator's name, for messages.
    pub(super) fn name(&self) -> &'static str {
        match self {
            Accumulator::Sum => "$sum",
            Accumulator::Avg => "$avg",
            Accumulator::Min => "$min",
            Accumulator::Max => "$max",
            Accumulator::First => "$first",
            Accumulator::Last => "$last",
            Accumulator::Push => "$push",
            Accumulator::AddToSet => "$addToSet",
            Accumulator::MergeObjects => "$mergeObjects",
            Accumulator::Count => "$count",
            Accumulator::StdDev { sample: false } => "$stdDevPop",
            Accumulator::StdDev { sample: true } => "$stdDevSamp",
            Accumulator::N { pick, .. } => pick.name(),
            Accumulator::Top { bottom: false, n: None, .. } => "$top",
            Accumulator::Top { bottom: true, n: None, .. } => "$bottom",
            Accumulator::Top { bottom: false, .. } => "$topN",
            Accumulator::Top { bottom: true, .. } => "$bottomN",
            Accumulator::Quantile(spec) if spec.p.is_none() => "$median",
            Accumulator::Quantile(_) => "$percentile",
            Accumulator::Js(_) => "$accumulator",
        }
    }

    /// Whether the accumulator compares values (and so would need the
    /// collation).
    pub(super) fn compares(&self) -> bool {
        matches!(
            self,
            Accumulator::Min
                | Accumulator::Max
                | Accumulator::AddToSet
                | Accumulator::N { .. }
                | Accumulator::Top { .. }
        )
    }

    /// The empty state for a new group. `n` reads `scope`: the group key when it
    /// is a document, else an empty document.
    pub(super) fn start(&self, scope: &Document) -> Result<State> {
        let n_of = |n: &Expr| n_value(n.evaluate_optional(scope)?.as_ref());
        Ok(match self {
            Accumulator::Sum | Accumulator::Count => State::Sum(Sum::default()),
            Accumulator::Avg => State::Avg(Sum::default(), 0),
            Accumulator::Min | Accumulator::Max => State::Extreme(None),
            Accumulator::First => State::First(None),
            Accumulator::Last => State::Last(Bson::Null),
            Accumulator::Push | Accumulator::AddToSet => State::List(Vec::new(), 0),
            Accumulator::MergeObjects => State::Merged(Document::new()),
            Accumulator::StdDev { .. } => State::Deviation(Deviation::default()),
            Accumulator::N { n, .. } => State::Kept { items: VecDeque::new(), n: n_of(n)?, bytes: 0 },
            Accumulator::Top { n, .. } => {
                let n = n.as_ref().map_or(Ok(1), n_of)?;
                State::Ranked { items: Vec::new(), n, bytes: 0 }
            }
            Accumulator::Quantile(_) => State::Numbers(Vec::new()),
            Accumulator::Js(js) => State::Js(js.init(scope)?),
        })
    }

    /// The sort key a document takes into `$top` and the like.
    pub(super) fn sort_key(&self, doc: &Document) -> Result<Option<SortKey>> {
        match self {
            Accumulator::Top { sort, .. } => sort.key(doc).map(Some),
            _ => Ok(None),
        }
    }
}

/// What an accumulator has gathered so far in one group.
#[derive(Debug, Clone)]
pub(super) enum State {
    Sum(Sum),
    Avg(Sum, u64),
    Extreme(Option<Bson>),
    First(Option<Bson>),
    Last(Bson),
    /// `$push`'s or `$addToSet`'s values, and the memory they take.
    List(Vec<Bson>, usize),
    Merged(Document),
    Deviation(Deviation),
    /// The values `$firstN` and the like keep (sorted for `$maxN`/`$minN`).
    Kept {
        items: VecDeque<Bson>,
        n: usize,
        bytes: usize,
    },
    /// The values `$topN` and the like keep, by sort key.
    Ranked {
        items: Vec<(SortKey, Bson)>,
        n: usize,
        bytes: usize,
    },
    /// The numbers `$median` and `$percentile` gathered.
    Numbers(Vec<f64>),
    /// The state `$accumulator`'s functions return.
    Js(Bson),
}

/// Refuses state that grew past what one accumulator may keep.
fn check_kept(op: &Accumulator, bytes: usize) -> Result<()> {
    if bytes <= MAX_KEPT_BYTES {
        return Ok(());
    }
    Err(Error::command(
        ErrorCode::ExceededMemoryLimit,
        format!(
            "{} used too much memory and cannot spill to disk. Used: {bytes} bytes. Memory limit: {MAX_KEPT_BYTES} bytes",
            op.name()
        ),
    ))
}

impl State {
    /// Takes in one document's value (`None` when missing) and, for `$top` and
    /// the like, its sort key. Returns how many bytes the state grew by.
    pub(super) fn add(&mut self, op: &Accumulator, value: Option<Bson>, key: Option<SortKey>) -> Result<usize> {
        let replaced =
            |old: Option<&Bson>, new: &Bson| value_footprint(new).saturating_sub(old.map_or(0, value_footprint));
        let grown = match self {
            State::Sum(sum) => {
                sum.add(Num::of(value.as_ref()).unwrap_or(Num::Int(0)));
                0
            }
            State::Avg(sum, count) => {
                if let Some(n) = Num::of(value.as_ref()) {
                    sum.add(n);
                    *count += 1;
                }
                0
            }
            State::Extreme(best) => {
                let Some(value) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) else { return Ok(0) };
                let wanted = if matches!(op, Accumulator::Min) { Ordering::Less } else { Ordering::Greater };
                if best.as_ref().is_none_or(|b| expr::compare(Some(&value), Some(b)) == wanted) {
                    let grown = replaced(best.as_ref(), &value);
                    *best = Some(value);
                    grown
                } else {
                    0
                }
            }
            State::First(first) => match first {
                Some(_) => 0,
                None => {
                    let value = value.unwrap_or(Bson::Null);
                    let grown = value_footprint(&value);
                    *first = Some(value);
                    grown
                }
            },
            State::Last(last) => {
                let value = value.unwrap_or(Bson::Null);
                let grown = replaced(Some(last), &value);
                *last = value;
                grown
            }
            State::List(items, bytes) => {
                let Some(value) = value else { return Ok(0) };
                let duplicate = matches!(op, Accumulator::AddToSet)
                    && items.iter().any(|i| expr::compare(Some(i), Some(&value)).is_eq());
                if duplicate {
                    return Ok(0);
                }
                let grown = value_footprint(&value);
                *bytes += grown;
                check_kept(op, *bytes)?;
                items.push(value);
                grown
            }
            State::Merged(merged) => {
                expr::merge_into(merged, value.as_ref())?;
                value.as_ref().map_or(0, value_footprint)
            }
            State::Deviation(deviation) => {
                deviation.add(value.as_ref());
                0
            }
            State::Kept { items, n, bytes } => {
                let Accumulator::N { pick, .. } = op else { return Ok(0) };
                let grown = keep(items, *n, *pick, value)?;
                *bytes = bytes.saturating_add_signed(grown);
                check_kept(op, *bytes)?;
                grown.max(0) as usize
            }
            State::Ranked { items, n, bytes } => {
                let (Accumulator::Top { bottom, sort, .. }, Some(key)) = (op, key) else { return Ok(0) };
                let grown = rank(items, *n, *bottom, sort, key, value.unwrap_or(Bson::Null));
                *bytes = bytes.saturating_add_signed(grown);
                check_kept(op, *bytes)?;
                grown.max(0) as usize
            }
            State::Numbers(numbers) => {
                if let Some(n) = Num::of(value.as_ref()) {
                    numbers.push(n.to_f64());
                    8
                } else {
                    0
                }
            }
            State::Js(state) => {
                let Accumulator::Js(js) = op else { return Ok(0) };
                let next = js.accumulate(state, value)?;
                let grown = replaced(Some(state), &next);
                *state = next;
                grown
            }
        };
        Ok(grown)
    }

    /// The accumulator's result so far.
    pub(super) fn value(&self, op: &Accumulator) -> Result<Bson> {
        self.clone().finish(op)
    }

    /// The accumulator's result for the group.
    pub(super) fn finish(self, op: &Accumulator) -> Result<Bson> {
        Ok(match self {
            State::Sum(sum) => sum.total(),
            State::Avg(_, 0) => Bson::Null,
            State::Avg(sum, count) => sum.average(count),
            State::Extreme(best) => best.unwrap_or(Bson::Null),
            State::First(first) => first.unwrap_or(Bson::Null),
            State::Last(last) => last,
            State::List(items, _) => Bson::Array(items),
            State::Merged(merged) => Bson::Document(merged),
            State::Deviation(deviation) => match op {
                Accumulator::StdDev { sample: true } => deviation.sample(),
                _ => deviation.population(),
            },
            State::Kept { items, .. } => Bson::Array(items.into()),
            State::Ranked { items, .. } => match op {
                Accumulator::Top { n: None, .. } => items.into_iter().next().map_or(Bson::Null, |(_, v)| v),
                _ => Bson::Array(items.into_iter().map(|(_, v)| v).collect()),
            },
            State::Numbers(mut numbers) => match op {
                Accumulator::Quantile(spec) => {
                    numbers.sort_by(f64::total_cmp);
                    spec.result(&numbers)
                }
                _ => Bson::Null,
            },
            State::Js(state) => match op {
                Accumulator::Js(js) => js.finalize(state)?,
                _ => state,
            },
        })
    }

    /// What a spilled run keeps of the state, to be merged back by [`State::merge`].
    pub(super) fn partial(self) -> Bson {
        Bson::Document(match self {
            State::Sum(sum) => doc! {"s": sum.total()},
            State::Avg(sum, count) => doc! {"s": sum.total(), "n": count as i64},
            State::Extreme(value) | State::First(value) => value.map(|v| doc! {"v": v}).unwrap_or_default(),
            State::Last(last) => doc! {"v": last},
            State::List(items, _) => doc! {"v": items},
            State::Merged(merged) => doc! {"v": merged},
            State::Deviation(deviation) => {
                let (count, mean, m2) = deviation.parts();
                doc! {"n": count as i64, "m": mean, "s": m2}
            }
            State::Kept { items, .. } => doc! {"v": Vec::from(items)},
            State::Ranked { items, .. } => {
                let pairs: Vec<Bson> =
                    items.into_iter().map(|(key, value)| bson::bson!([key.into_values(), value])).collect();
                doc! {"v": pairs}
            }
            State::Numbers(numbers) => doc! {"v": numbers},
            State::Js(state) => doc! {"v": state},
        })
    }

    /// Takes in the partial state a later run holds for the same group.
    pub(super) fn merge(&mut self, op: &Accumulator, partial: Bson) -> Result<()> {
        let Bson::Document(mut partial) = partial else {
            return Err(Error::Internal("a spilled group's state is not a document".into()));
        };
        let value = partial.remove("v");
        let items = |value: Option<Bson>| match value {
            Some(Bson::Array(items)) => items,
            _ => Vec::new(),
        };
        match self {
            State::Sum(sum) => sum.add(Num::of(partial.get("s")).unwrap_or(Num::Int(0))),
            State::Avg(sum, count) => {
                if let Some(n) = Num::of(partial.get("s")) {
                    sum.add(n);
                }
                *count += partial.get_i64("n").unwrap_or(0) as u64;
            }
            State::Extreme(_) | State::First(_) | State::Last(_) => {
                if value.is_some() {
                    self.add(op, value, None)?;
                }
            }
            State::List(..) | State::Kept { .. } => {
                for item in items(value) {
                    self.add(op, Some(item), None)?;
                }
            }
            State::Merged(merged) => expr::merge_into(merged, value.as_ref())?,
            State::Deviation(deviation) => {
                let count = partial.get_i64("n").unwrap_or(0) as u64;
                let mean = partial.get_f64("m").unwrap_or(0.0);
                let m2 = partial.get_f64("s").unwrap_or(0.0);
                deviation.merge(count, mean, m2);
            }
            State::Ranked { .. } => {
                for pair in items(value) {
                    let Bson::Array(mut pair) = pair else { continue };
                    let (Some(value), Some(Bson::Array(key))) = (pair.pop(), pair.pop()) else { continue };
                    self.add(op, Some(value), Some(SortKey::from_values(key)))?;
                }
            }
            State::Numbers(numbers) => numbers.extend(items(value).iter().filter_map(|v| v.as_f64())),
            State::Js(state) => {
                if let Accumulator::Js(js) = op {
                    *state = js.merge(state, value.unwrap_or(Bson::Undefined))?;
                }
            }
        }
        Ok(())
    }
}

/// Takes a value into `$firstN`'s and the like's kept values; returns the
/// change in bytes.
fn keep(items: &mut VecDeque<Bson>, n: usize, pick: Pick, value: Option<Bson>) -> Result<isize> {
    let size = |v: &Bson| value_footprint(v) as isize;
    match pick {
        Pick::First => {
            if items.len() >= n {
                return Ok(0);
            }
            let value = value.unwrap_or(Bson::Null);
            let grown = size(&value);
            items.push_back(value);
            Ok(grown)
        }
        Pick::Last => {
            let value = value.unwrap_or(Bson::Null);
            let mut grown = size(&value);
            items.push_back(value);
            if items.len() > n {
                grown -= items.pop_front().as_ref().map_or(0, size);
            }
            Ok(grown)
        }
        Pick::Max | Pick::Min => {
            let Some(value) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) else { return Ok(0) };
            // Kept best first: descending for $maxN, ascending for $minN.
            let order = |a: &Bson, b: &Bson| {
                let order = expr::compare(Some(a), Some(b));
                if pick == Pick::Max {
                    order.reverse()
                } else {
                    order
                }
            };
            let at = items.partition_point(|kept| order(kept, &value) != Ordering::Greater);
            if at >= n {
                return Ok(0);
            }
            let mut grown = size(&value);
            items.insert(at, value);
            if items.len() > n {
                grown -= items.pop_back().as_ref().map_or(0, size);
            }
            Ok(grown)
        }
    }
}

/// Takes a value into `$topN`'s or `$bottomN`'s kept values (in `sort` order;
/// an equal key does not displace an earlier one); returns the change in bytes.
fn rank(items: &mut Vec<(SortKey, Bson)>, n: usize, bottom: bool, sort: &Sort, key: SortKey, value: Bson) -> isize {
    let size = |v: &Bson| value_footprint(v) as isize;
    if bottom {
        // The n last in sort order: a new value goes after its equals, and when
        // full it must sort strictly after the first kept one.
        if items.len() >= n && items.first().is_some_and(|(first, _)| sort.compare_keys(&key, first).is_le()) {
            return 0;
        }
        let at = items.partition_point(|(kept, _)| sort.compare_keys(kept, &key).is_le());
        let mut grown = size(&value);
        items.insert(at, (key, value));
        if items.len() > n {
            grown -= size(&items.remove(0).1);
        }
        grown
    } else {
        let at = items.partition_point(|(kept, _)| sort.compare_keys(kept, &key).is_le());
        if at >= n {
            return 0;
        }
        let mut grown = size(&value);
        items.insert(at, (key, value));
        if items.len() > n {
            grown -= items.pop().map_or(0, |(_, v)| size(&v));
        }
        grown
    }
}
