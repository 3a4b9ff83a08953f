//! Planning over geo indexes. `$near`, `$nearSphere` (and the `$geoNear` stage)
//! need one: they read it nearest first, ring by widening ring ([`NearScan`]).
//! `$geoWithin` and `$geoIntersects` may read one too: the ranges of cells that
//! cover their region, every candidate then checked against the whole filter.

use std::collections::HashMap;
use std::sync::Arc;

use bson::Bson;

use super::{candidate_by_bounds, Candidate, FieldBounds, Interval};
use crate::error::{Error, ErrorCode, Result};
use crate::index::{GeoKind, Index};
use crate::query::geo::{cover, GeoQuery, Near};
use crate::query::Filter;
use crate::store::Collection;

/// A nearest-first read of a geo index.
#[derive(Debug, Clone)]
pub struct NearScan {
    pub index: Index,
    /// The indexed field the query is near on.
    pub path: String,
    pub near: Arc<Near>,
    /// The query's filter: its other conditions bound the index's other fields.
    filter: Filter,
}

impl NearScan {
    /// The key ranges holding every entry within `radius` (the query's units) of
    /// the query's point.
    pub fn ranges(&self, radius: f64) -> Vec<(Vec<u8>, Vec<u8>)> {
        let cells = match &self.index.geo.as_ref().map(|g| g.kind) {
            Some(GeoKind::Flat(grid)) => {
                let (low, high) = self.near.flat_box(radius);
                grid.box_ranges(&low, &high)
            }
            _ => cover::cap_ranges(&self.near.center(), self.near.radians(radius)),
        };
        let mut bounds = FieldBounds::of(&self.filter);
        bounds.insert(&self.path, cell_bounds(&cells));
        candidate_by_bounds(&self.index, &bounds, &[], true).map(|c| c.scan.ranges).unwrap_or_default()
    }

    /// The distance from the query's point to the nearest location `doc` holds at
    /// the indexed path (a location, or an array of them), in the query's units.
    pub fn distance_of(&self, doc: &bson::Document) -> Option<f64> {
        self.nearest(doc).map(|(distance, _)| distance)
    }

    /// The location of `doc` nearest the query's point (what `$geoNear`'s
    /// `includeLocs` shows).
    pub fn nearest_location(&self, doc: &bson::Document) -> Option<Bson> {
        self.nearest(doc).map(|(_, location)| location.clone())
    }

    fn nearest<'d>(&self, doc: &'d bson::Document) -> Option<(f64, &'d Bson)> {
        let mut reached = Vec::new();
        crate::query::path::values_at(doc, &self.path, &mut reached);
        let mut nearest: Option<(f64, &Bson)> = None;
        let mut consider = |value: &'d Bson| {
            if let Some(d) = self.near.distance(value) {
                if nearest.is_none_or(|(n, _)| d < n) {
                    nearest = Some((d, value));
                }
            }
        };
        for value in reached {
            consider(value);
            if let Bson::Array(items) = value {
                items.iter().for_each(&mut consider);
            }
        }
        nearest
    }

    /// The largest radius worth reading: the query's maximum distance, or the whole
    /// index.
    pub fn max_radius(&self) -> f64 {
        let whole = match &self.index.geo.as_ref().map(|g| g.kind) {
            Some(GeoKind::Flat(grid)) => (grid.max - grid.min) * std::f64::consts::SQRT_2,
            _ => self.near.from_radians(std::f64::consts::PI),
        };
        self.near.max_distance().map_or(whole, |max| max.min(whole))
    }

    /// The radius of the first ring.
    pub fn first_radius(&self) -> f64 {
        let first = match &self.index.geo.as_ref().map(|g| g.kind) {
            Some(GeoKind::Flat(grid)) => (grid.max - grid.min) / f64::from(1u32 << grid.bits.min(20)) * 8.0,
            _ => self.near.from_radians(1e-5),
        };
        first.max(self.near.min_distance().unwrap_or(0.0))
    }
}

/// The bounds of a geo field whose keys lie in `cells`.
fn cell_bounds(cells: &[cover::CellRange]) -> FieldBounds {
    let intervals = cells
        .iter()
        .map(|(low, high)| Interval::between(&Bson::Int64(cover::key(*low)), &Bson::Int64(cover::key(*high))))
        .collect();
    FieldBounds { sets: vec![intervals], present: true }
}

/// The nearest-first read a `$near` in `filter` needs: MongoDB's 291 when no geo
/// index can serve it, and 2 when a hint names another index.
pub(super) fn near_plan(collection: &Collection, filter: &Filter, hint: Option<&Bson>) -> Result<NearScan> {
    let (path, near) = filter.near().expect("the filter has a $near");
    let usable = |index: &&Index| {
        index.geo.as_ref().is_some_and(|geo| index.fields[geo.field].path == path && near.served_by(geo.kind))
    };
    let unable = || {
        Error::command(
            ErrorCode::NoQueryExecutionPlans,
            "error processing query: planner returned error :: caused by :: unable to find index for $geoNear query",
        )
    };
    let index = match hint {
        Some(hint) => {
            let hinted = super::hinted_index(collection, hint)?;
            hinted.filter(usable).ok_or_else(unable)?
        }
        None => {
            let visible = |index: &&Index| !index.spec.get_bool("hidden").unwrap_or(false);
            collection.indexes.iter().filter(usable).find(visible).ok_or_else(unable)?
        }
    };
    Ok(NearScan { index: index.clone(), path: path.to_owned(), near: near.clone(), filter: filter.clone() })
}

/// The scan of geo `index` for the `$geoWithin`/`$geoIntersects` conditions of
/// `filter` on its geo field, or `None` when there is none it can serve.
pub(super) fn candidate<'f>(
    index: &Index,
    filter: &'f Filter,
    bounds: &HashMap<&'f str, FieldBounds>,
    hinted: bool,
) -> Option<Candidate> {
    let geo = index.geo.as_ref()?;
    let path = index.fields[geo.field].path.as_str();
    let cells = filter
        .geo_conditions()
        .into_iter()
        .find_map(|(at, query)| (at == path).then(|| cell_ranges(query, geo.kind)).flatten());
    let mut bounds = bounds.clone();
    match cells {
        Some(cells) => {
            bounds.insert(path, cell_bounds(&cells));
        }
        None if hinted => {
            bounds.remove(path);
        }
        None => return None,
    }
    let mut candidate = candidate_by_bounds(index, &bounds, &[], true)?;
    candidate.sorted = false;
    Some(candidate)
}

/// The cell ranges of an index of `kind` holding whatever `query` may match, when
/// it can say.
fn cell_ranges(query: &GeoQuery, kind: GeoKind) -> Option<Vec<cover::CellRange>> {
    match kind {
        GeoKind::Sphere => query.sphere_ranges(),
        GeoKind::Flat(grid) => query.flat_bounds().map(|(low, high)| grid.box_ranges(&low, &high)),
    }
}
