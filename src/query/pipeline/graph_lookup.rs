//! `$graphLookup`: a recursive search of another collection, from the values of
//! `startWith`, following `connectFromField` to `connectToField` level by level
//! (at most `maxDepth` levels), each document found once.

use bson::{doc, Bson, Document};

use super::fields::{get_path, set_path, split_path};
use super::Env;
use crate::error::{Error, ErrorCode, Result};
use crate::query::expr::{compare, type_name, Expr, Variables};
use crate::query::Filter;
use crate::value::size::{document_size, MAX_DOCUMENT};

/// A compiled `$graphLookup` stage.
#[derive(Debug, Clone)]
pub(super) struct GraphLookup {
    from: String,
    as_path: Vec<String>,
    start_with: Expr,
    connect_from: Vec<String>,
    connect_to: String,
    depth_field: Option<Vec<String>>,
    max_depth: Option<i64>,
    restrict: Option<Document>,
}

fn failed(code: ErrorCode, message: impl Into<String>) -> Error {
    Error::command(code, message)
}

impl GraphLookup {
    pub(super) fn parse(argument: &Bson, vars: &Variables) -> Result<GraphLookup> {
        let Bson::Document(spec) = argument else {
            let message = format!(
                "the $graphLookup stage specification must be an object, but found {}",
                type_name(Some(argument))
            );
            return Err(failed(ErrorCode::FailedToParse, message));
        };
        if !spec.contains_key("from") {
            let message = format!("missing 'from' option to $graphLookup stage specification: {spec}");
            return Err(failed(ErrorCode::FailedToParse, message));
        }
        let (mut from, mut as_field, mut start_with, mut connect_from, mut connect_to) = (None, None, None, None, None);
        let (mut depth_field, mut max_depth, mut restrict) = (None, None, None);
        for (name, value) in spec {
            match name.as_str() {
                "startWith" => start_with = Some(Expr::parse(value, vars)?),
                "maxDepth" => {
                    let Some(depth) = crate::query::expr::Num::of(Some(value)).map(|n| n.to_f64()) else {
                        let message = format!("maxDepth must be numeric, found type: {}", type_name(Some(value)));
                        return Err(failed(ErrorCode::Location40100, message));
                    };
                    if depth < 0.0 {
                        let message = format!("maxDepth requires a nonnegative argument, found: {}", depth as i64);
                        return Err(failed(ErrorCode::Location40101, message));
                    }
                    if depth.fract() != 0.0 {
                        let message = format!("maxDepth could not be represented as a long long: {}", depth as i64);
                        return Err(failed(ErrorCode::Location40102, message));
                    }
                    max_depth = Some(depth as i64);
                }
                "restrictSearchWithMatch" => {
                    let Bson::Document(filter) = value else {
                        let message =
                            format!("restrictSearchWithMatch must be an object, found {}", type_name(Some(value)));
                        return Err(failed(ErrorCode::Location40185, message));
                    };
                    Filter::parse(filter, vars)?;
                    restrict = Some(filter.clone());
                }
                "from" | "as" | "connectFromField" | "connectToField" | "depthField" => {
                    let Bson::String(text) = value else {
                        let message =
                            format!("expected string as argument for {name}, found: {}", type_name(Some(value)));
                        return Err(failed(ErrorCode::Location40103, message));
                    };
                    match name.as_str() {
                        "from" => from = Some(text.clone()),
                        "as" => as_field = Some(split_path(text)?),
                        "connectFromField" => connect_from = Some(split_path(text)?),
                        "connectToField" => connect_to = Some(text.clone()),
                        _ => depth_field = Some(split_path(text)?),
                    }
                }
                _ => {
                    let message = format!("Unknown argument to $graphLookup: {name}");
                    return Err(failed(ErrorCode::Location40104, message));
                }
            }
        }
        match (from, as_field, start_with, connect_from, connect_to) {
            (Some(from), Some(as_path), Some(start_with), Some(connect_from), Some(connect_to)) => Ok(GraphLookup {
                from,
                as_path,
                start_with,
                connect_from,
                connect_to,
                depth_field,
                max_depth,
                restrict,
            }),
            _ => Err(failed(
                ErrorCode::Location40105,
                "$graphLookup requires 'from', 'as', 'startWith', 'connectFromField', and 'connectToField' to be specified.",
            )),
        }
    }

    /// Adds the documents the search reaches from `doc` under `as`.
    pub(super) fn apply(&self, mut doc: Document, env: &Env<'_>) -> Result<Document> {
        let foreign = env.collection(&self.from)?;
        let mut frontier = Vec::new();
        push_values(&mut frontier, self.start_with.evaluate_optional(&doc)?.unwrap_or(Bson::Null));
        let mut queried: Vec<Bson> = Vec::new();
        let mut found_ids: Vec<Bson> = Vec::new();
        let mut found = Vec::new();
        let mut size = 0;
        let mut depth = 0i64;
        while !frontier.is_empty() && self.max_depth.is_none_or(|max| depth <= max) {
            queried.extend(frontier.iter().cloned());
            let mut condition = doc! {self.connect_to.clone(): {"$in": frontier}};
            if let Some(restrict) = &self.restrict {
                condition = doc! {"$and": [condition, restrict.clone()]};
            }
            let filter = Filter::parse(&condition, &Variables::none())?;
            let mut next = Vec::new();
            for candidate in foreign.iter().filter(|candidate| filter.matches(candidate)) {
                let id = candidate.get("_id").cloned().unwrap_or(Bson::Null);
                if found_ids.iter().any(|seen| compare(Some(seen), Some(&id)).is_eq()) {
                    continue;
                }
                found_ids.push(id);
                if let Some(value) = get_path(candidate, &self.connect_from) {
                    push_values(&mut next, value.clone());
                }
                let mut candidate = candidate.clone();
                if let Some(depth_field) = &self.depth_field {
                    set_path(&mut candidate, depth_field, Bson::Int64(depth));
                }
                size += document_size(&candidate);
                if size > MAX_DOCUMENT {
                    return Err(failed(ErrorCode::Location40099, "$graphLookup reached maximum memory consumption"));
                }
                found.push(Bson::Document(candidate));
            }
            next.retain(|value| !queried.iter().any(|q| compare(Some(q), Some(value)).is_eq()));
            frontier = dedup(next);
            depth += 1;
        }
        set_path(&mut doc, &self.as_path, Bson::Array(found));
        Ok(doc)
    }
}

/// Adds a value to search for: an array's elements, or the value itself.
fn push_values(into: &mut Vec<Bson>, value: Bson) {
    match value {
        Bson::Array(items) => into.extend(items),
        other => into.push(other),
    }
}

/// The values without repeats.
fn dedup(values: Vec<Bson>) -> Vec<Bson> {
    let mut out: Vec<Bson> = Vec::with_capacity(values.len());
    for value in values {
        if !out.iter().any(|kept| compare(Some(kept), Some(&value)).is_eq()) {
            out.push(value);
        }
    }
    out
}
