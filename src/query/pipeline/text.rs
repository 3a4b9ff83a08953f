//! `$text` in a pipeline: its opening `$match` searches the collection's text index,
//! and the text score (`{$meta: "textScore"}`) is each document's score for that
//! search. A score is worked out from the document the search matched, so the
//! stages that ask for it (`$project`, `$sort`) must see the documents as the
//! search matched them: only `$match`, `$sort`, `$skip` and `$limit` may stand
//! between. `$project`, `$addFields`/`$set` and `$group` read it in their
//! expressions.

use super::{Pipeline, Stage};
use crate::error::{Error, ErrorCode, Result};
use crate::index::Index;
use crate::query::sort::no_text_score;
use crate::query::text::TextSearch;

impl Pipeline {
    /// Binds the opening `$match`'s `$text` to the text index among `indexes`
    /// (error 27 without one), and the text scores later stages ask for to its
    /// search (error 40218 without a search).
    pub fn with_text_index(mut self, indexes: &[Index]) -> Result<Pipeline> {
        let mut stages = std::mem::take(&mut self.stages).into_iter();
        let mut bound = Vec::new();
        let mut search: Option<TextSearch> = None;
        if let Some(first) = stages.next() {
            bound.push(match first {
                Stage::Match(filter) => {
                    let filter = filter.with_text_index(indexes)?;
                    search = filter.text_search().cloned();
                    Stage::Match(filter)
                }
                other => other,
            });
        }
        let searched = search.is_some();
        let unavailable = || match searched {
            true => Error::command(
                ErrorCode::NotImplemented,
                "{$meta: \"textScore\"} after a stage that reshapes documents is not supported yet",
            ),
            false => no_text_score(),
        };
        for stage in stages {
            bound.push(match stage {
                Stage::Sort(sort) if sort.needs_text_score() => {
                    Stage::Sort(sort.with_text_search(Some(search.as_ref().ok_or_else(unavailable)?))?)
                }
                Stage::Project(projection) if projection.needs_text_score() => {
                    let projection = projection.with_text_search(Some(search.as_ref().ok_or_else(unavailable)?))?;
                    search = None;
                    Stage::Project(projection)
                }
                Stage::AddFields(computed) if computed.needs_text_score() => {
                    let computed = computed.with_text_search(search.as_ref().ok_or_else(unavailable)?);
                    search = None;
                    Stage::AddFields(computed)
                }
                Stage::Group(group) if group.needs_text_score() => {
                    let group = group.with_text_search(search.as_ref().ok_or_else(unavailable)?);
                    search = None;
                    Stage::Group(group)
                }
                stage @ (Stage::Match(_) | Stage::Sort(_) | Stage::Skip(_) | Stage::Limit(_)) => stage,
                other => {
                    search = None;
                    other
                }
            });
        }
        self.stages = bound;
        Ok(self)
    }
}
