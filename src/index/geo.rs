//! Geo indexes: a `2dsphere` field keys each document by the S2 cells of its
//! shapes, a `2d` field by the grid cells of its legacy points (see
//! `query::geo::cover`). Documents without the field have no keys (both kinds are
//! sparse on it, as MongoDB's are); a value that is no shape of the kind is
//! refused, as MongoDB refuses the write.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::geo::{cover, flat_point, geojson, looks_like_geojson, shown, Flat, Grid, Location};
use crate::query::path::values_at;

/// What a geo field holds.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum GeoKind {
    /// `2dsphere`: shapes on the sphere.
    Sphere,
    /// `2d`: legacy points on the plane's grid.
    Flat(Grid),
}

/// The geo field of an index.
#[derive(Debug, Clone, PartialEq)]
pub struct GeoIndex {
    /// Its position in the key pattern.
    pub field: usize,
    pub kind: GeoKind,
}

/// The 2d grid's defaults: 26 bits over [-180, 180).
pub const DEFAULT_GRID: Grid = Grid { bits: 26, min: -180.0, max: 180.0 };

impl GeoIndex {
    /// The geo field of a stored spec, if it has one.
    pub fn from_spec(spec: &Document) -> Option<GeoIndex> {
        let pattern = spec.get_document("key").ok()?;
        pattern.values().enumerate().find_map(|(field, kind)| match kind.as_str() {
            Some("2dsphere") => Some(GeoIndex { field, kind: GeoKind::Sphere }),
            Some("2d") => Some(GeoIndex { field, kind: GeoKind::Flat(grid_of(spec)) }),
            _ => None,
        })
    }

    /// The keys of the geo field of `doc` at `path`: `None` when the document has
    /// no value there (it is then not indexed).
    pub fn keys(&self, doc: &Document, path: &str) -> Result<Option<Vec<Bson>>> {
        let mut reached = Vec::new();
        values_at(doc, path, &mut reached);
        reached.retain(|v| !matches!(v, Bson::Null | Bson::Undefined));
        if reached.is_empty() {
            return Ok(None);
        }
        let mut cells = Vec::new();
        for value in reached {
            match self.kind {
                GeoKind::Sphere => sphere_cells(value, doc, &mut cells)?,
                GeoKind::Flat(grid) => flat_cells(value, &grid, doc, &mut cells)?,
            }
        }
        cells.sort_unstable();
        cells.dedup();
        if cells.is_empty() {
            return Ok(None);
        }
        Ok(Some(cells.into_iter().map(|c| Bson::Int64(cover::key(c))).collect()))
    }
}

/// The 2d grid a spec's `bits`, `min` and `max` describe.
fn grid_of(spec: &Document) -> Grid {
    let number = |name: &str| spec.get(name).and_then(crate::value::number::as_f64);
    Grid {
        bits: number("bits").map_or(DEFAULT_GRID.bits, |b| b as u32).clamp(1, 32),
        min: number("min").unwrap_or(DEFAULT_GRID.min),
        max: number("max").unwrap_or(DEFAULT_GRID.max),
    }
}

/// MongoDB's 16755 for a value a 2dsphere index cannot key.
fn cannot_extract(doc: &Document, reason: &str) -> Error {
    Error::command(
        ErrorCode::Location16755,
        format!("Can't extract geo keys: {}  {reason}", shown(&Bson::Document(doc.clone()))),
    )
}

/// The cells of one value of a 2dsphere field: a GeoJSON object or a legacy
/// pair (an array of them is refused, as MongoDB refuses it).
fn sphere_cells(value: &Bson, doc: &Document, out: &mut Vec<u64>) -> Result<()> {
    let geometry = match value {
        Bson::Document(shape) if looks_like_geojson(shape) => {
            geojson(shape).map_err(|e| cannot_extract(doc, &e.message()))?
        }
        _ => {
            let p = flat_point(value, true).map_err(|e| cannot_extract(doc, &e.message()))?;
            Location::Flat(p).on_sphere().ok_or_else(|| {
                cannot_extract(doc, &format!("Longitude/latitude is out of bounds, lng: {} lat: {}", p.x, p.y))
            })?
        }
    };
    out.extend(geometry.cells());
    Ok(())
}

/// The cells of one value of a 2d field, as MongoDB's 2d keys go: a value that is
/// no array or document is not indexed; one whose first value is a number is a
/// location, any other a list of locations.
fn flat_cells(value: &Bson, grid: &Grid, doc: &Document, out: &mut Vec<u64>) -> Result<()> {
    let first_is_number = match value {
        Bson::Array(items) => items.first().and_then(crate::value::number::as_f64).is_some(),
        Bson::Document(fields) => fields.values().next().and_then(crate::value::number::as_f64).is_some(),
        _ => return Ok(()),
    };
    let locations: Vec<&Bson> = match first_is_number {
        true => vec![value],
        false => elements(value).collect(),
    };
    let caused_by = || shown(&Bson::Document(doc.clone()));
    for location in locations {
        if !matches!(location, Bson::Array(_) | Bson::Document(_)) {
            return Err(Error::command(
                ErrorCode::Location16804,
                "location object expected, location array not in correct format",
            ));
        }
        let mut values = elements(location);
        let Some(x) = values.next() else { continue };
        let Some(y) = values.next() else {
            return Err(Error::command(
                ErrorCode::Location13068,
                format!("geo field only has 1 element :: caused by :: {}", caused_by()),
            ));
        };
        let (Some(x), Some(y)) = (crate::value::number::as_f64(x), crate::value::number::as_f64(y)) else {
            return Err(Error::command(
                ErrorCode::Location13026,
                format!("geo values must be 'legacy coordinate pairs' for 2d indexes :: caused by :: {}", caused_by()),
            ));
        };
        if ![x, y].iter().all(|v| (grid.min..=grid.max).contains(v)) {
            return Err(Error::command(
                ErrorCode::Location13027,
                format!("point not in interval of [ {}, {} ] :: caused by :: {}", grid.min, grid.max, caused_by()),
            ));
        }
        out.push(grid.cell(&Flat { x, y }));
    }
    Ok(())
}

/// The values of an array or a document.
fn elements(value: &Bson) -> Box<dyn Iterator<Item = &Bson> + '_> {
    match value {
        Bson::Array(items) => Box::new(items.iter()),
        Bson::Document(fields) => Box::new(fields.values()),
        _ => Box::new(std::iter::empty()),
    }
}

/// Checks the geo part of an index spec (`out`, the stored form being built), as
/// MongoDB 8.0 does: a 2d field first and alone (16801, 16800), its `bits`, `min`
/// and `max` in range (72), a 2dsphere version of 1 to 3 (67), stored as 3 unless
/// given. The geo options are numbers (14) and, as in 8.0, taken on any index.
pub fn check_spec(key: &Document, out: &mut Document) -> Result<()> {
    for option in ["2dsphereIndexVersion", "bits", "min", "max", "finestIndexedLevel", "coarsestIndexedLevel"] {
        if let Some(value) = out.get(option) {
            if crate::value::number::as_f64(value).is_none() {
                return Err(Error::type_mismatch(format!(
                    "The field '{option}' must be a number, but got {}",
                    crate::value::type_name(Some(value))
                )));
            }
        }
    }
    let kinds: Vec<&str> = key.values().filter_map(Bson::as_str).collect();
    if kinds.contains(&"2d") {
        check_flat(key, out)?;
    }
    if kinds.contains(&"2dsphere") {
        match out.get("2dsphereIndexVersion") {
            None => {
                out.insert("2dsphereIndexVersion", 3);
            }
            Some(version) => {
                if !crate::index::whole_number(version).is_some_and(|v| (1..=3).contains(&v)) {
                    return Err(Error::command(
                        ErrorCode::CannotCreateIndex,
                        format!(
                            "unsupported geo index version {{ 2dsphereIndexVersion : 2dsphereIndexVersion: {} }}, only versions: [1,2,3] are supported",
                            shown(version)
                        ),
                    ));
                }
            }
        }
    }
    Ok(())
}

/// A 2d index's own rules.
fn check_flat(key: &Document, out: &Document) -> Result<()> {
    let mut seen = false;
    for (position, kind) in key.values().enumerate() {
        if kind.as_str() != Some("2d") {
            continue;
        }
        if seen {
            return Err(Error::command(ErrorCode::Location16800, "can't have 2 geo fields"));
        }
        if position != 0 {
            return Err(Error::command(ErrorCode::Location16801, "2d has to be first in index"));
        }
        seen = true;
    }
    let number = |name: &str| out.get(name).and_then(crate::value::number::as_f64);
    let bits = number("bits").map_or(DEFAULT_GRID.bits as i64, |b| b as i64);
    if !(1..=32).contains(&bits) {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("bits for hash must be > 0 and <= 32, but {bits} bits were specified"),
        ));
    }
    let (min, max) = (number("min").unwrap_or(DEFAULT_GRID.min), number("max").unwrap_or(DEFAULT_GRID.max));
    if min.partial_cmp(&max) != Some(std::cmp::Ordering::Less) || !min.is_finite() || !max.is_finite() {
        return Err(Error::command(
            ErrorCode::InvalidOptions,
            format!("region for hash must be valid and have positive area, but [{min}, {max}] was specified"),
        ));
    }
    Ok(())
}
