//! Aggregation pipelines: stages compiled once and run over a stream of documents.
//! Pipeline-style updates (`u: [{$set: …}, …]`) run the same stages on one document.
//!
//! Running streams: `$match`, `$project`, `$addFields`, `$unset`, `$replaceRoot`,
//! `$unwind`, `$lookup`, `$skip` and `$limit` pass documents one at a time (and the
//! input is no longer pulled once a `$limit` is satisfied); `$sort`, `$group`,
//! `$bucketAuto`, `$facet`, `$count` and `$sample` gather their whole input first.
//! Blocking stages count the memory they hold against their stage's limit and the
//! server's budget ([`held`]); `$sort` and `$group` spill to disk past the first
//! with `allowDiskUse` ([`spill`]). A `$lookup`'s matches and a `$facet`'s output are
//! capped as MongoDB caps them, and the results handed back are counted too.
//!
//! `$lookup` reads other collections through [`Collections`], which the caller
//! provides: `aggregate` the collections of its branch and point, tests a map.
//!
//! A final `$out` or `$merge` is parsed into the pipeline's [`Output`]; running the
//! pipeline leaves it out, and the caller writes the results where it says.
//!
//! `$project` is [`Projection`]'s (`Projection::parse_aggregation`): inclusion and
//! exclusion of fields and dotted paths, nested objects, and computed fields with
//! aggregation expressions, as `find`'s projection but without its positional and
//! `$elemMatch` forms.

mod accumulator;
mod bucket;
mod densify;
mod facet;
mod fields;
mod fill;
mod geo_near;
mod granularity;
mod graph_lookup;
mod group;
mod held;
mod js_accumulator;
mod lookup;
mod output;
mod redact;
mod sort_blocks;
mod spill;
mod text;
mod union_with;
mod unwind;
mod window;

#[cfg(test)]
mod tests;

use std::cell::RefCell;
use std::collections::hash_map::RandomState;
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::rc::Rc;
use std::sync::Arc;

use bson::{doc, Bson, Document};

use self::bucket::BucketAuto;
use self::facet::Facet;
use self::fields::{remove_path, split_path, Computed};
pub use self::geo_near::GeoNear;
use self::group::Group;
use self::held::Held;
use self::lookup::Lookup;
pub use self::output::{Merge, Output, Target};
use self::spill::Limits;
pub use self::spill::MEMORY_LIMIT;

/// Held by the tests that spill (anywhere in the crate) while one of them counts
/// this process's spill files.
#[cfg(test)]
pub static SPILLING: std::sync::Mutex<()> = std::sync::Mutex::new(());
use self::unwind::Unwind;
use crate::error::{Error, ErrorCode, Result};
use crate::memory::{Budget, Reservation};
use crate::query::expr::{show, type_name, Expr, Variables};
use crate::query::{Filter, Projection, Sort};
use crate::value::collation::Collation;
use crate::value::size::document_footprint;

/// A compiled pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline {
    stages: Vec<Stage>,
    /// A final `$out` or `$merge`: where the results go instead of to the caller.
    output: Option<Output>,
    /// The memory a blocking stage may use, and whether it may go past it.
    limits: Limits,
    /// What the run counts its memory against (none: nothing limits it but the
    /// stages' own limits, as for tests and one-document updates).
    budget: Option<Arc<Budget>>,
}

/// The collections a pipeline's `$lookup` stages read.
pub trait Collections {
    /// Every document of the collection `name`, in its natural order; none when it
    /// does not exist.
    fn scan(&self, name: &str) -> Result<Vec<Document>>;
}

/// No collection at all: every `$lookup` finds an empty collection.
pub struct NoCollections;

impl Collections for NoCollections {
    fn scan(&self, _name: &str) -> Result<Vec<Document>> {
        Ok(Vec::new())
    }
}

/// What running stages reads besides their input: the collections (each scanned
/// once per run of the pipeline) and the memory limits.
pub(super) struct Env<'a> {
    collections: &'a dyn Collections,
    scanned: RefCell<HashMap<String, Rc<Vec<Document>>>>,
    /// The memory the scanned collections take.
    scanned_held: RefCell<Reservation>,
    limits: Limits,
    budget: Arc<Budget>,
}

impl Env<'_> {
    /// The documents of the collection `name`, read on first use.
    fn collection(&self, name: &str) -> Result<Rc<Vec<Document>>> {
        if let Some(docs) = self.scanned.borrow().get(name) {
            return Ok(Rc::clone(docs));
        }
        let docs = self.collections.scan(name)?;
        let bytes = docs.iter().map(document_footprint).sum();
        self.scanned_held.borrow_mut().grow(bytes)?;
        let docs = Rc::new(docs);
        self.scanned.borrow_mut().insert(name.to_owned(), Rc::clone(&docs));
        Ok(docs)
    }

    /// The memory a blocking stage called `stage` holds, empty at first.
    fn held(&self, stage: &'static str) -> Held {
        let mut limits = self.limits;
        if stage == "$group" {
            limits.memory = limits.group_memory;
        }
        Held::new(self.budget.reservation(), limits, stage)
    }
}

/// Where a pipeline is parsed, which decides the stages it may hold.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Within {
    /// A command's pipeline.
    Top,
    /// A `$facet` sub-pipeline.
    Facet,
    /// A `$lookup` sub-pipeline.
    Lookup,
    /// A `$unionWith` sub-pipeline.
    Union,
}

/// The stages a `$facet` sub-pipeline may not use.
const NOT_IN_FACET: &[&str] = &[
    "$out",
    "$merge",
    "$facet",
    "$collStats",
    "$indexStats",
    "$geoNear",
    "$changeStream",
    "$planCacheStats",
    "$querySettings",
    "$queryStats",
    "$changeStreamSplitLargeEvent",
    "$search",
    "$searchMeta",
];

/// The stages a `$lookup` sub-pipeline may not use.
const NOT_IN_LOOKUP: &[&str] = &["$out", "$merge", "$changeStream"];

impl Within {
    /// Refuses a stage this kind of pipeline may not hold, with MongoDB's code.
    fn check(self, name: &str) -> Result<()> {
        match self {
            Within::Facet if NOT_IN_FACET.contains(&name) => Err(Error::command(
                ErrorCode::Location40600,
                format!("{name} is not allowed to be used within a $facet stage"),
            )),
            Within::Lookup if NOT_IN_LOOKUP.contains(&name) => Err(Error::command(
                ErrorCode::Location51047,
                format!("{name} is not allowed within a $lookup's sub-pipeline"),
            )),
            Within::Union if NOT_IN_LOOKUP.contains(&name) => Err(Error::command(
                ErrorCode::Location31441,
                format!("{name} is not allowed within a $unionWith's sub-pipeline"),
            )),
            _ => Ok(()),
        }
    }
}

/// A compiled stage.
#[derive(Debug, Clone)]
enum Stage {
    Match(Filter),
    Project(Projection),
    AddFields(Computed),
    Unset(Vec<Vec<String>>),
    ReplaceRoot(Expr),
    Sort(Sort),
    Skip(u64),
    Limit(u64),
    Count(String),
    Group(Group),
    Unwind(Unwind),
    Sample(usize),
    Lookup(Box<Lookup>),
    Facet(Facet),
    BucketAuto(BucketAuto),
    Window(Box<window::SetWindowFields>),
    Densify(Box<densify::Densify>),
    UnionWith(Box<union_with::UnionWith>),
    GraphLookup(Box<graph_lookup::GraphLookup>),
    Redact(Expr),
}

impl Stage {
    /// The stage's name, for messages.
    fn name(&self) -> &'static str {
        match self {
            Stage::Match(_) => "$match",
            Stage::Project(_) => "$project",
            Stage::AddFields(_) => "$addFields",
            Stage::Unset(_) => "$unset",
            Stage::ReplaceRoot(_) => "$replaceRoot",
            Stage::Sort(_) => "$sort",
            Stage::Skip(_) => "$skip",
            Stage::Limit(_) => "$limit",
            Stage::Count(_) => "$count",
            Stage::Group(_) => "$group",
            Stage::Unwind(_) => "$unwind",
            Stage::Sample(_) => "$sample",
            Stage::Lookup(_) => "$lookup",
            Stage::Facet(_) => "$facet",
            Stage::BucketAuto(_) => "$bucketAuto",
            Stage::Window(_) => "$setWindowFields",
            Stage::Densify(_) => "$densify",
            Stage::UnionWith(_) => "$unionWith",
            Stage::GraphLookup(_) => "$graphLookup",
            Stage::Redact(_) => "$redact",
        }
    }
}

/// The stages a pipeline-style update may use.
const UPDATE_STAGES: &[&str] = &["$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith"];

/// The stages a change stream's pipeline may hold after `$changeStream`.
const CHANGE_STREAM_STAGES: &[&str] =
    &["$match", "$addFields", "$set", "$project", "$unset", "$replaceRoot", "$replaceWith", "$redact"];

/// A stream of documents between stages.
type Docs<'a> = Box<dyn Iterator<Item = Result<Document>> + 'a>;

/// Documents as their BSON bytes, not decoded yet.
pub type RawDocs<'a> = Box<dyn Iterator<Item = Result<Vec<u8>>> + 'a>;

impl Pipeline {
    /// Compiles an aggregation pipeline whose expressions may read `vars`, the
    /// command's variables. A `$out` or `$merge` anywhere but last is
    /// refused (40601) once every stage has parsed.
    pub fn parse(stages: &[Bson], vars: &Variables) -> Result<Pipeline> {
        Pipeline::parse_within(stages, vars, Within::Top)
    }

    /// Compiles a pipeline or a sub-pipeline, refusing the stages it may not hold.
    fn parse_within(stages: &[Bson], vars: &Variables, within: Within) -> Result<Pipeline> {
        let mut pipeline = Pipeline { stages: Vec::new(), output: None, limits: Limits::default(), budget: None };
        let mut misplaced = None;
        let mut names = Vec::with_capacity(stages.len());
        for (index, spec) in stages.iter().enumerate() {
            let (name, argument) = stage_parts(spec)?;
            names.push(name);
            match Output::parse(name, argument)? {
                Some(output) => {
                    if index + 1 < stages.len() {
                        misplaced = misplaced.or(Some(output.stage_name()));
                    }
                    pipeline.output = Some(output);
                }
                // First in a collection's pipeline it is the pipeline's source
                // (`command/geo_near.rs`); anywhere else MongoDB refuses it.
                None if name == "$geoNear" => {
                    GeoNear::parse(argument)?;
                    within.check(name)?;
                    let message = "$geoNear was not the first stage in the pipeline after optimization. Is optimization disabled or inhibited?";
                    return Err(Error::command(ErrorCode::Location40603, message));
                }
                // A change stream's own (`command/change_stream.rs`).
                None if name == "$changeStreamSplitLargeEvent" => {
                    within.check(name)?;
                    let message = format!("{name} can only be used in a $changeStream pipeline");
                    return Err(Error::command(ErrorCode::IllegalOperation, message));
                }
                // Sources the `aggregate` command reads first in its pipeline
                // (`command/coll_stats.rs`, `command/index_stats.rs`).
                None if matches!(
                    name,
                    "$collStats" | "$indexStats" | "$planCacheStats" | "$querySettings" | "$queryStats"
                ) =>
                {
                    within.check(name)?;
                    let message = format!("{name} is only valid as the first stage in a pipeline");
                    return Err(Error::command(ErrorCode::Location40602, message));
                }
                None => pipeline.stages.extend(parse_stage(name, argument, vars)?),
            }
        }
        for name in names {
            within.check(name)?;
        }
        check_text(&pipeline.stages, matches!(within, Within::Top))?;
        if let Some(name) = misplaced {
            let message = format!("{name} can only be the final stage in the pipeline");
            return Err(Error::command(ErrorCode::Location40601, message));
        }
        Ok(pipeline)
    }

    /// A pipeline-style update: only `$addFields`, `$set`, `$project`, `$unset`,
    /// `$replaceRoot` and `$replaceWith` are allowed.
    pub fn parse_update(stages: &[Bson], vars: &Variables) -> Result<Pipeline> {
        Pipeline::parse_only(stages, vars, UPDATE_STAGES, |name| {
            let message = format!("{name} is not allowed to be used within an update");
            Error::command(ErrorCode::InvalidOptions, message)
        })
    }

    /// The stages after `$changeStream`: only those that look at one event at a time
    /// and keep it in order (`$match`, `$project`, `$addFields`/`$set`, `$unset`,
    /// `$replaceRoot`/`$replaceWith`); any other known stage is 20, as in MongoDB.
    pub fn parse_change_stream(stages: &[Bson], vars: &Variables) -> Result<Pipeline> {
        Pipeline::parse_only(stages, vars, CHANGE_STREAM_STAGES, |name| {
            let message = format!("{name} is not permitted in a $changeStream pipeline");
            Error::command(ErrorCode::IllegalOperation, message)
        })
    }

    /// A pipeline of the stages in `allowed` only: each parses first (an unknown
    /// stage is 40324), then any other is `refused(name)`.
    fn parse_only(
        stages: &[Bson],
        vars: &Variables,
        allowed: &[&str],
        refused: impl Fn(&str) -> Error,
    ) -> Result<Pipeline> {
        let mut pipeline = Pipeline { stages: Vec::new(), output: None, limits: Limits::default(), budget: None };
        for spec in stages {
            let (name, argument) = stage_parts(spec)?;
            let parsed =
                if Output::parse(name, argument)?.is_some() { Vec::new() } else { parse_stage(name, argument, vars)? };
            if !allowed.contains(&name) {
                return Err(refused(name));
            }
            pipeline.stages.extend(parsed);
        }
        check_text(&pipeline.stages, false)?;
        Ok(pipeline)
    }

    /// Whether the pipeline has no stage (it returns its input as is).
    pub fn is_empty(&self) -> bool {
        self.stages.is_empty() && self.output.is_none()
    }

    /// The final `$out` or `$merge`, if any: [`Pipeline::run`] leaves it to the caller.
    pub fn output(&self) -> Option<&Output> {
        self.output.as_ref()
    }

    /// This pipeline with its strings compared by `collation`: in `$match` filters
    /// and `$sort`. Stages that would compare strings elsewhere (groups, joins,
    /// expressions) are refused until they take a collation too.
    pub fn with_collation(mut self, collation: Option<&Arc<Collation>>) -> Result<Pipeline> {
        let Some(collation) = collation else { return Ok(self) };
        let stages = std::mem::take(&mut self.stages);
        for stage in stages {
            let stage = match stage {
                Stage::Match(filter) => Stage::Match(filter.with_collation(Some(collation))?),
                Stage::Sort(sort) => Stage::Sort(sort.with_collation(Some(collation))),
                Stage::Group(group) => Stage::Group(group.with_collation(collation)?),
                Stage::Project(projection) if !projection.compares_values() => Stage::Project(projection),
                keep @ (Stage::Unset(_)
                | Stage::Skip(_)
                | Stage::Limit(_)
                | Stage::Count(_)
                | Stage::Sample(_)
                | Stage::Unwind(_)) => keep,
                other => {
                    return Err(Error::command(
                        ErrorCode::NotImplemented,
                        format!("a collation other than simple is not supported yet with {}", other.name()),
                    ))
                }
            };
            self.stages.push(stage);
        }
        Ok(self)
    }

    /// The filter of a leading `$match`, which a caller may use to choose its input
    /// (an `_id` lookup); the pipeline still applies it.
    pub fn leading_match(&self) -> Option<&Filter> {
        match self.stages.first() {
            Some(Stage::Match(filter)) => Some(filter),
            _ => None,
        }
    }

    /// Lets `$sort` spill to disk past the memory limit (`$group` then goes past
    /// it in memory): the `allowDiskUse` option of `aggregate`.
    pub fn allow_disk_use(mut self, allow: bool) -> Pipeline {
        self.limits.allow_disk_use = allow;
        self
    }

    /// Sets the memory a blocking stage may use ([`MEMORY_LIMIT`] unless changed,
    /// as tests do).
    pub fn with_memory_limit(self, bytes: usize) -> Pipeline {
        self.with_stage_limits(bytes, bytes)
    }

    /// Sets the memory `$group` and the other blocking stages may use, as the
    /// server's parameters say.
    pub fn with_stage_limits(mut self, others: usize, group: usize) -> Pipeline {
        self.limits.memory = others;
        self.limits.group_memory = group;
        self
    }

    /// Counts what the run holds against `budget`.
    pub fn with_budget(mut self, budget: Arc<Budget>) -> Pipeline {
        self.budget = Some(budget);
        self
    }

    /// Runs the pipeline over its input documents, up to its output stage if it has
    /// one, with `$lookup` reading `collections`; the first error ends the run.
    pub fn run<'a>(
        &'a self,
        input: impl Iterator<Item = Result<Document>> + 'a,
        collections: &'a dyn Collections,
    ) -> Result<Vec<Document>> {
        self.run_held(input, collections).map(|(docs, _)| docs)
    }

    /// As [`Pipeline::run`], with the memory the results take, counted against the
    /// budget, to be held for as long as they are.
    pub fn run_held<'a>(
        &'a self,
        input: impl Iterator<Item = Result<Document>> + 'a,
        collections: &'a dyn Collections,
    ) -> Result<(Vec<Document>, Reservation)> {
        self.run_input(Box::new(input), None, collections)
    }

    /// The `$sort` the pipeline starts with, which can take its documents as BSON
    /// bytes ([`Pipeline::run_held_raw`]).
    pub fn leading_sort(&self) -> Option<&Sort> {
        match self.stages.first() {
            Some(Stage::Sort(sort)) => Some(sort),
            _ => None,
        }
    }

    /// As [`Pipeline::run_held`], for a pipeline that sorts first, with documents
    /// given as their BSON bytes: the `$sort` decodes each document once, as it
    /// hands it on.
    pub fn run_held_raw<'a>(
        &'a self,
        input: RawDocs<'a>,
        collections: &'a dyn Collections,
    ) -> Result<(Vec<Document>, Reservation)> {
        if self.leading_sort().is_none() {
            return Err(Error::Internal("documents as bytes for a pipeline that does not sort first".into()));
        }
        self.run_input(Box::new(std::iter::empty()), Some(input), collections)
    }

    /// Runs the stages over `input`, or when `raw` is given (and the first stage
    /// is a `$sort`), over it.
    fn run_input<'a>(
        &'a self,
        input: Docs<'a>,
        raw: Option<RawDocs<'a>>,
        collections: &'a dyn Collections,
    ) -> Result<(Vec<Document>, Reservation)> {
        let budget = self.budget.clone().unwrap_or_else(|| Budget::new(usize::MAX));
        let env = Env {
            collections,
            scanned: RefCell::new(HashMap::new()),
            scanned_held: RefCell::new(budget.reservation()),
            limits: self.limits,
            budget,
        };
        let mut held = env.budget.reservation();
        let mut docs = input;
        let mut stages = self.stages.iter();
        if let (Some(raw), Some(Stage::Sort(sort))) = (raw, self.stages.first()) {
            stages.next();
            docs = spill::sort_raw(sort, raw, env.held("$sort"))?;
        }
        for stage in stages {
            docs = stage.apply(docs, &env)?;
        }
        let results = docs
            .map(|doc| {
                let doc = doc?;
                held.grow(document_footprint(&doc))?;
                Ok(doc)
            })
            .collect::<Result<Vec<_>>>()?;
        Ok((results, held))
    }

    /// The stages chained over `input` in `env` (a `$unionWith` sub-pipeline).
    fn stream<'s>(&'s self, input: Docs<'s>, env: &'s Env<'_>) -> Result<Docs<'s>> {
        let mut docs = input;
        for stage in &self.stages {
            docs = stage.apply(docs, env)?;
        }
        Ok(docs)
    }

    /// Runs the stages over `input` in `env` (a sub-pipeline runs in its pipeline's).
    /// Its results gathered, failing with `too_large` once they take more than
    /// `cap` bytes of BSON.
    fn run_in<'s>(
        &'s self,
        input: Docs<'s>,
        env: &'s Env<'_>,
        cap: usize,
        too_large: impl Fn(usize) -> Error,
    ) -> Result<Vec<Document>> {
        let mut docs = input;
        for stage in &self.stages {
            docs = stage.apply(docs, env)?;
        }
        let mut size = 0;
        let mut out = Vec::new();
        for doc in docs {
            let doc = doc?;
            size += crate::value::size::document_size(&doc);
            if size > cap {
                return Err(too_large(size));
            }
            out.push(doc);
        }
        Ok(out)
    }

    /// Runs the pipeline on one document (a pipeline-style update).
    pub fn apply_to(&self, doc: Document) -> Result<Document> {
        let mut out = self.run(std::iter::once(Ok(doc)), &NoCollections)?;
        match out.pop() {
            Some(doc) if out.is_empty() => Ok(doc),
            _ => Err(Error::bad_value("a pipeline-style update must produce exactly one document")),
        }
    }
}

/// A stage specification's name and argument: `{$name: argument}`.
fn stage_parts(spec: &Bson) -> Result<(&str, &Bson)> {
    let Bson::Document(doc) = spec else {
        let message =
            format!("Each element of the 'pipeline' array must be an object, found {}", type_name(Some(spec)));
        return Err(Error::type_mismatch(message));
    };
    match doc.iter().next() {
        Some((name, argument)) if doc.len() == 1 => Ok((name.as_str(), argument)),
        _ => Err(Error::command(
            ErrorCode::Location40323,
            "A pipeline stage specification object must contain exactly one field.",
        )),
    }
}

/// A `$match` with `$text` may only open a command's own pipeline (where the
/// collection's text index serves it), as in MongoDB.
fn check_text(stages: &[Stage], top: bool) -> Result<()> {
    let misplaced = stages
        .iter()
        .enumerate()
        .any(|(at, stage)| matches!(stage, Stage::Match(filter) if filter.has_text() && (at > 0 || !top)));
    match misplaced {
        true => Err(Error::command(
            ErrorCode::Location17313,
            "$match with $text is only allowed as the first pipeline stage",
        )),
        false => Ok(()),
    }
}

/// Compiles one stage (`$sortByCount` compiles to two).
fn parse_stage(name: &str, argument: &Bson, vars: &Variables) -> Result<Vec<Stage>> {
    let stage = match name {
        "$match" => match argument {
            Bson::Document(filter) => {
                let filter = Filter::parse(filter, vars)?;
                if filter.near().is_some() {
                    return Err(Error::command(
                        ErrorCode::Location5626500,
                        "$geoNear, $near, and $nearSphere are not allowed in this context, as these operators require sorting geospatial data. If you do not need sort, consider using $geoWithin instead.",
                    ));
                }
                Stage::Match(filter)
            }
            _ => {
                return Err(Error::command(
                    ErrorCode::Location15959,
                    "the match filter must be an expression in an object",
                ))
            }
        },
        "$project" => Stage::Project(parse_project(argument, vars)?),
        "$addFields" | "$set" => match argument {
            Bson::Document(spec) => Stage::AddFields(Computed::parse(spec, name, vars)?),
            other => {
                let message = format!("{name} specification stage must be an object, got {}", type_name(Some(other)));
                return Err(Error::command(ErrorCode::Location40272, message));
            }
        },
        "$unset" => Stage::Unset(parse_unset(argument)?),
        "$replaceRoot" => Stage::ReplaceRoot(parse_replace_root(argument, vars)?),
        "$replaceWith" => Stage::ReplaceRoot(Expr::parse(argument, vars)?),
        "$sort" => Stage::Sort(parse_sort(argument)?),
        "$skip" => Stage::Skip(non_negative("$skip", argument, ErrorCode::Location5107200)?),
        "$limit" => match non_negative("$limit", argument, ErrorCode::Location5107201)? {
            0 => return Err(Error::command(ErrorCode::Location15958, "the limit must be positive")),
            n => Stage::Limit(n),
        },
        "$count" => Stage::Count(parse_count(argument)?),
        "$group" => Stage::Group(Group::parse(argument, vars)?),
        "$unwind" => Stage::Unwind(Unwind::parse(argument)?),
        "$sample" => Stage::Sample(parse_sample(argument)?),
        "$sortByCount" => return parse_sort_by_count(argument, vars),
        "$lookup" => Stage::Lookup(Box::new(Lookup::parse(argument, vars)?)),
        "$facet" => Stage::Facet(Facet::parse(argument, vars)?),
        "$bucket" => return bucket::parse_bucket(argument, vars),
        "$bucketAuto" => Stage::BucketAuto(BucketAuto::parse(argument, vars)?),
        "$setWindowFields" => return window::parse(argument, vars),
        "$densify" => return densify::parse(argument),
        "$unionWith" => Stage::UnionWith(Box::new(union_with::UnionWith::parse(argument, vars)?)),
        "$graphLookup" => Stage::GraphLookup(Box::new(graph_lookup::GraphLookup::parse(argument, vars)?)),
        "$redact" => Stage::Redact(Expr::parse(argument, vars)?),
        "$fill" => return fill::parse(argument, vars),
        // First in a pipeline it opens a change stream (`command/change_stream.rs`).
        "$changeStream" => {
            let message = "$changeStream is only valid as the first stage in a pipeline";
            return Err(Error::command(ErrorCode::Location40602, message));
        }
        _ => {
            let message = format!("Unrecognized pipeline stage name: '{name}'");
            return Err(Error::command(ErrorCode::Location40324, message));
        }
    };
    Ok(vec![stage])
}

/// `$project`: a [`Projection`].
fn parse_project(argument: &Bson, vars: &Variables) -> Result<Projection> {
    let Bson::Document(spec) = argument else {
        let message = format!("$project specification must be an object, got {}", type_name(Some(argument)));
        return Err(Error::command(ErrorCode::Location15969, message));
    };
    Projection::parse_aggregation(spec, vars).map_err(|e| e.caused_by("Invalid $project"))
}

/// `$unset: "path"` or `$unset: ["path", …]`.
fn parse_unset(argument: &Bson) -> Result<Vec<Vec<String>>> {
    let paths: Vec<&Bson> = match argument {
        Bson::String(_) => vec![argument],
        Bson::Array(items) if items.is_empty() => {
            let message = "$unset specification must be a string or an array with at least one field";
            return Err(Error::command(ErrorCode::Location31119, message));
        }
        Bson::Array(items) => items.iter().collect(),
        _ => return Err(Error::command(ErrorCode::Location31002, "$unset specification must be a string or an array")),
    };
    paths
        .into_iter()
        .map(|path| match path {
            Bson::String(path) => split_path(path),
            _ => Err(Error::command(
                ErrorCode::Location31120,
                "$unset specification must be a string or an array containing only string values",
            )),
        })
        .collect()
}

/// `$replaceRoot: {newRoot: expr}`.
fn parse_replace_root(argument: &Bson, vars: &Variables) -> Result<Expr> {
    let Bson::Document(spec) = argument else {
        let found = type_name(Some(argument));
        return Err(Error::type_mismatch(format!(
            "BSON field '$replaceRoot' is the wrong type '{found}', expected type 'object'"
        )));
    };
    if let Some(name) = spec.keys().find(|k| *k != "newRoot") {
        let message = format!("BSON field '$replaceRoot.{name}' is an unknown field.");
        return Err(Error::command(ErrorCode::Location40415, message));
    }
    match spec.get("newRoot") {
        Some(new_root) => Expr::parse(new_root, vars),
        None => Err(Error::command(
            ErrorCode::Location40414,
            "BSON field '$replaceRoot.newRoot' is missing but a required field",
        )),
    }
}

/// `$sort: {field: 1 | -1, …}`.
fn parse_sort(argument: &Bson) -> Result<Sort> {
    let Bson::Document(spec) = argument else {
        return Err(Error::command(ErrorCode::Location15973, "the $sort key specification must be an object"));
    };
    if spec.is_empty() {
        return Err(Error::command(ErrorCode::Location15976, "$sort stage must have at least one sort key"));
    }
    Sort::parse(spec)
}

/// The argument of `$skip` or `$limit`: a non-negative integer.
fn non_negative(stage: &str, argument: &Bson, code: ErrorCode) -> Result<u64> {
    let n = match argument {
        Bson::Int32(n) => i64::from(*n),
        Bson::Int64(n) => *n,
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 9.2e18 => *d as i64,
        Bson::Double(_) | Bson::Decimal128(_) => {
            let message =
                format!("invalid argument to {stage} stage: Cannot represent as a 64-bit integer: {stage}: {argument}");
            return Err(Error::command(code, message));
        }
        other => {
            let message =
                format!("invalid argument to {stage} stage: Expected a number in: {stage}: {}", show(Some(other)));
            return Err(Error::command(code, message));
        }
    };
    u64::try_from(n).map_err(|_| {
        Error::command(
            code,
            format!("invalid argument to {stage} stage: Expected a non-negative number in: {stage}: {n}"),
        )
    })
}

/// `$count: "field"`.
fn parse_count(argument: &Bson) -> Result<String> {
    match argument {
        Bson::String(name) if name.starts_with('$') => {
            Err(Error::command(ErrorCode::Location40158, "the count field cannot be a $-prefixed path"))
        }
        Bson::String(name) if name.contains('.') => {
            Err(Error::command(ErrorCode::Location40160, "the count field cannot contain '.'"))
        }
        Bson::String(name) if !name.is_empty() => Ok(name.clone()),
        _ => Err(Error::command(ErrorCode::Location40156, "the count field must be a non-empty string")),
    }
}

/// `$sample: {size: n}`.
fn parse_sample(argument: &Bson) -> Result<usize> {
    let Bson::Document(spec) = argument else {
        return Err(Error::command(ErrorCode::Location28745, "the $sample stage specification must be an object"));
    };
    let mut size = None;
    for (name, value) in spec {
        if name != "size" {
            return Err(Error::command(ErrorCode::Location28748, format!("unrecognized option to $sample: {name}")));
        }
        let n = match value {
            Bson::Int32(n) => i64::from(*n),
            Bson::Int64(n) => *n,
            Bson::Double(d) => *d as i64,
            _ => return Err(Error::command(ErrorCode::Location28746, "size argument to $sample must be a number")),
        };
        let n = usize::try_from(n)
            .map_err(|_| Error::command(ErrorCode::Location28747, "size argument to $sample must not be negative"))?;
        size = Some(n);
    }
    size.ok_or_else(|| Error::command(ErrorCode::Location28749, "$sample stage must specify a size"))
}

/// `$sortByCount: expr`: a `$group` counting by the expression, then a `$sort`
/// by the count, descending.
fn parse_sort_by_count(argument: &Bson, vars: &Variables) -> Result<Vec<Stage>> {
    let valid = match argument {
        Bson::String(path) => path.starts_with('$'),
        Bson::Document(doc) => doc.len() == 1 && doc.keys().all(|k| k.starts_with('$')),
        _ => false,
    };
    if !valid {
        let message = "the sortByCount field must be defined as a $-prefixed path or an expression inside an object";
        return Err(Error::command(ErrorCode::Location40147, message));
    }
    let group = Group::parse(&Bson::Document(doc! {"_id": argument.clone(), "count": {"$sum": 1}}), vars)?;
    Ok(vec![Stage::Group(group), Stage::Sort(Sort::parse(&doc! {"count": -1})?)])
}

impl Stage {
    /// Chains the stage onto a stream of documents.
    fn apply<'a>(&'a self, docs: Docs<'a>, env: &'a Env<'_>) -> Result<Docs<'a>> {
        Ok(match self {
            Stage::Match(filter) => Box::new(docs.filter_map(move |doc| match doc {
                Ok(d) => match filter.try_matches(&d) {
                    Ok(true) => Some(Ok(d)),
                    Ok(false) => None,
                    Err(error) => Some(Err(error)),
                },
                Err(error) => Some(Err(error)),
            })),
            Stage::Project(projection) => Box::new(docs.map(move |doc| doc.and_then(|d| projection.apply(d, None)))),
            Stage::AddFields(computed) => Box::new(docs.map(move |doc| doc.and_then(|d| computed.apply(d)))),
            Stage::Unset(paths) => Box::new(docs.map(move |doc| {
                doc.map(|mut d| {
                    for path in paths {
                        remove_path(&mut d, path);
                    }
                    d
                })
            })),
            Stage::ReplaceRoot(expr) => Box::new(docs.map(move |doc| doc.and_then(|d| replace_root(expr, &d)))),
            Stage::Unwind(unwind) => Box::new(docs.flat_map(move |doc| match doc {
                Ok(d) => unwind.apply(d).into_iter().map(Ok).collect::<Vec<_>>(),
                Err(e) => vec![Err(e)],
            })),
            Stage::Skip(n) => {
                let mut left = *n;
                Box::new(docs.filter(move |doc| match doc {
                    Ok(_) if left > 0 => {
                        left -= 1;
                        false
                    }
                    _ => true,
                }))
            }
            Stage::Limit(n) => Box::new(docs.take(usize::try_from(*n).unwrap_or(usize::MAX))),
            Stage::Sort(sort) => spill::sort(sort, docs, env.held("$sort"))?,
            Stage::Group(group) => group.run(docs, env.held("$group"))?,
            Stage::Count(field) => {
                let mut count: i64 = 0;
                for doc in docs {
                    doc?;
                    count += 1;
                }
                let out =
                    (count > 0).then(|| doc! {field.clone(): Bson::Int32(i32::try_from(count).unwrap_or(i32::MAX))});
                Box::new(out.into_iter().map(Ok))
            }
            Stage::Sample(size) => {
                let mut held = env.held("$sample");
                let docs = held.gather(docs)?;
                held.keep_while(Box::new(sample(docs, *size).into_iter().map(Ok)))
            }
            Stage::Lookup(lookup) if lookup.is_uncorrelated() => {
                let mut joined: Option<Vec<Document>> = None;
                Box::new(docs.map(move |doc| {
                    let doc = doc?;
                    let found = match &joined {
                        Some(found) => found.clone(),
                        None => joined.insert(lookup.joined(&doc, env)?).clone(),
                    };
                    Ok(lookup.store(doc, found))
                }))
            }
            Stage::Lookup(lookup) => Box::new(docs.map(move |doc| {
                let doc = doc?;
                let found = lookup.joined(&doc, env)?;
                Ok(lookup.store(doc, found))
            })),
            Stage::Facet(facet) => {
                let mut held = env.held("$facet");
                let out = facet.run(docs, env, &mut held);
                held.keep_while(Box::new(std::iter::once(out)))
            }
            Stage::Window(window) => window.run(docs, env.held("$setWindowFields")),
            Stage::Densify(densify) => densify.run(docs),
            Stage::UnionWith(union) => union.apply(docs, env),
            Stage::GraphLookup(lookup) => Box::new(docs.map(move |doc| doc.and_then(|d| lookup.apply(d, env)))),
            Stage::Redact(expr) => Box::new(docs.filter_map(move |doc| match doc {
                Ok(doc) => redact::redact(expr, doc).transpose(),
                Err(e) => Some(Err(e)),
            })),
            Stage::BucketAuto(bucket) => {
                let mut held = env.held("$bucketAuto");
                let out = bucket.run(docs, &mut held)?;
                held.keep_while(Box::new(out.into_iter().map(Ok)))
            }
        })
    }
}

/// The document `$replaceRoot`'s expression yields for `doc`.
fn replace_root(expr: &Expr, doc: &Document) -> Result<Document> {
    match expr.evaluate_optional(doc)? {
        Some(Bson::Document(root)) => Ok(root),
        other => {
            let message = format!(
                "'newRoot' expression must evaluate to an object, but resulting value was: {}. Type of resulting value: '{}'. Input document: {doc}",
                show(other.as_ref()),
                type_name(other.as_ref())
            );
            Err(Error::command(ErrorCode::Location40228, message))
        }
    }
}

/// `size` documents chosen at random (all of them, shuffled, when there are fewer).
fn sample(mut docs: Vec<Document>, size: usize) -> Vec<Document> {
    let mut state = RandomState::new().build_hasher().finish() | 1;
    let mut next = move || {
        // xorshift64: plenty for picking documents.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let take = size.min(docs.len());
    for i in 0..take {
        let j = i + (next() % (docs.len() - i) as u64) as usize;
        docs.swap(i, j);
    }
    docs.truncate(take);
    docs
}
