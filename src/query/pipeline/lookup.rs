//! `$lookup`: each input document joined with documents of another collection of
//! the same branch and point, gathered into an array field.
//!
//! Three forms, as MongoDB 7.0 has them:
//! - equality (`localField`/`foreignField`): the foreign documents whose
//!   `foreignField` equals the local value, or any element of it when it is an
//!   array; a missing or null local value matches null and missing foreign values;
//! - pipeline (`let` + `pipeline`): the sub-pipeline run over the whole foreign
//!   collection, with the `let` variables evaluated against the input document;
//! - both: the sub-pipeline run over the documents the equality selects.
//!
//! The foreign collection is read once per run of the outer pipeline
//! ([`Env::collection`]). The `let` variables are constants to the sub-pipeline
//! ([`Variables`] are resolved when expressions are parsed), so a sub-pipeline
//! with `let` variables is compiled again for each input document; one without is
//! compiled once, and its result computed once.

use bson::{doc, Bson, Document};

use super::fields::{set_path, split_path};
use super::{Docs, Env, Pipeline, Within};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{type_name, Expr, Variables};
use crate::query::Filter;
use crate::value::size::{document_size, MAX_DOCUMENT};

/// A compiled `$lookup` stage.
#[derive(Debug, Clone)]
pub(super) struct Lookup {
    /// The foreign collection.
    from: String,
    /// Where the joined documents go.
    as_path: Vec<String>,
    /// `localField` and `foreignField`, for the equality and combined forms.
    equality: Option<(Vec<String>, String)>,
    /// The sub-pipeline, for the pipeline and combined forms.
    pipeline: Option<SubPipeline>,
}

/// A `$lookup`'s sub-pipeline and its `let` variables.
#[derive(Debug, Clone)]
struct SubPipeline {
    /// The stages as given, compiled again per input document when there are
    /// `let` variables.
    stages: Vec<Bson>,
    /// `let`: names and the expressions evaluated against each input document.
    lets: Vec<(String, Expr)>,
    /// The variables around the stage: the command's and enclosing `$lookup`s'.
    vars: Variables,
    /// The sub-pipeline compiled with the `let` variables as `null`: checked once,
    /// and run as is when there are none.
    compiled: Pipeline,
}

impl Lookup {
    /// Parses `{from, as, localField, foreignField, let, pipeline}`; expressions
    /// may read `vars`.
    pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<Lookup> {
        let Bson::Document(spec) = argument else {
            return Err(parse_error("the $lookup specification must be an Object"));
        };
        let (mut from, mut as_field, mut local, mut foreign) = (None, None, None, None);
        let (mut stages, mut lets) = (None, None);
        for (name, value) in spec {
            match (name.as_str(), value) {
                ("pipeline", Bson::Array(items)) => stages = Some(sub_pipeline_stages(items)?),
                ("pipeline", _) => {
                    return Err(Error::type_mismatch("'pipeline' option must be specified as an array"));
                }
                ("let", Bson::Document(spec)) => lets = Some(spec),
                ("let", other) => {
                    let message = format!(
                        "$lookup argument 'let: {other}' must be an object, is type {}",
                        type_name(Some(other))
                    );
                    return Err(parse_error(message));
                }
                ("from", Bson::String(coll)) => from = Some(coll.clone()),
                ("from", other) => {
                    let message =
                        format!("$lookup 'from' field must be a string, but found {}", type_name(Some(other)));
                    return Err(parse_error(message));
                }
                (_, Bson::String(text)) => match name.as_str() {
                    "as" => as_field = Some(text.as_str()),
                    "localField" => local = Some(text.as_str()),
                    "foreignField" => foreign = Some(text.as_str()),
                    _ => return Err(parse_error(format!("unknown argument to $lookup: {name}"))),
                },
                (_, other) => {
                    let message = format!(
                        "$lookup argument '{name}: {other}' must be a string, found {other}: {}",
                        type_name(Some(other))
                    );
                    return Err(parse_error(message));
                }
            }
        }
        let Some(from) = from else {
            return Err(parse_error(
                "$lookup stage without explicit collection must have a pipeline with $documents as first stage",
            ));
        };
        let as_path = match as_field {
            Some(path) if !path.is_empty() => split_path(path)?,
            _ => return Err(parse_error("must specify 'as' field for a $lookup")),
        };
        let equality = match (local.filter(|l| !l.is_empty()), foreign.filter(|f| !f.is_empty())) {
            (Some(local), Some(foreign)) => {
                split_path(foreign)?;
                Some((split_path(local)?, foreign.to_owned()))
            }
            (None, None) if stages.is_some() => None,
            _ if stages.is_some() => {
                return Err(parse_error(
                    "$lookup requires both or neither of 'localField' and 'foreignField' to be specified",
                ))
            }
            _ => {
                return Err(parse_error(
                    "$lookup requires either 'pipeline' or both 'localField' and 'foreignField' to be specified",
                ))
            }
        };
        let pipeline = match stages {
            Some(stages) => Some(SubPipeline::parse(stages, lets, vars)?),
            None if lets.is_some() => {
                return Err(parse_error("$lookup with a 'let' argument must also specify 'pipeline'"))
            }
            None => None,
        };
        Ok(Lookup { from, as_path, equality, pipeline })
    }

    /// Whether every input document joins the same documents (no equality, no
    /// `let`): the join is then computed once.
    pub(super) fn is_uncorrelated(&self) -> bool {
        self.equality.is_none() && self.pipeline.as_ref().is_some_and(|p| p.lets.is_empty())
    }

    /// The documents `doc` joins: at most 16 MiB of them (4568 past it).
    pub(super) fn joined(&self, doc: &Document, env: &Env<'_>) -> Result<Vec<Document>> {
        let foreign = env.collection(&self.from)?;
        let filter = match &self.equality {
            Some((local, foreign_field)) => Some(join_filter(doc, local, foreign_field)?),
            None => None,
        };
        // The candidates are copied one at a time, as the sub-pipeline reads them.
        let candidates = (0..foreign.len())
            .filter(|&at| filter.as_ref().is_none_or(|filter| filter.matches(&foreign[at])))
            .map(|at| Ok(foreign[at].clone()));
        let too_large = |_| {
            let message =
                format!("Total size of documents in {} matching the $lookup exceeds maximum document size", self.from);
            Error::command(ErrorCode::Location4568, message)
        };
        match &self.pipeline {
            Some(pipeline) => pipeline.run(doc, Box::new(candidates), env, too_large),
            None => {
                let mut size = 0;
                let mut out = Vec::new();
                for candidate in candidates {
                    let candidate: Document = candidate?;
                    size += document_size(&candidate);
                    if size > MAX_DOCUMENT {
                        return Err(too_large(size));
                    }
                    out.push(candidate);
                }
                Ok(out)
            }
        }
    }

    /// Stores the joined documents into `doc`.
    pub(super) fn store(&self, mut doc: Document, joined: Vec<Document>) -> Document {
        set_path(&mut doc, &self.as_path, Bson::Array(joined.into_iter().map(Bson::Document).collect()));
        doc
    }
}

impl SubPipeline {
    /// Compiles the sub-pipeline once with its `let` variables bound to `null`,
    /// which checks it.
    fn parse(stages: Vec<Bson>, lets: Option<&Document>, vars: &Variables) -> Result<SubPipeline> {
        let lets = lets.cloned().unwrap_or_default();
        // The names are checked as `$let` checks its variables' names.
        let names: Document = lets.keys().map(|name| (name.clone(), Bson::Null)).collect();
        Expr::parse(&Bson::Document(doc! {"$let": {"vars": names, "in": null}}), &Variables::none())?;
        let lets = lets
            .iter()
            .map(|(name, value)| Ok((name.clone(), Expr::parse(value, vars)?)))
            .collect::<Result<Vec<_>>>()?;
        let unbound = lets.iter().map(|(name, _)| (name.clone(), Some(Bson::Null))).collect();
        let compiled = Pipeline::parse_within(&stages, &vars.with_values(unbound), Within::Lookup)?;
        Ok(SubPipeline { stages, lets, vars: vars.clone(), compiled })
    }

    /// Runs the sub-pipeline over `input` for the local document `doc`; its results
    /// may take up to 16 MiB (`too_large` past it).
    fn run(
        &self,
        doc: &Document,
        input: Docs<'_>,
        env: &Env<'_>,
        too_large: impl Fn(usize) -> Error,
    ) -> Result<Vec<Document>> {
        if self.lets.is_empty() {
            return self.compiled.run_in(input, env, MAX_DOCUMENT, too_large);
        }
        let values = self
            .lets
            .iter()
            .map(|(name, expr)| Ok((name.clone(), expr.evaluate_optional(doc)?)))
            .collect::<Result<Vec<_>>>()?;
        let pipeline = Pipeline::parse_within(&self.stages, &self.vars.with_values(values), Within::Lookup)?;
        pipeline.run_in(input, env, MAX_DOCUMENT, too_large)
    }
}

/// The stages of a sub-pipeline, which must be objects.
fn sub_pipeline_stages(items: &[Bson]) -> Result<Vec<Bson>> {
    match items.iter().all(|item| matches!(item, Bson::Document(_))) {
        true => Ok(items.to_vec()),
        false => Err(Error::type_mismatch("Each element of the 'pipeline' array must be an object")),
    }
}

/// A `$lookup` specification error (FailedToParse).
fn parse_error(message: impl Into<String>) -> Error {
    Error::command(ErrorCode::FailedToParse, message)
}

/// The filter selecting the foreign documents `doc` joins: `foreignField` equal to
/// one of the local values (null when there is none), where regular expressions
/// match only regular expressions.
fn join_filter(doc: &Document, local: &[String], foreign: &str) -> Result<Filter> {
    let mut values = Vec::new();
    local_values(doc, local, &mut values);
    if values.is_empty() {
        values.push(Bson::Null);
    }
    let spec = match values.as_slice() {
        [one] => doc! {foreign: {"$eq": one.clone()}},
        _ if values.iter().any(|v| matches!(v, Bson::RegularExpression(_))) => {
            let each: Vec<Bson> = values.into_iter().map(|v| Bson::Document(doc! {foreign: {"$eq": v}})).collect();
            doc! {"$or": each}
        }
        _ => doc! {foreign: {"$in": values}},
    };
    Filter::parse(&spec, &Variables::none())
}

/// The values a local field path reaches: through embedded documents and arrays of
/// them, an array at the end giving its elements.
fn local_values(doc: &Document, path: &[String], out: &mut Vec<Bson>) {
    let Some((first, rest)) = path.split_first() else { return };
    match (doc.get(first), rest.is_empty()) {
        (Some(Bson::Array(items)), true) => out.extend(items.iter().cloned()),
        (Some(Bson::Array(items)), false) => {
            for item in items {
                if let Bson::Document(inner) = item {
                    local_values(inner, rest, out);
                }
            }
        }
        (Some(Bson::Document(inner)), false) => local_values(inner, rest, out),
        (Some(value), true) => out.push(value.clone()),
        _ => {}
    }
}
