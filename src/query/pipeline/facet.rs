//! `$facet`: several sub-pipelines over the same input, whose results come out as
//! the array fields of one document.

use bson::{Bson, Document};

use super::held::Held;
use super::{Docs, Env, Pipeline, Within};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{show, type_name, Variables};

/// The most a `$facet` stage's output document may hold, as MongoDB's
/// `internalQueryFacetMaxOutputDocSizeBytes`.
const MAX_OUTPUT: usize = 100 * 1024 * 1024;

/// A compiled `$facet` stage: output field names and their sub-pipelines.
#[derive(Debug, Clone)]
pub(super) struct Facet {
    facets: Vec<(String, Pipeline)>,
}

impl Facet {
    /// Parses `{name: [stages], …}`; the sub-pipelines may not hold `$facet`,
    /// `$out`, `$merge` and the other stages MongoDB refuses there (40600).
    pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<Facet> {
        let spec = match argument {
            Bson::Document(spec) if !spec.is_empty() => spec,
            other => {
                let message = format!(
                    "the $facet specification must be a non-empty object, but found: $facet: {}",
                    show(Some(other))
                );
                return Err(Error::command(ErrorCode::Location40169, message));
            }
        };
        let mut facets = Vec::with_capacity(spec.len());
        for (name, value) in spec {
            check_name(name)?;
            let Bson::Array(stages) = value else {
                let message = format!("arguments to $facet must be arrays, {name} is type {}", type_name(Some(value)));
                return Err(Error::command(ErrorCode::Location40170, message));
            };
            if let Some(other) = stages.iter().find(|stage| !matches!(stage, Bson::Document(_))) {
                let message = format!(
                    "elements of arrays in $facet spec must be non-empty objects, {name} argument contained an element of type {}: {}",
                    type_name(Some(other)),
                    show(Some(other))
                );
                return Err(Error::command(ErrorCode::Location40171, message));
            }
            facets.push((name.clone(), Pipeline::parse_within(stages, vars, Within::Facet)?));
        }
        Ok(Facet { facets })
    }

    /// Runs every sub-pipeline over the whole input: one document out, even for no
    /// input. The input is held (in `held`) while the sub-pipelines read it; the
    /// output may take up to MongoDB's 100 MB (4031 past it).
    pub(super) fn run(&self, docs: Docs<'_>, env: &Env<'_>, held: &mut Held) -> Result<Document> {
        let input = held.gather(docs)?;
        let mut out = Document::new();
        let mut size = 0;
        for (name, pipeline) in &self.facets {
            let left = MAX_OUTPUT.saturating_sub(size);
            let too_large = |more: usize| {
                Error::command(
                    ErrorCode::Location4031,
                    format!(
                        "document constructed by $facet is {} bytes, which exceeds the limit of {MAX_OUTPUT} bytes",
                        size + more
                    ),
                )
            };
            let results = pipeline.run_in(Box::new(input.iter().cloned().map(Ok)), env, left, too_large)?;
            let results: Vec<Bson> = results.into_iter().map(Bson::Document).collect();
            size += results.iter().map(crate::value::size::value_size).sum::<usize>();
            held.add(results.iter().map(crate::value::size::value_footprint).sum())?;
            out.insert(name.clone(), Bson::Array(results));
        }
        Ok(out)
    }
}

/// Refuses a facet name that is not a valid field name.
fn check_name(name: &str) -> Result<()> {
    let problem = if name.is_empty() {
        Some((ErrorCode::Location15998, "FieldPath field names may not be empty strings."))
    } else if name.starts_with('$') {
        Some((ErrorCode::Location16410, "FieldPath field names may not start with '$'."))
    } else if name.contains('.') {
        Some((ErrorCode::Location16412, "FieldPath field names may not contain '.'."))
    } else {
        None
    };
    match problem {
        Some((code, message)) => Err(Error::command(code, message)
            .caused_by("$facet pipeline names must follow the naming rules of field path expressions.")),
        None => Ok(()),
    }
}
