//! Geometry on the plane, as MongoDB's 2d indexes and legacy shapes (`$box`,
//! `$center`, `$polygon`) see it: coordinates are plain numbers and distances are
//! Euclidean. Point-in-polygon comes from the `geo` crate.

use geo::{Coord, Intersects, LineString};

/// A legacy coordinate pair.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Flat {
    pub x: f64,
    pub y: f64,
}

impl Flat {
    pub fn distance(&self, other: &Flat) -> f64 {
        (self.x - other.x).hypot(self.y - other.y)
    }
}

/// A region of the plane a legacy shape describes. Each holds its boundary.
#[derive(Debug, Clone)]
pub enum FlatRegion {
    /// `$box`: the corners as given, in any order.
    Box { low: Flat, high: Flat },
    /// `$center`.
    Circle { center: Flat, radius: f64 },
    /// `$polygon`: closed implicitly.
    Polygon(geo::Polygon<f64>),
}

impl FlatRegion {
    /// The box with corners `a` and `b`.
    pub fn rectangle(a: Flat, b: Flat) -> FlatRegion {
        FlatRegion::Box {
            low: Flat { x: a.x.min(b.x), y: a.y.min(b.y) },
            high: Flat { x: a.x.max(b.x), y: a.y.max(b.y) },
        }
    }

    /// The polygon through `points`.
    pub fn polygon(points: &[Flat]) -> FlatRegion {
        let ring: Vec<Coord<f64>> = points.iter().map(|p| Coord { x: p.x, y: p.y }).collect();
        FlatRegion::Polygon(geo::Polygon::new(LineString::new(ring), Vec::new()))
    }

    /// Whether `p` is inside or on the boundary.
    pub fn contains(&self, p: &Flat) -> bool {
        match self {
            FlatRegion::Box { low, high } => (low.x..=high.x).contains(&p.x) && (low.y..=high.y).contains(&p.y),
            FlatRegion::Circle { center, radius } => center.distance(p) <= *radius,
            FlatRegion::Polygon(polygon) => polygon.intersects(&Coord { x: p.x, y: p.y }),
        }
    }

    /// The smallest box holding the region: `(low, high)`.
    pub fn bounds(&self) -> (Flat, Flat) {
        match self {
            FlatRegion::Box { low, high } => (*low, *high),
            FlatRegion::Circle { center, radius } => (
                Flat { x: center.x - radius, y: center.y - radius },
                Flat { x: center.x + radius, y: center.y + radius },
            ),
            FlatRegion::Polygon(polygon) => {
                let (mut low, mut high) =
                    (Flat { x: f64::INFINITY, y: f64::INFINITY }, Flat { x: f64::NEG_INFINITY, y: f64::NEG_INFINITY });
                for c in polygon.exterior().coords() {
                    low = Flat { x: low.x.min(c.x), y: low.y.min(c.y) };
                    high = Flat { x: high.x.max(c.x), y: high.y.max(c.y) };
                }
                (low, high)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_hold_their_boundaries() {
        let p = |x, y| Flat { x, y };
        let b = FlatRegion::rectangle(p(5.0, 5.0), p(0.0, 0.0));
        assert!(b.contains(&p(0.0, 5.0)) && b.contains(&p(2.0, 2.0)) && !b.contains(&p(5.1, 1.0)));
        let c = FlatRegion::Circle { center: p(0.0, 0.0), radius: 5.0 };
        assert!(c.contains(&p(3.0, 4.0)) && !c.contains(&p(4.0, 4.0)));
        let t = FlatRegion::polygon(&[p(0.0, 0.0), p(3.0, 6.0), p(6.0, 0.0)]);
        assert!(t.contains(&p(3.0, 1.0)) && t.contains(&p(3.0, 0.0)) && !t.contains(&p(0.0, 6.0)));
    }
}
