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
    let mut number = || {
        let v = values.next();
        v.and_then(crate::value::number::as_f64)
            .ok_or_else(|| bad(format!("Point must only contain numeric elements, instead got type {}", type_name(v))))
    };
    let (x, y) = (number()?, number()?);
    if !x.is_finite() || !y.is_finite() {
        return Err(bad("Point coordinates must be finite numbers"));
    }
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
        return Err(bad(format!("GeoJSON coordinates must be an array, instead got type {}", type_name(Some(value)))));
    }
    let Flat { x: lng, y: lat } = flat_point(value, true)?;
    spot(lng, lat)
}

/// A point of the sphere at `lng`, `lat` (degrees), refused out of bounds.
pub fn spot(lng: f64, lat: f64) -> Result<Spot> {
    if !(-180.0..=180.0).contains(&lng) || !(-90.0..=90.0).contains(&lat) {
        return Err(bad(format!("Longitude/latitude is out of bounds, lng: {} lat: {}", num(lng), num(lat))));
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

/// A GeoJSON LineString's coordinates: consecutive repeats dropped, at least two
/// vertices left, no two adjacent ones antipodal.
fn line(value: &Bson) -> Result<Vec<s2::point::Point>> {
    let points = without_repeats(positions(value)?);
    if points.len() < 2 {
        return Err(bad(format!(
            "GeoJSON LineString must have at least 2 vertices, instead got {} vertices: {}",
            points.len(),
            shown(value)
        )));
    }
    for (i, pair) in points.windows(2).enumerate() {
        if pair[0].point.distance(&pair[1].point).rad() >= std::f64::consts::PI - 1e-12 {
            return Err(bad(format!(
                "GeoJSON LineString is not valid: Vertices {i} and {} are identical or antipodal {}",
                i + 1,
                shown(value)
            )));
        }
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
        if points.is_empty() {
            return Err(bad(format!("Loop has no vertices: {}", shown(ring))));
        }
        if points.first().map(|p| p.point) != points.last().map(|p| p.point) {
            return Err(bad(format!("Loop is not closed, first vertex does not equal last vertex: {}", shown(ring))));
        }
        let mut points = without_repeats(points);
        points.pop();
        if points.len() < 3 {
            return Err(bad(format!(
                "Loop must have at least 3 different vertices, {} unique vertices were provided: {}",
                points.len(),
                shown(ring)
            )));
        }
        let vertices: Vec<s2::point::Point> = points.iter().map(|s| s.point).collect();
        if let Some((i, j)) = duplicate_vertices(&vertices) {
            return Err(bad(format!("Loop is not valid: {} Duplicate vertices: {i} and {j}", shown(ring))));
        }
        if let Some((i, j)) = crossing_edges(&vertices) {
            return Err(bad(format!("Loop is not valid: {} Edges {i} and {j} cross", shown(ring))));
        }
        loops.push(Loop::smaller(vertices));
    }
    if loops.is_empty() {
        return Err(bad("Polygon has no loops."));
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

/// The first two equal vertices of a loop (adjacent repeats are already gone).
fn duplicate_vertices(vertices: &[s2::point::Point]) -> Option<(usize, usize)> {
    let coordinates = |p: &s2::point::Point| [p.0.x, p.0.y, p.0.z];
    let mut sorted: Vec<(usize, [f64; 3])> = vertices.iter().map(coordinates).enumerate().collect();
    sorted.sort_by(|a, b| a.1.partial_cmp(&b.1).unwrap_or(std::cmp::Ordering::Equal));
    sorted.windows(2).filter(|w| w[0].1 == w[1].1).map(|w| (w[0].0.min(w[1].0), w[0].0.max(w[1].0))).min()
}

/// The first pair (in edge order) of non-adjacent edges of a closed chain that
/// cross. Edges are swept by longitude, so a polygon of n edges costs about n log n
/// rather than n²: along a geodesic shorter than half the circle the longitude moves
/// one way, so edges whose longitude ranges are apart cannot meet. An edge across
/// the antimeridian, or that passes over a pole, is given every longitude.
fn crossing_edges(vertices: &[s2::point::Point]) -> Option<(usize, usize)> {
    let n = vertices.len();
    let edge = |i: usize| (&vertices[i], &vertices[(i + 1) % n]);
    let longitude = |p: &s2::point::Point| s2::latlng::LatLng::from(p).lng.deg();
    let range = |i: usize| {
        let (a, b) = edge(i);
        let (x, y) = (longitude(a), longitude(b));
        match (x - y).abs() > 180.0 || a.0.z.abs() > 1.0 - 1e-12 || b.0.z.abs() > 1.0 - 1e-12 {
            true => (-180.0, 180.0),
            false => (x.min(y), x.max(y)),
        }
    };
    let mut order: Vec<(f64, f64, usize)> = (0..n)
        .map(|i| {
            let (low, high) = range(i);
            (low, high, i)
        })
        .collect();
    order.sort_by(|a, b| a.0.total_cmp(&b.0));
    let mut found: Option<(usize, usize)> = None;
    // Edges whose range is still open, as the sweep moves east.
    let mut open: Vec<(f64, usize)> = Vec::new();
    for (low, high, i) in order {
        open.retain(|(end, _)| *end >= low);
        for &(_, j) in &open {
            let (first, second) = (i.min(j), i.max(j));
            let adjacent = second == first + 1 || (first == 0 && second == n - 1);
            if adjacent {
                continue;
            }
            let ((a, b), (c, d)) = (edge(first), edge(second));
            if edges_cross(a, b, c, d) && found.is_none_or(|f| (first, second) < f) {
                found = Some((first, second));
            }
        }
        open.push((high, i));
    }
    found
}

/// The array under `coordinates` of a GeoJSON object, with at least one element
/// for the Multi types.
fn coordinates<'d>(doc: &'d Document, kind: &str) -> Result<&'d Bson> {
    let value = doc.get("coordinates");
    match value {
        Some(value @ Bson::Array(_)) => Ok(value),
        _ if kind == "MultiPoint" || kind == "LineString" => Err(bad(format!(
            "GeoJSON coordinates must be an array of coordinates, instead got type {}",
            type_name(value)
        ))),
        _ => Err(bad(format!("{kind} coordinates must be an array, instead got type {}", type_name(value)))),
    }
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
    check_crs(doc)?;
    let Some(kind) = geojson_kind(doc) else {
        return Err(bad(format!("unknown GeoJSON type: {}", shown(&Bson::Document(doc.clone())))));
    };
    Ok(match kind {
        // A point's coordinates are read as a legacy pair is (an object will do).
        "Point" => {
            let value = doc.get("coordinates");
            let Flat { x, y } = match value {
                Some(value) => flat_point(value, true)?,
                None => {
                    return Err(bad(format!("Point must be an array or object, instead got type {}", type_name(value))))
                }
            };
            Geometry::Point(spot(x, y)?)
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
        _ => {
            let items = match doc.get("geometries") {
                Some(Bson::Array(items)) => items,
                other => {
                    return Err(bad(format!(
                        "GeometryCollection geometries must be an array, instead got type {}",
                        type_name(other)
                    )))
                }
            };
            if items.is_empty() {
                return Err(bad("GeometryCollection geometries must have at least 1 element"));
            }
            let member = |(i, item): (usize, &Bson)| match item {
                Bson::Document(member) => match geojson_kind(member) {
                    Some("GeometryCollection") => {
                        Err(bad(format!("GeometryCollections cannot be nested: {}", shown(item))))
                    }
                    Some(_) => geojson(member),
                    None => Err(bad(format!("Unknown GeoJSON type: {}", shown(item)))),
                },
                other => Err(bad(format!(
                    "Element {i} of \"geometries\" must be an object, instead got type {}: {}",
                    type_name(Some(other)),
                    shown(other)
                ))),
            };
            Geometry::Collection(items.iter().enumerate().map(member).collect::<Result<_>>()?)
        }
    })
}

/// The GeoJSON type a document names, when it is one.
fn geojson_kind(doc: &Document) -> Option<&'static str> {
    const KINDS: [&str; 7] =
        ["Point", "LineString", "Polygon", "MultiPoint", "MultiLineString", "MultiPolygon", "GeometryCollection"];
    let named = doc.get_str("type").ok()?;
    KINDS.into_iter().find(|kind| *kind == named)
}

/// The names of the one coordinate reference system GeoJSON shapes may name.
const EPSG_4326: [&str; 2] = ["EPSG:4326", "urn:ogc:def:crs:OGC:1.3:CRS84"];

/// A GeoJSON object's `crs`, when it names one: only WGS 84 is accepted, and the
/// strict-winding "big polygon" system is refused as not supported.
fn check_crs(doc: &Document) -> Result<()> {
    let Some(crs) = doc.get("crs") else { return Ok(()) };
    let Bson::Document(crs) = crs else {
        return Err(bad(format!("GeoJSON CRS must be an object, instead got type {}", type_name(Some(crs)))));
    };
    if crs.get_str("type") != Ok("name") {
        return Err(bad("GeoJSON CRS must have field \"type\": \"name\""));
    }
    let properties = match crs.get("properties") {
        Some(Bson::Document(properties)) => properties,
        other => {
            return Err(bad(format!(
                "CRS must have field \"properties\" which is an object, instead got type {}",
                type_name(other)
            )))
        }
    };
    let name = match properties.get("name") {
        Some(Bson::String(name)) => name.as_str(),
        other => {
            return Err(bad(format!(
                "In CRS, \"properties.name\" must be a string, instead got type {}",
                type_name(other)
            )))
        }
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

#[cfg(test)]
mod tests {
    use super::*;
    use bson::doc;

    fn polygon_of(points: Vec<(f64, f64)>) -> Document {
        let mut ring: Vec<Bson> =
            points.iter().map(|(x, y)| Bson::Array(vec![Bson::Double(*x), Bson::Double(*y)])).collect();
        ring.push(ring[0].clone());
        doc! {"type": "Polygon", "coordinates": [ring]}
    }

    #[test]
    fn a_crossing_is_named_by_its_first_edges() {
        let bow_tie = polygon_of(vec![(0.0, 0.0), (1.0, 1.0), (1.0, 0.0), (0.0, 1.0)]);
        let error = geojson(&bow_tie).expect_err("self-crossing");
        assert!(error.message().ends_with("Edges 0 and 2 cross"), "{}", error.message());
    }

    #[test]
    fn a_polygon_of_many_vertices_validates_quickly() {
        let n = 20_000;
        let circle: Vec<(f64, f64)> = (0..n)
            .map(|i| {
                let angle = std::f64::consts::TAU * f64::from(i) / f64::from(n);
                (10.0 * angle.cos(), 10.0 * angle.sin())
            })
            .collect();
        let started = std::time::Instant::now();
        assert!(matches!(geojson(&polygon_of(circle)), Ok(Geometry::Polygon(_))));
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
    }

    #[test]
    fn legacy_points_and_their_refusals() {
        assert_eq!(
            flat_point(&Bson::Array(vec![Bson::Int32(1), Bson::Double(2.5)]), false).expect("pair"),
            Flat { x: 1.0, y: 2.5 }
        );
        assert!(flat_point(&Bson::Array(vec![Bson::Int32(1)]), false).is_err());
        assert!(flat_point(&Bson::Array(vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)]), false).is_err());
        assert!(flat_point(&Bson::Array(vec![Bson::Int32(1), Bson::Int32(2), Bson::Int32(3)]), true).is_ok());
        assert!(flat_point(&Bson::String("x".into()), false).is_err());
    }
}
