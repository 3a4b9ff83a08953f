//! A leading `$geoNear` stage of a collection's `aggregate`: the pipeline's
//! documents are the collection's nearest its point first, read through the geo
//! index the stage names (`key`) or the one the collection has.

use bson::{Bson, Document};

use super::invocation::Invocation;
use crate::error::{Error, ErrorCode, Result};
use crate::exec;
use crate::index::{GeoKind, Index};
use crate::query::pipeline::GeoNear;
use crate::query::plan::{self, Access};
use crate::store::{Collection, View};

/// Splits a leading `$geoNear` off `stages`.
pub fn leading_stage(stages: &[Bson]) -> Result<(Option<GeoNear>, &[Bson])> {
    match stages.first() {
        Some(Bson::Document(stage)) if stage.len() == 1 && stage.contains_key("$geoNear") => {
            let spec = GeoNear::parse(stage.get("$geoNear").unwrap_or(&Bson::Null))?;
            Ok((Some(spec), &stages[1..]))
        }
        _ => Ok((None, stages)),
    }
}

/// How many documents the stages after `$geoNear` can use at most: a `$limit`
/// (after any `$skip`) bounds the search.
pub fn wanted(rest: &[Bson]) -> Option<usize> {
    let mut skipped = 0usize;
    for stage in rest {
        let Bson::Document(stage) = stage else { return None };
        let count = |v: &Bson| crate::value::number::as_f64(v).filter(|n| *n >= 0.0).map(|n| n as usize);
        if let Some(n) = stage.get("$skip").and_then(count) {
            skipped = skipped.saturating_add(n);
        } else if let Some(n) = stage.get("$limit").and_then(count) {
            return Some(skipped.saturating_add(n));
        } else {
            return None;
        }
    }
    None
}

/// The documents of `collection` the stage yields, nearest first, each with its
/// distance (and location); at most `wanted` of them when given.
pub fn documents(
    inv: &Invocation<'_>,
    view: &View,
    collection: &Collection,
    spec: &GeoNear,
    wanted: Option<usize>,
) -> Result<Vec<Document>> {
    let path = match &spec.key {
        Some(key) => key.clone(),
        None => geo_field(collection, &super::args::namespace(inv, &collection.name))?,
    };
    let filter = spec.filter(&path)?;
    let plan = plan::choose(collection, &filter, None, None)?;
    inv.note_plan(view, collection, &plan);
    let Access::Near(scan) = &plan.access else {
        return Err(Error::Internal("$geoNear planned without a nearest-first read".into()));
    };
    let mut out = Vec::new();
    let mut held = inv.context.memory.reservation();
    exec::nearest(view, collection, scan, &filter, &inv.interrupt(), wanted, |distance, id| {
        let Some(doc) = view.get_encoded(collection.id, id)? else { return Ok(true) };
        held.grow(crate::value::size::document_footprint(&doc))?;
        let location = scan.nearest_location(&doc);
        out.push(spec.decorate(doc, distance, location));
        Ok(true)
    })?;
    Ok(out)
}

/// The field a `$geoNear` without `key` reads, as MongoDB picks it: the one of the
/// collection's visible 2d index, else of its visible 2dsphere index; more than one
/// of the kind, or none of either, is 27.
fn geo_field(collection: &Collection, ns: &str) -> Result<String> {
    for (kind, name) in [(true, "2d"), (false, "2dsphere")] {
        let mut found = collection.indexes.iter().filter(|index| {
            let flat = matches!(index.geo.as_ref().map(|g| g.kind), Some(GeoKind::Flat(_)));
            index.geo.is_some() && flat == kind && !index.spec.get_bool("hidden").unwrap_or(false)
        });
        if let Some(index) = found.next() {
            if found.next().is_some() {
                return Err(Error::command(
                    ErrorCode::IndexNotFound,
                    format!("There is more than one {name} index on {ns}; unsure which to use for $geoNear"),
                ));
            }
            return Ok(geo_path(index).unwrap_or_default().to_owned());
        }
    }
    Err(Error::command(ErrorCode::IndexNotFound, "$geoNear requires a 2d or 2dsphere index, but none were found"))
}

/// The path of an index's geo field.
fn geo_path(index: &Index) -> Option<&str> {
    index.geo.as_ref().map(|g| index.fields[g.field].path.as_str())
}
