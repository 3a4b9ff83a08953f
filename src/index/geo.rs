//! Geo indexes: a `2dsphere` field keys each document by the S2 cells of its
//! shapes, a `2d` field by the grid cells of its legacy points (see
//! `query::geo::cover`). Documents without the field have no keys (both kinds are
//! sparse on it, as MongoDB's are); a value that is no shape of the kind is
//! refused, as MongoDB refuses the write.

use bson::{Bson, Document};

use crate::error::{Error, ErrorCode, Result};
use crate::query::geo::{cover, flat_point, geojson, looks_like_geojson, shown, Grid, Location};
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
                GeoKind::Flat(grid) => flat_cells(value, &grid, doc, path, &mut cells)?,
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
        bits: number("bits").map_or(DEFAULT_GRID.bits, |b| b as u32),
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

/// The cells of one value of a 2dsphere field: a GeoJSON object, a legacy pair,
/// or an array of them.
fn sphere_cells(value: &Bson, doc: &Document, out: &mut Vec<u64>) -> Result<()> {
    match value {
        Bson::Document(shape) if looks_like_geojson(shape) => {
            let geometry = geojson(shape).map_err(|e| cannot_extract(doc, &e.message()))?;
            out.extend(geometry.cells());
        }
        Bson::Array(items)
            if !items.is_empty() && items.iter().all(|i| matches!(i, Bson::Array(_) | Bson::Document(_))) =>
        {
            for item in items {
                sphere_cells(item, doc, out)?;
            }
        }
        _ => {
            let location = flat_point(value, false).map_err(|e| cannot_extract(doc, &e.message()))?;
            let geometry = Location::Flat(location).on_sphere().ok_or_else(|| {
                cannot_extract(
                    doc,
                    &format!("Point coordinates must be within bounds, lng: {} lat: {}", location.x, location.y),
                )
            })?;
            out.extend(geometry.cells());
        }
    }
    Ok(())
}

/// The cells of one value of a 2d field: a legacy pair or an array of them.
fn flat_cells(value: &Bson, grid: &Grid, doc: &Document, path: &str, out: &mut Vec<u64>) -> Result<()> {
    let pairs: Vec<&Bson> = match value {
        Bson::Array(items) if items.first().is_some_and(|i| matches!(i, Bson::Array(_) | Bson::Document(_))) => {
            items.iter().collect()
        }
        Bson::Array(_) | Bson::Document(_) => vec![value],
        _ => {
            return Err(Error::command(
                ErrorCode::Location16804,
                format!(
                    "location object expected, location array not in correct format :: caused by :: {path}: {}",
                    shown(value)
                ),
            ))
        }
    };
    for pair in pairs {
        let p = flat_point(pair, true).map_err(|e| {
            Error::command(
                ErrorCode::Location16804,
                format!("{} :: caused by :: {}", e.message(), shown(&Bson::Document(doc.clone()))),
            )
        })?;
        for v in [p.x, p.y] {
            if !(grid.min..grid.max).contains(&v) {
                return Err(Error::command(
                    ErrorCode::Location13027,
                    format!(
                        "point not in interval of [ {}, {} ) :: caused by :: {}",
                        grid.min,
                        grid.max,
                        shown(&Bson::Document(doc.clone()))
                    ),
                ));
            }
        }
        out.push(grid.cell(&p));
    }
    Ok(())
}

/// Checks the geo part of an index spec (`out`, the stored form being built):
/// one geo plugin, `2d` first and alone, the options of each kind in range. A
/// 2dsphere index is stored with its version, 3 unless given, as MongoDB lists it;
/// a geo option on an index of another kind is refused as MongoDB refuses it.
pub fn check_spec(key: &Document, out: &mut Document) -> Result<()> {
    let refuse = |message: String| Error::command(ErrorCode::CannotCreateIndex, message);
    let kinds: Vec<&str> = key.values().filter_map(Bson::as_str).collect();
    let sphere = kinds.contains(&"2dsphere");
    let flat = kinds.contains(&"2d");
    let spec_shown = || shown(&Bson::Document(out.clone()));
    if let Some(other) = kinds.iter().find(|k| **k != kinds[0]) {
        return Err(refuse(format!(
            "Can't use more than one index plugin for a single index; found '{}' and '{other}'",
            kinds[0]
        )));
    }
    let sphere_options = ["2dsphereIndexVersion", "finestIndexedLevel", "coarsestIndexedLevel"];
    let flat_options = ["bits", "min", "max"];
    for option in sphere_options.iter().chain(&flat_options) {
        let belongs = if sphere_options.contains(option) { sphere } else { flat };
        if out.contains_key(*option) && !belongs {
            return Err(Error::command(
                ErrorCode::InvalidIndexSpecificationOption,
                format!(
                    "The field '{option}' is not valid for an index specification. Specification: {}",
                    spec_shown()
                ),
            ));
        }
    }
    if flat {
        if kinds.len() > 1 {
            return Err(refuse(format!("can't have 2 geo fields: {}", shown(&Bson::Document(key.clone())))));
        }
        if key.values().next().and_then(Bson::as_str) != Some("2d") {
            return Err(refuse(format!("2d has to be first in index: {}", shown(&Bson::Document(key.clone())))));
        }
        let number = |name: &str| -> Result<Option<f64>> {
            match out.get(name) {
                None => Ok(None),
                Some(v) => crate::value::number::as_f64(v)
                    .map(Some)
                    .ok_or_else(|| Error::type_mismatch(format!("The field '{name}' must be a number"))),
            }
        };
        let bits = number("bits")?.unwrap_or(f64::from(DEFAULT_GRID.bits));
        if !(1.0..=32.0).contains(&bits) || bits.fract() != 0.0 {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                format!("bits in geo index must be between 1 and 32: {bits}"),
            ));
        }
        let (min, max) = (number("min")?.unwrap_or(DEFAULT_GRID.min), number("max")?.unwrap_or(DEFAULT_GRID.max));
        if min.partial_cmp(&max) != Some(std::cmp::Ordering::Less) || !(max - min).is_finite() {
            return Err(Error::command(
                ErrorCode::InvalidOptions,
                format!("region for hash must be valid and have positive area, but [{min}, {max}] was specified"),
            ));
        }
    }
    if sphere {
        match out.get("2dsphereIndexVersion") {
            None => {
                out.insert("2dsphereIndexVersion", 3);
            }
            Some(version) => {
                let known = crate::index::whole_number(version).filter(|v| (1..=3).contains(v));
                if known.is_none() {
                    return Err(Error::command(
                        ErrorCode::CannotCreateIndex,
                        format!("unsupported geo index version {{ 2dsphereIndexVersion : {} }}, only support versions: [1,2,3]", shown(version)),
                    ));
                }
            }
        }
        for level in ["finestIndexedLevel", "coarsestIndexedLevel"] {
            if let Some(value) = out.get(level) {
                if !crate::index::whole_number(value).is_some_and(|l| (0..=30).contains(&l)) {
                    return Err(Error::command(
                        ErrorCode::CannotCreateIndex,
                        format!("level must be between 0 and 30, {level}: {}", shown(value)),
                    ));
                }
            }
        }
    }
    Ok(())
}
