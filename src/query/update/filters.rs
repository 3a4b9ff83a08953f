//! The `arrayFilters` of an update: one filter per identifier, which decides the
//! array elements a `$[<identifier>]` path component updates.

use std::collections::BTreeMap;

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::{Filter, Variables};

/// The parsed array filters, by identifier.
#[derive(Debug, Clone, Default)]
pub struct ArrayFilters {
    filters: BTreeMap<String, Filter>,
}

impl ArrayFilters {
    /// The filters, comparing strings by `collation`.
    pub fn with_collation(
        self,
        collation: &std::sync::Arc<crate::value::collation::Collation>,
    ) -> Result<ArrayFilters> {
        let filters = self
            .filters
            .into_iter()
            .map(|(identifier, filter)| Ok((identifier, filter.with_collation(Some(collation))?)))
            .collect::<Result<_>>()?;
        Ok(ArrayFilters { filters })
    }

    /// Parses the filters; each names its identifier as the top-level field name
    /// of its conditions (`{"x.grade": {$gte: 85}}` is the filter of `x`).
    pub fn parse(docs: &[Document]) -> Result<ArrayFilters> {
        let mut filters = BTreeMap::new();
        for doc in docs {
            let mut identifier = None;
            top_level_name(doc, &mut identifier)?;
            let Some(identifier) = identifier else {
                return Err(Error::command(
                    ErrorCode::FailedToParse,
                    "Cannot use an expression without a top-level field name in arrayFilters",
                ));
            };
            if filters.contains_key(&identifier) {
                return Err(Error::command(
                    ErrorCode::FailedToParse,
                    format!("Found multiple array filters with the same top-level field name {identifier}"),
                ));
            }
            let filter = Filter::parse_without_text(doc, &Variables::none())?;
            filters.insert(identifier, filter);
        }
        Ok(ArrayFilters { filters })
    }

    pub fn contains(&self, identifier: &str) -> bool {
        self.filters.contains_key(identifier)
    }

    /// The identifiers, in order.
    pub fn identifiers(&self) -> impl Iterator<Item = &String> {
        self.filters.keys()
    }

    /// Whether an array element passes the filter of `identifier` (`""`, the
    /// `$[]` of all elements, passes every element): the filter is matched against
    /// `{<identifier>: element}`.
    pub fn matches(&self, identifier: &str, element: &Bson) -> bool {
        match self.filters.get(identifier) {
            None => identifier.is_empty(),
            Some(filter) => {
                let mut wrapped = Document::new();
                wrapped.insert(identifier, element.clone());
                filter.matches(&wrapped)
            }
        }
    }
}

/// Collects the one top-level field name of a filter's conditions into `found`,
/// looking into `$and`, `$or` and `$nor`.
fn top_level_name(doc: &Document, found: &mut Option<String>) -> Result<()> {
    for (key, value) in doc {
        if key.starts_with('$') {
            if let Bson::Array(clauses) = value {
                for clause in clauses {
                    if let Bson::Document(clause) = clause {
                        top_level_name(clause, found)?;
                    }
                }
            }
            continue;
        }
        let name = key.split('.').next().unwrap_or(key);
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_lowercase())
            && name.chars().all(|c| c.is_ascii_alphanumeric());
        if !valid {
            return Err(Error::bad_value(format!(
                "Error parsing array filter :: caused by :: The top-level field name must be an alphanumeric string beginning with a lowercase letter, found '{name}'"
            )));
        }
        match found {
            Some(previous) if previous != name => {
                return Err(Error::command(
                    ErrorCode::FailedToParse,
                    format!(
                        "Error parsing array filter :: caused by :: Expected a single top-level field name, found '{previous}' and '{name}'"
                    ),
                ))
            }
            _ => *found = Some(name.to_owned()),
        }
    }
    Ok(())
}
