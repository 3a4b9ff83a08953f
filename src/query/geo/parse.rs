//! Reading shapes from BSON: GeoJSON objects (validated as MongoDB validates
//! them, with its messages) and legacy coordinate pairs.

use bson::{Bson, Document};

use super::flat::Flat;
use super::shape::Geometry;
use super::sphere::{edges_cross, Loop, Polygon, Spot};
use crate::error::{Error, Result};
use crate::value::type_name;

fn bad(message: impl Into<String>) -> Error {
    Error::bad_value(message)
}

/// The MongoDB shell's form of a value in messages: `[ 1, 2 ]`, `{ a: 1 }`.
pub fn shown(value: &Bson) -> String {
    match value {
        Bson::Array(items) if items.is_empty() => "[]".into(),
        Bson::Array(items) => format!("[ {} ]", items.iter().map(shown).collect::<Vec<_>>().join(", ")),
        Bson::Document(doc) if doc.is_empty() => "{}".into(),
        Bson::Document(doc) => {
            format!("{{ {} }}", doc.iter().map(|(k, v)| format!("{k}: {}", shown(v))).collect::<Vec<_>>().join(", "))
        }
        Bson::String(s) => format!("\"{s}\""),
        Bson::Double(d) if d.fract() == 0.0 && d.abs() < 1e15 => format!("{d:.1}"),
        other => other.to_string(),
    }
}

/// A legacy point: an array or document whose first two values are numbers
/// (more may follow only when `extra` allows).
pub fn flat_point(value: &Bson, extra: bool) -> Result<Flat> {
    let mut values: Box<dyn Iterator<Item = &Bson>> = match value {
        Bson::Array(items) => Box::new(items.iter()),
        Bson::Document(doc) => Box::new(doc.values()),
        other => {
            return Err(bad(format!("Point must be an array or object, instead got type {}", type_name(Some(other)))))
        }
    };
    let mut number = || match values.next() {
        Some(v) => crate::value::number::as_f64(v).filter(|_| !matches!(v, Bson::Decimal128(_))).ok_or_else(|| {
            bad(format!("Point must only contain numeric elements, instead got type {}", type_name(Some(v))))
        }),
        None => Err(bad("Point must only contain numeric elements")),
    };
    let (x, y) = (number()?, number()?);
    if !extra && values.next().is_some() {
        return Err(bad("Point must only contain two numeric elements"));
    }
    Ok(Flat { x, y })
}

/// Whether a value is a legacy point.
pub fn is_flat_point(value: &Bson) -> bool {
    flat_point(value, false).is_ok()
}

/// The position of a GeoJSON coordinate: longitude and latitude within bounds.
fn position(value: &Bson) -> Result<Spot> {
    if !matches!(value, Bson::Array(_)) {
        return Err(bad(format!(
            "GeoJSON coordinates must be an array of coordinates, instead got type {}",
            type_name(Some(value))
        )));
    }
    let Flat { x: lng, y: lat } = flat_point(value, true)?;
    spot(lng, lat)
}

/// A point of the sphere at `lng`, `lat` (degrees), refused out of bounds.
pub fn spot(lng: f64, lat: f64) -> Result<Spot> {
    if !(-180.0..=180.0).contains(&lng) || !(-90.0..=90.0).contains(&lat) {
        return Err(bad(format!("longitude/latitude is out of bounds, lng: {} lat: {}", num(lng), num(lat))));
    }
    Ok(Spot::new(lng, lat))
}

fn num(v: f64) -> String {
    format!("{v}")
}

/// The positions of an array of GeoJSON coordinates.
fn positions(value: &Bson) -> Result<Vec<Spot>> {
    let Bson::Array(items) = value else {
        return Err(bad(format!(
            "GeoJSON coordinates must be an array of coordinates, instead got type {}",
            type_name(Some(value))
        )));
    };
    items.iter().map(position).collect()
}

/// `points` without consecutive repeats.
fn without_repeats(mut points: Vec<Spot>) -> Vec<Spot> {
    points.dedup_by(|a, b| a.point == b.point);
    points
}

/// A GeoJSON LineString's coordinates.
fn line(value: &Bson) -> Result<Vec<s2::point::Point>> {
    let points = positions(value)?;
    if points.len() < 2 {
        return Err(bad(format!("GeoJSON LineString must have at least 2 vertices: {}", shown(value))));
    }
    let points = without_repeats(points);
    for pair in points.windows(2) {
        if pair[0].point.distance(&pair[1].point).rad() >= std::f64::consts::PI - 1e-12 {
            return Err(bad(format!(
                "Invalid LineString: {} :: caused by :: Vertices {} and {} are antipodal",
                shown(value),
                0,
                1
            )));
        }
    }
    if points.len() < 2 {
        return Err(bad(format!("GeoJSON LineString must have at least 2 vertices: {}", shown(value))));
    }
    Ok(points.into_iter().map(|s| s.point).collect())
}

/// A GeoJSON Polygon's coordinates: closed loops of at least three distinct
/// vertices whose edges do not cross, the first holding the others.
fn polygon(value: &Bson) -> Result<Polygon> {
    let Bson::Array(rings) = value else {
        return Err(bad(format!("Polygon coordinates must be an array, instead got type {}", type_name(Some(value)))));
    };
    let mut loops = Vec::with_capacity(rings.len());
    for ring in rings {
        let points = positions(ring)?;
        if points.len() < 4 {
            return Err(bad(format!("Loop must have at least 4 vertices: {}", shown(ring))));
        }
        if points.first().map(|p| (p.lng, p.lat)) != points.last().map(|p| (p.lng, p.lat)) {
            return Err(bad(format!("Loop is not closed, first vertex does not equal last vertex: {}", shown(ring))));
        }
        let mut points = without_repeats(points);
        points.pop();
        if points.len() < 3 {
            return Err(bad(format!("Loop must have at least 3 different vertices: {}", shown(ring))));
        }
        let vertices: Vec<s2::point::Point> = points.iter().map(|s| s.point).collect();
        if let Some((i, j)) = crossing_edges(&vertices) {
            return Err(bad(format!("Loop is not valid: {} Edges {i} and {j} cross", shown(ring))));
        }
        loops.push(Loop::smaller(vertices));
    }
    if loops.is_empty() {
        return Err(bad(format!("Polygon has no loops: {}", shown(value))));
    }
    let shell = &loops[0];
    for (hole, ring) in loops.iter().zip(rings).skip(1) {
        let inside = hole.vertices().iter().all(|v| shell.contains(v))
            && !hole.edges().any(|(a, b)| shell.edges().any(|(c, d)| edges_cross(a, b, c, d)));
        if !inside {
            return Err(bad(format!(
                "Secondary loops not contained by first exterior loop - secondary loops must be holes: {} first loop: {}",
                shown(ring),
                shown(&rings[0])
            )));
        }
    }
    Ok(Polygon { loops })
}

/// The first pair of non-adjacent edges of a closed chain that cross.
fn crossing_edges(vertices: &[s2::point::Point]) -> Option<(usize, usize)> {
    let n = vertices.len();
    let edge = |i: usize| (&vertices[i], &vertices[(i + 1) % n]);
    for i in 0..n {
        for j in i + 2..n {
            if i == 0 && j == n - 1 {
                continue;
            }
            let ((a, b), (c, d)) = (edge(i), edge(j));
            if edges_cross(a, b, c, d) {
                return Some((i, j));
            }
        }
    }
    None
}

/// The array under `coordinates` of a GeoJSON object, with at least one element
/// for the Multi types.
fn coordinates<'d>(doc: &'d Document, kind: &str) -> Result<&'d Bson> {
    let value = doc
        .get("coordinates")
        .ok_or_else(|| bad(format!("{kind} must have a coordinates field: {}", shown(&Bson::Document(doc.clone())))))?;
    if !matches!(value, Bson::Array(_)) {
        return Err(bad(format!("{kind} coordinates must be an array, instead got type {}", type_name(Some(value)))));
    }
    Ok(value)
}

fn members(value: &Bson, kind: &str) -> Result<Vec<Bson>> {
    let Bson::Array(items) = value else { unreachable!("coordinates are an array") };
    if items.is_empty() {
        return Err(bad(format!("{kind} coordinates must have at least 1 element")));
    }
    Ok(items.clone())
}

/// Whether a document is shaped as GeoJSON: a `type` string and `coordinates` or
/// `geometries`.
pub fn looks_like_geojson(doc: &Document) -> bool {
    matches!(doc.get("type"), Some(Bson::String(_)))
}

/// A GeoJSON geometry, validated.
pub fn geojson(doc: &Document) -> Result<Geometry> {
    geojson_at(doc, 0)
}

fn geojson_at(doc: &Document, depth: usize) -> Result<Geometry> {
    check_crs(doc)?;
    let kind = match doc.get("type") {
        Some(Bson::String(kind)) => kind.as_str(),
        _ => return Err(bad(format!("unknown GeoJSON type: {}", shown(&Bson::Document(doc.clone()))))),
    };
    Ok(match kind {
        "Point" => {
            let value = coordinates(doc, "Point")?;
            Geometry::Point(position(value)?)
        }
        "LineString" => Geometry::LineString(line(coordinates(doc, "LineString")?)?),
        "Polygon" => Geometry::Polygon(polygon(coordinates(doc, "Polygon")?)?),
        "MultiPoint" => {
            let value = coordinates(doc, "MultiPoint")?;
            members(value, "MultiPoint")?;
            Geometry::MultiPoint(positions(value)?)
        }
        "MultiLineString" => {
            let value = coordinates(doc, "MultiLineString")?;
            Geometry::MultiLineString(members(value, "MultiLineString")?.iter().map(line).collect::<Result<_>>()?)
        }
        "MultiPolygon" => {
            let value = coordinates(doc, "MultiPolygon")?;
            Geometry::MultiPolygon(members(value, "MultiPolygon")?.iter().map(polygon).collect::<Result<_>>()?)
        }
        "GeometryCollection" => {
            if depth > 0 {
                return Err(bad("GeometryCollections cannot be nested"));
            }
            let Some(Bson::Array(items)) = doc.get("geometries") else {
                return Err(bad("GeometryCollection geometries must be an array"));
            };
            if items.is_empty() {
                return Err(bad("GeometryCollection geometries must have at least 1 element"));
            }
            let geometries = items
                .iter()
                .map(|item| match item {
                    Bson::Document(member) => geojson_at(member, depth + 1),
                    other => Err(bad(format!(
                        "Element of \"geometries\" must be an object, instead got type {}",
                        type_name(Some(other))
                    ))),
                })
                .collect::<Result<_>>()?;
            Geometry::Collection(geometries)
        }
        _ => return Err(bad(format!("unknown GeoJSON type: {}", shown(&Bson::Document(doc.clone()))))),
    })
}

/// The names of the one coordinate reference system GeoJSON shapes may name.
const EPSG_4326: [&str; 2] = ["EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84"];

/// A GeoJSON object's `crs`, when it names one: only WGS 84 is accepted, and the
/// strict-winding "big polygon" system is refused as not supported.
fn check_crs(doc: &Document) -> Result<()> {
    let Some(crs) = doc.get("crs") else { return Ok(()) };
    let Bson::Document(crs) = crs else { return Err(bad("GeoJSON CRS must be an object")) };
    if crs.get_str("type") != Ok("name") {
        return Err(bad("GeoJSON CRS must have field \"type\": \"name\""));
    }
    let Ok(properties) = crs.get_document("properties") else {
        return Err(bad("CRS must have field \"properties\" which is an object"));
    };
    let Ok(name) = properties.get_str("name") else {
        return Err(bad("In CRS, \"properties.name\" must be a string"));
    };
    if EPSG_4326.contains(&name) {
        return Ok(());
    }
    if name == "urn:x-mongodb:crs:strictwinding:EPSG:4326" {
        return Err(Error::command(
            crate::error::ErrorCode::NotImplemented,
            "big polygons (the strict-winding CRS) are not supported yet",
        ));
    }
    Err(bad(format!("Unknown CRS name: {name}")))
}
