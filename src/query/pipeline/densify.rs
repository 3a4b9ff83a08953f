//! `$densify`: documents added where a sequence of numbers or dates has gaps, on
//! a grid of `step` from the start of the range, within each partition.
//!
//! As MongoDB does, it is parsed into a `$sort` by the partition fields and the
//! field (by the field alone for `"full"` bounds) and the densifying stage, which
//! holds only the state of each partition.

use std::collections::VecDeque;

use bson::{Bson, DateTime, Document};

use super::fields::{get_path, set_path, split_path};
use super::{Docs, Stage};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{add_numbers, compare, type_name, Num, TimeUnit};
use crate::query::sort::Sort;

/// The most documents one `$densify` may generate
/// (`internalQueryMaxAllowedDensifyDocs`).
const MAX_GENERATED: usize = 500_000;

/// The range a `$densify` fills.
#[derive(Debug, Clone)]
enum Range {
    /// From the smallest to the largest value of all documents.
    Full,
    /// From each partition's smallest to its largest value.
    Partition,
    /// From `lower` (included) to `upper` (excluded).
    Explicit(Box<(Bson, Bson)>),
}

/// The densifying stage.
#[derive(Debug, Clone)]
pub(super) struct Densify {
    field: Vec<String>,
    partition_fields: Vec<Vec<String>>,
    step: Bson,
    unit: Option<TimeUnit>,
    range: Range,
}

fn code(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::command(code, message)
}

fn wrong_type(field: &str, value: &Bson, expected: &str) -> Error {
    let message = format!(
        "BSON field '$densify.{field}' is the wrong type '{}', expected type '{expected}'",
        type_name(Some(value))
    );
    code(ErrorCode::TypeMismatch, message)
}

fn missing(field: &str) -> Error {
    code(ErrorCode::Location40414, format!("BSON field '$densify.{field}' is missing but a required field"))
}

fn unknown(field: &str) -> Error {
    code(ErrorCode::Location40415, format!("BSON field '$densify.{field}' is an unknown field."))
}

/// Parses `{field, partitionByFields, range: {step, unit, bounds}}` into its
/// stages.
pub(super) fn parse(argument: &Bson) -> Result<Vec<Stage>> {
    let Bson::Document(spec) = argument else {
        let message =
            format!("The $densify stage specification must be an object, found {}", type_name(Some(argument)));
        return Err(code(ErrorCode::FailedToParse, message));
    };
    let (mut field, mut partition_fields, mut range) = (None, Vec::new(), None);
    for (name, value) in spec {
        match (name.as_str(), value) {
            ("field", Bson::String(path)) => field = Some(split_path(path)?),
            ("partitionByFields", Bson::Array(items)) => {
                for item in items {
                    let Bson::String(path) = item else { return Err(wrong_type("partitionByFields", item, "string")) };
                    partition_fields.push(split_path(path)?);
                }
            }
            ("range", Bson::Document(range_spec)) => range = Some(range_spec),
            ("field", other) => return Err(wrong_type("field", other, "string")),
            ("partitionByFields", other) => return Err(wrong_type("partitionByFields", other, "array")),
            ("range", other) => return Err(wrong_type("range", other, "object")),
            _ => return Err(unknown(name)),
        }
    }
    let Some(field) = field else { return Err(missing("field")) };
    let Some(range) = range else { return Err(missing("range")) };
    let (mut step, mut unit, mut bounds) = (None, None, None);
    for (name, value) in range {
        match name.as_str() {
            "step" if Num::of(Some(value)).is_some() => step = Some(value.clone()),
            "step" => return Err(wrong_type("range.step", value, "numeric")),
            "unit" => match value {
                Bson::String(name) => {
                    unit = Some(TimeUnit::named(name).map_err(|m| code(ErrorCode::FailedToParse, m))?)
                }
                other => return Err(wrong_type("range.unit", other, "string")),
            },
            "bounds" => bounds = Some(value),
            _ => return Err(unknown(&format!("range.{name}"))),
        }
    }
    let Some(step) = step else { return Err(missing("range.step")) };
    let Some(bounds) = bounds else { return Err(missing("range.bounds")) };
    let step_value = Num::of(Some(&step)).map_or(0.0, Num::to_f64);
    if step_value <= 0.0 || step_value.is_nan() {
        let message = "The step parameter in a range statement must be a strictly positive numeric value";
        return Err(code(ErrorCode::Location5733401, message));
    }
    if unit.is_some() && step_value.fract() != 0.0 {
        let message = "The step parameter in a range statement must be a whole number when densifying a date range";
        return Err(code(ErrorCode::Location6586400, message));
    }
    let range = parse_bounds(bounds, &step, unit.is_some(), !partition_fields.is_empty())?;
    let mut sort = Document::new();
    if !matches!(range, Range::Full) {
        for path in &partition_fields {
            sort.insert(path.join("."), 1);
        }
    }
    sort.insert(field.join("."), 1);
    let densify = Densify { field, partition_fields, step, unit, range };
    Ok(vec![Stage::Sort(Sort::parse(&sort)?), Stage::Densify(Box::new(densify))])
}

/// Reads `bounds`: `"full"`, `"partition"` or `[lower, upper]`.
fn parse_bounds(bounds: &Bson, step: &Bson, dated: bool, partitioned: bool) -> Result<Range> {
    match bounds {
        Bson::String(s) if s == "full" => Ok(Range::Full),
        Bson::String(s) if s == "partition" => {
            if !partitioned {
                let message = "One cannot specify the bounds as 'partition' without specifying a non-empty array of partitionByFields. You may have meant to specify 'full' bounds.";
                return Err(code(ErrorCode::Location5733408, message));
            }
            Ok(Range::Partition)
        }
        Bson::String(_) => Err(code(ErrorCode::Location5946802, "Bounds string must either be 'full' or 'partition'")),
        Bson::Array(items) => {
            let [lower, upper] = items.as_slice() else {
                let message = "A bounding array in a range statement must have exactly two elements";
                return Err(code(ErrorCode::Location5733403, message));
            };
            let both = "A bounding array must contain either both dates or both numeric types";
            match lower {
                number if Num::of(Some(number)).is_some() => {
                    if Num::of(Some(upper)).is_none() {
                        return Err(code(ErrorCode::Location5733406, both));
                    }
                }
                Bson::DateTime(_) => {
                    if !matches!(upper, Bson::DateTime(_)) {
                        return Err(code(ErrorCode::Location5733405, both));
                    }
                }
                _ => return Err(code(ErrorCode::Location5946800, "Explicit bounds must be numeric or dates")),
            }
            if compare(Some(lower), Some(upper)).is_gt() {
                let message = "A bounding array must be an ascending array of either two dates or two numbers";
                return Err(code(ErrorCode::Location5733402, message));
            }
            let numeric = Num::of(Some(lower)).is_some();
            if numeric && dated {
                return Err(code(ErrorCode::Location5733409, "Numeric bounds may not have unit parameter"));
            }
            if !numeric && !dated {
                return Err(code(ErrorCode::Location5733410, "A bounding array of dates must specify a unit"));
            }
            let same = |a: &Bson, b: &Bson| std::mem::discriminant(a) == std::mem::discriminant(b);
            if numeric && !(same(lower, upper) && same(lower, step)) {
                let message = "Upper bound, lower bound, and step must all have the same type";
                return Err(code(ErrorCode::Location5876900, message));
            }
            Ok(Range::Explicit(Box::new((lower.clone(), upper.clone()))))
        }
        _ => Err(code(
            ErrorCode::Location5733404,
            "The bounds in a range statement must be the string 'full', 'partition', or an ascending array of two numbers or two dates",
        )),
    }
}

impl Densify {
    /// The value after `value` on the grid.
    fn next(&self, value: &Bson) -> Result<Bson> {
        match (value, self.unit) {
            (Bson::DateTime(date), Some(unit)) => {
                let step = Num::of(Some(&self.step)).map_or(0.0, Num::to_f64) as i64;
                Ok(Bson::DateTime(DateTime::from_millis(unit.add(date.timestamp_millis(), step)?)))
            }
            _ => Ok(add_numbers(value, &self.step)),
        }
    }

    /// The densified field's value of a document: `None` when missing or null
    /// (the document passes through), an error for other types.
    fn value_of<'d>(&self, doc: &'d Document) -> Result<Option<&'d Bson>> {
        match get_path(doc, &self.field) {
            None | Some(Bson::Null) => Ok(None),
            Some(value @ Bson::DateTime(_)) if self.unit.is_some() => Ok(Some(value)),
            Some(Bson::DateTime(_)) => Err(code(
                ErrorCode::Location6053600,
                "Encountered date densify value in collection when step does not have a date unit.",
            )),
            Some(value) if Num::of(Some(value)).is_some() && self.unit.is_some() => Err(code(
                ErrorCode::Location6053600,
                "Encountered numeric densify value in collection when step has a date unit.",
            )),
            Some(value) if Num::of(Some(value)).is_some() => Ok(Some(value)),
            Some(_) => Err(code(ErrorCode::Location5733201, "Densify field type must be numeric or a date")),
        }
    }

    /// A document's partition: its values of the partition fields.
    fn partition_of(&self, doc: &Document) -> Vec<Option<Bson>> {
        self.partition_fields.iter().map(|path| get_path(doc, path).cloned()).collect()
    }

    pub(super) fn run<'a>(&'a self, docs: Docs<'a>) -> Docs<'a> {
        Box::new(Densified {
            stage: self,
            input: docs,
            ready: VecDeque::new(),
            partitions: Vec::new(),
            generated: 0,
            full_start: None,
            full_end: None,
            ended: false,
        })
    }
}

/// What `$densify` knows of one partition.
struct PartitionState {
    key: Vec<Option<Bson>>,
    /// The next value on the grid not yet passed.
    next: Bson,
}

/// The stage's output.
struct Densified<'a> {
    stage: &'a Densify,
    input: Docs<'a>,
    ready: VecDeque<Document>,
    partitions: Vec<PartitionState>,
    generated: usize,
    /// The smallest and largest values of all documents so far (the input is
    /// sorted by them).
    full_start: Option<Bson>,
    full_end: Option<Bson>,
    ended: bool,
}

fn same_key(a: &[Option<Bson>], b: &[Option<Bson>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| compare(x.as_ref(), y.as_ref()).is_eq())
}

impl Densified<'_> {
    /// A generated document: the partition's fields, then the field.
    fn generate(&mut self, key: &[Option<Bson>], value: Bson) -> Result<()> {
        self.generated += 1;
        if self.generated > MAX_GENERATED {
            let message = format!(
                "Generated {} documents in $densify, which is over the limit of {MAX_GENERATED}. Increase the 'internalQueryMaxAllowedDensifyDocs' parameter to allow more generated documents",
                self.generated
            );
            return Err(code(ErrorCode::Location5897900, message));
        }
        let mut doc = Document::new();
        for (path, part) in self.stage.partition_fields.iter().zip(key) {
            if let Some(part) = part {
                set_path(&mut doc, path, part.clone());
            }
        }
        set_path(&mut doc, &self.stage.field, value);
        self.ready.push_back(doc);
        Ok(())
    }

    /// Generates the partition's grid values below `until` (up to and including
    /// it with `inclusive`), moving its next value past an equal one.
    fn fill_to(&mut self, at: usize, until: &Bson, inclusive: bool, upper: Option<&Bson>) -> Result<()> {
        loop {
            let next = self.partitions[at].next.clone();
            let order = compare(Some(&next), Some(until));
            let below_upper = upper.is_none_or(|upper| compare(Some(&next), Some(upper)).is_lt());
            if (order.is_lt() || (inclusive && order.is_eq())) && below_upper {
                let key = self.partitions[at].key.clone();
                self.generate(&key, next.clone())?;
                self.partitions[at].next = self.stage.next(&next)?;
            } else {
                if order.is_eq() {
                    self.partitions[at].next = self.stage.next(&next)?;
                }
                return Ok(());
            }
        }
    }

    /// Takes in one input document.
    fn take(&mut self, doc: Document) -> Result<()> {
        let Some(value) = self.stage.value_of(&doc)?.cloned() else {
            self.ready.push_back(doc);
            return Ok(());
        };
        let key = self.stage.partition_of(&doc);
        let at = match self.partitions.iter().position(|p| same_key(&p.key, &key)) {
            Some(at) => at,
            None => {
                let start = match &self.stage.range {
                    Range::Explicit(bounds) => bounds.0.clone(),
                    // Every partition starts at the smallest value of all.
                    Range::Full => self.full_start.clone().unwrap_or_else(|| value.clone()),
                    Range::Partition => value.clone(),
                };
                if matches!(self.stage.range, Range::Partition | Range::Explicit(..)) {
                    // Sorted by partition: the partition before is done.
                    self.finish_partitions()?;
                    self.partitions.clear();
                }
                self.partitions.push(PartitionState { key, next: start });
                self.partitions.len() - 1
            }
        };
        if self.full_start.is_none() {
            self.full_start = Some(value.clone());
        }
        self.full_end = Some(value.clone());
        match &self.stage.range {
            Range::Explicit(bounds) => {
                if compare(Some(&value), Some(&bounds.0)).is_ge() {
                    let upper = bounds.1.clone();
                    self.fill_to(at, &value, false, Some(&upper))?;
                }
            }
            _ => self.fill_to(at, &value, false, None)?,
        }
        self.ready.push_back(doc);
        Ok(())
    }

    /// Completes the partitions at the end of their input: explicit bounds up to
    /// the upper bound, `"full"` up to the largest value of all.
    fn finish_partitions(&mut self) -> Result<()> {
        for at in 0..self.partitions.len() {
            match &self.stage.range {
                Range::Explicit(bounds) => {
                    let upper = bounds.1.clone();
                    self.fill_to(at, &upper, false, Some(&upper))?;
                }
                Range::Full => {
                    if let Some(end) = self.full_end.clone() {
                        self.fill_to(at, &end, true, None)?;
                    }
                }
                Range::Partition => {}
            }
        }
        Ok(())
    }
}

impl Iterator for Densified<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        loop {
            if let Some(doc) = self.ready.pop_front() {
                return Some(Ok(doc));
            }
            if self.ended {
                return None;
            }
            let step = match self.input.next() {
                Some(Ok(doc)) => self.take(doc),
                Some(Err(error)) => Err(error),
                None => {
                    self.ended = true;
                    self.finish_partitions()
                }
            };
            if let Err(error) = step {
                self.ended = true;
                self.ready.clear();
                return Some(Err(error));
            }
        }
    }
}
