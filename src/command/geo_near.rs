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
    let index = geo_index(collection, spec)?;
    let path = index.fields[index.geo.as_ref().map_or(0, |g| g.field)].path.clone();
    let filter = spec.filter(&path)?;
    let hint = Bson::String(index.name.clone());
    let plan = plan::choose(collection, &filter, None, Some(&hint))?;
    let Access::Near(scan) = &plan.access else {
        return Err(Error::Internal("$geoNear planned without a nearest-first read".into()));
    };
    let mut out = Vec::new();
    exec::nearest(view, collection, scan, &filter, &inv.interrupt(), wanted, |distance, _, doc| {
        let location = scan.nearest_location(&doc);
        out.push(spec.decorate(doc, distance, location));
        Ok(true)
    })?;
    Ok(out)
}

/// The path of an index's geo field.
fn geo_path(index: &Index) -> Option<&str> {
    index.geo.as_ref().map(|g| index.fields[g.field].path.as_str())
}

/// The geo index the stage reads: the one on its `key`, else the collection's
/// only one of the kind its point needs (a 2d index first for a legacy point).
fn geo_index<'c>(collection: &'c Collection, spec: &GeoNear) -> Result<&'c Index> {
    let geo: Vec<&Index> = collection.indexes.iter().filter(|i| i.geo.is_some()).collect();
    if let Some(key) = &spec.key {
        return geo.into_iter().find(|i| geo_path(i) == Some(key.as_str())).ok_or_else(|| {
            Error::bad_value(format!("$geoNear requires a 2d or 2dsphere index on key '{key}', but none were found"))
        });
    }
    if geo.is_empty() {
        return Err(Error::command(
            ErrorCode::IndexNotFound,
            "$geoNear requires a 2d or 2dsphere index, but none were found",
        ));
    }
    let of_kind = |flat: bool| -> Vec<&Index> {
        geo.iter()
            .copied()
            .filter(|i| matches!(i.geo.as_ref().map(|g| g.kind), Some(GeoKind::Flat(_))) == flat)
            .collect()
    };
    let ns = &collection.name;
    let flat = of_kind(true);
    if !spec.geojson() && !flat.is_empty() {
        return match flat.as_slice() {
            [only] => Ok(only),
            _ => Err(Error::command(
                ErrorCode::IndexOptionsConflict,
                format!("There is more than one 2d index on {ns}; unsure which to use for $geoNear"),
            )),
        };
    }
    match of_kind(false).as_slice() {
        [only] => Ok(only),
        [] => Err(Error::command(
            ErrorCode::IndexNotFound,
            "$geoNear requires a 2dsphere index to use a GeoJSON point, but none were found",
        )),
        _ => Err(Error::command(
            ErrorCode::IndexOptionsConflict,
            format!("There is more than one 2dsphere index on {ns}; unsure which to use for $geoNear"),
        )),
    }
}
