//! `$setWindowFields`: each document gets fields computed over a window of the
//! documents of its partition, in the partition's sort order.
//!
//! As MongoDB does, the stage is parsed into a `$set` of the partition key (when
//! there is a `partitionBy`), a `$sort` by that key and `sortBy` (which spills to
//! disk like any sort), the window stage itself, which holds one partition at a
//! time, and an `$unset` of the key.

mod bounds;
mod functions;

use std::collections::VecDeque;

use bson::{doc, Bson, Document};

use self::functions::{Output, Partition};
use super::fields::Computed;
use super::fields::{remove_path, set_path, split_path};
use super::held::Held;
use super::{Docs, Stage};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{compare, type_name, Expr, Variables};
use crate::query::sort::Sort;
use crate::value::size::document_footprint;

/// The field holding a computed partition key while the stage runs.
const PARTITION_KEY: &str = "__internal_setWindowFields_partition_key";

/// The window stage: the output fields, applied in the byte order of their
/// names, as MongoDB 8.0 applies them.
#[derive(Debug, Clone)]
pub(super) struct SetWindowFields {
    partition: Partitioning,
    sort: Option<Sort>,
    outputs: Vec<(Vec<String>, Output)>,
}

/// How the stage finds a document's partition.
#[derive(Debug, Clone)]
enum Partitioning {
    /// One partition.
    Whole,
    /// The value of a field path (the sort before the stage sorts by it).
    Field(Expr),
    /// A computed key, set in [`PARTITION_KEY`] before the sort.
    Computed,
}

fn failed(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

/// Parses `{partitionBy, sortBy, output}` into the stages that run it.
pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<Vec<Stage>> {
    let Bson::Document(spec) = argument else {
        let found = type_name(Some(argument));
        return Err(failed(format!("the $setWindowFields stage specification must be an object, found {found}")));
    };
    let (mut partition_by, mut sort_by, mut output) = (None, None, None);
    for (field, value) in spec {
        match field.as_str() {
            "partitionBy" => partition_by = Some(value),
            "sortBy" => sort_by = Some(value),
            "output" => output = Some(value),
            _ => {
                let message = format!("BSON field '$setWindowFields.{field}' is an unknown field.");
                return Err(Error::command(ErrorCode::Location40415, message));
            }
        }
    }
    let wrong_type = |field: &str, value: &Bson| {
        let message = format!(
            "BSON field '$setWindowFields.{field}' is the wrong type '{}', expected type 'object'",
            type_name(Some(value))
        );
        Error::command(ErrorCode::TypeMismatch, message)
    };
    let sort_spec = match sort_by {
        None | Some(Bson::Null) => Document::new(),
        Some(Bson::Document(sort)) => sort.clone(),
        Some(other) => return Err(wrong_type("sortBy", other)),
    };
    let sort = if sort_spec.is_empty() { None } else { Some(Sort::parse(&sort_spec)?) };
    let output = match output {
        None => {
            let message = "BSON field '$setWindowFields.output' is missing but a required field";
            return Err(Error::command(ErrorCode::Location40414, message));
        }
        Some(Bson::Document(output)) => output,
        Some(other) => return Err(wrong_type("output", other)),
    };
    let mut outputs = Vec::with_capacity(output.len());
    for (name, spec) in output {
        let path = split_path(name)?;
        outputs.push((path, Output::parse(name, spec, sort.as_ref(), vars)?));
    }
    outputs.sort_by_key(|(path, _)| path.join("."));
    for pair in outputs.windows(2) {
        let (a, b) = (&pair[0].0, &pair[1].0);
        if b.starts_with(a) || a.starts_with(b) {
            let message = "$setWindowFields 'output' specification contains two conflicting paths";
            return Err(Error::command(ErrorCode::Location6307900, message));
        }
    }
    let mut stages = Vec::new();
    let mut sort_all = Document::new();
    let partition = match partition_by {
        None => Partitioning::Whole,
        Some(partition_by) => {
            let expr = Expr::parse(partition_by, vars)?;
            if matches!(expr.folded(), Some(Bson::Array(_))) {
                let message = "An expression used to partition cannot evaluate to value of type array";
                return Err(Error::command(ErrorCode::TypeMismatch, message));
            }
            match partition_by {
                Bson::String(path) if path.starts_with('$') && !path.starts_with("$$") => {
                    sort_all.insert(&path[1..], 1);
                    Partitioning::Field(expr)
                }
                _ => {
                    let set = doc! {PARTITION_KEY: partition_by.clone()};
                    stages.push(Stage::AddFields(Computed::parse(&set, "$addFields", vars)?));
                    sort_all.insert(PARTITION_KEY, 1);
                    Partitioning::Computed
                }
            }
        }
    };
    for (field, direction) in sort_spec {
        if !sort_all.contains_key(&field) {
            sort_all.insert(field, direction);
        }
    }
    if !sort_all.is_empty() {
        stages.push(Stage::Sort(Sort::parse(&sort_all)?));
    }
    let computed = matches!(partition, Partitioning::Computed);
    stages.push(Stage::Window(Box::new(SetWindowFields { partition, sort, outputs })));
    if computed {
        stages.push(Stage::Unset(vec![vec![PARTITION_KEY.to_owned()]]));
    }
    Ok(stages)
}

impl SetWindowFields {
    /// Computes the output fields, one partition (a run of documents with equal
    /// keys, as the sort before it lines them up) at a time.
    pub(super) fn run<'a>(&'a self, docs: Docs<'a>, held: Held) -> Docs<'a> {
        Box::new(Partitions { stage: self, input: docs, pending: None, ready: VecDeque::new(), held, failed: false })
    }

    /// The partition key of a document.
    fn key(&self, doc: &Document) -> Result<Bson> {
        let key = match &self.partition {
            Partitioning::Whole => return Ok(Bson::Null),
            Partitioning::Field(expr) => expr.evaluate_optional(doc)?,
            Partitioning::Computed => doc.get(PARTITION_KEY).cloned(),
        };
        match key {
            Some(Bson::Array(_)) => {
                Err(Error::command(ErrorCode::TypeMismatch, "Cannot 'partitionBy' an expression of type array"))
            }
            Some(value) => Ok(value),
            None => Ok(Bson::Null),
        }
    }

    /// Sets the output fields of one partition's documents.
    fn compute(&self, mut docs: Vec<Document>) -> Result<Vec<Document>> {
        let mut results = Vec::with_capacity(self.outputs.len());
        {
            let partition = Partition { docs: &docs, sort: self.sort.as_ref() };
            for (_, output) in &self.outputs {
                results.push(partition.compute(output)?);
            }
        }
        for ((path, _), values) in self.outputs.iter().zip(results) {
            for (doc, value) in docs.iter_mut().zip(values) {
                match value {
                    Some(value) => set_path(doc, path, value),
                    None => remove_path(doc, path),
                }
            }
        }
        Ok(docs)
    }
}

/// The stage's output, computed a partition at a time.
struct Partitions<'a> {
    stage: &'a SetWindowFields,
    input: Docs<'a>,
    /// The first document of the next partition, read already.
    pending: Option<(Bson, Document)>,
    ready: VecDeque<Document>,
    held: Held,
    failed: bool,
}

impl Partitions<'_> {
    /// Reads and computes the next partition; `false` at the end.
    fn next_partition(&mut self) -> Result<bool> {
        let (key, first) = match self.pending.take() {
            Some(pending) => pending,
            None => match self.input.next() {
                None => return Ok(false),
                Some(doc) => {
                    let doc = doc?;
                    (self.stage.key(&doc)?, doc)
                }
            },
        };
        self.held.clear();
        let mut docs = vec![first];
        self.hold(&docs[0])?;
        while let Some(doc) = self.input.next() {
            let doc = doc?;
            let next_key = self.stage.key(&doc)?;
            if compare(Some(&next_key), Some(&key)).is_ne() {
                self.pending = Some((next_key, doc));
                break;
            }
            self.hold(&doc)?;
            docs.push(doc);
        }
        self.ready = self.stage.compute(docs)?.into();
        Ok(true)
    }

    /// Counts a document of the partition held, failing past the stage's limit.
    fn hold(&mut self, doc: &Document) -> Result<()> {
        self.held.add(document_footprint(doc))?;
        if self.held.over() {
            let message = format!(
                "Exceeded memory limit in DocumentSourceSetWindowFields, used {} bytes but max allowed is {}",
                self.held.bytes(),
                self.held.limit()
            );
            return Err(Error::command(ErrorCode::Location5414201, message));
        }
        Ok(())
    }
}

impl Iterator for Partitions<'_> {
    type Item = Result<Document>;

    fn next(&mut self) -> Option<Result<Document>> {
        if self.failed {
            return None;
        }
        loop {
            if let Some(doc) = self.ready.pop_front() {
                return Some(Ok(doc));
            }
            match self.next_partition() {
                Ok(true) => {}
                Ok(false) => return None,
                Err(error) => {
                    self.failed = true;
                    return Some(Err(error));
                }
            }
        }
    }
}
