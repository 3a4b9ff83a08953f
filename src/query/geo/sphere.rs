//! Geometry on the sphere, as MongoDB's 2dsphere queries see GeoJSON: points are
//! unit vectors, edges are geodesics (great-circle arcs), and each loop of a polygon
//! bounds the smaller of the two regions it divides the sphere into. The primitives
//! (robust crossings, distances to edges) are the `s2` crate's; the loops and the
//! relations between shapes are built here on them.

use s2::edge_crossings::{angle_contains_vertex, crossing_sign, edge_or_vertex_crossing, Crossing};
use s2::edgeutil::distance_from_segment;
use s2::latlng::LatLng;
use s2::point::Point;
use s2::predicates::{robust_sign, Direction};

/// How close (in radians on the unit sphere) a point may be to a shape's boundary
/// and still touch it: about the size of the finest S2 cell (a centimetre on
/// Earth), as MongoDB's containment tests count the boundary's cell as touching.
pub const TOUCHING: f64 = 1e-9;

/// A point of a GeoJSON shape: its coordinates as given and its unit vector.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Spot {
    pub lng: f64,
    pub lat: f64,
    pub point: Point,
}

impl Spot {
    pub fn new(lng: f64, lat: f64) -> Spot {
        Spot { lng, lat, point: Point::from(&LatLng::from_degrees(lat, lng)) }
    }

    /// The angle between two points, in radians.
    pub fn distance(&self, other: &Point) -> f64 {
        self.point.distance(other).rad()
    }
}

/// A closed chain of vertices (the closing vertex not repeated) and the region to
/// its left.
#[derive(Debug, Clone)]
pub struct Loop {
    vertices: Vec<Point>,
    /// Whether the region holds `Point::origin()`, the reference point containment
    /// counts crossings from.
    origin_inside: bool,
}

impl Loop {
    /// The loop through `vertices` holding the smaller of the two regions they
    /// bound, whichever way they run (MongoDB normalizes GeoJSON loops so).
    pub fn smaller(mut vertices: Vec<Point>) -> Loop {
        if turning_angle(&vertices) < 0.0 {
            vertices.reverse();
        }
        let mut held = Loop { vertices, origin_inside: false };
        // The region is to the left of the edges: decide the origin's side from
        // whether the angle at vertex 1 holds that vertex.
        let v = &held.vertices;
        let v1_inside = v[0] != v[2] && angle_contains_vertex(&v[0], &v[1], &v[2]);
        if v1_inside != held.crossing_parity(&held.vertices[1]) {
            held.origin_inside = true;
        }
        held
    }

    pub fn vertices(&self) -> &[Point] {
        &self.vertices
    }

    /// The loop's edges, the closing one included.
    pub fn edges(&self) -> impl Iterator<Item = (&Point, &Point)> + '_ {
        let n = self.vertices.len();
        (0..n).map(move |i| (&self.vertices[i], &self.vertices[(i + 1) % n]))
    }

    /// Whether the region holds `p` (S2's semi-open rule on the boundary).
    pub fn contains(&self, p: &Point) -> bool {
        self.crossing_parity(p)
    }

    fn crossing_parity(&self, p: &Point) -> bool {
        let origin = Point::origin();
        let mut inside = self.origin_inside;
        for (a, b) in self.edges() {
            inside ^= edge_or_vertex_crossing(&origin, p, a, b);
        }
        inside
    }

    /// The distance from `p` to the loop's boundary, in radians.
    pub fn boundary_distance(&self, p: &Point) -> f64 {
        self.edges().map(|(a, b)| distance_from_segment(p, a, b).rad()).fold(f64::INFINITY, f64::min)
    }
}

/// The sum of the turns at a loop's vertices: positive when the region to its left
/// is the smaller one (2π minus that region's area).
fn turning_angle(vertices: &[Point]) -> f64 {
    let n = vertices.len();
    (0..n)
        .map(|i| {
            let (a, b, c) = (&vertices[(i + n - 1) % n], &vertices[i], &vertices[(i + 1) % n]);
            let angle = a.cross(b).0.angle(&b.cross(c).0).rad();
            match robust_sign(a, b, c) {
                Direction::CounterClockwise => angle,
                Direction::Clockwise => -angle,
                Direction::Indeterminate => 0.0,
            }
        })
        .sum()
}

/// A polygon: its shell and holes.
#[derive(Debug, Clone)]
pub struct Polygon {
    pub loops: Vec<Loop>,
}

impl Polygon {
    /// Whether `p` is inside or on the boundary (within [`TOUCHING`]).
    pub fn covers(&self, p: &Point) -> bool {
        self.strictly_contains(p) || self.boundary_distance(p) <= TOUCHING
    }

    /// Whether `p` is inside the shell and outside every hole.
    pub fn strictly_contains(&self, p: &Point) -> bool {
        let mut loops = self.loops.iter();
        loops.next().is_some_and(|shell| shell.contains(p)) && !loops.any(|hole| hole.contains(p))
    }

    pub fn boundary_distance(&self, p: &Point) -> f64 {
        self.loops.iter().map(|l| l.boundary_distance(p)).fold(f64::INFINITY, f64::min)
    }

    pub fn edges(&self) -> impl Iterator<Item = (&Point, &Point)> + '_ {
        self.loops.iter().flat_map(Loop::edges)
    }

    pub fn vertices(&self) -> impl Iterator<Item = &Point> + '_ {
        self.loops.iter().flat_map(|l| l.vertices().iter())
    }

    /// The distance from `p` to the polygon: zero inside.
    pub fn distance(&self, p: &Point) -> f64 {
        if self.covers(p) {
            0.0
        } else {
            self.boundary_distance(p)
        }
    }
}

/// Whether edges `ab` and `cd` cross at a point interior to both.
pub fn edges_cross(a: &Point, b: &Point, c: &Point, d: &Point) -> bool {
    crossing_sign(a, b, c, d) == Crossing::Cross
}

/// Whether edges `ab` and `cd` meet anywhere, shared vertices and touching included.
pub fn edges_meet(a: &Point, b: &Point, c: &Point, d: &Point) -> bool {
    crossing_sign(a, b, c, d) != Crossing::DoNotCross
        || [distance_from_segment(a, c, d), distance_from_segment(b, c, d), distance_from_segment(c, a, b)]
            .iter()
            .chain(std::iter::once(&distance_from_segment(d, a, b)))
            .any(|angle| angle.rad() <= TOUCHING)
}

/// The distance from `p` to the chain of edges through `points`, in radians.
pub fn chain_distance(p: &Point, points: &[Point]) -> f64 {
    match points {
        [] => f64::INFINITY,
        [only] => only.distance(p).rad(),
        _ => points.windows(2).map(|w| distance_from_segment(p, &w[0], &w[1]).rad()).fold(f64::INFINITY, f64::min),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn square(lng0: f64, lat0: f64, size: f64, clockwise: bool) -> Loop {
        let mut corners = vec![
            Spot::new(lng0, lat0).point,
            Spot::new(lng0 + size, lat0).point,
            Spot::new(lng0 + size, lat0 + size).point,
            Spot::new(lng0, lat0 + size).point,
        ];
        if clockwise {
            corners.reverse();
        }
        Loop::smaller(corners)
    }

    #[test]
    fn loops_hold_the_smaller_region_whichever_way_they_run() {
        for clockwise in [false, true] {
            let l = square(0.0, 0.0, 10.0, clockwise);
            assert!(l.contains(&Spot::new(5.0, 5.0).point));
            assert!(!l.contains(&Spot::new(20.0, 5.0).point));
            assert!(!l.contains(&Spot::new(-175.0, -5.0).point));
        }
    }

    #[test]
    fn geodesic_edges_bulge_toward_the_pole() {
        // The edge from (0, 60) to (90, 60) passes north of latitude 60 at 45°.
        let l = Loop::smaller(vec![
            Spot::new(0.0, 50.0).point,
            Spot::new(90.0, 50.0).point,
            Spot::new(90.0, 60.0).point,
            Spot::new(0.0, 60.0).point,
        ]);
        assert!(l.contains(&Spot::new(45.0, 61.0).point));
    }

    #[test]
    fn holes_and_boundaries() {
        let polygon = Polygon { loops: vec![square(0.0, 0.0, 10.0, false), square(4.0, 4.0, 2.0, false)] };
        assert!(polygon.covers(&Spot::new(1.0, 1.0).point));
        assert!(!polygon.covers(&Spot::new(5.0, 5.0).point));
        assert!(polygon.covers(&Spot::new(0.0, 0.0).point));
        assert!(polygon.covers(&Spot::new(4.0, 5.0).point));
        assert_eq!(polygon.distance(&Spot::new(1.0, 1.0).point), 0.0);
        assert!(polygon.distance(&Spot::new(11.0, 5.0).point) > 0.017);
    }
}
