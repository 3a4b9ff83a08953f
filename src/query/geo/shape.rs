//! GeoJSON shapes on the sphere and the relations MongoDB's operators ask about:
//! whether a shape lies within a region (`$geoWithin`), whether two shapes meet
//! (`$geoIntersects`), and how far a shape is from a point (`$near`).

use s2::point::Point;
use s2::rect::Rect;

use super::cover;
use super::sphere::{chain_distance, edges_cross, edges_meet, Polygon, Spot, TOUCHING};

/// A GeoJSON geometry.
#[derive(Debug, Clone)]
pub enum Geometry {
    Point(Spot),
    LineString(Vec<Point>),
    Polygon(Polygon),
    MultiPoint(Vec<Spot>),
    MultiLineString(Vec<Vec<Point>>),
    MultiPolygon(Vec<Polygon>),
    Collection(Vec<Geometry>),
}

/// One simple part of a geometry.
#[derive(Debug, Clone, Copy)]
enum Part<'g> {
    Point(&'g Point),
    Line(&'g [Point]),
    Polygon(&'g Polygon),
}

impl Geometry {
    fn parts(&self) -> Vec<Part<'_>> {
        let mut out = Vec::new();
        self.collect_parts(&mut out);
        out
    }

    fn collect_parts<'g>(&'g self, out: &mut Vec<Part<'g>>) {
        match self {
            Geometry::Point(spot) => out.push(Part::Point(&spot.point)),
            Geometry::LineString(line) => out.push(Part::Line(line)),
            Geometry::Polygon(polygon) => out.push(Part::Polygon(polygon)),
            Geometry::MultiPoint(spots) => out.extend(spots.iter().map(|s| Part::Point(&s.point))),
            Geometry::MultiLineString(lines) => out.extend(lines.iter().map(|l| Part::Line(l))),
            Geometry::MultiPolygon(polygons) => out.extend(polygons.iter().map(Part::Polygon)),
            Geometry::Collection(members) => members.iter().for_each(|m| m.collect_parts(out)),
        }
    }

    /// The point, when the geometry is one.
    pub fn as_point(&self) -> Option<&Spot> {
        match self {
            Geometry::Point(spot) => Some(spot),
            _ => None,
        }
    }

    /// Whether the geometry lies within `region`, boundary included.
    pub fn within(&self, region: &SphereRegion) -> bool {
        self.parts().iter().all(|part| match region {
            SphereRegion::Polygons(polygons) => polygons.iter().any(|polygon| part_within(part, polygon)),
            SphereRegion::Cap { center, radius } => {
                part_vertices(part).iter().all(|v| v.distance(center).rad() <= radius + TOUCHING)
            }
        })
    }

    /// Whether the two geometries share a point.
    pub fn intersects(&self, other: &Geometry) -> bool {
        let theirs = other.parts();
        self.parts().iter().any(|mine| theirs.iter().any(|their| parts_meet(mine, their)))
    }

    /// The distance in radians from `p` to the nearest point of the geometry.
    pub fn distance(&self, p: &Point) -> f64 {
        self.parts()
            .iter()
            .map(|part| match part {
                Part::Point(q) => q.distance(p).rad(),
                Part::Line(line) => chain_distance(p, line),
                Part::Polygon(polygon) => polygon.distance(p),
            })
            .fold(f64::INFINITY, f64::min)
    }

    /// The cells a 2dsphere index keys the geometry by.
    pub fn cells(&self) -> Vec<u64> {
        match self {
            Geometry::Point(spot) => vec![cover::leaf_cell(&spot.point)],
            Geometry::MultiPoint(spots) => {
                let mut cells: Vec<u64> = spots.iter().map(|s| cover::leaf_cell(&s.point)).collect();
                cells.sort_unstable();
                cells.dedup();
                cells
            }
            _ => cover::rect_cells(&self.rect_bound()),
        }
    }

    /// A latitude-longitude rectangle holding the geometry.
    pub fn rect_bound(&self) -> Rect {
        self.parts().iter().fold(Rect::empty(), |bound, part| {
            let part_bound = match part {
                Part::Point(p) => cover::rect_bound([std::slice::from_ref(*p)], false),
                Part::Line(line) => cover::rect_bound([*line], false),
                Part::Polygon(polygon) => cover::rect_bound(polygon.loops.iter().map(|l| l.vertices()), true),
            };
            bound.union(&part_bound)
        })
    }
}

/// A region `$geoWithin` asks about on the sphere.
#[derive(Debug, Clone)]
pub enum SphereRegion {
    /// A GeoJSON Polygon or MultiPolygon.
    Polygons(Vec<Polygon>),
    /// `$centerSphere`: the points within `radius` radians of `center`.
    Cap { center: Point, radius: f64 },
}

impl SphereRegion {
    /// The ranges of 2dsphere cell ids whose entries may lie in the region.
    pub fn cell_ranges(&self) -> Vec<cover::CellRange> {
        match self {
            SphereRegion::Cap { center, radius } => cover::cap_ranges(center, *radius),
            SphereRegion::Polygons(polygons) => {
                let bound = polygons.iter().fold(Rect::empty(), |bound, polygon| {
                    bound.union(&cover::rect_bound(polygon.loops.iter().map(|l| l.vertices()), true))
                });
                cover::rect_ranges(&bound)
            }
        }
    }
}

fn part_vertices<'g>(part: &Part<'g>) -> Vec<&'g Point> {
    match part {
        Part::Point(p) => vec![p],
        Part::Line(line) => line.iter().collect(),
        Part::Polygon(polygon) => polygon.vertices().collect(),
    }
}

/// The edges of a part (none for a point).
fn part_edges<'g>(part: &Part<'g>) -> Vec<(&'g Point, &'g Point)> {
    match part {
        Part::Point(_) => Vec::new(),
        Part::Line(line) => line.windows(2).map(|w| (&w[0], &w[1])).collect(),
        Part::Polygon(polygon) => polygon.edges().collect(),
    }
}

/// Whether a part lies within a polygon: its vertices are covered, none of its
/// edges crosses the polygon's boundary, and (for a polygon) no hole of the
/// region lies inside it.
fn part_within(part: &Part<'_>, region: &Polygon) -> bool {
    if !part_vertices(part).iter().all(|v| region.covers(v)) {
        return false;
    }
    let crosses = part_edges(part).iter().any(|(a, b)| region.edges().any(|(c, d)| edges_cross(a, b, c, d)));
    if crosses {
        return false;
    }
    match part {
        Part::Polygon(polygon) => {
            !region.loops.iter().skip(1).any(|hole| hole.vertices().iter().any(|v| polygon.strictly_contains(v)))
        }
        _ => true,
    }
}

/// Whether two parts share a point.
fn parts_meet(a: &Part<'_>, b: &Part<'_>) -> bool {
    match (a, b) {
        (Part::Point(p), Part::Point(q)) => p.distance(q).rad() <= TOUCHING,
        (Part::Point(p), Part::Line(line)) | (Part::Line(line), Part::Point(p)) => chain_distance(p, line) <= TOUCHING,
        (Part::Point(p), Part::Polygon(polygon)) | (Part::Polygon(polygon), Part::Point(p)) => polygon.covers(p),
        _ => {
            let inside = |x: &Part<'_>, y: &Part<'_>| match y {
                Part::Polygon(polygon) => part_vertices(x).iter().any(|v| polygon.covers(v)),
                _ => false,
            };
            inside(a, b)
                || inside(b, a)
                || part_edges(a).iter().any(|(p, q)| part_edges(b).iter().any(|(r, s)| edges_meet(p, q, r, s)))
        }
    }
}
