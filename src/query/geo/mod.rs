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
    /// `$geoIntersects` a `$centerSphere`: MongoDB takes it and matches nothing.
    IntersectsNothing,
}

fn bad(message: impl Into<String>) -> Error {
    Error::bad_value(message)
}

impl GeoQuery {
    /// Parses `$geoWithin` (or its old name `$within`) or `$geoIntersects` with its
    /// operand, as MongoDB does: each key of the operand names a shape (a later one
    /// replaces an earlier, except that `$geoWithin` takes only one), and the shape
    /// must suit the operator.
    pub fn parse(operator: &str, operand: &Bson) -> Result<GeoQuery> {
        let Bson::Document(spec) = operand else { return Err(bad("geometry must be an object")) };
        let mut shape = None;
        for (kind, value) in spec {
            if kind == "$uniqueDocs" {
                continue;
            }
            let known = matches!(kind.as_str(), "$box" | "$center" | "$polygon" | "$centerSphere" | "$geometry");
            if !known || !matches!(value, Bson::Document(_) | Bson::Array(_)) {
                return Err(bad(format!("unknown geo specifier: {kind}: {}", shown(value))));
            }
            if shape.is_some() && operator == "$geoWithin" {
                return Err(bad(format!("$geoWithin doesn't accept multiple shapes {kind}: {}", shown(value))));
            }
            shape = Some(Shape::parse(kind, value)?);
        }
        let shape = shape.ok_or_else(|| bad("geo query doesn't have any geometry"))?;
        let whole = || shown(&Bson::Document(bson::doc! { operator: operand.clone() }));
        if operator == "$geoIntersects" {
            return match shape {
                Shape::GeoJson(geometry) => Ok(GeoQuery::Intersects(geometry)),
                Shape::Legacy(p) => match parse::spot(p.x, p.y) {
                    Ok(spot) => Ok(GeoQuery::Intersects(Geometry::Point(spot))),
                    Err(_) => Err(bad(format!("$geoIntersect not supported with provided geometry: {}", whole()))),
                },
                Shape::Cap(_) => Ok(GeoQuery::IntersectsNothing),
                Shape::Plane(_) => Err(bad(format!("$geoIntersect not supported with provided geometry: {}", whole()))),
            };
        }
        let polygons = match shape {
            Shape::Plane(region) => return Ok(GeoQuery::WithinPlane(region)),
            Shape::Cap(region) => return Ok(GeoQuery::WithinSphere(region)),
            Shape::GeoJson(Geometry::Polygon(polygon)) => vec![polygon],
            Shape::GeoJson(Geometry::MultiPolygon(polygons)) => polygons,
            Shape::GeoJson(Geometry::Collection(members)) => members
                .into_iter()
                .flat_map(|member| match member {
                    Geometry::Polygon(polygon) => vec![polygon],
                    Geometry::MultiPolygon(polygons) => polygons,
                    _ => Vec::new(),
                })
                .collect(),
            Shape::GeoJson(_) | Shape::Legacy(_) => Vec::new(),
        };
        if polygons.is_empty() {
            return Err(bad(format!("$within not supported with provided geometry: {}", whole())));
        }
        Ok(GeoQuery::WithinSphere(SphereRegion::Polygons(polygons)))
    }

    /// Whether a stored value satisfies the query.
    pub fn matches(&self, value: &Bson) -> bool {
        let Some(location) = Location::of(value) else { return false };
        match self {
            GeoQuery::WithinSphere(region) => location.on_sphere().is_some_and(|g| g.within(region)),
            GeoQuery::WithinPlane(region) => location.on_plane().is_some_and(|p| region.contains(&p)),
            GeoQuery::Intersects(geometry) => location.on_sphere().is_some_and(|g| g.intersects(geometry)),
            GeoQuery::IntersectsNothing => false,
        }
    }

    /// The ranges of 2dsphere cells holding every match, when the query is on the
    /// sphere.
    pub fn sphere_ranges(&self) -> Option<Vec<cover::CellRange>> {
        match self {
            GeoQuery::WithinSphere(region) => Some(region.cell_ranges()),
            GeoQuery::Intersects(geometry) => Some(cover::rect_ranges(&geometry.rect_bound())),
            GeoQuery::IntersectsNothing => Some(Vec::new()),
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

/// One shape a geo query's operand names.
enum Shape {
    /// `$geometry` with a GeoJSON object.
    GeoJson(Geometry),
    /// `$geometry` with a legacy pair.
    Legacy(Flat),
    /// `$box`, `$center`, `$polygon`.
    Plane(FlatRegion),
    /// `$centerSphere`.
    Cap(SphereRegion),
}

impl Shape {
    fn parse(kind: &str, value: &Bson) -> Result<Shape> {
        Ok(match kind {
            "$geometry" if is_legacy_form(value) => Shape::Legacy(flat_point(value, false)?),
            "$geometry" => match value {
                Bson::Document(geometry) => Shape::GeoJson(geojson(geometry)?),
                _ => return Err(bad(format!("unknown GeoJSON type: {}", shown(value)))),
            },
            "$box" => {
                let mut corners = elements(value);
                let mut corner = || match corners.next() {
                    Some(corner) => flat_point(corner, false),
                    None => Err(bad("Point must be an array or object, instead got type missing")),
                };
                let (a, b) = (corner()?, corner()?);
                Shape::Plane(FlatRegion::rectangle(a, b))
            }
            "$polygon" => {
                let points = elements(value).map(|p| flat_point(p, false)).collect::<Result<Vec<_>>>()?;
                if points.len() < 3 {
                    return Err(bad(format!(
                        "Polygon must have at least 3 points, instead got {} vertices",
                        points.len()
                    )));
                }
                Shape::Plane(FlatRegion::polygon(&points))
            }
            "$center" => {
                let (center, radius) = circle(value)?;
                Shape::Plane(FlatRegion::Circle { center, radius })
            }
            _ => {
                let (center, radius) = circle(value)?;
                let spot = parse::spot(center.x, center.y)?;
                Shape::Cap(SphereRegion::Cap { center: spot.point, radius })
            }
        })
    }
}

/// Whether a query's point is a legacy pair: an array, or a document whose first
/// value is a number.
fn is_legacy_form(value: &Bson) -> bool {
    match value {
        Bson::Array(_) => true,
        Bson::Document(doc) => doc.values().next().is_some_and(|v| as_f64(v).is_some()),
        _ => false,
    }
}

/// The values of an array or a document.
fn elements(value: &Bson) -> Box<dyn Iterator<Item = &Bson> + '_> {
    match value {
        Bson::Array(items) => Box::new(items.iter()),
        Bson::Document(doc) => Box::new(doc.values()),
        _ => Box::new(std::iter::empty()),
    }
}

/// The centre and radius of a `$center` or `$centerSphere` operand.
fn circle(value: &Bson) -> Result<(Flat, f64)> {
    let mut parts = elements(value);
    let center = match parts.next() {
        Some(center) => flat_point(center, false)?,
        None => return Err(bad("Point must be an array or object, instead got type missing")),
    };
    let radius = parts.next();
    let radius = radius.and_then(as_f64).filter(|r| *r >= 0.0).ok_or_else(|| {
        bad(format!("Radius must be a non-negative number: {}", radius.map_or("EOO".to_owned(), shown)))
    })?;
    if parts.next().is_some() {
        return Err(bad("Only 2 fields allowed for circular region, but more were provided"));
    }
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

/// The point a `$near` names in the first form.
enum Bare {
    Legacy(Flat),
    GeoJson(Spot),
}

/// The point of a `$near` in the first form: a legacy pair (or `[x, y, max]`), or
/// a GeoJSON point object (whose `type` may be left out) without `$geometry`.
fn bare_point(operand: &Bson) -> Option<Bare> {
    if let Bson::Document(doc) = operand {
        if doc.contains_key("coordinates") && doc.get_str("type").unwrap_or("Point") == "Point" {
            let mut point = doc.clone();
            point.insert("type", "Point");
            return match geojson(&point) {
                Ok(Geometry::Point(spot)) => Some(Bare::GeoJson(spot)),
                _ => None,
            };
        }
    }
    let mut values = elements(operand);
    let numeric = |v: Option<&Bson>| v.and_then(as_f64);
    let (x, y) = (numeric(values.next())?, numeric(values.next())?);
    match values.next() {
        None => Some(Bare::Legacy(Flat { x, y })),
        Some(max) if as_f64(max).is_some() && values.next().is_none() => Some(Bare::Legacy(Flat { x, y })),
        Some(_) => None,
    }
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
    /// Parses `$near` or `$nearSphere` from a field's operator document, which it
    /// begins, in MongoDB's two forms: a point with its distances beside it
    /// (`{$near: [x, y], $maxDistance: d}`, errors with their own codes), or a
    /// GeoJSON point with its distances inside (`{$near: {$geometry, $maxDistance}}`).
    pub fn parse(operator: &str, operators: &Document) -> Result<Near> {
        let operand = operators.get(operator).expect("the operator is in its document");
        let sphere = operator == "$nearSphere";
        if let Some(point) = bare_point(operand) {
            return Near::parse_beside(sphere, point, operand, operators);
        }
        if let Some((extra, value)) = operators.iter().nth(1) {
            return Err(bad(format!(
                "geo near accepts just one argument when querying for a GeoJSON point. Extra field found: {extra}: {}",
                shown(value)
            )));
        }
        let Bson::Document(spec) = operand else { return Err(bad("geo near query argument is not an object")) };
        let mut origin = None;
        let mut near = Near { origin: Origin::Plane(Flat { x: 0.0, y: 0.0 }), min: None, max: None };
        for (key, value) in spec {
            match key.as_str() {
                "$geometry" => match value {
                    Bson::Document(_) | Bson::Array(_) if is_legacy_form(value) => {
                        return Err(bad(format!("$near requires geojson point, given {}", shown(value))));
                    }
                    Bson::Document(geometry) => {
                        let invalid = |reason: String| {
                            bad(format!(
                                "invalid point in geo near query $geometry argument: {}  {reason}",
                                shown(value)
                            ))
                        };
                        let spot = match geojson(geometry).map_err(|e| invalid(e.message()))? {
                            Geometry::Point(spot) => spot,
                            _ => {
                                let kind = geometry.get_str("type").unwrap_or("unknown");
                                return Err(invalid(format!(
                                    "Expected geojson geometry with type Point, but got type {kind}"
                                )));
                            }
                        };
                        origin = Some(Origin::Sphere { spot, meters: true });
                    }
                    _ => {}
                },
                "$minDistance" | "$maxDistance" => {
                    let distance = as_f64(value).ok_or_else(|| bad(format!("{key} must be a number")))?;
                    if !(distance >= 0.0 && distance.is_finite()) {
                        return Err(bad(format!("{key} must be non-negative")));
                    }
                    *near.slot(key) = Some(distance);
                }
                _ => return Err(bad(format!("invalid argument in geo near query: {key}"))),
            }
        }
        near.origin = origin.ok_or_else(|| bad("$geometry is required for geo near query"))?;
        Ok(near)
    }

    /// The first form: a point (legacy, or a GeoJSON point without `$geometry`),
    /// or `[x, y, maxDistance]`, with `$minDistance` and `$maxDistance` beside it.
    fn parse_beside(sphere: bool, point: Bare, operand: &Bson, operators: &Document) -> Result<Near> {
        let origin = match point {
            Bare::GeoJson(spot) => Origin::Sphere { spot, meters: true },
            Bare::Legacy(p) if sphere => match parse::spot(p.x, p.y) {
                Ok(spot) => Origin::Sphere { spot, meters: false },
                Err(_) => return Err(bad("Legacy point is out of bounds for spherical query")),
            },
            Bare::Legacy(p) => Origin::Plane(p),
        };
        let mut near = Near { origin, min: None, max: None };
        if let Some(max) = elements(operand).nth(2).and_then(as_f64) {
            if max < 0.0 {
                return Err(Error::command(ErrorCode::Location18522, "max distance must be non-negative"));
            }
            near.max = Some(max);
        }
        for (key, value) in operators.iter().skip(1) {
            let (not_number, negative) = match key.as_str() {
                "$minDistance" => (ErrorCode::Location16893, ErrorCode::Location16894),
                "$maxDistance" => (ErrorCode::Location16895, ErrorCode::Location16896),
                "$uniqueDocs" => continue,
                _ => {
                    return Err(Error::command(
                        ErrorCode::Location34413,
                        format!("invalid argument in geo near query: {key}"),
                    ))
                }
            };
            let distance =
                as_f64(value).ok_or_else(|| Error::command(not_number, format!("{key} must be a number")))?;
            if distance.is_nan() || distance < 0.0 {
                return Err(Error::command(negative, format!("{key} must be non-negative")));
            }
            *near.slot(key) = Some(distance);
        }
        Ok(near)
    }

    fn slot(&mut self, key: &str) -> &mut Option<f64> {
        if key == "$minDistance" {
            &mut self.min
        } else {
            &mut self.max
        }
    }

    /// Whether an index of `kind` can serve the query.
    pub fn served_by(&self, kind: crate::index::GeoKind) -> bool {
        use crate::index::GeoKind;
        match (self.origin, kind) {
            (Origin::Sphere { meters: true, .. }, GeoKind::Sphere) => true,
            (Origin::Sphere { meters: true, .. }, GeoKind::Flat(_)) => false,
            (Origin::Sphere { meters: false, .. }, _) => true,
            (Origin::Plane(_), GeoKind::Flat(_)) => true,
            (Origin::Plane(_), GeoKind::Sphere) => false,
        }
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
