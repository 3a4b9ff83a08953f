//! Aggregation pipelines: stages compiled once and run over a stream of documents.
//! Pipeline-style updates (`u: [{$set: …}, …]`) run the same stages on one document.

use bson::{Bson, Document};

use crate::error::{Error, Result};

/// A compiled pipeline.
#[derive(Debug, Clone)]
pub struct Pipeline(Vec<Bson>);

impl Pipeline {
    /// A pipeline-style update: only `$addFields`, `$set`, `$project`, `$unset`,
    /// `$replaceRoot` and `$replaceWith` are allowed.
    pub fn parse_update(stages: &[Bson]) -> Result<Pipeline> {
        Ok(Pipeline(stages.to_vec()))
    }

    /// Runs the pipeline on one document (a pipeline-style update).
    pub fn apply_to(&self, _doc: Document) -> Result<Document> {
        Err(Error::bad_value(format!("pipelines are not implemented yet: {:?}", self.0)))
    }
}
