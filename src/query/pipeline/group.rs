//! `$group`: documents gathered by an `_id` expression, with accumulators.

use std::cmp::Ordering;
use std::collections::BTreeMap;

use bson::{Bson, Document};

use super::spill::Limits;
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{self, Expr, Num, Sum, Variables};
use crate::value::size;

/// A compiled `$group` stage.
#[derive(Debug, Clone)]
pub(super) struct Group {
    id: Expr,
    accumulators: Accumulators,
}

/// The output fields of `$group`, `$bucket` and `$bucketAuto`: each a name, an
/// accumulator and the expression it takes in per document.
#[derive(Debug, Clone, Default)]
pub(super) struct Accumulators {
    fields: Vec<(String, Accumulator, Expr)>,
}

/// What the accumulators of one group have gathered so far.
#[derive(Debug)]
pub(super) struct States(Vec<State>);

/// Memory counted for a group besides its key and the values it keeps.
const GROUP_OVERHEAD: usize = 64;

/// An accumulator operator.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Accumulator {
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
}

impl Accumulator {
    /// The accumulator called `name`.
    fn named(name: &str) -> Option<Accumulator> {
        Some(match name {
            "$sum" => Accumulator::Sum,
            "$avg" => Accumulator::Avg,
            "$min" => Accumulator::Min,
            "$max" => Accumulator::Max,
            "$first" => Accumulator::First,
            "$last" => Accumulator::Last,
            "$push" => Accumulator::Push,
            "$addToSet" => Accumulator::AddToSet,
            "$mergeObjects" => Accumulator::MergeObjects,
            "$count" => Accumulator::Count,
            _ => return None,
        })
    }

    /// The empty state of this accumulator for a new group.
    fn start(self) -> State {
        match self {
            Accumulator::Sum | Accumulator::Count => State::Sum(Sum::default()),
            Accumulator::Avg => State::Avg(Sum::default(), 0),
            Accumulator::Min | Accumulator::Max => State::Extreme(None),
            Accumulator::First => State::First(None),
            Accumulator::Last => State::Last(Bson::Null),
            Accumulator::Push | Accumulator::AddToSet => State::List(Vec::new()),
            Accumulator::MergeObjects => State::Merged(Document::new()),
        }
    }
}

/// What an accumulator has gathered so far in one group.
#[derive(Debug)]
enum State {
    Sum(Sum),
    Avg(Sum, u64),
    Extreme(Option<Bson>),
    First(Option<Bson>),
    Last(Bson),
    List(Vec<Bson>),
    Merged(Document),
}

impl State {
    /// Takes in one document's value (`None` when missing).
    fn add(&mut self, op: Accumulator, value: Option<Bson>) -> Result<()> {
        match self {
            State::Sum(sum) => sum.add(Num::of(value.as_ref()).unwrap_or(Num::Int(0))),
            State::Avg(sum, count) => {
                if let Some(n) = Num::of(value.as_ref()) {
                    sum.add(n);
                    *count += 1;
                }
            }
            State::Extreme(best) => {
                let Some(value) = value.filter(|v| !matches!(v, Bson::Null | Bson::Undefined)) else { return Ok(()) };
                let wanted = if op == Accumulator::Min { Ordering::Less } else { Ordering::Greater };
                if best.as_ref().is_none_or(|b| expr::compare(Some(&value), Some(b)) == wanted) {
                    *best = Some(value);
                }
            }
            State::First(first) => {
                if first.is_none() {
                    *first = Some(value.unwrap_or(Bson::Null));
                }
            }
            State::Last(last) => *last = value.unwrap_or(Bson::Null),
            State::List(items) => {
                let Some(value) = value else { return Ok(()) };
                let duplicate =
                    op == Accumulator::AddToSet && items.iter().any(|i| expr::compare(Some(i), Some(&value)).is_eq());
                if !duplicate {
                    items.push(value);
                }
            }
            State::Merged(merged) => expr::merge_into(merged, value.as_ref())?,
        }
        Ok(())
    }

    /// The accumulator's result for the group.
    fn finish(self) -> Bson {
        match self {
            State::Sum(sum) => sum.total(),
            State::Avg(_, 0) => Bson::Null,
            State::Avg(sum, count) => sum.average(count),
            State::Extreme(best) => best.unwrap_or(Bson::Null),
            State::First(first) => first.unwrap_or(Bson::Null),
            State::Last(last) => last,
            State::List(items) => Bson::Array(items),
            State::Merged(merged) => Bson::Document(merged),
        }
    }
}

impl Group {
    /// Parses `{_id: expr, field: {$accumulator: expr}, …}`.
    /// The expressions may read `vars`, the command's variables.
    pub(super) fn parse(spec: &Bson, vars: &Variables) -> Result<Group> {
        let Bson::Document(spec) = spec else {
            return Err(Error::command(ErrorCode::Location15947, "a group's fields must be specified in an object"));
        };
        let mut id = None;
        let mut accumulators = Accumulators::default();
        for (name, value) in spec {
            if name == "_id" {
                id = Some(Expr::parse(value, vars)?);
                continue;
            }
            accumulators.add_field(name, value, vars)?;
        }
        let Some(id) = id else {
            return Err(Error::command(ErrorCode::Location15955, "a group specification must include an _id"));
        };
        Ok(Group { id, accumulators })
    }

    /// Groups the documents; groups come out in the order their first document came.
    /// Past `limits.memory` bytes of groups, it fails unless `allowDiskUse` is set
    /// (the groups then stay in memory: nothing is spilled).
    pub(super) fn run(&self, docs: impl Iterator<Item = Result<Document>>, limits: Limits) -> Result<Vec<Document>> {
        let mut index: BTreeMap<Key, usize> = BTreeMap::new();
        let mut groups: Vec<(Bson, States)> = Vec::new();
        let mut used = 0;
        for doc in docs {
            let doc = doc?;
            let key = Key(self.id.evaluate(&doc)?);
            let at = match index.get(&key) {
                Some(at) => *at,
                None => {
                    used += size::value_size(&key.0) + GROUP_OVERHEAD;
                    groups.push((key.0.clone(), self.accumulators.start()));
                    index.insert(key, groups.len() - 1);
                    groups.len() - 1
                }
            };
            used += self.accumulators.add(&mut groups[at].1, &doc)?;
            if used > limits.memory && !limits.allow_disk_use {
                return Err(Error::command(
                    ErrorCode::QueryExceededMemoryLimitNoDiskUseAllowed,
                    "Exceeded memory limit for $group, but didn't allow external sort. Pass allowDiskUse:true to opt in.",
                ));
            }
        }
        Ok(groups
            .into_iter()
            .map(|(key, states)| {
                let mut out = Document::new();
                out.insert("_id", key);
                self.accumulators.finish(states, &mut out);
                out
            })
            .collect())
    }
}

impl Accumulators {
    /// Adds the output field `name: {$accumulator: expr}`.
    pub(super) fn add_field(&mut self, name: &str, value: &Bson, vars: &Variables) -> Result<()> {
        let spec = match value {
            Bson::Document(doc) if doc.keys().next().is_some_and(|k| k.starts_with('$')) => doc,
            _ => {
                let message = format!("The field '{name}' must be an accumulator object");
                return Err(Error::command(ErrorCode::Location40234, message));
            }
        };
        if name.contains('.') {
            return Err(Error::command(
                ErrorCode::Location40235,
                format!("The field name '{name}' cannot contain '.'"),
            ));
        }
        if name.starts_with('$') {
            return Err(Error::command(
                ErrorCode::Location40236,
                format!("The field name '{name}' cannot be an operator name"),
            ));
        }
        let (op_name, argument) = match spec.iter().next() {
            Some(only) if spec.len() == 1 => only,
            _ => {
                return Err(Error::command(
                    ErrorCode::Location40238,
                    format!("The field '{name}' must specify one accumulator"),
                ))
            }
        };
        if matches!(argument, Bson::Array(_)) {
            let message = format!("The {op_name} accumulator is a unary operator");
            return Err(Error::command(ErrorCode::Location40237, message));
        }
        let Some(op) = Accumulator::named(op_name) else {
            return Err(Error::command(ErrorCode::Location15952, format!("unknown group operator '{op_name}'")));
        };
        let argument = if op == Accumulator::Count {
            if !matches!(argument, Bson::Document(d) if d.is_empty()) {
                return Err(Error::type_mismatch("$count takes no arguments, i.e. $count:{}"));
            }
            Bson::Int32(1)
        } else {
            argument.clone()
        };
        self.fields.push((name.to_owned(), op, Expr::parse(&argument, vars)?));
        Ok(())
    }

    /// Whether there is no output field.
    pub(super) fn is_empty(&self) -> bool {
        self.fields.is_empty()
    }

    /// The empty states of a new group.
    pub(super) fn start(&self) -> States {
        States(self.fields.iter().map(|(_, op, _)| op.start()).collect())
    }

    /// Takes one document into a group's states; returns roughly how many bytes
    /// the states grew by (the values `$push`, `$addToSet` and the like keep).
    pub(super) fn add(&self, states: &mut States, doc: &Document) -> Result<usize> {
        let mut grown = 0;
        for ((_, op, expr), state) in self.fields.iter().zip(states.0.iter_mut()) {
            let value = expr.evaluate_optional(doc)?;
            if matches!(op, Accumulator::Push | Accumulator::AddToSet | Accumulator::MergeObjects) {
                grown += value.as_ref().map_or(0, size::value_size);
            }
            state.add(*op, value)?;
        }
        Ok(grown)
    }

    /// Appends each field's result for a group to `out`.
    pub(super) fn finish(&self, states: States, out: &mut Document) {
        for ((name, _, _), state) in self.fields.iter().zip(states.0) {
            out.insert(name.clone(), state.finish());
        }
    }
}

/// A group key, ordered (and so deduplicated) by BSON comparison: `1` and `1.0`
/// are one group.
#[derive(Debug)]
struct Key(Bson);

impl PartialEq for Key {
    fn eq(&self, other: &Key) -> bool {
        self.cmp(other).is_eq()
    }
}

impl Eq for Key {}

impl PartialOrd for Key {
    fn partial_cmp(&self, other: &Key) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Key {
    fn cmp(&self, other: &Key) -> Ordering {
        expr::compare(Some(&self.0), Some(&other.0))
    }
}
