//! `$unionWith`: the input documents, then those of another collection (of the
//! same branch and point) through an optional sub-pipeline.

use std::rc::Rc;

use bson::{Bson, Document};

use super::{Docs, Env, Pipeline, Within};
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{type_name, Variables};

/// A compiled `$unionWith` stage.
#[derive(Debug, Clone)]
pub(super) struct UnionWith {
    coll: String,
    pipeline: Option<Pipeline>,
}

impl UnionWith {
    /// Parses `"coll"` or `{coll, pipeline}`.
    pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<UnionWith> {
        let spec = match argument {
            Bson::String(coll) => return Ok(UnionWith { coll: coll.clone(), pipeline: None }),
            Bson::Document(spec) => spec,
            other => {
                let message = format!(
                    "the $unionWith stage specification must be an object or string, but found {}",
                    type_name(Some(other))
                );
                return Err(Error::command(ErrorCode::FailedToParse, message));
            }
        };
        let (mut coll, mut pipeline) = (None, None);
        for (field, value) in spec {
            match (field.as_str(), value) {
                ("coll", Bson::String(name)) => coll = Some(name.clone()),
                ("pipeline", Bson::Array(stages)) => {
                    pipeline = Some(Pipeline::parse_within(stages, vars, Within::Union)?);
                }
                ("coll" | "pipeline", other) => {
                    let expected = if field == "coll" { "string" } else { "array" };
                    let message = format!(
                        "BSON field '$unionWith.{field}' is the wrong type '{}', expected type '{expected}'",
                        type_name(Some(other))
                    );
                    return Err(Error::command(ErrorCode::TypeMismatch, message));
                }
                _ => {
                    let message = format!("BSON field '$unionWith.{field}' is an unknown field.");
                    return Err(Error::command(ErrorCode::Location40415, message));
                }
            }
        }
        let Some(coll) = coll else {
            let message = "BSON field '$unionWith.coll' is missing but a required field";
            return Err(Error::command(ErrorCode::Location40414, message));
        };
        Ok(UnionWith { coll, pipeline })
    }

    /// The input, then the other collection's documents through the sub-pipeline
    /// (read once the input is done).
    pub(super) fn apply<'a>(&'a self, docs: Docs<'a>, env: &'a Env<'_>) -> Docs<'a> {
        let mut tail: Option<Docs<'a>> = None;
        let mut failed = false;
        let union = std::iter::from_fn(move || {
            if failed {
                return None;
            }
            if tail.is_none() {
                match self.other(env) {
                    Ok(docs) => tail = Some(docs),
                    Err(error) => {
                        failed = true;
                        return Some(Err(error));
                    }
                }
            }
            tail.as_mut()?.next()
        });
        Box::new(docs.chain(union))
    }

    /// The other collection's documents through the sub-pipeline.
    fn other<'a>(&'a self, env: &'a Env<'_>) -> Result<Docs<'a>> {
        let docs: Rc<Vec<Document>> = env.collection(&self.coll)?;
        let input: Docs<'a> = Box::new((0..docs.len()).map(move |at| Ok(docs[at].clone())));
        match &self.pipeline {
            Some(pipeline) => pipeline.stream(input, env),
            None => Ok(input),
        }
    }
}
