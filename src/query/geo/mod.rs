//! Geospatial queries: the shapes documents hold (GeoJSON on the sphere, legacy
//! coordinate pairs on the plane), the regions and points queries name, and the
//! cells geo indexes key them by.
//!
//! `sphere.rs` and `flat.rs` hold the geometry of each surface, `shape.rs` the
//! GeoJSON shapes and their relations, `parse.rs` reads them from BSON with
//! MongoDB's validation, and `cover.rs` turns shapes and regions into index cells.
//! This module holds the operators: `$geoWithin`/`$geoIntersects` ([`GeoQuery`])
//! and `$near`/`$nearSphere` ([`Near`]).

pub mod cover;
mod flat;
mod parse;
mod shape;
mod sphere;

use bson::{Bson, Document};
use s2::point::Point;

pub use cover::Grid;
pub use flat::{Flat, FlatRegion};
pub use parse::{flat_point, geojson, is_flat_point, looks_like_geojson, shown};
pub use shape::{Geometry, SphereRegion};
pub use sphere::Spot;

use crate::error::{Error, ErrorCode, Result};
use crate::value::number::as_f64;

/// The Earth's radius MongoDB measures GeoJSON distances with, in metres.
pub const EARTH_RADIUS_METERS: f64 = 6_378_100.0;

/// What a stored value is to the geo operators.
#[derive(Debug, Clone)]
pub enum Location {
    /// A legacy coordinate pair.
    Flat(Flat),
    /// A GeoJSON object.
    Shape(Geometry),
}

impl Location {
    /// The location a value holds; `None` for anything else (which no geo
    /// operator matches).
    pub fn of(value: &Bson) -> Option<Location> {
        match value {
            Bson::Document(doc) if looks_like_geojson(doc) => geojson(doc).ok().map(Location::Shape),
            Bson::Array(_) | Bson::Document(_) => flat_point(value, false).ok().map(Location::Flat),
            _ => None,
        }
    }

    /// The location as a shape on the sphere: a legacy pair is a point whose
    /// coordinates are a longitude and a latitude (`None` out of their bounds).
    pub fn on_sphere(&self) -> Option<Geometry> {
        match self {
            Location::Shape(geometry) => Some(geometry.clone()),
            Location::Flat(p) => parse::spot(p.x, p.y).ok().map(Geometry::Point),
        }
    }

    /// The location as a point of the plane: a legacy pair, or a GeoJSON point's
    /// longitude and latitude.
    pub fn on_plane(&self) -> Option<Flat> {
        match self {
            Location::Flat(p) => Some(*p),
            Location::Shape(Geometry::Point(spot)) => Some(Flat { x: spot.lng, y: spot.lat }),
            Location::Shape(_) => None,
        }
    }
}

/// `$geoWithin` or `$geoIntersects`.
#[derive(Debug, Clone)]
pub enum GeoQuery {
    /// `$geoWithin` a region of the sphere: `$geometry`, `$centerSphere`.
    WithinSphere(SphereRegion),
    /// `$geoWithin` a region of the plane: `$box`, `$center`, `$polygon`.
    WithinPlane(FlatRegion),
    /// `$geoIntersects` a GeoJSON geometry.
    Intersects(Geometry),
}

fn bad(message: impl Into<String>) -> Error {
    Error::bad_value(message)
}

impl GeoQuery {
    /// Parses the operand of `$geoWithin` (or its old name `$within`).
    pub fn within(operand: &Bson) -> Result<GeoQuery> {
        let Bson::Document(spec) = operand else {
            return Err(bad("geometry must be an object"));
        };
        let mut shapes = spec.iter().filter(|(k, _)| k.as_str() != "$uniqueDocs");
        let Some((kind, value)) = shapes.next() else {
            return Err(bad(format!("$geoWithin not supported with provided geometry: {}", shown(operand))));
        };
        if shapes.next().is_some() {
            return Err(bad(format!("$geoWithin not supported with provided geometry: {}", shown(operand))));
        }
        let unsupported = || bad(format!("$geoWithin not supported with provided geometry: {}", shown(operand)));
        Ok(match kind.as_str() {
            "$geometry" => {
                let Bson::Document(geometry) = value else { return Err(unsupported()) };
                match geojson(geometry)? {
                    Geometry::Polygon(polygon) => GeoQuery::WithinSphere(SphereRegion::Polygons(vec![polygon])),
                    Geometry::MultiPolygon(polygons) => GeoQuery::WithinSphere(SphereRegion::Polygons(polygons)),
                    _ => return Err(unsupported()),
                }
            }
            "$box" => {
                let corners = points_of(value, "$box")?;
                if corners.len() != 2 {
                    return Err(bad("Point must only contain numeric elements"));
                }
                GeoQuery::WithinPlane(FlatRegion::rectangle(corners[0], corners[1]))
            }
            "$polygon" => {
                let points = points_of(value, "$polygon")?;
                if points.len() < 3 {
                    return Err(bad("Polygon must have at least 3 points"));
                }
                GeoQuery::WithinPlane(FlatRegion::polygon(&points))
            }
            "$center" => {
                let (center, radius) = circle(value, "$center")?;
                GeoQuery::WithinPlane(FlatRegion::Circle { center, radius })
            }
            "$centerSphere" => {
                let (center, radius) = circle(value, "$centerSphere")?;
                let spot = parse::spot(center.x, center.y)?;
                GeoQuery::WithinSphere(SphereRegion::Cap { center: spot.point, radius })
            }
            _ => return Err(unsupported()),
        })
    }

    /// Parses the operand of `$geoIntersects`: `{$geometry: <GeoJSON>}`.
    pub fn intersects(operand: &Bson) -> Result<GeoQuery> {
        let geometry = match operand {
            Bson::Document(spec) => match spec.get("$geometry") {
                Some(Bson::Document(geometry)) if spec.len() == 1 => geometry,
                _ => {
                    return Err(bad(format!("$geoIntersects not supported with provided geometry: {}", shown(operand))))
                }
            },
            _ => return Err(bad("$geoIntersects requires an object")),
        };
        Ok(GeoQuery::Intersects(geojson(geometry)?))
    }

    /// Whether a stored value satisfies the query.
    pub fn matches(&self, value: &Bson) -> bool {
        let Some(location) = Location::of(value) else { return false };
        match self {
            GeoQuery::WithinSphere(region) => location.on_sphere().is_some_and(|g| g.within(region)),
            GeoQuery::WithinPlane(region) => location.on_plane().is_some_and(|p| region.contains(&p)),
            GeoQuery::Intersects(geometry) => location.on_sphere().is_some_and(|g| g.intersects(geometry)),
        }
    }

    /// The ranges of 2dsphere cells holding every match, when the query is on the
    /// sphere.
    pub fn sphere_ranges(&self) -> Option<Vec<cover::CellRange>> {
        match self {
            GeoQuery::WithinSphere(region) => Some(region.cell_ranges()),
            GeoQuery::Intersects(geometry) => Some(cover::rect_ranges(&geometry.rect_bound())),
            GeoQuery::WithinPlane(_) => None,
        }
    }

    /// The box of the plane holding every match, when the query is on the plane.
    pub fn flat_bounds(&self) -> Option<(Flat, Flat)> {
        match self {
            GeoQuery::WithinPlane(region) => Some(region.bounds()),
            _ => None,
        }
    }
}

/// The legacy points of a `$box` or `$polygon` operand.
fn points_of(value: &Bson, operator: &str) -> Result<Vec<Flat>> {
    let Bson::Array(items) = value else {
        return Err(bad(format!("{operator} must be an array")));
    };
    items.iter().map(|item| flat_point(item, false)).collect()
}

/// The centre and radius of a `$center` or `$centerSphere` operand.
fn circle(value: &Bson, operator: &str) -> Result<(Flat, f64)> {
    let Bson::Array(items) = value else {
        return Err(bad(format!("{operator} must be an array")));
    };
    let [center, radius] = items.as_slice() else {
        return Err(bad(format!("{operator} must have 2 elements: a point and a radius")));
    };
    let center = flat_point(center, false)?;
    let radius = as_f64(radius).filter(|r| *r >= 0.0).ok_or_else(|| bad("radius must be a non-negative number"))?;
    Ok((center, radius))
}

/// `$near` or `$nearSphere`: documents nearest a point first, within the distances
/// given.
#[derive(Debug, Clone)]
pub struct Near {
    origin: Origin,
    min: Option<f64>,
    max: Option<f64>,
}

/// The point a `$near` is measured from, and the units of its distances.
#[derive(Debug, Clone, Copy)]
enum Origin {
    /// On the sphere; distances in metres (a GeoJSON point) or radians (a legacy
    /// pair with `$nearSphere`).
    Sphere { spot: Spot, meters: bool },
    /// On the plane (a legacy pair with `$near`).
    Plane(Flat),
}

impl Near {
    /// Parses `$near` or `$nearSphere` from a field's operator document, which may
    /// hold `$maxDistance` and `$minDistance` beside it.
    pub fn parse(operator: &str, operators: &Document) -> Result<Near> {
        let operand = operators.get(operator).expect("the operator is in its document");
        let sphere = operator == "$nearSphere";
        let (origin, inner) = match operand {
            Bson::Document(spec) if spec.contains_key("$geometry") => {
                let Some(Bson::Document(geometry)) = spec.get("$geometry") else {
                    return Err(bad(format!("invalid point in geo near query $geometry argument: {}", shown(operand))));
                };
                let spot = match geojson(geometry) {
                    Ok(Geometry::Point(spot)) => spot,
                    _ => {
                        return Err(bad(format!(
                            "invalid point in geo near query $geometry argument: {}",
                            shown(&Bson::Document(geometry.clone()))
                        )))
                    }
                };
                (Origin::Sphere { spot, meters: true }, Some(spec))
            }
            _ => {
                let p = flat_point(operand, false)
                    .map_err(|e| bad(format!("invalid argument in geo near query: {}", &e.message())))?;
                let origin = match sphere {
                    true => Origin::Sphere { spot: parse::spot(p.x, p.y)?, meters: false },
                    false => Origin::Plane(p),
                };
                (origin, None)
            }
        };
        let mut near = Near { origin, min: None, max: None };
        let distances = inner.into_iter().flat_map(|spec| spec.iter()).chain(operators.iter());
        for (key, value) in distances {
            let slot = match key.as_str() {
                "$maxDistance" => &mut near.max,
                "$minDistance" => &mut near.min,
                _ => continue,
            };
            let distance = as_f64(value).ok_or_else(|| bad(format!("{key} must be a number")))?;
            if distance < 0.0 || distance.is_nan() {
                return Err(bad(format!("{key} must be non-negative")));
            }
            *slot = Some(distance);
        }
        Ok(near)
    }

    /// Whether an index of `kind` can serve the query.
    pub fn served_by(&self, kind: crate::index::GeoKind) -> bool {
        use crate::index::GeoKind;
        match (self.origin, kind) {
            (Origin::Sphere { meters: true, .. }, GeoKind::Sphere) => true,
            (Origin::Sphere { meters: true, .. }, GeoKind::Flat(_)) => false,
            (Origin::Sphere { meters: false, .. }, _) => true,
            (Origin::Plane(_), _) => true,
        }
    }

    /// The query as an index of `kind` reads it: a legacy `$near` on a 2dsphere
    /// index measures on the sphere, in radians.
    pub fn read_by(&self, kind: crate::index::GeoKind) -> Near {
        match (self.origin, kind) {
            (Origin::Plane(p), crate::index::GeoKind::Sphere) => {
                let spot = Spot::new(p.x.clamp(-180.0, 180.0), p.y.clamp(-90.0, 90.0));
                Near { origin: Origin::Sphere { spot, meters: false }, ..self.clone() }
            }
            _ => self.clone(),
        }
    }

    /// Whether an index of `kind` reads the query as written (a legacy `$near`
    /// prefers a 2d index).
    pub fn native_to(&self, kind: crate::index::GeoKind) -> bool {
        !matches!((self.origin, kind), (Origin::Plane(_), crate::index::GeoKind::Sphere))
    }

    /// The distance from the query's point to a stored value, in the query's
    /// units; `None` when the value is no location the query measures.
    pub fn distance(&self, value: &Bson) -> Option<f64> {
        let location = Location::of(value)?;
        match self.origin {
            Origin::Sphere { spot, meters } => {
                let radians = location.on_sphere()?.distance(&spot.point);
                Some(if meters { radians * EARTH_RADIUS_METERS } else { radians })
            }
            Origin::Plane(p) => location.on_plane().map(|q| p.distance(&q)),
        }
    }

    /// Whether a stored value is a location the query measures. Its distance
    /// bounds are the nearest-first read's to check ([`Near::within`]), in the
    /// units of the index it reads.
    pub fn matches(&self, value: &Bson) -> bool {
        self.distance(value).is_some()
    }

    /// Whether a distance lies within `$minDistance` and `$maxDistance`.
    pub fn within(&self, distance: f64) -> bool {
        self.min.is_none_or(|min| distance >= min) && self.max.is_none_or(|max| distance <= max)
    }

    pub fn max_distance(&self) -> Option<f64> {
        self.max
    }

    pub fn min_distance(&self) -> Option<f64> {
        self.min
    }

    /// The query's point on the sphere.
    pub fn center(&self) -> Point {
        match self.origin {
            Origin::Sphere { spot, .. } => spot.point,
            Origin::Plane(p) => Spot::new(p.x.clamp(-180.0, 180.0), p.y.clamp(-90.0, 90.0)).point,
        }
    }

    /// A distance in the query's units, in radians.
    pub fn radians(&self, distance: f64) -> f64 {
        match self.origin {
            Origin::Sphere { meters: true, .. } => distance / EARTH_RADIUS_METERS,
            _ => distance,
        }
    }

    /// A distance in radians, in the query's units.
    pub fn from_radians(&self, radians: f64) -> f64 {
        match self.origin {
            Origin::Sphere { meters: true, .. } => radians * EARTH_RADIUS_METERS,
            _ => radians,
        }
    }

    /// The box of the plane holding every point within `radius` of the query's
    /// point (for a 2d index; a spherical radius is in radians of lng/lat degrees).
    pub fn flat_box(&self, radius: f64) -> (Flat, Flat) {
        match self.origin {
            Origin::Plane(p) => (Flat { x: p.x - radius, y: p.y - radius }, Flat { x: p.x + radius, y: p.y + radius }),
            Origin::Sphere { spot, .. } => {
                let degrees = self.radians(radius).to_degrees();
                let lat_low = spot.lat - degrees;
                let lat_high = spot.lat + degrees;
                let widest = lat_low.abs().max(lat_high.abs());
                if widest >= 89.0 || degrees >= 90.0 {
                    return (Flat { x: -180.0, y: -90.0 }, Flat { x: 180.0, y: 90.0 });
                }
                let spread = degrees / widest.to_radians().cos();
                let (west, east) = (spot.lng - spread, spot.lng + spread);
                // A box across the antimeridian holds every longitude.
                let (west, east) = if west < -180.0 || east > 180.0 { (-180.0, 180.0) } else { (west, east) };
                (Flat { x: west, y: lat_low }, Flat { x: east, y: lat_high })
            }
        }
    }

    /// Whether distances are on the sphere (metres or radians) rather than the
    /// plane.
    pub fn spherical(&self) -> bool {
        matches!(self.origin, Origin::Sphere { .. })
    }
}

/// A refusal for a geo operator placed where MongoDB does not take it.
pub fn misplaced(operator: &str) -> Error {
    Error::command(ErrorCode::BadValue, format!("{operator} is not allowed in this context"))
}
